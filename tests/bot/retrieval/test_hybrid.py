"""Hybrid retrieval: BM25 re-ranked with embeddings, vectors cached in the index's catalog.

The real openai client talks to the fake server (tests/fakes/openai_server.py), whose vectors
are a hashed bag of words: meaningless for quality, but deterministic, so the re-ranking can
be checked exactly. Quality is measured with a real model by `supportbot eval` (bench/).
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import os
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import ConsoleChannel
from bot.app import Runtime, build_runtime
from bot.config import load_settings
from bot.core import Outcome
from bot.retrieval.vectors import VECTOR_WEIGHT, embedding_text
from bot.types import Author, ConversationRef, DocVisibility, InboundMessage, Visibility
from tests.conftest import write_docs
from tests.fakes.clock import FakeClock
from tests.fakes.openai_server import FakeOpenAI, Hang, ServerError, fake_embedding

ROOT = Path(__file__).resolve().parents[3]
HYBRID = '[answer]\nmode = "extractive"\n[llm]\nembeddings = true\nmax_retries = 0\n'
_ids = itertools.count(1)


def question(text: str) -> InboundMessage:
    return InboundMessage(
        id=f"h{next(_ids)}",
        conversation=ConversationRef(platform="slack", workspace="T", channel="C1"),
        author=Author(id="U1", name="Ann"),
        text=text,
        addressed=True,
        visibility=Visibility.INTERNAL,
        sent_at=datetime(2026, 11, 30, tzinfo=UTC),
    )


def embedded_texts(fake: FakeOpenAI) -> list[str]:
    return [text for request in fake.embedding_requests for text in request.body["input"]]


def vector_rows(rt: Runtime) -> int:
    return int(rt.knowledge.catalog.conn.execute("select count(*) from embeddings").fetchone()[0])


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def hybrid(
    make_runtime: Callable[..., Runtime], fake: FakeOpenAI
) -> AsyncIterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(llm: str = "") -> Runtime:
        """`llm`: more lines for the [llm] section."""
        env = {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key}
        runtime = make_runtime(HYBRID + llm, env)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        await runtime.bot.aclose()


# -- the cache ------------------------------------------------------------------------------


async def test_passages_are_embedded_once_and_reused(hybrid, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    report = await rt.bot.knowledge.reindex()
    assert report.embeddings is not None and report.embeddings.error is None
    texts = embedded_texts(fake)
    assert len(texts) == len(set(texts)) == report.embeddings.texts == report.embeddings.with_vectors > 0
    assert vector_rows(rt) == len(texts)
    assert f"{len(texts)} of {len(texts)} passages have vectors" in report.describe()

    fake.reset()
    again = await rt.bot.knowledge.reindex()
    assert fake.embedding_requests == [] and again.embeddings is not None and again.embeddings.embedded == 0
    await rt.bot.knowledge.search("How long does a refund take?", DocVisibility.INTERNAL)
    assert embedded_texts(fake) == ["How long does a refund take?"]  # the question, nothing else


async def test_a_changed_file_re_embeds_only_its_own_chunks(
    hybrid, fake: FakeOpenAI, knowledge_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    await rt.bot.knowledge.reindex()
    before = vector_rows(rt)
    fake.reset()
    (knowledge_dir / "refunds.md").write_text(
        "# Refund policy\n\nRefunds now arrive within three business days.\n", encoding="utf-8"
    )
    report = await rt.bot.knowledge.reindex()
    assert report.updated == ["refunds.md"]
    assert embedded_texts(fake) == ["Refund policy\n\nRefunds now arrive within three business days."]
    assert vector_rows(rt) == before  # the old text's vector went with it


async def test_a_deleted_file_takes_its_vectors_with_it(
    hybrid, fake: FakeOpenAI, knowledge_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    await rt.bot.knowledge.reindex()
    db = rt.knowledge.catalog.conn
    hashes = [row[0] for row in db.execute("select text_hash from chunks where path = 'password-reset.md'")]
    assert hashes and vector_rows(rt) > len(hashes)
    before = vector_rows(rt)
    fake.reset()
    (knowledge_dir / "password-reset.md").unlink()
    report = await rt.bot.knowledge.reindex()
    assert report.removed == ["password-reset.md"] and fake.embedding_requests == []
    assert vector_rows(rt) == before - len(hashes)
    marks = ", ".join("?" * len(hashes))
    assert (
        db.execute(f"select count(*) from embeddings where text_hash in ({marks})", hashes).fetchone()[0] == 0
    )


async def test_moving_or_rebuilding_unchanged_text_embeds_nothing(
    hybrid, fake: FakeOpenAI, knowledge_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    await rt.bot.knowledge.reindex()
    fake.reset()
    (knowledge_dir / "refunds.md").rename(knowledge_dir / "billing-refunds.md")
    report = await rt.bot.knowledge.reindex()
    assert report.added == ["billing-refunds.md"] and report.removed == ["refunds.md"]
    rt.knowledge.rebuild()  # the bot is idle: nothing else touches the index now
    await rt.bot.knowledge.sync_embeddings()
    assert fake.embedding_requests == []


async def test_another_model_embeds_again_and_the_old_vectors_go(hybrid, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    small = hybrid()
    texts = (await small.bot.knowledge.reindex()).embeddings.texts  # type: ignore[union-attr]
    await small.bot.aclose()
    small.close()
    fake.reset()
    large = hybrid('embedding_model = "text-embedding-3-large"')
    report = await large.bot.knowledge.sync_embeddings()
    assert report is not None and report.embedded == texts
    assert {r.body["model"] for r in fake.embedding_requests} == {"text-embedding-3-large"}
    models = {row[0] for row in large.knowledge.catalog.conn.execute("select model from embeddings")}
    assert models == {"text-embedding-3-large"} and vector_rows(large) == texts


async def test_turning_embeddings_off_and_on_again_reuses_the_vectors(
    hybrid, make_runtime: Callable[..., Runtime], fake: FakeOpenAI
) -> None:  # type: ignore[no-untyped-def]
    first = hybrid()
    await first.bot.knowledge.reindex()
    await first.bot.aclose()
    first.close()
    offline = make_runtime()  # embeddings off: the chunk hashes are dropped, not left to go stale
    assert offline.bot.knowledge.embeddings is None
    assert offline.knowledge.catalog.conn.execute("select count(*) from chunks").fetchone()[0] == 0
    offline.close()
    fake.reset()
    again = hybrid()  # back on: one BM25 rebuild to learn the hashes; the vectors are still there
    assert sorted(again.last_sync.added) == sorted(first.last_sync.added)
    report = await again.bot.knowledge.sync_embeddings()
    assert report is not None and report.embedded == 0 and report.with_vectors == report.texts > 0
    assert fake.embedding_requests == []


async def test_requests_carry_at_most_64_texts(hybrid, fake: FakeOpenAI, knowledge_dir: Path) -> None:  # type: ignore[no-untyped-def]
    write_docs(
        knowledge_dir,
        {
            f"notes/note-{i:03}.md": f"# Note {i}\n\nRelease note number {i}: item {i} was fixed.\n"
            for i in range(70)
        },
    )
    rt = hybrid()
    report = await rt.bot.knowledge.sync_embeddings()
    assert report is not None and report.embedded == report.texts > 70
    sizes = sorted(len(r.body["input"]) for r in fake.embedding_requests)
    assert max(sizes) == 64 and sum(sizes) == report.texts


async def test_the_catalog_migration_is_recorded(hybrid) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    names = [row[0] for row in rt.knowledge.catalog.conn.execute("select name from _migrations")]
    assert names == ["0001_initial", "0002_embeddings", "0003_audiences", "0004_includes"]


# -- ranking ----------------------------------------------------------------------------------

# BM25 puts android.md first: "android" is the rarest word of the question and the page repeats
# it. Yet the question asks how to reset a password, and password-reset.md shares most of its
# words ("how do I reset my password ... app"), which is what bag-of-words vectors see.
RANKING_DOCS = {
    "android.md": """\
        # Android app

        The Android app needs Android 10 or later. Install it from Google Play; the Android app signs
        you in with the same account as the web app.
        """,
    "password-reset.md": """\
        # Resetting your password

        How do I reset my password? Open the login page and click "Forgot password". We email you a
        reset link that stays valid for one hour. On the phone app, tap "Forgot password" on the sign-in screen.
        """,
    "security.md": """\
        # Security

        Passwords are stored hashed. An administrator can force a password reset for every account.
        """,
    "sso.md": """\
        # Single sign-on

        With single sign-on there is no password to reset: your identity provider manages it.
        """,
}
RANKING_QUESTION = "How do I reset my password on the Android app?"


@pytest.fixture
def ranking(tmp_path: Path, fake: FakeOpenAI) -> Iterator[Callable[[bool], Runtime]]:
    folder = write_docs(tmp_path / "ranking", RANKING_DOCS)
    made: list[Runtime] = []

    def make(embeddings: bool) -> Runtime:
        config = tmp_path / f"ranking-{embeddings}.toml"
        config.write_text(HYBRID if embeddings else '[answer]\nmode = "extractive"\n', encoding="utf-8")
        settings = load_settings(
            config=config,
            knowledge=folder,
            data=tmp_path / f"data-{embeddings}",
            env={"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key},
        )
        runtime = build_runtime(settings, clock=FakeClock())
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


async def test_embeddings_fix_a_ranking_bm25_gets_wrong(ranking, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    plain = ranking(False)
    bm25 = await plain.bot.knowledge.search(RANKING_QUESTION, DocVisibility.INTERNAL, k=5)
    assert bm25.passages[0].path == "android.md"

    rt = ranking(True)
    try:
        result = await rt.bot.knowledge.search(RANKING_QUESTION, DocVisibility.INTERNAL, k=5)
        assert [p.path for p in result.passages][:2] == ["password-reset.md", "android.md"]
        assert result.confidence == bm25.confidence  # the answer/abstain decision stays BM25's

        # exactly the documented fusion of BM25 and the fake's cosine
        query = fake_embedding(RANKING_QUESTION)
        top = bm25.passages[0].score

        def fused(p) -> float:  # type: ignore[no-untyped-def]
            vector = fake_embedding(embedding_text(p.title, p.heading, p.text))
            cosine = sum(a * b for a, b in zip(query, vector, strict=True))
            return (1 - VECTOR_WEIGHT) * p.score / top + VECTOR_WEIGHT * cosine

        expected = sorted(bm25.passages, key=fused, reverse=True)
        assert [p.chunk_id for p in result.passages] == [p.chunk_id for p in expected]
        assert [p.score for p in result.passages] == pytest.approx([fused(p) for p in expected], abs=1e-5)

        answer, _ = await rt.bot.answers.ask(RANKING_QUESTION, DocVisibility.INTERNAL)
        assert not answer.abstained and answer.citations[0].path == "password-reset.md"
    finally:
        await rt.bot.aclose()


async def test_public_scope_never_returns_internal_chunks(hybrid) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    await rt.bot.knowledge.reindex()
    text = "When does the database failover password rotation happen?"
    internal = await rt.bot.knowledge.search(text, DocVisibility.INTERNAL)
    assert internal.passages[0].path == "internal/oncall.md"
    public = await rt.bot.knowledge.search(text, DocVisibility.PUBLIC)
    assert public.passages and all(p.visibility == DocVisibility.PUBLIC for p in public.passages)
    assert "internal/oncall.md" not in {p.path for p in public.passages}


# -- failures -------------------------------------------------------------------------------


async def test_a_failing_endpoint_falls_back_to_bm25_and_still_answers(
    hybrid, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    fake.enqueue_embeddings(ServerError(500))  # the first pass over the cache fails
    channel = ConsoleChannel(io.StringIO())
    with caplog.at_level(logging.WARNING):
        outcome = await rt.bot.on_message(question("How long does a refund take?"), channel)
    assert outcome == Outcome.ANSWERED
    assert "five to seven business days" in channel.posted[-1][1].text
    assert len(fake.embedding_requests) == 1  # then paused: the question was not sent
    assert "embeddings endpoint failed" in caplog.text and "HTTP 500" in caplog.text
    status = rt.knowledge.catalog.embedding_counts("text-embedding-3-small")
    assert status[1] == 0  # nothing cached; the next reindex tries again
    report = await rt.bot.knowledge.reindex()
    assert report.embeddings is not None and report.embeddings.error is None
    assert report.embeddings.with_vectors == report.embeddings.texts


async def test_a_hanging_endpoint_costs_one_deadline_then_is_skipped(hybrid, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid("timeout_seconds = 0.5")
    await rt.bot.knowledge.reindex()
    fake.reset()
    fake.enqueue_embeddings(Hang(30))
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer, result = await rt.bot.answers.ask("How long does a refund take?", DocVisibility.INTERNAL)
    assert loop.time() - started < 3
    assert not answer.abstained and result.passages[0].path == "refunds.md"
    answer, _ = await rt.bot.answers.ask("How do I reset my password?", DocVisibility.INTERNAL)
    assert not answer.abstained and answer.citations[0].path == "password-reset.md"
    assert len(fake.embedding_requests) == 1  # the hung one; the second question did not wait


async def test_a_vector_of_another_size_is_ignored(hybrid, fake: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    rt = hybrid()
    await rt.bot.knowledge.reindex()
    fake.embedding_dim = 64  # the endpoint now answers with shorter vectors than the cache holds
    baseline = rt.knowledge.search("How long does a refund take?", DocVisibility.INTERNAL)
    result = await rt.bot.knowledge.search("How long does a refund take?", DocVisibility.INTERNAL)
    assert [p.chunk_id for p in result.passages] == [p.chunk_id for p in baseline.passages]


# -- the offline default --------------------------------------------------------------------

PROBE = """
import asyncio, sys
from pathlib import Path
from bot.app import build_runtime
from bot.config import load_settings
from bot.types import DocVisibility

settings = load_settings(config=Path(sys.argv[1]), knowledge=Path(sys.argv[2]), data=Path(sys.argv[3]))
runtime = build_runtime(settings)

async def main():
    answer, _ = await runtime.bot.answers.ask("How long does a refund take?", DocVisibility.INTERNAL)
    await runtime.bot.knowledge.reindex()
    await runtime.bot.aclose()
    return answer

answer = asyncio.run(main())
runtime.close()
print(f"embeddings={runtime.bot.knowledge.embeddings is not None} openai={'openai' in sys.modules} answered={not answer.abstained}")
"""


@pytest.mark.parametrize(
    ("toml", "with_endpoint"),
    [("", False), ('[answer]\nmode = "extractive"\n', True), ("[llm]\nembeddings = true\n", False)],
    ids=["default", "endpoint-but-embeddings-off", "embeddings-but-no-endpoint"],
)
async def test_the_offline_default_neither_imports_openai_nor_calls_out(
    tmp_path: Path, knowledge_dir: Path, fake: FakeOpenAI, toml: str, with_endpoint: bool
) -> None:
    config = tmp_path / "probe.toml"
    config.write_text(textwrap.dedent(toml), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPPORTBOT_"))}
    if with_endpoint:
        env |= {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        str(config),
        str(knowledge_dir),
        str(tmp_path / "data"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().split() == ["embeddings=False", "openai=False", "answered=True"]
    assert fake.requests == []


async def test_eval_reports_hybrid_retrieval(tmp_path: Path, knowledge_dir: Path, fake: FakeOpenAI) -> None:
    evalset = tmp_path / "set"
    write_docs(evalset / "knowledge")
    rows = [
        {"id": "1", "question": "How long does a refund take?", "gold": ["refunds.md"], "answers": []},
        {"id": "2", "question": "How do I reset my password?", "gold": ["password-reset.md"], "answers": []},
    ]
    (evalset / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    config = tmp_path / "eval.toml"
    config.write_text(HYBRID, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SUPPORTBOT_"))}
    env |= {"OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": fake.api_key}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "eval",
        str(evalset),
        "--json",
        "--config",
        str(config),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["retrieval"] == "hybrid (text-embedding-3-small)" and report["recall@1"] == 1.0
    assert report["embedded"] > 0 and report["embed_seconds"] >= 0 and "index_seconds" in report
    assert report["passages_with_vectors"] == f"{report['embedded']}/{report['embedded']}"
    assert len(fake.embedding_requests) >= 3  # the passages, then each question
