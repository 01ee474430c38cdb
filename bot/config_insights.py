"""The settings of proactive support: `[insights]` (metrics, digest, bursts, gaps) and
`[followup]` (asking once whether an answer solved it). Documented in knowledge/insights.md
and knowledge/configuration.md; validated here, read by bot/insights/."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, field_validator

from bot.config_platforms import _Section


class InsightsSettings(_Section):
    """Metrics, the weekly digest, bursts and knowledge gaps (knowledge/insights.md)."""

    # an answer nobody followed up, escalated or rated "not helpful" within this long is an
    # assumed resolution; younger answers are still pending and counted as neither
    assume_after_hours: float = Field(default=24.0, gt=0)
    digest_channel: str = ""  # "C0123..." (Slack), "1234..." (Discord) or "platform:channel"; empty: off
    digest_weekday: str = "mon"
    digest_hour: int = Field(default=9, ge=0, le=23)  # in [escalation] timezone
    burst_window_minutes: int = Field(default=30, ge=1)
    burst_min_askers: int = Field(default=5, ge=2)
    burst_cooldown_minutes: int = Field(default=120, ge=0)
    gap_reopen_asks: int = Field(default=3, ge=1)  # a dismissed gap shows again after this many new asks

    @field_validator("digest_weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        from bot.hours import DAYS

        if value.lower()[:3] not in DAYS or len(value) < 3:
            raise ValueError(f"use a day name like mon, tue, ... sun (got {value!r})")
        return value.lower()[:3]

    @field_validator("digest_channel")
    @classmethod
    def _digest_channel(cls, value: str) -> str:
        value = value.strip()
        if value and not digest_target(value):
            raise ValueError(
                'must be a Slack channel id ("C0123ABCD"), a Discord channel id ("123456789012345678"), '
                '"platform:channel" or "platform:workspace:channel"'
            )
        return value


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


class FollowupSettings(_Section):
    # hours after an answer with no reply, rating or ticket before the asker is asked once
    # "Did this solve it?"; 0 turns it off; fractions allowed (0.01 h = 36 s, for a trial)
    after_hours: float = Field(default=24.0, ge=0)
