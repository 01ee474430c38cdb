"""A local fake of Slack that speaks Slack's real wire protocols, for tests that run the real
``slack_sdk`` / ``slack_bolt`` code.

What this fake owns
-------------------
* **Web API** at ``{api_url}{method}`` (pass :attr:`FakeSlack.api_url` as ``base_url`` to
  ``AsyncWebClient``). GET and POST, form-encoded, multipart, query-string and JSON bodies, token
  in ``Authorization: Bearer`` or a ``token`` parameter (never inside a JSON body, as on Slack).
  Every call is checked the way Slack checks it, in Slack's order: method known (from the
  vendored OpenAPI spec plus a few newer methods) -> token present/valid/not revoked -> token
  type allowed -> scope granted -> required arguments -> method-specific validation. Answers
  are HTTP 200 ``{"ok": false, "error": ...}`` except rate limits (429 + ``Retry-After``).
* **Workspace state** the bot reads and writes: users (admin/owner flags), channels and
  membership, user groups, messages with threads (``ts`` unique and increasing, parent
  ``reply_count``/``latest_reply``), reactions, ephemeral messages, views, assistant status.
* **Socket Mode**: ``apps.connections.open`` hands out single-use ``ws://`` URLs; the socket
  greets with ``hello``, carries ``events_api``/``slash_commands``/``interactive`` envelopes and
  collects the client's acks; the test can send ``disconnect`` or drop/close the connection.
* **response_url** endpoints that record ``respond()`` posts and apply them to the state
  (``replace_original``, ``delete_original``, ``in_channel``).
* **Inbound HTTP helpers** for the bot's own HTTP mode: request signing exactly as Slack signs,
  builders for ``event_callback``, slash-command and interactive ``payload=`` bodies, and
  loaders for the vendored Bolt payload fixtures.
* **Fault injection** per method (rate limit, scripted error, HTTP 5xx) and a journal of every
  call, ack and response-url post that tests can ``await`` without polling.

What it does not own: anything about the bot, Slack's formatting/rendering (no auto-generated
``rich_text`` blocks for plain text, no mrkdwn parsing), real rate-limit tiers (only scripted),
files, OAuth installs, Enterprise Grid, or automatic Events API redelivery.

The server runs inside the test's event loop, so it must be driven by async clients.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import difflib
import functools
import hashlib
import hmac
import inspect
import itertools
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar
from urllib.parse import urlencode

import aiohttp
from aiohttp import WSMsgType, web

from tests.fakes.slack_oauth import FakeOAuth
from tests.fakes.slack_openid import FakeOpenID

__all__ = [
    "ApiCall",
    "FakeSlack",
    "ResponseUrlPost",
    "SlackError",
    "SocketConnection",
    "event_callback_body",
    "interactive_form",
    "load_form",
    "load_payload",
    "post_signed",
    "sign",
    "slash_command_form",
    "validate_blocks",
]

log = logging.getLogger(__name__)

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "slack"
PAYLOADS_DIR = FIXTURES_DIR / "payloads"
OPENAPI_PATH = FIXTURES_DIR / "web_api" / "slack_web_openapi_v2.json"

# A support bot's plausible bot-token scopes. Tests narrow this to prove missing_scope handling.
DEFAULT_BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "assistant:write",
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "im:history",
    "im:read",
    "im:write",
    "mpim:history",
    "mpim:read",
    "reactions:read",
    "reactions:write",
    "team:read",
    "usergroups:read",
    "users:read",
    "users:read.email",
)

# Slack refuses text longer than this (chat.postMessage docs: "msg_too_long").
MAX_TEXT_CHARS = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# A response_url accepts up to five posts (Slack docs: "up to 5 times within 30 minutes").
RESPONSE_URL_MAX_USES = 5

KNOWN_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "context_actions",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)

TokenKind = Literal["bot", "user", "app"]
EnvelopeType = Literal["events_api", "slash_commands", "interactive"]


# --------------------------------------------------------------------------------------------
# Method catalogue: the vendored OpenAPI spec plus what it lacks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodSpec:
    """What Slack checks before running a method."""

    name: str
    required: tuple[str, ...]
    scopes: tuple[str, ...]  # any one of them suffices; empty = no scope needed
    accepts_json: bool
    token_kinds: frozenset[str]
    errors: frozenset[str]
    needs_token: bool = True


# The spec (2021) predates these; they are what a Socket Mode / assistant bot calls.
_SUPPLEMENTAL_METHODS: dict[str, dict[str, Any]] = {
    "apps.connections.open": {"scopes": ("connections:write",), "token_kinds": {"app"}},
    "assistant.threads.setStatus": {
        "required": ("channel_id", "thread_ts"),
        "scopes": ("assistant:write",),
    },
    "assistant.threads.setTitle": {
        "required": ("channel_id", "thread_ts", "title"),
        "scopes": ("assistant:write",),
    },
    "assistant.threads.setSuggestedPrompts": {
        "required": ("channel_id", "thread_ts", "prompts"),
        "scopes": ("assistant:write",),
    },
    # Sign in with Slack (tests/fakes/slack_openid.py): the exchange takes the app's
    # credentials instead of a token; userInfo takes the user token it returned
    "openid.connect.token": {"needs_token": False},
    "openid.connect.userInfo": {"scopes": ("openid",), "token_kinds": {"user"}},
}

# Arguments Slack requires but the spec does not mark as required (it "doesn't always tell the
# whole truth", per Slack's README).
_EXTRA_REQUIRED: dict[str, tuple[str, ...]] = {
    "chat.delete": ("channel", "ts"),
    "conversations.history": ("channel",),
    "conversations.info": ("channel",),
    "conversations.join": ("channel",),
    "conversations.members": ("channel",),
    "conversations.replies": ("channel", "ts"),
    "reactions.get": ("channel", "timestamp"),
    "users.info": ("user",),
}

# Granular bot scopes that differ from the spec's legacy security entries.
_SCOPE_OVERRIDES: dict[str, tuple[str, ...]] = {
    "conversations.join": ("channels:join",),
}
_LEGACY_SCOPES = {"chat:write:bot": "chat:write", "chat:write:user": "chat:write"}
_CHANNEL_SCOPE_FAMILIES = ("channels", "groups", "im", "mpim")

# What Slack answers when a required argument is missing, where it is not the generic
# invalid_arguments. Checked against the method docs' error tables.
_MISSING_ARG_ERRORS: dict[tuple[str, str], str] = {
    ("chat.update", "ts"): "message_not_found",
    ("chat.delete", "ts"): "message_not_found",
    ("chat.getPermalink", "message_ts"): "message_not_found",
    ("chat.postEphemeral", "user"): "user_not_in_channel",
    ("reactions.add", "name"): "invalid_name",
    ("reactions.add", "channel"): "no_item_specified",
    ("reactions.add", "timestamp"): "no_item_specified",
    ("reactions.remove", "name"): "invalid_name",
    ("reactions.get", "channel"): "no_item_specified",
    ("reactions.get", "timestamp"): "no_item_specified",
}


def _token_kinds_for(name: str) -> frozenset[str]:
    if name.startswith(("admin.", "search.")):
        return frozenset({"user"})
    return frozenset({"bot", "user"})


@functools.cache
def method_specs() -> dict[str, MethodSpec]:
    """All Web API methods the fake knows, keyed by name (loaded once per process)."""
    spec = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    out: dict[str, MethodSpec] = {}
    for path, verbs in spec["paths"].items():
        name = path.lstrip("/")
        for op in verbs.values():
            params = op.get("parameters", [])
            required = tuple(p["name"] for p in params if p.get("required") and p["name"] != "token")
            extra = tuple(a for a in _EXTRA_REQUIRED.get(name, ()) if a not in required)
            scopes: tuple[str, ...] = ()
            for sec in op.get("security", []):
                for values in sec.values():
                    scopes += tuple(v for v in values if v != "none")
            error_enum = (
                op.get("responses", {})
                .get("default", {})
                .get("schema", {})
                .get("properties", {})
                .get("error", {})
                .get("enum", [])
            )
            out[name] = MethodSpec(
                name=name,
                required=required + extra,
                scopes=_SCOPE_OVERRIDES.get(name, scopes),
                accepts_json="application/json" in op.get("consumes", []),
                token_kinds=_token_kinds_for(name),
                errors=frozenset(error_enum),
                # api.test and the oauth.* exchanges take no token at all.
                needs_token=any(p["name"] == "token" for p in params),
            )
    for name, info in _SUPPLEMENTAL_METHODS.items():
        out[name] = MethodSpec(
            name=name,
            required=tuple(info.get("required", ())),
            scopes=tuple(info.get("scopes", ())),
            accepts_json=True,
            token_kinds=frozenset(info.get("token_kinds", {"bot", "user"})),
            errors=frozenset(),
            needs_token=info.get("needs_token", True),
        )
    return out


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class ApiCall:
    """One Web API request as the fake saw it, and what it answered."""

    index: int
    method: str
    params: dict[str, Any]  # merged query + body, token removed, JSON-string args left as sent
    headers: dict[str, str]
    http_method: str
    token: str | None
    status: int = 0
    response: dict[str, Any] | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.status == 200 and self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")

    def json_param(self, name: str) -> Any:
        """A param Slack accepts as JSON-or-string (blocks, attachments, view), decoded."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value


@dataclass
class ResponseUrlPost:
    """One POST to a response_url (what Bolt's ``respond()`` sends)."""

    index: int
    url_id: str
    body: dict[str, Any]
    status: int
    context: dict[str, Any]  # channel / message_ts / user the URL was issued for

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def blocks(self) -> list[dict[str, Any]] | None:
        return self.body.get("blocks")

    @property
    def response_type(self) -> str:
        # Slack's default for response_url posts is ephemeral.
        return str(self.body.get("response_type", "ephemeral"))

    @property
    def replace_original(self) -> bool:
        return _truthy(self.body.get("replace_original"))

    @property
    def delete_original(self) -> bool:
        return _truthy(self.body.get("delete_original"))


@dataclass
class SocketConnection:
    """One Socket Mode websocket the client opened."""

    number: int  # 1-based, in connection order
    ticket: str
    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)  # non-ack frames from the client
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_open(self) -> bool:
        return not self.closed.is_set() and not self.ws.closed


class SlackError(Exception):
    """Raised inside handlers to produce Slack's ``{"ok": false, "error": ...}`` answer."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def _invalid_arguments(*messages: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": list(messages)})


T = TypeVar("T")


class _Journal(Generic[T]):
    """An append-only list that tests can await on (asyncio.Condition, no polling)."""

    def __init__(self) -> None:
        self.items: list[T] = []
        self._cond: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        # Created lazily so it binds to the running test loop, not import time.
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def add(self, item: T) -> None:
        cond = self._condition()
        async with cond:
            self.items.append(item)
            cond.notify_all()

    async def wait(
        self,
        predicate: Callable[[T], bool],
        *,
        count: int,
        since: int,
        timeout: float,
        describe: Callable[[], str],
    ) -> T:
        def matching() -> list[T]:
            return [item for item in self.items[since:] if predicate(item)]

        cond = self._condition()
        try:
            async with asyncio.timeout(timeout), cond:
                await cond.wait_for(lambda: len(matching()) >= count)
                return matching()[count - 1]
        except TimeoutError:
            raise TimeoutError(describe()) from None


@dataclass
class _Fault:
    kind: Literal["ratelimit", "error", "http"]
    remaining: int
    error: str = ""
    status: int = 200
    retry_after: int = 1
    body: str | dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Token:
    token: str
    kind: TokenKind
    scopes: list[str]
    user_id: str | None
    revoked: bool = False
    team_id: str | None = None  # the workspace it belongs to (None: the fake's main one)


# --------------------------------------------------------------------------------------------
# Small parsing helpers
# --------------------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _as_int(params: Mapping[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if not _present(value):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _invalid_arguments(f"[ERROR] must be an integer [json-pointer:/{name}]") from None


def _json_arg(params: Mapping[str, Any], name: str, bad_format_error: str) -> Any:
    """Slack takes structured args as JSON values (JSON body) or JSON strings (form)."""
    value = params.get(name)
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(bad_format_error) from None
    return value


def _ts_key(ts: str) -> tuple[int, int]:
    """Sortable (seconds, microseconds); "111.222" means .222000, as a decimal would."""
    sec, _, frac = ts.partition(".")
    return int(sec), int((frac + "000000")[:6])


def _encode_cursor(ts: str) -> str:
    # Slack cursors are opaque base64 of "next_ts:<ts>"; keeping that shape costs nothing.
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    if not raw.startswith("next_ts:"):
        raise SlackError("invalid_cursor")
    return raw.removeprefix("next_ts:")


# --------------------------------------------------------------------------------------------
# Block Kit validation (light: the checks a bot realistically trips)
# --------------------------------------------------------------------------------------------


def _check_text_object(obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict):
        return [f"[ERROR] must be an object [json-pointer:{pointer}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    errors = []
    if obj.get("type") not in allowed:
        errors.append(f"[ERROR] must be one of {', '.join(allowed)} [json-pointer:{pointer}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        errors.append(f"[ERROR] must be more than 0 characters [json-pointer:{pointer}/text]")
    elif len(text) > max_len:
        errors.append(f"[ERROR] must be less than {max_len + 1} characters [json-pointer:{pointer}/text]")
    return errors


def _check_block(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"[ERROR] must be an object [json-pointer:{pointer}]"]
    btype = block.get("type")
    if btype not in KNOWN_BLOCK_TYPES:
        return [f"[ERROR] unsupported type: {btype} [json-pointer:{pointer}/type]"]
    errors: list[str] = []
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or len(block_id) > 255):
        errors.append(f"[ERROR] must be a string of at most 255 characters [json-pointer:{pointer}/block_id]")
    if btype == "section":
        if "text" not in block and "fields" not in block and "expand" not in block:
            errors.append(f"[ERROR] must provide text or fields [json-pointer:{pointer}]")
        if "text" in block:
            errors += _check_text_object(block["text"], f"{pointer}/text", max_len=3000)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                errors.append(f"[ERROR] no more than 10 items allowed [json-pointer:{pointer}/fields]")
            else:
                for i, item in enumerate(fields):
                    errors += _check_text_object(item, f"{pointer}/fields/{i}", max_len=2000)
    elif btype == "header":
        errors += _check_text_object(block.get("text"), f"{pointer}/text", max_len=150, plain_only=True)
    elif btype in ("context", "actions", "rich_text", "context_actions"):
        limit = {"context": 10, "actions": 25}.get(btype, 1000)
        elements = block.get("elements")
        if not isinstance(elements, list) or not elements:
            errors.append(f"[ERROR] must provide elements [json-pointer:{pointer}/elements]")
        elif len(elements) > limit:
            errors.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}/elements]")
    elif btype == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not text or len(text) > 12000:
            errors.append(f"[ERROR] must be 1 to 12000 characters [json-pointer:{pointer}/text]")
    elif btype == "image":
        if not block.get("image_url") and not block.get("slack_file"):
            errors.append(f"[ERROR] must provide image_url [json-pointer:{pointer}]")
        if not block.get("alt_text"):
            errors.append(f"[ERROR] must provide alt_text [json-pointer:{pointer}/alt_text]")
    return errors


def validate_blocks(value: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[dict[str, Any]]:
    """Parse and check ``blocks`` as Slack does; raise :class:`SlackError` on failure.

    Not parseable / not a JSON array -> ``invalid_blocks_format``; a structural problem ->
    ``invalid_blocks`` with Slack-style ``response_metadata.messages`` (json-pointer paths).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise SlackError("invalid_blocks_format") from None
    if not isinstance(value, list):
        raise SlackError("invalid_blocks_format")
    errors: list[str] = []
    if len(value) > max_blocks:
        errors.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]")
    seen_ids: set[str] = set()
    for i, block in enumerate(value):
        errors += _check_block(block, f"/blocks/{i}")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen_ids:
                errors.append(f"[ERROR] duplicate block_id: {block_id} [json-pointer:/blocks/{i}/block_id]")
            seen_ids.add(block_id)
    if errors:
        raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    return value


# --------------------------------------------------------------------------------------------
# Inbound-to-the-bot helpers: signing, body builders, fixtures
# --------------------------------------------------------------------------------------------


def sign(body: bytes | str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack puts on every HTTP request it sends to an app.

    ``X-Slack-Signature`` is ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{raw body}`` keyed
    with the signing secret; ``X-Slack-Request-Timestamp`` is the Unix time in seconds.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(ts).encode() + b":" + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def event_callback_body(
    event: Mapping[str, Any],
    *,
    team_id: str = "T111",
    api_app_id: str = "A111",
    bot_user_id: str = "U0BOT",
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = "verification_token",
) -> dict[str, Any]:
    """Wrap an inner event in the ``event_callback`` envelope Slack posts / sends over sockets."""
    inner = dict(event)
    if "event_ts" not in inner:
        inner["event_ts"] = inner.get("ts") or f"{time.time():.6f}"
    return {
        "token": token,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": inner,
        "type": "event_callback",
        "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{base64.b64encode(secrets.token_bytes(12)).decode()}",
    }


def slash_command_form(fields: Mapping[str, Any]) -> bytes:
    """The ``application/x-www-form-urlencoded`` body Slack posts for a slash command."""
    return urlencode({k: str(v) for k, v in fields.items()}).encode()


def interactive_form(payload: Mapping[str, Any]) -> bytes:
    """The body Slack posts for interactivity: ``payload=`` + URL-encoded JSON."""
    return urlencode({"payload": json.dumps(payload)}).encode()


async def post_signed(
    url: str,
    body: bytes,
    secret: str,
    *,
    content_type: str = "application/json",
    timestamp: int | None = None,
    retry_num: int | None = None,
    retry_reason: str | None = None,
    timeout: float | None = None,
) -> tuple[int, str]:
    """POST ``body`` to the app like Slack does (signed; optional retry headers). With
    ``timeout`` (Slack's is 3 s), an answer that does not come within it fails as Slack's
    delivery would: ``TimeoutError``.

    Returns ``(status, response text)``.
    """
    headers = {"Content-Type": content_type, **sign(body, secret, timestamp)}
    if retry_num is not None:
        # Slack marks redeliveries with these (Events API retries).
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout or 300)) as session,
        session.post(url, data=body, headers=headers) as resp,
    ):
        return resp.status, await resp.text()


def _find_fixture(name: str, suffixes: Iterable[str]) -> Path:
    candidates = sorted(p for p in PAYLOADS_DIR.rglob("*") if p.is_file())
    for path in candidates:
        if path.name == name or any(path.name == name + s for s in suffixes):
            return path
    names = [p.name for p in candidates]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.3)
    raise FileNotFoundError(f"no Slack payload fixture named {name!r}; close matches: {close}")


def load_payload(name: str) -> dict[str, Any]:
    """A JSON payload fixture from tests/fixtures/slack/payloads/*/ by file name (``.json``
    optional), e.g. ``load_payload("app_mention__app__app_mention_event_body")``."""
    path = _find_fixture(name, (".json",))
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_form(name: str) -> bytes:
    """A form-encoded fixture (``*.form.txt``) verbatim, e.g. the real slash-command body."""
    return _find_fixture(name, (".form.txt", ".txt")).read_bytes()


# --------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------

Handler = Callable[["_Ctx"], Awaitable[dict[str, Any]]]
StubResponse = dict[str, Any] | Callable[[ApiCall], dict[str, Any] | Awaitable[dict[str, Any]]]


@dataclass
class _Ctx:
    method: str
    params: dict[str, Any]
    token: _Token
    call: ApiCall


class FakeSlack:
    """A fake Slack workspace + Web API + Socket Mode + response_url server on 127.0.0.1.

    Defaults line up with the Bolt payload fixtures (team ``T111``, app ``A111``, channel
    ``C111``, users ``W111`` and ``W222``), so fixture events refer to things that exist.
    """

    def __init__(
        self,
        *,
        team_id: str = "T111",
        team_name: str = "Test Team",
        team_domain: str = "test-domain",
        app_id: str = "A111",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        bot_name: str = "supportbot",
        bot_token: str = "xoxb-" + "fake-bot-token",  # assembled: no token-shaped literal in the repo
        app_token: str = "xapp-1-A111-fake-app-token",
        bot_scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
        app_scopes: Iterable[str] = ("connections:write",),
        signing_secret: str = "fake-signing-secret",
        verification_token: str = "verification_token",
        seed: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.verification_token = verification_token
        self.host = host

        self._tokens: dict[str, _Token] = {}
        self.add_token(bot_token, "bot", bot_scopes, user_id=bot_user_id)
        # workspaces the app may be installed in, by team id; the main one first
        self.workspaces: dict[str, dict[str, str]] = {
            team_id: {"name": team_name, "bot_user_id": bot_user_id, "bot_id": bot_id, "bot_token": bot_token}
        }
        self.oauth = FakeOAuth(self)
        self.openid = FakeOpenID(self)
        self.add_token(app_token, "app", app_scopes)

        # Workspace state.
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self.members: dict[str, set[str]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        # trigger ids handed out with interactions: when each was issued, and those exchanged
        # for a modal (Slack accepts one views.open per trigger, within 3 seconds)
        self.triggers: dict[str, float] = {}
        self._exchanged: set[str] = set()
        self.trigger_seconds = 3.0
        self.assistant_threads: dict[tuple[str, str], dict[str, Any]] = {}
        self._last_ts_us = 0
        self._ids = itertools.count(1)

        # Journals the tests await on.
        self._calls: _Journal[ApiCall] = _Journal()
        self._acks: _Journal[dict[str, Any]] = _Journal()
        self._responses: _Journal[ResponseUrlPost] = _Journal()
        self._connections: _Journal[SocketConnection] = _Journal()

        self._faults: dict[str, list[_Fault]] = {}
        self._stubs: dict[str, StubResponse] = {}
        self._tickets: dict[str, bool] = {}  # ticket -> already used
        self._pending_acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}
        self.internal_errors: list[BaseException] = []

        self._handlers: dict[str, Handler] = {
            "api.test": self._m_api_test,
            "auth.test": self._m_auth_test,
            "oauth.v2.access": self.oauth.access,
            "openid.connect.token": self.openid.token,
            "openid.connect.userInfo": self.openid.user_info,
            "apps.connections.open": self._m_apps_connections_open,
            "assistant.threads.setStatus": self._m_assistant_threads,
            "assistant.threads.setTitle": self._m_assistant_threads,
            "assistant.threads.setSuggestedPrompts": self._m_assistant_threads,
            "bots.info": self._m_bots_info,
            "chat.delete": self._m_chat_delete,
            "chat.getPermalink": self._m_chat_get_permalink,
            "chat.postEphemeral": self._m_chat_post_ephemeral,
            "chat.postMessage": self._m_chat_post_message,
            "chat.update": self._m_chat_update,
            "conversations.history": self._m_conversations_history,
            "conversations.info": self._m_conversations_info,
            "conversations.join": self._m_conversations_join,
            "conversations.members": self._m_conversations_members,
            "conversations.open": self._m_conversations_open,
            "conversations.replies": self._m_conversations_replies,
            "reactions.add": self._m_reactions_add,
            "reactions.get": self._m_reactions_get,
            "reactions.remove": self._m_reactions_remove,
            "team.info": self._m_team_info,
            "usergroups.list": self._m_usergroups_list,
            "usergroups.users.list": self._m_usergroups_users_list,
            "users.conversations": self._m_users_conversations,
            "users.info": self._m_users_info,
            "users.list": self._m_users_list,
            "users.lookupByEmail": self._m_users_lookup_by_email,
            "views.open": self._m_views_open,
            "views.publish": self._m_views_publish,
            "views.push": self._m_views_open,
            "views.update": self._m_views_update,
        }

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self.add_user(bot_user_id, bot_name, is_bot=True, bot_id=bot_id)
        if seed:
            self.add_user(
                "W111",
                "primary-owner",
                real_name="Primary Owner",
                is_admin=True,
                is_owner=True,
                is_primary_owner=True,
            )
            self.add_user("W222", "member", real_name="Regular Member")
            self.add_channel("C111", "random")
            self.add_channel("C222", "support")
            self.add_usergroup("S111", "support-team", users=["W111"])

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> Self:
        """Bind an ephemeral port on ``host`` and start serving."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/link/", self._handle_link)
        app.router.add_get("/oauth/v2/authorize", self.oauth.authorize)
        app.router.add_get("/openid/connect/authorize", self.openid.authorize)
        app.router.add_post("/response/{url_id}", self._handle_response_url)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        """Drop sockets, fail pending acks, stop the server."""
        for conn in self.connections:
            if conn.is_open and conn.transport is not None:
                # Abort rather than a close handshake: the client may already be gone.
                conn.transport.abort()
        for fut in self._pending_acks.values():
            if not fut.done():
                fut.cancel()
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
        if exc is None and self.internal_errors:
            # A bug in the fake must fail the test rather than look like a Slack error.
            raise AssertionError(f"FakeSlack internal errors: {self.internal_errors!r}")

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeSlack is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """Pass as ``base_url`` to ``AsyncWebClient`` (it ends with ``/api/`` like Slack's)."""
        return f"{self.base_url}api/"

    # ---------------------------------------------------------------- state setup

    def add_token(
        self,
        token: str,
        kind: TokenKind,
        scopes: Iterable[str] = (),
        *,
        user_id: str | None = None,
        team_id: str | None = None,
    ) -> None:
        """Register a token (``bot``: xoxb-, ``user``: xoxp-, ``app``: xapp-) and its scopes."""
        self._tokens[token] = _Token(token, kind, list(scopes), user_id, team_id=team_id)

    def token_scopes(self, token: str) -> list[str]:
        return list(self._tokens[token].scopes)

    def add_workspace(
        self, team_id: str, name: str, *, bot_user_id: str, bot_id: str, bot_token: str | None = None
    ) -> str:
        """Another workspace the app can be installed in (OAuth: tests/fakes/slack_oauth.py):
        its bot user joins every channel, and its bot token (returned) answers as that team.
        Channels and users are shared with the main workspace: only identity differs."""
        token = bot_token or f"xoxb-{team_id}-" + secrets.token_hex(6)
        self.workspaces[team_id] = {
            "name": name,
            "bot_user_id": bot_user_id,
            "bot_id": bot_id,
            "bot_token": token,
        }
        self.add_token(token, "bot", DEFAULT_BOT_SCOPES, user_id=bot_user_id, team_id=team_id)
        self.add_user(bot_user_id, f"supportbot-{team_id.lower()}", is_bot=True, bot_id=bot_id)
        for members in self.members.values():
            members.add(bot_user_id)
        return token

    def set_scopes(self, token: str, scopes: Iterable[str]) -> None:
        """Replace a token's granted scopes (shows up in ``x-oauth-scopes``)."""
        self._tokens[token].scopes = list(scopes)

    def revoke_token(self, token: str) -> None:
        """Later calls with this token get ``token_revoked``."""
        self._tokens[token].revoked = True

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        bot_id: str | None = None,
        tz: str = "Europe/London",
        channels: Iterable[str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add a user (Slack's user object shape). Joins ``channels`` (default: every existing
        public channel)."""
        real = real_name or name
        profile: dict[str, Any] = {
            "real_name": real,
            "display_name": name,
            "real_name_normalized": real,
            "display_name_normalized": name,
            "email": email or f"{name}@example.com",
            "team": self.team_id,
            "image_48": f"https://avatars.example/{user_id}_48.png",
        }
        if bot_id:
            profile["bot_id"] = bot_id
            profile.pop("email")
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real,
            "tz": tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(time.time()),
            **extra,
        }
        self.users[user_id] = user
        targets = (
            channels
            if channels is not None
            else [
                cid for cid, ch in self.channels.items() if not ch.get("is_private") and not ch.get("is_im")
            ]
        )
        for cid in targets:
            self.members.setdefault(cid, set()).add(user_id)
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_archived: bool = False,
        bot_is_member: bool = True,
        members: Iterable[str] | None = None,
        topic: str = "",
        purpose: str = "",
    ) -> dict[str, Any]:
        """Add a channel. Members default to every (non-deleted) user; the bot is a member
        unless ``bot_is_member=False`` (then posting gets ``not_in_channel``)."""
        now = int(time.time())
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": now,
            "is_archived": is_archived,
            "is_general": name == "general",
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "context_team_id": self.team_id,
            "creator": "W111",
            "topic": {"value": topic, "creator": "", "last_set": 0},
            "purpose": {"value": purpose, "creator": "", "last_set": 0},
        }
        self.channels[channel_id] = channel
        ids = (
            set(members)
            if members is not None
            else {uid for uid, u in self.users.items() if not u["deleted"] and not u["is_bot"]}
        )
        ids.discard(self.bot_user_id)
        if bot_is_member:
            ids.add(self.bot_user_id)
        self.members[channel_id] = ids
        self._messages.setdefault(channel_id, {})
        return channel

    def add_im(self, user_id: str, channel_id: str | None = None) -> dict[str, Any]:
        """The bot's DM channel with ``user_id`` (created once, reused afterwards)."""
        for ch in self.channels.values():
            if ch.get("is_im") and ch.get("user") == user_id:
                return ch
        cid = channel_id or f"D{next(self._ids):08d}"
        channel = {
            "id": cid,
            "created": int(time.time()),
            "is_archived": False,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "user": user_id,
            "is_user_deleted": False,
            "priority": 0,
        }
        self.channels[cid] = channel
        self.members[cid] = {user_id, self.bot_user_id}
        self._messages.setdefault(cid, {})
        return channel

    def add_usergroup(
        self, usergroup_id: str, handle: str, *, users: Iterable[str] = (), name: str | None = None
    ) -> dict[str, Any]:
        group = {
            "id": usergroup_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "name": name or handle,
            "handle": handle,
            "description": "",
            "is_external": False,
            "date_create": int(time.time()),
            "date_delete": 0,
            "auto_type": None,
            "users": list(users),
        }
        group["user_count"] = len(group["users"])
        self.usergroups[usergroup_id] = group
        return group

    def next_ts(self) -> str:
        """A new message ``ts``: wall-clock based like Slack's, strictly increasing."""
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "W222",
        thread_ts: str | None = None,
        ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message written by a human (or anyone) into the channel state."""
        msg: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts or self.next_ts(),
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
            **extra,
        }
        if blocks is not None:
            msg["blocks"] = blocks
        if ts is not None:
            # Keep generated ts values after any explicitly seeded one.
            sec, usec = _ts_key(ts)
            self._last_ts_us = max(self._last_ts_us, sec * 1_000_000 + usec)
        return self._store_message(channel, msg, thread_ts)

    # ---------------------------------------------------------------- state inspection

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """All messages (top level and replies) in ``channel``, oldest first (copies)."""
        stored = self._messages.get(channel, {})
        return [copy.deepcopy(stored[ts]) for ts in sorted(stored, key=_ts_key)]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        msg = self._messages.get(channel, {}).get(ts)
        return copy.deepcopy(msg) if msg is not None else None

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Parent then replies, oldest first."""
        return [m for m in self.messages(channel) if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    # ---------------------------------------------------------------- calls journal

    @property
    def api_calls(self) -> list[ApiCall]:
        """Every Web API call, in arrival order (including failed ones)."""
        return list(self._calls.items)

    def calls(self, method: str | None = None) -> list[ApiCall]:
        return [c for c in self._calls.items if method is None or c.method == method]

    def last_call(self, method: str) -> ApiCall:
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call; calls: {[c.method for c in self.api_calls]}")
        return found[-1]

    def mark(self) -> int:
        """Index to pass as ``since=`` so waits ignore calls made before this point."""
        return len(self._calls.items)

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        timeout: float = 5.0,
        *,
        count: int = 1,
        since: int = 0,
    ) -> ApiCall:
        """The ``count``-th call of ``method`` matching ``predicate`` (calls already made count;
        use ``since=fake.mark()`` to ignore them). Raises ``TimeoutError``."""

        def describe() -> str:
            seen = [(c.method, c.status, c.error) for c in self._calls.items[since:]]
            return f"no {count}x {method} call matching within {timeout}s; calls: {seen}"

        return await self._calls.wait(
            lambda c: c.method == method and (predicate is None or predicate(c)),
            count=count,
            since=since,
            timeout=timeout,
            describe=describe,
        )

    # ---------------------------------------------------------------- scripting

    def _check_method_name(self, method: str) -> None:
        if method not in method_specs():
            # A typo in a test script must not silently never fire.
            raise ValueError(f"unknown Slack method {method!r}")

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` get HTTP 429, ``Retry-After: retry_after``
        and ``{"ok": false, "error": "ratelimited"}`` (what Slack sends)."""
        self._check_method_name(method)
        self._faults.setdefault(method, []).append(
            _Fault("ratelimit", times, error="ratelimited", status=429, retry_after=retry_after)
        )

    def fail(self, method: str, error: str, times: int = 1, **extra: Any) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 200 ``{"ok": false, "error":
        error, **extra}`` (after auth passes)."""
        self._check_method_name(method)
        self._faults.setdefault(method, []).append(_Fault("error", times, error=error, extra=extra))

    def http_error(
        self,
        method: str,
        status: int = 500,
        times: int = 1,
        body: str | dict[str, Any] | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` get a bare HTTP ``status`` (an HTML-ish text
        page by default, like an upstream gateway; a dict is sent as JSON)."""
        self._check_method_name(method)
        self._faults.setdefault(method, []).append(_Fault("http", times, status=status, body=body))

    def heal(self, method: str) -> None:
        """Calls of ``method`` answer as usual again: the faults still queued for it are dropped."""
        self._check_method_name(method)
        self._faults.pop(method, None)

    def stub(self, method: str, response: StubResponse) -> None:
        """Answer ``method`` (after auth/scope/argument checks) with ``response`` or
        ``response(call)``; the way to cover methods the fake does not model."""
        self._check_method_name(method)
        self._stubs[method] = response

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    # ---------------------------------------------------------------- Web API plumbing

    async def _read_params(self, request: web.Request, spec: MethodSpec | None) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                raw = await request.text()
                try:
                    body = json.loads(raw) if raw.strip() else {}
                except json.JSONDecodeError:
                    raise SlackError("invalid_json") from None
                if not isinstance(body, dict):
                    raise SlackError("json_not_object")
                # Slack ignores a token inside a JSON body (it must be a Bearer header) and
                # only read methods reject JSON: their args then simply go missing.
                body.pop("token", None)
                if spec is None or spec.accepts_json:
                    params.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key in form:
                    value = form.get(key)
                    params[key] = value if isinstance(value, str) else getattr(value, "filename", "<file>")
        return params

    @staticmethod
    def _extract_token(request: web.Request, params: dict[str, Any]) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            params.pop("token", None)
            return auth[7:].strip() or None
        token = params.pop("token", None)
        return str(token) if token else None

    def _needed_scopes(self, spec: MethodSpec, params: Mapping[str, Any]) -> tuple[str, ...]:
        scopes = tuple(dict.fromkeys(_LEGACY_SCOPES.get(s, s) for s in spec.scopes))
        if not scopes:
            return ()
        families = {s.split(":", 1)[0] for s in scopes}
        suffixes = {s.split(":", 1)[1] for s in scopes if ":" in s}
        if (
            families == set(_CHANNEL_SCOPE_FAMILIES)
            and len(suffixes) == 1
            and spec.name == "users.conversations"
        ):
            # every type asked for needs its own family's scope (checked in the handler)
            return ()
        if families == set(_CHANNEL_SCOPE_FAMILIES) and len(suffixes) == 1:
            # conversations.* need the scope of the channel's type, as on Slack.
            channel = self.channels.get(str(params.get("channel", "")))
            if channel is not None:
                return (f"{self._channel_family(channel)}:{suffixes.pop()}",)
        return scopes

    @staticmethod
    def _channel_family(channel: Mapping[str, Any]) -> str:
        if channel.get("is_im"):
            return "im"
        if channel.get("is_mpim"):
            return "mpim"
        if channel.get("is_private"):
            return "groups"
        return "channels"

    def _missing_arg_error(self, spec: MethodSpec, arg: str) -> SlackError:
        mapped = _MISSING_ARG_ERRORS.get((spec.name, arg))
        if mapped:
            return SlackError(mapped)
        if arg in ("channel", "channel_id") and "channel_not_found" in spec.errors:
            return SlackError("channel_not_found")
        if arg == "user" and "user_not_found" in spec.errors:
            return SlackError("user_not_found")
        return _invalid_arguments(f"[ERROR] missing required field: {arg}")

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        spec = method_specs().get(method)
        call = ApiCall(
            index=-1,
            method=method,
            params={},
            headers=dict(request.headers),
            http_method=request.method,
            token=None,
        )
        headers: dict[str, str] = {"x-slack-req-id": secrets.token_hex(16)}
        status = 200
        body: dict[str, Any] | str
        content_type = "application/json"
        try:
            try:
                call.params = await self._read_params(request, spec)
                call.token = self._extract_token(request, call.params)
                body = await self._dispatch(call, spec, headers)
            except SlackError as err:
                status, body = err.status, err.body()
            except _HttpFault as fault:
                status = fault.status
                headers.update(fault.headers)
                if isinstance(fault.body, dict):
                    body = fault.body
                else:
                    body, content_type = fault.body, "text/html"
        except Exception as exc:  # a bug in the fake, not a Slack behaviour
            log.exception("FakeSlack failed handling %s", method)
            self.internal_errors.append(exc)
            status, body = 500, {"ok": False, "error": "fake_internal_error", "detail": repr(exc)}

        call.status = status
        call.response = body if isinstance(body, dict) else None
        call.response_headers = dict(headers)
        call.index = len(self._calls.items)
        await self._calls.add(call)
        if isinstance(body, dict):
            return web.json_response(body, status=status, headers=headers)
        return web.Response(text=body, status=status, headers=headers, content_type=content_type)

    async def _dispatch(
        self, call: ApiCall, spec: MethodSpec | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        if spec is None:
            # Slack answers unknown methods before looking at auth.
            raise SlackError("unknown_method", req_method=call.method)
        if not spec.needs_token:
            return await self._run_method(call, spec, None)
        if call.token is None:
            raise SlackError("not_authed")
        token = self._tokens.get(call.token)
        if token is None:
            raise SlackError("invalid_auth")
        if token.revoked:
            raise SlackError("token_revoked")
        if token.kind != "app":
            headers["x-oauth-scopes"] = ",".join(token.scopes)
        if token.kind not in spec.token_kinds:
            raise SlackError("not_allowed_token_type")
        needed = self._needed_scopes(spec, call.params)
        if needed:
            headers["x-accepted-oauth-scopes"] = ",".join(needed)
            if not any(s in token.scopes for s in needed):
                raise SlackError("missing_scope", needed=",".join(needed), provided=",".join(token.scopes))

        fault = self._take_fault(call.method)
        if fault is not None:
            if fault.kind == "ratelimit":
                raise _HttpFault(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(fault.retry_after)},
                )
            if fault.kind == "error":
                raise SlackError(fault.error, **fault.extra)
            default = f"<html><body><h1>{fault.status}</h1>Slack is having trouble</body></html>"
            raise _HttpFault(fault.status, fault.body if fault.body is not None else default, {})

        for arg in spec.required:
            if not _present(call.params.get(arg)):
                raise self._missing_arg_error(spec, arg)

        return await self._run_method(call, spec, token)

    async def _run_method(self, call: ApiCall, spec: MethodSpec, token: _Token | None) -> dict[str, Any]:
        # Token-less methods (api.test) get an anonymous identity they never look at.
        ctx = _Ctx(call.method, call.params, token or _Token("", "user", [], None), call)
        stub = self._stubs.get(call.method)
        if stub is not None:
            result = stub(call) if callable(stub) else copy.deepcopy(stub)
            if inspect.isawaitable(result):
                result = await result
            return {"ok": True, **result}
        handler = self._handlers.get(call.method)
        if handler is None:
            # Loud on purpose: a silent generic success would let a bot test pass on a lie.
            raise SlackError(
                "fake_not_implemented",
                detail=f"FakeSlack does not model {call.method}; use fake.stub()",
            )
        return await handler(ctx)

    # ---------------------------------------------------------------- state helpers

    def _resolve_channel(self, value: Any, *, create_im: bool = False) -> dict[str, Any]:
        """Channel by ID, ``#name``/name, or (for posting) a user ID meaning the bot's DM."""
        key = str(value or "")
        if key in self.channels:
            return self.channels[key]
        name = key.removeprefix("#")
        for ch in self.channels.values():
            if ch.get("name") == name:
                return ch
        if create_im and key in self.users:
            return self.add_im(key)
        raise SlackError("channel_not_found")

    def _bot_can_see(self, channel: Mapping[str, Any]) -> bool:
        return not channel.get("is_private") or self.bot_user_id in self.members.get(channel["id"], set())

    def _require_member(self, ctx: _Ctx, channel: Mapping[str, Any]) -> None:
        actor = ctx.token.user_id or self.bot_user_id
        if actor in self.members.get(channel["id"], set()):
            return
        if (
            channel.get("is_channel")
            and not channel.get("is_private")
            and "chat:write.public" in ctx.token.scopes
            and ctx.method in ("chat.postMessage", "chat.postEphemeral")
        ):
            return
        raise SlackError("not_in_channel")

    def _visible_channel(self, ctx: _Ctx, key: Any) -> dict[str, Any]:
        channel = self._resolve_channel(key)
        # Private channels the bot is not in do not exist for it.
        if not self._bot_can_see(channel):
            raise SlackError("channel_not_found")
        return channel

    def _find_message(self, channel_id: str, ts: Any) -> dict[str, Any]:
        msg = self._messages.get(channel_id, {}).get(str(ts or ""))
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def _store_message(self, channel_key: str, msg: dict[str, Any], thread_ts: str | None) -> dict[str, Any]:
        channel = self._resolve_channel(channel_key, create_im=True)
        store = self._messages.setdefault(channel["id"], {})
        if thread_ts:
            parent = store.get(thread_ts)
            # Replying to a reply lands in the real parent's thread, as on Slack.
            if parent is not None and parent.get("thread_ts") not in (None, parent["ts"]):
                thread_ts = parent["thread_ts"]
                parent = store.get(thread_ts)
            msg["thread_ts"] = thread_ts
            if parent is not None:
                msg["parent_user_id"] = parent.get("user")
                parent["thread_ts"] = parent["ts"]
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                reply_users = parent.setdefault("reply_users", [])
                if msg.get("user") and msg["user"] not in reply_users:
                    reply_users.append(msg["user"])
                parent["reply_users_count"] = len(reply_users)
                parent["latest_reply"] = msg["ts"]
                parent.setdefault("is_locked", False)
                parent.setdefault("subscribed", False)
        store[msg["ts"]] = msg
        return msg

    def _remove_message(self, channel_id: str, ts: str) -> None:
        store = self._messages.get(channel_id, {})
        msg = store[ts]
        if msg.get("reply_count"):
            # A deleted thread parent stays as Slack's tombstone so its replies keep a root.
            for key in ("blocks", "attachments", "files", "reactions", "edited", "bot_profile"):
                msg.pop(key, None)
            msg.update(subtype="tombstone", text="This message was deleted.", hidden=True)
            return
        del store[ts]
        parent_ts = msg.get("thread_ts")
        if parent_ts and parent_ts != ts and parent_ts in store:
            parent = store[parent_ts]
            replies = [m for m in store.values() if m.get("thread_ts") == parent_ts and m is not parent]
            parent["reply_count"] = len(replies)
            parent["reply_users"] = list(dict.fromkeys(m["user"] for m in replies if "user" in m))
            parent["reply_users_count"] = len(parent["reply_users"])
            if replies:
                parent["latest_reply"] = max((m["ts"] for m in replies), key=_ts_key)
            else:
                for key in ("reply_count", "reply_users", "reply_users_count", "latest_reply"):
                    parent.pop(key, None)

    def _bot_message(self, ctx: _Ctx | None, text: str) -> dict[str, Any]:
        # a bot token of another workspace (add_workspace) posts as that workspace's bot
        team_id = (ctx.token.team_id if ctx is not None else None) or self.team_id
        bot = self.workspaces.get(team_id, {})
        msg: dict[str, Any] = {
            "type": "message",
            "text": text,
            "ts": self.next_ts(),
            "team": team_id,
        }
        if ctx is None or ctx.token.kind == "bot":
            msg.update(
                {
                    "user": bot.get("bot_user_id", self.bot_user_id),
                    "bot_id": bot.get("bot_id", self.bot_id),
                    "app_id": self.app_id,
                    "bot_profile": {
                        "id": bot.get("bot_id", self.bot_id),
                        "app_id": self.app_id,
                        "name": self.bot_name,
                        "deleted": False,
                        "team_id": team_id,
                        "updated": int(time.time()),
                        "icons": {},
                    },
                }
            )
        else:
            msg["user"] = ctx.token.user_id
        return msg

    def _message_content(self, ctx: _Ctx, *, max_blocks: int = MAX_MESSAGE_BLOCKS) -> dict[str, Any]:
        """text/blocks/attachments checked like chat.postMessage does."""
        p = ctx.params
        text = p.get("text")
        text = "" if text is None else str(text)
        blocks = validate_blocks(p["blocks"], max_blocks=max_blocks) if _present(p.get("blocks")) else None
        attachments = _json_arg(p, "attachments", "invalid_attachments")
        if attachments is not None:
            if not isinstance(attachments, list):
                raise SlackError("invalid_attachments")
            if len(attachments) > 100:
                raise SlackError("too_many_attachments")
        if not text.strip() and not blocks and not attachments:
            raise SlackError("no_text")
        if len(text) > MAX_TEXT_CHARS:
            raise SlackError("msg_too_long")
        out: dict[str, Any] = {"text": text}
        if blocks:
            out["blocks"] = blocks
        if attachments:
            out["attachments"] = attachments
        metadata = _json_arg(p, "metadata", "invalid_metadata_format")
        if metadata:
            out["metadata"] = metadata
        return out

    def _permalink(self, channel_id: str, msg: Mapping[str, Any]) -> str:
        link = f"https://{self.team_domain}.slack.com/archives/{channel_id}/p{msg['ts'].replace('.', '')}"
        thread_ts = msg.get("thread_ts")
        if thread_ts and thread_ts != msg["ts"]:
            link += f"?thread_ts={thread_ts}&cid={channel_id}"
        return link

    @staticmethod
    def _paginate(
        items: list[dict[str, Any]], params: Mapping[str, Any], default_limit: int
    ) -> tuple[list[dict[str, Any]], str]:
        limit = _as_int(params, "limit", default_limit)
        limit = default_limit if limit <= 0 else min(limit, 1000)
        start = 0
        cursor = params.get("cursor")
        if _present(cursor):
            next_ts = _decode_cursor(str(cursor))
            positions = [i for i, m in enumerate(items) if m.get("ts", m.get("id")) == next_ts]
            if not positions:
                raise SlackError("invalid_cursor")
            start = positions[0]
        page = items[start : start + limit]
        more = start + limit < len(items)
        nxt = items[start + limit] if more else None
        return page, _encode_cursor(str(nxt.get("ts", nxt.get("id")))) if nxt else ""

    # ---------------------------------------------------------------- method handlers

    async def _m_api_test(self, ctx: _Ctx) -> dict[str, Any]:
        # Slack's connectivity check: echoes args, and fails on purpose when given "error".
        if _present(ctx.params.get("error")):
            raise SlackError(str(ctx.params["error"]), args=dict(ctx.params))
        return {"ok": True, "args": dict(ctx.params)}

    async def _m_auth_test(self, ctx: _Ctx) -> dict[str, Any]:
        user = self.users.get(ctx.token.user_id or "", {})
        team_id = ctx.token.team_id or self.team_id
        workspace = self.workspaces.get(team_id, {})
        body: dict[str, Any] = {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": workspace.get("name", self.team_name),
            "user": user.get("name", ""),
            "team_id": team_id,
            "user_id": ctx.token.user_id,
            "is_enterprise_install": False,
        }
        if ctx.token.kind == "bot":
            body["bot_id"] = workspace.get("bot_id", self.bot_id)
        return body

    async def _m_apps_connections_open(self, ctx: _Ctx) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        self._tickets[ticket] = False
        return {
            "ok": True,
            "url": f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}",
        }

    async def _m_assistant_threads(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel_id"])
        entry = self.assistant_threads.setdefault((channel["id"], str(ctx.params["thread_ts"])), {})
        if ctx.method == "assistant.threads.setStatus":
            # An empty status is how a bot clears "is thinking…", so only absence is an error.
            if ctx.params.get("status") is None:
                raise _invalid_arguments("[ERROR] missing required field: status")
            entry["status"] = str(ctx.params["status"])
        elif ctx.method == "assistant.threads.setTitle":
            entry["title"] = str(ctx.params["title"])
        else:
            prompts = _json_arg(ctx.params, "prompts", "invalid_arguments")
            if not isinstance(prompts, list) or not prompts:
                raise _invalid_arguments("[ERROR] must be a non-empty array [json-pointer:/prompts]")
            entry["prompts"] = prompts
        return {"ok": True}

    async def _m_bots_info(self, ctx: _Ctx) -> dict[str, Any]:
        bot = ctx.params.get("bot")
        if _present(bot) and bot != self.bot_id:
            raise SlackError("bot_not_found")
        return {
            "ok": True,
            "bot": {
                "id": self.bot_id,
                "deleted": False,
                "name": self.bot_name,
                "updated": int(time.time()),
                "app_id": self.app_id,
                "user_id": self.bot_user_id,
                "icons": {},
            },
        }

    async def _m_chat_post_message(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._resolve_channel(ctx.params["channel"], create_im=True)
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        self._require_member(ctx, channel)
        content = self._message_content(ctx)
        msg = self._bot_message(ctx, content.pop("text"))
        msg.update(content)
        thread_ts = ctx.params.get("thread_ts")
        thread_ts = str(thread_ts) if _present(thread_ts) else None
        if thread_ts and _truthy(ctx.params.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
        stored = self._store_message(channel["id"], msg, thread_ts)
        return {
            "ok": True,
            "channel": channel["id"],
            "ts": stored["ts"],
            "message": copy.deepcopy(stored),
        }

    async def _m_chat_update(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        msg = self._find_message(channel["id"], ctx.params["ts"])
        actor = ctx.token.user_id
        if msg.get("user") != actor:
            raise SlackError("cant_update_message")
        content = self._message_content(ctx)
        msg["text"] = content["text"]
        for key in ("blocks", "attachments", "metadata"):
            if key in content:
                msg[key] = content[key]
            elif key in ("blocks", "attachments") and key in ctx.params:
                # An explicitly empty blocks/attachments arg clears them, as on Slack.
                msg.pop(key, None)
        msg["edited"] = {"user": actor, "ts": self.next_ts()}
        return {
            "ok": True,
            "channel": channel["id"],
            "ts": msg["ts"],
            "text": msg["text"],
            "message": {k: copy.deepcopy(v) for k, v in msg.items() if k != "ts"},
        }

    async def _m_chat_delete(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        msg = self._find_message(channel["id"], ctx.params["ts"])
        if msg.get("user") != ctx.token.user_id:
            # Bot tokens may only delete their own messages.
            raise SlackError("cant_delete_message")
        self._remove_message(channel["id"], msg["ts"])
        return {"ok": True, "channel": channel["id"], "ts": msg["ts"]}

    async def _m_chat_post_ephemeral(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._resolve_channel(ctx.params["channel"], create_im=True)
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        user = str(ctx.params["user"])
        if user not in self.members.get(channel["id"], set()):
            raise SlackError("user_not_in_channel")
        content = self._message_content(ctx)
        msg = self._bot_message(ctx, content.pop("text"))
        msg.update(content)
        thread_ts = ctx.params.get("thread_ts")
        entry = {
            "channel": channel["id"],
            "user": user,
            "thread_ts": str(thread_ts) if _present(thread_ts) else None,
            "message": msg,
            "via": "chat.postEphemeral",
        }
        self.ephemerals.append(entry)
        return {"ok": True, "message_ts": msg["ts"]}

    async def _m_chat_get_permalink(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        msg = self._find_message(channel["id"], ctx.params["message_ts"])
        return {
            "ok": True,
            "channel": channel["id"],
            "permalink": self._permalink(channel["id"], msg),
        }

    async def _m_conversations_info(self, ctx: _Ctx) -> dict[str, Any]:
        channel = copy.deepcopy(self._visible_channel(ctx, ctx.params["channel"]))
        channel["is_member"] = self.bot_user_id in self.members.get(channel["id"], set())
        if _truthy(ctx.params.get("include_num_members")) and not channel.get("is_im"):
            channel["num_members"] = len(self.members.get(channel["id"], set()))
        return {"ok": True, "channel": channel}

    _CONVERSATION_TYPES: ClassVar[dict[str, str]] = {
        "public_channel": "channels",
        "private_channel": "groups",
        "im": "im",
        "mpim": "mpim",
    }

    async def _m_users_conversations(self, ctx: _Ctx) -> dict[str, Any]:
        """The conversations the caller (``user``, else the token's own user) is a member of,
        of the ``types`` asked (default public channels), each type needing its family's
        read scope; archived ones unless ``exclude_archived``; paged by id."""
        asked = [t.strip() for t in str(ctx.params.get("types") or "public_channel").split(",") if t.strip()]
        families = []
        for kind in asked:
            family = self._CONVERSATION_TYPES.get(kind)
            if family is None:
                raise SlackError("invalid_types")
            families.append(family)
        needed = [f"{family}:read" for family in families]
        missing = [scope for scope in needed if scope not in ctx.token.scopes]
        if missing:
            raise SlackError("missing_scope", needed=",".join(missing), provided=",".join(ctx.token.scopes))
        who = str(ctx.params.get("user") or ctx.token.user_id or self.bot_user_id)
        team = str(ctx.params.get("team_id") or "")  # an org token's listing names its workspace
        found = [
            {"id": cid, **copy.deepcopy(channel)}
            for cid, channel in sorted(self.channels.items())
            if who in self.members.get(cid, set())
            and self._channel_family(channel) in families
            and not (_truthy(ctx.params.get("exclude_archived")) and channel.get("is_archived"))
            and (not team or team in (channel.get("context_team_id"), *channel.get("shared_team_ids", ())))
        ]
        page, cursor = self._paginate(found, ctx.params, 100)
        return {"ok": True, "channels": page, "response_metadata": {"next_cursor": cursor}}

    async def _m_conversations_members(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        ids = [{"id": uid} for uid in sorted(self.members.get(channel["id"], set()))]
        page, cursor = self._paginate(ids, ctx.params, 100)
        return {
            "ok": True,
            "members": [m["id"] for m in page],
            "response_metadata": {"next_cursor": cursor},
        }

    async def _m_conversations_join(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        if channel.get("is_im") or channel.get("is_private"):
            raise SlackError("method_not_supported_for_channel_type")
        if channel.get("is_archived"):
            raise SlackError("is_archived")
        self.members.setdefault(channel["id"], set()).add(ctx.token.user_id or self.bot_user_id)
        out = copy.deepcopy(channel)
        out["is_member"] = True
        return {"ok": True, "channel": out}

    async def _m_conversations_open(self, ctx: _Ctx) -> dict[str, Any]:
        if _present(ctx.params.get("channel")):
            channel = self._visible_channel(ctx, ctx.params["channel"])
            return {"ok": True, "channel": {"id": channel["id"]}}
        users = [u for u in str(ctx.params.get("users", "")).split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise SlackError("fake_not_implemented", detail="multi-person DMs are not modelled")
        if users[0] not in self.users:
            raise SlackError("user_not_found")
        existed = any(c.get("is_im") and c.get("user") == users[0] for c in self.channels.values())
        channel = self.add_im(users[0])
        body: dict[str, Any] = {"ok": True, "channel": {"id": channel["id"]}}
        if existed:
            body.update(no_op=True, already_open=True)
        if _truthy(ctx.params.get("return_im")):
            body["channel"] = copy.deepcopy(channel)
        return body

    def _readable_channel(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.params["channel"])
        if ctx.token.kind == "bot" and self.bot_user_id not in self.members.get(channel["id"], set()):
            raise SlackError("not_in_channel")
        return channel

    async def _m_conversations_replies(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._readable_channel(ctx)
        store = self._messages.get(channel["id"], {})
        ts = str(ctx.params["ts"])
        if ts not in store:
            raise SlackError("thread_not_found")
        root_ts = store[ts].get("thread_ts") or ts
        root = store.get(root_ts)
        thread = [m for m in store.values() if m.get("thread_ts") == root_ts and m is not root]
        thread.sort(key=lambda m: _ts_key(m["ts"]))
        items = ([root] if root is not None else []) + thread
        oldest, latest = ctx.params.get("oldest"), ctx.params.get("latest")
        inclusive = _truthy(ctx.params.get("inclusive"))
        items = [m for m in items if self._in_range(m["ts"], oldest, latest, inclusive)]
        page, cursor = self._paginate(items, ctx.params, 1000)
        return {
            "ok": True,
            "messages": self._with_metadata(page, ctx),
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    @staticmethod
    def _in_range(ts: str, oldest: Any, latest: Any, inclusive: bool) -> bool:
        key = _ts_key(ts)
        if _present(oldest):
            lo = _ts_key(str(oldest))
            if key < lo or (key == lo and not inclusive):
                return False
        if _present(latest):
            hi = _ts_key(str(latest))
            if key > hi or (key == hi and not inclusive):
                return False
        return True

    @staticmethod
    def _with_metadata(messages: list[dict[str, Any]], ctx: _Ctx) -> list[dict[str, Any]]:
        """Copies of `messages`; their metadata only when asked for (`include_all_metadata`), as
        conversations.history and conversations.replies return it."""
        out = copy.deepcopy(messages)
        if not _truthy(ctx.params.get("include_all_metadata")):
            for message in out:
                message.pop("metadata", None)
        return out

    async def _m_conversations_history(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._readable_channel(ctx)
        store = self._messages.get(channel["id"], {})
        oldest, latest = ctx.params.get("oldest"), ctx.params.get("latest")
        inclusive = _truthy(ctx.params.get("inclusive"))
        # History shows top-level messages and broadcast replies, newest first.
        top = [
            m
            for m in store.values()
            if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
            and self._in_range(m["ts"], oldest, latest, inclusive)
        ]
        top.sort(key=lambda m: _ts_key(m["ts"]), reverse=True)
        page, cursor = self._paginate(top, ctx.params, 100)
        return {
            "ok": True,
            "messages": self._with_metadata(page, ctx),
            "has_more": bool(cursor),
            "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    _REACTION_NAME = re.compile(r"^[a-z0-9_+'\-]+(::skin-tone-[2-6])?$")

    def _reaction_target(self, ctx: _Ctx) -> tuple[dict[str, Any], str]:
        for arg in ("channel", "timestamp"):
            if not _present(ctx.params.get(arg)):
                raise SlackError("no_item_specified")
        channel = self._visible_channel(ctx, ctx.params["channel"])
        msg = self._find_message(channel["id"], ctx.params["timestamp"])
        name = str(ctx.params.get("name", "")).strip(":")
        if ctx.method != "reactions.get" and not self._REACTION_NAME.match(name):
            raise SlackError("invalid_name")
        return msg, name

    async def _m_reactions_add(self, ctx: _Ctx) -> dict[str, Any]:
        msg, name = self._reaction_target(ctx)
        actor = ctx.token.user_id or self.bot_user_id
        reactions = msg.setdefault("reactions", [])
        for reaction in reactions:
            if reaction["name"] == name:
                if actor in reaction["users"]:
                    raise SlackError("already_reacted")
                reaction["users"].append(actor)
                reaction["count"] += 1
                break
        else:
            reactions.append({"name": name, "users": [actor], "count": 1})
        return {"ok": True}

    async def _m_reactions_remove(self, ctx: _Ctx) -> dict[str, Any]:
        msg, name = self._reaction_target(ctx)
        actor = ctx.token.user_id or self.bot_user_id
        for reaction in msg.get("reactions", []):
            if reaction["name"] == name and actor in reaction["users"]:
                reaction["users"].remove(actor)
                reaction["count"] -= 1
                if not reaction["count"]:
                    msg["reactions"].remove(reaction)
                if not msg["reactions"]:
                    del msg["reactions"]
                return {"ok": True}
        raise SlackError("no_reaction")

    async def _m_reactions_get(self, ctx: _Ctx) -> dict[str, Any]:
        msg, _ = self._reaction_target(ctx)
        return {
            "ok": True,
            "type": "message",
            "channel": ctx.params["channel"],
            "message": copy.deepcopy(msg),
        }

    async def _m_team_info(self, ctx: _Ctx) -> dict[str, Any]:
        return {
            "ok": True,
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "domain": self.team_domain,
                "email_domain": "example.com",
                "icon": {},
            },
        }

    async def _m_users_info(self, ctx: _Ctx) -> dict[str, Any]:
        user = self.users.get(str(ctx.params["user"]))
        if user is None:
            raise SlackError("user_not_found")
        out = copy.deepcopy(user)
        if "users:read.email" not in ctx.token.scopes:
            # Slack hides emails without users:read.email.
            out["profile"].pop("email", None)
        if _truthy(ctx.params.get("include_locale")):
            out["locale"] = "en-US"
        return {"ok": True, "user": out}

    async def _m_users_list(self, ctx: _Ctx) -> dict[str, Any]:
        users = [copy.deepcopy(u) for _, u in sorted(self.users.items())]
        page, cursor = self._paginate(users, ctx.params, 200)
        return {
            "ok": True,
            "members": page,
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": cursor},
        }

    async def _m_users_lookup_by_email(self, ctx: _Ctx) -> dict[str, Any]:
        email = str(ctx.params["email"]).lower()
        for user in self.users.values():
            if str(user["profile"].get("email", "")).lower() == email:
                return {"ok": True, "user": copy.deepcopy(user)}
        raise SlackError("users_not_found")

    async def _m_usergroups_list(self, ctx: _Ctx) -> dict[str, Any]:
        groups = []
        for group in self.usergroups.values():
            out = copy.deepcopy(group)
            if not _truthy(ctx.params.get("include_users")):
                out.pop("users")
            if not _truthy(ctx.params.get("include_count")):
                out.pop("user_count")
            groups.append(out)
        return {"ok": True, "usergroups": groups}

    async def _m_usergroups_users_list(self, ctx: _Ctx) -> dict[str, Any]:
        group = self.usergroups.get(str(ctx.params["usergroup"]))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(group["users"])}

    def _view_from_params(self, ctx: _Ctx, *, view_id: str | None = None) -> dict[str, Any]:
        view = _json_arg(ctx.params, "view", "invalid_arguments")
        if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
            raise _invalid_arguments("[ERROR] invalid view type [json-pointer:/view/type]")
        validate_blocks(view.get("blocks", []), max_blocks=MAX_VIEW_BLOCKS)
        vid = view_id or f"V{next(self._ids):010d}"
        stored = {
            "id": vid,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "hash": secrets.token_hex(8),
            "state": {"values": {}},
            **view,
        }
        self.views[vid] = stored
        return stored

    async def _m_views_open(self, ctx: _Ctx) -> dict[str, Any]:
        trigger = str(ctx.params.get("trigger_id") or "")
        if ctx.method == "views.open" and trigger not in self.triggers:
            raise SlackError("invalid_trigger_id")
        if ctx.method == "views.open" and trigger in self._exchanged:
            raise SlackError("exchanged_trigger_id")
        if ctx.method == "views.open" and time.monotonic() - self.triggers[trigger] > self.trigger_seconds:
            raise SlackError("expired_trigger_id")
        view = self._view_from_params(ctx)
        if view["type"] != "modal":
            raise _invalid_arguments("[ERROR] views.open only opens modals")
        if ctx.method == "views.open":
            self._exchanged.add(trigger)
        return {"ok": True, "view": copy.deepcopy(view)}

    async def _m_views_publish(self, ctx: _Ctx) -> dict[str, Any]:
        if str(ctx.params["user_id"]) not in self.users:
            raise SlackError("user_not_found")
        view = self._view_from_params(ctx)
        if view["type"] != "home":
            raise _invalid_arguments("[ERROR] views.publish only publishes home tabs")
        return {"ok": True, "view": copy.deepcopy(view)}

    async def _m_views_update(self, ctx: _Ctx) -> dict[str, Any]:
        view_id = ctx.params.get("view_id")
        external_id = ctx.params.get("external_id")
        if not _present(view_id) and not _present(external_id):
            raise _invalid_arguments("[ERROR] either view_id or external_id is required")
        if not _present(view_id):
            matches = [v for v in self.views.values() if v.get("external_id") == external_id]
            view_id = matches[0]["id"] if matches else None
        if view_id not in self.views:
            raise SlackError("not_found")
        view = self._view_from_params(ctx, view_id=str(view_id))
        return {"ok": True, "view": copy.deepcopy(view)}

    # ---------------------------------------------------------------- Socket Mode

    @property
    def connections(self) -> list[SocketConnection]:
        """Every Socket Mode connection ever opened, in order."""
        return list(self._connections.items)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """Every ack the client sent (``{"envelope_id", "payload"?}`` plus ``_connection``,
        the number of the connection it came on), in order."""
        return list(self._acks.items)

    async def wait_for_connection(self, count: int = 1, timeout: float = 5.0) -> SocketConnection:
        """The ``count``-th socket connection (already greeted with ``hello``)."""
        return await self._connections.wait(
            lambda _: True,
            count=count,
            since=0,
            timeout=timeout,
            describe=lambda: (
                f"expected {count} Socket Mode connection(s) within {timeout}s, "
                f"saw {len(self._connections.items)}; "
                f"apps.connections.open calls: {len(self.calls('apps.connections.open'))}"
            ),
        )

    def _open_connection(self) -> SocketConnection | None:
        for conn in reversed(self._connections.items):
            if conn.is_open:
                return conn
        return None

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if self._tickets.get(ticket) is not False:
            # Unknown or already used: apps.connections.open URLs are single-use.
            return web.Response(status=401, text="invalid_ticket")
        self._tickets[ticket] = True
        # autoping answers the client's pings; slack_sdk treats missing pongs as a dead link.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = SocketConnection(
            number=len(self._connections.items) + 1,
            ticket=ticket,
            ws=ws,
            transport=request.transport,
        )
        hello = {
            "type": "hello",
            "num_connections": sum(1 for c in self._connections.items if c.is_open) + 1,
            "debug_info": {
                "host": f"applink-fake-{conn.number}",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            await ws.send_str(json.dumps(hello))
        except ConnectionError:
            return ws  # the client vanished before the greeting
        conn.sent.append(hello)
        await self._connections.add(conn)
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    await self._on_client_frame(conn, frame.data)
        finally:
            conn.closed.set()
        return ws

    async def _on_client_frame(self, conn: SocketConnection, data: str) -> None:
        try:
            message = json.loads(data)
        except json.JSONDecodeError:
            conn.received.append(data)
            return
        if isinstance(message, dict) and "envelope_id" in message:
            ack = dict(message)
            ack["_connection"] = conn.number
            await self._acks.add(ack)
            fut = self._pending_acks.get(str(message["envelope_id"]))
            if fut is not None and not fut.done():
                fut.set_result(ack)
        else:
            conn.received.append(message)

    async def _require_open_connection(self, timeout: float) -> SocketConnection:
        conn = self._open_connection()
        if conn is not None:
            return conn
        # Wait for the client to (re)connect rather than failing a racing test.
        await self._connections.wait(
            lambda c: c.is_open,
            count=1,
            since=0,
            timeout=timeout,
            describe=lambda: f"no open Socket Mode connection within {timeout}s",
        )
        conn = self._open_connection()
        assert conn is not None
        return conn

    def build_envelope(
        self,
        type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
    ) -> dict[str, Any]:
        """A Socket Mode envelope exactly as Slack frames it."""
        if type not in ("events_api", "slash_commands", "interactive"):
            raise ValueError(f"unknown envelope type {type!r}")
        if accepts_response_payload is None:
            # Slack lets the ack carry a response only where the HTTP response could: slash
            # commands, and interactions whose HTTP answer has meaning (view_submission's
            # response_action, option loading).
            accepts_response_payload = type == "slash_commands" or (
                type == "interactive"
                and payload.get("type")
                in ("view_submission", "block_suggestion", "dialog_suggestion", "dialog_submission")
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": dict(payload),
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        return envelope

    async def socket_send(
        self,
        type: EnvelopeType,
        payload: Mapping[str, Any],
        *,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool | None = None,
        envelope_id: str | None = None,
        connection: SocketConnection | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Send an envelope on the newest open connection and return the client's ack
        (``{"envelope_id", "payload"?}``). Raises ``TimeoutError`` if no ack arrives (Slack
        would redeliver; call again with ``retry_attempt=1`` to simulate that)."""
        envelope = self.build_envelope(
            type,
            payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            accepts_response_payload=accepts_response_payload,
            envelope_id=envelope_id,
        )
        conn = connection or await self._require_open_connection(timeout)
        eid = envelope["envelope_id"]
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_acks[eid] = fut
        try:
            await conn.ws.send_str(json.dumps(envelope))
            conn.sent.append(envelope)
            async with asyncio.timeout(timeout):
                ack = await fut
        except TimeoutError:
            raise TimeoutError(f"no ack for {type} envelope {eid} within {timeout}s") from None
        finally:
            self._pending_acks.pop(eid, None)
        return {k: v for k, v in ack.items() if k != "_connection"}

    async def socket_send_raw(
        self, message: Mapping[str, Any], connection: SocketConnection | None = None
    ) -> None:
        """Send any frame (no ack expected)."""
        conn = connection or await self._require_open_connection(5.0)
        await conn.ws.send_str(json.dumps(message))
        conn.sent.append(dict(message))

    async def socket_disconnect(
        self,
        reason: Literal["refresh_requested", "warning", "link_disabled", "too_many_websockets"]
        | str = "refresh_requested",
        connection: SocketConnection | None = None,
    ) -> None:
        """Send Slack's ``disconnect`` message (the client should open a new connection)."""
        conn = connection or await self._require_open_connection(5.0)
        await self.socket_send_raw(
            {
                "type": "disconnect",
                "reason": reason,
                "debug_info": {"host": f"applink-fake-{conn.number}"},
            },
            conn,
        )

    async def socket_drop(self, connection: SocketConnection | None = None) -> None:
        """Kill the TCP connection without a close frame (network failure)."""
        conn = connection or await self._require_open_connection(5.0)
        if conn.transport is not None:
            conn.transport.abort()
        await conn.closed.wait()

    async def socket_close(
        self, code: int = aiohttp.WSCloseCode.GOING_AWAY, connection: SocketConnection | None = None
    ) -> None:
        """Close the websocket with a proper close frame."""
        conn = connection or await self._require_open_connection(5.0)
        await conn.ws.close(code=code)
        await conn.closed.wait()

    # ---------------------------------------------------------------- response_url

    def response_url(
        self,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user: str | None = None,
        kind: Literal["commands", "actions"] = "actions",
    ) -> str:
        """A fresh response URL; ``channel``/``message_ts`` let ``replace_original`` and
        ``delete_original`` act on that message, ``in_channel`` posts land in ``channel``."""
        url_id = f"{kind}-{self.team_id}-{next(self._ids)}-{secrets.token_hex(6)}"
        self._response_urls[url_id] = {
            "channel": channel,
            "message_ts": message_ts,
            "user": user,
            "uses": 0,
        }
        return f"{self.base_url}response/{url_id}"

    @property
    def response_posts(self) -> list[ResponseUrlPost]:
        return list(self._responses.items)

    async def wait_for_response(
        self,
        predicate: Callable[[ResponseUrlPost], bool] | None = None,
        timeout: float = 5.0,
        *,
        count: int = 1,
        since: int = 0,
    ) -> ResponseUrlPost:
        """The ``count``-th response_url post matching ``predicate``."""
        return await self._responses.wait(
            lambda r: predicate is None or predicate(r),
            count=count,
            since=since,
            timeout=timeout,
            describe=lambda: (
                f"no matching response_url post within {timeout}s; "
                f"posts: {[r.body for r in self._responses.items[since:]]}"
            ),
        )

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        url_id = request.match_info["url_id"]
        context = self._response_urls.get(url_id)
        if context is None:
            return web.Response(status=404, text="no_such_url")
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = None
        status, text = 200, "ok"
        if not isinstance(body, dict):
            status, text, body = 400, "invalid_payload", {"_raw": raw}
        elif context["uses"] >= RESPONSE_URL_MAX_USES:
            status, text = 404, "used_url"
        else:
            context["uses"] += 1
            try:
                self._apply_response(body, context)
            except SlackError as err:
                status, text = 400, err.error
        post = ResponseUrlPost(
            index=len(self._responses.items),
            url_id=url_id,
            body=body,
            status=status,
            context={k: v for k, v in context.items() if k != "uses"},
        )
        await self._responses.add(post)
        return web.Response(status=status, text=text, content_type="text/html")

    def _apply_response(self, body: dict[str, Any], context: dict[str, Any]) -> None:
        channel, message_ts = context.get("channel"), context.get("message_ts")
        if _truthy(body.get("delete_original")):
            if channel and message_ts and message_ts in self._messages.get(channel, {}):
                self._remove_message(channel, message_ts)
            return
        text = str(body.get("text") or "")
        blocks = validate_blocks(body["blocks"]) if _present(body.get("blocks")) else None
        if not text and not blocks and not body.get("attachments"):
            raise SlackError("no_text")
        if _truthy(body.get("replace_original")):
            msg = self._messages.get(channel or "", {}).get(message_ts or "")
            if msg is not None:
                msg["text"] = text
                if blocks is not None:
                    msg["blocks"] = blocks
                else:
                    msg.pop("blocks", None)
            return
        if body.get("response_type") == "in_channel" and channel:
            msg = self._bot_message(None, text)
            if blocks is not None:
                msg["blocks"] = blocks
            thread_ts = body.get("thread_ts")
            self._store_message(channel, msg, str(thread_ts) if thread_ts else None)
            return
        ephemeral = self._bot_message(None, text)
        if blocks is not None:
            ephemeral["blocks"] = blocks
        self.ephemerals.append(
            {
                "channel": channel,
                "user": context.get("user"),
                "thread_ts": body.get("thread_ts"),
                "message": ephemeral,
                "via": "response_url",
            }
        )

    # ---------------------------------------------------------------- payload builders

    def event_callback(self, event: Mapping[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
        """Wrap ``event`` in an ``event_callback`` body carrying this workspace's ids."""
        return event_callback_body(
            event,
            team_id=self.team_id,
            api_app_id=self.app_id,
            bot_user_id=self.bot_user_id,
            event_id=event_id or f"Ev{next(self._ids):08d}",
            token=self.verification_token,
        )

    def event_from_fixture(self, name: str, **event_overrides: Any) -> dict[str, Any]:
        """A fixture's inner event, with overrides, re-wrapped for this workspace."""
        body = load_payload(name)
        if body.get("type") != "event_callback":
            raise ValueError(f"{name} is a {body.get('type')!r} body, not event_callback")
        return self.event_callback({**body["event"], **event_overrides})

    def user_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "W222",
        thread_ts: str | None = None,
        mention: bool = False,
    ) -> dict[str, Any]:
        """A human posts ``text``: the message enters the state (so conversations.replies
        sees it) and the matching ``message`` / ``app_mention`` event_callback body is
        returned for delivery over Socket Mode or HTTP."""
        if mention and f"<@{self.bot_user_id}>" not in text:
            text = f"<@{self.bot_user_id}> {text}"
        msg = self.add_message(channel, text, user=user, thread_ts=thread_ts)
        ch = self._resolve_channel(channel)
        event: dict[str, Any] = {
            "client_msg_id": msg["client_msg_id"],
            "type": "app_mention" if mention else "message",
            "text": text,
            "user": user,
            "ts": msg["ts"],
            "team": self.team_id,
            "channel": ch["id"],
            "event_ts": msg["ts"],
        }
        if not mention:
            event["channel_type"] = {
                "im": "im",
                "mpim": "mpim",
                "groups": "group",
                "channels": "channel",
            }[self._channel_family(ch)]
        if msg.get("thread_ts"):
            event["thread_ts"] = msg["thread_ts"]
            if msg.get("parent_user_id"):
                event["parent_user_id"] = msg["parent_user_id"]
        return self.event_callback(event)

    def trigger_id(self) -> str:
        """A fresh trigger id, as an interaction carries one: views.open takes it once, within
        :attr:`trigger_seconds` (3 s, as on Slack)."""
        trigger = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
        self.triggers[trigger] = time.monotonic()
        return trigger

    def view_submission(self, view_id: str, user: str, values: Mapping[str, str]) -> dict[str, Any]:
        """The ``view_submission`` payload Slack sends when ``user`` submits the modal
        ``view_id`` that the bot opened, with ``values`` typed into its inputs by action id
        (other inputs keep their initial value). Built on the vendored Bolt fixture."""
        view = copy.deepcopy(self.views[view_id])
        state: dict[str, dict[str, Any]] = {}
        known: set[str] = set()
        for block in view.get("blocks", []):
            element = block.get("element") or {}
            if block.get("type") != "input" or element.get("type") != "plain_text_input":
                continue
            action_id = str(element.get("action_id") or "")
            known.add(action_id)
            value = values.get(action_id, element.get("initial_value"))
            state.setdefault(str(block.get("block_id")), {})[action_id] = {
                "type": "plain_text_input",
                "value": value,
            }
        if set(values) - known:
            raise KeyError(f"the view has no plain_text_input {sorted(set(values) - known)}")
        view["state"] = {"values": state}
        view.setdefault("private_metadata", "")
        view.setdefault("callback_id", "")
        view.setdefault("root_view_id", view_id)
        payload = load_payload("view_submission__view_submission__body")
        member = self.users[user]
        payload.update(
            team={"id": self.team_id, "domain": self.team_domain},
            user={"id": user, "username": member["name"], "name": member["name"], "team_id": self.team_id},
            api_app_id=self.app_id,
            token=self.verification_token,
            trigger_id=self.trigger_id(),
            view=view,
            response_urls=[],
        )
        return payload

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str = "W222",
        channel_id: str = "C111",
    ) -> dict[str, str]:
        """Slash-command fields as Slack sends them (Socket Mode payload; for HTTP pass to
        :func:`slash_command_form`), with a response_url served by this fake."""
        channel = self.channels.get(channel_id, {})
        user = self.users.get(user_id, {})
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel.get("name", "directmessage"),
            "user_id": user_id,
            "user_name": user.get("name", user_id),
            "command": command,
            "text": text,
            "api_app_id": self.app_id,
            "is_enterprise_install": "false",
            "response_url": self.response_url(channel=channel_id, user=user_id, kind="commands"),
            "trigger_id": self.trigger_id(),
        }

    def with_response_url(
        self,
        payload: Mapping[str, Any],
        *,
        channel: str | None = None,
        message_ts: str | None = None,
    ) -> dict[str, Any]:
        """Copy of an interactive payload whose response_url(s) point at this fake. The target
        message defaults to the payload's ``container`` (block_actions on a message)."""
        out = copy.deepcopy(dict(payload))
        container = out.get("container") or {}
        channel = channel or container.get("channel_id") or (out.get("channel") or {}).get("id")
        message_ts = message_ts or container.get("message_ts")
        user = (out.get("user") or {}).get("id")
        if "response_url" in out or out.get("type") in ("block_actions", "message_action"):
            out["response_url"] = self.response_url(channel=channel, message_ts=message_ts, user=user)
        if isinstance(out.get("response_urls"), list):
            out["response_urls"] = [
                {**entry, "response_url": self.response_url(channel=entry.get("channel_id"))}
                for entry in out["response_urls"]
            ]
        if "trigger_id" in out:
            out["trigger_id"] = self.trigger_id()
        return out


class _HttpFault(Exception):
    """A non-200 answer (429 rate limit, 5xx) that bypasses the JSON error envelope path."""

    def __init__(self, status: int, body: str | dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers
