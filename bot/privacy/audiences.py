"""Audiences: which of `[audiences.NAME]` a person belongs to, and what that withholds.

A document that names audiences (bot/retrieval/audience.py) is retrieved only for members
of one of them; retrieval filters before ranking, so a non-member's answer, sources and
prompt never hold it. Membership is decided here, from facts the adapter reports on the
`Author`, never by the adapter itself:

- Slack: `slack_users` by user id, `slack_groups` by the user groups the adapter looked up
  (adapters/slack/directory.py asks usergroups.users.list for every group settings name,
  audiences' included, and caches the answer for minutes; a failed lookup means no groups).
- Discord: `discord_users` by user id, `discord_roles` by the member's roles, which come
  with each guild message and interaction (a DM carries no roles: only `discord_users` count).
- Nobody the platform marks as external (a guest, someone of another organisation through
  Slack Connect, or a person whose profile could not be read) is ever a member.
- The console is the owner's terminal: every audience.

What the model reads besides the documents is the thread's history. The bot's answers to
someone else in the thread may rest on documents this asker may not see, so for an asker
outside some audience the history keeps only the bot's answers to them (StateStore.history
with `answers_to`): people's own messages stay, which are theirs to show.
"""

from __future__ import annotations

from bot.channel_types import Platform
from bot.config import Settings
from bot.types import Author


def member_audiences(author: Author, platform: str, settings: Settings) -> frozenset[str]:
    """The audiences `author` belongs to on `platform`; empty for outsiders and bots."""
    if not settings.audiences:
        return frozenset()
    if platform == Platform.CONSOLE:
        return frozenset(settings.audiences)
    if author.external or author.is_bot:
        return frozenset()
    found: set[str] = set()
    for name, members in settings.audiences.items():
        if platform == Platform.SLACK:
            users, groups = members.slack_users, members.slack_groups
        elif platform == Platform.DISCORD:
            users, groups = members.discord_users, members.discord_roles
        else:
            continue
        if author.id in users or not author.roles.isdisjoint(groups):
            found.add(name)
    return frozenset(found)


def withholds(settings: Settings, audiences: frozenset[str]) -> bool:
    """Whether some configured audience's documents are withheld from a person in `audiences`.
    (A document naming an audience nobody configured is withheld from everyone, and retrieval
    alone keeps it out: no history of an answer ever held it.)"""
    return not audiences.issuperset(settings.audiences)
