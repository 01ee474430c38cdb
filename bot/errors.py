"""One hierarchy of errors the product raises on purpose.

Each carries a message written for the person running the bot: which file, which key,
what to do. The CLI prints `str(error)` without a traceback; anything else is a bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the CLI loads this module without the core's types
    from bot.types import ConversationRef


class SupportBotError(Exception):
    """Base of every error the bot raises deliberately."""


class ConfigError(SupportBotError):
    """The configuration is wrong; lists every problem found, not just the first."""

    def __init__(self, problems: list[str], source: str = "configuration") -> None:
        self.problems = list(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} has {len(self.problems)} problem(s):\n{lines}")


class KnowledgeError(SupportBotError):
    """The knowledge folder cannot be used (missing, not a folder, unreadable)."""


class StoreError(SupportBotError):
    """The state database cannot be opened or written (corrupt, locked, read-only)."""


class AnswererUnavailable(SupportBotError):
    """The configured answerer cannot answer now (model endpoint down, bad key)."""


class PlatformError(SupportBotError):
    """A chat platform refused or failed a call after the retries its SDK allows."""


class FatalAdapterError(SupportBotError):
    """An adapter cannot run with this configuration (bad token, missing permission or
    intent): restarting will not help, so the supervisor stops instead of retrying."""


class MessageGone(PlatformError):
    """The message an edit was for no longer exists: a person deleted it (the asker, a
    moderator). What it was to show is posted as a new message instead."""


class EditRefused(PlatformError):
    """The platform refused an edit (a message too old to edit, a refusal past its retries)
    and the post still shows what it showed before: what the edit was to show may be posted
    as a new message instead (bot/streaming.py)."""


class PostRefused(PlatformError):
    """The platform answered that it did not make the post (an error it names, a 4xx): none of
    it is out, so posting it again cannot show it twice. A timeout, a 5xx or Slack's
    `internal_error` may have been applied, and is a PlatformError, not this."""


class ConversationGone(PostRefused):
    """The conversation a post was for takes none, for good: deleted, archived, or closed to
    the bot (removed from the channel, no permission). Unlike a refusal the platform may lift
    (a 5xx, a rate limit), posting there again will not help."""


class ThreadLocked(ConversationGone):
    """The thread a post was for was locked by its moderators (Discord: 50083, a locked
    archived thread): its people closed it, and its parent channel still takes posts. An
    apology or a "try again" said there instead would reopen in public what staff closed;
    a question asked in it is left to staff (its ticket). Slack never says this."""


class ConversationDeleted(ConversationGone):
    """The conversation a post was for no longer exists: a person deleted the channel, the
    thread or the forum post while the bot was at it. Nobody is left there to read a reply, an
    apology or a ticket's note, and staff would get a card linking nowhere: a message asked
    there is owed nothing more (`took`). Only a platform that can tell deleted from closed to
    the bot says this: a channel the bot was shut out of still has people in it, who are owed
    a ticket (Slack answers channel_not_found for both, so it never says this)."""

    def __init__(self, message: str, conversation: ConversationRef) -> None:
        super().__init__(message)
        self.conversation = conversation

    def took(self, where: ConversationRef) -> bool:
        """Whether `where` went with the deleted conversation: it is that conversation, or a
        thread of a deleted channel."""
        gone = self.conversation
        return (gone.platform, gone.workspace, gone.channel) == (
            where.platform,
            where.workspace,
            where.channel,
        ) and gone.thread in (None, where.thread)
