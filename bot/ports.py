"""The interfaces the core depends on. Adapters and answerers implement them.

They are narrow on purpose: the core can post, edit and open a thread, and nothing else
of a platform; rendering (Block Kit, embeds, mention escaping, splitting long text) is
the adapter's job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, Unpack, runtime_checkable

from bot.config import Settings
from bot.types import (
    ActionEvent,
    ActionKind,
    Answer,
    AnswerFields,
    Button,
    Command,
    Completion,
    ConversationRef,
    InboundMessage,
    Outcome,
    Passage,
    Posted,
    Reply,
    RetrievalHints,
    Shards,
    Turn,
)


class Core(Protocol):
    """What an adapter may ask of the conversation core: hand it events, replay what a dead
    process left. Adapters depend on this, never on the concrete SupportBot."""

    settings: Settings

    async def on_message(
        self, message: InboundMessage, channel: Channel, *, accepted: asyncio.Event | None = None
    ) -> Outcome: ...

    async def on_command(self, command: Command, channel: Channel) -> Outcome: ...

    async def on_action(self, event: ActionEvent, channel: Channel) -> Outcome: ...

    async def replay_pending(self, platform: str, channel: Channel) -> int: ...

    async def give_back(self, platform: str) -> int:
        """Hand this worker's unfinished events of `platform` to whichever worker serves it now
        (its gateway lease was lost): how many. Nothing on a store no other process shares."""
        ...

    async def active_conversations(
        self, platform: str, within: timedelta, shards: Shards | None = None
    ) -> list[tuple[ConversationRef, str | None]]:
        """Conversations the bot took part in within `within` (with `shards`, on those shards
        only), newest first, each with the platform id of the last message recorded in it:
        where a new gateway holder catches up."""
        ...

    async def last_heard(self, platform: str, shards: Shards | None = None) -> str | None:
        """The platform id of the newest message recorded on `platform` (with `shards`, on those
        shards only), or None: after it, a gateway connection that was lost may have missed
        new questions."""
        ...

    async def active_channels(self, platform: str, within: timedelta) -> list[tuple[str, str]]:
        """Each (workspace, channel) where the bot took part in a conversation within `within`,
        however many conversations that was: where a read-back looks for new questions."""
        ...

    async def note_heard(self, platform: str, mark: str) -> None:
        """Keep `mark` (the platform's own order, such as Slack's ts) as heard on `platform`,
        unless a later one is kept: heard, if not recorded (chatter)."""
        ...

    async def noted_heard(self, platform: str) -> str | None:
        """The latest mark `note_heard` kept for `platform`, by any worker, or None."""
        ...

    async def noted_heards(self, prefix: str) -> dict[str, str]:
        """Each place beginning with `prefix` a mark was noted as heard on, with that mark."""
        ...

    async def owe_read_back(self, platform: str, after: str) -> None:
        """A read-back of `platform` from the mark `after` is owed (starting, or something was
        left unrecorded): it stands until one covering it ends; the earliest owed counts."""
        ...

    async def owed_read_back(self, platform: str) -> str | None: ...

    async def owed_read_backs(self, prefix: str) -> dict[str, str]:
        """Each place beginning with `prefix` a read-back is owed on (a Slack workspace's), with
        its earliest point owed."""
        ...

    async def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None:
        """A read-back ended having read everything said from `covered_from` until
        `covered_until`: what was owed from points between them is owed no more."""
        ...


class Lease(Protocol):
    """A role one process holds at a time among the workers sharing the state (the Discord
    gateway): bot/store/leases.py. Lost when the holder releases it or dies; `check` tells a
    holder whether it still has it. With state in SQLite there is none: one process holds all."""

    @property
    def held(self) -> bool: ...

    async def try_acquire(self, name: str) -> bool: ...

    async def check(self) -> bool: ...

    async def release(self) -> None: ...


class Adapter(Protocol):
    """One platform's connection: run it, reach its Channel, close it."""

    name: str  # the platform it serves: the key for its Channel

    @property
    def channel(self) -> Channel:
        """The adapter's Channel; raises RuntimeError until it is connected."""
        ...

    async def run(self) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class SharesHttp(Protocol):
    """An adapter that serves HTTP itself (Slack in HTTP mode): the dashboard lives on its port,
    under /admin, so one address serves both."""

    def share_http(self, make_app: Callable[[], Awaitable[Any]]) -> bool:
        """Serve the routes of the aiohttp application `make_app` builds (anew at each start)
        beside the adapter's own; False when this adapter serves no HTTP (Socket Mode)."""
        ...


# Told by an edit, as it goes, of the post as it now is (`Channel.edit`'s `on_change`).
PostChanged = Callable[[Posted], Awaitable[None]]


@runtime_checkable
class Channel(Protocol):
    """One platform's way of putting the core's replies in front of people."""

    async def send(self, reply: Reply) -> Posted:
        """Post a reply; raise on failure (the core decides what the user then sees)."""
        ...

    async def edit(self, posted: Posted, reply: Reply, on_change: PostChanged | None = None) -> Posted:
        """Replace a posted reply (streamed answers, ticket cards, thinking indicators) and
        return it as it now is: on a platform that shows a long reply in several messages
        (Discord), the messages it now takes, which may be more or fewer than before (a
        partial answer, ReplyKind.THINKING, keeps the post's messages as they are).

        `on_change` is awaited with the post as it now is each time the edit changes its
        messages (a part posted, the surplus deleted), before it goes on: whoever keeps the
        post (the inbox's note, an answer's record) names every message that exists, even when
        the edit stops half way (a crash, a refusal). An edit that fails takes back the
        messages it added; one that finds a message of the post deleted (MessageGone) deletes
        the rest: a post is shown whole or not at all."""
        ...

    async def open_thread(self, message: InboundMessage, title: str) -> ConversationRef:
        """Make (or find) the thread that replies to `message` go in and return its address.

        A message already in a thread returns that thread; a platform without threads
        returns the message's own conversation.
        """
        ...


@runtime_checkable
class FindsReplies(Protocol):
    """An optional Channel capability: find what the bot already posted in answer to a message.
    A process killed after its post went out but before the inbox noted it leaves the replay
    no post to resume; a channel that can look (Slack reads the thread; Discord the thread
    started from the message, or the history after it, where a reply that references the
    message is taken whoever spoke first) lets it edit that post instead of posting a second
    answer (bot/delivery.py)."""

    async def find_reply(self, message: InboundMessage) -> Posted | None:
        """The bot's first message in `message`'s thread after it, when nobody else spoke in
        between (a later bot message would answer them), with the messages that continue it
        when it was too long for one (Discord); None when there is none, or it
        cannot tell. It raises, rather than return None, when the platform refused to let it
        look (Slack: a revoked token): the replay then fails and is taken again later, instead
        of answering a second time."""
        ...


@runtime_checkable
class FindsPosts(Protocol):
    """An optional Channel capability: find a message the bot posted in a channel by a button
    it shows. A process killed after a ticket's card went out but before the store noted it
    leaves a claim that lapses; the claim that takes it over asks first, and edits the card it
    finds instead of posting a second (bot/escalation/cards.py)."""

    async def find_post(self, where: ConversationRef, after: datetime, button: Button) -> Posted | None:
        """The bot's earliest message in `where` itself (not its threads) posted after `after`
        that shows `button` (the same action and value); None when there is none, or the bot
        may not read `where`. It raises when the platform failed to answer (the card is then
        tried again later, rather than posted twice)."""
        ...


@runtime_checkable
class TextInput(Protocol):
    """An optional Channel capability: ask the person who pressed a button to type some text
    (a Slack modal, a Discord modal). Check with `isinstance(channel, TextInput)`; a Channel
    without it (the console) cannot ask, and the core says so.

    The form must open as the answer to the press itself (Slack's trigger_id and Discord's
    interaction both expire in 3 seconds), so the core asks at once, before any slow work.
    What the person submits comes back later through `Core.on_action` as an ActionEvent with
    the same `action`, `value`, `conversation` and `message_id` as `event`, and `text` set."""

    async def ask_text(self, event: ActionEvent, *, title: str, label: str, initial: str) -> bool:
        """Open the form for `event`'s presser; False when the platform cannot now (the
        press is too old, or was not a button), and nothing was shown."""
        ...


# Buttons whose press may open a form: an adapter whose platform needs the form as the first
# answer to the press (Discord's modal) leaves such a press unacknowledged until the core has
# decided (acknowledging it anyway before the platform's deadline).
FORM_ACTIONS = frozenset({ActionKind.EDIT_DRAFT})


class StreamSink(Protocol):
    """Where a streaming answerer sends the text written so far (the whole of it, each time).

    `ready`: whether a text sent now would be shown (the first post, or an edit within the
    platform's budget). An answerer makes the text to send only then: making it is work over
    the whole text so far (citations, redaction), and made for every streamed chunk it grew
    with the square of a long answer's length and took the model's time."""

    def ready(self) -> bool: ...

    async def __call__(self, text_so_far: str) -> None: ...


class Answerer(Protocol):
    """Writes an Answer from retrieved passages. `confidence` is retrieval's; the answerer
    may lower it (a model that cites nothing) but an abstention is always `abstained=True`.
    Raises AnswererUnavailable when it cannot answer now; the core then falls back.
    `hints` (what retrieval knows beyond the passages) may guide what to quote."""

    name: str

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer: ...


@runtime_checkable
class Summarizer(Protocol):
    """Writes the summary at the top of a ticket's hand-off brief: the model's answerer when
    one is configured (bot/answering/llm.py). Raises AnswererUnavailable when it cannot."""

    async def summarize(self, turns: Sequence[Turn], language: str) -> str: ...


class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order, through an embeddings endpoint.

    The only implementation speaks the OpenAI API (bot/answering/openai_client.py), so that retrieval
    and the core never import `openai`. Raises `bot.retrieval.embeddings.EmbeddingsUnavailable`
    when the endpoint fails; the core then searches with BM25 alone."""

    model: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...

    async def close(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class MessageHandler(Protocol):
    """What a message means: the core's decision and the work it does (bot/core.py's
    SupportBot), as delivery hands a claimed message over (bot/delivery.py)."""

    def situation(self, message: InboundMessage) -> Situation: ...

    async def handle(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        resume: Posted | None,
        finish: Finish | None = None,
    ) -> Outcome: ...

    async def apologise(
        self,
        message: InboundMessage,
        channel: Channel,
        situation: Situation,
        replacing: Posted | None = None,
        *,
        unsure: bool = False,
    ) -> None:
        """Hand `message` to people, saying something failed; `unsure`: whether it was answered
        is not known (a replay that could not look for its predecessor's post gave up)."""
        ...


# -- the state store ------------------------------------------------------------------------
# What the core keeps durably, one Protocol per concern (the modules of bot/store/ mirror
# them). SQLite's `bot.store.StateStore` is the first implementation; a PostgreSQL backend
# implements `Store` too. Calls block: async code reaches a Store through AsyncStore's thread.

import typing  # noqa: E402  (this block is appended whole; its imports are for annotations only)

if typing.TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from contextlib import AbstractContextManager

    # what a message means to the core, as delivery hands it over (MessageHandler)
    from bot.inbox import Finish
    from bot.policy import Situation

    # from the modules, not the package: bot.store.state imports this file to check that
    # StateStore implements Store, and the package imports bot.store.state
    from bot.store.answers import AnswerRecord, Stats
    from bot.store.conversations import ConversationState
    from bot.store.dashboard import AuditEntry, LinkOwner, SessionRecord
    from bot.store.followups import DueFollowup, FollowupClaim
    from bot.store.gaps import GapCandidate, GapRecord, GapStatus
    from bot.store.incidents import BurstRecord, IncidentRecord, PostKind, RecentQuestion
    from bot.store.metrics import AskerMessageRow, QuestionRow, RatingRow, TicketMoments, TicketRow
    from bot.store.queue import QueuePage, Reach, TicketQuery
    from bot.store.reply_drafts import DraftCounts, ReplyDraft
    from bot.store.revisions import RevisionTurn
    from bot.store.slack_installs import SlackInstallRecord
    from bot.store.ticket_posts import PostClaim
    from bot.store.workers import WorkerRecord
    from bot.types import Author, Draft, EscalationReason, Ticket, TicketStatus


class InboxStore(Protocol):
    """Each platform event handled once and none lost: claim, finish, replay what was left."""

    def claim_event(self, key: str, platform: str, payload: str, now: datetime) -> bool: ...

    def finish_event(
        self,
        key: str,
        now: datetime,
        status: str = "done",
        completion: Completion | None = None,
        post: Posted | None = None,
        again: bool = False,
    ) -> bool: ...

    def prune_inbox(self, before: datetime) -> int: ...

    def pending_events(
        self,
        platform: str,
        now: datetime | None = None,
        started: datetime | None = None,
        limit: int | None = None,
    ) -> list[tuple[str, str]]: ...

    def take_for_replay(self, key: str, now: datetime, started: datetime | None = None) -> bool: ...

    def note_post(self, key: str, message_id: str, conversation_key: str) -> None: ...

    def event_post(self, key: str) -> tuple[str, str] | None: ...

    def holds_event(self, key: str) -> bool: ...

    def event_unfinished(self, key: str) -> bool: ...

    def give_back_events(self, platform: str) -> int: ...


class ConversationStore(Protocol):
    """Conversations (who asked, who is talking) and their messages."""

    def conversation(self, key: str) -> ConversationState | None: ...

    def touch_conversation(
        self, ref: ConversationRef, now: datetime, asker_id: str | None = None
    ) -> None: ...

    def set_conversation_flags(
        self,
        ref: ConversationRef,
        now: datetime,
        *,
        bot_participating: bool | None = None,
        human_takeover: bool | None = None,
    ) -> None: ...

    def add_message(
        self,
        ref: ConversationRef,
        *,
        role: str,
        text: str,
        at: datetime,
        author: Author | None = None,
        platform_id: str | None = None,
    ) -> None: ...

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
    ) -> list[list[Any]]: ...

    def history(
        self, ref: ConversationRef, limit: int = 20, *, answers_to: str | None = None
    ) -> list[Turn]: ...

    def messages_since(self, ref: ConversationRef, since: datetime, role: str) -> list[str]: ...

    def said_by(self, ref: ConversationRef, author_id: str, limit: int = 20) -> list[str]: ...

    def bot_conversations_since(
        # the limit's default is bot/store/conversations.py's CATCH_UP_CONVERSATIONS
        self,
        platform: str,
        since: datetime,
        limit: int = 2000,
        *,
        shards: Shards | None = None,
    ) -> list[tuple[ConversationRef, str | None]]: ...

    def last_recorded(self, platform: str, *, shards: Shards | None = None) -> str | None: ...

    def channels_since(self, platform: str, since: datetime) -> list[tuple[str, str]]: ...

    def note_heard(self, platform: str, mark: str) -> None: ...

    def noted_heard(self, platform: str) -> str | None: ...

    def noted_heards(self, prefix: str) -> dict[str, str]: ...

    def owe_read_back(self, platform: str, after: str) -> None: ...

    def owed_read_back(self, platform: str) -> str | None: ...

    def owed_read_backs(self, prefix: str) -> dict[str, str]: ...

    def settle_read_back(self, platform: str, covered_from: str, covered_until: str) -> None: ...


class AnswerStore(Protocol):
    """Answers given, feedback on them, usage and model limits, and the reports from them."""

    def record_answer(self, **fields: Unpack[AnswerFields]) -> int: ...

    def set_answer_posted(self, answer_id: int, posted_message_id: str) -> None: ...

    def answer(self, answer_id: int) -> AnswerRecord | None: ...

    def answer_to_message(self, message_id: str) -> tuple[AnswerRecord, str] | None: ...

    def add_feedback(self, answer_id: int, user_id: str, value: str, at: datetime) -> bool: ...

    def reserve_model_answer(
        self,
        asker_id: str,
        channel_key: str,
        *,
        per_user: int,
        per_channel: int,
        since: datetime,
        now: datetime,
        until: datetime,
    ) -> int | None: ...

    def release_model_answer(self, reservation: int) -> None: ...

    def usage_since(self, since: datetime) -> tuple[int, int, int]: ...

    def stats(
        self, since: datetime | None = None, platform: str | None = None, workspace: str | None = None
    ) -> Stats: ...

    def knowledge_gaps(self, limit: int = 10, platform: str | None = None) -> list[tuple[str, int]]: ...


class TicketStore(Protocol):
    """Tickets moved by compare-and-set, their events and posts, and the SLA clock."""

    def create_ticket(
        self,
        *,
        ref: ConversationRef,
        asker: Author,
        question: str,
        reason: EscalationReason,
        at: datetime,
        answer_id: int | None = None,
        language: str = "en",
        visibility: str = "public",
        tags: Iterable[str] = (),
        sla_stage: int = 0,
        next_action_at: datetime | None = None,
        context: Mapping[str, typing.Any] | None = None,
        message_id: str | None = None,
        card_in: ConversationRef | None = None,
    ) -> tuple[Ticket, bool]: ...

    def ticket_context(self, ticket_id: int) -> dict[str, typing.Any]: ...

    def withdraw_ticket(self, ticket_id: int, at: datetime, why: str) -> bool: ...

    def ticket(self, ticket_id: int) -> Ticket | None: ...

    def active_ticket(self, ref: ConversationRef, asker_id: str | None = None) -> Ticket | None: ...

    def ticket_for_message(self, platform: str, message_id: str) -> Ticket | None: ...

    def tickets(
        self,
        statuses: Iterable[TicketStatus] | None = None,
        assignee_id: str | None = None,
        limit: int = 50,
        platform: str | None = None,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]: ...

    def ticket_queue(self, query: TicketQuery, now: datetime, limit: int = 200) -> QueuePage: ...

    # the default is bot/store/queue.py's STAFF_TICKETS
    def workspace_staff(self, platform: str, workspace: str, recent: int = 1000) -> list[tuple[str, str]]: ...

    def queue_people_and_channels(
        self, reach: Sequence[Reach], statuses: Sequence[TicketStatus] | None
    ) -> tuple[list[str], list[tuple[str, str]]]: ...

    def transition_ticket(
        self,
        ticket_id: int,
        *,
        to: TicketStatus,
        allowed_from: Iterable[TicketStatus],
        actor: Author,
        at: datetime,
        detail: str = "",
        assignee: Author | None = None,
        event: str | None = None,
        fields: dict[str, typing.Any] | None = None,
        unless_held_by: str | None = None,
    ) -> tuple[bool, Ticket]: ...

    def latest_ticket(self, ref: ConversationRef) -> Ticket | None: ...

    def asker_tickets(
        self,
        platform: str,
        asker_id: str,
        before_id: int,
        limit: int = 3,
        workspaces: frozenset[str] | None = None,
    ) -> list[Ticket]: ...

    def resolved_tickets(
        self, platform: str, limit: int = 500, workspaces: frozenset[str] | None = None
    ) -> list[tuple[Ticket, tuple[str, ...], tuple[float, ...]]]: ...

    def due_tickets(self, now: datetime, platforms: Iterable[str]) -> list[Ticket]: ...

    def claim_sla(
        self,
        ticket_id: int,
        *,
        stage: int,
        due_at: datetime | None,
        assignee_id: str | None,
        until: datetime,
        now: datetime,
    ) -> bool: ...

    def release_sla(self, ticket_id: int, claimed: datetime, retry_at: datetime | None = None) -> None: ...

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
    ) -> bool: ...

    def set_ticket_fields(self, ticket_id: int, /, **fields: typing.Any) -> None: ...

    def claim_rating_prompt(self, ticket_id: int) -> bool: ...

    def rate_ticket(self, ticket_id: int, rating: str, actor_id: str, at: datetime) -> bool: ...

    def add_ticket_post(self, ticket_id: int, posted: Posted, kind: str, text: str = "") -> None: ...

    def ticket_posts(self, ticket_id: int) -> list[tuple[str, Posted, str]]: ...

    def claim_ticket_post(
        self, ticket_id: int, kind: str, where: ConversationRef, now: datetime, *, take_over: bool = False
    ) -> PostClaim | None: ...

    def ticket_post_made(self, claim: int, posted: Posted) -> None: ...

    def ticket_post_claim(self, ticket_id: int, kind: str) -> int | None: ...

    def release_ticket_post(self, claim: int, retry_at: datetime) -> None: ...

    def drop_ticket_post_claim(self, claim: int) -> None: ...

    def owed_ticket_posts(self, kind: str, now: datetime, platforms: list[str]) -> list[tuple[int, int]]: ...

    def ticket_post_shown(self, ticket_id: int, was: Posted, now: Posted) -> None: ...

    def ticket_events(self, ticket_id: int) -> list[dict[str, typing.Any]]: ...


class DraftStore(Protocol):
    """Drafts of the learning loop: made from tickets, each decided once."""

    def create_draft(
        self, *, ticket_id: int, title: str, question: str, answer: str, visibility: str, at: datetime
    ) -> Draft: ...

    def draft(self, draft_id: int) -> Draft | None: ...

    def drafts(self, status: str | None = "pending", limit: int = 20) -> list[Draft]: ...

    def latest_draft_for(self, ticket_id: int) -> Draft | None: ...

    def refresh_draft(self, draft_id: int, answer: str, at: datetime) -> bool: ...

    def drafts_in(
        self, reach: Sequence[Reach], status: str | None = "pending", limit: int = 20
    ) -> list[Draft]: ...

    def retitle_draft(self, draft_id: int, title: str) -> bool: ...

    def decide_draft(
        self,
        draft_id: int,
        *,
        status: str,
        by: str,
        at: datetime,
        path: str | None = None,
        unchanged: tuple[str, str] | None = None,
    ) -> bool: ...

    # the knowledge generation: changes to the folder made through any worker (bot/cluster.py)
    def count_knowledge_change(self) -> int: ...

    def knowledge_generation(self) -> int: ...


class ReplyDraftStore(Protocol):
    """Answers proposed in draft-mode channels, waiting on a staff card, each decided once
    (pending -> posted | discarded) by compare-and-set; and the once-per-person welcome."""

    def create_reply_draft(
        self,
        *,
        conversation: ConversationRef,
        message_id: str | None,
        asker_id: str,
        question: str,
        answer: str,
        answer_id: int | None,
        at: datetime,
    ) -> ReplyDraft: ...

    def reply_draft(self, draft_id: int) -> ReplyDraft | None: ...

    def set_reply_draft_card(self, draft_id: int, posted: Posted) -> None: ...

    def edit_reply_draft(self, draft_id: int, answer: str, by: str) -> bool: ...

    def decide_reply_draft(self, draft_id: int, *, status: str, by: str, at: datetime) -> bool: ...

    def reopen_reply_draft(self, draft_id: int, decided_at: datetime) -> bool: ...

    def set_reply_draft_posted(self, draft_id: int, posted_message_id: str) -> None: ...

    def claim_welcome(self, platform: str, user_id: str, at: datetime) -> bool: ...

    def draft_counts(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        workspace: str | None = None,
    ) -> DraftCounts: ...


class IncidentStore(Protocol):
    """Recent questions, burst alerts, incidents and the notices they put on answers."""

    def askers_since(
        self, platform: str, since: datetime, enough: int, workspace: str | None = None
    ) -> int: ...

    def recent_questions(
        self,
        platform: str,
        since: datetime,
        limit: int = 2000,
        after_id: int = 0,
        workspace: str | None = None,
    ) -> list[RecentQuestion]: ...

    def bursts_since(
        self, platform: str, since: datetime, workspace: str | None = None
    ) -> list[BurstRecord]: ...

    def burst_signatures_since(
        self, platform: str, since: datetime, workspace: str | None = None, known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]: ...

    def burst_signatures(
        self, ids: Sequence[int], known: Collection[int] = ()
    ) -> list[tuple[int, str | None]]: ...

    def record_burst(
        self,
        *,
        platform: str,
        representative: str,
        signatures: str,
        askers: int,
        channels: Sequence[str],
        threads: Sequence[str],
        at: datetime,
        workspace: str | None = None,
    ) -> BurstRecord: ...

    def burst(self, burst_id: int) -> BurstRecord | None: ...

    def unposted_bursts(self, platform: str, since: datetime) -> list[BurstRecord]: ...

    def set_burst_post(self, burst_id: int, message_id: str, conversation: ConversationRef) -> None: ...

    def open_incident(
        self,
        *,
        platform: str,
        text: str,
        signatures: str,
        by: str,
        at: datetime,
        burst_id: int | None = None,
        workspace: str | None = None,
    ) -> tuple[IncidentRecord, bool]: ...

    def incident(self, incident_id: int) -> IncidentRecord | None: ...

    def incidents(
        self, platform: str, status: str | None = None, limit: int = 20, workspace: str | None = None
    ) -> list[IncidentRecord]: ...

    def close_incident(self, incident_id: int, *, by: str, at: datetime, text: str) -> bool: ...

    def incidents_to_tell(self, platform: str, since: datetime) -> list[IncidentRecord]: ...

    def add_notice(self, incident_id: int, conversation: ConversationRef, at: datetime) -> bool: ...

    def notices_to_close(self, incident_id: int) -> list[tuple[int, ConversationRef]]: ...

    def mark_notice_told(self, notice_id: int, at: datetime) -> bool: ...


class FollowupStore(Protocol):
    """The one "Did this solve it?" per thread: scheduled, moved, cancelled, claimed once."""

    def schedule_followup(self, key: str, answer_id: int, due: datetime) -> bool: ...

    def postpone_followup(self, key: str, due: datetime) -> bool: ...

    def cancel_followup(self, key: str) -> bool: ...

    def due_followups(
        self, now: datetime, platforms: Iterable[str], limit: int = 100
    ) -> list[DueFollowup]: ...

    def claim_followup(self, key: str, answer_id: int, now: datetime) -> FollowupClaim: ...

    def followup_state(self, key: str) -> tuple[datetime | None, int | None, datetime | None] | None: ...


class MetricsStore(Protocol):
    """The rows support metrics are computed from (bot/insights/metrics.py), as of `until`."""

    def figures_version(self) -> tuple[int, ...]: ...

    def metrics_snapshot(self) -> AbstractContextManager[None]: ...

    def metric_questions(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[QuestionRow]: ...

    def metric_asker_messages(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[AskerMessageRow]: ...

    def metric_tickets(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> list[TicketRow]: ...

    def metric_question_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[QuestionRow], dict[int, str]]: ...

    def metric_ticket_moments(
        self, since: datetime, until: datetime, platform: str | None = None, channel: str | None = None
    ) -> tuple[list[TicketMoments], list[RatingRow]]: ...

    def top_questions(
        self,
        since: datetime,
        until: datetime,
        platform: str | None = None,
        channel: str | None = None,
        limit: int = 10,
        workspace: str | None = None,
    ) -> list[tuple[str, int]]: ...


class GapStore(Protocol):
    """Knowledge-gap clusters: the questions placed in them, their asks and status."""

    def unassigned_gap_questions(self, limit: int = 500) -> list[GapCandidate]: ...

    def record_gap_placement(self, at: datetime) -> None: ...

    def gaps_placed_at(self) -> datetime | None: ...

    def gaps(
        self,
        platform: str | None,
        statuses: tuple[GapStatus, ...],
        limit: int = 50,
        workspaces: frozenset[str] | None = None,
    ) -> list[GapRecord]: ...

    def visible_gaps(
        self, reach: Sequence[Reach], statuses: tuple[GapStatus, ...], limit: int = 50
    ) -> list[GapRecord]: ...

    def gap(self, gap_id: int) -> GapRecord | None: ...

    def create_gap(self, candidate: GapCandidate, signature: str, at: datetime) -> GapRecord: ...

    def add_to_gap(self, gap_id: int, candidate: GapCandidate, reopen_after: int, at: datetime) -> None: ...

    def set_gap_status(self, gap_id: int, status: GapStatus, at: datetime) -> bool: ...

    def gap_questions(self, gap_id: int, limit: int = 10) -> list[tuple[str, datetime]]: ...

    def gap_tickets(self, gap_id: int) -> list[int]: ...

    def public_gaps(self, gap_ids: Sequence[int]) -> set[int]: ...


class JobStore(Protocol):
    """Once-per-period jobs (the weekly digest, retention): claimed by key, taken over when
    stale; and `exclusive`, a block run by one process at a time cluster-wide."""

    def claim_job(self, key: str, now: datetime, stale_after: timedelta) -> bool: ...

    def finish_job(self, key: str, now: datetime) -> None: ...

    def job_done(self, key: str) -> bool: ...

    def claim_every(self, key: str, now: datetime, every: timedelta, stale_after: timedelta) -> bool: ...

    def release_claim(self, key: str, claimed_at: datetime) -> None: ...

    def drop_job(self, key: str) -> None: ...

    def claim_post(self, post: PostKind, row_id: int, now: datetime) -> bool: ...

    def retry_post(self, post: PostKind, row_id: int, now: datetime) -> None: ...

    def exclusive(self, name: str, *, wait: bool = True) -> AbstractContextManager[bool]: ...


class RevisionStore(Protocol):
    """Whose turn it is to revise an answer after its question was edited, across workers
    (bot/store/revisions.py)."""

    def take_revision(self, message: str, holder: str, made: datetime, now: datetime) -> RevisionTurn: ...

    def end_revision(self, message: str, holder: str) -> None: ...

    def prune_revisions(self, before: datetime) -> int: ...


class WorkerStore(Protocol):
    """The running bots sharing this state, with their heartbeats (bot/cluster.py)."""

    def register_worker(self, worker: WorkerRecord) -> None: ...

    def beat(self, now: datetime) -> None: ...

    def unregister_worker(self) -> None: ...

    def live_workers(self, since: datetime) -> list[WorkerRecord]: ...

    def live_workers_now(self, now: datetime) -> list[str]: ...

    def live_worker_records(self, now: datetime) -> list[WorkerRecord]: ...


class SlackInstallStore(Protocol):
    """Slack workspaces installed through OAuth, and the one-time states of installs under way
    (adapters/slack/installations.py adapts them to slack_sdk's stores)."""

    def save_slack_installation(self, record: SlackInstallRecord) -> None: ...

    def slack_installation(self, enterprise_id: str, team_id: str) -> SlackInstallRecord | None: ...

    def note_slack_organisation(self, team_id: str, enterprise_id: str) -> None: ...

    def slack_organisation(self, team_id: str) -> str: ...

    def slack_installations(self) -> list[SlackInstallRecord]: ...

    def delete_slack_installation(self, enterprise_id: str, team_id: str) -> int: ...

    def issue_oauth_state(self, state: str, expires_at: datetime, now: datetime, limit: int) -> bool: ...

    def consume_oauth_state(self, state: str, now: datetime) -> bool: ...


class DashboardStore(Protocol):
    """The web dashboard (bot/dashboard/): one-time sign-in links kept as hashes, its sessions,
    the audit log of changes made through it, and the secret its session cookies are signed with."""

    def issue_dashboard_link(
        self, token_hash: str, platform: str, user_id: str, expires_at: datetime, now: datetime
    ) -> None: ...

    def use_dashboard_link(self, token_hash: str, now: datetime) -> LinkOwner | None: ...

    def start_dashboard_session(self, session: SessionRecord, now: datetime) -> None: ...

    def dashboard_session(self, sid: str, now: datetime) -> SessionRecord | None: ...

    def reread_dashboard_session(
        self, sid: str, roles: frozenset[str], platform_admin: bool, read_at: datetime
    ) -> None: ...

    def end_dashboard_session(self, sid: str) -> None: ...

    def dashboard_secret(self) -> str: ...

    def add_audit(self, at: datetime, platform: str, user_id: str, action: str, detail: str = "") -> None: ...

    def audit_log(self, limit: int = 200) -> list[AuditEntry]: ...


class RetentionStore(Protocol):
    """Message text past `[privacy] retention_days` emptied; rows, ids and counts kept."""

    def purge_text(self, before: datetime, now: datetime, *, dry_run: bool = False) -> dict[str, int]: ...


class PeopleStore(Protocol):
    """What is kept about one person: opt-in memory, forget-me tombstones, forget and export."""

    def memory(self, platform: str, user_id: str) -> tuple[bool, list[dict[str, str]]]: ...

    def set_memory_enabled(self, platform: str, user_id: str, enabled: bool, at: datetime) -> None: ...

    def save_memory_facts(
        self, platform: str, user_id: str, facts: list[dict[str, str]], at: datetime
    ) -> bool: ...

    def is_tombstoned(self, platform: str, user_id: str) -> bool: ...

    def forget(self, platform: str, user_id: str, at: datetime) -> dict[str, int]: ...

    def export_person(self, platform: str, user_id: str) -> dict[str, typing.Any]: ...


@runtime_checkable
class Store(
    InboxStore,
    ConversationStore,
    AnswerStore,
    TicketStore,
    DraftStore,
    ReplyDraftStore,
    IncidentStore,
    GapStore,
    JobStore,
    FollowupStore,
    MetricsStore,
    PeopleStore,
    RetentionStore,
    RevisionStore,
    WorkerStore,
    SlackInstallStore,
    DashboardStore,
    Protocol,
):
    """All of the state store: what a backend (SQLite today, PostgreSQL later) implements."""

    def complete_answer(self, completion: Completion) -> None: ...

    def close(self) -> None: ...
