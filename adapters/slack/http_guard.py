"""The door of HTTP mode: what a request to `/slack/events` must pass before Bolt sees it.

Anyone who finds the URL can post to it, so nothing of a request is parsed until it is known
to come from Slack. `SlackRequestGuard.check` looks at the raw bytes in this order and stops
at the first failure:

1. size: more than `max_body` bytes (by Content-Length, or by reading at most one byte more)
   is refused with 413;
2. headers: exactly one `X-Slack-Request-Timestamp` of ASCII digits within five minutes of
   now, and exactly one `X-Slack-Signature` shaped `v0=<64 hex>`, else 401;
3. signature: slack_sdk's `SignatureVerifier` (HMAC-SHA256 of `v0:{timestamp}:{raw body}`
   keyed with the signing secret), else 401;
4. parsing, as Bolt will parse it: UTF-8, a JSON object (or a form whose `payload` is one),
   at most `max_depth` levels deep, with the envelope fields Bolt reads shaped as Slack sends
   them, else 400.

Only a request that passed all four becomes an `AsyncBoltRequest`. A refusal is one short
WARNING line at most every second (`RateLimitedLog`), naming the reason and the status,
never the body or a header value; the lines it held back are counted in the next one.
Bolt's own warning for a signed request no listener matches is held to the same rate
(adapters/slack/bolt_log.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier

from adapters.rate_limited_log import RateLimitedLog as SharedRateLimitedLog

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Slack's payloads are a few KB; its own limit for a message is 40,000 chars
MAX_DEPTH = 64  # rich-text blocks inside a message_changed event nest about 12 deep
MAX_FORM_FIELDS = 1000
MAX_CLOCK_SKEW = 5 * 60  # seconds, as Slack and SignatureVerifier allow
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# envelope fields Bolt's context builder and our listeners read as objects (or ids)
_OBJECT_FIELDS = ("event", "message", "previous_message", "item", "assistant_thread", "view", "container")
_PRESENT_OBJECT_FIELDS = ("event", "view", "tokens", "function")
_ID_OR_OBJECT_FIELDS = ("enterprise", "team", "user", "channel")
_STRING_FIELDS = ("type", "subtype", "callback_id", "command", "action_id", "block_id")
_LIST_OF_OBJECT_FIELDS = ("authorizations", "response_urls", "actions")
_ENVELOPE_CHILDREN = frozenset(
    ("event", "message", "previous_message", "item", "assistant_thread", "authorizations")
)


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the HTTP status and a reason safe to log and to answer."""

    status: int
    reason: str

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.reason)


class RateLimitedLog(SharedRateLimitedLog):
    """The guard's refusals as WARNING lines, at most one per `interval` seconds, the ones held
    back counted by status (the shared limiter: `adapters/rate_limited_log.py`)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(
            logger,
            more="refused %d more request(s) to /slack/events, last: %s",
            interval=interval,
            clock=clock,
            extra=extra,
        )

    def refused(self, refusal: Refusal, remote: str | None) -> None:
        what = f"{refusal.reason} (HTTP {refusal.status})"
        line = f"refused a request to /slack/events from {remote or 'an unknown address'}: {what}"
        self.write(str(refusal.status), line, last=what)


class _WallClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackRequestGuard:
    """Checks a request to `/slack/events` on its raw bytes; see the module docstring."""

    def __init__(
        self,
        signing_secret: str,
        *,
        max_body: int = MAX_BODY,
        max_depth: int = MAX_DEPTH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_body = max_body
        self.max_depth = max_depth
        self.clock = clock
        self._secret = signing_secret.encode("utf-8")
        self._verifier = SignatureVerifier(signing_secret, clock=_WallClock(clock))

    async def check(self, request: web.Request) -> AsyncBoltRequest | Refusal:
        """The request as Bolt's, or why it is refused. Never raises for what a client sends."""
        raw = await self._read(request)
        if isinstance(raw, Refusal):
            return raw
        headers = self._headers(request)
        timestamp, signature = headers.get("x-slack-request-timestamp"), headers.get("x-slack-signature")
        if timestamp is None or signature is None:
            return Refusal(401, "missing Slack signature headers")
        if not (
            len(request.headers.getall(TIMESTAMP_HEADER, ())) == 1
            and len(request.headers.getall(SIGNATURE_HEADER, ())) == 1
        ):
            return Refusal(401, "repeated Slack signature headers")
        if not _TIMESTAMP.fullmatch(timestamp):
            return Refusal(401, "malformed request timestamp")
        if abs(self.clock() - int(timestamp)) > MAX_CLOCK_SKEW:
            return Refusal(401, "stale request timestamp")
        if not _SIGNATURE.fullmatch(signature):
            return Refusal(401, "malformed signature")
        text = _utf8(raw)
        if not self._signed(raw, text, timestamp, signature):
            return Refusal(401, "signature mismatch")
        if text is None:
            return Refusal(400, "body is not UTF-8")
        return self._parse(request, text, headers)

    async def _read(self, request: web.Request) -> bytes | Refusal:
        """The body, reading at most `max_body` + 1 bytes of it."""
        length = request.content_length
        if length is not None and length > self.max_body:
            return Refusal(413, "body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            while size <= self.max_body:
                chunk = await request.content.read(self.max_body + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except Exception:  # a broken chunked encoding or a client gone half-way
            return Refusal(400, "unreadable body")
        if size > self.max_body:
            return Refusal(413, "body too large")
        return b"".join(chunks)

    @staticmethod
    def _headers(request: web.Request) -> dict[str, str]:
        # as Bolt normalises them: lower-case names, the last value of a repeated header
        return {name.lower(): value for name, value in request.headers.items()}

    def _signed(self, raw: bytes, text: str | None, timestamp: str, signature: str) -> bool:
        if text is not None:
            return self._verifier.is_valid(body=text, timestamp=timestamp, signature=signature)
        # SignatureVerifier decodes the body as UTF-8 first; Slack signs the raw bytes, and
        # a signed body that is not UTF-8 deserves 400 rather than 401: sign the bytes here.
        base = b"v0:" + timestamp.encode("ascii") + b":" + raw
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    def _parse(self, request: web.Request, text: str, headers: dict[str, str]) -> AsyncBoltRequest | Refusal:
        """Parse as Bolt's `parse_body` will (same content-type rule), but strictly."""
        if not text:
            return Refusal(400, "empty body")
        content_type = headers.get("content-type")
        if (content_type is not None and content_type.split(";")[0] == "application/json") or (
            text.startswith("{")
        ):
            body = _json_object(text)
            if isinstance(body, Refusal):
                return body
        else:
            try:
                form = dict(
                    parse_qsl(
                        text,
                        keep_blank_values=True,
                        strict_parsing=True,
                        errors="strict",
                        max_num_fields=MAX_FORM_FIELDS,
                    )
                )
            except ValueError:  # UnicodeDecodeError is one
                return Refusal(400, "malformed form body")
            if "payload" in form:
                body = _json_object(form["payload"])
                if isinstance(body, Refusal):
                    return body
            else:
                body = form
        problem = self._shape(body)
        if problem is not None:
            return Refusal(400, problem)
        try:
            return AsyncBoltRequest(body=text, query=request.query_string, headers=dict(headers))
        except Exception:  # what Bolt cannot read is malformed, whatever slipped past _shape
            return Refusal(400, "malformed payload")

    def _shape(self, body: dict[str, Any]) -> str | None:
        """Too deep, or an envelope field Bolt reads as an object that is not one.

        The envelope is the top level and the objects Bolt's context builder descends into
        (`event`, `message`, `authorizations[0]`, ...); block ids and other names chosen by
        apps sit deeper and are not held to it."""
        stack: list[tuple[object, int, bool]] = [(body, 1, True)]
        while stack:
            value, depth, envelope = stack.pop()
            if depth > self.max_depth:
                return "payload nested too deep"
            if isinstance(value, dict):
                if envelope and not _envelope_ok(value):
                    return "malformed payload"
                stack.extend(
                    (v, depth + 1, envelope and k in _ENVELOPE_CHILDREN)
                    for k, v in value.items()
                    if isinstance(v, dict | list)
                )
            elif isinstance(value, list):
                stack.extend((v, depth + 1, envelope) for v in value if isinstance(v, dict | list))
        return None


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json_object(text: str) -> dict[str, Any] | Refusal:
    try:
        value = json.loads(text)
    except RecursionError:
        return Refusal(400, "payload nested too deep")
    except ValueError:
        return Refusal(400, "malformed JSON")
    if not isinstance(value, dict):
        return Refusal(400, "payload is not a JSON object")
    return value


def _envelope_ok(obj: dict[str, Any]) -> bool:
    for key in _OBJECT_FIELDS:
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            return False
    for key in _PRESENT_OBJECT_FIELDS:  # read as `body.get(key, {}).get(...)`: null will not do
        if key in obj and not isinstance(obj[key], dict):
            return False
    for key in _ID_OR_OBJECT_FIELDS:
        if obj.get(key) is not None and not isinstance(obj[key], str | dict):
            return False
    for key in _STRING_FIELDS:  # matched against strings and patterns
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return False
    for key in _LIST_OF_OBJECT_FIELDS:
        items = obj.get(key)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            return False
    kind = obj.get("type")
    if kind == "event_callback" and "event" in obj and not isinstance(obj["event"].get("type"), str):
        return False
    if kind in ("block_actions", "interactive_message") and "actions" in obj:
        actions = obj["actions"]  # Bolt reads actions[0]["action_id"]
        if not actions or not all(_strings(a, ("action_id", "block_id", "type")) for a in actions):
            return False
        if kind == "block_actions" and not isinstance(actions[0].get("action_id"), str):
            return False
    # Bolt reads a submitted view's `type`, and a workflow step's `workflow_step`, as it builds
    # any listener's arguments, even when none matches: missing, they were a 500
    view = obj.get("view")
    if kind == "view_submission" and isinstance(view, dict) and "callback_id" in view:
        if not isinstance(view.get("type"), str):
            return False
        if view["type"] == "workflow_step" and not isinstance(obj.get("workflow_step"), dict):
            return False
    stepless = kind == "workflow_step_edit" and "callback_id" in obj
    return not (stepless and not isinstance(obj.get("workflow_step"), dict))


def _strings(obj: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return all(obj.get(key) is None or isinstance(obj[key], str) for key in keys)
