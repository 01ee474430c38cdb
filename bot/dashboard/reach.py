"""Where a signed-in person may look: per platform, the workspaces whose tickets they see.

Rights are per workspace, as in the chat: `[slack.workspaces.T...]` and
`[discord.workspaces."..."]` may name their own staff and admins, and elsewhere the
platform's shared settings decide. So a person is shown a workspace's tickets, and may act
on them, exactly when the chat would let them use `/support` there. The groups, roles and
admin flag a sign-in read count only in the workspace they were read in (`Session.author_in`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot import policy
from bot.config import Settings
from bot.dashboard.auth import Rights, Session, own_workspaces, rights_of
from bot.dashboard.context import DASHBOARD, SESSION
from bot.insights.metrics import Scope
from bot.store.queue import Reach
from bot.types import ConversationRef, Platform

PLATFORMS = (Platform.SLACK, Platform.DISCORD)


def rights_in(request: web.Request, conversation: ConversationRef) -> Rights:
    """The signed-in person's rights where `conversation` is."""
    session = request[SESSION]
    author = session.author_in(conversation.platform, conversation.workspace)
    return rights_of(request.app[DASHBOARD].settings, author, conversation.platform, conversation.workspace)


def reach_of(request: web.Request, at_least: Rights = Rights.STAFF) -> tuple[Reach, ...]:
    """Per platform, the workspaces the signed-in person has at least `at_least` rights in
    (kept on the request: pages ask more than once)."""
    kept = request.get(_REACH)
    if kept is None:
        kept = request[_REACH] = {}
    found = kept.get(at_least)
    if found is None:
        found = kept[at_least] = reach(request.app[DASHBOARD].settings, request[SESSION], at_least)
    return found


def reach(settings: Settings, session: Session, at_least: Rights = Rights.STAFF) -> tuple[Reach, ...]:
    out: list[Reach] = []
    for platform in PLATFORMS:
        if policy.platform_settings(settings, platform) is None:
            continue
        own = own_workspaces(settings, session, platform)
        allowed = {
            w
            for w in own
            if rights_of(settings, session.author_in(platform, w), platform, w).rank >= at_least.rank
        }
        if rights_of(settings, session.author_in(platform, None), platform).rank >= at_least.rank:
            out.append(Reach(platform=platform, excluded=frozenset(own - allowed)))
        elif allowed:
            out.append(Reach(platform=platform, only=frozenset(allowed)))
    return tuple(out)


@dataclass(frozen=True)
class Figures:
    """Whose figures the overview shows the person: `scope`, and whether the questions' own
    words (top questions, gaps) may be shown with them."""

    scope: Scope
    texts: bool


def overview_figures(request: web.Request) -> Figures:
    """The whole platform's figures when the person sees every workspace of it; otherwise
    those of the workspace they signed in to (or their only one), and when no one workspace
    says it (rights everywhere but somewhere), the platform's counts without any question."""
    session: Session = request[SESSION]
    platform = session.platform
    mine = next((r for r in reach_of(request) if r.platform == platform), None)
    if mine is not None and mine.only is None and not mine.excluded:
        return Figures(Scope(platform=platform), texts=True)
    allowed = sorted(mine.only) if mine is not None and mine.only is not None else []
    if mine is not None and session.team and mine.covers(platform, session.team):
        return Figures(Scope(platform=platform, workspace=session.team), texts=True)
    if len(allowed) == 1:
        return Figures(Scope(platform=platform, workspace=allowed[0]), texts=True)
    return Figures(Scope(platform=platform), texts=False)


def visible_platforms(request: web.Request) -> list[str]:
    """The platforms with at least one workspace the person may see."""
    return [r.platform for r in reach_of(request)]


def can_see(request: web.Request, conversation: ConversationRef) -> bool:
    return any(r.covers(conversation.platform, conversation.workspace) for r in reach_of(request))


_REACH = web.RequestKey("reach", dict)
