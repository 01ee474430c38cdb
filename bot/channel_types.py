"""Where a conversation happens and who may read it: the place half of the core's vocabulary.

This module owns the platform names, who can read a channel (`Visibility`, which decides the
documents retrieval may use there) and a document (`DocVisibility`), how the bot behaves in a
channel (`ChannelMode`), and what a direct message is on each platform (`is_direct`). Like bot/types.py,
which re-exports the two visibilities, it knows nothing of any SDK.
"""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    SLACK = "slack"
    DISCORD = "discord"
    CONSOLE = "console"


class Visibility(StrEnum):
    """Who can read a channel: decides which documents retrieval may use there."""

    PUBLIC = "public"  # a community channel: only public documents
    INTERNAL = "internal"  # a team channel: every document
    DIRECT = "direct"  # a direct message: as the platform's settings say


class DocVisibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class ChannelMode(StrEnum):
    AUTO_ANSWER = "auto-answer"  # answer every question, no mention needed
    MENTION_ONLY = "mention-only"  # answer when mentioned (and follow-ups in its threads)
    OFF = "off"  # never speak, never record
    # answer every question, but as a proposal on a staff card (Post, Edit, Discard); a direct
    # mention is still answered at once
    DRAFT = "draft"


DM_WORKSPACE = "dm"  # the workspace of a Discord direct message, which belongs to no server


def is_slack_im(channel: str) -> bool:
    """Whether a Slack channel id is a direct message's (an IM: its ids begin with D)."""
    return channel.startswith("D")


def is_direct(platform: str, workspace: str, channel: str) -> bool:
    """Whether a conversation is a direct message with the bot, which nobody of the team reads:
    on Discord one of no server (`DM_WORKSPACE`), on Slack an IM."""
    if platform == Platform.DISCORD:
        return workspace == DM_WORKSPACE
    return platform == Platform.SLACK and is_slack_im(channel)
