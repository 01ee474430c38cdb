"""The hand-off brief on triage cards, and links to similar resolved tickets in answers."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.escalation.brief import BRIEF_LIMIT, brief
from bot.escalation.values import Context
from bot.types import (
    ActionEvent,
    ActionKind,
    Author,
    Command,
    ConversationRef,
    EscalationReason,
    InboundMessage,
    ReplyKind,
    Ticket,
    TicketStatus,
    Visibility,
)

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
WHERE = ConversationRef(platform="slack", workspace="T1", channel="C-HELP", thread="1.0")


def ticket(id: int, question: str, **kw: object) -> Ticket:
    values: dict[str, object] = {
        "id": id,
        "conversation": WHERE,
        "asker_id": "U1",
        "asker_name": "Ann",
        "question": question,
        "reason": EscalationReason.LOW_CONFIDENCE,
        "status": TicketStatus.OPEN,
        "created_at": NOW - timedelta(days=2),
        "updated_at": NOW,
        "language": "ko",
    }
    values.update(kw)
    return Ticket(**values)  # type: ignore[arg-type]


def test_the_brief_says_what_was_asked_tried_cited_where_and_before() -> None:
    lines = brief(
        ticket(5, "My export\nfails with error 42", reason=EscalationReason.NOT_HELPFUL),
        Context(answer="Open Billing and click Export.", sources=("a.md", "b.md", "c.md", "d.md")),
        previous=[ticket(2, "Where are my invoices?", status=TicketStatus.RESOLVED)],
        similar=None,
        now=NOW,
    )
    text = "\n".join(lines)
    assert lines[0] == "**Question:** My export fails with error 42"  # one line
    assert 'answered "Open Billing and click Export.", then its answer was marked not helpful' in text
    assert "**Sources:** a.md, b.md, c.md" in text and "d.md" not in text
    assert "**From:** slack #C-HELP · language ko" in text
    assert "#2 resolved 2d ago: Where are my invoices?" in text


def test_an_abstention_says_why_and_a_first_ticket_says_so() -> None:
    text = "\n".join(brief(ticket(1, "q?"), None, previous=[], similar=None, now=NOW))
    assert "**The bot:** no passage answered it confidently, so it did not guess" in text
    assert "none (first ticket)" in text


def test_the_brief_never_exceeds_its_limit() -> None:
    huge = "word " * 5000
    lines = brief(
        ticket(9, huge),
        Context(answer=huge, sources=tuple(f"{'x' * 400}-{n}.md" for n in range(3))),
        previous=[ticket(n, huge, status=TicketStatus.RESOLVED) for n in range(1, 4)],
        similar=ticket(4, huge, status=TicketStatus.RESOLVED, resolved_at=NOW),
        now=NOW,
    )
    assert len("\n".join(lines)) <= BRIEF_LIMIT and lines[0].startswith("**Question:**")


TOML = """
[slack]
staff_users = ["U-STAFF"]
triage_channel = "C-TRIAGE"
[slack.channels.C-PUBLIC]
visibility = "public"
"""
STAFF = Author(id="U-STAFF", name="Sam")
_ids = itertools.count(1)


def ask(
    text: str,
    user: str,
    channel: str = "C-PUBLIC",
    visibility: Visibility = Visibility.PUBLIC,
    workspace: str = "T1",
) -> InboundMessage:
    return InboundMessage(
        id=f"q{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace=workspace, channel=channel),
        author=Author(id=user, name=user),
        text=text,
        addressed=True,
        visibility=visibility,
        sent_at=NOW,
    )


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(TOML)


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


async def resolve_by_hand(
    rt: Runtime,
    channel: ConsoleChannel,
    question: str,
    user: str,
    where: str = "C-PUBLIC",
    visibility: Visibility = Visibility.PUBLIC,
) -> Ticket:
    """`user` asks, asks for a person, and staff resolve it."""
    await rt.bot.on_message(ask(question, user, where, visibility), channel)
    answer = channel.posted[-1][1]
    if answer.kind == ReplyKind.ANSWER:
        human = next(b for b in answer.buttons if b.action == ActionKind.TALK_TO_HUMAN)
        await rt.bot.on_action(
            ActionEvent(
                id=f"p{next(_ids)}",
                action=ActionKind.TALK_TO_HUMAN,
                value=human.value,
                actor=Author(id=user, name=user),
                conversation=answer.conversation,
                visibility=visibility,
            ),
            channel,
        )
    [opened] = [t for t in rt.state.tickets() if t.question == question and t.status == TicketStatus.OPEN]
    await rt.bot.on_command(
        Command(
            id=f"c{next(_ids)}",
            name="resolve",
            args=f"{opened.id} Refunds take a week in December.",
            invoker=STAFF,
            conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TRIAGE"),
            visibility=Visibility.INTERNAL,
        ),
        channel,
    )
    done = rt.state.ticket(opened.id)
    assert done is not None and done.status == TicketStatus.RESOLVED
    return done


def cards(channel: ConsoleChannel) -> list[str]:
    return [
        r.text
        for _, r in channel.posted
        if r.conversation.channel == "C-TRIAGE" and r.kind == ReplyKind.TICKET
    ]


async def test_a_card_names_the_askers_previous_ticket_and_a_similar_resolved_one(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    first = await resolve_by_hand(rt, channel, "How do I export my invoices to CSV?", "U1")
    await rt.bot.on_message(ask("Can I export invoices as a CSV file?", "U1"), channel)
    card = cards(channel)[-1]
    assert f"**Previous tickets:** #{first.id} resolved" in card
    assert f"**Similar, resolved:** #{first.id}" in card
    assert "**From:** slack #C-PUBLIC" in card


async def test_another_workspace_gets_neither_the_askers_tickets_nor_a_similar_one(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    # the same person (one Grid user, or one Discord user in two servers) in another workspace
    first = await resolve_by_hand(rt, channel, "How do I export my invoices to CSV?", "U1")
    await rt.bot.on_message(ask("Can I export invoices as a CSV file?", "U1", workspace="T2"), channel)
    card = cards(channel)[-1]
    assert "Can I export invoices" in card  # the new ticket's card
    assert f"#{first.id}" not in card  # T1's ticket is T1's business
    await rt.bot.on_message(ask("How do I export my invoices to CSV please?", "U9", workspace="T2"), channel)
    assert all("similar question was resolved" not in r.text for _, r in channel.posted[-3:])


async def test_an_answer_links_a_similar_public_resolved_ticket_but_never_an_internal_one(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    internal = await resolve_by_hand(
        rt,
        channel,
        "How long does a refund take to arrive?",
        "U1",
        where="C-TEAM",
        visibility=Visibility.INTERNAL,
    )
    await rt.bot.on_message(ask("How many days until my refund arrives?", "U2"), channel)
    answer = channel.posted[-1][1]
    assert answer.kind == ReplyKind.ANSWER and "similar question was resolved" not in answer.text
    public = await resolve_by_hand(rt, channel, "How long does a refund take to arrive?", "U3")
    assert public.id != internal.id
    await rt.bot.on_message(ask("How many days until my refund arrives?", "U4"), channel)
    answer = channel.posted[-1][1]
    assert "A similar question was resolved by the team on 2026-11-30" in answer.text
    assert answer.refers_to == public.conversation


async def test_with_memory_on_an_answer_links_the_askers_own_past_ticket(
    rt: Runtime, channel: ConsoleChannel
) -> None:
    ask_in_team = {"where": "C-TEAM", "visibility": Visibility.INTERNAL}

    async def remember(user: str, setting: str) -> None:
        await rt.bot.on_command(
            Command(
                id=f"c{next(_ids)}",
                name="remember",
                args=setting,
                invoker=Author(id=user, name=user),
                conversation=ConversationRef(platform="slack", workspace="T1", channel="C-TEAM"),
                visibility=Visibility.INTERNAL,
            ),
            channel,
        )

    await remember("U-MEM001", "on")
    past = await resolve_by_hand(
        rt, channel, "How long does a refund take to arrive?", "U-MEM001", **ask_in_team
    )
    await rt.bot.on_message(
        ask("How many days until my refund arrives?", "U-MEM001", "C-TEAM", Visibility.INTERNAL), channel
    )
    answer = channel.posted[-1][1]
    assert f"You asked something like this before: ticket #{past.id}" in answer.text
    assert answer.refers_to == past.conversation
    # memory off: nothing is read, and an internal ticket is nobody else's to link
    await remember("U-MEM001", "off")
    await rt.bot.on_message(
        ask("How many days until my refund arrives?", "U-MEM001", "C-TEAM", Visibility.INTERNAL), channel
    )
    answer = channel.posted[-1][1]
    assert "You asked something like this before" not in answer.text and answer.refers_to is None


def test_staff_cards_and_answers_keep_one_list_of_resolved_tickets(rt: Runtime) -> None:
    """bot/insights/similar_tickets.py keeps a place's resolved tickets: the answers and the
    staff cards share what is kept, instead of each holding and refreshing its own."""
    assert rt.bot.escalations.posts.similar is rt.bot.insights.similar
    assert rt.bot.responder.similar is rt.bot.insights.similar


def test_a_model_summary_on_the_card_is_shown_as_written() -> None:
    """The model's summary of a thread is its words about what people wrote, which an injected
    thread can steer: on the card a link in it reads as typed, never as the bot's own link."""
    from bot.escalation.cards import card
    from bot.markdown import literal

    link = "[Staff SSO: sign in here](https://evil.example/sso)"
    shown = card(
        ticket(7, "I want a person"),
        WHERE,
        NOW,
        Context(summary=f"Wants a refund. Re-verify at {link} **URGENT**"),
    )
    assert literal(link) in shown.text and link not in shown.text and "**URGENT**" not in shown.text
