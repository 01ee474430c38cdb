"""The SLA clock on tickets: the deadlines that fell due, the claim on saying a reminder, and
the step the clock takes once it is said (bot/escalation/sla.py).

`next_action_at` is the deadline, and only the deadline: cards, the ticket list and the
dashboard's overdue filter read it. A reminder being said is claimed in a column of its own
(`sla_claimed_until`), which hides the ticket from `due_tickets` until the claim is given
back, ended by the step, or lapses (its worker died mid-post: another says it then). A claim
whose post failed is given back with the time to try again. Either belongs to the deadline it
was taken for: a transition that sets a new one ends it (bot/store/tickets.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.store.rows import transaction
from bot.store.store import iso
from bot.store.tickets import TicketRepository, _ticket
from bot.types import Ticket

# a ticket still as it fell due: its stage, deadline and assignee all unchanged, and active.
# The stage alone is not enough: a staff reply or a reassignment keeps the stage and sets a
# new deadline (and assignee), which a reminder read before it must not answer, nor overwrite
_AS_IT_FELL_DUE = (
    "id = ? and sla_stage = ? and coalesce(next_action_at, '') = ? "
    "and coalesce(assignee_id, '') = ? and status in ('open', 'claimed')"
)


def _fell_due(ticket_id: int, stage: int, due_at: datetime | None, assignee_id: str | None) -> list[Any]:
    return [ticket_id, stage, iso(due_at) if due_at else "", assignee_id or ""]


class SlaClockRepository(TicketRepository):
    def due_tickets(self, now: datetime, platforms: Iterable[str]) -> list[Ticket]:
        """The active tickets of `platforms` past their deadline whose reminder no one is saying
        (unclaimed, or the claim lapsed), the oldest deadline first."""
        wanted = list(platforms)
        if not wanted:
            return []
        rows = self.db.table("tickets").rows_where(
            "status in ('open', 'claimed') and next_action_at is not null and next_action_at <= ? "
            "and (sla_claimed_until is null or sla_claimed_until <= ?) "
            f"and platform in ({', '.join('?' for _ in wanted)})",
            [iso(now), iso(now), *wanted],
            order_by="next_action_at",
        )
        return [_ticket(row) for row in rows]

    def claim_sla(
        self,
        ticket_id: int,
        *,
        stage: int,
        due_at: datetime | None,
        assignee_id: str | None,
        until: datetime,
        now: datetime,
    ) -> bool:
        """Claim saying the reminder of a ticket that fell due, until `until`: one caller wins,
        and only while the ticket stands as it fell due (`due_at` its deadline then) and no
        claim holds it but one that lapsed."""
        with transaction(self.db):
            cursor = self.db.execute(
                f"update tickets set sla_claimed_until = ? where {_AS_IT_FELL_DUE} "
                "and (sla_claimed_until is null or sla_claimed_until <= ?)",
                [iso(until), *_fell_due(ticket_id, stage, due_at, assignee_id), iso(now)],
            )
        return cursor.rowcount == 1

    def release_sla(self, ticket_id: int, claimed: datetime, retry_at: datetime | None = None) -> None:
        """End the claim `claimed` (the `until` it was taken with), if it is still that one: a
        later claim, taken over once it lapsed, is another process's. With `retry_at` (its post
        failed), the reminder is due again from then, unless a new deadline comes first."""
        with transaction(self.db):
            self.db.execute(
                "update tickets set sla_claimed_until = ? where id = ? and sla_claimed_until = ?",
                [iso(retry_at) if retry_at else None, ticket_id, iso(claimed)],
            )

    def advance_sla(
        self,
        ticket_id: int,
        *,
        from_stage: int,
        due_at: datetime | None,
        assignee_id: str | None,
        to_stage: int,
        next_action_at: datetime | None,
        at: datetime,
        claimed: datetime | None = None,
    ) -> bool:
        """Move the SLA clock one step, once: only the caller that still sees the ticket as it
        fell due wins (`_AS_IT_FELL_DUE`). With `claimed`, the claim its reminder was said under
        ends in the same transaction, whether the step is taken or a transition moved the
        ticket meanwhile (its new deadline is then due as it falls)."""
        with transaction(self.db):
            cursor = self.db.execute(
                # the claim or wait of the deadline passed ends with it, whoever's: a worker that
                # took over a claim lapsed under a slow post may have failed and left a wait
                "update tickets set sla_stage = ?, next_action_at = ?, updated_at = ?, sla_claimed_until = null "
                f"where {_AS_IT_FELL_DUE}",
                [
                    to_stage,
                    iso(next_action_at) if next_action_at else None,
                    iso(at),
                    *_fell_due(ticket_id, from_stage, due_at, assignee_id),
                ],
            )
            stepped = cursor.rowcount == 1
            if stepped:
                self._log_ticket(ticket_id, at, None, "sla", f"stage {from_stage} -> {to_stage}")
            if claimed is not None:
                self.release_sla(ticket_id, claimed)
        return stepped
