"""The settings of proactive support: `[insights]` (metrics, digest, bursts, gaps) and
`[followup]` (asking once whether an answer solved it). Documented in knowledge/insights.md
and knowledge/configuration.md; validated here, read by bot/insights/."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from bot.config_escalation import MAX_WAIT_MINUTES
from bot.config_rules import Bounds, Check, Section


def _weekday(value: str) -> str:
    from bot.hours import DAYS

    if value.lower()[:3] not in DAYS or len(value) < 3:
        raise ValueError(f"use a day name like mon, tue, ... sun (got {value!r})")
    return value.lower()[:3]


def _digest_channel(value: str) -> str:
    value = value.strip()
    if value and not digest_target(value):
        raise ValueError(
            'must be a Slack channel id ("C0123ABCD"), a Discord channel id ("123456789012345678"), '
            '"platform:channel" or "platform:workspace:channel"'
        )
    return value


@dataclass(frozen=True, kw_only=True)
class InsightsSettings(Section):
    """Metrics, the weekly digest, bursts and knowledge gaps (knowledge/insights.md)."""

    # an answer nobody followed up, escalated or rated "not helpful" within this long is an
    # assumed resolution; younger answers are still pending and counted as neither
    assume_after_hours: Annotated[float, Bounds(gt=0, le=MAX_WAIT_MINUTES / 60)] = 24.0
    digest_channel: Annotated[str, Check(_digest_channel)] = (
        ""  # "C0123..." (Slack), "1234..." (Discord) or "platform:channel"; empty: off
    )
    digest_weekday: Annotated[str, Check(_weekday)] = "mon"
    digest_hour: Annotated[int, Bounds(ge=0, le=23)] = 9  # in [escalation] timezone
    # at most the longest wait escalation allows: "never again" written as 9999999999 overflowed
    # the clock's `now - window`, which failed every tick, and no burst was ever told
    burst_window_minutes: Annotated[int, Bounds(ge=1, le=MAX_WAIT_MINUTES)] = 30
    burst_min_askers: Annotated[int, Bounds(ge=2)] = 5
    burst_cooldown_minutes: Annotated[int, Bounds(ge=0, le=MAX_WAIT_MINUTES)] = 120
    gap_reopen_asks: Annotated[int, Bounds(ge=1)] = 3  # a dismissed gap shows again after this many new asks


@dataclass(frozen=True)
class DigestTarget:
    platform: str
    channel: str
    # with several workspaces installed: the one the channel is in, whose figures the digest
    # gives and whose token posts it; None: the whole platform's, posted as a single install
    workspace: str | None = None


def digest_target(value: str) -> DigestTarget | None:
    """Where `[insights] digest_channel` points. Slack channel ids are upper-case letters and
    digits starting C or G, Discord's are numeric snowflakes, so a bare id names its platform;
    anything else is written "platform:channel" or "platform:workspace:channel"."""
    value = value.strip()
    if ":" in value:
        parts = value.split(":")
        if parts[0] not in ("slack", "discord", "console") or len(parts) > 3 or not all(parts):
            return None
        return DigestTarget(parts[0], parts[-1], parts[1] if len(parts) == 3 else None)
    if value.isdigit():
        return DigestTarget("discord", value)
    if value[:1] in ("C", "G") and value.isalnum() and value.isupper():
        return DigestTarget("slack", value)
    return None


@dataclass(frozen=True, kw_only=True)
class FollowupSettings(Section):
    # hours after an answer with no reply, rating or ticket before the asker is asked once
    # "Did this solve it?"; 0 turns it off; fractions allowed (0.01 h = 36 s, for a trial)
    after_hours: Annotated[float, Bounds(ge=0, le=MAX_WAIT_MINUTES / 60)] = 24.0
