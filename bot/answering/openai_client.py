"""The OpenAI-compatible endpoint itself: the client, the embedder, the doctor's checks.

What this module owns: building an `openai.AsyncOpenAI` client from Settings (never from the
environment: config reads that), naming its endpoint in messages, the embedder for hybrid
retrieval (`OpenAIEmbedder`: the endpoint's `/v1/embeddings`, whose failures become
`EmbeddingsUnavailable`; see bot/retrieval/embeddings.py), and the `supportbot doctor`
checks of the endpoint (`doctor_checks`), and reading a streamed chunk, which the client does
not check (`read_chunk`). The answerer that writes with it is
bot/answering/llm.py; these two are the only users of the `openai` package in `bot/`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import openai
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from bot.checks import Check
from bot.config import Settings
from bot.retrieval.embeddings import EmbeddingsUnavailable

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, llama.cpp, vLLM, LM Studio) ignore the key, but the client insists on one.
PLACEHOLDER_API_KEY = "not-needed"
# The doctor should answer promptly even when the answer timeout is generous.
DOCTOR_TIMEOUT_SECONDS = 15.0


def endpoint(client: openai.AsyncOpenAI) -> str:
    url = client.base_url
    return f"{url.host}:{url.port}" if url.port else url.host


class MalformedChunk(Exception):
    """A streamed chunk that is not the shape of one (the client does not check it)."""


@dataclass(frozen=True)
class ChunkPiece:
    """What one streamed chunk adds to the reply."""

    content: str = ""
    refusal: str = ""
    finish: str | None = None
    usage: tuple[int, int] | None = None  # tokens in, tokens out, when the endpoint says


def read_chunk(chunk: ChatCompletionChunk) -> ChunkPiece:
    """Read `chunk`; MalformedChunk if it is no chunk. Azure's asynchronous content filter
    sends, after the answer, a chunk whose choice annotates it and has no `delta`: it adds
    nothing, and must not cost the model the answer that came before it."""
    try:
        usage = None if chunk.usage is None else (chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        if not chunk.choices:
            return ChunkPiece(usage=usage)
        choice = chunk.choices[0]
        delta: ChoiceDelta | None = getattr(choice, "delta", None)
        return ChunkPiece(
            content=(delta.content or "") if delta is not None else "",
            refusal=(delta.refusal or "") if delta is not None else "",
            finish=choice.finish_reason,
            usage=usage,
        )
    except Exception as exc:  # whatever the shape: a list, a string, a choice that is null
        raise MalformedChunk(type(exc).__name__) from exc


def make_client(
    settings: Settings, *, timeout_seconds: float | None = None, max_retries: int | None = None
) -> openai.AsyncOpenAI:
    """An AsyncOpenAI client from Settings (never from the environment: config reads that)."""
    key = settings.secrets.openai_api_key
    total = settings.llm.timeout_seconds if timeout_seconds is None else timeout_seconds
    return openai.AsyncOpenAI(
        api_key=key.get_secret_value() if key is not None else PLACEHOLDER_API_KEY,
        base_url=settings.secrets.openai_base_url or DEFAULT_BASE_URL,
        timeout=openai.Timeout(total, connect=min(settings.llm.connect_timeout_seconds, total)),
        max_retries=settings.llm.max_retries if max_retries is None else max_retries,
    )


class OpenAIEmbedder:
    """Vectors from an OpenAI-compatible `/v1/embeddings`: `batch_size` texts a request, up to
    `concurrency` requests in flight, each with the client's timeout and retries (429, 5xx)."""

    def __init__(
        self, client: openai.AsyncOpenAI, *, model: str, batch_size: int = 64, concurrency: int = 4
    ) -> None:
        self.client = client
        self.model = model
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.description = f"embeddings {model} at {endpoint(client)}"

    async def close(self) -> None:
        await self.client.close()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        gate = asyncio.Semaphore(self.concurrency)

        async def one(batch: list[str]) -> list[list[float]]:
            async with gate:
                return await self._request(batch)

        batches = [list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        results = await asyncio.gather(*(one(batch) for batch in batches), return_exceptions=True)
        vectors: list[list[float]] = []
        for result in results:
            if isinstance(result, BaseException):
                raise result
            vectors.extend(result)
        return vectors

    async def _request(self, batch: list[str]) -> list[list[float]]:
        where = endpoint(self.client)
        try:
            # the API rejects empty input; the client asks for base64 and decodes it itself
            response = await self.client.embeddings.create(
                model=self.model, input=[text if text.strip() else "." for text in batch]
            )
        except openai.AuthenticationError:
            raise EmbeddingsUnavailable(f"bad API key: {where} rejected OPENAI_API_KEY (401)") from None
        except openai.NotFoundError:
            raise EmbeddingsUnavailable(
                f"unknown embedding model '{self.model}' at {where} (404): check [llm] embedding_model"
            ) from None
        except openai.RateLimitError:
            raise EmbeddingsUnavailable("rate limited (429) and still limited after retrying") from None
        except openai.APIStatusError as exc:
            raise EmbeddingsUnavailable(f"HTTP {exc.status_code} from {where} after retrying") from None
        except openai.APITimeoutError:
            raise EmbeddingsUnavailable(f"timeout: {where} did not answer in time") from None
        except openai.APIConnectionError:
            raise EmbeddingsUnavailable(f"connection error: cannot reach {where}") from None
        except openai.OpenAIError as exc:
            raise EmbeddingsUnavailable(f"the endpoint failed ({type(exc).__name__})") from None
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(batch) or any(not item.embedding for item in data):
            raise EmbeddingsUnavailable(f"{where} returned {len(data)} vectors for {len(batch)} texts")
        return [list(item.embedding) for item in data]


def build_embedder(settings: Settings) -> OpenAIEmbedder:
    embedder = OpenAIEmbedder(make_client(settings), model=settings.llm.embedding_model)
    log.info("hybrid retrieval with %s", embedder.description)
    return embedder


async def doctor_checks(settings: Settings) -> list[Check]:
    """Can the endpoint be reached, is the key accepted, is the model served?"""
    model = settings.llm.model
    timeout = min(settings.llm.timeout_seconds, DOCTOR_TIMEOUT_SECONDS)
    client = make_client(settings, timeout_seconds=timeout, max_retries=0)
    where = endpoint(client)
    key_note = (
        "" if settings.secrets.openai_api_key is not None else " (no OPENAI_API_KEY: fine for a local server)"
    )

    def fail(detail: str) -> list[Check]:
        return [Check(name="model", status="fail", detail=detail)]

    served: list[str] = []
    try:
        async with asyncio.timeout(timeout * 2):
            try:
                await client.models.retrieve(model)
                return [Check(name="model", status="ok", detail=f"{model} at {where}{key_note}")]
            except openai.NotFoundError:
                # An unknown model, or an endpoint without per-model lookup (llama.cpp):
                # the list decides.
                pass
            page = await client.models.list()
            served = [m.id for m in page.data]
    except openai.AuthenticationError:
        return fail(f"bad API key: {where} rejected OPENAI_API_KEY (401); set a valid key")
    except openai.PermissionDeniedError:
        return fail(f"access denied (403) at {where}: the API key may not list or use models")
    except openai.NotFoundError:
        return fail(f"unknown model '{model}' at {where} (404); set [llm] model or SUPPORTBOT_LLM_MODEL")
    except (TimeoutError, openai.APITimeoutError):
        return fail(f"endpoint unreachable: {where} did not answer within {timeout:g} s")
    except openai.APIConnectionError:
        return fail(f"endpoint unreachable: cannot connect to {where}; check OPENAI_BASE_URL")
    except openai.APIStatusError as exc:
        return fail(f"the endpoint {where} answered HTTP {exc.status_code} when asked for its models")
    finally:
        await client.close()
    if model in served:
        return [Check(name="model", status="ok", detail=f"{model} at {where}{key_note}")]
    listed = ", ".join(served[:8]) + (", …" if len(served) > 8 else "")
    return fail(
        f"unknown model '{model}' at {where}; it serves: {listed or 'nothing'}. "
        "Set [llm] model or SUPPORTBOT_LLM_MODEL"
    )


async def embeddings_check(settings: Settings) -> Check:
    """Does the endpoint embed with `[llm] embedding_model`? One text, sent as hybrid retrieval
    sends them (a model list would not say: local servers list chat models alone). A model it
    does not serve fails every question's embedding and the bot quietly searches by keywords."""
    timeout = min(settings.llm.timeout_seconds, DOCTOR_TIMEOUT_SECONDS)
    client = make_client(settings, timeout_seconds=timeout, max_retries=0)
    embedder = OpenAIEmbedder(client, model=settings.llm.embedding_model)
    try:
        async with asyncio.timeout(timeout * 2):
            await embedder.embed(["supportbot doctor"])
    except EmbeddingsUnavailable as exc:
        detail = f"{exc}; until it works, questions are searched by keywords alone"
        return Check(name="embeddings", status="fail", detail=detail)
    except TimeoutError:
        detail = f"endpoint unreachable: {endpoint(client)} did not answer within {timeout:g} s"
        return Check(name="embeddings", status="fail", detail=detail)
    finally:
        await embedder.close()
    return Check(name="embeddings", status="ok", detail=embedder.description)
