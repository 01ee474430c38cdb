"""Draft-mode channels: the bot proposes, staff decide, and only then does anything go public.

This module owns the draft flow. In a channel whose mode is `draft`, a question nobody
addressed to the bot is answered as in an auto-answer channel (same pipeline, same record in
`answers`), but nothing is posted where the asker is: the proposed answer goes on a staff card
in the platform's triage channel with *Post*, *Edit* and *Discard*. (A direct mention is
answered at once, as anywhere: the core decides that, not this module.)

* *Post* moves the draft pending -> posted by compare-and-set before it posts anything, so a
  double click, a platform retry or two processes publish it once. The answer then goes in a
  thread on the question, with sources and the helpful / not helpful / talk to a person
  buttons, and is recorded as any answer is (history, follow-up).
* *Edit* asks the presser for the new text through the Channel's optional `TextInput`
  capability (a modal); the submission comes back as the same action with `text`, replaces
  the pending text and refreshes the card. Posting stays a separate, deliberate press.
* *Discard* moves pending -> discarded: nothing is ever posted.

Only staff may press them. Every change edits the card in place, so staff never act on a
stale one. Without a triage channel there is nowhere to show a card: the draft is kept
(pending) and a warning is logged, and nothing is posted publicly either.
"""

from __future__ import annotations

import contextlib
import logging

from bot import policy
from bot.answering.pipeline import AnswerPipeline, Chosen
from bot.answering.responder import answer_buttons, asker_view
from bot.answering.secrets import redact_secrets
from bot.answering.trips import answer_fields, record_answer
from bot.config import Settings
from bot.conversation import Recorder, log_context, tell_presser, thread_title
from bot.errors import PostRefused
from bot.insights.followups import Followups
from bot.messages import say
from bot.ports import Channel, Clock, TextInput
from bot.privacy.redaction import quoted_block
from bot.store import AsyncStore, StateStore
from bot.store.answers import answer_statement
from bot.store.reply_drafts import ReplyDraft, ReplyDraftStatus
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Button,
    ButtonStyle,
    Citation,
    Completion,
    ConversationRef,
    DocVisibility,
    InboundMessage,
    Outcome,
    Posted,
    Reply,
    ReplyKind,
    Visibility,
)

log = logging.getLogger(__name__)

DRAFT_ACTIONS = frozenset({ActionKind.POST_DRAFT, ActionKind.EDIT_DRAFT, ActionKind.DISCARD_DRAFT})
MAX_DRAFT_CHARS = 3000  # what a staff member may type into the form (Slack's input allows 3000)


def draft_buttons(draft: ReplyDraft) -> tuple[Button, ...]:
    if draft.status != ReplyDraftStatus.PENDING:
        return ()
    value = str(draft.id)
    post = Button(
        action=ActionKind.POST_DRAFT, label=say("button_post"), value=value, style=ButtonStyle.PRIMARY
    )
    edit = Button(action=ActionKind.EDIT_DRAFT, label=say("button_edit"), value=value)
    discard = Button(
        action=ActionKind.DISCARD_DRAFT, label=say("button_discard"), value=value, style=ButtonStyle.DANGER
    )
    # nothing to post until someone writes it: an abstention offers Edit and Discard only
    return (post, edit, discard) if draft.answer.strip() else (edit, discard)


def _status_line(draft: ReplyDraft) -> str:
    who = draft.decided_by or "?"
    if draft.status == ReplyDraftStatus.POSTED:
        return f"posted by {who}"
    if draft.status == ReplyDraftStatus.DISCARDED:
        return f"discarded by {who}"
    return f"pending · edited by {who}" if draft.decided_by else "pending"


def draft_card(draft: ReplyDraft, where: ConversationRef, citations: tuple[Citation, ...] = ()) -> Reply:
    """The staff card: status, the question, the proposed answer. What people wrote and what
    the bot quoted pass through `redact_secrets` (`quoted_block`): the card is read by others."""
    answer = redact_secrets(draft.answer).strip() or "_No confident answer was found: use Edit to write one._"
    text = "\n".join(
        [
            f"**Draft reply #{draft.id}** · {_status_line(draft)}",
            f"Question from {draft.asker_id or 'someone'}:",
            quoted_block(draft.question),
            "**Proposed answer:**",
            answer,
        ]
    )
    return Reply(
        conversation=where,
        text=text,
        kind=ReplyKind.TICKET,
        citations=citations,
        buttons=draft_buttons(draft),
        refers_to=draft.conversation,
    )


class DraftReplies:
    """Proposes answers on staff cards and carries out Post, Edit and Discard."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        clock: Clock,
        answers: AnswerPipeline,
        recorder: Recorder,
        followups: Followups | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.answers = answers
        self.recorder = recorder
        self.followups = followups

    # -- proposing ---------------------------------------------------------------------------

    async def propose(
        self, message: InboundMessage, *, language: str, scope: DocVisibility, channel: Channel
    ) -> Outcome:
        """Compose and record the answer as the responder does, without streaming or posting
        it where the asker is; put it on a staff card instead."""
        conversation = message.conversation
        question = message.text.strip()
        # staff review the proposal, but it is written for the asker, from what they may see
        audiences, history = await asker_view(
            self.settings, self.store, message.author, conversation, question
        )
        chosen = await self.answers.answerer_for(message.author, conversation, language)
        reserved: Chosen | None = chosen  # the model answer reserved goes with the record
        try:
            answer, result = await self.answers.ask(
                question,
                scope,
                history=history,
                language=language,
                answerer=chosen.answerer,
                audiences=audiences,
            )
            abstained = self.answers.is_abstention(answer)
            fields = answer_fields(
                answer,
                result,
                ref=conversation,
                message_id=message.id,
                asker_id=message.author.id,
                question=question,
                abstained=abstained,
                at=self.clock.now(),
            )
            recorded = await self.store.run(
                record_answer, answer_statement(**fields), None, None, chosen.reservation
            )
            reserved = None
        finally:
            if reserved is not None:  # nothing was recorded (a boundary: it never raises)
                await self.answers.release(reserved)
        assert recorded is not None  # recorded for no event: nothing it depends on
        answer_id = recorded.answer_id
        draft = await self.store.run(
            StateStore.create_reply_draft,
            conversation=conversation,
            message_id=message.id,
            asker_id=message.author.id,
            question=question,
            answer="" if abstained else answer.text,
            answer_id=answer_id,
            at=self.clock.now(),
        )
        log.info(
            "draft proposed abstained=%s",
            abstained,
            extra={**log_context(conversation), "draft_id": draft.id, "answer_id": answer_id},
        )
        where = self._triage(conversation)
        if where is None:
            log.warning(
                "a draft-mode channel has no triage channel to show draft #%d in; set [%s] "
                "triage_channel. Nothing was posted",
                draft.id,
                conversation.platform,
                extra=log_context(conversation),
            )
            return Outcome.RECORDED
        citations = () if abstained else answer.citations
        card = await channel.send(draft_card(draft, where, citations))
        await self.store.run(StateStore.set_reply_draft_card, draft.id, card)
        return Outcome.RECORDED

    def _triage(self, conversation: ConversationRef) -> ConversationRef | None:
        ps = policy.platform_settings(self.settings, conversation.platform, conversation.workspace)
        if ps is None or not ps.triage_channel:
            return None
        return ConversationRef(
            platform=conversation.platform, workspace=conversation.workspace, channel=ps.triage_channel
        )

    # -- the card's buttons ------------------------------------------------------------------

    async def pressed(self, event: ActionEvent, draft_id: int, channel: Channel) -> Outcome:
        if not policy.is_staff(
            event.actor, event.conversation.platform, self.settings, event.conversation.workspace
        ):
            await tell_presser(event, channel, say("draft_staff_only"))
            return Outcome.REFUSED
        draft = await self.store.run(StateStore.reply_draft, draft_id)
        if draft is None or draft.conversation.platform != event.conversation.platform:
            await tell_presser(event, channel, say("button_invalid"))
            return Outcome.REFUSED
        if draft.status != ReplyDraftStatus.PENDING:
            return await self._already(event, draft, channel)
        if event.action == ActionKind.EDIT_DRAFT:
            if event.text is None:
                return await self._ask_for_text(event, draft, channel)
            return await self._edit(event, draft, event.text, channel)
        if event.action == ActionKind.DISCARD_DRAFT:
            won = await self.store.run(
                StateStore.decide_reply_draft,
                draft.id,
                status=ReplyDraftStatus.DISCARDED,
                by=event.actor.display,
                at=self.clock.now(),
            )
            if not won:
                return await self._already(event, draft, channel)
            await self._refresh(draft.id, channel)
            return Outcome.RECORDED
        return await self._post(event, draft, channel)

    async def _ask_for_text(self, event: ActionEvent, draft: ReplyDraft, channel: Channel) -> Outcome:
        if len(draft.answer) > MAX_DRAFT_CHARS:
            # a form holds no more: opened with the start alone, saving it would drop the rest
            # unseen, so the longer text is posted as it is, or written anew
            await tell_presser(
                event, channel, say("draft_too_long_to_edit", length=len(draft.answer), limit=MAX_DRAFT_CHARS)
            )
            return Outcome.REFUSED
        # asked at once: the platform's handle for opening a form expires in 3 seconds
        opened = isinstance(channel, TextInput) and await channel.ask_text(
            event,
            title=say("draft_edit_title"),
            label=say("draft_edit_label"),
            initial=draft.answer,
        )
        if not opened:
            await tell_presser(event, channel, say("draft_no_form"))
            return Outcome.REFUSED
        return Outcome.RECORDED

    async def _edit(self, event: ActionEvent, draft: ReplyDraft, text: str, channel: Channel) -> Outcome:
        text = text.strip()[:MAX_DRAFT_CHARS]
        if not text:
            await tell_presser(event, channel, say("draft_empty"))
            return Outcome.REFUSED
        if not await self.store.run(StateStore.edit_reply_draft, draft.id, text, event.actor.display):
            fresh = await self.store.run(StateStore.reply_draft, draft.id)
            return await self._already(event, fresh or draft, channel)
        await self._refresh(draft.id, channel)
        return Outcome.RECORDED

    async def _post(self, event: ActionEvent, draft: ReplyDraft, channel: Channel) -> Outcome:
        if not draft.answer.strip():
            await tell_presser(event, channel, say("draft_empty"))
            return Outcome.REFUSED
        # the claim comes first: of any number of presses, only the one that moves the draft
        # from pending posts (and it posts the text as it stands at that moment)
        won = await self.store.run(
            StateStore.decide_reply_draft,
            draft.id,
            status=ReplyDraftStatus.POSTED,
            by=event.actor.display,
            at=self.clock.now(),
        )
        if not won:
            fresh = await self.store.run(StateStore.reply_draft, draft.id)
            return await self._already(event, fresh or draft, channel)
        decided = await self.store.run(StateStore.reply_draft, draft.id)
        assert decided is not None and decided.decided_at is not None
        try:
            posted = await self._publish(decided, channel)
        except PostRefused:
            # the platform answered that it took none of it: the draft is pending again, and the
            # "try again" the presser is told is true (else it said "already posted", for good).
            # A timeout or a 5xx may have been posted: kept as posted, never shown twice
            with contextlib.suppress(Exception):
                await self.store.run(StateStore.reopen_reply_draft, draft.id, decided.decided_at)
            raise
        await self.store.run(StateStore.set_reply_draft_posted, draft.id, posted.message_id)
        await self._refresh(draft.id, channel)
        log.info(
            "draft posted",
            extra={**log_context(posted.conversation), "draft_id": draft.id, "answer_id": draft.answer_id},
        )
        return Outcome.ANSWERED

    async def _publish(self, draft: ReplyDraft, channel: Channel) -> Posted:
        """The answer in a thread on the question, as an answer posted at once would be."""
        language = policy.detect_language(draft.question)
        asker = Author(id=draft.asker_id)
        question = InboundMessage(
            id=draft.message_id or "",
            conversation=draft.conversation,
            author=asker,
            text=draft.question,
            addressed=False,
            visibility=Visibility.PUBLIC,
            sent_at=draft.created_at,
        )
        thread = draft.conversation
        if draft.message_id:
            thread = await channel.open_thread(question, thread_title(draft.question))
        if thread != draft.conversation:  # the question opens the thread's history
            await self.recorder.record(question, role="user", conversation=thread, asker=True)
        record = await self.store.run(StateStore.answer, draft.answer_id) if draft.answer_id else None
        posted = await channel.send(
            Reply(
                conversation=thread,
                text=draft.answer,
                kind=ReplyKind.ANSWER,
                citations=record.sources if record is not None else (),
                buttons=answer_buttons(language, draft.answer_id) if draft.answer_id else (),
                in_reply_to=draft.message_id,
                language=language,
            )
        )
        if draft.answer_id:
            done = Completion(
                answer_id=draft.answer_id, posted=posted, text=draft.answer, at=self.clock.now()
            )
            await self.store.run(StateStore.complete_answer, done)
            if self.followups is not None:
                await self.followups.schedule(posted.conversation, draft.answer_id, asker)
        return posted

    async def _refresh(self, draft_id: int, channel: Channel) -> None:
        """The card as the draft now stands; a failed edit is logged, never undoes the press."""
        draft = await self.store.run(StateStore.reply_draft, draft_id)
        if draft is None or draft.card is None:
            return
        record = await self.store.run(StateStore.answer, draft.answer_id) if draft.answer_id else None
        citations = record.sources if record is not None and not record.abstained else ()
        try:
            card = await channel.edit(draft.card, draft_card(draft, draft.card.conversation, citations))
            if card != draft.card:  # it now takes more messages, or fewer (Discord's 2,000 characters)
                await self.store.run(StateStore.set_reply_draft_card, draft.id, card)
        except Exception:
            log.exception("could not update a draft card", extra={"draft_id": draft.id})

    async def _already(self, event: ActionEvent, draft: ReplyDraft, channel: Channel) -> Outcome:
        status = "posted" if draft.status == ReplyDraftStatus.POSTED else "discarded"
        await tell_presser(event, channel, say("draft_decided", status=status, who=draft.decided_by or "?"))
        return Outcome.DUPLICATE
