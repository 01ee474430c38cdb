"""Proves FakeOpenAI speaks the API closely enough for the real ``openai.AsyncOpenAI`` client.

Every test drives the actual client (retries, SSE decoding, error mapping, base64 embedding
decoding all come from the installed ``openai`` package), so if the fake drifts from what the
client expects, these fail before the bot's own tests start lying.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import struct
import time
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.fakes.openai_server import (
    CHAT_PATH,
    EMBEDDINGS_PATH,
    Answer,
    CutOff,
    ErrorResponse,
    FakeOpenAI,
    Hang,
    MalformedChunk,
    RateLimited,
    RecordedRequest,
    Refusal,
    Respond,
    ServerError,
    fake_embedding,
)

MODEL = "gpt-4o-mini"
EMBED_MODEL = "text-embedding-3-small"
USER_MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "system", "content": "Answer from the passages."},
    {"role": "user", "content": "How do I reset my password?"},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


def make_client(
    fake: FakeOpenAI, *, max_retries: int = 0, timeout: float = 5.0, api_key: str | None = None
) -> openai.AsyncOpenAI:
    # max_retries defaults to 0 here so a test only sees retries it asked for.
    return openai.AsyncOpenAI(
        base_url=fake.base_url,
        api_key=api_key if api_key is not None else fake.api_key,
        max_retries=max_retries,
        timeout=timeout,
    )


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with make_client(fake) as c:
        yield c


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


# ---- chat completions: happy paths ---------------------------------------------------------


async def test_non_stream_completion_has_the_api_shape(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Answer("Open Settings, then Security, then Reset password."))

    result = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)

    assert result.object == "chat.completion"
    assert result.id.startswith("chatcmpl-")
    assert result.model == MODEL
    assert len(result.choices) == 1
    choice = result.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "Open Settings, then Security, then Reset password."
    assert choice.finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens

    recorded = await fake.wait_for_request(timeout=1)
    assert recorded.path == CHAT_PATH
    assert recorded.body["messages"] == USER_MESSAGES
    assert recorded.last_user_message == "How do I reset my password?"
    assert "authorization" not in recorded.headers
    assert fake.pending == 0


async def test_default_reply_is_used_when_the_queue_is_empty() -> None:
    async with FakeOpenAI(default_reply="default text") as fake, make_client(fake) as client:
        fake.enqueue("queued text")
        first = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
        second = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert first.choices[0].message.content == "queued text"
    assert second.choices[0].message.content == "default text"


async def test_stream_is_assembled_from_deltas_and_ends_cleanly(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    text = "Open Settings, then Security, then Reset password."
    fake.enqueue(Answer(text))

    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    chunks = [chunk async for chunk in stream]

    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1, "every chunk of one completion shares its id"
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 3, "the answer must arrive in several deltas"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks), "no usage unless include_usage was asked for"


async def test_stream_wire_format_is_sse_data_lines_then_done(fake: FakeOpenAI) -> None:
    # Below the client: check the raw bytes, since other SSE parsers may be stricter.
    fake.enqueue(Answer("one two"))
    async with aiohttp.ClientSession() as session:
        response = await session.post(
            f"{fake.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {fake.api_key}"},
            json={"model": MODEL, "messages": USER_MESSAGES, "stream": True},
        )
        raw = (await response.read()).decode()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = raw.split("\n\n")
    assert events[-1] == "", "every event, [DONE] included, ends with a blank line"
    assert events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert payloads[0]["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
        "refusal": None,
    }
    assert [p["choices"][0]["delta"].get("content") for p in payloads[1:-1]] == ["one", " two"]
    assert payloads[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }


async def test_include_usage_adds_a_final_usage_chunk_with_empty_choices(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.enqueue(Answer("three little words"))

    stream = await client.chat.completions.create(
        model=MODEL,
        messages=USER_MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 3
    assert last.usage.total_tokens == last.usage.prompt_tokens + 3
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_max_tokens_truncates_with_finish_reason_length(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.enqueue(Answer("one two three four five"))
    result = await client.chat.completions.create(
        model=MODEL, messages=USER_MESSAGES, max_completion_tokens=2
    )
    assert result.choices[0].message.content == "one two"
    assert result.choices[0].finish_reason == "length"


async def test_refusal_fills_refusal_not_content(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Refusal("I can't help with that."), Refusal("No."))

    result = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert result.choices[0].message.content is None
    assert result.choices[0].message.refusal == "I can't help with that."

    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks) == "No."
    assert all(not c.choices[0].delta.content for c in chunks)


async def test_reply_callable_answers_from_the_prompt(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    # A fake LLM: cite whichever numbered passage mentions the question's key word.
    def cite(request: RecordedRequest) -> str:
        question = request.last_user_message.lower()
        for line in request.message_text("system").splitlines():
            if line.startswith("[") and "password" in line.lower() and "password" in question:
                return f"See {line.split(']')[0]}]."
        return "I don't know."

    fake.default_reply = cite
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "Passages:\n[1] Billing is monthly.\n[2] Reset a password."},
        {"role": "user", "content": "How do I change my password?"},
    ]

    result = await client.chat.completions.create(model=MODEL, messages=messages)
    assert result.choices[0].message.content == "See [2]."

    async def unsure(request: RecordedRequest) -> Answer:
        return Answer(f"echo: {request.last_user_message}")

    fake.enqueue(Respond(unsure))
    stream = await client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in stream]) == "echo: hi"


async def test_slow_stream_spaces_chunks_out(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Answer("a b c d", chunk_delay=0.05))
    started = time.monotonic()
    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic())
    assert len(arrivals) == 4
    # the fake waits 0.05 s before each content chunk, so the fourth cannot arrive sooner than
    # 0.2 s after the request: a lower bound a busy machine cannot break, unlike the gaps
    # between arrivals, which one late read of two chunks merges
    assert arrivals[-1] - started >= 4 * 0.05


# ---- errors and retries --------------------------------------------------------------------


async def test_429_is_retried_by_the_client_then_succeeds(fake: FakeOpenAI) -> None:
    fake.enqueue(RateLimited(retry_after=0.01), RateLimited(retry_after=0.01), Answer("finally"))

    async with make_client(fake, max_retries=2) as client:
        result = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)

    assert result.choices[0].message.content == "finally"
    seen = fake.chat_requests
    assert len(seen) == 3
    # The client numbers its attempts; this proves the 429s were retried, not re-sent by us.
    assert [r.headers.get("x-stainless-retry-count") for r in seen] == ["0", "1", "2"]
    assert fake.pending == 0


async def test_429_body_and_headers_match_the_api(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(RateLimited(retry_after=2))

    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)

    error = caught.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.response.headers["retry-after"] == "2"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-reset-tokens" in error.response.headers
    assert len(fake.chat_requests) == 1


async def test_500_is_retried_and_503_surfaces(fake: FakeOpenAI) -> None:
    fake.enqueue(ServerError(500), Answer("recovered"))
    async with make_client(fake, max_retries=2) as client:
        result = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert result.choices[0].message.content == "recovered"
    assert len(fake.chat_requests) == 2

    fake.enqueue(ServerError(503))
    async with make_client(fake, max_retries=0) as client:
        with pytest.raises(openai.InternalServerError) as caught:
            await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert caught.value.status_code == 503
    assert caught.value.type == "server_error"


async def test_hang_makes_the_client_time_out(fake: FakeOpenAI) -> None:
    fake.enqueue(Hang(seconds=30))
    async with make_client(fake, timeout=0.5) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert (await fake.wait_for_request(timeout=1)).path == CHAT_PATH
    assert len(fake.requests) == 1


async def test_stop_releases_a_hung_request_promptly() -> None:
    fake = await FakeOpenAI().start()
    fake.enqueue(Hang(seconds=60))
    async with make_client(fake, timeout=30) as client:
        call = asyncio.create_task(client.chat.completions.create(model=MODEL, messages=USER_MESSAGES))
        await fake.wait_for_request(timeout=2)
        await fake.stop()
        # The hung request is dropped, not answered: the client sees a broken connection.
        with pytest.raises(openai.APIConnectionError):
            await call
    with pytest.raises(RuntimeError):
        _ = fake.base_url


async def test_stalled_stream_times_out_mid_answer(fake: FakeOpenAI) -> None:
    fake.enqueue(Answer("first second third", chunk_delay=5))
    received: list[str] = []
    async with make_client(fake, timeout=0.3) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
        with pytest.raises(openai.APITimeoutError):
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
    # The role chunk arrived before the stall; no content did.
    assert received == [""]


async def test_bad_key_raises_authentication_error(fake: FakeOpenAI) -> None:
    async with make_client(fake, api_key="sk-wrong-key-123456") as client:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "invalid_request_error"
    assert caught.value.message.count("Incorrect API key provided") == 1
    assert "sk-wrong-key-123456" not in caught.value.message, "the key is echoed masked"
    # Rejected requests are still recorded, without their key, and consume no behaviour.
    assert "authorization" not in fake.requests[0].headers


async def test_unknown_model_raises_not_found(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(Answer("must not be consumed"))
    with pytest.raises(openai.NotFoundError) as caught:
        await client.chat.completions.create(model="gpt-nonexistent", messages=USER_MESSAGES)
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert caught.value.type == "invalid_request_error"
    assert fake.pending == 1

    with pytest.raises(openai.NotFoundError):
        await client.embeddings.create(model=MODEL, input="chat models cannot embed")


@pytest.mark.parametrize(
    ("messages", "param", "code"),
    [
        ([], "messages", "empty_array"),
        ([{"role": "user"}], "messages[0].content", "missing_required_parameter"),
        ([{"role": "robot", "content": "hi"}], "messages[0].role", "invalid_value"),
        ([{"content": "hi"}], "messages[0].role", "missing_required_parameter"),
    ],
)
async def test_invalid_messages_are_rejected_with_400(
    client: openai.AsyncOpenAI, messages: list[dict[str, str]], param: str, code: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=messages)  # type: ignore[arg-type]
    assert caught.value.param == param
    assert caught.value.code == code


async def test_queued_api_error_is_returned_verbatim(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(
        ErrorResponse(
            400,
            "This model's maximum context length is 128000 tokens.",
            param="messages",
            code="context_length_exceeded",
        )
    )
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    assert caught.value.code == "context_length_exceeded"


async def test_malformed_chunk_makes_the_client_raise_json_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.enqueue(MalformedChunk(text_before="Partial answer"))
    received: list[str] = []
    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    # The client parses each event with json.loads and does not wrap the failure.
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Partial answer"


async def test_aborted_stream_raises_connection_error(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.enqueue(CutOff("half an", abort=True))
    received: list[str] = []
    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    with pytest.raises(openai.APIConnectionError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert "".join(received) == "half an"


async def test_stream_ended_without_done_looks_finished_but_has_no_finish_reason(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.enqueue(CutOff("half an", abort=False))
    stream = await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES, stream=True)
    chunks = [c async for c in stream]  # no exception: only the missing finish_reason tells
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "half an"
    assert all(c.choices[0].finish_reason is None for c in chunks)


async def test_reply_callable_errors_fail_the_test_at_stop() -> None:
    def broken(request: RecordedRequest) -> str:
        raise KeyError("no passages")

    fake = FakeOpenAI(default_reply=broken)
    await fake.start()
    async with make_client(fake) as client:
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)
    with pytest.raises(RuntimeError, match="no passages"):
        await fake.stop()


# ---- embeddings ----------------------------------------------------------------------------


async def test_embeddings_float_and_base64_decode_to_the_same_vectors(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    texts = ["reset my password", "billing is monthly"]

    as_float = await client.embeddings.create(model=EMBED_MODEL, input=texts, encoding_format="float")
    as_b64 = await client.embeddings.create(model=EMBED_MODEL, input=texts, encoding_format="base64")
    by_default = await client.embeddings.create(model=EMBED_MODEL, input=texts)

    float_vectors = [d.embedding for d in as_float.data]
    # An explicit base64 request gets the raw string back: decode it as the API defines it.
    b64_vectors: list[list[float]] = []
    for d in as_b64.data:
        assert isinstance(d.embedding, str)
        raw = base64.b64decode(d.embedding)
        b64_vectors.append(list(struct.unpack(f"<{len(raw) // 4}f", raw)))
    assert float_vectors == b64_vectors
    assert [d.embedding for d in by_default.data] == float_vectors
    assert float_vectors[0] == fake_embedding(texts[0], fake.embedding_dim)
    assert as_float.object == "list"
    assert [d.index for d in as_float.data] == [0, 1]
    assert {d.object for d in as_float.data} == {"embedding"}
    assert as_float.model == EMBED_MODEL
    assert as_float.usage.prompt_tokens == as_float.usage.total_tokens > 0

    # The client asks for base64 when the caller names no format; the fake must honour that.
    requests = fake.embedding_requests
    assert [r.body.get("encoding_format") for r in requests] == ["float", "base64", "base64"]


async def test_similar_texts_embed_closer_than_unrelated_ones(client: openai.AsyncOpenAI) -> None:
    result = await client.embeddings.create(
        model=EMBED_MODEL,
        input=[
            "How do I reset my password?",
            "Steps to reset a forgotten password",
            "Invoices are sent on the first day of every month",
        ],
        encoding_format="float",
    )
    question, related, unrelated = (d.embedding for d in result.data)
    assert math.isclose(sum(x * x for x in question), 1.0, rel_tol=1e-5)
    assert cosine(question, related) > cosine(question, unrelated) + 0.2

    single = await client.embeddings.create(
        model=EMBED_MODEL, input="How do I reset my password?", encoding_format="float"
    )
    assert single.data[0].embedding == question, "embeddings are deterministic"


async def test_embedding_dimensions_and_failures(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    small = await client.embeddings.create(model=EMBED_MODEL, input="x y", dimensions=32)
    assert len(small.data[0].embedding) == 32

    fake.enqueue_embeddings(ServerError(503))
    with pytest.raises(openai.InternalServerError):
        await client.embeddings.create(model=EMBED_MODEL, input="anything")
    with pytest.raises(TypeError):
        fake.enqueue_embeddings(Answer("vectors are not scriptable"))  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as caught:
        await client.embeddings.create(model=EMBED_MODEL, input="")
    assert caught.value.param == "input"


# ---- models and plumbing -------------------------------------------------------------------


async def test_models_are_listed(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    page = await client.models.list()
    ids = [m.id for m in page.data]
    assert ids == [*fake.chat_models, *fake.embedding_models]
    assert (await client.models.retrieve(MODEL)).id == MODEL
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("gpt-nonexistent")


async def test_wait_for_request_claims_in_order_and_times_out(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    await client.embeddings.create(model=EMBED_MODEL, input="first")
    await client.chat.completions.create(model=MODEL, messages=USER_MESSAGES)

    chat = await fake.wait_for_request(timeout=1, path=CHAT_PATH)
    assert chat.path == CHAT_PATH
    # The embeddings request was skipped by the filtered wait, so it is still unclaimed.
    assert (await fake.wait_for_request(timeout=1)).path == EMBEDDINGS_PATH
    with pytest.raises(TimeoutError, match="saw"):
        await fake.wait_for_request(timeout=0.05)
    assert len(await fake.wait_for_requests(2, timeout=1)) == 2
