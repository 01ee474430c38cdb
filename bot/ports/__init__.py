"""The interfaces the core depends on. Adapters, answerers and the state store implement them.

They are narrow on purpose: the core can post, edit and open a thread, and nothing else
of a platform; rendering (Block Kit, embeds, mention escaping, splitting long text) is
the adapter's job. They live by boundary in this package's modules (platform, answering,
and the state store's concerns, one Protocol each); import them from here.
"""

from bot.ports.answering import Answerer, Embedder, StreamSink, Summarizer
from bot.ports.platform import (
    FORM_ACTIONS,
    Adapter,
    Channel,
    Clock,
    Core,
    FindsPosts,
    FindsReplies,
    KnowsOpenChannels,
    Lease,
    MessageHandler,
    PostChanged,
    SharesHttp,
    TextInput,
)
from bot.ports.store import Store
from bot.ports.store_events import AnswerStore, ConversationStore, InboxStore
from bot.ports.store_team import (
    DashboardStore,
    FollowupStore,
    GapStore,
    IncidentStore,
    JobStore,
    MetricsStore,
    PeopleStore,
    RetentionStore,
    RevisionStore,
    SlackInstallStore,
    WorkerStore,
)
from bot.ports.store_tickets import DraftStore, ReplyDraftStore, TicketStore

__all__ = [
    "FORM_ACTIONS",
    "Adapter",
    "AnswerStore",
    "Answerer",
    "Channel",
    "Clock",
    "ConversationStore",
    "Core",
    "DashboardStore",
    "DraftStore",
    "Embedder",
    "FindsPosts",
    "FindsReplies",
    "FollowupStore",
    "GapStore",
    "InboxStore",
    "IncidentStore",
    "JobStore",
    "KnowsOpenChannels",
    "Lease",
    "MessageHandler",
    "MetricsStore",
    "PeopleStore",
    "PostChanged",
    "ReplyDraftStore",
    "RetentionStore",
    "RevisionStore",
    "SharesHttp",
    "SlackInstallStore",
    "Store",
    "StreamSink",
    "Summarizer",
    "TextInput",
    "TicketStore",
    "WorkerStore",
]
