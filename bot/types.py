"""The core's vocabulary: the values that flow between adapters, the core and its rooms.

Everything here is a frozen, keyword-only dataclass or a StrEnum, so a value can be
logged, compared, stored and handed across threads without surprises; AnswerFields alone is a
TypedDict, naming once the keywords an answer is recorded with. Nothing here knows
about Slack, Discord or any SDK: adapters translate into and out of these types. Where a
conversation happens and who may read it (the platform, a channel's visibility and mode, a
document's visibility) is bot/channel_types.py's; Visibility and DocVisibility, which nearly
every module speaks, are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from bot.channel_types import DocVisibility as DocVisibility
from bot.channel_types import Visibility as Visibility


@dataclass(frozen=True, kw_only=True)
class ConversationRef:
    """The address of a conversation; `key` is its primary key in the store."""

    platform: str
    workspace: str  # Slack team, Discord guild, or "dm"
    channel: str
    thread: str | None = None  # Slack root thread_ts, Discord thread id

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread or ''}"

    @property
    def channel_key(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    def in_thread(self, thread: str | None) -> ConversationRef:
        return replace(self, thread=thread)

    @property
    def platform_thread(self) -> str | None:
        """The thread as the platform knows it: None in a channel, and for a conversation of
        its own the platform gave no thread (`own_thread`), which nothing can be posted in."""
        thread = self.thread
        return None if thread is None or thread.startswith(_OWN_THREAD) else thread

    @classmethod
    def from_key(cls, key: str) -> ConversationRef:
        platform, workspace, channel, thread = key.split(":", 3)
        return cls(platform=platform, workspace=workspace, channel=channel, thread=thread or None)


_OWN_THREAD = "command-"  # never a platform's thread id (Slack's are digits and a dot)


def own_thread(command_id: str) -> str:
    """The thread key of the conversation a command's question starts when the platform gave
    its post no thread (Slack, shown through a response URL): each ask its own conversation,
    not everyone's in that channel."""
    return f"{_OWN_THREAD}{command_id}"


@dataclass(frozen=True)
class Shards:
    """Some of a bot's gateway shards: `ids` of `count`. A conversation is on the shard of its
    workspace, `(id >> 22) % count` (Discord's rule for a guild), or on 0 when the workspace is
    not a number (a DM)."""

    count: int
    ids: frozenset[int]


@dataclass(frozen=True, kw_only=True)
class Author:
    """Who wrote something. Staff and admin status are decided by policy, not here."""

    id: str
    name: str = ""
    is_bot: bool = False
    roles: frozenset[str] = frozenset()  # Discord role ids / Slack user group ids, when known
    platform_admin: bool = False  # a fact of the platform: Slack workspace admin, Discord Manage Server
    external: bool = False  # a fact of the platform: a guest, or someone from another organisation

    @property
    def display(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, kw_only=True)
class InboundMessage:
    """A message a platform delivered, as the core sees it."""

    id: str  # the platform's message id: the de-duplication key
    conversation: ConversationRef
    author: Author
    text: str  # bot mention already stripped
    addressed: bool  # explicitly addressed to the bot: a mention or a DM
    visibility: Visibility
    sent_at: datetime
    edited: bool = False
    edit_of: str | None = None  # for an edit: the id of the message as first sent
    edited_at: datetime | None = None  # for an edit: when it was made (a message's edits are ordered by it)
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


class ActionKind(StrEnum):
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    TALK_TO_HUMAN = "talk_to_human"
    CLAIM = "claim"
    RESOLVE = "resolve"
    RATE_GOOD = "rate_good"
    RATE_BAD = "rate_bad"
    SOLVED = "solved"  # the follow-up's "Solved": a confirmed resolution
    STILL_STUCK = "still_stuck"  # the follow-up's "Still stuck": hand it to people
    OPEN_INCIDENT = "open_incident"  # on a burst alert: staff declare a known issue
    POST_DRAFT = "post_draft"  # on a draft-mode staff card: publish the proposed answer (once)
    EDIT_DRAFT = "edit_draft"  # ... open a form to rewrite it (its submission carries `text`)
    DISCARD_DRAFT = "discard_draft"  # ... drop it: nothing is posted
    FORGET_ME_CONFIRM = "forget_me_confirm"  # `/support forget-me`: the person confirms (only they can)
    FORGET_ME_CANCEL = "forget_me_cancel"  # ... or changes their mind: nothing is deleted


@dataclass(frozen=True, kw_only=True)
class ActionEvent:
    """A button press or reaction, the same value whichever platform produced it."""

    id: str
    conversation: ConversationRef
    actor: Author
    action: ActionKind
    value: str  # what the button refers to: an answer id or a ticket id
    visibility: Visibility
    message_id: str | None = None  # the message the button sits on
    # what a person typed into a form the core asked for (`Channel.ask_text`): the submission
    # comes back as the action that asked, with this set; None for a plain press
    text: str | None = None
    # the language the presser's app is set to, when the platform says it (Discord's
    # interaction locale): a reply about no answer or ticket is in it
    locale: str | None = None


@dataclass(frozen=True, kw_only=True)
class Command:
    """A `/support` command someone ran, with its arguments as typed."""

    id: str
    name: str
    args: str  # everything after the command name, as typed
    invoker: Author
    conversation: ConversationRef
    visibility: Visibility
    # the platform's named arguments when it has them (Discord's slash-command options), read
    # as given: a value holding a space, or an optional one left out, cannot shift the others
    options: tuple[tuple[str, str], ...] | None = None
    # the language the invoker's app is set to, when the platform says it (Discord's
    # interaction locale): a command too short to show one is answered in it
    locale: str | None = None


class MentionKind(StrEnum):
    USER = "user"
    GROUP = "group"  # Slack user group
    ROLE = "role"  # Discord role


@dataclass(frozen=True, kw_only=True)
class Mention:
    """Someone the bot tags in a reply: a user, a Slack user group or a Discord role."""

    kind: MentionKind
    id: str


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, kw_only=True)
class Button:
    """A button under a reply; pressing it comes back as an ActionEvent."""

    action: ActionKind
    label: str
    value: str
    style: ButtonStyle = ButtonStyle.DEFAULT


@dataclass(frozen=True, kw_only=True)
class Citation:
    """A source an answer cites: a document of the knowledge folder, and where in it."""

    path: str  # relative to the knowledge folder
    title: str
    heading: str
    url: str | None = None


class AnswerFields(TypedDict):
    """What recording an answer takes (`AnswerStore.record_answer`, bot/store/answers.py
    `answer_statement`), named once for both."""

    ref: ConversationRef
    message_id: str | None
    asker_id: str | None
    question: str
    answer: str
    confidence: float
    language: str
    answerer: str
    abstained: bool
    sources: Iterable[Citation]
    top_path: str | None
    at: datetime
    tokens_in: NotRequired[int]
    tokens_out: NotRequired[int]
    neighbours: NotRequired[Sequence[str]]
    scores: NotRequired[Sequence[float]]


class ReplyKind(StrEnum):
    ANSWER = "answer"
    ABSTAIN = "abstain"
    ESCALATION = "escalation"
    TICKET = "ticket"  # a ticket's state shown to staff
    INFO = "info"
    ERROR = "error"
    THINKING = "thinking"


@dataclass(frozen=True, kw_only=True)
class Reply:
    """Something the core wants posted. Text is a small Markdown subset.

    `mentions` are the only pings allowed; adapters must neutralise every other mention
    in `text`, whoever wrote it.
    """

    conversation: ConversationRef
    text: str
    kind: ReplyKind = ReplyKind.INFO
    citations: tuple[Citation, ...] = ()
    mentions: tuple[Mention, ...] = ()
    buttons: tuple[Button, ...] = ()
    ephemeral_to: str | None = None  # a user id: only they see it
    in_reply_to: str | None = None  # the platform id of the message this answers
    refers_to: ConversationRef | None = None  # a conversation to link to (triage cards)
    links: tuple[ConversationRef, ...] = ()  # more conversations to link (a burst alert's threads)
    # channels to name (a burst alert's): each adapter links them its platform's way, where a
    # bare id in the text ("#C04Q2LRF8KY") is what staff would read
    channels: tuple[ConversationRef, ...] = ()
    language: str = "en"  # the asker's language: adapters label their own parts ("Sources") in it


@dataclass(frozen=True, kw_only=True)
class Posted:
    """Where a reply landed: its message id on the platform, in its conversation."""

    # the adapter's handle, opaque to the core: Slack's is "channel:ts"; a Discord reply shown in
    # several messages names them all (adapters/discord/post_ids.py)
    message_id: str
    conversation: ConversationRef  # with the thread the platform put it in


@dataclass(frozen=True, kw_only=True)
class Completion:
    """An answer that is up, as the store records it: the post that shows it, its text for the
    thread's history, and when its "Did this solve it?" is due (None: not scheduled)."""

    answer_id: int
    posted: Posted
    text: str
    at: datetime
    followup_due: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A chunk of a document that retrieval found for a question, with its score."""

    chunk_id: str
    path: str
    title: str
    heading: str  # heading path, " > "-joined
    text: str
    score: float
    url: str | None = None
    visibility: DocVisibility = DocVisibility.PUBLIC
    tags: tuple[str, ...] = ()
    reference: bool = False  # an API reference stub: cited, never quoted as prose

    def citation(self) -> Citation:
        return Citation(path=self.path, title=self.title, heading=self.heading, url=self.url)


@dataclass(frozen=True, kw_only=True)
class RetrievalHints:
    """What retrieval knows beyond the passages, for answerers that choose what to quote."""

    term_weights: Mapping[str, float] = field(default_factory=dict)  # corpus IDF of the question's words
    reranked: bool = False  # the order is by meaning (embeddings), not by the words alone


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    """What retrieval found for a question: the ranked passages and how sure it is."""

    passages: tuple[Passage, ...]
    confidence: float  # in [0, 1]: how sure retrieval is that the top passage answers
    hints: RetrievalHints = field(default_factory=RetrievalHints)


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One earlier message of a conversation, for answerers that use history."""

    role: str  # "user", "bot" or "staff"
    text: str


@dataclass(frozen=True, kw_only=True)
class Answer:
    """An answerer's reply to a question, with its sources, before anything is posted."""

    text: str
    citations: tuple[Citation, ...]
    confidence: float
    language: str
    answerer: str
    abstained: bool = False
    # the answerer read the passages and found the answer there (a model that cited them), so
    # retrieval's threshold does not decide; the quoting answerer has only retrieval's word
    judged: bool = False
    note: str | None = None  # e.g. "the model was unavailable; this is an extractive answer"
    # more than 0 exactly when a model was asked for it (bot/answering/llm.py estimates what the
    # endpoint does not report): only such answers end a failing run or count as the model's
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def from_model(self) -> bool:
        """A model was asked for this answer (not one answered without asking it)."""
        return self.tokens_in > 0


class TicketStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    CLOSED = "closed"


class SlaStage:
    """Where a ticket is on its service-level clock (tickets.sla_stage)."""

    WAITING_FOR_HOURS = -1  # opened while the team is out: the ping waits for opening time
    FIRST_RESPONSE = 0  # staff pinged; re-announce when the first-response target passes
    REANNOUNCED = 1  # re-announced; the second tier is next
    SECOND_TIER = 2  # nothing more to do automatically
    CLAIMED = 10  # remind the assignee if staff go quiet
    ASSIGNEE_REMINDED = 11


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A knowledge entry proposed from a resolved ticket, waiting for an admin."""

    id: int
    ticket_id: int
    title: str
    question: str
    answer: str
    visibility: DocVisibility
    status: str  # pending, approved, rejected
    path: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None  # the learning loop's last write of its answer, after a reopen
    edited_at: datetime | None = None  # a person's last save of its answer: the loop leaves it alone


class EscalationReason(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    ASKED_FOR_HUMAN = "asked_for_human"
    NOT_HELPFUL = "not_helpful"
    UNANSWERED_FOLLOWUPS = "unanswered_followups"
    ERROR = "error"
    ADMIN = "admin"


@dataclass(frozen=True, kw_only=True)
class Ticket:
    """A question handed to people: who asked, why, and where it stands."""

    id: int
    conversation: ConversationRef
    asker_id: str
    asker_name: str
    question: str
    reason: EscalationReason
    status: TicketStatus
    created_at: datetime
    updated_at: datetime
    assignee_id: str | None = None
    assignee_name: str | None = None
    answer_id: int | None = None
    language: str = "en"
    visibility: DocVisibility = DocVisibility.PUBLIC
    tags: tuple[str, ...] = ()
    sla_stage: int = 0
    next_action_at: datetime | None = None
    last_staff_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    note: str | None = None
    rating: str | None = None


class Outcome(StrEnum):
    """What became of one event the core was given."""

    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    RECORDED = "recorded"  # not answered, but kept in the conversation's history
    ANSWERED = "answered"
    ESCALATED = "escalated"
    REFUSED = "refused"  # told the person why not (too long, not allowed)
    FAILED = "failed"
