"""A local, scriptable stand-in for the OpenAI HTTP API, for tests that run the real client.

What this fake owns
-------------------
* The wire protocol the bot's ``openai.AsyncOpenAI`` client speaks: ``POST /v1/chat/completions``
  (plain JSON and ``text/event-stream`` server-sent events), ``POST /v1/embeddings``,
  ``GET /v1/models`` and ``GET /v1/models/{id}``, with the API's JSON error envelope
  ``{"error": {"message", "type", "param", "code"}}`` for 400/401/404/429/5xx.
* Bearer-key checking, request-body validation and model lookup, so a misconfigured bot fails
  the way it would against the real service instead of silently "working".
* Deterministic answers and embeddings: answers come from a per-test script (a queue of
  behaviours, then a default reply), embeddings from a hashed bag of words and character
  trigrams, so similar texts get similar vectors without any model.
* Fault injection: rate limits with ``retry-after``, 5xx, hangs, slow streams, malformed and
  truncated streams, arbitrary API errors.
* A record of every request (headers without the key, parsed JSON body) that tests can await.

What it does not own: anything about the bot. It knows nothing of prompts or citations except
what a test's reply callable chooses to compute from the recorded request.

The server runs inside the test's event loop, so it must be driven by an async client
(``AsyncOpenAI``); a synchronous client would block the loop the server needs.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import inspect
import json
import math
import re
import secrets
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self

from aiohttp import web

__all__ = [
    "Answer",
    "Behaviour",
    "CutOff",
    "EmbeddingBehaviour",
    "ErrorResponse",
    "FakeOpenAI",
    "Hang",
    "MalformedChunk",
    "RateLimited",
    "RecordedRequest",
    "Refusal",
    "Respond",
    "ServerError",
    "fake_embedding",
]

CHAT_PATH = "/v1/chat/completions"
EMBEDDINGS_PATH = "/v1/embeddings"

# Roles the Chat Completions API accepts; anything else is a 400 there too.
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Roles for which the API insists on a ``content`` field.
_ROLES_NEEDING_CONTENT = ("system", "developer", "user", "tool")

# Rough "tokens" for usage numbers and for splitting a reply into stream deltas: a word with the
# whitespace before it, like the API's tokens (" world"), so joining deltas restores the text.
_PIECE = re.compile(r"\s*\S+|\s+$")
_TOKENISH = re.compile(r"\w+|[^\w\s]")
_WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake received it.

    ``headers`` has lower-cased names and never contains ``authorization``: the key is a
    secret even in tests, and tests assert on its validity through the 401 path instead.
    ``body`` is the parsed JSON, or ``None`` when the body was empty or not JSON.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat ``messages`` list, or ``[]`` for other requests."""
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return [m for m in self.body["messages"] if isinstance(m, dict)]
        return []

    def message_text(self, role: str | None = None) -> str:
        """Text of all messages (optionally of one role), joined by blank lines."""
        return "\n\n".join(
            _content_text(m.get("content")) for m in self.messages if role is None or m.get("role") == role
        )

    @property
    def prompt(self) -> str:
        """Every message's text, the whole prompt the model would have seen."""
        return self.message_text()

    @property
    def last_user_message(self) -> str:
        """Text of the final ``user`` message, usually the question being answered."""
        users = [m for m in self.messages if m.get("role") == "user"]
        return _content_text(users[-1].get("content")) if users else ""

    @property
    def stream(self) -> bool:
        """Whether the request asked for a server-sent-event stream."""
        return isinstance(self.body, dict) and self.body.get("stream") is True


def _content_text(content: Any) -> str:
    """Flatten message content (a string or a list of content parts) to plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


# --------------------------------------------------------------------------------------------
# Behaviours a test can queue
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Reply with ``text``. Streamed as one delta per word (``words_per_chunk`` to coarsen).

    ``chunk_delay`` pauses between stream chunks (a slow stream); ``first_byte_delay`` pauses
    before the response starts (a slow model). ``finish_reason`` is reported as given unless
    the request's ``max_tokens`` / ``max_completion_tokens`` cuts the text short ("length").
    """

    text: str
    chunk_delay: float = 0.0
    first_byte_delay: float = 0.0
    words_per_chunk: int = 1
    finish_reason: Literal["stop", "length", "content_filter"] = "stop"


@dataclass(frozen=True)
class Refusal:
    """The model declines: ``message.refusal`` carries the text and ``content`` is null."""

    text: str = "I'm sorry, I can't help with that."
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Accept the request, send nothing for ``seconds``, then drop the connection.

    Meant to outlast the client's timeout. ``stop()`` releases hung requests at once, and a
    client that gives up cancels its handler, so a hang never slows teardown.
    """

    seconds: float = 60.0


@dataclass(frozen=True)
class RateLimited:
    """HTTP 429 with the API's rate-limit body, ``retry-after`` and ``x-ratelimit-*`` headers.

    ``retry_after`` is sent as given (seconds, fractions allowed; the openai client honours
    fractions, which keeps retry tests fast); ``None`` omits the header so the client falls back
    to its own backoff. ``kind="insufficient_quota"`` is the billing variant of 429.
    """

    retry_after: float | None = 1.0
    kind: Literal["requests", "tokens", "insufficient_quota"] = "requests"


@dataclass(frozen=True)
class ServerError:
    """HTTP 5xx with the API's ``server_error`` body. ``retry_after`` is optional, as upstream."""

    status: int = 500
    message: str | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if not 500 <= self.status <= 599:
            raise ValueError(f"ServerError status must be 5xx, got {self.status}")


@dataclass(frozen=True)
class ErrorResponse:
    """Any other API error, e.g. 400 ``context_length_exceeded``, in the API's error envelope."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MalformedChunk:
    """Stream ``text_before`` normally, then a ``data:`` event whose payload is not JSON.

    For a non-streaming request the whole 200 body is ``raw`` (invalid JSON) instead, sent as
    ``content_type`` ("text/html" is a proxy's page, which the client returns as a plain str).
    """

    text_before: str = "Partial answer"
    raw: str = '{"id": "chatcmpl-broken", "choices": [{"delta": '
    content_type: str = "application/json"


@dataclass(frozen=True)
class CutOff:
    """Stream ``text`` and stop without a finish chunk or ``[DONE]``.

    ``abort=True`` drops the TCP connection mid-body (what a crashed proxy does; the client sees
    a protocol error). ``abort=False`` ends the HTTP body cleanly but early, which the client
    cannot tell from a normal end except by the missing ``finish_reason``. For a non-streaming
    request the connection is dropped before any response.
    """

    text: str = "Partial answer"
    abort: bool = True


@dataclass(frozen=True)
class Respond:
    """Compute the reply from the request: ``fn(request)`` returns text or another behaviour.

    ``fn`` may be async. This is how a fake LLM answers from the prompt, e.g. citing the
    passage the retrieval step put there.
    """

    fn: ReplyFn


Behaviour = (
    Answer | Refusal | Hang | RateLimited | ServerError | ErrorResponse | MalformedChunk | CutOff | Respond
)
_BEHAVIOUR_TYPES = (
    Answer,
    Refusal,
    Hang,
    RateLimited,
    ServerError,
    ErrorResponse,
    MalformedChunk,
    CutOff,
    Respond,
)

# A reply callable gets the recorded request and returns text (an ``Answer``) or a behaviour.
ReplyFn = Callable[[RecordedRequest], "str | Behaviour | Awaitable[str | Behaviour]"]

# Embedding requests can only fail in transport/HTTP ways; the vectors themselves always come
# from ``fake_embedding`` so that every test sees the same geometry.
EmbeddingBehaviour = Hang | RateLimited | ServerError | ErrorResponse | CutOff
_EMBEDDING_BEHAVIOURS = (Hang, RateLimited, ServerError, ErrorResponse, CutOff)


# --------------------------------------------------------------------------------------------
# Deterministic embeddings
# --------------------------------------------------------------------------------------------


def _hash_feature(feature: str, dim: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    index = int.from_bytes(digest[:4], "little") % dim
    # A sign bit per feature keeps unrelated texts near-orthogonal instead of all-positive.
    sign = 1.0 if digest[4] & 1 else -1.0
    return index, sign


def fake_embedding(text: str, dim: int = 256) -> list[float]:
    """The fake's embedding of ``text``: a unit vector of ``dim`` float32-representable floats.

    Each lower-cased word adds weight 1 to a hashed bucket and its character trigrams share
    another weight 1, so shared words dominate similarity while inflections ("password",
    "passwords") still land close. Values are rounded to float32 so the ``float`` and
    ``base64`` encodings carry exactly the same numbers.
    """
    vec = [0.0] * dim
    words = _WORD.findall(text.lower())
    for word in words:
        index, sign = _hash_feature("w:" + word, dim)
        vec[index] += sign
        padded = f"<{word}>"
        grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        for gram in grams:
            index, sign = _hash_feature("c:" + gram, dim)
            vec[index] += sign / len(grams)
    norm = math.sqrt(sum(x * x for x in vec))
    if norm == 0.0:
        # No words (empty after tokenising, e.g. only punctuation): still return a unit vector,
        # as a real model would, derived from the raw text so different inputs differ.
        index, sign = _hash_feature("raw:" + text, dim)
        vec[index] = sign
        norm = 1.0
    packed = struct.pack(f"<{dim}f", *(x / norm for x in vec))
    return list(struct.unpack(f"<{dim}f", packed))


def _embedding_base64(vector: Sequence[float]) -> str:
    # The API's base64 format is little-endian float32, which is what the client decodes.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


# --------------------------------------------------------------------------------------------
# Helpers for API-shaped responses
# --------------------------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    # Compact separators, like the API, so byte-level SSE framing looks the same.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def _count_tokens(text: str) -> int:
    return len(_TOKENISH.findall(text))


def _mask_key(key: str) -> str:
    # The API echoes a bad key only partly; do the same so logs in tests never show it whole.
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


class _BadRequest(Exception):
    """A 400 from validation, carrying the API's error fields."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


def _missing(param: str) -> _BadRequest:
    return _BadRequest(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _invalid_type(param: str, expected: str, value: Any) -> _BadRequest:
    return _BadRequest(
        f"Invalid type for '{param}': expected {expected}, but got {type(value).__name__}.",
        param,
        "invalid_type",
    )


def _validate_chat_body(body: dict[str, Any]) -> None:
    """Raise ``_BadRequest`` for the request shapes the API itself rejects."""
    if "model" not in body:
        raise _missing("model")
    if not isinstance(body["model"], str):
        raise _invalid_type("model", "a string", body["model"])
    if "messages" not in body:
        raise _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array", messages)
    if not messages:
        raise _BadRequest(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _invalid_type(where, "an object", message)
        role = message.get("role")
        if role is None:
            raise _missing(f"{where}.role")
        if role not in _ROLES:
            raise _BadRequest(
                f"Invalid value: '{role}'. Supported values are: "
                + ", ".join(f"'{r}'" for r in _ROLES)
                + ".",
                f"{where}.role",
                "invalid_value",
            )
        if "content" not in message:
            if role in _ROLES_NEEDING_CONTENT:
                raise _missing(f"{where}.content")
            if role == "assistant" and not message.get("tool_calls"):
                raise _missing(f"{where}.content")
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                part_where = f"{where}.content[{j}]"
                if not isinstance(part, dict):
                    raise _invalid_type(part_where, "an object", part)
                if "type" not in part:
                    raise _missing(f"{part_where}.type")
                if part["type"] == "text" and not isinstance(part.get("text"), str):
                    raise _missing(f"{part_where}.text")
        elif content is not None and not isinstance(content, str):
            raise _invalid_type(f"{where}.content", "a string or an array", content)
        if role == "tool" and "tool_call_id" not in message:
            raise _missing(f"{where}.tool_call_id")
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean", stream)
    if body.get("stream_options") is not None and stream is not True:
        raise _BadRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise _invalid_type("temperature", "a number", temperature)
        if not 0 <= temperature <= 2:
            raise _BadRequest(
                f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
                f"but got {temperature} instead.",
                "temperature",
                "decimal_above_max_value" if temperature > 2 else "decimal_below_min_value",
            )
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise _BadRequest(
                f"Invalid '{name}': expected a positive integer, but got {value!r} instead.",
                name,
                "invalid_value",
            )
    n = body.get("n")
    if n is not None and n != 1:
        # Honest refusal rather than a silently wrong answer: the fake produces one choice.
        raise _BadRequest("The fake OpenAI server only supports n=1.", "n", "unsupported_value")


def _validate_embeddings_body(body: dict[str, Any]) -> list[str]:
    """Validate an embeddings request and return its inputs as texts."""
    if "model" not in body:
        raise _missing("model")
    if not isinstance(body["model"], str):
        raise _invalid_type("model", "a string", body["model"])
    if "input" not in body:
        raise _missing("input")
    raw = body["input"]
    items: list[Any]
    if isinstance(raw, str):
        items = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw):
        items = [raw]  # one pre-tokenised input
    elif isinstance(raw, list):
        items = raw
    else:
        raise _invalid_type("input", "a string or an array", raw)
    if not items:
        raise _BadRequest("'$.input' is invalid: empty array.", "input", "empty_array")
    texts: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, str) and item:
            texts.append(item)
        elif (
            isinstance(item, list)
            and item
            and all(isinstance(t, int) and not isinstance(t, bool) for t in item)
        ):
            # Token-id inputs: no tokenizer here, so hash the ids as words; equal ids, equal vector.
            texts.append(" ".join(f"tok{t}" for t in item))
        else:
            raise _BadRequest(
                f"'$.input[{i}]' is invalid. Expected a non-empty string or token array.",
                "input",
                "invalid_value",
            )
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise _BadRequest(
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            "encoding_format",
            "invalid_value",
        )
    dimensions = body.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise _BadRequest(
            f"Invalid 'dimensions': expected a positive integer, got {dimensions!r}.",
            "dimensions",
            "invalid_value",
        )
    return texts


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class FakeOpenAI:
    """An OpenAI-compatible HTTP server on 127.0.0.1 with a per-test script.

    Use ``async with FakeOpenAI() as fake:`` (or ``await fake.start()`` / ``await fake.stop()``)
    and point the client at ``fake.base_url`` with ``api_key=fake.api_key``.
    """

    def __init__(
        self,
        *,
        api_key: str = "sk-test-fake-key",
        chat_models: Sequence[str] = ("gpt-4o-mini", "gpt-4o"),
        embedding_models: Sequence[str] = ("text-embedding-3-small", "text-embedding-3-large"),
        default_reply: str | ReplyFn = "This is the fake model's default answer.",
        embedding_dim: int = 256,
        raise_handler_errors: bool = True,
    ) -> None:
        self.api_key = api_key
        self.chat_models = tuple(chat_models)
        self.embedding_models = tuple(embedding_models)
        # Public and mutable on purpose: a test may switch the default reply mid-way.
        self.default_reply: str | ReplyFn = default_reply
        self.embedding_dim = embedding_dim
        self.raise_handler_errors = raise_handler_errors
        self.handler_errors: list[BaseException] = []
        self._chat_queue: deque[Behaviour] = deque()
        self._embedding_queue: deque[EmbeddingBehaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._claimed: set[int] = set()
        self._cond: asyncio.Condition | None = None
        self._closing: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._created = int(time.time())

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> Self:
        """Bind an ephemeral port on 127.0.0.1 and start serving; returns ``self``."""
        if self._runner is not None:
            raise RuntimeError("FakeOpenAI is already running")
        # Created here, not in __init__, so they bind to the loop the test actually runs in.
        self._cond = asyncio.Condition()
        self._closing = asyncio.Event()
        app = web.Application()
        app.router.add_post(CHAT_PATH, self._handle_chat)
        app.router.add_post(EMBEDDINGS_PATH, self._handle_embeddings)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/v1/models/{model}", self._handle_model)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        # handler_cancellation: when a client times out and hangs up, its handler stops too,
        # as on a real server, instead of sleeping on until teardown.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        # Port 0 asked the OS for a free port; read back which one it gave.
        self._port = int(runner.addresses[0][1])
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Release hung requests, shut the server down, and surface reply-callable errors."""
        if self._runner is None:
            return
        assert self._closing is not None
        self._closing.set()
        runner, self._runner = self._runner, None
        self._port = None
        await runner.cleanup()
        if self.raise_handler_errors and self.handler_errors:
            first = self.handler_errors[0]
            raise RuntimeError(
                f"{len(self.handler_errors)} reply callable(s) raised; first: {first!r}"
            ) from first

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
        """The bound TCP port (only while running)."""
        if self._port is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, ready for ``AsyncOpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- scripting -------------------------------------------------------------------------

    def enqueue(self, *behaviours: Behaviour | str) -> None:
        """Queue behaviours for successive chat-completion requests (a str means ``Answer``)."""
        for behaviour in behaviours:
            self._chat_queue.append(Answer(behaviour) if isinstance(behaviour, str) else behaviour)

    def enqueue_embeddings(self, *behaviours: EmbeddingBehaviour) -> None:
        """Queue failures for successive embedding requests (Hang/RateLimited/5xx/Error/CutOff)."""
        for behaviour in behaviours:
            if not isinstance(behaviour, _EMBEDDING_BEHAVIOURS):
                raise TypeError(
                    f"{type(behaviour).__name__} does not apply to embeddings; "
                    "embedding vectors always come from fake_embedding()"
                )
            self._embedding_queue.append(behaviour)

    @property
    def pending(self) -> int:
        """How many queued behaviours (chat and embeddings) no request has consumed yet."""
        return len(self._chat_queue) + len(self._embedding_queue)

    def reset(self) -> None:
        """Forget queued behaviours, recorded requests and handler errors."""
        self._chat_queue.clear()
        self._embedding_queue.clear()
        self._requests.clear()
        self._claimed.clear()
        self.handler_errors.clear()

    # ---- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Recorded ``POST /v1/chat/completions`` requests."""
        return [r for r in self._requests if r.path == CHAT_PATH]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        """Recorded ``POST /v1/embeddings`` requests."""
        return [r for r in self._requests if r.path == EMBEDDINGS_PATH]

    async def wait_for_request(self, timeout: float = 5.0, *, path: str | None = None) -> RecordedRequest:
        """Return the oldest request (optionally on ``path``) not returned by an earlier call.

        Waits on a condition the server signals, so there is no polling; raises
        ``TimeoutError`` listing what did arrive if nothing matching comes in time.
        """
        cond = self._require_cond()

        def claim() -> RecordedRequest | None:
            for i, recorded in enumerate(self._requests):
                if i not in self._claimed and (path is None or recorded.path == path):
                    self._claimed.add(i)
                    return recorded
            return None

        async with cond:
            try:
                async with asyncio.timeout(timeout):
                    while (found := claim()) is None:
                        await cond.wait()
            except TimeoutError:
                raise TimeoutError(self._timeout_message(timeout, path, 1)) from None
        return found

    async def wait_for_requests(
        self, count: int, timeout: float = 5.0, *, path: str | None = None
    ) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests (optionally on ``path``) arrived; return them."""
        cond = self._require_cond()

        def matching() -> list[RecordedRequest]:
            return [r for r in self._requests if path is None or r.path == path]

        async with cond:
            try:
                async with asyncio.timeout(timeout):
                    await cond.wait_for(lambda: len(matching()) >= count)
            except TimeoutError:
                raise TimeoutError(self._timeout_message(timeout, path, count)) from None
            return matching()

    def _require_cond(self) -> asyncio.Condition:
        if self._cond is None:
            raise RuntimeError("FakeOpenAI is not running; call start() first")
        return self._cond

    def _timeout_message(self, timeout: float, path: str | None, count: int) -> str:
        seen = [f"{r.method} {r.path}" for r in self._requests]
        return f"expected {count} request(s) to {path or 'any path'} within {timeout}s; saw {seen}"

    # ---- request plumbing ------------------------------------------------------------------

    async def _record(self, request: web.Request) -> tuple[RecordedRequest, bytes]:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError):
            body = None
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"}
        recorded = RecordedRequest(request.method, request.path, headers, body)
        cond = self._require_cond()
        async with cond:
            self._requests.append(recorded)
            cond.notify_all()
        return recorded, raw

    def _base_headers(self, model: str | None = None) -> dict[str, str]:
        headers = {
            "x-request-id": f"req_{secrets.token_hex(16)}",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
        }
        if model is not None:
            headers["openai-model"] = model
        return headers

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=status,
            text=_dumps(payload),
            content_type="application/json",
            headers={**self._base_headers(), **(headers or {})},
        )

    def _error(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        return self._json(status, _error_body(message, type_, param, code), headers)

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        if not header or not header.startswith("Bearer ") or not header[7:].strip():
            return self._error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        key = header[7:].strip()
        if not secrets.compare_digest(key, self.api_key):
            return self._error(
                401,
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    async def _parse(
        self, request: web.Request
    ) -> tuple[RecordedRequest, dict[str, Any] | None, web.Response | None]:
        """Record, authenticate and JSON-decode; the third item is an error response, if any."""
        recorded, raw = await self._record(request)
        if (denied := self._check_auth(request)) is not None:
            return recorded, None, denied
        if not isinstance(recorded.body, dict):
            what = "an empty body" if not raw else "invalid JSON"
            return (
                recorded,
                None,
                self._error(
                    400,
                    f"We could not parse the JSON body of your request (got {what}). The OpenAI "
                    "API expects a JSON object payload.",
                ),
            )
        return recorded, recorded.body, None

    def _model_not_found(self, model: str, endpoint: str) -> web.Response:
        return self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it "
            f"(the fake serves {endpoint} with: {', '.join(self._models_for(endpoint))}).",
            param="model",
            code="model_not_found",
        )

    def _models_for(self, endpoint: str) -> tuple[str, ...]:
        return self.chat_models if endpoint == CHAT_PATH else self.embedding_models

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless the server is stopping; return True if it is stopping."""
        if seconds <= 0:
            return False
        assert self._closing is not None
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return False
        return True

    # ---- shared failure behaviours ---------------------------------------------------------

    async def _respond_failure(
        self, request: web.Request, behaviour: Behaviour, model: str, *, stream: bool
    ) -> web.StreamResponse | None:
        """Handle behaviours that look the same on every endpoint; None if not one of them."""
        if isinstance(behaviour, Hang):
            await self._pause(behaviour.seconds)
            return self._drop(request)
        if isinstance(behaviour, RateLimited):
            return self._rate_limited(behaviour, model)
        if isinstance(behaviour, ServerError):
            headers = {}
            if behaviour.retry_after is not None:
                headers["retry-after"] = _format_seconds(behaviour.retry_after)
            default = (
                "The server had an error while processing your request. Sorry about that!"
                if behaviour.status == 500
                else "The server is overloaded or not ready yet."
            )
            return self._error(
                behaviour.status, behaviour.message or default, "server_error", headers=headers
            )
        if isinstance(behaviour, ErrorResponse):
            return self._error(
                behaviour.status,
                behaviour.message,
                behaviour.type,
                behaviour.param,
                behaviour.code,
                behaviour.headers,
            )
        if isinstance(behaviour, CutOff) and not stream:
            return self._drop(request)
        return None

    def _rate_limited(self, behaviour: RateLimited, model: str) -> web.Response:
        headers = {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0" if behaviour.kind == "requests" else "59",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-tokens": "0" if behaviour.kind == "tokens" else "149000",
            "x-ratelimit-reset-tokens": "6ms",
        }
        if behaviour.retry_after is not None:
            headers["retry-after"] = _format_seconds(behaviour.retry_after)
        if behaviour.kind == "insufficient_quota":
            return self._error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                code="insufficient_quota",
                headers=headers,
            )
        unit = "requests per min (RPM)" if behaviour.kind == "requests" else "tokens per min (TPM)"
        wait = _format_seconds(behaviour.retry_after or 1.0)
        return self._error(
            429,
            f"Rate limit reached for {model} in organization org-fake on {unit}: Limit 60, "
            f"Used 60, Requested 1. Please try again in {wait}s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more.",
            behaviour.kind,
            code="rate_limit_exceeded",
            headers=headers,
        )

    def _drop(self, request: web.Request) -> web.StreamResponse:
        """Close the TCP connection without (finishing) a response."""
        transport = request.transport
        if transport is not None:
            # abort(), not close(): no orderly shutdown, exactly like a crashed upstream.
            transport.abort()
        # aiohttp still wants a response object; it is never sent because the socket is gone.
        return web.Response(status=499)

    # ---- handlers --------------------------------------------------------------------------

    async def _handle_unknown(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if (denied := self._check_auth(request)) is not None:
            return denied
        return self._error(404, f"Invalid URL ({request.method} {request.path})")

    async def _handle_models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if (denied := self._check_auth(request)) is not None:
            return denied
        data = [self._model_object(m) for m in (*self.chat_models, *self.embedding_models)]
        return self._json(200, {"object": "list", "data": data})

    async def _handle_model(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if (denied := self._check_auth(request)) is not None:
            return denied
        model = request.match_info["model"]
        if model not in (*self.chat_models, *self.embedding_models):
            return self._error(
                404,
                f"The model '{model}' does not exist",
                param="model",
                code="model_not_found",
            )
        return self._json(200, self._model_object(model))

    def _model_object(self, model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": self._created, "owned_by": "system"}

    async def _handle_embeddings(self, request: web.Request) -> web.StreamResponse:
        _, body, failure = await self._parse(request)
        if failure is not None or body is None:
            return failure or self._error(400, "Invalid request body.")
        try:
            texts = _validate_embeddings_body(body)
        except _BadRequest as bad:
            return self._error(400, bad.message, param=bad.param, code=bad.code)
        model = body["model"]
        if model not in self.embedding_models:
            return self._model_not_found(model, EMBEDDINGS_PATH)
        if self._embedding_queue:
            behaviour = self._embedding_queue.popleft()
            handled = await self._respond_failure(request, behaviour, model, stream=False)
            if handled is not None:
                return handled
        dim = body.get("dimensions") or self.embedding_dim
        as_base64 = body.get("encoding_format", "float") == "base64"
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(text, dim)
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": _embedding_base64(vector) if as_base64 else vector,
                }
            )
        tokens = sum(_count_tokens(t) for t in texts)
        return self._json(
            200,
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
            self._base_headers(model),
        )

    async def _handle_chat(self, request: web.Request) -> web.StreamResponse:
        recorded, body, failure = await self._parse(request)
        if failure is not None or body is None:
            return failure or self._error(400, "Invalid request body.")
        try:
            _validate_chat_body(body)
        except _BadRequest as bad:
            return self._error(400, bad.message, param=bad.param, code=bad.code)
        model = body["model"]
        if model not in self.chat_models:
            return self._model_not_found(model, CHAT_PATH)

        behaviour: Behaviour | str = (
            self._chat_queue.popleft() if self._chat_queue else Respond(self._default_fn)
        )
        try:
            # A reply callable may itself return another callable behaviour; resolve fully.
            while isinstance(behaviour, Respond):
                behaviour = await _call_reply(behaviour.fn, recorded)
        except Exception as exc:
            # Recorded so stop() can fail the test loudly; the client meanwhile gets a 500.
            self.handler_errors.append(exc)
            return self._error(500, f"fake reply callable raised {exc!r}", "server_error")
        if isinstance(behaviour, str):
            behaviour = Answer(behaviour)

        handled = await self._respond_failure(request, behaviour, model, stream=recorded.stream)
        if handled is not None:
            return handled
        if recorded.stream:
            return await self._stream_chat(request, body, recorded, behaviour)
        return await self._complete_chat(body, recorded, behaviour)

    async def _default_fn(self, recorded: RecordedRequest) -> str | Behaviour:
        reply = self.default_reply
        if isinstance(reply, str):
            return reply
        return await _call_reply(reply, recorded)

    async def _complete_chat(
        self, body: dict[str, Any], recorded: RecordedRequest, behaviour: Behaviour
    ) -> web.StreamResponse:
        model = body["model"]
        if isinstance(behaviour, MalformedChunk):
            return web.Response(
                status=200,
                text=behaviour.raw,
                content_type=behaviour.content_type,
                headers=self._base_headers(model),
            )
        if isinstance(behaviour, Answer) and await self._pause(behaviour.first_byte_delay):
            return web.Response(status=503)
        pieces, finish_reason, refusal = _plan_reply(behaviour, body)
        text = "".join(pieces)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if refusal else text,
            "refusal": text if refusal else None,
            "annotations": [],
        }
        payload = {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
            "usage": _usage(recorded, len(pieces)),
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }
        return self._json(200, payload, self._base_headers(model))

    async def _stream_chat(
        self,
        request: web.Request,
        body: dict[str, Any],
        recorded: RecordedRequest,
        behaviour: Behaviour,
    ) -> web.StreamResponse:
        model = body["model"]
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
                "choices": choices,
            }
            if include_usage:
                # With include_usage every chunk carries "usage": null except the last one.
                payload["usage"] = usage
            return f"data: {_dumps(payload)}\n\n".encode()

        def choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

        delay = 0.0
        if isinstance(behaviour, Answer):
            delay = behaviour.chunk_delay
            if await self._pause(behaviour.first_byte_delay):
                return self._drop(request)
        elif isinstance(behaviour, Refusal):
            delay = behaviour.chunk_delay

        pieces, finish_reason, refusal = _plan_reply(behaviour, body)
        field_name = "refusal" if refusal else "content"
        first_delta: dict[str, Any] = (
            {"role": "assistant", "content": None, "refusal": ""}
            if refusal
            else {"role": "assistant", "content": "", "refusal": None}
        )

        response = web.StreamResponse(
            status=200,
            headers={
                **self._base_headers(model),
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
            },
        )
        try:
            await response.prepare(request)
            await response.write(chunk([choice(first_delta)]))
            for piece in pieces:
                if await self._pause(delay):
                    return self._drop(request)
                await response.write(chunk([choice({field_name: piece})]))

            if isinstance(behaviour, MalformedChunk):
                await response.write(f"data: {behaviour.raw}\n\n".encode())
                await response.write(b"data: [DONE]\n\n")
                await response.write_eof()
                return response
            if isinstance(behaviour, CutOff):
                if behaviour.abort:
                    return self._drop(request)
                await response.write_eof()
                return response

            await response.write(chunk([choice({}, finish_reason)]))
            if include_usage:
                await response.write(chunk([], _usage(recorded, len(pieces))))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionError:
            # The client went away mid-stream (e.g. its own timeout); nothing left to send to.
            pass
        return response


async def _call_reply(fn: ReplyFn, recorded: RecordedRequest) -> str | Behaviour:
    result = fn(recorded)
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, (str, *_BEHAVIOUR_TYPES)):
        raise TypeError(f"reply callable returned {type(result).__name__}, not str/behaviour")
    return result


def _plan_reply(behaviour: Behaviour, body: dict[str, Any]) -> tuple[list[str], str, bool]:
    """Split the reply into stream pieces; return (pieces, finish_reason, is_refusal)."""
    words_per_chunk = 1
    finish_reason = "stop"
    refusal = False
    if isinstance(behaviour, Answer):
        text = behaviour.text
        words_per_chunk = max(1, behaviour.words_per_chunk)
        finish_reason = behaviour.finish_reason
    elif isinstance(behaviour, Refusal):
        text = behaviour.text
        refusal = True
    elif isinstance(behaviour, MalformedChunk):
        text = behaviour.text_before
    elif isinstance(behaviour, CutOff):
        text = behaviour.text
    else:  # pragma: no cover - _respond_failure handled the rest
        raise TypeError(f"cannot plan a reply for {type(behaviour).__name__}")
    words = _PIECE.findall(text)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and len(words) > limit:
        # A real model stops at the token budget and says so; the bot must handle "length".
        words = words[:limit]
        finish_reason = "length"
    pieces = ["".join(words[i : i + words_per_chunk]) for i in range(0, len(words), words_per_chunk)]
    return pieces, finish_reason, refusal


def _usage(recorded: RecordedRequest, completion_tokens: int) -> dict[str, Any]:
    prompt_tokens = _count_tokens(recorded.prompt)
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _format_seconds(seconds: float) -> str:
    # Whole numbers as "2" (what the API sends); fractions kept so tests can retry quickly.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
