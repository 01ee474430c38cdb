"""Satisfaction: asking the asker to rate a resolved ticket, once, and recording the rating.

The prompt goes out when a ticket is first resolved (`Escalations.resolve`); a ticket
resolved again after a reopen is not asked twice, and only the asker's first rating counts.
Both are compare-and-sets in the store.
"""

from __future__ import annotations

from bot.config import Settings
from bot.escalation.values import TicketRating
from bot.messages import say
from bot.ports import Channel, Clock
from bot.store import AsyncStore, StateStore
from bot.types import ActionKind, Author, Button, Reply, ReplyKind, Ticket


class Satisfaction:
    def __init__(self, *, settings: Settings, store: AsyncStore, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    async def ask_for_rating(self, ticket: Ticket, channel: Channel) -> None:
        if not self.settings.escalation.ask_rating or not ticket.asker_id:
            return
        if not await self.store.run(StateStore.claim_rating_prompt, ticket.id):
            return  # asked before: a ticket resolved again after a reopen is not rated twice
        value = str(ticket.id)
        await channel.send(
            Reply(
                conversation=ticket.conversation,
                text=say("rate_prompt", ticket.language, ticket=ticket.id),
                kind=ReplyKind.INFO,
                buttons=(
                    Button(
                        action=ActionKind.RATE_GOOD,
                        label=say("button_rate_good", ticket.language),
                        value=value,
                    ),
                    Button(
                        action=ActionKind.RATE_BAD, label=say("button_rate_bad", ticket.language), value=value
                    ),
                ),
            )
        )

    async def rate(
        self, ticket_id: int, actor: Author, rating: TicketRating | str, *, language: str = "en"
    ) -> str:
        """The asker's rating, once. A plain "good" / "bad" is accepted as its TicketRating.
        `language`: the presser's, for a ticket that is gone (a present one's decides)."""
        rating = TicketRating(rating)
        ticket = await self.store.run(StateStore.ticket, ticket_id)
        if ticket is None:
            return say("no_ticket", language, ticket=ticket_id)
        language = ticket.language
        if actor.id != ticket.asker_id:
            return say("rate_not_yours", language)
        if not await self.store.run(StateStore.rate_ticket, ticket_id, rating, actor.id, self.clock.now()):
            return say("rate_already", language)
        return say("rate_thanks", language)
