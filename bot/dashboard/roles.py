"""Reading a signed-in person's groups, roles and admin flag again while their session lasts.

A Sign in with Slack or Discord reads them once; they stand ROLES_TTL (as long as the chat
adapters cache group membership), and the request that finds them older has them read again
through the bot's token (adapters/*/signin.py `reread`), so a person taken out of the staff
group loses the dashboard within minutes rather than when the session expires.

The platform may not answer, or rate-limit the bot: a look-up that fails is no answer, so
the session keeps the roles it last read (never saved as none) and the person is not locked
out by one 429. It is not asked again for FAILURE_BACKOFF, or as long as the platform's
Retry-After says (an hour at most), so an outage costs one call per person every 30 seconds
rather than one per page view (on Discord each would be another 429 on the bot's own token).
Slack's definite answer for one configured group (deleted, mistyped) is no outage: nobody
is in that group, and the others are read. Roles last read longer than ROLES_KEPT ago no
longer count while the platform stays unreachable: then only people named by id in the
settings keep the dashboard, until a look-up answers again.

One look-up per person and workspace is made at a time, shared by every request and every
session (browser) of theirs that needs it, and its answer serves their other sessions for
as long as it is fresh. A look-up is bounded by REREAD_TIMEOUT and runs as a task of its
own: a request that gives up (the browser went away) leaves it to finish for the others.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aiohttp import web

from bot.channel_types import Platform
from bot.dashboard.auth import ROLES_TTL, Session
from bot.dashboard.context import Dashboard
from bot.dashboard.identity import Identity, Problem, SignInError
from bot.store import StateStore

log = logging.getLogger(__name__)

FAILURE_BACKOFF = timedelta(seconds=30)  # as SlackDirectory.FAILURE_TTL
ROLES_KEPT = timedelta(hours=1)  # the most the last roles read stand while the platform is down
REREAD_TIMEOUT = 10.0  # seconds a look-up may take before it counts as failed

# the person a look-up is for: platform, workspace (Slack team, Discord guild), user id
Key = tuple[str, str, str]


@dataclass(frozen=True, kw_only=True)
class _Read:
    at: datetime
    identity: Identity


class RoleReads:
    """What the re-reads of one dashboard share: the look-ups in flight, the last answer and
    the back-off after a failure, per person and workspace (in memory: a restart asks again)."""

    def __init__(self) -> None:
        self._pending: dict[Key, asyncio.Task[_Read | None]] = {}
        self._fresh: dict[Key, _Read] = {}
        self._failed_until: dict[Key, datetime] = {}

    async def session(self, dash: Dashboard, session: Session, now: datetime) -> Session:
        """`session` with its groups or roles and admin flag as the platform has them now, when
        those it has are ROLES_TTL old. A one-time link's session read nothing and has nothing
        to read again."""
        if not session.team or now - session.read_at < ROLES_TTL:
            return session
        key = (session.platform, session.team, session.user_id)
        read = self._fresh.get(key)
        if read is None or now - read.at >= ROLES_TTL:
            until = self._failed_until.get(key)
            if until is not None and now < until:
                return _last_known(session, now)
            task = self._pending.get(key)
            if task is None:
                task = asyncio.create_task(self._look_up(dash, session, key, now))
                self._pending[key] = task
                task.add_done_callback(lambda _: self._pending.pop(key, None))
            read = await asyncio.shield(task)
            if read is None:
                return _last_known(session, now)
        fresh = read.identity
        await dash.store.run(
            StateStore.reread_dashboard_session, session.sid, fresh.roles, fresh.platform_admin, read.at
        )
        return replace(session, roles=fresh.roles, platform_admin=fresh.platform_admin, read_at=read.at)

    async def _look_up(self, dash: Dashboard, session: Session, key: Key, now: datetime) -> _Read | None:
        """The platform's answer, kept for the person's other sessions; None when it gave none
        (logged, and not asked again before the back-off is over)."""
        try:
            async with asyncio.timeout(REREAD_TIMEOUT):
                identity = await _platform_reread(dash, session)
        except SignInError as exc:
            if exc.problem != Problem.OTHER_WORKSPACE:
                self._failed(key, now, str(exc), exc.retry_after)
                return None
            # an answer: the bot no longer serves that workspace, so no roles there count
            identity = Identity(platform=session.platform, user_id=session.user_id, team=session.team)
        except TimeoutError:
            self._failed(key, now, f"no answer in {REREAD_TIMEOUT:g} s", None)
            return None
        except Exception as exc:
            # anything else (a bug, an answer no one foresaw) is no answer either: raised, it
            # would reach every request waiting on this look-up as a 500
            self._failed(key, now, type(exc).__name__, None, unexpected=True)
            return None
        read = _Read(at=now, identity=identity)
        self._fresh = {k: r for k, r in self._fresh.items() if now - r.at < ROLES_TTL}
        self._fresh[key] = read
        self._failed_until.pop(key, None)
        return read

    def _failed(
        self, key: Key, now: datetime, why: str, retry_after: float | None, *, unexpected: bool = False
    ) -> None:
        platform, team, user_id = key
        wait = _back_off(retry_after)
        log.warning(
            "could not read %s's rights again on %s in %s (%s); the roles last read stand, "
            "asked again in %d s",
            user_id,
            platform,
            team,
            why,
            wait.total_seconds(),
            exc_info=unexpected,
        )
        self._failed_until = {k: t for k, t in self._failed_until.items() if t > now}
        self._failed_until[key] = now + wait

    async def aclose(self) -> None:
        """Stop the look-ups still running (the dashboard is shutting down)."""
        tasks = list(self._pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _back_off(retry_after: float | None) -> timedelta:
    """How long a person's rights are not asked for again after a failed look-up: as long as
    the platform's Retry-After says, at least FAILURE_BACKOFF and at most ROLES_KEPT (past it
    the roles last read no longer count anyway; 1e12 s would be past datetime's range). An
    infinite or NaN one says nothing."""
    if retry_after is None or not math.isfinite(retry_after):
        return FAILURE_BACKOFF
    return max(FAILURE_BACKOFF, timedelta(seconds=min(retry_after, ROLES_KEPT.total_seconds())))


def _last_known(session: Session, now: datetime) -> Session:
    """What the session may use while the platform does not answer: the roles last read,
    until they are ROLES_KEPT old; then none (people named by id keep their rights)."""
    if now - session.read_at < ROLES_KEPT:
        return session
    return replace(session, roles=frozenset(), platform_admin=False)


async def _platform_reread(dash: Dashboard, session: Session) -> Identity:
    if session.platform == Platform.SLACK:
        from adapters.slack import signin as slack  # loaded only when asked, as bot/supervisor.py does

        return await slack.reread(
            dash.settings,
            dash.store,
            user_id=session.user_id,
            team=session.team,
            enterprise=session.enterprise,
            strict=True,
        )
    from adapters.discord import signin as discord_signin

    return await discord_signin.reread(dash.settings, user_id=session.user_id, guild_id=session.team)


ROLE_READS = web.AppKey("role_reads", RoleReads)


def add_role_reads(app: web.Application) -> None:
    app[ROLE_READS] = RoleReads()

    async def close(app: web.Application) -> None:
        await app[ROLE_READS].aclose()

    app.on_cleanup.append(close)
