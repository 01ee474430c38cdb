"""The answer pipeline: from a question to an Answer, whichever answerer writes it.

Retrieve (the knowledge service), choose the answerer (the model unless this person or
channel used up its hourly share, then the offline one with a note), give the model the
whole sections of the best passages within its token budget, and fall back to quoting
the documentation when the model fails. Nothing is posted here: the core posts, records
and escalates. `is_abstention` is the one rule for "this is not an answer".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import policy
from bot.answering.model_health import ModelHealth
from bot.answering.secrets import redact_secrets
from bot.config import Settings
from bot.errors import AnswererUnavailable
from bot.messages import say
from bot.privacy.redaction import without_placeholders
from bot.retrieval.service import KnowledgeService, Sections
from bot.types import Answer, Author, ConversationRef, DocVisibility, Passage, SearchResult, Turn

if TYPE_CHECKING:
    from bot.ports import Answerer, Clock, StreamSink
    from bot.store import AsyncStore

log = logging.getLogger(__name__)

# passages a model may be given (as many as fit [llm] context_tokens): on realdocs_dev the
# chunk holding the answer is among the best 10 for 91% of questions and the best 20 for 94%
MODEL_CANDIDATES = 20
# how long a model answer reserved for a question outlasts the model's deadline: the search
# before the model is asked, and the platform's pauses within it, which the deadline waits
# out (bot/answering/llm.py `_shown`)
RESERVATION_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Chosen:
    """Who answers a question (`AnswerPipeline.answerer_for`): the model, or the offline
    answerer with a note saying why. `reservation`: the model answer reserved for it from the
    hourly shares (bot/store/answers.py `reserve_model_answer`), to release with the answer's
    record (bot/answering/trips.py `record_answer`), or by `AnswerPipeline.release` if none
    is made; None: nothing reserved (no share is kept, or the offline answerer answers)."""

    answerer: Answerer
    note: str | None = None
    reservation: int | None = None


class AnswerPipeline:
    def __init__(
        self,
        *,
        settings: Settings,
        store: AsyncStore | None,
        clock: Clock,
        knowledge: KnowledgeService,
        answerer: Answerer,
        fallback: Answerer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store  # None: no state (`supportbot ask`), so no model answers to count
        self.clock = clock
        self.knowledge = knowledge
        self.answerer = answerer
        self.fallback = fallback  # the offline answerer when `answerer` is a model; else None
        self.health = ModelHealth()  # the model's failures in a row, for /support status

    @property
    def description(self) -> str:
        return getattr(self.answerer, "description", self.answerer.name)

    async def ask(
        self,
        question: str,
        scope: DocVisibility,
        *,
        k: int = 10,
        history: Sequence[Turn] = (),
        language: str | None = None,
        on_text: StreamSink | None = None,
        answerer: Answerer | None = None,
        audiences: frozenset[str] | None = frozenset(),
    ) -> tuple[Answer, SearchResult]:
        """Retrieve and answer, without posting anything: the heart of every answer.
        `audiences`: the asker's (policy.audiences); other audiences' documents are never
        retrieved, so never cited, quoted or sent to the model. None: every audience's (the
        team's own tools: `supportbot ask` as an internal channel, `supportbot eval`)."""
        wanted = max(k, self.settings.answer.passages)
        if self.fallback is not None:  # a model is configured: it gets to look further down
            wanted = max(wanted, MODEL_CANDIDATES)
        # a pasted credential is nobody's search term, and must not reach an embeddings endpoint
        # placeholders ([card], [email]) name what redaction removed, not what was asked
        query = without_placeholders(redact_secrets(question))
        chosen = answerer or self.answerer
        # the sections every answer quotes from come back with the search, in one trip: all the
        # model may be given, or the offline answerer's few
        widen = wanted if self._is_model(chosen) else self.settings.answer.passages
        result, sections = await self.knowledge.search_widened(
            query, scope, wanted, widen=widen, audiences=audiences
        )
        language = language or policy.detect_language(question)
        answer = await self._compose(question, result, sections, history, language, on_text, chosen)
        return answer, result

    def _is_model(self, answerer: Answerer) -> bool:
        return self.fallback is not None and answerer is not self.fallback

    def is_abstention(self, answer: Answer) -> bool:
        return policy.needs_escalation(answer, self.settings.answer.confidence_threshold)

    def answerer_kind(self, answer: Answer) -> str:
        """Which answerer wrote `answer`: model, extractive, or fallback (the offline answerer
        standing in for a model that failed or hit a limit). `_compose` calls the fallback
        only in that case, so an answer from it is a fallback whatever its note says."""
        if self.fallback is not None and answer.answerer == self.fallback.name != self.answerer.name:
            return "fallback"
        return "model" if answer.answerer == "llm" else "extractive"

    async def _compose(
        self,
        question: str,
        result: SearchResult,
        sections: Sections,
        history: Sequence[Turn],
        language: str,
        on_text: StreamSink | None,
        answerer: Answerer,
    ) -> Answer:
        """`sections`: the whole sections of the best passages (search_widened), at least of
        the offline answerer's few."""
        passages = result.passages[: self.settings.answer.passages]
        if self._is_model(answerer):
            sent = await self.model_context(question, result, sections) or passages
        else:
            sent = _quotable(passages, sections)
        shown = _Partials(on_text) if on_text is not None else None
        try:
            answer = await answerer.answer(
                question, sent, history, language, result.confidence, shown, hints=result.hints
            )
        except Exception as exc:
            if self.fallback is None or answerer is self.fallback:
                raise
            # the message says what failed (timeout, bad key, ...); never the endpoint's own text
            reason = str(exc) if isinstance(exc, AnswererUnavailable) else type(exc).__name__
            if self.health.failed(reason, self.clock.now()):
                log.error(
                    "the model stopped answering (%s); answers quote the documentation until it "
                    "answers again (/support status shows the run)",
                    reason,
                    exc_info=not isinstance(exc, AnswererUnavailable),
                )
            elif isinstance(exc, AnswererUnavailable):
                log.warning(
                    "answerer %s unavailable (%s); quoting the documentation instead", answerer.name, exc
                )
            else:
                log.exception("answerer %s failed; falling back to %s", answerer.name, self.fallback.name)
            quoted = await self.fallback.answer(
                question,
                _quotable(passages, sections),
                history,
                language,
                result.confidence,
                hints=result.hints,
            )
            return replace(quoted, note=say("llm_fallback", language), judged=False)
        if self.fallback is None or answerer is self.fallback or not answer.from_model:
            # a question the model was never asked (nothing retrieved, or below [llm]
            # min_confidence) says nothing of whether it answers: a revoked key stays failing
            return answer
        if (ended := self.health.answered()) is not None:
            log.info(
                "the model answers again, after %d failed answers since %s",
                ended.failures,
                f"{ended.since:%Y-%m-%d %H:%M} UTC",
            )
        if answer.abstained or policy.may_be_in(answer.text, language):
            return answer
        # the prompt asks for the asker's language, and small local models often ignore it: an
        # answer the asker may not read gives way to the documentation's, as a failed model's does
        # (asking again would cost the time of a second answer, in the same language as likely)
        log.info(
            "the model did not answer in the question's language (%s); quoting the documentation", language
        )
        quoted = await self.fallback.answer(
            question, _quotable(passages, sections), history, language, result.confidence, hints=result.hints
        )
        # the model was asked and spent its tokens: they count towards the asker's share and usage
        return replace(
            quoted,
            note=say("llm_wrong_language", language),
            judged=False,
            tokens_in=answer.tokens_in,
            tokens_out=answer.tokens_out,
        )

    async def model_context(
        self, question: str, result: SearchResult, sections: Sections | None = None
    ) -> tuple[Passage, ...] | None:
        """What the model is given for `question`: the best passages widened to their whole
        sections (`sections` when the search brought them), within `[llm] context_tokens`;
        None when no model is configured."""
        if self.fallback is None:
            return None
        # imported here: only a model needs it (and its prompt module), `supportbot ask` offline does not
        from bot.answering.context import fit_sections

        if sections is None:
            sections = await self.knowledge.sections(result.passages)
        return fit_sections(sections, self.settings.llm.context_tokens)

    async def answerer_for(self, asker: Author, conversation: ConversationRef, language: str) -> Chosen:
        """The model, with one of the answers of this person's and this channel's hourly
        shares reserved for the question (released with its answer's record, or by
        `release`); once either share is taken, the offline answerer, with a note saying why."""
        limits = self.settings.llm
        if self.fallback is None or self.store is None:
            return Chosen(self.answerer)
        if not (limits.user_rate_per_hour or limits.channel_rate_per_hour):
            return Chosen(self.answerer)  # no share to keep: nothing to count or reserve
        from bot.store import StateStore  # the state repositories: not loaded by `supportbot ask`

        now = self.clock.now()
        reservation = await self.store.run(
            StateStore.reserve_model_answer,
            asker.id,
            conversation.channel_key,
            per_user=limits.user_rate_per_hour,
            per_channel=limits.channel_rate_per_hour,
            since=now - timedelta(hours=1),
            now=now,
            # a question still unrecorded past this, its worker is taken for dead
            until=now + timedelta(seconds=limits.timeout_seconds) + RESERVATION_MARGIN,
        )
        if reservation is None:
            log.info("model answer rate limit reached", extra={"channel": conversation.channel_key})
            return Chosen(self.fallback, say("rate_limited_model", language))
        return Chosen(self.answerer, reservation=reservation)

    async def release(self, chosen: Chosen) -> None:
        """Give back the model answer reserved for a question that recorded no answer (it failed
        before). A boundary: a reservation not given back lapses on its own, and this runs
        where another failure is already on its way out."""
        if chosen.reservation is None or self.store is None:
            return
        from bot.store import StateStore

        try:
            await self.store.run(StateStore.release_model_answer, chosen.reservation)
        except Exception:
            log.warning("a reserved model answer was not given back; it lapses", exc_info=True)

    async def usage_today(self) -> str | None:
        if self.fallback is None or self.store is None:
            return None
        from bot.store import StateStore

        now = self.clock.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        answers, tokens_in, tokens_out = await self.store.run(StateStore.usage_since, midnight)
        return (
            f"Model usage today (UTC): {answers} answers, {tokens_in:,} tokens in, {tokens_out:,} tokens out"
        )

    async def aclose(self) -> None:
        """Release what the answerers hold (HTTP connections to an endpoint)."""
        for answerer in (self.answerer, self.fallback):
            close = getattr(answerer, "close", None)
            if close is not None:
                await close()


def _quotable(passages: Sequence[Passage], sections: Sections) -> tuple[Passage, ...]:
    """What the offline answerer quotes from: `passages` widened to their whole sections, each
    section once (`sections` holds at least theirs, in the same order). A chunk is cut to fit
    the index, not the reader: the sentence that answers is often one chunk away from the one
    that matched (measured on realdocs_dev: answer_contains 0.595 -> 0.619 Pydantic, 0.786 ->
    0.810 Flask, React unchanged)."""
    wanted = {p.chunk_id for p in passages}
    return tuple(whole for first, whole in sections if first.chunk_id in wanted)


class _Partials:
    """The answer shown as the model writes it (`sink`). A platform that will not show it (a
    hiccup on the first partial post) costs the partials, not the model's answer: it is logged
    once and the rest go unshown; the final reply posts the whole answer (bot/streaming.py),
    and fails on its own if the platform still refuses. Without this, the sink's error came out
    of the answerer and read as the model's failure: its answer was dropped for the fallback's,
    with a note that the model was unavailable."""

    def __init__(self, sink: StreamSink) -> None:
        self.sink = sink
        self.failed = False

    def ready(self) -> bool:
        return not self.failed and self.sink.ready()

    async def __call__(self, text_so_far: str) -> None:
        if self.failed:
            return
        try:
            await self.sink(text_so_far)
        except Exception as exc:
            self.failed = True
            log.warning(
                "a partial answer could not be shown (%s); the whole answer follows", type(exc).__name__
            )
