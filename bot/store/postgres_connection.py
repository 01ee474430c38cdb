"""The state store's PostgreSQL connection (psycopg's, as bot/store/postgres.py's pool opens
it): how it finds out that the server is gone, which psycopg alone learns only when a
statement fails.

* silence: an exchange with the server (a statement's answer, a commit, a pipeline's sync, a
  piece of a COPY) that hears nothing for `deadline` seconds gives the connection up;
* a session the server ended while it sat idle (a restart, pg_terminate_backend):
  `ended_while_idle` sees the goodbye waiting unread, before a statement is sent to it.

Each new connection gets the store's session settings (`configure`:
bot/store/postgres_session.py).
"""

from __future__ import annotations

import select
from typing import Any

import psycopg
from psycopg.abc import PQGen
from psycopg.pq import TransactionStatus

from bot.store.postgres_session import DEADLINE, STORE_SESSION


class Connection(psycopg.Connection[Any]):
    """psycopg's connection, giving up when the server says nothing for `deadline` seconds in
    one exchange: the connection is closed then, and the caller gets an OperationalError.
    None: no deadline."""

    deadline: float | None = DEADLINE

    def wait(self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        deadline = self.deadline if timeout is None else timeout
        try:
            return super().wait(gen, interval, deadline)
        except psycopg.errors._WaitTimeout:
            # half an exchange was had: what the server makes of the rest is unknown, so the
            # connection is of no further use (psycopg's own way out of a stuck cancel)
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"the database server sent nothing for {deadline:g} s: the connection was given up"
            ) from None

    def ended_while_idle(self) -> bool:
        """Whether the server ended this session while no transaction was open on it (and
        no statement running). Between statements the server has nothing to say unasked, so
        a readable socket is the session's end: its FATAL (57P01 on a shutdown), then EOF.
        One poll, about a microsecond; False while a transaction is open."""
        if self.pgconn.transaction_status != TransactionStatus.IDLE:
            return False
        socket = self.pgconn.socket
        if hasattr(select, "poll"):  # select() cannot take a descriptor above 1023
            poller = select.poll()
            poller.register(socket, select.POLLIN)  # an ended socket (POLLHUP) reports too
            return bool(poller.poll(0))
        return bool(select.select([socket], [], [], 0)[0])


def configure(connection: Connection) -> None:
    """A new connection's session settings, once, as the pool opens it (one round trip)."""
    connection.execute(STORE_SESSION)
