"""The onboarding welcome: a short note after a member's first answered question.

This module owns `[journey] welcome`: when it is on, the first time a person's question is
answered in a channel (never in a direct message), the bot adds a welcome in the thread with
links to the `[journey] welcome_docs` documents. It is sent once per person and platform:
inserting the `welcomed` row is the claim, so two questions at once, a replay or a second
process cannot welcome anyone twice.

The welcome goes after the answer, never before: the first post made for a question is the
one a replay resumes (the inbox notes it), and that must be the answer.

Links are built the way answers cite documents: the document's opening passage in the index
gives its title and page link (from front matter, or the published site's address), and a
document the channel may not see (an internal one in a public channel) is not linked.
"""

from __future__ import annotations

import logging
from functools import partial

from bot.channel_types import DocVisibility, Platform, Visibility
from bot.config import Settings
from bot.conversation import log_context
from bot.messages import say
from bot.ports import Channel, Clock
from bot.retrieval.service import KnowledgeService
from bot.store import AsyncStore, StateStore
from bot.types import Citation, ConversationRef, InboundMessage, Reply

log = logging.getLogger(__name__)


def document_link(citation: Citation) -> str:
    """One linked document in the welcome: a Markdown link when it has an address."""
    title = citation.title.strip() or citation.path
    return f"[{title}]({citation.url})" if citation.url else f"*{title}*"


class Journey:
    def __init__(
        self, *, settings: Settings, store: AsyncStore, clock: Clock, knowledge: KnowledgeService
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.knowledge = knowledge

    def wanted(self, message: InboundMessage) -> bool:
        """A welcome may be due: the setting is on, a person wrote it, not in a DM."""
        return (
            self.settings.journey.welcome
            and message.visibility != Visibility.DIRECT
            and message.conversation.workspace != "dm"
            and message.conversation.platform != Platform.CONSOLE
            and not message.author.is_bot
        )

    async def welcome(
        self,
        message: InboundMessage,
        *,
        thread: ConversationRef,
        language: str,
        scope: DocVisibility,
        channel: Channel,
    ) -> bool:
        """Welcome `message`'s author in `thread` if this is their first time; True if sent.
        A failure is logged and never costs the asker their answer."""
        if not self.wanted(message):
            return False
        try:
            platform, who = message.conversation.platform, message.author
            if not await self.store.run(StateStore.claim_welcome, platform, who.id, self.clock.now()):
                return False  # welcomed before
            links = await self.links(scope)
            text = say("welcome", language, who=who.display, links=", ".join(links) or "-")
            await channel.send(Reply(conversation=thread, text=text, language=language))
            log.info("welcomed a first-time asker", extra=log_context(thread))
            return True
        except Exception:  # a boundary: the welcome is a courtesy
            log.exception("could not send the welcome", extra=log_context(thread))
            return False

    async def links(self, scope: DocVisibility) -> list[str]:
        """The welcome documents this conversation may see, linked, in the configured order."""
        found: list[str] = []
        for path in self.settings.journey.welcome_docs:
            passage = await self.knowledge.run(partial(self.knowledge.base.index.first_passage, path))
            if passage is None:
                log.warning("[journey] welcome_docs names %s, which is not in the knowledge folder", path)
                continue
            if scope == DocVisibility.PUBLIC and passage.visibility != DocVisibility.PUBLIC:
                continue  # an internal document is never linked where the public reads
            found.append(document_link(passage.citation()))
        return found
