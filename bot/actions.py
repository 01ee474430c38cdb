"""Buttons: what happens when someone presses one of the bot's buttons.

Claim and resolve on a ticket card, rate a resolved ticket, say an answer helped or did not
(the asker's "not helpful" hands the question to people), talk to a person. Each press is
an event handled once: a double click or a platform retry is a duplicate.
"""

from __future__ import annotations

import logging

from bot import policy
from bot.config import Settings
from bot.conversation import Recorder, tell_presser
from bot.escalation import Context, Escalations
from bot.insights.followups import Followups
from bot.insights.incidents import Incidents
from bot.messages import say, spoken
from bot.ports import Channel, Clock
from bot.privacy.drafts import DRAFT_ACTIONS, DraftReplies
from bot.privacy.people import People, forget_me_pressed
from bot.store import AnswerRecord, AsyncStore, StateStore
from bot.store.incidents import IncidentStatus
from bot.text import parse_number, scrub_event
from bot.types import ActionEvent, ActionKind, ConversationRef, EscalationReason, Outcome, Reply, ReplyKind

log = logging.getLogger(__name__)

# the buttons whose value is a ticket's id, and those whose value is an answer's
TICKET_ACTIONS = frozenset({ActionKind.CLAIM, ActionKind.RESOLVE, ActionKind.RATE_GOOD, ActionKind.RATE_BAD})
ANSWER_ACTIONS = frozenset(
    {
        ActionKind.SOLVED,
        ActionKind.STILL_STUCK,
        ActionKind.HELPFUL,
        ActionKind.NOT_HELPFUL,
        ActionKind.TALK_TO_HUMAN,
    }
)


# a talk-to-a-person button on a message the bot did not answer (one too long to read): its
# value names the message and who wrote it, whose question the ticket is
_ON_A_MESSAGE = "msg:"
_ASKER = "@"


def message_button_value(message_id: str, asker_id: str) -> str:
    """The value of a talk-to-a-person button on `message_id`, which `asker_id` wrote."""
    return f"{_ON_A_MESSAGE}{message_id}{_ASKER}{asker_id}"


def _message_button_asker(value: str) -> str | None:
    """Who wrote the message a talk-to-a-person button is on; None on a button made before
    its value named them (anyone's press then opens the ticket, as it always did)."""
    _, said, asker = value.removeprefix(_ON_A_MESSAGE).rpartition(_ASKER)
    return asker if said and asker else None


def answer_language(record: AnswerRecord) -> str:
    """The language replies to an answer's buttons are in: the one it was answered in (and its
    buttons and follow-up labelled in); a question's own only for a row that has none."""
    return record.language or policy.detect_language(record.question)


class ActionHandler:
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore,
        clock: Clock,
        escalations: Escalations,
        recorder: Recorder,
        incidents: Incidents | None = None,
        followups: Followups | None = None,
        drafts: DraftReplies | None = None,
    ) -> None:
        self.drafts = drafts  # Post / Edit / Discard on draft-mode staff cards
        self.recorder = recorder
        self.incidents = incidents
        self.followups = followups
        self.settings = settings
        self.store = store
        self.clock = clock
        self.escalations = escalations

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome:
        event = scrub_event(event)  # text the store, the logs and the platform can all encode
        key = f"{event.conversation.platform}:action:{event.id}"
        fresh = await self.store.run(
            StateStore.claim_event, key, event.conversation.platform, "", self.clock.now()
        )
        if not fresh:
            return Outcome.DUPLICATE
        try:
            outcome = await self._handle_action(event, channel)
        except Exception:
            log.exception(
                "failed to handle a button",
                extra={"channel": event.conversation.channel_key, "action": str(event.action)},
            )
            outcome = Outcome.FAILED
            try:
                await tell_presser(
                    event,
                    channel,
                    say("error_no_ticket", await self._language_of_press(event)),
                    kind=ReplyKind.ERROR,
                )
            except Exception:
                log.exception("could not report the failed button press")
        await self.store.run(StateStore.finish_event, key, self.clock.now(), str(outcome))
        return outcome

    async def _handle_action(self, event: ActionEvent, channel: Channel) -> Outcome:
        if event.action in (ActionKind.FORGET_ME_CONFIRM, ActionKind.FORGET_ME_CANCEL):  # value: a user id
            people = People(settings=self.settings, store=self.store, clock=self.clock)
            return await forget_me_pressed(event, channel, people)
        # a value is whatever the platform sent back: a forged or stale button is told so, briefly
        number = parse_number(event.value)
        on_a_message = event.action == ActionKind.TALK_TO_HUMAN and event.value.startswith(_ON_A_MESSAGE)
        if number is None and not on_a_message:
            await tell_presser(event, channel, say("button_invalid", spoken(event.locale) or "en"))
            return Outcome.REFUSED
        if event.action in DRAFT_ACTIONS and number is not None and self.drafts is not None:
            return await self.drafts.pressed(event, number, channel)
        if event.action in (ActionKind.CLAIM, ActionKind.RESOLVE) and number is not None:
            ticket_id = number
            if event.action == ActionKind.CLAIM:
                result = await self.escalations.claim(ticket_id, event.actor, channel, event.conversation)
            else:
                result = await self.escalations.resolve(ticket_id, event.actor, channel, event.conversation)
            if not result.changed or not result.told:  # a press hears only what the thread does not
                await tell_presser(event, channel, result.message)
            return Outcome.RECORDED if result.changed else Outcome.REFUSED

        if event.action == ActionKind.OPEN_INCIDENT and number is not None:
            return await self._open_incident(event, number, channel)
        if event.action in (ActionKind.RATE_GOOD, ActionKind.RATE_BAD) and number is not None:
            rating = "good" if event.action == ActionKind.RATE_GOOD else "bad"
            text = await self.escalations.rate(
                number, event.actor, rating, language=spoken(event.locale) or "en"
            )
            await tell_presser(event, channel, text)
            return Outcome.RECORDED
        scope = policy.document_scope(self.settings, event.conversation, event.visibility, event.actor)
        record = None
        if number is not None:  # an answer's id; a talk-to-a-person button on a message has none
            record = await self.store.run(StateStore.answer, number)
        language = answer_language(record) if record else spoken(event.locale) or "en"
        if event.action in (ActionKind.SOLVED, ActionKind.STILL_STUCK) and self.followups is not None:
            if record is None:
                return Outcome.IGNORED
            return await self.followups.pressed(event, record, channel, language=language, scope=scope)
        if event.action in (ActionKind.HELPFUL, ActionKind.NOT_HELPFUL):
            if record is None:
                return Outcome.IGNORED
            await self.store.run(
                StateStore.add_feedback, record.id, event.actor.id, str(event.action), self.clock.now()
            )
            if event.action == ActionKind.NOT_HELPFUL and event.actor.id == record.asker_id:
                await self.escalations.answer_did_not_help(
                    record,
                    event.actor,
                    channel,
                    language=language,
                    visibility=scope,
                    lead=say("not_helpful_escalated", language),
                )
                return Outcome.ESCALATED
            await tell_presser(event, channel, say("thanks_feedback", language))
            return Outcome.RECORDED
        if event.action == ActionKind.TALK_TO_HUMAN:
            asker = record.asker_id if record is not None else _message_button_asker(event.value)
            if asker is not None and event.actor.id != asker:
                # as "Not helpful": the question is the asker's. Filed as the presser's, it
                # would be theirs to see and export, and stay behind when the asker is forgotten
                await tell_presser(event, channel, say("human_not_yours", language))
                return Outcome.REFUSED
            conversation = ConversationRef.from_key(record.conversation) if record else event.conversation
            question = (
                record.question
                if record
                else await self.recorder.question_for_ticket(conversation, "", event.actor.id)
            )
            await self.escalations.open(
                conversation=conversation,
                asker=event.actor,
                question=question or "(asked for a person)",
                reason=EscalationReason.ASKED_FOR_HUMAN,
                channel=channel,
                language=language,
                lead=say("asked_for_human", language),
                answer_id=record.id if record else None,
                visibility=scope,
                context=Context.of_answer(record) if record else None,
                pressed=True,
            )
            return Outcome.ESCALATED
        return Outcome.IGNORED

    async def _language_of_press(self, event: ActionEvent) -> str:
        """The language to apologise for a failed press in: that of the answer whose buttons
        were pressed, or the ticket's when its asker pressed (staff work its card in English);
        else the one the presser's app is set to, or English (the store may be what failed)."""
        fallback = spoken(event.locale) or "en"
        number = parse_number(event.value)
        if number is None:
            return fallback
        try:
            if event.action in TICKET_ACTIONS:
                ticket = await self.store.run(StateStore.ticket, number)
                return ticket.language if ticket and ticket.asker_id == event.actor.id else fallback
            if event.action in ANSWER_ACTIONS:
                record = await self.store.run(StateStore.answer, number)
                return answer_language(record) if record else fallback
        except Exception:
            log.warning("could not read what a failed press was on", exc_info=True)
        return fallback

    async def _open_incident(self, event: ActionEvent, burst_id: int, channel: Channel) -> Outcome:
        """*Open incident* on a burst alert (staff only): answers to the burst's questions now
        carry a known-issue notice. A second press finds the incident the first one opened."""
        platform = event.conversation.platform
        if self.incidents is None or not policy.is_staff(
            event.actor, platform, self.settings, event.conversation.workspace
        ):
            await tell_presser(event, channel, "Only staff can open an incident.")
            return Outcome.REFUSED
        incident, created = await self.incidents.open(platform, "", event.actor, burst_id=burst_id)
        prefix = self.settings.command_prefix(platform)
        if created:
            text = (
                f"Incident #{incident.id} is open: answers to these questions now start with a known-issue "
                f"notice. Close it with `{prefix} incident close #{incident.id} <what changed>`; every "
                "thread that saw the notice is then told."
            )
        elif incident.status == IncidentStatus.OPEN:
            text = f"Incident #{incident.id} is already open for this alert."
        else:  # the alert's incident was closed since: a press does not reopen it unseen
            text = (
                f"Incident #{incident.id} for this alert was closed. If it is back, open a new one with "
                f"`{prefix} incident open <what is broken>`."
            )
        await channel.send(
            Reply(
                conversation=event.conversation, text=text, ephemeral_to=None if created else event.actor.id
            )
        )
        return Outcome.RECORDED if created else Outcome.DUPLICATE
