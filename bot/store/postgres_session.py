"""What every PostgreSQL session of the bot is given, so that a network gone dark never holds
it (or its shutdown) up for good, and the keys of its advisory locks.

* TCP keepalives both ways: libpq probes an idle connection after KEEPALIVE_IDLE seconds, so a
  dead one fails when next used instead of taking the statement down with it; the server
  probes the bot's, so a worker whose machine vanished has its session ended (and its locks
  and transaction freed) within about half a minute instead of the kernel's two hours. Data
  sent and not acknowledged for as long (a network that went dark mid-statement) ends the
  connection too (`tcp_user_timeout`).
* on the state store's sessions (bot/store/postgres.py), deadlines: the server cancels a
  statement after STATEMENT_TIMEOUT, and the client gives up on a connection that answered
  nothing for DEADLINE (a little more, so a statement the server cancelled reports that
  instead). Keepalives cannot see every silence (a proxy or a NAT box that still acknowledges
  what it then drops), the deadline does. A lock (advisory or a row's) not granted within
  LOCK_TIMEOUT fails the wait: a peer holding one that long is stuck (its network went silent
  inside a transaction), and the caller's retry or next tick is better than a store thread
  frozen behind it; a session of ours idle in a transaction for IDLE_IN_TRANSACTION is ended,
  so a stuck one of ours frees its locks too. Migrations and `supportbot store copy`, whose
  statements can take minutes on a big install, lift them all (`UNHURRIED`), but for a
  migration's waits for a lock (STEP_LOCK_TIMEOUT): the other workers' statements queue
  behind a waiting ALTER TABLE.
* advisory lock keys of this schema's own (`lock_keys`): two installs may share a database in
  different schemas, and one's `gaps` lock must not hold up the other's clock. The two-key
  form, whose first key (pg_locks.classid) tells the store's locks from the leases'.

Only strings and numbers here: bot/store/leases.py imports it without the optional driver.
"""

from __future__ import annotations

from typing import TypedDict

# the server probes an idle session after 10 s, then every 5 s, and drops it after 3 missed
# probes: a peer whose machine vanished is gone within about 25 s. libpq probes the server
# the same way
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 10, 5, 3
# sent and unacknowledged this long, a connection is dead: as long as the keepalives take
TCP_USER_TIMEOUT_MS = (KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_COUNT) * 1000

# the longest a state store statement may run. Its statements take milliseconds (a report of
# a month's figures, on its own lane, a second or two); one stuck this long holds up every
# answer queued behind it on the store's one thread, and failing it lets them through
STATEMENT_TIMEOUT = 15.0
# how long the store waits for any answer from the server before giving the connection up
DEADLINE = STATEMENT_TIMEOUT + 3.0
# how long a statement waits for a lock: the store's transactions hold theirs for milliseconds
LOCK_TIMEOUT = 3.0
# how long a migration's step waits for a lock on a table it changes before it gives way and
# tries again (bot/store/postgres_migrating.py). A worker's statement on that table queues
# behind the waiting step: shorter than LOCK_TIMEOUT, so the step gives way first
STEP_LOCK_TIMEOUT = 2.0
# the longest the store's own code leaves a transaction waiting between two statements is
# milliseconds of Python; this long, the process is stuck (paused, swapping) with locks held
IDLE_IN_TRANSACTION = 30.0

# the server's side of the keepalives: user-settable, and ignored on a Unix socket, where a
# dead peer is seen at once anyway. No parameters: the simple protocol, which takes several
SERVER_KEEPALIVES = (
    f"set tcp_keepalives_idle = {KEEPALIVE_IDLE}; set tcp_keepalives_interval = {KEEPALIVE_INTERVAL}; "
    f"set tcp_keepalives_count = {KEEPALIVE_COUNT}"
)
# what each state store session is set to once opened
STORE_SESSION = (
    f"{SERVER_KEEPALIVES}; set statement_timeout = '{STATEMENT_TIMEOUT:g}s'; "
    f"set lock_timeout = '{LOCK_TIMEOUT:g}s'; "
    f"set idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION:g}s'"
)
# for migrations and `store copy`: no deadline until STORE_SESSION is set again
UNHURRIED = "set statement_timeout = 0; set lock_timeout = 0; set idle_in_transaction_session_timeout = 0"


class Keepalives(TypedDict):
    keepalives: int
    keepalives_idle: int
    keepalives_interval: int
    keepalives_count: int
    tcp_user_timeout: int


# the first key of the store's advisory locks (migrations, `exclusive`); the gateway lease's
# is bot/store/leases.py's LEASE_SPACE
STORE_LOCK_SPACE = 0x5B07_0001


def schema_hash(name: str) -> str:
    """SQL: the lock key of the name bound to the placeholder `name`, this schema's own."""
    return f"hashtext(current_schema() || '/' || {name})"


def lock_keys(name: str, space: int = STORE_LOCK_SPACE) -> str:
    """SQL: the two keys of the advisory lock named by the placeholder `name` (`?` in the
    repositories' spelling, `%s` in PostgreSQL's), for pg_advisory_lock and its kin."""
    return f"{space}, {schema_hash(name)}"


def client_keepalives() -> Keepalives:
    """libpq's side of the keepalives, as connection parameters."""
    return {
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE,
        "keepalives_interval": KEEPALIVE_INTERVAL,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
