"""The overview's figures computed in the background from the moment the dashboard is served
(bot/dashboard/warm.py): a view finds them kept, "as of" the moment they were computed; a
change in the store has them computed again, within a budget of the time they take; and the
background work stops with the application."""

from __future__ import annotations

import asyncio

from adapters.console import ConsoleChannel
from bot.app import Runtime
from bot.dashboard.pages import PERIODS, TRENDS
from bot.dashboard.warm import BUDGET, MIN_GAP, WARM_EVERY, _Computed, due
from tests.bot.dashboard.served import start
from tests.bot.dashboard.test_dashboard import link_token, open_ticket, sign_in
from tests.bot.dashboard.test_tickets_page import ask_for_a_person
from tests.fakes.clock import FakeClock


async def test_the_overview_is_computed_before_anyone_asks(
    rt: Runtime, clock: FakeClock, channel: ConsoleChannel
) -> None:
    await open_ticket(rt, channel)
    clock.advance(minutes=5)
    computed_at = clock.now()
    client = await start(rt, clock, channel, warm=True)
    try:
        kept = client.server.app[TRENDS]
        wanted = {("slack", None, chosen) for chosen in PERIODS}
        async with asyncio.timeout(30):  # a bound for a stuck loop, not a speed assertion
            while not wanted <= set(kept._kept):
                await asyncio.sleep(0.01)
        assert ("discord", None, "7d") not in kept._kept  # only the platforms the bot serves
        clock.advance(minutes=1)  # the view comes later: it gets the figures kept, as of then
        assert await sign_in(client, link_token(rt, clock, "U-SAM")) == 302
        report = await (await client.get("/admin/api/overview?period=30d")).json()
        assert report["period"]["until"] == computed_at.isoformat()
        assert report["metrics"]["questions"] == 1 and report["metrics"]["escalations"] == 1

        # a new question: the figures are computed again in the background, no view waits
        await ask_for_a_person(rt, channel, "C-GEN", "U-A2", "e2")
        clock.advance(seconds=1)  # a period ends before now: the question lies inside it
        async with asyncio.timeout(30):
            while kept._kept[("slack", None, "1d")].value.report.metrics.questions != 2:
                await asyncio.sleep(0.01)
    finally:
        await client.close()  # stops the background loop: no task is left pending
    assert client.server.app[TRENDS]._running == {}


def test_a_change_is_computed_again_within_the_budget_and_everything_on_a_timer() -> None:
    never = None
    assert due(never, (1,), 0.0)  # nothing kept yet
    quick = _Computed(version=(1,), at=100.0, took=0.01)
    assert not due(quick, (1,), 100.0 + WARM_EVERY - 1)  # unchanged: only the timer
    assert due(quick, (1,), 100.0 + WARM_EVERY)
    assert not due(quick, (2,), 100.0 + MIN_GAP - 0.1)  # changed, but just computed
    assert due(quick, (2,), 100.0 + MIN_GAP)
    slow = _Computed(version=(1,), at=100.0, took=1.5)  # a month of a busy community
    assert not due(slow, (2,), 100.0 + BUDGET * 1.5 - 0.1)
    assert due(slow, (2,), 100.0 + BUDGET * 1.5)
