"""A local fake of Discord that speaks Discord's real wire protocols, so tests can run the real
``discord.py`` (2.7.x) against it.

What this fake owns
-------------------
* **REST API v10** under ``{base_url}/api/v10/``: the routes a support bot and discord.py's own
  machinery use (login, application info, gateway discovery, channels, messages, threads and
  forum posts, typing, reactions, DMs, application-command bulk overwrite, interaction callbacks
  and interaction webhooks). Requests are checked in Discord's order: route known (404/405 in
  Discord's shape) -> ``Authorization: Bot <token>`` (401) -> scripted faults -> snowflake path
  parameters -> JSON body against the vendored OpenAPI 3.1 schema -> Discord's business rules
  that the schema does not express (2000-char content, 6000-char embed total, allowed_mentions
  exclusivity, component custom ids, command naming, 3 s interaction acknowledgement, a
  Create Message whose ``enforce_nonce`` nonce the bot used minutes ago returns that message...).
  Invalid bodies get ``400 {"code": 50035, "message": "Invalid Form Body", "errors": {...}}``.
* **World state** that those routes read and write: one guild (roles, members, a category, two
  text channels, a forum with tags, an active thread), users, DM channels, messages, threads,
  registered commands, interactions. Actions the bot takes are echoed on the gateway the way
  Discord echoes them (the bot receives MESSAGE_CREATE for its own messages, THREAD_CREATE for
  threads it creates), filtered by the session's intents.
* **Gateway** websocket (``zlib-stream`` transport compression with one shared compressor per
  connection and ``Z_SYNC_FLUSH`` per payload, as Discord does; ``zstd-stream`` if a zstd
  library is importable): HELLO, IDENTIFY validation (close 4004/4013/4014), READY +
  GUILD_CREATE, HEARTBEAT/ACK, sequence numbers, RESUME with replay of missed dispatches,
  INVALID_SESSION, server-initiated RECONNECT, clean closes and abrupt drops. Shards: a
  session IDENTIFYed with ``shard=[id, count]`` gets only its guilds' events (``(guild_id >>
  22) % count``) and, on shard 0, DMs; GET /gateway/bot recommends ``recommended_shards``;
  ``add_guild(shard=...)`` makes a guild on a chosen shard.
* **Payload builders** for user-side events (guild/DM/thread MESSAGE_CREATE, THREAD_CREATE, slash
  command and button INTERACTION_CREATE), starting from the vendored documentation fixtures.
* **A journal** of every REST call and every gateway frame, awaitable without polling, and
  **scripted faults** (429 with Discord's rate-limit headers, arbitrary error bodies).

What it does not own: permissions enforcement (use :meth:`FakeDiscord.fail` to script 403s)
but for one rule a reply depends on: a Create Message with a ``message_reference`` needs Read
Message History where it is posted (``403 {"code": 160002}``; channel overwrites applied as
Discord does, :meth:`FakeDiscord.channel_permissions_of`),
real rate-limit buckets (every success reports a generous bucket; 429s are only scripted), voice,
presences, member chunking beyond a single chunk, CDN/attachments content, audit logs, sharding
beyond routing guilds to shards, and the ETF encoding.

Pointing discord.py at the fake: see :func:`point_discord_py_at`.

The server runs inside the test's event loop, so it must be driven by async clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import enum
import functools
import hashlib
import itertools
import json
import math
import re
import secrets
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self, TypeGuard
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, WSMsgType, web

from tests.fakes.discord_oauth import FakeDiscordOAuth

__all__ = [
    "API_VERSION",
    "DiscordAPIError",
    "FakeDiscord",
    "FieldError",
    "GatewayClose",
    "GatewayFrame",
    "GatewayIntent",
    "InteractionRecord",
    "OpenAPISpec",
    "RecordedRequest",
    "discord_py_pointed_at",
    "point_discord_py_at",
]

JSONDict = dict[str, Any]

FIXTURES_DIR: Final = Path(__file__).resolve().parent.parent / "fixtures" / "discord"
OPENAPI_PATH: Final = FIXTURES_DIR / "openapi" / "openapi.json"
API_VERSION: Final = 10
API_PREFIX: Final = f"/api/v{API_VERSION}"
DISCORD_EPOCH_MS: Final = 1_420_070_400_000

# Discord's production endpoints, as discord.py 2.7 hard-codes them (http.Route.BASE and
# gateway.DiscordWebSocket.DEFAULT_GATEWAY). Kept here so the pointing helper can restore them.
DEFAULT_API_BASE: Final = f"https://discord.com/api/v{API_VERSION}"
DEFAULT_GATEWAY_URL: Final = "wss://gateway.discord.gg/"


# --------------------------------------------------------------------------------------------
# Pointing discord.py at another Discord
# --------------------------------------------------------------------------------------------


def point_discord_py_at(api_base: str, gateway_url: str) -> Callable[[], None]:
    """Make every discord.py client in this process talk to ``api_base`` / ``gateway_url``.

    discord.py 2.7 has no per-client option for this; both endpoints are class attributes:

    * ``discord.http.Route.BASE`` (default ``https://discord.com/api/v10``) is read by
      ``Route.__init__`` for every REST call, including the interaction callback and webhook
      follow-up calls made by ``discord.webhook.async_`` (it imports the same ``Route``).
      ``api_base`` must therefore already contain the version, e.g. ``http://host:port/api/v10``.
    * ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``, default
      ``wss://gateway.discord.gg/``) is what a plain ``discord.Client`` connects to on its first
      IDENTIFY and again after a non-resumable INVALID_SESSION. ``Client.connect`` never calls
      ``GET /gateway/bot``; only ``AutoShardedClient`` does (and then uses the URL the REST API
      returns, which this fake points at itself). Resumes go to READY's ``resume_gateway_url``.
      discord.py appends ``?v=10&encoding=json&compress=zlib-stream`` itself, so pass the URL
      without a query.

    Both are process-wide; set them before ``client.login()``/``client.start()``. Returns a
    function that restores the values that were in place before the call (use it in test
    teardown, or use :func:`discord_py_pointed_at` / pytest's ``monkeypatch.setattr``).
    """
    import discord.gateway
    import discord.http
    import yarl

    if not api_base.rstrip("/").endswith(API_PREFIX):
        raise ValueError(f"api_base must end with {API_PREFIX!r}, got {api_base!r}")
    gateway = yarl.URL(gateway_url)
    if gateway.scheme not in ("ws", "wss") or gateway.query_string:
        raise ValueError(f"gateway_url must be a ws:// or wss:// URL without a query: {gateway_url!r}")

    route_cls = discord.http.Route
    ws_cls = discord.gateway.DiscordWebSocket
    previous_base = route_cls.BASE
    previous_gateway = ws_cls.DEFAULT_GATEWAY
    route_cls.BASE = api_base.rstrip("/")
    ws_cls.DEFAULT_GATEWAY = gateway

    def restore() -> None:
        route_cls.BASE = previous_base
        ws_cls.DEFAULT_GATEWAY = previous_gateway

    return restore


@contextmanager
def discord_py_pointed_at(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """Context manager form of :func:`point_discord_py_at` for a running :class:`FakeDiscord`."""
    restore = point_discord_py_at(fake.api_base, fake.gateway_url)
    try:
        yield fake
    finally:
        restore()


# --------------------------------------------------------------------------------------------
# Protocol constants
# --------------------------------------------------------------------------------------------


class GatewayIntent(enum.IntFlag):
    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MODERATION = 1 << 2
    GUILD_EXPRESSIONS = 1 << 3
    GUILD_INTEGRATIONS = 1 << 4
    GUILD_WEBHOOKS = 1 << 5
    GUILD_INVITES = 1 << 6
    GUILD_VOICE_STATES = 1 << 7
    GUILD_PRESENCES = 1 << 8
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15
    GUILD_SCHEDULED_EVENTS = 1 << 16
    AUTO_MODERATION_CONFIGURATION = 1 << 20
    AUTO_MODERATION_EXECUTION = 1 << 21
    GUILD_MESSAGE_POLLS = 1 << 24
    DIRECT_MESSAGE_POLLS = 1 << 25


# Plain ints: ``~`` on an IntFlag only flips the bits the enum defines.
_ALL_INTENTS: Final[int] = functools.reduce(lambda a, b: a | b, (int(i) for i in GatewayIntent), 0)
_PRIVILEGED: Final[int] = int(
    GatewayIntent.GUILD_MEMBERS | GatewayIntent.GUILD_PRESENCES | GatewayIntent.MESSAGE_CONTENT
)


class GatewayClose(enum.IntEnum):
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014


_CLOSE_REASONS: Final = {
    GatewayClose.UNKNOWN_ERROR: "Unknown error.",
    GatewayClose.UNKNOWN_OPCODE: "Unknown opcode.",
    GatewayClose.DECODE_ERROR: "Decode error.",
    GatewayClose.NOT_AUTHENTICATED: "Not authenticated.",
    GatewayClose.AUTHENTICATION_FAILED: "Authentication failed.",
    GatewayClose.ALREADY_AUTHENTICATED: "Already authenticated.",
    GatewayClose.INVALID_SHARD: "Invalid shard.",
    GatewayClose.INVALID_API_VERSION: "Invalid API version.",
    GatewayClose.INVALID_INTENTS: "Invalid intent(s).",
    GatewayClose.DISALLOWED_INTENTS: "Disallowed intent(s).",
}
# Discord does not let a session be resumed after these closes.
_NON_RESUMABLE_CLOSES: Final = frozenset({4004, 4010, 4011, 4012, 4013, 4014})


class Op(enum.IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11
    REQUEST_SOUNDBOARD_SOUNDS = 31


class ChannelType(enum.IntEnum):
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GROUP_DM = 3
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_STAGE_VOICE = 13
    GUILD_FORUM = 15
    GUILD_MEDIA = 16


_THREAD_TYPES: Final = frozenset({10, 11, 12})
_MESSAGEABLE_TYPES: Final = frozenset({0, 1, 2, 3, 5, 10, 11, 12, 13})
_FORUM_TYPES: Final = frozenset({15, 16})

# Message flags.
FLAG_SUPPRESS_EMBEDS: Final = 1 << 2
FLAG_HAS_THREAD: Final = 1 << 5
FLAG_EPHEMERAL: Final = 1 << 6
FLAG_LOADING: Final = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS: Final = 1 << 12
FLAG_IS_COMPONENTS_V2: Final = 1 << 15
_SENDABLE_FLAGS: Final = (
    FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2
)

# Create Message with enforce_nonce: a nonce the same author used "in the past few minutes"
# returns that message instead of a new one. Discord does not say how many; three here.
NONCE_WINDOW_SECONDS: Final = 180.0

# Application flags reported in READY and application info. An unverified bot (< 100 guilds)
# that has a privileged intent switched on in the portal gets the *_LIMITED flag.
APP_FLAG_GATEWAY_PRESENCE_LIMITED: Final = 1 << 13
APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED: Final = 1 << 15
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED: Final = 1 << 19
APP_FLAG_APPLICATION_COMMAND_BADGE: Final = 1 << 23

# Forum channel flag: posts must carry at least one tag.
CHANNEL_FLAG_REQUIRE_TAG: Final = 1 << 4

# Permission bits used by the default world.
P_ADD_REACTIONS: Final = 1 << 6
P_ADMINISTRATOR: Final = 1 << 3
P_VIEW_CHANNEL: Final = 1 << 10
P_SEND_MESSAGES: Final = 1 << 11
P_MANAGE_MESSAGES: Final = 1 << 13
P_EMBED_LINKS: Final = 1 << 14
P_ATTACH_FILES: Final = 1 << 15
P_READ_MESSAGE_HISTORY: Final = 1 << 16
P_USE_APPLICATION_COMMANDS: Final = 1 << 31
P_MANAGE_THREADS: Final = 1 << 34
P_CREATE_PUBLIC_THREADS: Final = 1 << 35
P_CREATE_PRIVATE_THREADS: Final = 1 << 36
P_SEND_MESSAGES_IN_THREADS: Final = 1 << 38
P_MODERATE_MEMBERS: Final = 1 << 40
P_ALL: Final = (1 << 51) - 1

_EVERYONE_PERMS: Final = (
    P_VIEW_CHANNEL
    | P_SEND_MESSAGES
    | P_ADD_REACTIONS
    | P_EMBED_LINKS
    | P_ATTACH_FILES
    | P_READ_MESSAGE_HISTORY
    | P_USE_APPLICATION_COMMANDS
    | P_CREATE_PUBLIC_THREADS
    | P_SEND_MESSAGES_IN_THREADS
)

# Which intent a dispatch needs, for guild events and for DM events (Discord's intent table).
_GUILD_EVENT_INTENTS: Final[Mapping[str, GatewayIntent]] = {
    "GUILD_CREATE": GatewayIntent.GUILDS,
    "GUILD_UPDATE": GatewayIntent.GUILDS,
    "GUILD_DELETE": GatewayIntent.GUILDS,
    "CHANNEL_CREATE": GatewayIntent.GUILDS,
    "CHANNEL_UPDATE": GatewayIntent.GUILDS,
    "CHANNEL_DELETE": GatewayIntent.GUILDS,
    "THREAD_CREATE": GatewayIntent.GUILDS,
    "THREAD_UPDATE": GatewayIntent.GUILDS,
    "THREAD_DELETE": GatewayIntent.GUILDS,
    "THREAD_LIST_SYNC": GatewayIntent.GUILDS,
    "THREAD_MEMBER_UPDATE": GatewayIntent.GUILDS,
    "GUILD_MEMBER_ADD": GatewayIntent.GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GatewayIntent.GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GatewayIntent.GUILD_MEMBERS,
    "MESSAGE_CREATE": GatewayIntent.GUILD_MESSAGES,
    "MESSAGE_UPDATE": GatewayIntent.GUILD_MESSAGES,
    "MESSAGE_DELETE": GatewayIntent.GUILD_MESSAGES,
    "MESSAGE_DELETE_BULK": GatewayIntent.GUILD_MESSAGES,
    "MESSAGE_REACTION_ADD": GatewayIntent.GUILD_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GatewayIntent.GUILD_MESSAGE_REACTIONS,
    "TYPING_START": GatewayIntent.GUILD_MESSAGE_TYPING,
}
_DM_EVENT_INTENTS: Final[Mapping[str, GatewayIntent]] = {
    "MESSAGE_CREATE": GatewayIntent.DIRECT_MESSAGES,
    "MESSAGE_UPDATE": GatewayIntent.DIRECT_MESSAGES,
    "MESSAGE_DELETE": GatewayIntent.DIRECT_MESSAGES,
    "CHANNEL_PINS_UPDATE": GatewayIntent.DIRECT_MESSAGES,
    "MESSAGE_REACTION_ADD": GatewayIntent.DIRECT_MESSAGE_REACTIONS,
    "MESSAGE_REACTION_REMOVE": GatewayIntent.DIRECT_MESSAGE_REACTIONS,
    "TYPING_START": GatewayIntent.DIRECT_MESSAGE_TYPING,
}

# Which callback types Discord accepts for each interaction type.
_CALLBACK_TYPES_FOR: Final[Mapping[int, frozenset[int]]] = {
    2: frozenset({4, 5, 9}),  # APPLICATION_COMMAND (10 = premium required, deprecated)
    3: frozenset({4, 5, 6, 7, 9}),  # MESSAGE_COMPONENT
    4: frozenset({8}),  # APPLICATION_COMMAND_AUTOCOMPLETE
    5: frozenset({4, 5, 6, 7}),  # MODAL_SUBMIT
}

_OPTION_SUBCOMMAND: Final = 1
_OPTION_SUBCOMMAND_GROUP: Final = 2
_OPTION_STRING: Final = 3
_OPTION_INTEGER: Final = 4
_OPTION_BOOLEAN: Final = 5
_OPTION_USER: Final = 6
_OPTION_CHANNEL: Final = 7
_OPTION_ROLE: Final = 8
_OPTION_MENTIONABLE: Final = 9
_OPTION_NUMBER: Final = 10

MAX_CONTENT_LENGTH: Final = 2000
MAX_EMBED_TOTAL: Final = 6000
MAX_COMMAND_SIZE: Final = 8000
INTERACTION_ACK_SECONDS: Final = 3.0
INTERACTION_TOKEN_SECONDS: Final = 15 * 60.0


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes")


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.cache
def _fixture(relative: str) -> Any:
    with (FIXTURES_DIR / relative).open(encoding="utf-8") as fh:
        return json.load(fh)


def load_fixture(relative: str) -> JSONDict:
    """A deep copy of a vendored JSON-object fixture: ``load_fixture("gateway/HELLO.json")``."""
    data = _fixture(relative)
    if not isinstance(data, dict):
        raise TypeError(f"fixture {relative} is not a JSON object")
    return copy.deepcopy(data)


class _Snowflakes:
    """Discord snowflakes: ms since the Discord epoch << 22 | worker | process | increment.

    Strictly increasing so ids sort by creation, which Discord's ordering relies on.
    """

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (1 << 17) | (7 << 12)
        if candidate <= self._last:
            candidate = self._last + 1
        self._last = candidate
        return str(candidate)

    def next_on_shard(self, shard_id: int, shard_count: int) -> str:
        """The next id that Discord routes to `shard_id` of `shard_count` (a guild's shard is
        `(id >> 22) % shard_count`): later milliseconds until it fits, still increasing."""
        candidate = int(self.next())
        while (candidate >> 22) % shard_count != shard_id:
            candidate += 1 << 22
        self._last = candidate
        return str(candidate)


# --------------------------------------------------------------------------------------------
# Errors in Discord's shape
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One entry of an ``errors`` tree: where, Discord's error code, Discord's message."""

    path: tuple[str, ...]
    code: str
    message: str


def errors_tree(issues: Sequence[FieldError]) -> JSONDict:
    """Nest field errors the way Discord does: ``{"a": {"0": {"b": {"_errors": [...]}}}}``."""
    root: JSONDict = {}
    for issue in issues:
        node = root
        for key in issue.path:
            node = node.setdefault(key, {})
        node.setdefault("_errors", []).append({"code": issue.code, "message": issue.message})
    return root


class DiscordAPIError(Exception):
    """An error response: HTTP status plus Discord's JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: JSONDict | None = None,
        headers: Mapping[str, str] | None = None,
        extra: JSONDict | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> JSONDict:
        body: JSONDict = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


_UNKNOWN_CODES: Final = {
    "Application": 10002,
    "Channel": 10003,
    "Guild": 10004,
    "Member": 10007,
    "Message": 10008,
    "Role": 10011,
    "User": 10013,
    "Webhook": 10015,
    "interaction": 10062,
    "application command": 10063,
}


def _unknown(what: str) -> DiscordAPIError:
    return DiscordAPIError(404, _UNKNOWN_CODES[what], f"Unknown {what}")


def _invalid_form(issues: Sequence[FieldError]) -> DiscordAPIError:
    return DiscordAPIError(400, 50035, "Invalid Form Body", errors=errors_tree(issues))


def _empty_message() -> DiscordAPIError:
    return DiscordAPIError(400, 50006, "Cannot send an empty message")


def _missing_access() -> DiscordAPIError:
    return DiscordAPIError(403, 50001, "Missing Access")


def _invalid_webhook_token() -> DiscordAPIError:
    return DiscordAPIError(401, 50027, "Invalid Webhook Token")


# --------------------------------------------------------------------------------------------
# Request-body validation against the vendored OpenAPI document
# --------------------------------------------------------------------------------------------

_ASSERTION_KEYS: Final = frozenset(
    {
        "type",
        "const",
        "enum",
        "properties",
        "required",
        "items",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "pattern",
        "format",
        "allOf",
        "anyOf",
        "oneOf",
        "uniqueItems",
        "additionalProperties",
        "minProperties",
        "maxProperties",
    }
)
_CONST_ONLY_KEYS: Final = frozenset({"const", "title", "description", "type", "format"})
_NO_CONST: Final = object()


def _fmt_value(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    return json.dumps(value)


def _choices(path: tuple[str, ...], values: Sequence[Any]) -> FieldError:
    inner = ", ".join(_fmt_value(v) for v in values)
    if len(values) == 1:
        inner += ","
    return FieldError(path, "BASE_TYPE_CHOICES", f"Value must be one of ({inner}).")


def _modal_inputs(components: Sequence[JSONDict]) -> list[JSONDict]:
    """The text inputs (type 4) of a modal's rows and labels."""
    found: list[JSONDict] = []
    for row in components:
        inner = row.get("components") or ([row["component"]] if row.get("component") else [])
        found += [c for c in inner if isinstance(c, dict) and c.get("type") == 4]
    return found


def _submitted(component: JSONDict, values: Mapping[str, str]) -> JSONDict:
    """A text input as a modal submission carries it: type, custom id and value only."""
    custom_id = component.get("custom_id", "")
    value = values.get(custom_id, component.get("value") or "")
    return {"type": component.get("type", 4), "custom_id": custom_id, "value": value}


def _modal_rules(data: JSONDict) -> list[FieldError]:
    """Discord's modal limits (interaction response type 9): title 1-45, custom id 1-100,
    1-5 rows (an action row with one text input, or a label around one), text inputs with
    a custom id, a style of 1 or 2, a label of up to 45 and values of up to 4000 characters."""
    issues: list[FieldError] = []
    for key, hi in (("title", 45), ("custom_id", 100)):
        value = data.get(key)
        if not isinstance(value, str):
            issues.append(FieldError(("data", key), "BASE_TYPE_REQUIRED", "This field is required"))
        elif (error := _length_error(("data", key), len(value), 1, hi)) is not None:
            issues.append(error)
    rows = data.get("components")
    if not isinstance(rows, list) or not rows:
        issues.append(FieldError(("data", "components"), "BASE_TYPE_REQUIRED", "This field is required"))
        return issues
    if (error := _length_error(("data", "components"), len(rows), 1, 5)) is not None:
        issues.append(error)
    for n, row in enumerate(rows):
        where = ("data", "components", str(n))
        if row.get("type") == 1:
            inner = row.get("components") or []
            if len(inner) != 1 or inner[0].get("type") != 4:
                issues.append(
                    FieldError(where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A row holds one text input.")
                )
                continue
            text_input, labelled = inner[0], False
        elif row.get("type") == 18:
            text_input, labelled = row.get("component") or {}, True
            if (error := _length_error((*where, "label"), len(str(row.get("label", ""))), 1, 45)) is not None:
                issues.append(error)
        else:
            continue  # text displays and the like carry no input
        if text_input.get("style") not in (1, 2) and text_input.get("type") == 4:
            issues.append(_choices((*where, "style"), [1, 2]))
        if not 1 <= len(str(text_input.get("custom_id", ""))) <= 100:
            issues.append(
                FieldError(
                    (*where, "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            )
        if not labelled and (
            error := _length_error((*where, "label"), len(str(text_input.get("label", ""))), 1, 45)
        ):
            issues.append(error)
        for key, hi in (("value", 4000), ("placeholder", 100)):
            if key in text_input and (
                error := _length_error((*where, key), len(str(text_input[key])), 0, hi)
            ):
                issues.append(error)
        if "max_length" in text_input and not 1 <= int(text_input["max_length"]) <= 4000:
            issues.append(
                FieldError((*where, "max_length"), "NUMBER_TYPE_MAX", "int value should be <= 4000.")
            )
    return issues


def _length_error(path: tuple[str, ...], n: int, lo: int | None, hi: int | None) -> FieldError | None:
    lo = lo or None  # a minimum of 0 is no minimum
    if (lo is None or n >= lo) and (hi is None or n <= hi):
        return None
    if lo is not None and hi is not None:
        return FieldError(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {lo} and {hi} in length.")
    if hi is not None:
        return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {hi} or fewer in length.")
    return FieldError(path, "BASE_TYPE_MIN_LENGTH", f"Must be {lo} or more in length.")


def _json_equal(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


class OpenAPISpec:
    """The vendored OpenAPI 3.1 document, used to validate request bodies.

    A small JSON Schema (2020-12 subset) validator of its own: ``$ref``, ``type``, ``const``,
    ``enum``, ``properties``/``required``/``additionalProperties``, ``items``, length, range,
    ``pattern``, ``uniqueItems``, ``allOf``/``anyOf``/``oneOf``. Two deliberate deviations, both
    matching the live API rather than the letter of the spec:

    * ``format: snowflake`` strings also accept non-negative integers (discord.py sends ids as
      ints in ``message_reference``, ``allowed_mentions``..., and Discord coerces them);
    * ``oneOf`` is checked like ``anyOf`` (the spec itself marks its request unions
      ``x-discord-union: oneOf`` over ``anyOf``, and Discord's parser picks the first match).

    Unknown properties are ignored, as Discord ignores them.
    """

    def __init__(self, path: Path = OPENAPI_PATH) -> None:
        with path.open(encoding="utf-8") as fh:
            spec = json.load(fh)
        self.paths: dict[str, JSONDict] = spec["paths"]
        self.schemas: dict[str, JSONDict] = spec["components"]["schemas"]

    @classmethod
    @functools.cache
    def load(cls) -> OpenAPISpec:
        return cls()

    def request_schema(self, template: str, method: str) -> JSONDict | None:
        operation = self.paths.get(template, {}).get(method.lower())
        if operation is None:
            return None
        content = operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return schema if isinstance(schema, dict) else None

    def validate(self, schema: JSONDict, value: Any, path: tuple[str, ...] = ()) -> list[FieldError]:
        issues: list[FieldError] = []
        self._check(schema, value, path, issues)
        return issues

    def _deref(self, ref: str) -> JSONDict:
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            raise ValueError(f"unsupported $ref {ref!r}")
        return self.schemas[ref[len(prefix) :]]

    def _resolve(self, schema: JSONDict) -> JSONDict:
        while "$ref" in schema and len(schema) == 1:
            schema = self._deref(schema["$ref"])
        return schema

    def _check(self, schema: JSONDict, value: Any, path: tuple[str, ...], out: list[FieldError]) -> None:
        if "$ref" in schema:
            self._check(self._deref(schema["$ref"]), value, path, out)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            if not siblings.keys() & _ASSERTION_KEYS:
                return
            schema = siblings

        declared = schema.get("type")
        if declared is not None:
            types = [declared] if isinstance(declared, str) else list(declared)
            if not any(self._is_type(value, t, schema) for t in types):
                out.append(self._type_error(value, types, schema, path))
                return

        if "const" in schema and not _json_equal(value, schema["const"]):
            out.append(_choices(path, [schema["const"]]))
            return
        if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
            out.append(_choices(path, schema["enum"]))
            return

        if isinstance(value, str):
            self._check_string(schema, value, path, out)
        elif _is_number(value):
            if "minimum" in schema and value < schema["minimum"]:
                out.append(
                    FieldError(
                        path,
                        "NUMBER_TYPE_MIN",
                        f"int value should be greater than or equal to {schema['minimum']}.",
                    )
                )
            if "maximum" in schema and value > schema["maximum"]:
                out.append(
                    FieldError(
                        path,
                        "NUMBER_TYPE_MAX",
                        f"int value should be less than or equal to {schema['maximum']}.",
                    )
                )
        elif isinstance(value, list):
            self._check_array(schema, value, path, out)
        elif isinstance(value, dict):
            self._check_object(schema, value, path, out)

        for sub in schema.get("allOf", ()):
            self._check(sub, value, path, out)
        union = schema.get("oneOf") or schema.get("anyOf")
        if union:
            self._check_union(union, value, path, out)

    @staticmethod
    def _is_type(value: Any, json_type: str, schema: JSONDict) -> bool:
        match json_type:
            case "null":
                return value is None
            case "boolean":
                return isinstance(value, bool)
            case "integer":
                return _is_int(value) or (isinstance(value, float) and value.is_integer())
            case "number":
                return _is_number(value)
            case "string":
                if isinstance(value, str):
                    return True
                return schema.get("format") == "snowflake" and _is_int(value) and value >= 0
            case "array":
                return isinstance(value, list)
            case "object":
                return isinstance(value, dict)
        return False

    @staticmethod
    def _type_error(value: Any, types: Sequence[str], schema: JSONDict, path: tuple[str, ...]) -> FieldError:
        if value is None:
            return FieldError(path, "BASE_TYPE_REQUIRED", "This field is required")
        if schema.get("format") == "snowflake":
            return FieldError(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
        wanted = next((t for t in types if t != "null"), "null")
        match wanted:
            case "integer":
                return FieldError(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not int.')
            case "number":
                return FieldError(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a number.')
            case "boolean":
                return FieldError(path, "BOOLEAN_TYPE_COERCE", f'Value "{value}" is not bool.')
            case "string":
                return FieldError(path, "STRING_TYPE_CONVERT", f'Could not interpret "{value}" as string.')
            case "array":
                return FieldError(path, "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
            case "object":
                return FieldError(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return FieldError(path, "BASE_TYPE_CHOICES", "Value must be null.")

    @staticmethod
    def _check_string(schema: JSONDict, value: str, path: tuple[str, ...], out: list[FieldError]) -> None:
        error = _length_error(path, len(value), schema.get("minLength"), schema.get("maxLength"))
        if error is not None:
            out.append(error)
            return
        pattern = schema.get("pattern")
        if pattern is not None and re.search(pattern, value) is None:
            if schema.get("format") == "snowflake":
                out.append(FieldError(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.'))
            else:
                out.append(
                    FieldError(path, "STRING_TYPE_REGEX", "String value did not match validation regex.")
                )
            return
        if schema.get("format") == "uri":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https", "attachment") or not (parts.netloc or parts.path):
                out.append(FieldError(path, "URL_TYPE_INVALID_URL", "Not a well formed URL."))

    def _check_array(
        self, schema: JSONDict, value: list[Any], path: tuple[str, ...], out: list[FieldError]
    ) -> None:
        error = _length_error(path, len(value), schema.get("minItems"), schema.get("maxItems"))
        if error is not None:
            out.append(error)
            return
        if schema.get("uniqueItems"):
            seen: set[str] = set()
            for index, item in enumerate(value):
                key = json.dumps(item, sort_keys=True)
                if key in seen:
                    out.append(
                        FieldError((*path, str(index)), "LIST_ITEM_VALUE_DUPLICATE", "Duplicate value.")
                    )
                seen.add(key)
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                self._check(items, item, (*path, str(index)), out)

    def _check_object(
        self, schema: JSONDict, value: JSONDict, path: tuple[str, ...], out: list[FieldError]
    ) -> None:
        error = _length_error(path, len(value), schema.get("minProperties"), schema.get("maxProperties"))
        if error is not None:
            out.append(error)
        for name in schema.get("required", ()):
            if name not in value:
                out.append(FieldError((*path, name), "BASE_TYPE_REQUIRED", "This field is required"))
        properties: JSONDict = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in properties:
                self._check(properties[name], item, (*path, name), out)
            elif isinstance(extra, dict):
                self._check(extra, item, (*path, name), out)

    def _const_of(self, branch: JSONDict) -> Any:
        resolved = self._resolve(branch)
        if "const" in resolved and set(resolved) <= _CONST_ONLY_KEYS:
            return resolved["const"]
        return _NO_CONST

    def _check_union(
        self, branches: Sequence[JSONDict], value: Any, path: tuple[str, ...], out: list[FieldError]
    ) -> None:
        attempts: list[tuple[JSONDict, list[FieldError]]] = []
        for branch in branches:
            errors: list[FieldError] = []
            self._check(branch, value, path, errors)
            if not errors:
                return
            attempts.append((branch, errors))
        consts = [self._const_of(b) for b in branches]
        if all(c is not _NO_CONST for c in consts):
            out.append(_choices(path, consts))
            return

        def score(attempt: tuple[JSONDict, list[FieldError]]) -> int:
            # Report the branch the value was most plausibly meant for: not "null", and one
            # whose discriminator ("type") matched.
            branch, errors = attempt
            if self._resolve(branch).get("type") == "null" and value is not None:
                return 1_000_000
            penalty = len(errors)
            for error in errors:
                if error.path == path:
                    penalty += 1000
                elif error.path == (*path, "type"):
                    penalty += 100
            return penalty

        out.extend(min(attempts, key=score)[1])


# --------------------------------------------------------------------------------------------
# Journal records
# --------------------------------------------------------------------------------------------


@dataclass
class UploadedFile:
    field_name: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """One REST call as the fake saw it, with the answer it gave."""

    index: int
    method: str
    path: str  # without the /api/v10 prefix and without the query
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: list[UploadedFile]
    template: str | None  # the route template that matched, e.g. "/channels/{channel_id}"
    status: int = 0
    response: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class GatewayFrame:
    """One gateway payload (decoded) or close, in either direction.

    ``direction`` is ``"sent"`` for fake -> client and ``"received"`` for client -> fake.
    A close (or a drop) is recorded with ``op=None``, ``close_code`` and ``d={"reason": ...}``.
    """

    index: int
    connection_id: int
    direction: str
    op: int | None
    t: str | None
    s: int | None
    d: Any
    close_code: int | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class InteractionRecord:
    """An interaction the fake dispatched, and what the bot did with it."""

    id: str
    token: str
    type: int
    application_id: str
    channel_id: str | None
    guild_id: str | None
    user_id: str
    data: JSONDict
    dispatched_at: float
    component_message_id: str | None = None
    callback_type: int | None = None
    callback_data: Any = None
    acknowledged_at: float | None = None
    original_message_id: str | None = None
    followup_ids: list[str] = field(default_factory=list)
    ephemeral: bool = False


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int | None
    status: int
    body: JSONDict
    headers: dict[str, str]


# --------------------------------------------------------------------------------------------
# Gateway connections and sessions
# --------------------------------------------------------------------------------------------


class _Compressor(Protocol):
    def compress(self, data: bytes) -> bytes: ...


class _ZlibStream:
    """Discord's ``zlib-stream``: one deflate stream per connection, every payload ending in
    a ``Z_SYNC_FLUSH`` (``00 00 ff ff``) so the client knows the message is complete."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


class _ZstdStream:
    """Discord's ``zstd-stream``: one zstd frame per connection, flushed per payload.

    Only used when a zstd implementation is importable (it is what discord.py asks for when it
    finds one, i.e. ``zstandard`` or Python 3.14's ``compression.zstd``).
    """

    def __init__(self) -> None:
        try:
            from compression import zstd

            compressor = zstd.ZstdCompressor()
            flush_block = zstd.ZstdCompressor.FLUSH_BLOCK
            self._compress: Callable[[bytes], bytes] = lambda data: compressor.compress(
                data, mode=flush_block
            )
        except ImportError:
            import zstandard

            stream = zstandard.ZstdCompressor().compressobj()
            flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
            self._compress = lambda data: stream.compress(data) + stream.flush(flush)

    def compress(self, data: bytes) -> bytes:
        return self._compress(data)


def _zstd_available() -> bool:
    for module in ("compression.zstd", "zstandard"):
        try:
            __import__(module)
        except ImportError:
            continue
        return True
    return False


@dataclass(eq=False)
class GatewayConnection:
    """One websocket connection to the fake gateway."""

    id: int
    path: str
    query: dict[str, str]
    ws: web.WebSocketResponse
    request: web.Request
    compressor: _Compressor | None
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: GatewaySession | None = None
    closed_by_server: bool = False
    open: bool = True
    close_code: int | None = None
    client_close_code: int | None = None

    @property
    def compression(self) -> str | None:
        return self.query.get("compress")


@dataclass(eq=False)
class GatewaySession:
    """A gateway session (what IDENTIFY creates and RESUME continues)."""

    id: str
    intents: int
    shard: tuple[int, int] | None
    seq: int = 0
    buffer: list[JSONDict] = field(default_factory=list)
    connection: GatewayConnection | None = None
    resumable: bool = True
    ready: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_MAX_REPLAY_BUFFER: Final = 5000


# --------------------------------------------------------------------------------------------
# REST routing
# --------------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    request: web.Request
    template: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[UploadedFile]


_Result = tuple[int, Any]
_Handler = Callable[[_Ctx], Awaitable[_Result]]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    handler: _Handler
    auth: bool
    regex: re.Pattern[str]
    bucket: str


_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def _template_regex(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        parts.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts))


def compile_path_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a journal path pattern: a regular expression matched against the whole path
    (no ``/api/v10`` prefix, no query), in which ``{name}`` matches one path segment."""
    if pattern.startswith(API_PREFIX):
        pattern = pattern[len(API_PREFIX) :]
    return re.compile(_PLACEHOLDER.sub("[^/]+", pattern))


_USER_MENTION: Final = re.compile(r"<@!?(\d{1,25})>")
_ROLE_MENTION: Final = re.compile(r"<@&(\d{1,25})>")


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------


class FakeDiscord:
    """A local Discord (REST v10 + gateway) for tests. See the module docstring.

    Use as ``async with FakeDiscord() as fake: ...`` or ``await fake.start()`` /
    ``await fake.stop()``. Point discord.py at it with :func:`discord_py_pointed_at`. Close
    discord.py clients before stopping the fake: a client whose gateway goes away keeps trying
    to reconnect, as it would against Discord.

    The default world's ids are attributes: ``guild_id``, ``text_channel_id`` (#support),
    ``general_channel_id``, ``category_id``, ``forum_channel_id`` with ``forum_tag_ids``,
    ``thread_id`` (an open thread in #support), ``user_id`` (alice), ``staff_user_id`` (bob,
    guild owner, "Support Staff" role ``staff_role_id``), ``bot_user_id`` == ``app_id``.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        message_content_intent: bool = True,
        members_intent: bool = False,
        presence_intent: bool = False,
        heartbeat_interval_ms: int = 41_250,
        interaction_ack_seconds: float = INTERACTION_ACK_SECONDS,
        interaction_token_seconds: float = INTERACTION_TOKEN_SECONDS,
        bot_username: str = "SupportBot",
    ) -> None:
        self._ids = _Snowflakes()
        self.app_id = self._ids.next()
        self.bot_user_id = self.app_id  # a bot user's id is its application's id
        # Same shape as a real bot token: base64(user id) . timestamp . hmac.
        self.token = (
            token or f"{_b64(self.bot_user_id)}.{secrets.token_urlsafe(4)}.{secrets.token_urlsafe(27)}"
        )
        self.granted_intents = GatewayIntent(0)
        if message_content_intent:
            self.granted_intents |= GatewayIntent.MESSAGE_CONTENT
        if members_intent:
            self.granted_intents |= GatewayIntent.GUILD_MEMBERS
        if presence_intent:
            self.granted_intents |= GatewayIntent.GUILD_PRESENCES
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_ack_seconds = interaction_ack_seconds
        self.interaction_token_seconds = interaction_token_seconds
        # what GET /gateway/bot recommends (`shards`); set it before a client asks
        self.recommended_shards = 1

        self.spec = OpenAPISpec.load()
        self.requests: list[RecordedRequest] = []
        self.frames: list[GatewayFrame] = []
        self.connections: list[GatewayConnection] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.interactions: dict[str, InteractionRecord] = {}
        self._faults: list[_Fault] = []
        self._changed = asyncio.Condition()
        self._connection_ids = itertools.count(1)

        # World state. Objects are stored in the shape the REST API returns them.
        self.users: dict[str, JSONDict] = {}
        self.guilds: dict[str, JSONDict] = {}
        self.roles: dict[str, dict[str, JSONDict]] = {}
        self.members: dict[str, dict[str, JSONDict]] = {}
        self.channels: dict[str, JSONDict] = {}
        self.messages: dict[str, dict[str, JSONDict]] = {}
        # (author, nonce) -> (channel, message, monotonic time): Create Message's enforce_nonce
        self._nonces: dict[tuple[str, str], tuple[str, str, float]] = {}
        self.nonce_window_seconds = NONCE_WINDOW_SECONDS
        self.thread_members: dict[str, dict[str, str]] = {}
        self.commands: dict[str | None, list[JSONDict]] = {None: []}
        self._command_ids: dict[tuple[str | None, int, str], str] = {}

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._routes = self._build_routes()
        self._seed_world(bot_username)
        # people's OAuth2 (Sign in with Discord): tests/fakes/discord_oauth.py
        self.oauth = FakeDiscordOAuth(self)

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._handle_api)
        for path in ("/", "/gateway", "/resume"):
            app.router.add_get(path, self._handle_gateway)
        app.router.add_get("/oauth2/authorize", self.oauth.authorize)
        app.router.add_route("*", "/{tail:.*}", self._handle_other)
        # A short shutdown timeout: stop() closes every websocket itself first.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])  # the ephemeral port the OS picked
        return self

    async def stop(self) -> None:
        for conn in list(self.connections):
            if conn.open:
                conn.closed_by_server = True
                # 1001 "going away": what a gateway node sends when it shuts down.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await conn.ws.close(code=1001, message=b"Going away")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be: ``http://127.0.0.1:<port>/api/v10``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be (no query; discord.py adds it)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """Sent in READY; a distinct path so tests can see that resumes use it."""
        return f"ws://127.0.0.1:{self.port}/resume"

    # ---------------------------------------------------------------- default world

    def _seed_world(self, bot_username: str) -> None:
        self.users[self.bot_user_id] = self._make_user(
            self.bot_user_id, bot_username, discriminator="4821", bot=True
        )
        self.user_id = self.add_user("alice", global_name="Alice")["id"]
        self.staff_user_id = self.add_user("bob", global_name="Bob (staff)")["id"]

        self.guild_id = self._ids.next()
        guild = load_fixture("docs_examples/resources-guild__example-guild.json")
        guild.update(
            id=self.guild_id,
            name="Fake Support Guild",
            icon=None,
            banner=None,
            description=None,
            owner_id=self.staff_user_id,
            features=["COMMUNITY"],
            vanity_url_code=None,
            premium_tier=0,
            premium_subscription_count=0,
            verification_level=1,
            mfa_level=0,
            nsfw_level=0,
            max_members=500_000,
            widget_enabled=False,
            premium_progress_bar_enabled=False,
        )
        self.guilds[self.guild_id] = guild
        self.roles[self.guild_id] = {}
        self.members[self.guild_id] = {}
        self._add_role(self.guild_id, "@everyone", _EVERYONE_PERMS, role_id=self.guild_id, position=0)
        self.staff_role_id = self._add_role(
            self.guild_id,
            "Support Staff",
            _EVERYONE_PERMS | P_MANAGE_MESSAGES | P_MANAGE_THREADS | P_MODERATE_MEMBERS,
            position=2,
            mentionable=True,
        )["id"]
        self.bot_role_id = self._add_role(
            self.guild_id,
            bot_username,
            _EVERYONE_PERMS | P_MANAGE_THREADS | P_CREATE_PRIVATE_THREADS | P_MANAGE_MESSAGES,
            position=1,
            managed=True,
            tags={"bot_id": self.bot_user_id},
        )["id"]
        self.add_member(self.guild_id, self.bot_user_id, roles=[self.bot_role_id])
        self.add_member(self.guild_id, self.user_id)
        self.add_member(self.guild_id, self.staff_user_id, roles=[self.staff_role_id])

        self.category_id = self.add_channel("Support", ChannelType.GUILD_CATEGORY)["id"]
        self.general_channel_id = self.add_channel("general", ChannelType.GUILD_TEXT)["id"]
        self.text_channel_id = self.add_channel(
            "support",
            ChannelType.GUILD_TEXT,
            parent_id=self.category_id,
            topic="Ask the support bot",
            default_auto_archive_duration=1440,
        )["id"]
        tags = [
            {
                "id": self._ids.next(),
                "name": name,
                "moderated": moderated,
                "emoji_id": None,
                "emoji_name": emoji,
            }
            for name, moderated, emoji in (
                ("question", False, "❓"),
                ("bug", False, "🐛"),
                ("resolved", True, "✅"),
            )
        ]
        self.forum_tag_ids: dict[str, str] = {str(t["name"]): str(t["id"]) for t in tags}
        self.forum_channel_id = self.add_channel(
            "help-forum",
            ChannelType.GUILD_FORUM,
            parent_id=self.category_id,
            topic="Post one question per thread",
            available_tags=tags,
        )["id"]
        guild.update(
            system_channel_id=self.general_channel_id,
            rules_channel_id=self.general_channel_id,
            public_updates_channel_id=self.general_channel_id,
            safety_alerts_channel_id=self.general_channel_id,
        )
        # An already-open ticket thread, so GUILD_CREATE carries an active thread.
        self.thread_id = self._new_thread(
            self.channels[self.text_channel_id],
            name="existing ticket",
            owner_id=self.user_id,
            thread_type=ChannelType.PUBLIC_THREAD,
        )["id"]

    def _make_user(
        self,
        user_id: str,
        username: str,
        *,
        discriminator: str = "0",
        global_name: str | None = None,
        bot: bool = False,
    ) -> JSONDict:
        user = load_fixture("docs_examples/resources-user__example-user.json")
        for private in ("email", "verified", "mfa_enabled", "locale", "premium_type", "flags"):
            user.pop(private, None)
        user.update(
            id=user_id,
            username=username,
            discriminator=discriminator,
            global_name=global_name,
            avatar=None,
            banner=None,
            accent_color=None,
            public_flags=0,
            avatar_decoration_data=None,
            collectibles=None,
            primary_guild=None,
        )
        if bot:
            user["bot"] = True
        return user

    def add_user(self, username: str, *, global_name: str | None = None, bot: bool = False) -> JSONDict:
        """Add a user (not a guild member; see :meth:`add_member`). Returns the user object."""
        user = self._make_user(self._ids.next(), username, global_name=global_name, bot=bot)
        self.users[user["id"]] = user
        return user

    def _add_role(
        self,
        guild_id: str,
        name: str,
        permissions: int,
        *,
        role_id: str | None = None,
        position: int = 1,
        managed: bool = False,
        mentionable: bool = False,
        tags: JSONDict | None = None,
    ) -> JSONDict:
        role = load_fixture("docs_examples/topics-permissions__example-role.json")
        role.update(
            id=role_id or self._ids.next(),
            name=name,
            color=0,
            hoist=False,
            icon=None,
            permissions=str(permissions),
            position=position,
            managed=managed,
            mentionable=mentionable,
            flags=0,
            colors={"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        )
        if tags is not None:
            role["tags"] = tags
        self.roles[guild_id][role["id"]] = role
        return role

    def add_member(
        self, guild_id: str, user_id: str, *, roles: Sequence[str] = (), nick: str | None = None
    ) -> JSONDict:
        """Make a user a member of a guild. Returns the member object (without ``user``)."""
        member = load_fixture("docs_examples/resources-guild__example-guild-member.json")
        member.pop("user", None)
        member.update(
            nick=nick,
            avatar=None,
            banner=None,
            roles=list(roles),
            joined_at=_now_iso(),
            premium_since=None,
            deaf=False,
            mute=False,
            flags=0,
            pending=False,
            communication_disabled_until=None,
        )
        self.members[guild_id][user_id] = member
        return member

    def add_guild(self, name: str, *, shard: tuple[int, int] | None = None) -> JSONDict:
        """Add a guild the bot and alice are members of (no channels yet: `add_channel` with
        its id). `shard=(id, count)` picks an id Discord routes to that shard. Added after a
        client connected, the client only learns about it if the test dispatches GUILD_CREATE."""
        guild_id = self._ids.next_on_shard(*shard) if shard is not None else self._ids.next()
        guild = copy.deepcopy(self.guilds[self.guild_id])
        guild.update(id=guild_id, name=name, owner_id=self.staff_user_id)
        for key in (
            "system_channel_id",
            "rules_channel_id",
            "public_updates_channel_id",
            "safety_alerts_channel_id",
        ):
            guild[key] = None
        self.guilds[guild_id] = guild
        self.roles[guild_id] = {}
        self.members[guild_id] = {}
        self._add_role(guild_id, "@everyone", _EVERYONE_PERMS, role_id=guild_id, position=0)
        bot_role = self._add_role(
            guild_id,
            self.users[self.bot_user_id]["username"],
            _EVERYONE_PERMS | P_MANAGE_THREADS | P_CREATE_PRIVATE_THREADS | P_MANAGE_MESSAGES,
            position=1,
            managed=True,
            tags={"bot_id": self.bot_user_id},
        )["id"]
        self.add_member(guild_id, self.bot_user_id, roles=[bot_role])
        self.add_member(guild_id, self.user_id)
        self.add_member(guild_id, self.staff_user_id)
        return guild

    def add_channel(
        self,
        name: str,
        channel_type: int,
        *,
        guild_id: str | None = None,
        parent_id: str | None = None,
        **extra: Any,
    ) -> JSONDict:
        """Add a guild channel (text, category, forum...). Returns the channel object.

        Added after a client connected, the client only learns about it if the test dispatches
        CHANNEL_CREATE itself.
        """
        guild_id = guild_id or self.guild_id
        channel = load_fixture("docs_examples/resources-channel__example-guild-text-channel.json")
        position = sum(1 for c in self.channels.values() if c.get("guild_id") == guild_id)
        channel.update(
            id=self._ids.next(),
            guild_id=guild_id,
            name=name,
            type=int(channel_type),
            position=position,
            permission_overwrites=[],
            rate_limit_per_user=0,
            nsfw=False,
            topic=None,
            last_message_id=None,
            parent_id=parent_id,
            flags=0,
        )
        if channel_type == ChannelType.GUILD_CATEGORY:
            for key in (
                "topic",
                "last_message_id",
                "rate_limit_per_user",
                "default_auto_archive_duration",
            ):
                channel.pop(key, None)
        if channel_type in _FORUM_TYPES:
            channel.update(
                available_tags=[],
                default_reaction_emoji=None,
                default_thread_rate_limit_per_user=0,
                default_sort_order=None,
                default_forum_layout=0,
            )
        channel.update(extra)
        self.channels[channel["id"]] = channel
        self.messages[channel["id"]] = {}
        return channel

    # ---------------------------------------------------------------- object views

    def user_payload(self, user_id: str) -> JSONDict:
        return copy.deepcopy(self.users[user_id])

    def _me_payload(self) -> JSONDict:
        me = self.user_payload(self.bot_user_id)
        me.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0, flags=0)
        return me

    def member_payload(
        self, guild_id: str, user_id: str, *, with_user: bool = True, with_permissions: bool = False
    ) -> JSONDict:
        member = copy.deepcopy(self.members[guild_id][user_id])
        if with_user:
            member["user"] = self.user_payload(user_id)
        if with_permissions:
            member["permissions"] = str(self.permissions_of(guild_id, user_id))
        return member

    def permissions_of(self, guild_id: str, user_id: str) -> int:
        """Guild-level permissions of a member (no channel overwrites)."""
        if self.guilds[guild_id].get("owner_id") == user_id:
            return P_ALL
        roles = self.roles[guild_id]
        value = int(roles[guild_id]["permissions"])
        for role_id in self.members[guild_id].get(user_id, {}).get("roles", []):
            value |= int(roles[role_id]["permissions"])
        return P_ALL if value & P_ADMINISTRATOR else value

    def channel_permissions_of(self, channel_id: str, user_id: str) -> int:
        """A member's permissions in a guild channel, in Discord's order: the guild's, then the
        channel's overwrites for @everyone, for the member's roles (together), for the member.
        A thread has its parent's; a DM, everything."""
        channel = self.channels[str(channel_id)]
        if channel["type"] in _THREAD_TYPES:
            channel = self.channels[str(channel["parent_id"])]
        guild_id = channel.get("guild_id")
        if guild_id is None:
            return P_ALL
        value = self.permissions_of(guild_id, user_id)
        if value == P_ALL:  # the owner, an administrator: overwrites do not apply
            return value
        overwrites = {o["id"]: o for o in channel.get("permission_overwrites", [])}
        roles = self.members[guild_id].get(user_id, {}).get("roles", [])
        for group in ([guild_id], roles, [user_id]):
            allow = deny = 0
            for target in group:
                if target in overwrites:
                    allow |= int(overwrites[target]["allow"])
                    deny |= int(overwrites[target]["deny"])
            value = (value & ~deny) | allow
        return value

    def get_channel(self, channel_id: str | int) -> JSONDict:
        return self.channels[str(channel_id)]

    def channel_messages(self, channel_id: str | int, *, include_ephemeral: bool = False) -> list[JSONDict]:
        """Messages of a channel, oldest first, as stored (REST shape). Ephemeral interaction
        replies are left out unless asked for: only their recipient ever sees them."""
        return [
            m
            for m in self.messages.get(str(channel_id), {}).values()
            if include_ephemeral or not m["flags"] & FLAG_EPHEMERAL
        ]

    def get_message(self, channel_id: str | int, message_id: str | int) -> JSONDict:
        return self.messages[str(channel_id)][str(message_id)]

    def guild_commands(self, guild_id: str | int | None = None) -> list[JSONDict]:
        """Registered application commands for a guild, or the global ones for ``None``."""
        return copy.deepcopy(self.commands.get(None if guild_id is None else str(guild_id), []))

    def _guild_create_payload(self, guild_id: str) -> JSONDict:
        guild = copy.deepcopy(self.guilds[guild_id])
        channels, threads = [], []
        for channel in self.channels.values():
            if channel.get("guild_id") != guild_id:
                continue
            if channel["type"] in _THREAD_TYPES:
                if not channel["thread_metadata"]["archived"]:
                    threads.append(copy.deepcopy(channel))
            else:
                item = copy.deepcopy(channel)
                item.pop("guild_id", None)  # GUILD_CREATE's channels carry no guild_id
                channels.append(item)
        members = [self.member_payload(guild_id, uid) for uid in self.members[guild_id]]
        guild.update(
            roles=copy.deepcopy(list(self.roles[guild_id].values())),
            channels=channels,
            threads=threads,
            members=members,
            member_count=len(members),
            joined_at=self.members[guild_id][self.bot_user_id]["joined_at"],
            large=False,
            unavailable=False,
            emojis=[],
            stickers=[],
            voice_states=[],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
            application_command_counts={},
            lazy=True,
        )
        return guild

    def _ready_payload(self, session: GatewaySession) -> JSONDict:
        ready: JSONDict = load_fixture("gateway/READY.json")["d"]
        ready.update(
            v=API_VERSION,
            user=self._me_payload(),
            guilds=[{"id": gid, "unavailable": True} for gid in self._guilds_for(session)],
            session_id=session.id,
            session_type="normal",
            resume_gateway_url=self.resume_gateway_url,
            application={"id": self.app_id, "flags": self.application_flags},
            private_channels=[],
            relationships=[],
            presences=[],
            guild_join_requests=[],
            user_settings={},
            geo_ordered_rtc_regions=["local"],
            _trace=['["fake-discord-gateway",{"micros":0}]'],
        )
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        return ready

    @property
    def application_flags(self) -> int:
        flags = APP_FLAG_APPLICATION_COMMAND_BADGE
        if self.granted_intents & GatewayIntent.MESSAGE_CONTENT:
            flags |= APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED
        if self.granted_intents & GatewayIntent.GUILD_MEMBERS:
            flags |= APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED
        if self.granted_intents & GatewayIntent.GUILD_PRESENCES:
            flags |= APP_FLAG_GATEWAY_PRESENCE_LIMITED
        return flags

    def _guilds_for(self, session: GatewaySession) -> list[str]:
        if session.shard is None:
            return list(self.guilds)
        shard_id, count = session.shard
        # Discord's routing: (guild_id >> 22) % num_shards.
        return [gid for gid in self.guilds if (int(gid) >> 22) % count == shard_id]

    # ---------------------------------------------------------------- journal & waiting

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _wait(self, find: Callable[[], Any], timeout: float, what: str) -> Any:
        async def waiter() -> Any:
            async with self._changed:
                await self._changed.wait_for(lambda: find() is not None)
                return find()

        try:
            return await asyncio.wait_for(waiter(), timeout)
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None

    def requests_matching(
        self,
        method: str,
        path_pattern: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        *,
        after: int = 0,
    ) -> list[RecordedRequest]:
        """Recorded REST calls (from index ``after``) matching method, path pattern, predicate."""
        regex = compile_path_pattern(path_pattern)
        return [
            r
            for r in self.requests[after:]
            if (method == "*" or r.method == method.upper())
            and regex.fullmatch(r.path)
            and (predicate is None or predicate(r))
        ]

    async def wait_for_request(
        self,
        method: str,
        path_pattern: str,
        predicate: Callable[[RecordedRequest], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> RecordedRequest:
        """The first REST call (at journal index >= ``after``; default: any, including ones
        already made) matching ``method`` (or ``"*"``) and ``path_pattern`` (see
        :func:`compile_path_pattern`), e.g. ``"/channels/{id}/messages"``. Waits on a condition
        notified by every request, so it never sleeps-and-polls."""

        def find() -> RecordedRequest | None:
            found = self.requests_matching(method, path_pattern, predicate, after=after)
            return found[0] if found else None

        result: RecordedRequest = await self._wait(find, timeout, f"{method} {path_pattern}")
        return result

    def frames_matching(
        self,
        direction: str | None = None,
        *,
        op: int | None = None,
        event: str | None = None,
        predicate: Callable[[GatewayFrame], bool] | None = None,
        after: int = 0,
    ) -> list[GatewayFrame]:
        return [
            f
            for f in self.frames[after:]
            if (direction is None or f.direction == direction)
            and (op is None or f.op == op)
            and (event is None or f.t == event)
            and (predicate is None or predicate(f))
        ]

    async def wait_for_frame(
        self,
        direction: str | None = None,
        *,
        op: int | None = None,
        event: str | None = None,
        predicate: Callable[[GatewayFrame], bool] | None = None,
        timeout: float = 5.0,
        after: int = 0,
    ) -> GatewayFrame:
        """The first gateway frame (index >= ``after``) with the given direction (``"sent"`` =
        fake -> client, ``"received"`` = client -> fake), opcode and/or dispatch name."""

        def find() -> GatewayFrame | None:
            found = self.frames_matching(direction, op=op, event=event, predicate=predicate, after=after)
            return found[0] if found else None

        result: GatewayFrame = await self._wait(find, timeout, f"gateway frame {direction} op={op} t={event}")
        return result

    async def wait_until_connected(self, timeout: float = 5.0) -> GatewaySession:
        """A session that has been sent READY (or RESUMED) on a connection that is still open."""

        def find() -> GatewaySession | None:
            for session in self.sessions.values():
                if session.ready and session.connection is not None and session.connection.open:
                    return session
            return None

        result: GatewaySession = await self._wait(find, timeout, "a connected gateway session")
        return result

    def _record_frame(self, conn: GatewayConnection, direction: str, payload: JSONDict) -> None:
        self.frames.append(
            GatewayFrame(
                index=len(self.frames),
                connection_id=conn.id,
                direction=direction,
                op=payload.get("op"),
                t=payload.get("t"),
                s=payload.get("s"),
                d=payload.get("d"),
            )
        )

    def _record_close(self, conn: GatewayConnection, direction: str, code: int | None, reason: str) -> None:
        self.frames.append(
            GatewayFrame(
                index=len(self.frames),
                connection_id=conn.id,
                direction=direction,
                op=None,
                t=None,
                s=None,
                d={"reason": reason},
                close_code=code,
            )
        )

    # ---------------------------------------------------------------- scripted faults

    def rate_limit(
        self,
        method: str,
        path_pattern: str,
        times: int | None = 1,
        retry_after: float = 0.1,
        global_: bool = False,
        scope: str | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls (``None``: all) with a 429 exactly as Discord
        does: JSON ``{"message": "You are being rate limited.", "retry_after": x, "global": g,
        "code": 0}`` plus ``Retry-After``, ``X-RateLimit-*`` (Limit, Remaining, Reset,
        Reset-After, Bucket, Scope, and Global for global limits) and ``Via: 1.1 google``
        (discord.py treats a 429 without ``Via`` as a Cloudflare ban and does not retry)."""
        scope = scope or ("global" if global_ else "user")
        reset = time.time() + retry_after
        headers = {
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if global_:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{reset:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": self._bucket_for(method, path_pattern),
                }
            )
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": global_,
            "code": 0,
        }
        self._add_fault(method, path_pattern, times, 429, body, headers)

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        code: int = 0,
        message: str | None = None,
        times: int | None = 1,
        errors: JSONDict | None = None,
    ) -> None:
        """Answer the next ``times`` matching calls (``None``: all) with ``status`` and Discord's
        error body, e.g. ``fail("POST", "/channels/{id}/messages", 403, 50013, "Missing
        Permissions")`` or ``fail("GET", "/channels/{id}", 404, 10003, "Unknown Channel")``.
        Without ``message``, uses Discord's generic ``"<status>: <reason>"`` text."""
        if message is None:
            message = f"{status}: {_reason(status)}"
        body: JSONDict = {"message": message, "code": code}
        if errors is not None:
            body["errors"] = errors
        self._add_fault(method, path_pattern, times, status, body, {})

    def clear_faults(self) -> None:
        self._faults.clear()

    def _add_fault(
        self,
        method: str,
        path_pattern: str,
        times: int | None,
        status: int,
        body: JSONDict,
        headers: dict[str, str],
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        self._faults.append(
            _Fault(method.upper(), compile_path_pattern(path_pattern), times, status, body, headers)
        )

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.fullmatch(path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _bucket_for(self, method: str, template: str) -> str:
        return hashlib.sha1(f"{method.upper()} {template}".encode()).hexdigest()[:32]

    # ---------------------------------------------------------------- gateway: server side

    async def _handle_gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoclose=False)
        if not ws.can_prepare(request).ok:
            raise web.HTTPBadRequest(text="Expected a websocket upgrade")
        await ws.prepare(request)
        query = dict(request.query)
        compress = query.get("compress")
        compressor: _Compressor | None = None
        problem: tuple[int, str] | None = None
        if compress == "zlib-stream":
            compressor = _ZlibStream()
        elif compress == "zstd-stream" and _zstd_available():
            compressor = _ZstdStream()
        elif compress:
            problem = (GatewayClose.UNKNOWN_ERROR, f"Unsupported compression {compress!r}.")
        if query.get("v", str(API_VERSION)) != str(API_VERSION):
            problem = (
                GatewayClose.INVALID_API_VERSION,
                _CLOSE_REASONS[GatewayClose.INVALID_API_VERSION],
            )
        if query.get("encoding", "json") != "json":
            problem = (GatewayClose.DECODE_ERROR, "This fake speaks encoding=json only.")

        conn = GatewayConnection(
            id=next(self._connection_ids),
            path=request.path,
            query=query,
            ws=ws,
            request=request,
            compressor=compressor,
        )
        self.connections.append(conn)
        try:
            if problem is not None:
                await self._close(conn, problem[0], problem[1])
                return ws
            await self._send(
                conn,
                {
                    "op": Op.HELLO,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ['["fake-discord-gateway",{"micros":0}]'],
                    },
                },
            )
            while True:
                msg = await ws.receive()
                if msg.type is WSMsgType.CLOSE:
                    # Keep the code of the client's first close frame (autoclose is off so
                    # the answer to our own close frame cannot overwrite it), then answer it.
                    conn.client_close_code = msg.data
                    await ws.close()
                    break
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break  # CLOSING, CLOSED or ERROR: the connection is gone
                try:
                    raw = msg.data if isinstance(msg.data, str) else msg.data.decode("utf-8")
                    payload = json.loads(raw)
                    if not isinstance(payload, dict):
                        raise ValueError("payload is not an object")
                except (ValueError, UnicodeDecodeError):
                    await self._close(
                        conn, GatewayClose.DECODE_ERROR, _CLOSE_REASONS[GatewayClose.DECODE_ERROR]
                    )
                    break
                self._record_frame(conn, "received", payload)
                await self._notify()
                await self._on_client_payload(conn, payload)
                if ws.closed:
                    break
        except ConnectionResetError:
            pass
        finally:
            await self._connection_ended(conn)
        return ws

    async def _connection_ended(self, conn: GatewayConnection) -> None:
        if not conn.open:
            return
        conn.open = False
        code = conn.close_code if conn.closed_by_server else conn.client_close_code
        if not conn.closed_by_server:
            conn.close_code = code
            self._record_close(conn, "received", code, "closed by the client")
        session = conn.session
        if session is not None and session.connection is conn:
            session.connection = None
            # A client closing with 1000/1001 ends its session (Discord shows the bot offline).
            if not conn.closed_by_server and code in (1000, 1001):
                session.resumable = False
        await self._notify()

    async def _send(self, conn: GatewayConnection, payload: JSONDict) -> bool:
        async with conn.send_lock:
            if not conn.open or conn.ws.closed:
                return False
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            try:
                if conn.compressor is not None:
                    await conn.ws.send_bytes(conn.compressor.compress(text.encode("utf-8")))
                else:
                    await conn.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return False
            self._record_frame(conn, "sent", payload)
        await self._notify()
        return True

    async def _close(self, conn: GatewayConnection, code: int, reason: str) -> None:
        conn.closed_by_server = True
        conn.close_code = code
        if conn.session is not None and code in _NON_RESUMABLE_CLOSES:
            conn.session.resumable = False
        self._record_close(conn, "sent", code, reason)
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.close(code=code, message=reason.encode("utf-8"))
        await self._connection_ended(conn)

    async def _on_client_payload(self, conn: GatewayConnection, payload: JSONDict) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == Op.HEARTBEAT:
            await self._send(conn, {"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._on_identify(conn, data)
        elif op == Op.RESUME:
            await self._on_resume(conn, data)
        elif conn.session is None:
            await self._close(
                conn, GatewayClose.NOT_AUTHENTICATED, _CLOSE_REASONS[GatewayClose.NOT_AUTHENTICATED]
            )
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._on_request_members(conn, data)
        elif op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE, Op.REQUEST_SOUNDBOARD_SOUNDS):
            pass  # accepted and recorded; the fake has no presence or voice state
        else:
            await self._close(conn, GatewayClose.UNKNOWN_OPCODE, _CLOSE_REASONS[GatewayClose.UNKNOWN_OPCODE])

    async def _on_identify(self, conn: GatewayConnection, data: Any) -> None:
        if conn.session is not None:
            await self._close(
                conn,
                GatewayClose.ALREADY_AUTHENTICATED,
                _CLOSE_REASONS[GatewayClose.ALREADY_AUTHENTICATED],
            )
            return
        properties = data.get("properties") if isinstance(data, dict) else None
        if not isinstance(properties, dict) or not {"os", "browser", "device"} <= properties.keys():
            await self._close(conn, GatewayClose.DECODE_ERROR, _CLOSE_REASONS[GatewayClose.DECODE_ERROR])
            return
        assert isinstance(data, dict)
        if data.get("token") != self.token:
            await self._close(
                conn,
                GatewayClose.AUTHENTICATION_FAILED,
                _CLOSE_REASONS[GatewayClose.AUTHENTICATION_FAILED],
            )
            return
        intents = data.get("intents")
        if not _is_int(intents) or intents < 0 or intents & ~_ALL_INTENTS:
            await self._close(
                conn, GatewayClose.INVALID_INTENTS, _CLOSE_REASONS[GatewayClose.INVALID_INTENTS]
            )
            return
        if intents & _PRIVILEGED & ~int(self.granted_intents):
            await self._close(
                conn,
                GatewayClose.DISALLOWED_INTENTS,
                _CLOSE_REASONS[GatewayClose.DISALLOWED_INTENTS],
            )
            return
        shard: tuple[int, int] | None = None
        raw_shard = data.get("shard")
        if raw_shard is not None:
            if (
                not isinstance(raw_shard, list)
                or len(raw_shard) != 2
                or not all(map(_is_int, raw_shard))
                or not 0 <= raw_shard[0] < raw_shard[1]
            ):
                await self._close(
                    conn, GatewayClose.INVALID_SHARD, _CLOSE_REASONS[GatewayClose.INVALID_SHARD]
                )
                return
            shard = (raw_shard[0], raw_shard[1])

        session = GatewaySession(id=secrets.token_hex(16), intents=intents, shard=shard)
        self.sessions[session.id] = session
        async with session.lock:
            conn.session = session
            session.connection = conn
            await self._dispatch_locked(session, "READY", self._ready_payload(session))
            for guild_id in self._guilds_for(session):
                await self._dispatch_locked(session, "GUILD_CREATE", self._guild_create_payload(guild_id))
            session.ready = True
        await self._notify()

    async def _on_resume(self, conn: GatewayConnection, data: Any) -> None:
        if conn.session is not None:
            await self._close(
                conn,
                GatewayClose.ALREADY_AUTHENTICATED,
                _CLOSE_REASONS[GatewayClose.ALREADY_AUTHENTICATED],
            )
            return
        if not isinstance(data, dict):
            await self._close(conn, GatewayClose.DECODE_ERROR, _CLOSE_REASONS[GatewayClose.DECODE_ERROR])
            return
        if data.get("token") != self.token:
            await self._close(
                conn,
                GatewayClose.AUTHENTICATION_FAILED,
                _CLOSE_REASONS[GatewayClose.AUTHENTICATION_FAILED],
            )
            return
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq")
        oldest = session.buffer[0]["s"] if session and session.buffer else 1
        if (
            session is None
            or not session.resumable
            or not _is_int(seq)
            or seq > session.seq
            or seq < oldest - 1
        ):
            # Not resumable: tell the client to IDENTIFY afresh (d=false), as Discord does.
            await self._send(conn, {"op": Op.INVALID_SESSION, "d": False})
            return
        async with session.lock:
            previous = session.connection
            if previous is not None and previous is not conn and previous.open:
                await self._close(previous, GatewayClose.UNKNOWN_ERROR, "Session resumed elsewhere.")
            conn.session = session
            session.connection = conn
            for payload in session.buffer:
                if payload["s"] > seq:
                    await self._send(conn, payload)
            await self._dispatch_locked(
                session, "RESUMED", {"_trace": ['["fake-discord-gateway",{"micros":0}]']}
            )
            session.ready = True
        await self._notify()

    async def _on_request_members(self, conn: GatewayConnection, data: Any) -> None:
        session = conn.session
        if session is None or not isinstance(data, dict) or str(data.get("guild_id")) not in self.guilds:
            return
        guild_id = str(data["guild_id"])
        wanted = {str(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            self.member_payload(guild_id, uid)
            for uid in self.members[guild_id]
            if (not wanted or uid in wanted) and self.users[uid]["username"].lower().startswith(query)
        ]
        chunk: JSONDict = {
            "guild_id": guild_id,
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
        }
        if wanted:
            chunk["not_found"] = sorted(wanted - {m["user"]["id"] for m in members})
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        async with session.lock:
            await self._dispatch_locked(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _dispatch_locked(self, session: GatewaySession, event: str, data: Any) -> None:
        session.seq += 1
        payload = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
        session.buffer.append(payload)
        del session.buffer[:-_MAX_REPLAY_BUFFER]
        conn = session.connection
        if conn is not None and conn.open:
            await self._send(conn, payload)

    # ---------------------------------------------------------------- gateway: test controls

    async def dispatch(self, event: str, data: JSONDict) -> int:
        """Send a dispatch (op 0) with each session's next sequence number, as Discord would:
        only to sessions whose intents cover the event, with message content blanked for
        sessions without MESSAGE_CONTENT (unless the bot is mentioned/the author, or in DMs).
        A session whose connection is down gets it on RESUME. INTERACTION_CREATE starts the
        interaction's 3-second acknowledgement clock. Returns how many sessions got it."""
        if not any(s.resumable for s in self.sessions.values()):
            raise RuntimeError("no gateway session: wait_until_connected() before dispatching")
        if event == "INTERACTION_CREATE":
            self._register_interaction(data)
        return await self._broadcast(event, data)

    async def _broadcast(self, event: str, data: JSONDict) -> int:
        delivered = 0
        for session in list(self.sessions.values()):
            if not session.resumable:
                continue
            payload = self._deliverable(session, event, data)
            if payload is None:
                continue
            async with session.lock:
                await self._dispatch_locked(session, event, payload)
            delivered += 1
        return delivered

    async def dispatch_raw(self, event: str, data: Any) -> int:
        """Send a dispatch whose ``d`` is exactly ``data`` (any JSON value, malformed on purpose)
        to every session, as the next item of its sequence, without :meth:`dispatch`'s routing,
        intent filtering or interaction bookkeeping, none of which can read a payload Discord
        would never send. For testing how a client copes with one. Returns how many sessions
        got it."""
        delivered = 0
        for session in list(self.sessions.values()):
            if session.resumable:
                async with session.lock:
                    await self._dispatch_locked(session, event, copy.deepcopy(data))
                delivered += 1
        return delivered

    def _deliverable(self, session: GatewaySession, event: str, data: JSONDict) -> JSONDict | None:
        in_guild = data.get("guild_id") is not None or event.startswith("GUILD_")
        if session.shard is not None:
            # Discord's routing: a guild's events on shard (guild_id >> 22) % count, DMs on 0
            shard_id, count = session.shard
            guild_id = data.get("guild_id") or (data.get("id") if event.startswith("GUILD_") else None)
            on = (int(guild_id) >> 22) % count if guild_id else 0
            if on != shard_id:
                return None
        needed = (_GUILD_EVENT_INTENTS if in_guild else _DM_EVENT_INTENTS).get(event)
        if needed is not None and not session.intents & needed:
            return None
        data = copy.deepcopy(data)
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and in_guild
            and not session.intents & GatewayIntent.MESSAGE_CONTENT
            and data.get("author", {}).get("id") != self.bot_user_id
            and not any(u.get("id") == self.bot_user_id for u in data.get("mentions", []))
        ):
            # Discord's message-content gate: the fields arrive empty, not missing.
            data.update(content="", embeds=[], attachments=[], components=[])
            data.pop("poll", None)
        return data

    async def send_reconnect(self) -> None:
        """Send op 7 RECONNECT on every open connection (the client should RESUME)."""
        for conn in self._open_connections():
            await self._send(conn, {"op": Op.RECONNECT, "d": None})

    async def request_heartbeat(self) -> None:
        """Send op 1 HEARTBEAT (the client must answer with a heartbeat immediately)."""
        for conn in self._open_connections():
            await self._send(conn, {"op": Op.HEARTBEAT, "d": None})

    async def invalidate_session(self, resumable: bool = False, *, shard: int | None = None) -> None:
        """Send op 9 INVALID_SESSION (to ``shard``'s connection only, if given). With
        ``resumable=False`` the session is discarded too."""
        for conn in self._open_connections(shard):
            if not resumable and conn.session is not None:
                conn.session.resumable = False
            await self._send(conn, {"op": Op.INVALID_SESSION, "d": resumable})

    async def close_connection(
        self, code: int = GatewayClose.UNKNOWN_ERROR, reason: str = "Unknown error."
    ) -> None:
        """Close every open connection with a close frame carrying ``code``."""
        for conn in self._open_connections():
            await self._close(conn, code, reason)

    async def drop_connection(self, *, shard: int | None = None) -> None:
        """Cut every open connection (``shard``'s only, if given) without a close frame (a
        network failure). Sessions stay resumable and keep buffering dispatches for replay."""
        for conn in self._open_connections(shard):
            conn.closed_by_server = True
            conn.close_code = None
            self._record_close(conn, "sent", None, "dropped without a close frame")
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
            await self._connection_ended(conn)

    def _open_connections(self, shard: int | None = None) -> list[GatewayConnection]:
        return [
            c
            for c in self.connections
            if c.open
            and (
                shard is None
                or (c.session is not None and c.session.shard is not None and c.session.shard[0] == shard)
            )
        ]

    # ---------------------------------------------------------------- payload builders

    def _dm_channel_for(self, user_id: str) -> JSONDict:
        for channel in self.channels.values():
            if channel["type"] == ChannelType.DM and channel["recipients"][0]["id"] == user_id:
                return channel
        dm = load_fixture("docs_examples/resources-channel__example-dm-channel.json")
        dm.update(
            id=self._ids.next(),
            type=int(ChannelType.DM),
            last_message_id=None,
            flags=0,
            recipients=[self.user_payload(user_id)],
        )
        self.channels[dm["id"]] = dm
        self.messages[dm["id"]] = {}
        return dm

    def build_message_create(
        self,
        content: str,
        *,
        channel_id: str | int | None = None,
        author_id: str | int | None = None,
        dm: bool = False,
        mention_bot: bool = False,
        reply_to: str | int | None = None,
        embeds: Sequence[JSONDict] = (),
    ) -> JSONDict:
        """A MESSAGE_CREATE ``d`` for a message a user posts (default: alice in #support), built
        from the docs' example message. ``dm=True`` posts in the author's DM with the bot;
        ``channel_id=fake.thread_id`` posts in a thread. The message is stored, so the bot can
        reply to it or start a thread from it. Dispatch it with :meth:`dispatch`."""
        author = str(author_id or self.user_id)
        if author not in self.users:
            raise KeyError(f"unknown user {author}")
        channel = (
            self._dm_channel_for(author) if dm else self.channels[str(channel_id or self.text_channel_id)]
        )
        if mention_bot and f"<@{self.bot_user_id}>" not in content:
            content = f"<@{self.bot_user_id}> {content}"
        replied = self.messages[channel["id"]].get(str(reply_to)) if reply_to is not None else None
        if reply_to is not None and replied is None:
            raise KeyError(f"no message {reply_to} in channel {channel['id']}")
        message = self._create_message(
            channel,
            author_id=author,
            body={"content": content, "embeds": list(embeds)},
            replied=replied,
            template=load_fixture("gateway/MESSAGE_CREATE.json")["d"],
        )
        return self._gateway_message(message)

    def build_thread_create(
        self,
        name: str,
        *,
        parent_id: str | int | None = None,
        owner_id: str | int | None = None,
        applied_tags: Sequence[str] = (),
        starter_content: str = "",
    ) -> JSONDict:
        """A THREAD_CREATE ``d`` for a thread a user opens (default: a forum post by alice),
        from the docs' example thread channel. Forum posts get a starter message (same id as the
        thread) holding ``starter_content``; find it with :meth:`channel_messages`."""
        parent = self.channels[str(parent_id or self.forum_channel_id)]
        owner = str(owner_id or self.user_id)
        thread = self._new_thread(
            parent,
            name=name,
            owner_id=owner,
            thread_type=ChannelType.PUBLIC_THREAD,
            applied_tags=applied_tags,
            template=load_fixture("gateway/THREAD_CREATE.json")["d"],
        )
        if parent["type"] in _FORUM_TYPES:
            self._create_message(
                thread, author_id=owner, body={"content": starter_content}, message_id=thread["id"]
            )
        payload = copy.deepcopy(thread)
        payload["newly_created"] = True
        return payload

    def _find_command(self, name: str, command_type: int, guild_id: str | None) -> JSONDict | None:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == command_type:
                    return command
        return None

    def _interaction_base(self, interaction_type: int, *, user_id: str, channel: JSONDict) -> JSONDict:
        base: JSONDict = load_fixture("gateway/INTERACTION_CREATE.slash_command.json")["d"]
        guild_id = channel.get("guild_id")
        base.update(
            id=self._ids.next(),
            application_id=self.app_id,
            type=interaction_type,
            token=secrets.token_urlsafe(96),
            version=1,
            channel_id=channel["id"],
            channel=copy.deepcopy(channel),
            locale="en-US",
            entitlements=[],
            attachment_size_limit=10 * 1024 * 1024,
        )
        if guild_id is not None:
            base.update(
                guild_id=guild_id,
                guild_locale="en-US",
                guild={
                    "id": guild_id,
                    "locale": "en-US",
                    "features": self.guilds[guild_id]["features"],
                },
                member=self.member_payload(guild_id, user_id, with_permissions=True),
                app_permissions=str(self.permissions_of(guild_id, self.bot_user_id)),
                authorizing_integration_owners={"0": guild_id},
                context=0,
            )
        else:
            for key in ("guild_id", "guild_locale", "member"):
                base.pop(key, None)
            base.update(
                user=self.user_payload(user_id),
                app_permissions=str(_EVERYONE_PERMS),
                authorizing_integration_owners={"0": self.user_id},
                context=1,
            )
        return base

    def build_slash_command(
        self,
        command: str = "support",
        subcommand: str | None = "ask",
        options: Mapping[str, Any] | None = None,
        *,
        group: str | None = None,
        user_id: str | int | None = None,
        channel_id: str | int | None = None,
        dm: bool = False,
    ) -> JSONDict:
        """An INTERACTION_CREATE ``d`` for ``/command [group] [subcommand] option:value...``,
        from the docs' example slash-command interaction. If the command was registered (by a
        bulk overwrite), its id, guild_id and option types are used, as Discord would; otherwise
        option types are inferred from the Python values (str/int/bool/float). Dispatching it
        starts the 3 s acknowledgement clock."""
        user = str(user_id or self.user_id)
        channel = self._dm_channel_for(user) if dm else self.channels[str(channel_id or self.text_channel_id)]
        guild_id = channel.get("guild_id")
        registered = self._find_command(command, 1, guild_id)
        option_specs: list[JSONDict] = registered.get("options", []) if registered else []
        for name in (group, subcommand):
            if name is None:
                continue
            spec = next((o for o in option_specs if o["name"] == name), None)
            if registered is not None and spec is None:
                raise KeyError(f"/{command} has no subcommand (group) {name!r}")
            option_specs = (spec or {}).get("options", [])

        resolved: JSONDict = {}
        leaf = [
            self._option_value(name, value, option_specs, resolved, guild_id)
            for name, value in (options or {}).items()
        ]
        tree: list[JSONDict] = leaf
        if subcommand is not None:
            tree = [{"type": _OPTION_SUBCOMMAND, "name": subcommand, "options": tree}]
        if group is not None:
            tree = [{"type": _OPTION_SUBCOMMAND_GROUP, "name": group, "options": tree}]
        data: JSONDict = {
            "id": registered["id"] if registered else self._ids.next(),
            "name": command,
            "type": 1,
            "options": tree,
        }
        if registered is not None and registered.get("guild_id"):
            data["guild_id"] = registered["guild_id"]
        if resolved:
            data["resolved"] = resolved
        base = self._interaction_base(2, user_id=user, channel=channel)
        base["data"] = data
        return base

    def _option_value(
        self,
        name: str,
        value: Any,
        specs: Sequence[JSONDict],
        resolved: JSONDict,
        guild_id: str | None,
    ) -> JSONDict:
        spec = next((o for o in specs if o["name"] == name), None)
        if spec is not None:
            option_type = int(spec["type"])
        elif isinstance(value, bool):
            option_type = _OPTION_BOOLEAN
        elif isinstance(value, int):
            option_type = _OPTION_INTEGER
        elif isinstance(value, float):
            option_type = _OPTION_NUMBER
        else:
            option_type = _OPTION_STRING
        if option_type in (_OPTION_USER, _OPTION_MENTIONABLE) and str(value) in self.users:
            resolved.setdefault("users", {})[str(value)] = self.user_payload(str(value))
            if guild_id and str(value) in self.members[guild_id]:
                member = self.member_payload(guild_id, str(value), with_user=False, with_permissions=True)
                resolved.setdefault("members", {})[str(value)] = member
            value = str(value)
        elif option_type == _OPTION_CHANNEL and str(value) in self.channels:
            channel = self.channels[str(value)]
            resolved.setdefault("channels", {})[str(value)] = {
                "id": channel["id"],
                "name": channel.get("name"),
                "type": channel["type"],
                "permissions": str(P_ALL),
                "parent_id": channel.get("parent_id"),
                **({"thread_metadata": channel["thread_metadata"]} if "thread_metadata" in channel else {}),
            }
            value = str(value)
        elif (
            option_type in (_OPTION_ROLE, _OPTION_MENTIONABLE)
            and guild_id
            and str(value) in self.roles[guild_id]
        ):
            resolved.setdefault("roles", {})[str(value)] = copy.deepcopy(self.roles[guild_id][str(value)])
            value = str(value)
        return {"type": option_type, "name": name, "value": value}

    def build_button_press(
        self,
        custom_id: str,
        *,
        message_id: str | int | None = None,
        channel_id: str | int | None = None,
        user_id: str | int | None = None,
        component_type: int = 2,
        values: Sequence[str] | None = None,
    ) -> JSONDict:
        """An INTERACTION_CREATE ``d`` for pressing a button (or using a select menu with
        ``component_type``/``values``) with ``custom_id`` on a message. With ``message_id`` the
        stored message must carry that component; without it a bot message holding the button
        is created first (as if the bot had posted it earlier)."""
        user = str(user_id or self.user_id)
        channel = self.channels[str(channel_id or self.text_channel_id)]
        if message_id is not None:
            message = self.messages[channel["id"]][str(message_id)]
            if custom_id not in _custom_ids(message.get("components", [])):
                raise KeyError(f"message {message_id} has no component with custom_id {custom_id!r}")
        else:
            row = {
                "type": 1,
                "components": [{"type": 2, "style": 1, "label": custom_id[:80], "custom_id": custom_id}],
            }
            message = self._create_message(channel, author_id=self.bot_user_id, body={"components": [row]})
        base = self._interaction_base(3, user_id=user, channel=channel)
        data: JSONDict = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        base["data"] = data
        base["message"] = copy.deepcopy(message)
        return base

    def build_modal_submit(
        self, interaction_id: str, values: Mapping[str, str], *, user_id: str | int | None = None
    ) -> JSONDict:
        """An INTERACTION_CREATE ``d`` for submitting the modal the bot opened in answer to
        interaction ``interaction_id`` (callback type 9), with ``values`` typed into its text
        inputs by custom id (the others keep their prefilled value). As on Discord: type 5,
        ``data.custom_id`` the modal's, ``data.components`` the inputs' rows with their
        ``value``s, and ``message`` the one whose button opened it."""
        record = self.interactions[str(interaction_id)]
        if record.callback_type != 9:
            raise ValueError(f"interaction {interaction_id} was not answered with a modal")
        modal: JSONDict = record.callback_data or {}
        unknown = set(values) - {i.get("custom_id") for i in _modal_inputs(modal.get("components", []))}
        if unknown:
            raise KeyError(f"the modal has no text input {sorted(unknown)}")
        rows: list[JSONDict] = []
        for row in modal.get("components", []):
            if row.get("type") == 18:  # a label around one input
                inner = row["component"]
                rows.append({"type": 18, "component": _submitted(inner, values)})
            elif row.get("type") == 1:
                rows.append({"type": 1, "components": [_submitted(c, values) for c in row["components"]]})
        channel = self.channels[record.channel_id or self.text_channel_id]
        base = self._interaction_base(5, user_id=str(user_id or record.user_id), channel=channel)
        base["data"] = {"custom_id": modal["custom_id"], "components": rows}
        if record.component_message_id is not None:
            base["message"] = copy.deepcopy(self.messages[channel["id"]][record.component_message_id])
        return base

    def _register_interaction(self, data: JSONDict) -> InteractionRecord:
        user = data.get("member", {}).get("user") or data.get("user") or {}
        record = InteractionRecord(
            id=str(data["id"]),
            token=str(data["token"]),
            type=int(data["type"]),
            application_id=str(data.get("application_id", self.app_id)),
            channel_id=str(data["channel_id"]) if data.get("channel_id") else None,
            guild_id=str(data["guild_id"]) if data.get("guild_id") else None,
            user_id=str(user.get("id", "")),
            data=copy.deepcopy(data),
            dispatched_at=time.monotonic(),
            component_message_id=str(data["message"]["id"]) if data.get("message") else None,
        )
        self.interactions[record.id] = record
        return record

    # ---------------------------------------------------------------- messages and threads

    def _create_message(
        self,
        channel: JSONDict,
        *,
        author_id: str,
        body: JSONDict,
        files: Sequence[UploadedFile] = (),
        replied: JSONDict | None = None,
        webhook_id: str | None = None,
        interaction: InteractionRecord | None = None,
        flags: int = 0,
        message_id: str | None = None,
        template: JSONDict | None = None,
    ) -> JSONDict:
        message_id = message_id or self._ids.next()
        content = body.get("content") or ""
        guild_id = channel.get("guild_id")
        users, roles, everyone = self._resolve_mentions(
            content, body.get("allowed_mentions"), guild_id, replied
        )
        message = copy.deepcopy(template) if template is not None else {}
        message.pop("reactions", None)
        message_type = 0
        if replied is not None:
            message_type = 19  # REPLY
        elif interaction is not None and interaction.type == 2:
            message_type = 20  # CHAT_INPUT_COMMAND
        message.update(
            id=message_id,
            type=message_type,
            content=content,
            channel_id=channel["id"],
            author=self.user_payload(author_id),
            attachments=self._attachments(body, files, channel["id"]),
            embeds=[_normalize_embed(e) for e in body.get("embeds") or []],
            mentions=users,
            mention_roles=roles,
            mention_everyone=everyone,
            pinned=False,
            tts=bool(body.get("tts")),
            timestamp=_now_iso(),
            edited_timestamp=None,
            flags=flags | int(body.get("flags") or 0) & _SENDABLE_FLAGS,
            components=_normalize_components(body.get("components") or []),
        )
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        if body.get("sticker_ids"):
            message["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in body["sticker_ids"]
            ]
        if replied is not None:
            message["message_reference"] = {
                "type": 0,
                "channel_id": replied["channel_id"],
                "message_id": replied["id"],
                **({"guild_id": guild_id} if guild_id else {}),
            }
            referenced = copy.deepcopy(replied)
            referenced.pop("referenced_message", None)
            message["referenced_message"] = referenced
        if webhook_id is not None:
            message["webhook_id"] = webhook_id
            message["application_id"] = self.app_id
        if interaction is not None:
            user = self.user_payload(interaction.user_id)
            metadata: JSONDict = {
                "id": interaction.id,
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": interaction.data.get("authorizing_integration_owners", {}),
            }
            if interaction.type == 2:
                # a test's malformed invocation may lack its name (Discord never sends one)
                name = str((interaction.data.get("data") or {}).get("name", ""))
                metadata.update(name=name, command_type=1)
                message["interaction"] = {
                    "id": interaction.id,
                    "type": 2,
                    "name": name,
                    "user": user,
                }
            if interaction.component_message_id is not None:
                metadata["interacted_message_id"] = interaction.component_message_id
            message["interaction_metadata"] = metadata
        if channel["type"] in _THREAD_TYPES:
            message["position"] = channel["total_message_sent"]
            if message_id != channel["id"]:  # the starter message does not count
                channel["message_count"] += 1
                channel["total_message_sent"] += 1
        if not message["flags"] & FLAG_EPHEMERAL:
            channel["last_message_id"] = message_id
            parent = self.channels.get(str(channel.get("parent_id")))
            if parent is not None and parent["type"] in _FORUM_TYPES and message_id == channel["id"]:
                parent["last_message_id"] = message_id
        self.messages.setdefault(channel["id"], {})[message_id] = message
        return message

    def _attachments(self, body: JSONDict, files: Sequence[UploadedFile], channel_id: str) -> list[JSONDict]:
        attachments: list[JSONDict] = []
        for index, upload in enumerate(files):
            described: JSONDict = next(
                (a for a in body.get("attachments") or [] if str(a.get("id")) == str(index)), {}
            )
            attachment_id = self._ids.next()
            url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{upload.filename}"
            attachments.append(
                {
                    "id": attachment_id,
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": upload.content_type,
                    **({"description": described["description"]} if described.get("description") else {}),
                }
            )
        return attachments

    def _resolve_mentions(
        self, content: str, allowed: JSONDict | None, guild_id: str | None, replied: JSONDict | None
    ) -> tuple[list[JSONDict], list[str], bool]:
        """Who a message pings, applying allowed_mentions the way Discord does (absent: parse
        everything; present: only ``parse`` types plus explicit ``users``/``roles``)."""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        allowed_users = {str(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {str(r) for r in (allowed or {}).get("roles") or []}
        user_ids: list[str] = []
        for user_id in _USER_MENTION.findall(content):
            if (
                user_id in self.users
                and user_id not in user_ids
                and ("users" in parse or user_id in allowed_users)
            ):
                user_ids.append(user_id)
        if replied is not None and (allowed is None or allowed.get("replied_user")):
            author_id = replied["author"]["id"]
            if author_id not in user_ids:
                user_ids.append(author_id)
        roles: list[str] = []
        for role_id in _ROLE_MENTION.findall(content):
            if (
                guild_id
                and role_id in self.roles[guild_id]
                and role_id not in roles
                and ("roles" in parse or role_id in allowed_roles)
            ):
                roles.append(role_id)
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return [self.user_payload(u) for u in user_ids], roles, everyone

    def _gateway_message(self, message: JSONDict) -> JSONDict:
        """The gateway shape of a stored message: plus guild_id, member, mentions[].member."""
        data = copy.deepcopy(message)
        channel = self.channels.get(message["channel_id"], {})
        guild_id = channel.get("guild_id")
        if guild_id is not None:
            data["guild_id"] = guild_id
            author_id = message["author"]["id"]
            if author_id in self.members[guild_id] and "webhook_id" not in message:
                data["member"] = self.member_payload(guild_id, author_id, with_user=False)
            for user in data["mentions"]:
                if user["id"] in self.members[guild_id]:
                    user["member"] = self.member_payload(guild_id, user["id"], with_user=False)
        return data

    async def _broadcast_message(self, event: str, message: JSONDict) -> None:
        if message["flags"] & FLAG_EPHEMERAL:
            return  # ephemeral messages never reach the gateway
        await self._broadcast(event, self._gateway_message(message))

    def _new_thread(
        self,
        parent: JSONDict,
        *,
        name: str,
        owner_id: str,
        thread_type: int,
        thread_id: str | None = None,
        auto_archive_duration: int | None = None,
        rate_limit_per_user: int | None = None,
        applied_tags: Sequence[str] = (),
        invitable: bool | None = None,
        template: JSONDict | None = None,
    ) -> JSONDict:
        thread = copy.deepcopy(template) if template is not None else {}
        now = _now_iso()
        thread.update(
            id=thread_id or self._ids.next(),
            type=int(thread_type),
            guild_id=parent["guild_id"],
            parent_id=parent["id"],
            owner_id=owner_id,
            name=name,
            last_message_id=None,
            message_count=0,
            member_count=1,
            rate_limit_per_user=rate_limit_per_user or 0,
            flags=0,
            total_message_sent=0,
            thread_metadata={
                "archived": False,
                "archive_timestamp": now,
                "locked": False,
                "create_timestamp": now,
                "auto_archive_duration": auto_archive_duration
                or parent.get("default_auto_archive_duration")
                or 1440,
            },
        )
        if thread_type == ChannelType.PRIVATE_THREAD:
            thread["thread_metadata"]["invitable"] = True if invitable is None else invitable
        if parent["type"] in _FORUM_TYPES:
            thread["applied_tags"] = [str(t) for t in applied_tags]
        self.channels[thread["id"]] = thread
        self.messages.setdefault(thread["id"], {})
        self.thread_members[thread["id"]] = {owner_id: now}
        return thread

    def _thread_member(self, thread_id: str, user_id: str) -> JSONDict:
        return {
            "id": thread_id,
            "user_id": user_id,
            "join_timestamp": self.thread_members[thread_id][user_id],
            "flags": 0,
        }

    async def _announce_new_thread(self, thread: JSONDict) -> None:
        payload = copy.deepcopy(thread)
        payload["newly_created"] = True
        if self.bot_user_id in self.thread_members.get(thread["id"], {}):
            payload["member"] = self._thread_member(thread["id"], self.bot_user_id)
        await self._broadcast("THREAD_CREATE", payload)

    # ---------------------------------------------------------------- REST: plumbing

    def _route(self, method: str, template: str, handler: _Handler, *, auth: bool = True) -> _Route:
        return _Route(
            method,
            template,
            handler,
            auth,
            _template_regex(template),
            self._bucket_for(method, template),
        )

    def _build_routes(self) -> list[_Route]:
        r = self._route
        webhook = "/webhooks/{webhook_id}/{webhook_token}"
        # Order matters: literal segments (@me, @original) before placeholders.
        return [
            r("GET", "/gateway", self._h_gateway, auth=False),
            r("GET", "/gateway/bot", self._h_gateway_bot),
            r("GET", "/users/@me", self._h_me),
            r("POST", "/users/@me/channels", self._h_create_dm),
            r("GET", "/users/{user_id}", self._h_get_user),
            r("GET", "/oauth2/applications/@me", self._h_application),
            r("GET", "/applications/@me", self._h_application),
            r("GET", "/channels/{channel_id}", self._h_get_channel),
            r("PATCH", "/channels/{channel_id}", self._h_patch_channel),
            r("DELETE", "/channels/{channel_id}", self._h_delete_channel),
            r("GET", "/channels/{channel_id}/messages", self._h_list_messages),
            r("POST", "/channels/{channel_id}/messages", self._h_create_message),
            r("GET", "/channels/{channel_id}/messages/{message_id}", self._h_get_message),
            r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._h_edit_message),
            r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._h_delete_message),
            r(
                "POST",
                "/channels/{channel_id}/messages/{message_id}/threads",
                self._h_thread_from_message,
            ),
            r(
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji_name}/@me",
                self._h_add_reaction,
            ),
            r("POST", "/channels/{channel_id}/threads", self._h_create_thread),
            r("POST", "/channels/{channel_id}/typing", self._h_typing),
            r("PUT", "/channels/{channel_id}/thread-members/@me", self._h_join_thread),
            r("PUT", "/channels/{channel_id}/thread-members/{user_id}", self._h_add_thread_member),
            r("DELETE", "/channels/{channel_id}/thread-members/@me", self._h_leave_thread),
            r("GET", "/guilds/{guild_id}", self._h_get_guild),
            r("GET", "/guilds/{guild_id}/channels", self._h_guild_channels),
            r("GET", "/guilds/{guild_id}/members/{user_id}", self._h_get_member),
            r("GET", "/guilds/{guild_id}/threads/active", self._h_active_threads),
            r("GET", "/applications/{application_id}/commands", self._h_list_commands),
            r("PUT", "/applications/{application_id}/commands", self._h_put_commands),
            r("POST", "/applications/{application_id}/commands", self._h_post_command),
            r(
                "GET",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._h_list_commands,
            ),
            r(
                "PUT",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._h_put_commands,
            ),
            r(
                "POST",
                "/applications/{application_id}/guilds/{guild_id}/commands",
                self._h_post_command,
            ),
            r(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                self._h_callback,
                auth=False,
            ),
            r("POST", webhook, self._h_execute_webhook, auth=False),
            r("GET", webhook + "/messages/@original", self._h_get_webhook_message, auth=False),
            r("PATCH", webhook + "/messages/@original", self._h_edit_webhook_message, auth=False),
            r(
                "DELETE",
                webhook + "/messages/@original",
                self._h_delete_webhook_message,
                auth=False,
            ),
            r("GET", webhook + "/messages/{message_id}", self._h_get_webhook_message, auth=False),
            r(
                "PATCH",
                webhook + "/messages/{message_id}",
                self._h_edit_webhook_message,
                auth=False,
            ),
            r(
                "DELETE",
                webhook + "/messages/{message_id}",
                self._h_delete_webhook_message,
                auth=False,
            ),
        ]

    @property
    def route_templates(self) -> list[tuple[str, str]]:
        """(method, template) of every implemented REST route."""
        return [(route.method, route.template) for route in self._routes]

    async def _handle_other(self, request: web.Request) -> web.Response:
        return _json_response(404, {"message": "404: Not Found", "code": 0})

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        answered = await self.oauth.intercept(request, path)  # a person's Bearer token, not a bot's
        if answered is not None:
            return answered
        record = RecordedRequest(
            index=-1,
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
            json=None,
            files=[],
            template=None,
        )
        headers: dict[str, str] = {}
        try:
            route, params, path_matched = self._match(request.method, path)
            if route is not None:
                record.template = route.template
                headers.update(self._ratelimit_headers(route))
            body, files = await self._read_body(request)
            record.json, record.files = body, files
            if route is not None and route.auth:
                self._check_auth(request)
            fault = self._take_fault(request.method, path)
            if fault is not None:
                headers.update(fault.headers)
                raise DiscordAPIError(
                    fault.status,
                    int(fault.body.get("code", 0)),
                    str(fault.body.get("message")),
                    extra={k: v for k, v in fault.body.items() if k not in ("code", "message")},
                )
            if route is None:
                if path_matched:
                    raise DiscordAPIError(405, 0, "405: Method Not Allowed")
                raise DiscordAPIError(404, 0, "404: Not Found")
            self._check_path_params(params)
            schema = self.spec.request_schema(route.template, route.method)
            if schema is not None and body is not None:
                issues = self.spec.validate(schema, body)
                if issues:
                    raise _invalid_form(issues)
            status, payload = await route.handler(
                _Ctx(
                    request=request,
                    template=route.template,
                    params=params,
                    query=request.query,
                    body=body,
                    files=files,
                )
            )
        except DiscordAPIError as error:
            status, payload = error.status, error.body()
            headers.update(error.headers)
        response = _json_response(status, payload, headers)
        record.status, record.response = status, payload
        record.response_headers = dict(response.headers)
        record.index = len(self.requests)
        self.requests.append(record)
        await self._notify()
        return response

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_matched = False
        for route in self._routes:
            match = route.regex.fullmatch(path)
            if match is None:
                continue
            path_matched = True
            if route.method == method:
                return route, match.groupdict(), True
        return None, {}, path_matched

    def _ratelimit_headers(self, route: _Route) -> dict[str, str]:
        # A generous bucket that never runs dry: real per-route limits are not emulated (use
        # rate_limit() to script 429s), but discord.py still learns bucket hashes as on Discord.
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": route.bucket,
        }

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordAPIError(401, 0, "401: Unauthorized")

    @staticmethod
    def _check_path_params(params: Mapping[str, str]) -> None:
        issues = [
            FieldError((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
            for name, value in params.items()
            if name.endswith("_id") and name != "emoji_name" and not value.isdigit()
        ]
        if issues:
            raise _invalid_form(issues)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
        if not request.can_read_body:
            return None, []
        if request.content_type == "multipart/form-data":
            body: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue  # discord.py never nests multipart bodies
                name = part.name or ""
                data = await part.read()
                if name == "payload_json":
                    try:
                        body = json.loads(data)
                    except ValueError:
                        raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.") from None
                else:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(UploadedFile(name, part.filename or name, content_type, bytes(data)))
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise DiscordAPIError(400, 50109, "The request body contains invalid JSON.") from None

    def _channel_or_404(self, channel_id: str) -> JSONDict:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise _unknown("Channel")
        return channel

    def _message_or_404(self, channel_id: str, message_id: str) -> JSONDict:
        message = self.messages.get(channel_id, {}).get(message_id)
        if message is None or message["flags"] & FLAG_EPHEMERAL:
            raise _unknown("Message")
        return message

    # ---------------------------------------------------------------- REST: message rules

    def _message_rules(self, body: JSONDict, prefix: tuple[str, ...] = ()) -> list[FieldError]:
        """Discord's message rules that the OpenAPI schema does not carry."""
        issues: list[FieldError] = []
        content = body.get("content")
        if isinstance(content, str) and len(content) > MAX_CONTENT_LENGTH:
            # The spec says 4000 (the Nitro limit); bots get 2000, with this error.
            issues.append(
                FieldError(
                    (*prefix, "content"),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Must be {MAX_CONTENT_LENGTH} or fewer in length.",
                )
            )
        embeds = body.get("embeds")
        if (
            isinstance(embeds, list)
            and sum(_embed_size(e) for e in embeds if isinstance(e, dict)) > MAX_EMBED_TOTAL
        ):
            issues.append(
                FieldError(
                    (*prefix, "embeds"),
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
                )
            )
        allowed = body.get("allowed_mentions")
        if isinstance(allowed, dict):
            parse = allowed.get("parse") or []
            for kind in ("users", "roles"):
                if kind in parse and allowed.get(kind):
                    ids = ", ".join(str(i) for i in allowed[kind])
                    issues.append(
                        FieldError(
                            (*prefix, "allowed_mentions"),
                            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                            f'parse:["{kind}"] and {kind}: [{ids}] are mutually exclusive.',
                        )
                    )
        components = body.get("components")
        if isinstance(components, list):
            issues.extend(_component_rules(components, (*prefix, "components")))
        return issues

    @staticmethod
    def _has_message_payload(body: JSONDict, files: Sequence[UploadedFile]) -> bool:
        return bool(
            (isinstance(body.get("content"), str) and body["content"].strip())
            or body.get("embeds")
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
            or files
        )

    # ---------------------------------------------------------------- REST: handlers

    async def _h_gateway(self, ctx: _Ctx) -> _Result:
        return 200, {"url": self.gateway_url}

    async def _h_gateway_bot(self, ctx: _Ctx) -> _Result:
        return 200, {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    async def _h_me(self, ctx: _Ctx) -> _Result:
        return 200, self._me_payload()

    async def _h_get_user(self, ctx: _Ctx) -> _Result:
        user_id = ctx.params["user_id"]
        if user_id not in self.users:
            raise _unknown("User")
        return 200, self.user_payload(user_id)

    async def _h_create_dm(self, ctx: _Ctx) -> _Result:
        recipient = str((ctx.body or {}).get("recipient_id") or "")
        if not recipient:
            raise _invalid_form(
                [FieldError(("recipient_id",), "BASE_TYPE_REQUIRED", "This field is required")]
            )
        if recipient not in self.users:
            raise _unknown("User")
        return 200, copy.deepcopy(self._dm_channel_for(recipient))

    async def _h_application(self, ctx: _Ctx) -> _Result:
        app = load_fixture("docs_examples/resources-application__example-application-object.json")
        app.update(
            id=self.app_id,
            name=self.users[self.bot_user_id]["username"],
            description="",
            icon=None,
            cover_image=None,
            bot_public=True,
            bot_require_code_grant=False,
            guild_id=None,
            team=None,
            flags=self.application_flags,
            flags_new=str(self.application_flags),
            primary_sku_id=None,
            slug=None,
            verify_key=hashlib.sha256(self.app_id.encode()).hexdigest(),
            owner=self.user_payload(self.staff_user_id),
            bot=self.user_payload(self.bot_user_id),
            interactions_endpoint_url=None,  # gateway interactions, as discord.py expects
            approximate_guild_count=len(self.guilds),
            redirect_uris=[],
            tags=[],
        )
        return 200, app

    async def _h_get_channel(self, ctx: _Ctx) -> _Result:
        return 200, copy.deepcopy(self._channel_or_404(ctx.params["channel_id"]))

    async def _h_patch_channel(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        body: JSONDict = ctx.body or {}
        issues: list[FieldError] = []
        if "name" in body and (not isinstance(body["name"], str) or not 1 <= len(body["name"]) <= 100):
            issues.append(
                FieldError(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            )
        is_thread = channel["type"] in _THREAD_TYPES
        thread_only = ("archived", "locked", "auto_archive_duration", "applied_tags", "invitable")
        if not is_thread:
            for key in thread_only:
                if key in body:
                    raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        if "applied_tags" in body and body["applied_tags"] is not None:
            parent = self.channels.get(str(channel.get("parent_id")), {})
            if parent.get("type") not in _FORUM_TYPES:
                raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
            issues.extend(_tag_issues(body["applied_tags"], parent))
        if "topic" in body and isinstance(body["topic"], str) and len(body["topic"]) > 1024:
            issues.append(FieldError(("topic",), "BASE_TYPE_MAX_LENGTH", "Must be 1024 or fewer in length."))
        if issues:
            raise _invalid_form(issues)
        for key in ("name", "topic", "rate_limit_per_user", "nsfw", "flags"):
            if key in body and body[key] is not None:
                channel[key] = body[key]
        if is_thread:
            meta = channel["thread_metadata"]
            for key in ("archived", "locked", "auto_archive_duration", "invitable"):
                if key in body and body[key] is not None:
                    if key == "archived" and body[key] != meta["archived"]:
                        meta["archive_timestamp"] = _now_iso()
                    meta[key] = body[key]
            if body.get("applied_tags") is not None:
                channel["applied_tags"] = [str(t) for t in body["applied_tags"]]
        await self._broadcast("THREAD_UPDATE" if is_thread else "CHANNEL_UPDATE", copy.deepcopy(channel))
        return 200, copy.deepcopy(channel)

    async def _h_delete_channel(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        if channel["type"] == ChannelType.DM:
            return 200, copy.deepcopy(channel)  # "closing" a DM keeps it
        del self.channels[channel["id"]]
        self.messages.pop(channel["id"], None)
        if channel["type"] in _THREAD_TYPES:
            await self._broadcast(
                "THREAD_DELETE", {k: channel[k] for k in ("id", "guild_id", "parent_id", "type")}
            )
        else:
            await self._broadcast("CHANNEL_DELETE", copy.deepcopy(channel))
        return 200, channel

    async def _h_list_messages(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        try:
            limit = int(ctx.query.get("limit", "50"))
        except ValueError:
            raise _invalid_form([FieldError(("limit",), "NUMBER_TYPE_COERCE", "Value is not int.")]) from None
        if not 1 <= limit <= 100:
            raise _invalid_form(
                [
                    FieldError(
                        ("limit",),
                        "NUMBER_TYPE_MAX",
                        "int value should be less than or equal to 100.",
                    )
                ]
            )
        visible = [m for m in self.messages[channel["id"]].values() if not m["flags"] & FLAG_EPHEMERAL]
        visible.sort(key=lambda m: int(m["id"]), reverse=True)  # newest first, as Discord
        if "before" in ctx.query:
            visible = [m for m in visible if int(m["id"]) < int(ctx.query["before"])]
        if "after" in ctx.query:
            visible = [m for m in visible if int(m["id"]) > int(ctx.query["after"])][-limit:]
        return 200, copy.deepcopy(visible[:limit])

    async def _h_get_message(self, ctx: _Ctx) -> _Result:
        self._channel_or_404(ctx.params["channel_id"])
        return 200, copy.deepcopy(self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"]))

    async def _h_create_message(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        if channel["type"] not in _MESSAGEABLE_TYPES:
            raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
        body: JSONDict = ctx.body or {}
        issues = self._message_rules(body)
        replied = None
        reference = body.get("message_reference")
        if isinstance(reference, dict):
            ref_channel = str(reference.get("channel_id") or channel["id"])
            replied = self.messages.get(ref_channel, {}).get(str(reference.get("message_id")))
            if replied is None and reference.get("fail_if_not_exists", True) is not False:
                issues.append(
                    FieldError(
                        ("message_reference",),
                        "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                        "Unknown message",
                    )
                )
        if issues:
            raise _invalid_form(issues)
        if not self._has_message_payload(body, ctx.files):
            raise _empty_message()
        history = self.channel_permissions_of(channel["id"], self.bot_user_id) & P_READ_MESSAGE_HISTORY
        if isinstance(reference, dict) and not history:
            raise DiscordAPIError(403, 160002, "Cannot reply without permission to read message history")
        nonce = str(body["nonce"]) if body.get("nonce") is not None else None
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._nonced(self.bot_user_id, nonce)
            if earlier is not None:
                return 200, copy.deepcopy(earlier)  # that message, unchanged; no MESSAGE_CREATE
        if channel["type"] in _THREAD_TYPES and channel["thread_metadata"]["archived"]:
            if channel["thread_metadata"]["locked"]:
                raise DiscordAPIError(400, 50083, "Thread is archived")
            channel["thread_metadata"]["archived"] = False  # sending unarchives, as on Discord
        message = self._create_message(
            channel, author_id=self.bot_user_id, body=body, files=ctx.files, replied=replied
        )
        if nonce is not None:
            self._nonces[(self.bot_user_id, nonce)] = (channel["id"], message["id"], time.monotonic())
        await self._broadcast_message("MESSAGE_CREATE", message)
        return 200, copy.deepcopy(message)

    def _nonced(self, author_id: str, nonce: str) -> JSONDict | None:
        """The message `author_id` created with `nonce` within the window, if it still exists."""
        found = self._nonces.get((author_id, nonce))
        if found is None or time.monotonic() - found[2] > self.nonce_window_seconds:
            return None
        return self.messages.get(found[0], {}).get(found[1])

    async def _h_edit_message(self, ctx: _Ctx) -> _Result:
        self._channel_or_404(ctx.params["channel_id"])
        message = self._message_or_404(ctx.params["channel_id"], ctx.params["message_id"])
        body: JSONDict = ctx.body or {}
        if message["author"]["id"] != self.bot_user_id and set(body) - {"flags"}:
            raise DiscordAPIError(403, 50005, "Cannot edit a message authored by another user")
        issues = self._message_rules(body)
        if issues:
            raise _invalid_form(issues)
        self._apply_edit(message, body, ctx.files)
        await self._broadcast_message("MESSAGE_UPDATE", message)
        return 200, copy.deepcopy(message)

    def _apply_edit(self, message: JSONDict, body: JSONDict, files: Sequence[UploadedFile]) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""
        if "embeds" in body:
            message["embeds"] = [_normalize_embed(e) for e in body["embeds"] or []]
        if "components" in body:
            message["components"] = _normalize_components(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            keep = message["flags"] & ~FLAG_SUPPRESS_EMBEDS
            message["flags"] = keep | (int(body["flags"]) & FLAG_SUPPRESS_EMBEDS)
        if "attachments" in body and body["attachments"] is not None:
            kept = {str(a.get("id")) for a in body["attachments"]}
            existing = [a for a in message["attachments"] if a["id"] in kept]
            message["attachments"] = existing + self._attachments(body, files, message["channel_id"])
        if "content" in body or "allowed_mentions" in body:
            channel = self.channels.get(message["channel_id"], {})
            users, roles, everyone = self._resolve_mentions(
                message["content"], body.get("allowed_mentions"), channel.get("guild_id"), None
            )
            message.update(mentions=users, mention_roles=roles, mention_everyone=everyone)
        message["flags"] &= ~FLAG_LOADING
        message["edited_timestamp"] = _now_iso()

    async def _h_delete_message(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        message = self._message_or_404(channel["id"], ctx.params["message_id"])
        del self.messages[channel["id"]][message["id"]]
        payload = {"id": message["id"], "channel_id": channel["id"]}
        if channel.get("guild_id"):
            payload["guild_id"] = channel["guild_id"]
        await self._broadcast("MESSAGE_DELETE", payload)
        return 204, None

    async def _h_add_reaction(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        message = self._message_or_404(channel["id"], ctx.params["message_id"])
        emoji_name = ctx.params["emoji_name"]  # aiohttp already percent-decoded it
        emoji: JSONDict = {"id": None, "name": emoji_name}
        if ":" in emoji_name:  # custom emoji: name:id
            name, _, emoji_id = emoji_name.partition(":")
            emoji = {"id": emoji_id, "name": name}
        reactions = message.setdefault("reactions", [])
        existing = next((r for r in reactions if r["emoji"] == emoji), None)
        if existing is None:
            reactions.append(
                {
                    "emoji": emoji,
                    "count": 1,
                    "me": True,
                    "me_burst": False,
                    "burst_colors": [],
                    "count_details": {"burst": 0, "normal": 1},
                }
            )
        elif not existing["me"]:
            existing.update(me=True, count=existing["count"] + 1)
        payload: JSONDict = {
            "user_id": self.bot_user_id,
            "channel_id": channel["id"],
            "message_id": message["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
            "message_author_id": message["author"]["id"],
        }
        if channel.get("guild_id"):
            payload["guild_id"] = channel["guild_id"]
            payload["member"] = self.member_payload(channel["guild_id"], self.bot_user_id)
        await self._broadcast("MESSAGE_REACTION_ADD", payload)
        return 204, None

    async def _h_thread_from_message(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        if channel["type"] not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        message = self._message_or_404(channel["id"], ctx.params["message_id"])
        if message.get("thread") is not None or message["id"] in self.channels:
            raise DiscordAPIError(400, 160004, "A thread has already been created for this message")
        body: JSONDict = ctx.body or {}
        thread_type = (
            ChannelType.ANNOUNCEMENT_THREAD
            if channel["type"] == ChannelType.GUILD_ANNOUNCEMENT
            else ChannelType.PUBLIC_THREAD
        )
        # A thread started from a message has the message's id.
        thread = self._new_thread(
            channel,
            name=body["name"],
            owner_id=self.bot_user_id,
            thread_type=thread_type,
            thread_id=message["id"],
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
        )
        message["thread"] = copy.deepcopy(thread)
        message["flags"] |= FLAG_HAS_THREAD
        await self._announce_new_thread(thread)
        response = copy.deepcopy(thread)
        response["member"] = self._thread_member(thread["id"], self.bot_user_id)
        return 201, response

    async def _h_create_thread(self, ctx: _Ctx) -> _Result:
        parent = self._channel_or_404(ctx.params["channel_id"])
        body: JSONDict = ctx.body or {}
        if parent["type"] in _FORUM_TYPES:
            return await self._create_forum_post(parent, body, ctx.files)
        if parent["type"] not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        # v10: a thread without a message is private unless a type says otherwise.
        thread_type = body.get("type") or ChannelType.PRIVATE_THREAD
        allowed_types = {10} if parent["type"] == ChannelType.GUILD_ANNOUNCEMENT else {11, 12}
        if thread_type not in allowed_types:
            raise _invalid_form([_choices(("type",), sorted(allowed_types))])
        thread = self._new_thread(
            parent,
            name=body["name"],
            owner_id=self.bot_user_id,
            thread_type=thread_type,
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
            invitable=body.get("invitable"),
        )
        await self._announce_new_thread(thread)
        response = copy.deepcopy(thread)
        response["member"] = self._thread_member(thread["id"], self.bot_user_id)
        return 201, response

    async def _create_forum_post(
        self, forum: JSONDict, body: JSONDict, files: Sequence[UploadedFile]
    ) -> _Result:
        issues: list[FieldError] = []
        message_body = body.get("message")
        if not isinstance(message_body, dict):
            issues.append(FieldError(("message",), "BASE_TYPE_REQUIRED", "This field is required"))
            message_body = {}
        issues.extend(self._message_rules(message_body, ("message",)))
        tags = body.get("applied_tags") or []
        issues.extend(_tag_issues(tags, forum))
        if issues:
            raise _invalid_form(issues)
        if forum.get("flags", 0) & CHANNEL_FLAG_REQUIRE_TAG and not tags:
            raise DiscordAPIError(400, 40067, "A tag is required to create a forum post in this channel")
        if not self._has_message_payload(message_body, files):
            raise _empty_message()
        thread = self._new_thread(
            forum,
            name=body["name"],
            owner_id=self.bot_user_id,
            thread_type=ChannelType.PUBLIC_THREAD,
            auto_archive_duration=body.get("auto_archive_duration"),
            rate_limit_per_user=body.get("rate_limit_per_user"),
            applied_tags=tags,
        )
        # The starter message of a forum post has the thread's id.
        message = self._create_message(
            thread,
            author_id=self.bot_user_id,
            body=message_body,
            files=files,
            message_id=thread["id"],
        )
        await self._announce_new_thread(thread)
        await self._broadcast_message("MESSAGE_CREATE", message)
        response = copy.deepcopy(thread)
        response["member"] = self._thread_member(thread["id"], self.bot_user_id)
        response["message"] = copy.deepcopy(message)
        return 201, response

    async def _h_typing(self, ctx: _Ctx) -> _Result:
        channel = self._channel_or_404(ctx.params["channel_id"])
        if channel["type"] not in _MESSAGEABLE_TYPES:
            raise DiscordAPIError(400, 50008, "Cannot send messages in a non-text channel")
        return 204, None

    def _thread_or_error(self, channel_id: str) -> JSONDict:
        thread = self._channel_or_404(channel_id)
        if thread["type"] not in _THREAD_TYPES:
            raise DiscordAPIError(400, 50024, "Cannot execute action on this channel type")
        return thread

    async def _h_join_thread(self, ctx: _Ctx) -> _Result:
        thread = self._thread_or_error(ctx.params["channel_id"])
        self.thread_members[thread["id"]].setdefault(self.bot_user_id, _now_iso())
        thread["member_count"] = len(self.thread_members[thread["id"]])
        return 204, None

    async def _h_add_thread_member(self, ctx: _Ctx) -> _Result:
        thread = self._thread_or_error(ctx.params["channel_id"])
        user_id = ctx.params["user_id"]
        if user_id not in self.members.get(thread["guild_id"], {}):
            raise _unknown("Member")
        self.thread_members[thread["id"]].setdefault(user_id, _now_iso())
        thread["member_count"] = len(self.thread_members[thread["id"]])
        return 204, None

    async def _h_leave_thread(self, ctx: _Ctx) -> _Result:
        thread = self._thread_or_error(ctx.params["channel_id"])
        self.thread_members[thread["id"]].pop(self.bot_user_id, None)
        thread["member_count"] = len(self.thread_members[thread["id"]])
        return 204, None

    def _guild_or_404(self, guild_id: str) -> JSONDict:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise _unknown("Guild")
        return guild

    async def _h_get_guild(self, ctx: _Ctx) -> _Result:
        guild = copy.deepcopy(self._guild_or_404(ctx.params["guild_id"]))
        guild["roles"] = copy.deepcopy(list(self.roles[guild["id"]].values()))
        guild.update(emojis=[], stickers=[])
        return 200, guild

    async def _h_guild_channels(self, ctx: _Ctx) -> _Result:
        guild = self._guild_or_404(ctx.params["guild_id"])
        channels = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("guild_id") == guild["id"] and c["type"] not in _THREAD_TYPES
        ]
        return 200, channels

    async def _h_active_threads(self, ctx: _Ctx) -> _Result:
        """List Active Guild Threads: every thread of the guild not archived, newest first."""
        guild = self._guild_or_404(ctx.params["guild_id"])
        threads = [
            copy.deepcopy(c)
            for c in self.channels.values()
            if c.get("guild_id") == guild["id"]
            and c["type"] in _THREAD_TYPES
            and not c["thread_metadata"]["archived"]
        ]
        threads.sort(key=lambda c: int(c["id"]), reverse=True)
        return 200, {"threads": threads, "members": []}

    async def _h_get_member(self, ctx: _Ctx) -> _Result:
        guild = self._guild_or_404(ctx.params["guild_id"])
        if ctx.params["user_id"] not in self.members[guild["id"]]:
            raise _unknown("Member")
        return 200, self.member_payload(guild["id"], ctx.params["user_id"])

    # ---------------------------------------------------------------- REST: application commands

    def _command_scope(self, ctx: _Ctx) -> str | None:
        if ctx.params["application_id"] != self.app_id:
            raise _missing_access()
        guild_id = ctx.params.get("guild_id")
        if guild_id is not None and self.bot_user_id not in self.members.get(guild_id, {}):
            raise _missing_access()  # what syncing to a guild the bot is not in returns
        return guild_id

    async def _h_list_commands(self, ctx: _Ctx) -> _Result:
        return 200, copy.deepcopy(self.commands.get(self._command_scope(ctx), []))

    async def _h_put_commands(self, ctx: _Ctx) -> _Result:
        scope = self._command_scope(ctx)
        payload = ctx.body if ctx.body is not None else []
        issues = _command_rules(payload)
        if issues:
            raise _invalid_form(issues)
        self.commands[scope] = [self._stored_command(command, scope) for command in payload]
        return 200, copy.deepcopy(self.commands[scope])

    async def _h_post_command(self, ctx: _Ctx) -> _Result:
        scope = self._command_scope(ctx)
        body: JSONDict = ctx.body or {}
        issues = [FieldError(i.path[1:], i.code, i.message) for i in _command_rules([body])]
        if issues:
            raise _invalid_form(issues)
        stored = self._stored_command(body, scope)
        commands = self.commands.setdefault(scope, [])
        for index, existing in enumerate(commands):
            if existing["id"] == stored["id"]:
                commands[index] = stored
                return 200, copy.deepcopy(stored)
        commands.append(stored)
        return 201, copy.deepcopy(stored)

    def _stored_command(self, command: JSONDict, scope: str | None) -> JSONDict:
        command_type = command.get("type") or 1
        key = (scope, command_type, command["name"])
        command_id = self._command_ids.setdefault(key, self._ids.next())  # ids survive overwrites
        permissions = command.get("default_member_permissions")
        stored: JSONDict = {
            "id": command_id,
            "application_id": self.app_id,
            "version": self._ids.next(),
            "default_member_permissions": None if permissions is None else str(permissions),
            "type": command_type,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description") or "",
            "description_localizations": command.get("description_localizations"),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": bool(command.get("nsfw")),
        }
        if command.get("options"):
            stored["options"] = _strip_nulls(command["options"])
        if scope is None:
            stored["dm_permission"] = command.get("dm_permission", True) is not False
        else:
            stored["guild_id"] = scope
        return stored

    # ---------------------------------------------------------------- REST: interactions

    async def _h_callback(self, ctx: _Ctx) -> _Result:
        record = self.interactions.get(ctx.params["interaction_id"])
        if record is None:
            raise _unknown("interaction")
        if not secrets.compare_digest(record.token, ctx.params["interaction_token"]):
            raise _invalid_webhook_token()
        if record.acknowledged_at is not None:
            raise DiscordAPIError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - record.dispatched_at > self.interaction_ack_seconds:
            raise _unknown("interaction")  # the 3 s window is over: Discord forgets it
        body: JSONDict = ctx.body or {}
        callback_type = body.get("type")
        allowed = _CALLBACK_TYPES_FOR.get(record.type, frozenset())
        if callback_type not in allowed:
            raise _invalid_form([_choices(("type",), sorted(allowed))])
        data = body.get("data") or {}
        if callback_type in (4, 7):
            issues = self._message_rules(data, ("data",))
            if issues:
                raise _invalid_form(issues)
        if callback_type == 4 and not self._has_message_payload(data, ctx.files):
            raise _empty_message()
        if callback_type == 9:
            issues = _modal_rules(data)
            if issues:
                raise _invalid_form(issues)

        channel = self.channels[record.channel_id or self.text_channel_id]
        flags = int(data.get("flags") or 0)
        record.callback_type = callback_type
        record.callback_data = copy.deepcopy(data)
        record.acknowledged_at = time.monotonic()
        message: JSONDict | None = None
        if callback_type in (4, 5):
            record.ephemeral = bool(flags & FLAG_EPHEMERAL)
            loading = FLAG_LOADING if callback_type == 5 else 0
            message = self._create_message(
                channel,
                author_id=self.bot_user_id,
                body=data if callback_type == 4 else {},
                files=ctx.files,
                webhook_id=self.app_id,
                interaction=record,
                flags=loading | (flags & FLAG_EPHEMERAL),
            )
            record.original_message_id = message["id"]
            await self._broadcast_message("MESSAGE_CREATE", message)
        elif callback_type in (6, 7):
            record.original_message_id = record.component_message_id
            if callback_type == 7 and record.component_message_id is not None:
                message = self.messages[channel["id"]][record.component_message_id]
                self._apply_edit(message, data, ctx.files)
                await self._broadcast_message("MESSAGE_UPDATE", message)
        await self._notify()

        if not _truthy(ctx.query.get("with_response")):
            return 204, None
        response: JSONDict = {"interaction": {"id": record.id, "type": record.type}}
        if message is not None:
            response["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=callback_type == 5,
                response_message_ephemeral=bool(message["flags"] & FLAG_EPHEMERAL),
            )
            response["resource"] = {"type": callback_type, "message": copy.deepcopy(message)}
        elif callback_type in (6, 9):
            response["resource"] = {"type": callback_type}
        return 200, response

    def _interaction_for_webhook(self, ctx: _Ctx) -> InteractionRecord:
        if ctx.params["webhook_id"] != self.app_id:
            raise _unknown("Webhook")
        token = ctx.params["webhook_token"]
        record = next((r for r in self.interactions.values() if secrets.compare_digest(r.token, token)), None)
        if record is None:
            raise _invalid_webhook_token()
        if time.monotonic() - record.dispatched_at > self.interaction_token_seconds:
            raise _invalid_webhook_token()  # interaction tokens live 15 minutes
        if record.acknowledged_at is None:
            raise _unknown("Webhook")  # the follow-up webhook exists only once acknowledged
        return record

    def _webhook_message(self, record: InteractionRecord, ctx: _Ctx) -> JSONDict:
        message_id = ctx.params.get("message_id", record.original_message_id)
        own = {record.original_message_id, *record.followup_ids}
        channel_id = record.channel_id or ""
        message = self.messages.get(channel_id, {}).get(str(message_id))
        if message_id is None or message_id not in own or message is None:
            raise _unknown("Message")
        return message

    async def _h_execute_webhook(self, ctx: _Ctx) -> _Result:
        record = self._interaction_for_webhook(ctx)
        body: JSONDict = ctx.body or {}
        issues = self._message_rules(body)
        if issues:
            raise _invalid_form(issues)
        if not self._has_message_payload(body, ctx.files):
            raise _empty_message()
        channel = self.channels[record.channel_id or self.text_channel_id]
        original = self.messages[channel["id"]].get(record.original_message_id or "")
        if record.callback_type == 5 and original is not None and original["flags"] & FLAG_LOADING:
            # The first follow-up after a "thinking" defer replaces the loading message.
            self._apply_edit(original, body, ctx.files)
            message = original
            await self._broadcast_message("MESSAGE_UPDATE", message)
        else:
            flags = int(body.get("flags") or 0) & FLAG_EPHEMERAL
            message = self._create_message(
                channel,
                author_id=self.bot_user_id,
                body=body,
                files=ctx.files,
                webhook_id=self.app_id,
                interaction=record,
                flags=flags,
            )
            record.followup_ids.append(message["id"])
            await self._broadcast_message("MESSAGE_CREATE", message)
        if not _truthy(ctx.query.get("wait")):
            return 204, None
        return 200, copy.deepcopy(message)

    async def _h_get_webhook_message(self, ctx: _Ctx) -> _Result:
        record = self._interaction_for_webhook(ctx)
        return 200, copy.deepcopy(self._webhook_message(record, ctx))

    async def _h_edit_webhook_message(self, ctx: _Ctx) -> _Result:
        record = self._interaction_for_webhook(ctx)
        message = self._webhook_message(record, ctx)
        body: JSONDict = ctx.body or {}
        issues = self._message_rules(body)
        if issues:
            raise _invalid_form(issues)
        self._apply_edit(message, body, ctx.files)
        await self._broadcast_message("MESSAGE_UPDATE", message)
        return 200, copy.deepcopy(message)

    async def _h_delete_webhook_message(self, ctx: _Ctx) -> _Result:
        record = self._interaction_for_webhook(ctx)
        message = self._webhook_message(record, ctx)
        del self.messages[message["channel_id"]][message["id"]]
        if not message["flags"] & FLAG_EPHEMERAL:
            channel = self.channels[message["channel_id"]]
            payload = {"id": message["id"], "channel_id": channel["id"]}
            if channel.get("guild_id"):
                payload["guild_id"] = channel["guild_id"]
            await self._broadcast("MESSAGE_DELETE", payload)
        return 204, None


# --------------------------------------------------------------------------------------------
# Module-level rule helpers
# --------------------------------------------------------------------------------------------


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode().rstrip("=")


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    # Every Discord API response passes Google's load balancer (discord.py checks for "Via"
    # before retrying a 429), and JSON comes as exactly "application/json": discord.py only
    # decodes bodies whose content-type is that literal string, without a charset.
    all_headers = {"Via": "1.1 google", **(headers or {})}
    if status == 204 or payload is None:
        return web.Response(status=status, headers=all_headers)
    all_headers["Content-Type"] = "application/json"
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return web.Response(status=status, body=body, headers=all_headers)


def _custom_ids(components: Sequence[JSONDict]) -> list[str]:
    found: list[str] = []
    for component in components:
        if "custom_id" in component and component["custom_id"] is not None:
            found.append(component["custom_id"])
        for key in ("components", "accessory"):
            child = component.get(key)
            if isinstance(child, list):
                found.extend(_custom_ids(child))
            elif isinstance(child, dict):
                found.extend(_custom_ids([child]))
    return found


def _component_rules(components: Sequence[Any], path: tuple[str, ...]) -> list[FieldError]:
    issues: list[FieldError] = []
    seen: set[str] = set()

    def walk(items: Sequence[Any], where: tuple[str, ...]) -> None:
        for index, component in enumerate(items):
            if not isinstance(component, dict):
                continue
            here = (*where, str(index))
            if component.get("type") == 2:  # button
                style = component.get("style")
                if style == 5:
                    if not component.get("url"):
                        issues.append(
                            FieldError((*here, "url"), "BASE_TYPE_REQUIRED", "This field is required")
                        )
                    if component.get("custom_id"):
                        issues.append(
                            FieldError(
                                (*here, "custom_id"),
                                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                                "A custom id cannot be specified for a link button",
                            )
                        )
                elif style == 6:
                    if not component.get("sku_id"):
                        issues.append(
                            FieldError((*here, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
                        )
                elif not component.get("custom_id"):
                    issues.append(
                        FieldError((*here, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
                    )
            custom_id = component.get("custom_id")
            if isinstance(custom_id, str):
                if custom_id in seen:
                    issues.append(
                        FieldError(
                            (*here, "custom_id"),
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            "Component custom id cannot be duplicated",
                        )
                    )
                seen.add(custom_id)
            for key in ("components",):
                child = component.get(key)
                if isinstance(child, list):
                    walk(child, (*here, key))
            accessory = component.get("accessory")
            if isinstance(accessory, dict):
                walk([accessory], (*here, "accessory"))

    walk(components, path)
    return issues


def _normalize_components(components: Sequence[JSONDict]) -> list[JSONDict]:
    """Echo components as Discord does: with a numeric ``id`` on each, numbered depth-first."""
    counter = itertools.count(1)

    def walk(items: Sequence[JSONDict]) -> list[JSONDict]:
        result = []
        for component in items:
            item = {k: v for k, v in component.items() if v is not None}
            item.setdefault("id", next(counter))
            if isinstance(item.get("components"), list):
                item["components"] = walk(item["components"])
            result.append(item)
        return result

    return walk(components)


def _normalize_embed(embed: JSONDict) -> JSONDict:
    item = {k: v for k, v in embed.items() if v is not None}
    item.setdefault("type", "rich")
    item.setdefault("content_scan_version", 0)
    return item


def _embed_size(embed: JSONDict) -> int:
    def text(value: Any) -> int:
        return len(value) if isinstance(value, str) else 0

    size = text(embed.get("title")) + text(embed.get("description"))
    size += text((embed.get("footer") or {}).get("text")) + text((embed.get("author") or {}).get("name"))
    for item in embed.get("fields") or []:
        if isinstance(item, dict):
            size += text(item.get("name")) + text(item.get("value"))
    return size


def _tag_issues(tags: Any, forum: JSONDict) -> list[FieldError]:
    if not isinstance(tags, list):
        return []
    known = {tag["id"] for tag in forum.get("available_tags", [])}
    return [
        FieldError(
            ("applied_tags", str(index)),
            "BASE_TYPE_CHOICES",
            f"Value must be one of {sorted(known)}.",
        )
        for index, tag in enumerate(tags)
        if str(tag) not in known
    ]


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_nulls(v)
            for k, v in value.items()
            if v is not None and not (k == "required" and v is False)
        }
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


def _valid_chat_input_name(name: str) -> bool:
    # Discord: ^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$, lowercase where a lowercase exists.
    return 1 <= len(name) <= 32 and all((ch.isalnum() or ch in "-_'") and ch.lower() == ch for ch in name)


def _command_size(item: JSONDict) -> int:
    size = len(str(item.get("name") or "")) + len(str(item.get("description") or ""))
    for choice in item.get("choices") or []:
        if isinstance(choice, dict):
            size += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    for option in item.get("options") or []:
        if isinstance(option, dict):
            size += _command_size(option)
    return size


def _command_rules(commands: Any) -> list[FieldError]:
    """Discord's application-command rules beyond the schema, for a bulk-overwrite list."""
    issues: list[FieldError] = []
    if not isinstance(commands, list):
        return issues
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(commands):
        if not isinstance(command, dict) or not isinstance(command.get("name"), str):
            continue
        here = (str(index),)
        command_type = command.get("type") or 1
        name = command["name"]
        if (command_type, name) in seen:
            issues.append(
                FieldError(
                    here,
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            )
        seen.add((command_type, name))
        if command_type == 1:
            if not _valid_chat_input_name(name):
                issues.append(
                    FieldError(
                        (*here, "name"),
                        "APPLICATION_COMMAND_INVALID_NAME",
                        "Command name is invalid",
                    )
                )
            description = command.get("description")
            if not isinstance(description, str) or not description:
                issues.append(
                    FieldError(
                        (*here, "description"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
                )
            issues.extend(_option_rules(command.get("options") or [], (*here, "options"), level=0))
        else:
            if command.get("description"):
                issues.append(
                    FieldError(
                        (*here, "description"),
                        "APPLICATION_COMMAND_DESCRIPTION_INVALID",
                        "Context menu commands cannot have a description",
                    )
                )
            if command.get("options"):
                issues.append(
                    FieldError(
                        (*here, "options"),
                        "APPLICATION_COMMAND_OPTIONS_INVALID",
                        "Context menu commands cannot have options",
                    )
                )
        if _command_size(command) > MAX_COMMAND_SIZE:
            issues.append(
                FieldError(
                    here,
                    "APPLICATION_COMMAND_TOO_LARGE",
                    f"Command exceeds maximum size ({MAX_COMMAND_SIZE})",
                )
            )
    return issues


def _option_rules(options: Any, path: tuple[str, ...], *, level: int) -> list[FieldError]:
    """level 0: a command's options; 1: inside a subcommand group; 2: inside a subcommand."""
    issues: list[FieldError] = []
    if not isinstance(options, list):
        return issues
    kinds = [o.get("type") for o in options if isinstance(o, dict)]
    has_sub = any(k in (_OPTION_SUBCOMMAND, _OPTION_SUBCOMMAND_GROUP) for k in kinds)
    if has_sub and not all(k in (_OPTION_SUBCOMMAND, _OPTION_SUBCOMMAND_GROUP) for k in kinds):
        issues.append(
            FieldError(
                path,
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Sub-command and sub-command group option types are mutually exclusive to all other types",
            )
        )
    names: set[str] = set()
    seen_optional = False
    for index, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        here = (*path, str(index))
        option_type = option.get("type")
        name = option.get("name")
        if isinstance(name, str):
            if not _valid_chat_input_name(name):
                issues.append(
                    FieldError(
                        (*here, "name"),
                        "APPLICATION_COMMAND_INVALID_NAME",
                        "Command name is invalid",
                    )
                )
            if name in names:
                issues.append(
                    FieldError(
                        (*here, "name"),
                        "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                        "Option names must be unique",
                    )
                )
            names.add(name)
        if option_type == _OPTION_SUBCOMMAND_GROUP and level != 0:
            issues.append(
                FieldError(
                    (*here, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups can only be nested in a command",
                )
            )
        elif option_type == _OPTION_SUBCOMMAND and level == 2:
            issues.append(
                FieldError(
                    (*here, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-commands cannot be nested in a sub-command",
                )
            )
        elif level == 1 and option_type != _OPTION_SUBCOMMAND:
            issues.append(
                FieldError(
                    (*here, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups can only contain sub-commands",
                )
            )
        if option_type == _OPTION_SUBCOMMAND_GROUP:
            issues.extend(_option_rules(option.get("options") or [], (*here, "options"), level=1))
            continue
        if option_type == _OPTION_SUBCOMMAND:
            issues.extend(_option_rules(option.get("options") or [], (*here, "options"), level=2))
            continue
        if option.get("required"):
            if seen_optional:
                issues.append(
                    FieldError(
                        (*here, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        if choices and option.get("autocomplete"):
            issues.append(
                FieldError(
                    (*here, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete cannot be enabled with choices",
                )
            )
        for choice_index, choice in enumerate(choices):
            value = choice.get("value") if isinstance(choice, dict) else None
            expected_ok = {
                _OPTION_STRING: isinstance(value, str),
                _OPTION_INTEGER: _is_int(value),
                _OPTION_NUMBER: _is_number(value),
            }.get(int(option_type or 0), True)
            if not expected_ok:
                issues.append(
                    FieldError(
                        (*here, "choices", str(choice_index), "value"),
                        "BASE_TYPE_CHOICES",
                        "Choice value type does not match the option type",
                    )
                )
    return issues
