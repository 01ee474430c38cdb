"""Where a signed-in person may look: per platform, the workspaces whose tickets they see.

Rights are per workspace, as in the chat: `[slack.workspaces.T...]` and
`[discord.workspaces."..."]` may name their own staff and admins, and elsewhere the
platform's shared settings decide. So a person is shown a workspace's tickets, and may act
on them, exactly when the chat would let them use `/support` there. The groups, roles and
admin flag a sign-in read count only in the workspace they were read in (`Session.author_in`).
"""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from bot import policy
from bot.channel_types import DM_WORKSPACE, Platform
from bot.config import Settings
from bot.dashboard.auth import Rights, Session, own_workspaces, rights_of
from bot.dashboard.context import DASHBOARD, SESSION
from bot.insights.metrics import Scope
from bot.store.queue import Reach
from bot.types import ConversationRef

PLATFORMS = (Platform.SLACK, Platform.DISCORD)


def rights_in(request: web.Request, conversation: ConversationRef) -> Rights:
    """The signed-in person's rights over what is in `conversation`: where they act on it
    from (`acting_from`)."""
    place = acting_from(request, conversation)
    return _rights_at(request.app[DASHBOARD].settings, request[SESSION], place.platform, place.workspace)


def acting_from(request: web.Request, conversation: ConversationRef) -> ConversationRef:
    """Where the signed-in person acts on what is in `conversation` from, as the chat has it:
    its own workspace; for a direct message's (on Discord it belongs to no server, and staff
    act on it from any: `policy.listed_from`), the workspace of theirs where they have the most
    rights, the direct messages' own (the shared settings) when none has more."""
    if conversation.workspace != DM_WORKSPACE:
        return conversation
    settings, session, platform = request.app[DASHBOARD].settings, request[SESSION], conversation.platform
    # the one they signed in to first: on a tie, it is where they are
    theirs = sorted(own_workspaces(settings, session, platform), key=lambda w: (w != session.team, w))
    places = [DM_WORKSPACE, *theirs]
    best = max(places, key=lambda w: _rights_at(settings, session, platform, w).rank)  # the first on a tie
    return replace(conversation, workspace=best)


def _rights_at(settings: Settings, session: Session, platform: str, workspace: str | None) -> Rights:
    return rights_of(settings, session.author_in(platform, workspace), platform, workspace)


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
        allowed = {w for w in own if _rights_at(settings, session, platform, w).rank >= at_least.rank}
        if _rights_at(settings, session, platform, None).rank >= at_least.rank:
            out.append(Reach(platform=platform, excluded=frozenset(own - allowed)))
        elif allowed:
            # and the direct messages', which staff act on from any workspace (`acting_from`)
            out.append(Reach(platform=platform, only=frozenset(allowed | {DM_WORKSPACE})))
    return tuple(out)


def overview_scope(request: web.Request) -> Scope | None:
    """Whose figures the overview shows the person: the whole platform's when they see every
    workspace of it; otherwise the workspace they signed in to, or the first of the ones they
    have rights in. None when no workspace can be named (rights everywhere but somewhere, and
    a sign-in link, which knows no workspace): a figure of the whole platform would count the
    workspaces they may not see."""
    session: Session = request[SESSION]
    platform = session.platform
    mine = next((r for r in reach_of(request) if r.platform == platform), None)
    if mine is None:
        return None
    if mine.only is None and not mine.excluded:
        return Scope(platform=platform)
    if session.team and mine.covers(platform, session.team):
        return Scope(platform=platform, workspace=session.team)
    if mine.only:  # a workspace of theirs, not the direct messages every reach of `only` holds
        return Scope(platform=platform, workspace=min(mine.only, key=lambda w: (w == DM_WORKSPACE, w)))
    return None


def full_admin(request: web.Request, platform: str) -> bool:
    """An admin of every workspace of `platform`: what the whole configuration and the audit
    log are for. Under the shared settings; or, where the bot serves one workspace of that
    platform, of that one (a Slack workspace admin signing in to the bot's only workspace)."""
    mine = next((r for r in reach_of(request, Rights.ADMIN) if r.platform == platform), None)
    if mine is None:
        return False
    if mine.only is None and not mine.excluded:
        return True
    session: Session = request[SESSION]
    return (
        session.platform == platform
        and bool(session.team)
        and mine.covers(platform, session.team)
        and _one_workspace(request.app[DASHBOARD].settings, platform)
    )


def _one_workspace(settings: Settings, platform: str) -> bool:
    """The settings name no workspace of their own, and the platform serves one: Slack with
    one bot token (not installed by OAuth in several), Discord with exactly one server for its
    commands."""
    if platform == Platform.SLACK:
        return not settings.slack.workspaces and not settings.slack_oauth
    if platform == Platform.DISCORD:
        return not settings.discord.workspaces and len(settings.discord.command_guilds) == 1
    return False


def visible_platforms(request: web.Request) -> list[str]:
    """The platforms with at least one workspace the person may see."""
    return [r.platform for r in reach_of(request)]


def can_see(request: web.Request, conversation: ConversationRef) -> bool:
    return any(r.covers(conversation.platform, conversation.workspace) for r in reach_of(request))


_REACH = web.RequestKey("reach", dict)
