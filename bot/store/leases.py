"""Leases: a role that one process holds at a time among the workers sharing a PostgreSQL state.

The Discord gateway is such a role: Discord delivers each event to every connection of a
bot, so two workers on the gateway would both receive (and race to answer) every message.
`GatewayLease` takes a PostgreSQL session advisory lock (`pg_try_advisory_lock`) on a
connection of its own, kept open for as long as the lease is held. The lock lives exactly as
long as that session, which is what makes it a lease rather than a flag in a table:

* a holder that stops releases it by closing the connection;
* a holder that dies (`kill -9`, a crash) has its socket closed by the kernel, and
  PostgreSQL ends the session and releases the lock at once;
* a holder whose host vanishes is noticed by the server's TCP keepalives, set short on this
  session (bot/store/postgres_session.py), so the lock is freed within about half a minute;
* a holder that loses its connection finds out with `check`, and must stop serving: by then
  another worker may hold the lock;
* a connection that goes silent (a dropped NAT entry, a host that failed over: no error, no
  answer, ever) is given up after `timeout` seconds on any statement, connecting included,
  and the next attempt opens a fresh one: a standby must not wait out the kernel's quarter
  of an hour while the lease it waits for is free;
* a holder that is frozen (SIGSTOP, a suspended VM, an event loop blocked) keeps its session,
  since its kernel still answers the keepalives, but stops checking its lease, and Discord
  drops its gateway connection: the bot would be deaf for as long as it stays frozen. A
  holder's session runs its check every few seconds, so a standby that finds it idle for
  `stale_after` seconds by the server's clock (`pg_stat_activity.state_change`: no skew
  between hosts) ends that session (`pg_terminate_backend`), freeing the lease for itself.
  So that a holder's session is never that idle while its process runs (logging in to
  Discord may wait out a long rate limit before the holder's own checks begin), the lease
  keeps it busy itself: a check every third of `stale_after` while a role is held. Resumed,
  the holder's next check fails and it stops serving; what both heard meanwhile is answered
  once (the inbox).

The lock is the two-key form (`LEASE_SPACE`, hash of schema and name): a key space apart from
the single-key locks of migrations and `exclusive` (bot/store/jobs.py), and one lock per
schema, since two installs may share a database in different schemas.

One lease object may hold several roles on its one session (a worker holding two sets of
Discord shards): they are lost together, with the session. `taken` asks whether another
session holds a role, without taking it.

Standby workers keep their connection open between attempts (one cheap query each time).
On SQLite there is no lease: one process owns the state (bot/instance.py), so the caller
passes none and the role is simply held. psycopg is imported only when a lease connects,
so this module loads without the optional PostgreSQL driver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.errors import StoreError
from bot.store.postgres_session import SERVER_KEEPALIVES, client_keepalives, schema_hash
from bot.store.urls import redact_url, scrub

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

# the first key of every lease lock (pg_locks.classid): tells them apart in pg_locks
LEASE_SPACE = 0x5B07_0002
# shown in pg_stat_activity, so an operator can see which sessions hold or await a role
APPLICATION_NAME = "supportbot-lease"
# how long connecting, or any one statement, may take on the lease session before it counts
# as lost. A standby asks every 5 s (adapters/discord/standby.py), so one stuck on a silent
# connection gives up, reconnects and takes a freed lease within about 15 s, inside the 30 s
# a dead holder may leave the bot deaf; a holder whose check goes unanswered this long stops
# serving, since the silence may have cost it the session already
STATEMENT_TIMEOUT = 5.0

_TRY = f"select pg_try_advisory_lock(%s, {schema_hash('%s')})"
# a holder checks its lease every 5 s (adapters/discord/standby.py): three checks missed
STALE_SECONDS = 15.0
# the session holding the lock, if it has sat idle longer than the given seconds: ended
_END_STALE = (
    "select pg_terminate_backend(a.pid) from pg_stat_activity a join pg_locks l on l.pid = a.pid "
    "where l.locktype = 'advisory' and l.granted "
    "and l.database = (select oid from pg_database where datname = current_database()) "
    "and l.classid = %s and l.objsubid = 2 "
    f"and l.objid = ({schema_hash('%s')}::bigint & 4294967295)::oid "
    "and a.pid <> pg_backend_pid() and a.state = 'idle' "
    "and a.state_change < now() - make_interval(secs => %s)"
)
# whether any session holds the lock, and is not a frozen holder's (idle past the given
# seconds): the two-key form keeps its keys in classid / objid
_TAKEN = (
    "select exists (select 1 from pg_locks l join pg_stat_activity a on a.pid = l.pid "
    "where l.locktype = 'advisory' and l.granted "
    "and l.database = (select oid from pg_database where datname = current_database()) "
    "and l.classid = %s and l.objsubid = 2 "
    f"and l.objid = ({schema_hash('%s')}::bigint & 4294967295)::oid "
    "and (a.state <> 'idle' or a.state_change >= now() - make_interval(secs => %s)))"
)


class GatewayLease:
    """One role (`try_acquire(name)`) held on a dedicated PostgreSQL connection (`bot.ports.Lease`).
    `timeout`: seconds connecting or a statement may take before the session is given up."""

    def __init__(
        self, url: str, *, timeout: float = STATEMENT_TIMEOUT, stale_after: float = STALE_SECONDS
    ) -> None:
        self._url = url
        self.timeout = timeout
        self.stale_after = stale_after  # a holder's session idle this long is a frozen holder's
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._names: set[str] = set()  # the roles held on this session
        # one statement at a time on the session: the standby's watch (`check`) and its look
        # for unheld sets (`taken`, `try_acquire`) run in tasks of their own, and a shutdown
        # cancels both at once; psycopg could then leave one waiting on the other for good
        self._turn = asyncio.Lock()
        # statements given up on, cancelled and left to end before their connection closes:
        # psycopg's cancel of one takes seconds on a silent connection, and no ask waits for it
        self._abandoned: set[asyncio.Task[None]] = set()
        self._abandoned_statements: set[asyncio.Future[Any]] = set()
        # statements whose caller was cancelled, left to end on a session that is kept
        self._ending: set[asyncio.Future[Any]] = set()
        self._keeping: asyncio.Task[None] | None = None  # the session kept busy while held

    @property
    def held(self) -> bool:
        """Whether this process held a lease when last asked (`try_acquire` or `check`)."""
        return bool(self._names)

    async def try_acquire(self, name: str) -> bool:
        """Take the lease `name` if no other session holds it; True if this process holds it now.
        Raises StoreError when the database cannot be reached (the caller tries again later)."""
        if name in self._names:
            return True
        import psycopg

        try:
            row = await self._ask(_TRY, [LEASE_SPACE, name])
            if not (row and row[0]) and await self._ask(_END_STALE, [LEASE_SPACE, name, self.stale_after]):
                log.warning(
                    "the %s lease's holder has not checked it for %g s (frozen?): its session was ended",
                    name,
                    self.stale_after,
                    extra={"lease": name},
                )
                row = await self._ask(_TRY, [LEASE_SPACE, name])
        except (psycopg.Error, TimeoutError) as exc:
            await self._drop()
            raise StoreError(
                f"could not ask {redact_url(self._url)} for the {name} lease: {self._reason(exc)}"
            ) from None
        if not (row and row[0]):
            return False
        self._names.add(name)
        log.info("lease taken", extra={"lease": name})
        if self._keeping is None or self._keeping.done():
            self._keeping = asyncio.create_task(self._keep_busy(), name="supportbot-lease-keep")
        return True

    async def _keep_busy(self) -> None:
        """While a role is held, a check every third of `stale_after`: the session is never
        idle long enough for a standby to take this running holder for a frozen one."""
        while self._names:
            await asyncio.sleep(self.stale_after / 3)
            if not await self.check():
                return

    async def taken(self, name: str) -> bool:
        """Whether some session (this one included) holds the lease `name`, without taking it;
        a frozen holder's (idle `stale_after`) does not count, so the lease is adopted from it.
        Raises StoreError when the database cannot be reached."""
        import psycopg

        try:
            row = await self._ask(_TAKEN, [LEASE_SPACE, name, self.stale_after])
        except (psycopg.Error, TimeoutError) as exc:
            await self._drop()
            raise StoreError(
                f"could not ask {redact_url(self._url)} about the {name} lease: {self._reason(exc)}"
            ) from None
        return bool(row and row[0])

    async def check(self) -> bool:
        """Whether the lease is still held: its session answers. A lost session is closed
        here, so the next `try_acquire` starts a fresh one."""
        if not self._names or self._connection is None:
            return False
        import psycopg

        connection = self._connection
        try:
            async with self._turn:
                await self._within_deadline(connection, "select 1", None)
            return True
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("lease lost: its database session ended (%s)", type(exc).__name__)
            await self._drop()
            return False

    async def release(self) -> None:
        """Give the lease up, or stop standing by. The locks are let go before the session
        closes: the server ends a closed session in its own time, and until then a standby
        asking would still find them held."""
        keeping, self._keeping = self._keeping, None
        if keeping is not None and keeping is not asyncio.current_task():
            keeping.cancel()
            await asyncio.gather(keeping, return_exceptions=True)
        if self._names:
            log.info("lease released", extra={"leases": sorted(self._names)})
            connection = self._connection
            if connection is not None and not connection.closed and not connection.broken:
                try:
                    async with self._turn:
                        await self._within_deadline(connection, "select pg_advisory_unlock_all()", None)
                except Exception:  # a boundary: closing the session releases them anyway
                    log.debug("letting the leases go before closing failed", exc_info=True)
        await self._drop()
        await self._bury_abandoned()

    async def _bury_abandoned(self) -> None:
        """Wait (up to `timeout`) for the statements given up on to end, then cancel the rest:
        a release leaves nothing of this lease running (a task pending at the loop's close)."""
        waiting: set[asyncio.Future[Any]] = {*self._abandoned, *self._ending}
        if not waiting:
            return
        _, pending = await asyncio.wait(waiting, timeout=self.timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _ask(self, sql: str, params: Sequence[Any]) -> Any:
        """The first row of one statement on the lease session, opened first if there is none.
        Raises psycopg.Error, or TimeoutError when the database stayed silent for `timeout`."""
        async with self._turn:
            return await self._within_deadline(await self._connect(), sql, params)

    async def _within_deadline(
        self, connection: psycopg.AsyncConnection[Any], sql: str, params: Sequence[Any] | None
    ) -> Any:
        """`sql`'s first row (None if it returns none) within `timeout`, else TimeoutError and
        the connection is given up (`_abandon`). Shielded: cancelling a psycopg statement waits
        for the server to confirm, which a silent connection never does (psycopg gives up only
        after 10 s), so the statement is left to end on its own while the lease moves on."""
        statement = asyncio.ensure_future(_first_row(connection, sql, params))
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that arrives as the answer does, and a standby being shut down then never ends
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(statement)
        except TimeoutError:
            self._abandon(connection, statement)  # silent past the deadline
            raise
        finally:
            if not statement.done() and statement not in self._abandoned_statements:
                # the caller was cancelled: the session is not at fault, so it is kept (and the
                # roles on it: giving them up is release()'s to decide), and the statement is
                # left to end, tracked until then so a release can wait for it
                self._ending.add(statement)
                statement.add_done_callback(self._ending.discard)

    def _abandon(self, connection: psycopg.AsyncConnection[Any], statement: asyncio.Task[Any]) -> None:
        """Give up on `connection`: its roles count as lost (the next ask starts a fresh session),
        its statement is cancelled, and it is closed once that has ended."""
        if self._connection is connection:
            self._connection = None
            self._names.clear()
        self._abandoned_statements.add(statement)
        statement.add_done_callback(self._abandoned_statements.discard)
        statement.cancel()

        async def bury() -> None:
            await asyncio.wait({statement})
            await connection.close()

        burying = asyncio.create_task(bury(), name="supportbot-lease-abandoned")
        self._abandoned.add(burying)
        burying.add_done_callback(self._abandoned.discard)

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        import psycopg

        if self._connection is not None and not self._connection.closed and not self._connection.broken:
            return self._connection
        await self._drop()
        async with asyncio.timeout(self.timeout):  # libpq's connect_timeout is whole seconds, 2 at least
            connection = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=max(2, round(self.timeout)),
                application_name=APPLICATION_NAME,
                **client_keepalives(),
            )
        self._connection = connection
        await self._within_deadline(connection, SERVER_KEEPALIVES, None)
        return connection

    async def _drop(self) -> None:
        self._names.clear()
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            try:
                await connection.close()
            except Exception:  # a boundary: the session is going away whatever happens here
                log.debug("closing a lease connection failed", exc_info=True)

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return f"no answer within {self.timeout:g} s"
        text = str(exc).strip()
        return scrub(text.splitlines()[0] if text else type(exc).__name__, self._url)


async def _first_row(connection: psycopg.AsyncConnection[Any], sql: str, params: Sequence[Any] | None) -> Any:
    cursor = await connection.execute(sql, params)
    return await cursor.fetchone() if cursor.description is not None else None
