"""Saying something failed while answering: the question is handed to people (a ticket, staff
tagged, in its thread where one can be started) so it is not lost, and if even that fails the
asker is told so (unless nobody is left to tell: the conversation deleted, or a thread its
moderators locked)."""

from __future__ import annotations

import logging

from bot.conversation import log_context, thread_title
from bot.errors import ConversationDeleted, ThreadLocked
from bot.escalation import Escalations
from bot.messages import say
from bot.ports import Channel
from bot.types import DocVisibility, EscalationReason, InboundMessage, Posted, Reply, ReplyKind

log = logging.getLogger(__name__)


async def apologise(
    escalations: Escalations,
    message: InboundMessage,
    channel: Channel,
    *,
    language: str,
    scope: DocVisibility,
    replacing: Posted | None = None,
    unsure: bool = False,
) -> None:
    """Something failed while answering: say so, and hand the question to people so it
    is not lost (a ticket, staff tagged, in the question's thread where possible). With
    `replacing`, the half-written answer the failure left (streamed, never finished), the
    apology is said in it at once, and then the note, as an abstention's is said in its
    streamed post: the thread does not keep half an answer for good, and a replay says the
    note again in that one post. If that edit fails, the apology leads the note, as without.
    `unsure`: an answer may be above already (a replay gave up looking for it), so the lead
    says it could not tell rather than that answering failed."""
    lead = say("error_unsure_lead" if unsure else "error_lead", language)
    said_in = await _said_in(channel, replacing, lead) if replacing is not None else None
    try:
        try:
            where = await channel.open_thread(message, thread_title(message.text or "?"))
        except Exception:
            # the ticket goes where the question was: a thread would be better, not needed
            log.warning(
                "could not open a thread for the failed message; escalating in place",
                exc_info=True,
                extra=log_context(message.conversation),
            )
            where = message.conversation
        await escalations.open(
            conversation=where,
            asker=message.author,
            question=message.text[:2000] or "(empty message)",
            reason=EscalationReason.ERROR,
            channel=channel,
            language=language,
            lead=lead,
            in_reply_to=message.id,
            visibility=scope,
            said_in=said_in,
        )
        return
    except Exception as exc:
        if isinstance(exc, ConversationDeleted) and exc.took(message.conversation):
            # deleted meanwhile: nobody is left there to tell
            log.warning(
                "the conversation was deleted; nobody to tell", extra=log_context(message.conversation)
            )
            return
        if isinstance(exc, ThreadLocked):
            # the ticket stays and its card follows (`tick`); an apology in the channel would
            # invite a try again, in public, at what staff closed
            log.warning(
                "the thread was locked; the ticket waits for staff, the asker is not told",
                extra=log_context(message.conversation),
            )
            return
        log.exception("could not hand the failed message to people", extra=log_context(message.conversation))
    try:
        await channel.send(
            Reply(
                conversation=message.conversation,
                text=say("error_no_ticket", language),
                kind=ReplyKind.ERROR,
                in_reply_to=message.id,
            )
        )
    except Exception:
        log.exception("could not tell the asker about the failure", extra=log_context(message.conversation))


async def _said_in(channel: Channel, partial: Posted, apology: str) -> Posted | None:
    """`partial` as it now is, saying `apology` instead of half an answer; None if it could not."""
    try:
        return await channel.edit(
            partial, Reply(conversation=partial.conversation, text=apology, kind=ReplyKind.ERROR)
        )
    except Exception:
        log.warning(
            "could not replace the half-written answer; the apology is a message of its own",
            exc_info=True,
            extra=log_context(partial.conversation),
        )
        return None
