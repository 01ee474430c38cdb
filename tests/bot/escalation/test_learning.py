"""The learning loop (bot/escalation/learning.py). A draft holds what staff wrote to its own
asker, once: not what they wrote to others in a channel without threads, nor what an
earlier draft of the ticket already took, nor over an admin's edit. An approved draft becomes
a Markdown file of its own, even when approvals run at once in several workers sharing one
knowledge folder: no approval ever writes into a file it did not create, so none loses
another's page or deletes it."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.escalation.learning import write_entry
from bot.store import StateStore
from bot.types import Author, DocVisibility, Draft, Outcome
from tests.bot.privacy.test_forget import NoThreads
from tests.bot.test_escalation import ADMIN, CONFIG, STAFF, command, msg, open_ticket, texts
from tests.fakes.clock import FakeClock

TODAY = date(2026, 12, 7)
TITLE = "How do I reset 2FA?"
FIRST = "learned/2026-12-07-how-do-i-reset-2fa.md"


def _draft(number: int) -> Draft:
    return Draft(
        id=number,
        ticket_id=100 + number,
        title=TITLE,
        question=f"question {number}",
        answer=f"answer of draft {number}",
        visibility=DocVisibility.PUBLIC,
        status="pending",
    )


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Threads switch as often as the interpreter can, so approvals really overlap."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_a_name_taken_by_a_link_is_not_written_through(tmp_path: Path) -> None:
    """A link left under the name (to nowhere yet) is a name taken, not a way to write elsewhere."""
    folder = tmp_path / "kb"
    (folder / "learned").mkdir(parents=True)
    (folder / FIRST).symlink_to(tmp_path / "elsewhere.md")
    assert write_entry(folder, _draft(1), TODAY) == FIRST.replace(".md", "-2.md")
    assert not (tmp_path / "elsewhere.md").exists()


def _approve_at_once(folder: Path, drafts: int) -> list[str]:
    """The paths `drafts` same-titled approvals, started together on threads, wrote to."""
    start = threading.Barrier(drafts)
    paths: list[str] = []

    def approve(number: int) -> None:
        start.wait()
        paths.append(write_entry(folder, _draft(number), TODAY))

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(drafts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return paths


@pytest.mark.usefixtures("eager_switching")
def test_approvals_at_the_same_moment_never_share_a_file(tmp_path: Path) -> None:
    """Each round, four approvals of same-titled drafts start together (threads here; workers
    are processes, which race the same way on the folder they share)."""
    shared = 0
    for round_ in range(100):
        folder = tmp_path / f"kb{round_}"
        paths = _approve_at_once(folder, 4)
        texts = [(folder / path).read_text(encoding="utf-8") for path in set(paths)]
        if len(set(paths)) < 4 or any(text.count("answer of draft") != 1 for text in texts):
            shared += 1
    assert shared == 0, f"in {shared} of 100 rounds two approvals wrote the same file"


@pytest.fixture
def channel() -> ConsoleChannel:
    return ConsoleChannel(io.StringIO())


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(CONFIG)


@dataclass(frozen=True)
class Thread:
    """One ticket's thread, each message a minute after the one before, as people write."""

    rt: Runtime
    channel: ConsoleChannel
    clock: FakeClock
    ticket_id: int
    thread: str

    async def say(self, text: str, author: Author | None = None) -> None:
        self.clock.advance(minutes=1)
        said = msg(text, thread=self.thread, addressed=False, **({"author": author} if author else {}))
        await self.rt.bot.on_message(replace(said, sent_at=self.clock.now()), self.channel)

    async def resolve(self) -> str:
        self.clock.advance(minutes=1)
        await self.rt.bot.on_command(command("resolve", str(self.ticket_id), STAFF), self.channel)
        return texts(self.channel)[-1]


async def thread_of(rt: Runtime, channel: ConsoleChannel, clock: FakeClock) -> Thread:
    ticket_id, ref = await open_ticket(rt, channel)
    assert ref.thread is not None
    return Thread(rt, channel, clock, ticket_id, ref.thread)


async def test_a_draft_in_a_channel_without_threads_holds_only_its_own_askers_exchange(
    make_runtime: Callable[..., Runtime], clock: FakeClock
) -> None:
    """Where threads cannot be made, one channel-level conversation holds every asker's
    questions (NoThreads). Resolving Ann's ticket used to make a draft of every staff message
    in the channel since she asked: staff's words to Bob about Bob's account, public knowledge
    once approved. Nothing there says whose question a staff message answers: the draft is
    what staff wrote on Ann's ticket itself, the note they resolved it with."""
    rt = make_runtime(CONFIG + '[slack.channels.C-FLAT]\nmode = "auto-answer"\n')
    flat = NoThreads(io.StringIO())
    ann = msg("I want to talk to a human please", channel="C-FLAT")
    assert await rt.bot.on_message(ann, flat) == Outcome.ESCALATED
    bob = Author(id="U-BOB", name="Bob")
    clock.advance(minutes=1)
    asked = msg("I need a human, my invoices are wrong", author=bob, channel="C-FLAT")
    assert await rt.bot.on_message(replace(asked, sent_at=clock.now()), flat) == Outcome.ESCALATED
    ann_ticket = min(rt.state.tickets(), key=lambda t: t.id)
    clock.advance(minutes=1)
    to_bob = msg(
        "Bob, I refunded invoice 7731 to the Visa ending 4242 on your account.",
        author=STAFF,
        channel="C-FLAT",
        addressed=False,
    )
    await rt.bot.on_message(replace(to_bob, sent_at=clock.now()), flat)
    clock.advance(minutes=1)
    note = "Passwords are reset from Settings > Security."
    await rt.bot.on_command(command("resolve", f"{ann_ticket.id} {note}", STAFF), flat)
    [draft] = rt.state.drafts("pending")
    assert (draft.ticket_id, draft.answer) == (ann_ticket.id, note)


async def test_a_second_draft_after_an_approved_refreshed_one_does_not_repeat_its_answer(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """A draft refreshed after a reopen (step A, then step B) and approved: the next
    resolution's draft was made of the staff replies since the first draft was created, so it
    repeated step B, already approved and published. It holds what came after the refresh."""
    thread = await thread_of(rt, channel, clock)
    await thread.say("Step A: clear the cache.", STAFF)
    await thread.resolve()
    await thread.say("That did not fix it")
    await thread.say("Step B: rotate the SSO certificate.", STAFF)
    await thread.resolve()
    [draft] = rt.state.drafts("pending")
    assert "Step A" in draft.answer and "Step B" in draft.answer
    await rt.bot.on_command(command("learn", f"approve {draft.id}", ADMIN), channel)
    assert "approved" in texts(channel)[-1]
    await thread.say("It broke once more")
    await thread.say("Step C: update the IdP metadata.", STAFF)
    await thread.resolve()
    [second] = rt.state.drafts("pending")
    assert second.answer == "Step C: update the IdP metadata."
    # brought up to date after one more reopen, it still starts where the approved one ended
    await thread.say("Still broken")
    await thread.say("Step D: restart the sync job.", STAFF)
    await thread.resolve()
    assert [d.answer for d in rt.state.drafts("pending")] == [
        "Step C: update the IdP metadata.\n\nStep D: restart the sync job."
    ]


async def test_a_reopen_after_an_admins_edit_keeps_the_edit(
    rt: Runtime, channel: ConsoleChannel, clock: FakeClock
) -> None:
    """An admin rewrote a pending draft (the dashboard's editor); the ticket was reopened and
    resolved again, and the draft was rewritten with the thread's raw replies. The edit stays,
    and whoever resolves is told why what they wrote since is not in it."""
    thread = await thread_of(rt, channel, clock)
    await thread.say("billing > invoices > export", STAFF)
    await thread.resolve()
    [draft] = rt.state.drafts("pending")
    edited = "Open **Billing**, choose *Invoices* and press **Export CSV**."
    assert await rt.store.run(StateStore.edit_draft, draft.id, draft.title, edited, clock.now())
    await thread.say("Where is the button?")
    await thread.say("top right, next to the filters", STAFF)
    said = await thread.resolve()
    assert f"Knowledge draft #{draft.id} was edited by hand, so it is left as it was saved" in said
    assert [d.answer for d in rt.state.drafts("pending")] == [edited]
