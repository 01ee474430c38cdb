"""Conversations and their messages: who asked, whether the bot or staff is talking, the history.

A conversation is one thread (or, where threads cannot be made, one channel) keyed by
`ConversationRef.key`; its flags decide whether the bot speaks without being mentioned.

The event path's writes here read nothing back, so a transaction of several of them is sent
in one trip to PostgreSQL (`one_trip`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.store.rows import Condition, Reads, one_trip, select_rows, transaction, update_row, values_where
from bot.store.store import Repository, iso
from bot.types import Author, ConversationRef, Shards, Turn

# the most conversations a catch-up lists, newest first: an hour of a bot answering a question
# every two seconds. Each costs the new gateway holder a REST read or more, so it is bounded;
# the caller says so when it is reached (adapters/discord/standby.py)
CATCH_UP_CONVERSATIONS = 2000
# a Discord snowflake's timestamp is above its low 22 bits: (id >> 22), as a division both
# engines read alike
_SNOWFLAKE_SHIFT = 1 << 22
_HEARD_KEY = "heard:"  # in state_meta, + the platform: the newest mark noted as heard there
_OWED_KEY = "read-back-owed:"  # ... + ":" + a point a read-back is owed from (one row each)


@dataclass(frozen=True, kw_only=True)
class ConversationState:
    key: str
    asker_id: str | None
    bot_participating: bool  # the bot answered here, so follow-ups need no mention
    human_takeover: bool  # staff replied here: the bot stays quiet unless mentioned
    # who the pending "Did this solve it?" would ask: the asker of the answer it is about, who
    # may not be the thread's first asker (None: none pending)
    followup_asker_id: str | None = None


# the conversation's upsert: it exists, was active now, and (a parameter, null: unchanged) the
# bot takes part in it. Its values (`{rows}`) are `values (...)`, or `select ... where` a
# condition (rows.py `values_where`)
_TOUCH = (
    "insert into conversations (key, platform, workspace, channel, thread, started_at, "
    "last_activity, asker_id, bot_participating) {rows} "
    "on conflict(key) do update set last_activity = excluded.last_activity, "
    "asker_id = coalesce(conversations.asker_id, excluded.asker_id), "
    "bot_participating = coalesce(?, conversations.bot_participating)"
)
_TOUCH_VALUES = "?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, 0)"
# ... and its follow-up is due, as FollowupRepository.schedule_followup sets it: the due time
# and the answer replace earlier ones, unless one was already sent (a thread is asked once)
_TOUCH_AND_FOLLOW_UP = (
    "insert into conversations (key, platform, workspace, channel, thread, started_at, "
    "last_activity, asker_id, bot_participating, followup_due_at, followup_answer_id) "
    "{rows} "
    "on conflict(key) do update set last_activity = excluded.last_activity, "
    "asker_id = coalesce(conversations.asker_id, excluded.asker_id), "
    "bot_participating = coalesce(?, conversations.bot_participating), "
    "followup_due_at = case when conversations.followup_sent_at is null "
    "then excluded.followup_due_at else conversations.followup_due_at end, "
    "followup_answer_id = case when conversations.followup_sent_at is null "
    "then excluded.followup_answer_id else conversations.followup_answer_id end"
)
_FOLLOW_UP_VALUES = f"{_TOUCH_VALUES}, ?, ?"


def history_statement(ref: ConversationRef, limit: int, answers_to: str | None) -> tuple[str, list[Any]]:
    """The query `ConversationRepository.history` runs (read_together sends it with others)."""
    only_theirs = (
        " and (role != 'bot' or exists (select 1 from answers a where "
        "a.posted_message_id = messages.platform_id and a.asker_id = ?))"
    )
    sql = (
        "select role, text from messages where conversation = ?"
        + (only_theirs if answers_to is not None else "")
        + " order by id desc limit ?"
    )
    return sql, [ref.key, *([answers_to] if answers_to is not None else []), limit]


def history_turns(rows: list[Any]) -> list[Turn]:
    """The turns of `history_statement`'s rows, oldest first."""
    return [Turn(role=role, text=text) for role, text in reversed(rows)]


class ConversationRepository(Repository):
    def conversation(self, key: str) -> ConversationState | None:
        rows = select_rows(
            self.db,
            "select c.asker_id, c.bot_participating, c.human_takeover, a.asker_id as followup_asker_id "
            "from conversations c left join answers a "
            "on a.id = c.followup_answer_id and c.followup_due_at is not null where c.key = ?",
            [key],
        )
        if not rows:
            return None
        row = rows[0]
        return ConversationState(
            key=key,
            asker_id=row["asker_id"],
            bot_participating=bool(row["bot_participating"]),
            human_takeover=bool(row["human_takeover"]),
            followup_asker_id=row["followup_asker_id"],
        )

    def touch_conversation(self, ref: ConversationRef, now: datetime, asker_id: str | None = None) -> None:
        with transaction(self.db):
            self._touch(ref, now, asker_id)

    def record_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        now: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
        asker_id: str | None = None,
        bot_participating: bool | None = None,
        then_read: Sequence[tuple[str, Sequence[Any]]] = (),
    ) -> list[list[Any]]:
        """Keep one message and the conversation's activity (and flag) in one transaction:
        the event path's usual pair of writes, one round trip to the store's thread. A
        platform message is kept once: the replay of an event a dead process had begun records
        it again, and the thread must not then hold the question twice (an edit has an id of
        its own).

        On PostgreSQL its commit does not wait for the log flush (`flushed=False`): nothing
        outside the database depends on it yet, and the flushed writes that follow on the same
        connection (the event's finish, a post noted before any is streamed) make it durable
        too. Lost in a server crash before those, the event is not finished either and its
        replay records the message again, unless the server is back before the handling ends:
        its next writes then go on a fresh connection that covers nothing of the old one's, and
        the thread keeps its answer without the question (tests/bot/store/test_server_crash.py
        holds what must not be lost; flushing this too cost about 4% on PostgreSQL).

        `then_read`: reads to make in the same transaction once the message is kept (they see
        it), in the same round trip on PostgreSQL; their rows are returned."""
        reads = Reads(self.db)
        with one_trip(self.db, flushed=False):
            self._touch(ref, now, asker_id, bot_participating)
            self._insert_message(
                ref, role=role, text=text, at=at, author=author, platform_id=platform_id, once=True
            )
            for sql, params in then_read:
                reads.add(sql, params)
        return reads.rows()

    def _touch(
        self,
        ref: ConversationRef,
        now: datetime,
        asker_id: str | None,
        bot_participating: bool | None = None,
        *,
        followup: tuple[int, datetime] | None = None,
        only_if: Condition | None = None,
    ) -> None:
        """The conversation exists and was active at `now`; with `bot_participating`, that flag
        is set too, and with `followup` (answer id, due time) its "Did this solve it?" is
        scheduled, in the same statement (one statement instead of two or three). With
        `only_if`, nothing is written unless it holds."""
        flag = None if bot_participating is None else int(bot_participating)
        at = iso(now)
        params = [ref.key, ref.platform, ref.workspace, ref.channel, ref.thread, at, at, asker_id, flag]
        conditions, held = ([only_if.sql], list(only_if.params)) if only_if is not None else ([], [])
        if followup is None:
            self.db.execute(
                _TOUCH.format(rows=values_where(_TOUCH_VALUES, conditions)), [*params, *held, flag]
            )
            return
        answer_id, due = followup
        self.db.execute(
            _TOUCH_AND_FOLLOW_UP.format(rows=values_where(_FOLLOW_UP_VALUES, conditions)),
            [*params, iso(due), answer_id, *held, flag],
        )

    def set_conversation_flags(
        self,
        ref: ConversationRef,
        now: datetime,
        *,
        bot_participating: bool | None = None,
        human_takeover: bool | None = None,
    ) -> None:
        with transaction(self.db):
            self._touch(ref, now, None, bot_participating)
            if human_takeover is not None:
                update_row(self.db, "conversations", "key", ref.key, {"human_takeover": int(human_takeover)})

    def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
    ) -> None:
        with transaction(self.db):
            self._insert_message(ref, role=role, text=text, at=at, author=author, platform_id=platform_id)

    def _insert_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        author: Author | None,
        platform_id: str | None,
        once: bool = False,
        only_if: Condition | None = None,
    ) -> None:
        """With `once`, a message of the platform (`platform_id`) already kept in `ref` with
        this role is not kept again; with `only_if`, none is kept unless it holds."""
        record = {
            "conversation": ref.key,
            "platform_id": platform_id,
            "author_id": author.id if author else None,
            "author_name": author.display if author else None,
            "role": role,
            "text": text,
            "at": iso(at),
        }
        conditions: list[str] = []
        params = list(record.values())
        if once and platform_id is not None:
            conditions.append(
                "not exists (select 1 from messages where conversation = ? and platform_id = ? and role = ?)"
            )
            params += [ref.key, platform_id, role]
        if only_if is not None:
            conditions.append(only_if.sql)
            params += only_if.params
        # no `returning id`: nothing reads it, and a result to read would cost a trip of its own
        # inside one_trip
        self.db.execute(
            f"insert into messages ({', '.join(record)}) {values_where(', '.join('?' for _ in record), conditions)}",
            params,
        )

    def history(self, ref: ConversationRef, limit: int = 20, *, answers_to: str | None = None) -> list[Turn]:
        """The last `limit` messages, oldest first. With `answers_to`, the bot's messages are
        only its answers to that person: its answers to others may rest on documents this
        person may not see (bot/privacy/audiences.py)."""
        sql, params = history_statement(ref, limit, answers_to)
        return history_turns(self.db.execute(sql, params).fetchall())

    def said_by(self, ref: ConversationRef, author_id: str, limit: int = 20) -> list[str]:
        """What `author_id` asked here: the texts of their last `limit` messages, oldest first."""
        rows = self.db.execute(
            "select text from messages where conversation = ? and author_id = ? and role = 'user' "
            "order by id desc limit ?",
            [ref.key, author_id, limit],
        ).fetchall()
        return [str(row[0]) for row in reversed(rows)]

    def bot_conversations_since(
        self,
        platform: str,
        since: datetime,
        limit: int = CATCH_UP_CONVERSATIONS,
        *,
        shards: Shards | None = None,
    ) -> list[tuple[ConversationRef, str | None]]:
        """The conversations on `platform` the bot takes part in, active since `since`, newest
        first, each with the platform id of the last message recorded in it (None if none
        was): where a new Discord gateway holder catches up (adapters/discord/standby.py).

        The bot takes part in a conversation it has spoken in (any post of its recorded there:
        a thread's answer, a DM's, a question answered in place in its channel) or a thread it
        took up (`bot_participating`, set before its first answer is up). Not the flag alone:
        it means "follow-ups need no mention", which only a thread gets, yet a DM's follow-up
        is as much the bot's to hear, and so is a mention in a channel it answers in place.

        With `shards`, only the conversations on them, chosen before the `limit`: a holder of
        some shards must not find its conversations crowded out by the others'."""
        on_shards, shard_params = ("", []) if shards is None else _on_shards(shards)
        rows = self.db.execute(
            "select c.key, (select m.platform_id from messages m where m.conversation = c.key "
            "and m.platform_id is not null order by m.id desc limit 1) from conversations c "
            "where c.platform = ? and c.last_activity >= ? and (c.bot_participating = 1 or exists "
            "(select 1 from messages b where b.conversation = c.key and b.role = 'bot'))"
            + on_shards
            + " order by c.last_activity desc limit ?",
            [platform, iso(since), *shard_params, limit],
        ).fetchall()
        return [(ConversationRef.from_key(key), last) for key, last in rows]

    def channels_since(self, platform: str, since: datetime) -> list[tuple[str, str]]:
        """Each (workspace, channel) on `platform` where the bot took part in a conversation
        active since `since`: not bounded as the conversations are (a busy bot's thousands of
        threads must not crowd out the DM or the workspace it last talked in weeks ago)."""
        rows = self.db.execute(
            "select distinct c.workspace, c.channel from conversations c where c.platform = ? "
            "and c.last_activity >= ? and (c.bot_participating = 1 or exists "
            "(select 1 from messages b where b.conversation = c.key and b.role = 'bot')) "
            "order by c.workspace, c.channel",
            [platform, iso(since)],
        ).fetchall()
        return [(str(workspace), str(channel)) for workspace, channel in rows]

    def note_heard(self, platform: str, mark: str) -> None:
        """Keep `mark` as the newest thing heard on `platform` unless a later one is kept
        (marks of one platform sort as text: Slack's ts, fixed-width), by any worker: where a
        read-back may start when what was heard was never recorded (chatter, joins)."""
        with transaction(self.db):
            self.db.execute(
                "insert into state_meta (key, value) values (?, ?) on conflict (key) do update "
                "set value = excluded.value where excluded.value > state_meta.value",
                [_HEARD_KEY + platform, mark],
            )

    def owe_read_back(self, platform: str, after: str) -> None:
        """A read-back from `after` is owed on `platform` (one is starting, or a message was
        left for a redelivery that may never come): one row each, kept until a read-back that
        covered it ends. Marks sort as text (`note_heard`)."""
        with transaction(self.db):
            self.db.execute(
                "insert into state_meta (key, value) values (?, ?) on conflict (key) do nothing",
                [f"{_OWED_KEY}{platform}:{after}", after],
            )

    def owed_read_back(self, platform: str) -> str | None:
        """The earliest point a read-back is owed from on `platform`, or None."""
        prefix = f"{_OWED_KEY}{platform}:"
        row = self.db.execute(
            "select min(value) from state_meta where substr(key, 1, ?) = ?", [len(prefix), prefix]
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def owed_read_backs(self, prefix: str) -> dict[str, str]:
        """Each place (the `platform` of `owe_read_back`) beginning with `prefix` that a
        read-back is owed on, with the earliest point owed there."""
        start = _OWED_KEY + prefix
        rows = self.db.execute(
            "select key, value from state_meta where substr(key, 1, ?) = ?", [len(start), start]
        ).fetchall()
        owed: dict[str, str] = {}
        for key, value in rows:
            place = str(key)[len(_OWED_KEY) :].rpartition(":")[0]
            owed[place] = min(owed.get(place, str(value)), str(value))
        return owed

    def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None:
        """A read-back ended that read from `covered_from` everything said until
        `covered_until` (less its margin): what was owed from points between them is read.
        One owed later (a message left unrecorded while it ran) stands."""
        prefix = f"{_OWED_KEY}{platform}:"
        with transaction(self.db):
            self.db.execute(
                "delete from state_meta where substr(key, 1, ?) = ? and value >= ? and value <= ?",
                [len(prefix), prefix, covered_from, covered_until],
            )

    def noted_heard(self, platform: str) -> str | None:
        row = self.db.execute(
            "select value from state_meta where key = ?", [_HEARD_KEY + platform]
        ).fetchone()
        return None if row is None else str(row[0])

    def noted_heards(self, prefix: str) -> dict[str, str]:
        """Each place (the `platform` of `note_heard`) beginning with `prefix`, with its mark."""
        start = _HEARD_KEY + prefix
        rows = self.db.execute(
            "select key, value from state_meta where substr(key, 1, ?) = ?", [len(start), start]
        ).fetchall()
        return {str(key)[len(_HEARD_KEY) :]: str(value) for key, value in rows}

    def last_recorded(self, platform: str, *, shards: Shards | None = None) -> str | None:
        """The platform id of the newest message recorded on `platform` (on `shards`, if
        given), the bot's own posts included, or None: a mark of what the process that recorded
        it had heard (adapters/discord/missed.py reads back from just before it). Not the
        inbox's keys: those are forgotten after a week and name no guild, so a quiet week or
        another set of shards hearing later messages would move the mark past what was missed."""
        on_shards, shard_params = ("", []) if shards is None else _on_shards(shards)
        row = self.db.execute(
            "select m.platform_id from messages m join conversations c on c.key = m.conversation "
            "where c.platform = ? and m.platform_id is not null" + on_shards + " order by m.id desc limit 1",
            [platform, *shard_params],
        ).fetchone()
        return None if row is None else str(row[0])

    def messages_since(self, ref: ConversationRef, since: datetime, role: str) -> list[tuple[str, datetime]]:
        """The `role` messages of `ref` from `since` on, each with when, oldest first."""
        rows = self.db.execute(
            "select text, at from messages where conversation = ? and role = ? and at >= ? order by id",
            [ref.key, role, iso(since)],
        ).fetchall()
        return [(str(text), datetime.fromisoformat(at)) for text, at in rows]


def _on_shards(shards: Shards) -> tuple[str, list[Any]]:
    """The condition (and its parameters) that a conversation is on `shards`, as
    `Shards.count` places it. A workspace is a number when trimming its digits leaves nothing;
    the cast is only reached then (CASE, on both engines)."""
    if not shards.ids:
        return " and 0 = 1", []
    shard = (
        "case when c.workspace <> '' and trim(c.workspace, '0123456789') = '' "
        f"then (cast(c.workspace as bigint) / {_SNOWFLAKE_SHIFT}) % ? else 0 end"
    )
    ids = sorted(shards.ids)
    return f" and {shard} in ({', '.join('?' for _ in ids)})", [shards.count, *ids]
