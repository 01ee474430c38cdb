"""The model answerer: grounded, cited, streamed answers from any OpenAI-compatible endpoint.

What this module owns: the answers. With the client from bot/answering/openai_client.py it
sends the prompt from `bot.answering.prompt`, streams the text to the core's sink, maps the
model's citations back to sources (`bot.answering.citations`), filters the output (`bot.answering.safety`), and turns every way the endpoint can fail into one
`AnswererUnavailable` with a short message saying which way it failed, so the core can fall
back to the offline answerer and say so. The client itself, the embedder and the doctor's
checks of the endpoint are bot/answering/openai_client.py.

What counts as an answer: text that validly cites at least one of the passages it was given.
A refusal (the `NO_ANSWER` marker, the API's `refusal` field, refusal phrasing), an answer
citing nothing that exists, or filtered content is returned with `abstained=True`, confidence
0: the core escalates it rather than posting a guess.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import openai
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)

from bot.answering.citations import is_refusal, map_citations, may_become_marker
from bot.answering.openai_client import MalformedChunk, endpoint, make_client, read_chunk
from bot.answering.prompt import (
    SUMMARY_CHARS,
    PromptMessage,
    build_messages,
    estimate_tokens,
    summary_messages,
)
from bot.answering.safety import clean_output, passage_links
from bot.answering.secrets import redact_secrets
from bot.config import Settings
from bot.errors import AnswererUnavailable
from bot.messages import say
from bot.ports import StreamSink
from bot.types import Answer, Passage, RetrievalHints, Turn

log = logging.getLogger(__name__)


def _to_api(messages: Sequence[PromptMessage]) -> list[ChatCompletionMessageParam]:
    converted: list[ChatCompletionMessageParam] = []
    for message in messages:
        if message["role"] == "system":
            converted.append(ChatCompletionSystemMessageParam(role="system", content=message["content"]))
        else:
            converted.append(ChatCompletionUserMessageParam(role="user", content=message["content"]))
    return converted


def _visible_so_far(raw: str, passages: Sequence[Passage], links: frozenset[str]) -> str:
    """What may be shown of a reply still being written.

    The last word is held back until it is complete: a half-streamed "xoxb-12" or "@every"
    does not yet match the filters that will catch it whole. Text that may still become the
    NO_ANSWER marker, or already reads as a refusal, is not shown at all.
    """
    if may_become_marker(raw) or is_refusal(raw):
        return ""
    cut = max(raw.rfind(" "), raw.rfind("\n"), raw.rfind("\t"))
    if cut <= 0:
        return ""
    return clean_output(map_citations(raw[:cut], passages).text, partial=True, links=links)


async def _shown(
    on_text: StreamSink,
    raw: str,
    shown: str,
    passages: Sequence[Passage],
    links: frozenset[str],
    deadline: asyncio.Timeout,
) -> str:
    """Hand the sink what may be shown of `raw`, if it is not `shown` already; what is shown
    now. The model's deadline waits meanwhile: neither the bot's work on the text (over the
    whole of it) nor the platform's time (a first post waiting out a rate limit) is the
    model's, and an answer that arrives in time is not thrown away for them."""
    loop = asyncio.get_running_loop()
    when = deadline.when()
    left = None if when is None else when - loop.time()
    deadline.reschedule(None)
    visible = _visible_so_far(raw, passages, links)
    if visible and visible != shown:
        await on_text(visible)
        shown = visible
    if left is not None:
        deadline.reschedule(loop.time() + left)
    return shown


class LLMAnswerer:
    """Answers with a chat model over the OpenAI API (or anything that speaks it)."""

    name = "llm"

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        temperature: float = 0.1,
        history_tokens: int = 1500,
        deadline_seconds: float = 60.0,
        min_confidence: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        """`deadline_seconds` bounds a whole answer, the client's retries included: the
        client's own timeout applies per attempt and per read, so without an overall deadline
        two retries of a slow endpoint could take three times as long. Time spent awaiting
        `on_text` (the platform's, posting the first text) does not count: a rate-limited
        platform is not a slow model, and its answer is not thrown away for it.

        `min_confidence`: below it the core escalates whatever the model says, so the model
        is not asked (no tokens spent on an answer nobody will see)."""
        self.client = client
        self.model = model
        self.temperature = temperature
        self.history_tokens = history_tokens
        self.deadline_seconds = deadline_seconds
        self.min_confidence = min_confidence
        self.max_tokens = max_tokens
        self.description = f"model {model} at {endpoint(client)}"

    async def close(self) -> None:
        await self.client.close()

    async def summarize(self, turns: Sequence[Turn], language: str) -> str:
        """A ticket's summary for staff (bot/escalation/brief.py), in one short paragraph.
        Raises AnswererUnavailable for any failure of the call or of its reply; the brief
        then goes without."""
        turns = [replace(t, text=redact_secrets(t.text)) for t in turns]
        # Exception, not the client's error types: the client lets a body that is not JSON
        # through as json.JSONDecodeError, and hands a 200 text/html body (a proxy's login
        # page) back as a str, whose reading fails with AttributeError. The summary is an
        # extra, so every way it fails means "no summary", never a failed escalation.
        try:
            async with asyncio.timeout(self.deadline_seconds):
                response = await self.client.chat.completions.create(
                    model=self.model,
                    messages=_to_api(summary_messages(turns, language)),
                    temperature=0.0,
                    max_tokens=200,
                )
            text = _summary_text(response.choices[0].message.content) if response.choices else ""
        except Exception as exc:
            raise self._unavailable(f"the summary failed: {type(exc).__name__}", "summary") from None
        # model text posted for staff: no pings, no credentials, as an answer's
        return clean_output(" ".join(text.split())[:SUMMARY_CHARS])

    def _abstain(self, language: str, reason: str, tokens_in: int = 0, tokens_out: int = 0) -> Answer:
        log.info("llm abstained: %s", reason, extra={"event": "llm.abstain", "reason": reason})
        return Answer(
            text=say("abstain", language),
            citations=(),
            confidence=0.0,
            language=language,
            answerer=self.name,
            abstained=True,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

    async def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn],
        language: str,
        confidence: float,
        on_text: StreamSink | None = None,
        *,
        hints: RetrievalHints | None = None,
    ) -> Answer:
        if not passages:
            return self._abstain(language, "no passages")
        if confidence < self.min_confidence:
            return self._abstain(language, "retrieval confidence below the model's floor")

        # The endpoint is a third party (and may log prompts): a token pasted into the question
        # or the thread, or left in a runbook, is not sent. Citations are mapped against the
        # original passages below; redaction keeps their order, so the numbers still match.
        prompt = build_messages(
            redact_secrets(question),
            [
                replace(
                    p,
                    title=redact_secrets(p.title),
                    heading=redact_secrets(p.heading),
                    text=redact_secrets(p.text),
                )
                for p in passages
            ],
            [replace(turn, text=redact_secrets(turn.text)) for turn in history],
            language,
            self.history_tokens,
        )
        started = time.monotonic()
        raw, refusal, finish, usage_in, usage_out = await self._stream(prompt, passages, on_text)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        # Local servers often ignore include_usage (or report zeros); an estimate beats recording
        # zero usage, and an answer the model was asked for always has tokens in (Answer.tokens_in)
        tokens_in = usage_in or sum(estimate_tokens(m["content"]) for m in prompt)
        tokens_out = usage_out if usage_out is not None else estimate_tokens(raw + refusal)
        log.debug("llm reply (%d chars): %s", len(raw), raw)

        if refusal.strip() and not raw.strip():
            return self._abstain(language, "the model refused", tokens_in, tokens_out)
        if finish == "content_filter":
            return self._abstain(language, "the endpoint filtered the reply", tokens_in, tokens_out)
        if not raw.strip() or is_refusal(raw):
            return self._abstain(language, "the passages do not contain the answer", tokens_in, tokens_out)
        cited = map_citations(raw, passages)
        if cited.dropped:
            log.warning(
                "the model cited passages it was not given: %s (of %d)",
                cited.dropped,
                len(passages),
                extra={"event": "llm.bad_citation"},
            )
        if not cited.citations:
            return self._abstain(language, "no valid citation", tokens_in, tokens_out)
        text = clean_output(cited.text, links=passage_links(passages))
        if finish == "length":
            # The endpoint stopped at its token limit; the answer is cited but unfinished.
            text += " …"
        log.info(
            "llm answered model=%s passages=%d cited=%s tokens_in=%d tokens_out=%d ms=%d",
            self.model,
            len(passages),
            list(cited.cited),
            tokens_in,
            tokens_out,
            elapsed_ms,
            extra={"event": "llm.answer"},
        )
        return Answer(
            text=text,
            citations=cited.citations,
            confidence=confidence,
            language=language,
            answerer=self.name,
            judged=True,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
        )

    async def _stream(
        self,
        prompt: Sequence[PromptMessage],
        passages: Sequence[Passage],
        on_text: StreamSink | None,
    ) -> tuple[str, str, str | None, int | None, int | None]:
        """Run one streamed completion: (content, refusal, finish_reason, tokens in, tokens out).

        Raises AnswererUnavailable for every failure of the endpoint or the stream.
        """
        content: list[str] = []
        refusal: list[str] = []
        finish: str | None = None
        tokens_in: int | None = None
        tokens_out: int | None = None
        shown = ""
        received = False
        links = passage_links(passages)  # once: every partial is held to them
        try:
            async with asyncio.timeout(self.deadline_seconds) as deadline:
                stream = await self.client.chat.completions.create(
                    model=self.model,
                    messages=_to_api(prompt),
                    temperature=self.temperature,
                    stream=True,
                    stream_options={"include_usage": True},
                    max_tokens=self.max_tokens if self.max_tokens is not None else openai.omit,
                )
                async with stream:
                    async for chunk in stream:
                        received = True
                        piece = read_chunk(chunk)
                        if piece.usage is not None:
                            tokens_in, tokens_out = piece.usage
                        if piece.finish is not None:
                            finish = piece.finish
                        refusal.append(piece.refusal)
                        if not piece.content:
                            continue
                        content.append(piece.content)
                        if on_text is not None and on_text.ready():
                            shown = await _shown(on_text, "".join(content), shown, passages, links, deadline)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise self._unavailable(
                f"timeout: no complete answer within {self.deadline_seconds:g} s", "deadline"
            ) from None
        except openai.AuthenticationError as exc:
            # from None: the endpoint's error text may echo part of the key.
            raise self._unavailable(
                "bad API key: the endpoint rejected OPENAI_API_KEY as invalid (401)",
                "auth",
                exc.request_id,
            ) from None
        except openai.PermissionDeniedError as exc:
            raise self._unavailable(
                f"access denied: the API key may not use model '{self.model}' (403)",
                "permission",
                exc.request_id,
            ) from None
        except openai.NotFoundError as exc:
            raise self._unavailable(
                f"unknown model '{self.model}' at {endpoint(self.client)} (404): "
                "check [llm] model or SUPPORTBOT_LLM_MODEL",
                "model",
                exc.request_id,
            ) from exc
        except openai.RateLimitError as exc:
            if exc.code == "insufficient_quota":
                raise self._unavailable(
                    "rate limited: the API account is out of quota (429)", "quota"
                ) from exc
            raise self._unavailable(
                "rate limited (429) and still limited after retrying", "rate", exc.request_id
            ) from exc
        except openai.InternalServerError as exc:
            raise self._unavailable(
                f"server error from the model endpoint (HTTP {exc.status_code}) after retrying",
                "server",
                exc.request_id,
            ) from exc
        except openai.APIStatusError as exc:
            raise self._unavailable(
                f"the model endpoint refused the request "
                f"(HTTP {exc.status_code}, {exc.code or exc.type or 'no code'})",
                "status",
                exc.request_id,
            ) from exc
        except openai.APITimeoutError as exc:
            raise self._unavailable("timeout: the model endpoint did not respond in time", "timeout") from exc
        except openai.APIConnectionError as exc:
            what = (
                "the connection dropped mid-answer" if received else f"cannot reach {endpoint(self.client)}"
            )
            raise self._unavailable(f"connection error: {what}", "connection") from exc
        except (json.JSONDecodeError, MalformedChunk) as exc:
            # The client json.loads each event itself and does not wrap the failure.
            raise self._unavailable("malformed data in the model's stream", "malformed") from exc
        except openai.OpenAIError as exc:
            raise self._unavailable(f"the model endpoint failed ({type(exc).__name__})", "other") from exc
        if finish is None:
            # Ended without a finish_reason (and without [DONE]): a proxy or server gave up.
            raise self._unavailable("the model's stream was cut off before the answer finished", "cutoff")
        return "".join(content), "".join(refusal), finish, tokens_in, tokens_out

    def _unavailable(self, message: str, reason: str, request_id: str | None = None) -> AnswererUnavailable:
        log.warning(
            "model %s unavailable: %s (request id %s)",
            self.model,
            message,
            request_id or "-",
            extra={"event": "llm.unavailable", "reason": reason},
        )
        return AnswererUnavailable(message)


def build_llm_answerer(settings: Settings) -> LLMAnswerer:
    answerer = LLMAnswerer(
        make_client(settings),
        model=settings.llm.model,
        temperature=settings.llm.temperature,
        history_tokens=settings.llm.history_tokens,
        deadline_seconds=settings.llm.timeout_seconds,
        min_confidence=settings.llm.min_confidence,
        max_tokens=settings.llm.max_tokens or None,
    )
    log.info(
        "answering with %s (key %s)",
        answerer.description,
        "set" if settings.secrets.openai_api_key is not None else "not set: placeholder for a local server",
    )
    return answerer


def _summary_text(content: object) -> str:
    """A summary reply's content as text. The client does not check it: some servers send a
    list of parts (their text parts are the text), a broken one anything at all (TypeError,
    so no summary)."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    raise TypeError(f"the reply's content is a {type(content).__name__}")
