"""What state.db keeps of one person, exported to them (`/support my-data`, `supportbot privacy
export`): everything `forget` (bot/store/people.py) deletes or anonymises of theirs, so what
forget-me touches is what a person could see first. A person is (platform, user id), as there.
"""

from __future__ import annotations

from typing import Any

from bot.store.people import memory_of, memory_statement
from bot.store.store import Repository, like_prefix


class PersonExportRepository(Repository):
    def export_person(self, platform: str, user_id: str) -> dict[str, Any]:
        """Everything state.db keeps that this person wrote or that is about them, and nothing of
        anyone else's: their messages, their questions and the answers to them, their feedback,
        their tickets (without staff's internal context), draft replies to them and their memory;
        and, for staff, their work: the tickets assigned to them and what they did on tickets
        (with what they wrote there), the incidents they opened or closed, the drafts they
        decided. Another person's words (a ticket's question) are left out of that work."""
        prefix = like_prefix(f"{platform}:")
        scope = [user_id, prefix]
        person = [user_id, platform]

        def rows(sql: str, params: list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
            cursor = self.db.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        enabled, facts = memory_of(self.db.execute(*memory_statement(platform, user_id)).fetchall())
        return {
            "platform": platform,
            "user_id": user_id,
            "memory": {"enabled": enabled, "facts": facts},
            "messages": rows(
                "select conversation, author_name, text, at from messages "
                "where author_id = ? and conversation like ? escape '\\' order by id",
                scope,
            ),
            "questions": rows(
                "select id, conversation, question, answer, language, created_at from answers "
                "where asker_id = ? and conversation like ? escape '\\' order by id",
                scope,
            ),
            "feedback": rows(
                "select f.answer_id, f.value, f.at from feedback f join answers a on a.id = f.answer_id "
                "where f.user_id = ? and a.conversation like ? escape '\\' order by f.id",
                scope,
            ),
            "tickets": rows(
                "select id, conversation, question, status, language, rating, created_at, resolved_at "
                "from tickets where asker_id = ? and platform = ? order by id",
                person,
            ),
            "draft_replies": rows(
                "select conversation, question, answer, status, created_at from reply_drafts "
                "where asker_id = ? and conversation like ? escape '\\' order by id",
                scope,
            ),
            "welcomed": rows(
                "select at from welcomed where platform = ? and user_id = ?", [platform, user_id]
            ),
            "dashboard_audit": rows(
                "select at, action, detail from audit_log where platform = ? and user_id = ? order by id",
                [platform, user_id],
            ),
            "tickets_assigned": rows(
                "select id, conversation, status, created_at, resolved_at from tickets "
                "where assignee_id = ? and platform = ? order by id",
                person,
            ),
            # what they did on tickets (opened, claimed, resolved with a note, reopened, rated)
            "ticket_events": rows(
                "select e.ticket_id, e.at, e.event, e.detail from ticket_events e "
                "join tickets t on t.id = e.ticket_id where e.actor_id = ? and t.platform = ? "
                "order by e.id",
                person,
            ),
            "incidents": rows(
                "select id, status, opened_at, closed_at, "
                "case when opened_by = :user then text end as text, "
                "case when closed_by = :user then close_text end as close_text "
                "from incidents where platform = :platform and (opened_by = :user or closed_by = :user) "
                "order by id",
                {"user": user_id, "platform": platform},
            ),
            "drafts_decided": rows(
                "select d.id, d.ticket_id, d.status, d.decided_at from drafts d "
                "join tickets t on t.id = d.ticket_id where d.decided_by = ? and t.platform = ? order by d.id",
                person,
            ),
            "draft_replies_decided": rows(
                "select id, conversation, status, decided_at from reply_drafts "
                "where decided_by = ? and conversation like ? escape '\\' order by id",
                scope,
            ),
        }
