"""discord.py's sweep of idle rate-limit buckets, paced (adapters/discord/bucket_sweep.py).

These drive discord.py's own `HTTPClient` buckets: `get_ratelimit` creates one per key, as a
request to a new thread does, and the sweep it triggers is discord.py's."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord.http
import pytest

from adapters.discord.bucket_sweep import SWEEP_EVERY_S, pace_bucket_sweeps
from adapters.discord.support_client import SupportClient

IDLE_S = 300.0  # discord.py's Ratelimit.is_inactive


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _fill(http: discord.http.HTTPClient, count: int, prefix: str) -> None:
    for n in range(count):
        http.get_ratelimit(f"POST /channels/{{channel_id}}/messages:{prefix}{n}")


def _age_all(http: discord.http.HTTPClient) -> None:
    """Every bucket there is has had no request for longer than discord.py keeps one."""
    for bucket in http._buckets.values():
        bucket._last_request -= IDLE_S + 1


async def test_discord_py_alone_walks_every_bucket_for_each_new_one() -> None:
    """What the pacing is for: past 256 buckets, each new one sweeps at once."""
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    _fill(http, 300, "a")
    _age_all(http)
    _fill(http, 1, "b")
    assert len(http._buckets) == 1


async def test_new_buckets_sweep_at_most_once_a_minute_and_idle_ones_still_go() -> None:
    clock = Clock()
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    assert pace_bucket_sweeps(http, clock=clock)
    _fill(http, 300, "a")  # the first bucket swept (nothing to drop); the rest waited
    _age_all(http)

    clock.now += SWEEP_EVERY_S - 1
    _fill(http, 5, "b")
    assert len(http._buckets) == 305, "swept within the minute"

    clock.now += 1
    _fill(http, 1, "c")
    assert len(http._buckets) == 6, "the idle buckets outlived the minute"
    _fill(http, 1, "d")
    assert len(http._buckets) == 7


async def test_active_buckets_are_kept_whatever_the_pace() -> None:
    clock = Clock()
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    pace_bucket_sweeps(http, clock=clock)
    _fill(http, 300, "a")
    clock.now += SWEEP_EVERY_S
    _fill(http, 1, "b")
    assert len(http._buckets) == 301


async def test_the_support_client_paces_its_own_http_client_only() -> None:
    # the adapter is only stored, and handed what the client kept when it closes
    client = SupportClient(adapter=SimpleNamespace(left_over=[]))  # type: ignore[arg-type]
    other = discord.http.HTTPClient(asyncio.get_running_loop())
    for http in (client.http, other):
        _fill(http, 300, "a")
        _age_all(http)
        _fill(http, 1, "b")
    assert len(client.http._buckets) == 301, "the client's sweep ran on a new bucket within the minute"
    assert len(other._buckets) == 1, "pacing leaked to another HTTPClient"
    await client.close()


def test_a_discord_py_without_the_sweep_runs_unpaced_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    assert not pace_bucket_sweeps(object())
    assert "rate-limit buckets are swept as discord.py does" in caplog.text
