"""What is kept about one person, and forgetting it: opt-in memory, tombstones and forget.

Owns the SQL of `user_memory`, `tombstones` and the tombstone salt in `state_meta`, and the
one transaction that forgets a person across every table of state.db. The rules per table
(delete, blank or anonymise) are listed in `forget` and in knowledge/privacy.md; the service
that decides when to call them is bot/privacy/people.py. What is exported of a person (all
that forget deletes or anonymises) is bot/store/people_export.py's.

A person is (platform, user id): ids are only unique within a platform, so every statement
is scoped to rows of that platform (conversation keys start with "platform:").
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.store.inbox import forget_deliveries
from bot.store.rows import transaction
from bot.store.store import Repository, iso, like_prefix

SALT_KEY = "tombstone_salt"
FORGOTTEN_TEXT = "(forgotten)"  # what replaces text a forgotten person wrote where a row must stay
# ids shorter than this are not searched for inside free text: "you" or "42" would match words
MIN_ID_IN_TEXT = 6


def memory_statement(platform: str, user_id: str) -> tuple[str, list[Any]]:
    """The query `PeopleRepository.memory` runs (read_together sends it with others)."""
    return "select enabled, facts from user_memory where platform = ? and user_id = ?", [platform, user_id]


def memory_of(rows: list[Any]) -> tuple[bool, list[dict[str, str]]]:
    """(enabled, facts) from `memory_statement`'s rows."""
    if not rows:
        return False, []
    enabled, stored = rows[0]
    facts: list[dict[str, str]] = json.loads(stored) if stored else []
    return bool(enabled), facts


class PeopleRepository(Repository):
    # -- memory ------------------------------------------------------------------------------

    def memory(self, platform: str, user_id: str) -> tuple[bool, list[dict[str, str]]]:
        """(enabled, facts) for a person; (False, []) when nothing is kept."""
        sql, params = memory_statement(platform, user_id)
        return memory_of(self.db.execute(sql, params).fetchall())

    def set_memory_enabled(self, platform: str, user_id: str, enabled: bool, at: datetime) -> None:
        """Opting in lifts a tombstone (they asked again); opting out drops the facts too:
        off means nothing is kept, not merely that nothing new is added."""
        with transaction(self.db):
            if enabled:
                self.db.execute(
                    "delete from tombstones where hash = ?", [self._person_hash(platform, user_id)]
                )
                self.db.execute(
                    "insert into user_memory (platform, user_id, enabled, facts, updated_at) "
                    "values (?, ?, 1, '[]', ?) on conflict(platform, user_id) do update set "
                    "enabled = 1, updated_at = excluded.updated_at",
                    [platform, user_id, iso(at)],
                )
            else:
                self.db.execute(
                    "delete from user_memory where platform = ? and user_id = ?", [platform, user_id]
                )

    def save_memory_facts(
        self, platform: str, user_id: str, facts: list[dict[str, str]], at: datetime
    ) -> bool:
        """Replace the facts of a person whose memory is on; False (nothing written) when it
        is off, was never turned on, or they were forgotten since."""
        if self.is_tombstoned(platform, user_id):
            return False
        with transaction(self.db):
            cursor = self.db.execute(
                "update user_memory set facts = ?, updated_at = ? "
                "where platform = ? and user_id = ? and enabled = 1",
                [json.dumps(facts, ensure_ascii=False), iso(at), platform, user_id],
            )
        return cursor.rowcount == 1

    # -- tombstones --------------------------------------------------------------------------

    def _salt(self) -> str:
        row = self.db.execute("select value from state_meta where key = ?", [SALT_KEY]).fetchone()
        if row is not None:
            return str(row[0])
        salt = secrets.token_hex(16)
        # insert-or-ignore then read back: two processes racing agree on the first salt written
        with transaction(self.db):  # the write lock only the first time, when the salt is made
            self.db.execute(
                "insert into state_meta (key, value) values (?, ?) on conflict do nothing", [SALT_KEY, salt]
            )
        return str(self.db.execute("select value from state_meta where key = ?", [SALT_KEY]).fetchone()[0])

    def _person_hash(self, platform: str, user_id: str) -> str:
        return hashlib.sha256(f"{self._salt()}\x00{platform}\x00{user_id}".encode()).hexdigest()

    def is_tombstoned(self, platform: str, user_id: str) -> bool:
        digest = self._person_hash(platform, user_id)
        return self.db.execute("select 1 from tombstones where hash = ?", [digest]).fetchone() is not None

    # -- forget ------------------------------------------------------------------------------

    def forget(self, platform: str, user_id: str, at: datetime) -> dict[str, int]:
        """Remove a person from every table of state.db in one transaction; return the rows
        touched per table. Counts survive anonymised: a ticket, answer or feedback row stays
        with its asker replaced by one random marker (distinct-asker counts still add up, and
        the marker leads back to nobody) and its text blanked."""
        marker = "forgotten:" + secrets.token_hex(8)
        prefix = like_prefix(f"{platform}:")
        counts: dict[str, int] = {}

        def run(table: str, sql: str, params: Any) -> None:
            counts[table] = counts.get(table, 0) + self.db.execute(sql, params).rowcount

        with transaction(self.db):
            # named without `temp.`: both engines look a name up among temporary tables first
            self.db.execute("create temp table if not exists forget_answers (id integer primary key)")
            self.db.execute("create temp table if not exists forget_tickets (id integer primary key)")
            self.db.execute("create temp table if not exists forget_threads (key text primary key)")
            # no key on the words: a question may be longer than an index entry may be (PostgreSQL's
            # btree takes about 2,700 bytes), and a repeat costs nothing in `in (select ...)`
            self.db.execute("create temp table if not exists forget_texts (text text)")
            for temp in ("forget_answers", "forget_tickets", "forget_threads", "forget_texts"):
                self.db.execute(f"delete from {temp}")
            scope = [user_id, prefix]
            self.db.execute(
                "insert into forget_answers select id from answers "
                "where asker_id = ? and conversation like ? escape '\\'",
                scope,
            )
            self.db.execute(
                "insert into forget_tickets select id from tickets where asker_id = ? and platform = ?",
                [user_id, platform],
            )
            # a conversation they started that nobody else asked in is theirs (a thread, a DM),
            # staff's replies there or not; one others asked in too (a thread someone joined, a
            # channel the bot may not make threads in) is theirs only in the answers to them
            self.db.execute(
                "insert into forget_threads select c.key from conversations c "
                "where c.asker_id = ? and c.platform = ? and not exists "
                "(select 1 from answers a where a.conversation = c.key and a.asker_id != ?) "
                "on conflict do nothing",
                [user_id, platform, user_id],
            )
            # their words, to find them where others' rows repeat them (gap and burst representatives)
            self.db.execute(
                "insert into forget_texts select question from answers "
                "where id in (select id from forget_answers) and question != ''"
            )
            self.db.execute(
                "insert into forget_texts select question from tickets "
                "where id in (select id from forget_tickets) and question != ''"
            )
            # messages: theirs are deleted; the bot's in their threads answered them and may quote them
            run(
                "messages",
                "delete from messages where author_id = ? and conversation like ? escape '\\'",
                scope,
            )
            run(
                "messages",
                "delete from messages where role = 'bot' and conversation in (select key from forget_threads)",
                [],
            )
            run(  # and the answers to them anywhere else (where others asked too)
                "messages",
                "delete from messages where role = 'bot' "
                "and conversation in (select conversation from answers where id in (select id from forget_answers)) "
                "and platform_id in (select posted_message_id from answers where id in (select id from forget_answers))",
                [],
            )
            run(
                "conversations",
                "update conversations set asker_id = ? where asker_id = ? and platform = ?",
                [marker, user_id, platform],
            )
            # nobody asks a forgotten person whether it solved it (a follow-up mentions them);
            # a later asker's follow-up in a conversation they started stays
            run(
                "conversations",
                "update conversations set followup_due_at = null "
                "where followup_answer_id in (select id from forget_answers)",
                [],
            )
            # a gap's representative is its first question (bot/insights/gaps.py `place`): found
            # by its link, as retention may have emptied the words it would be matched by below
            run(
                "gaps",
                "update gaps set representative = ?, signature = '[]' where platform = ? and id in "
                "(select g.gap_id from gap_questions g where g.answer_id in (select id from forget_answers) "
                "and g.answer_id = (select min(f.answer_id) from gap_questions f where f.gap_id = g.gap_id))",
                [FORGOTTEN_TEXT, platform],
            )
            # gap questions are their questions: deleted (the gap's ask count stays)
            run(
                "gap_questions",
                "delete from gap_questions where answer_id in (select id from forget_answers)",
                [],
            )
            # a representative is one asker's words, and a signature is analysed from them: both go
            for table in ("gaps", "bursts"):
                run(
                    table,
                    f"update {table} set representative = ?, signature = '[]' "
                    "where platform = ? and representative in (select text from forget_texts)",
                    [FORGOTTEN_TEXT, platform],
                )
            run(
                "answers",
                "update answers set asker_id = ?, question = '', answer = '', message_id = null "
                "where id in (select id from forget_answers)",
                [marker],
            )
            run(
                "feedback",
                "update feedback set user_id = ? where user_id = ? and answer_id in "
                "(select id from answers where conversation like ? escape '\\')",
                [marker, user_id, prefix],
            )
            run(
                "tickets",
                "update tickets set asker_id = ?, asker_name = null, question = '', context = null, "
                "note = null where id in (select id from forget_tickets)",
                [marker],
            )
            run(
                "tickets",
                "update tickets set assignee_id = ?, assignee_name = null where assignee_id = ? and platform = ?",
                [marker, user_id, platform],
            )
            run(
                "ticket_events",
                "update ticket_events set detail = '' where ticket_id in (select id from forget_tickets)",
                [],
            )
            run(
                "ticket_events",
                "update ticket_events set actor_id = ? where actor_id = ? and ticket_id in "
                "(select id from tickets where platform = ?)",
                [marker, user_id, platform],
            )
            run(
                "ticket_posts",
                "update ticket_posts set text = '' where ticket_id in (select id from forget_tickets)",
                [],
            )
            # learning-loop drafts quote the question: undecided ones go, written ones keep their path
            run(
                "drafts",
                "delete from drafts where status != 'approved' and ticket_id in (select id from forget_tickets)",
                [],
            )
            run(
                "drafts",
                "update drafts set title = ?, question = '', answer = '' "
                "where ticket_id in (select id from forget_tickets)",
                [FORGOTTEN_TEXT],
            )
            run(
                "drafts",
                "update drafts set decided_by = ? where decided_by = ? and ticket_id in "
                "(select id from tickets where platform = ?)",
                [marker, user_id, platform],
            )
            run(
                "reply_drafts",
                "delete from reply_drafts where asker_id = ? and conversation like ? escape '\\'",
                scope,
            )
            run(
                "reply_drafts",
                "update reply_drafts set decided_by = ? where decided_by = ? and conversation like ? escape '\\'",
                [marker, user_id, prefix],
            )
            for column in ("opened_by", "closed_by"):
                run(
                    "incidents",
                    f"update incidents set {column} = ? where {column} = ? and platform = ?",
                    [marker, user_id, platform],
                )
            # a delivery waiting in the inbox is a message, raw: theirs is let go (one being
            # answered right now records nothing more), another's that names them is still answered
            counts["inbox"] = forget_deliveries(
                self.db, platform, user_id, marker if len(user_id) >= MIN_ID_IN_TEXT else None, at
            )
            run("welcomed", "delete from welcomed where platform = ? and user_id = ?", [platform, user_id])
            # a model answer reserved for a question of theirs still being answered names them
            run(
                "model_reservations",
                "delete from model_reservations where asker_id = ? and channel like ? escape '\\'",
                scope,
            )
            # the dashboard: their sign-in links and sessions go; the audit trail keeps its rows
            # (who changed what is the team's record) with the person replaced by the marker
            run(
                "dashboard_links",
                "delete from dashboard_links where platform = ? and user_id = ?",
                [platform, user_id],
            )
            run(
                "dashboard_sessions",
                "delete from dashboard_sessions where platform = ? and user_id = ?",
                [platform, user_id],
            )
            run(
                "audit_log",
                "update audit_log set user_id = ? where platform = ? and user_id = ?",
                [marker, platform, user_id],
            )
            run(
                "user_memory",
                "delete from user_memory where platform = ? and user_id = ?",
                [platform, user_id],
            )
            if len(user_id) >= MIN_ID_IN_TEXT:
                self._scrub_mentions(platform, user_id, marker, prefix, run)
            self.db.execute(
                "insert into tombstones (hash, at) values (?, ?) on conflict (hash) do update set at = excluded.at",
                [self._person_hash(platform, user_id), iso(at)],
            )
            counts["tombstones"] = 1
        self.ticket_changes += 1
        return {table: n for table, n in counts.items() if n}

    def _scrub_mentions(
        self,
        platform: str,
        user_id: str,
        marker: str,
        prefix: str,
        run: Callable[[str, str, Any], None],
    ) -> None:
        """Others' text that names them by id (a mention is `<@U123>` in the text) keeps its
        words, with the id replaced by the marker."""
        run(
            "messages",
            "update messages set text = replace(text, :uid, :marker) "
            "where conversation like :prefix escape '\\' and instr(text, :uid) > 0",
            {"uid": user_id, "marker": marker, "prefix": prefix},
        )
        in_platform = "conversation like :prefix escape '\\'"
        by_ticket = f"ticket_id in (select id from tickets where {in_platform})"
        by_answer = f"answer_id in (select id from answers where {in_platform})"
        by_platform = "platform = :platform"
        for table, column, where in (
            ("ticket_posts", "text", in_platform),
            ("tickets", "question", in_platform),
            ("tickets", "note", in_platform),
            ("tickets", "context", in_platform),
            ("ticket_events", "detail", by_ticket),
            ("answers", "question", in_platform),
            ("answers", "answer", in_platform),
            ("reply_drafts", "question", in_platform),
            ("reply_drafts", "answer", in_platform),
            ("drafts", "title", by_ticket),
            ("drafts", "question", by_ticket),
            ("drafts", "answer", by_ticket),
            ("gap_questions", "question", by_answer),
            ("gaps", "representative", by_platform),
            ("bursts", "representative", by_platform),
            ("incidents", "text", by_platform),
            ("incidents", "close_text", by_platform),
            ("user_memory", "facts", by_platform),  # another person's ticket line may mention them
            ("audit_log", "detail", by_platform),  # "assigned ticket #3 to <id>"
        ):
            run(
                table,
                f"update {table} set {column} = replace({column}, :uid, :marker) "
                f"where instr({column}, :uid) > 0 and {where}",
                {"uid": user_id, "marker": marker, "prefix": prefix, "platform": platform},
            )
