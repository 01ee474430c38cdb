"""The settings of the personal but private assistant: `[privacy]` (redaction, retention,
memory limits), `[audiences.NAME]` (who may see which documents) and `[journey]` (the
welcome). Documented in knowledge/configuration.md and knowledge/privacy.md; validated
here, read by bot/privacy/."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from bot.config_rules import Bounds, Section


class RedactKind(StrEnum):
    """What is replaced by a typed placeholder before storage and before any model call."""

    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"  # payment card numbers that pass the Luhn check
    TOKEN = "token"  # API keys and tokens (the patterns of bot/answering/secrets.py)
    IBAN = "iban"


@dataclass(frozen=True, kw_only=True)
class PrivacySettings(Section):
    redact: tuple[RedactKind, ...] = (RedactKind.CARD, RedactKind.TOKEN)
    retention_days: Annotated[int, Bounds(ge=0)] = 90  # message text older than this is purged; 0: kept
    memory_facts: Annotated[int, Bounds(ge=1, le=100)] = 12  # facts kept per person who opted in
    memory_chars: Annotated[int, Bounds(ge=100, le=10000)] = 1500  # and their total size


@dataclass(frozen=True, kw_only=True)
class AudienceSettings(Section):
    """The members of one audience, per platform. Slack Connect users of another
    organisation are never members, whatever these lists say."""

    slack_groups: tuple[str, ...] = ()
    slack_users: tuple[str, ...] = ()
    discord_roles: tuple[str, ...] = ()
    discord_users: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JourneySettings(Section):
    welcome: bool = False  # greet a member's first question (once per person, never in DMs)
    welcome_docs: tuple[str, ...] = ("getting-started.md",)  # linked in the welcome
