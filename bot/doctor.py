"""`supportbot doctor`: checks that say what is wrong and what to do about it.

Local checks (knowledge folder, data directory, state database and the live workers
sharing it, the `[run] cpu` setting) run always; each
configured platform and the model endpoint contribute their own checks (token valid,
scopes granted, model reachable, embedding model served), imported only when configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.app import open_knowledge
from bot.checks import Check, Status
from bot.config import Settings, bundled_knowledge
from bot.errors import SupportBotError
from bot.store import StateStore
from bot.store.workers import WorkerRecord
from bot.supervisor import enabled_adapters

CheckRun = Callable[[Settings], Awaitable[list[Check]]]


async def _local(settings: Settings) -> list[Check]:
    checks = [
        Check(
            name="config",
            status="ok",
            detail=str(settings.config_path)
            if settings.config_path
            else "no supportbot.toml; using defaults",
        )
    ]
    try:
        knowledge = open_knowledge(settings)
        try:
            report = knowledge.sync()
            summary = knowledge.summary()
        finally:
            knowledge.close()
        status: Status = "ok" if summary.chunks else "warn"
        detail = f"{summary.files} files, {summary.chunks} passages in {summary.folder}"
        if report.failed:
            status = "warn"
            detail += f"; unreadable: {', '.join(f'{p} ({r})' for p, r in report.failed[:5])}"
        if (guide := _guide_instead_of_yours(settings)) is not None:
            status = "warn"
            detail += f"; {guide}"
        checks.append(Check(name="knowledge", status=status, detail=detail))
    except SupportBotError as exc:
        checks.append(Check(name="knowledge", status="fail", detail=str(exc)))
    try:
        state = StateStore.open(settings)
        try:
            workers = state.live_worker_records(datetime.now(UTC))
        finally:
            state.close()
        checks.append(Check(name="state", status="ok", detail=str(state.path)))
        checks.append(Check(name="workers", status="ok", detail=_workers_detail(workers)))
    except SupportBotError as exc:
        checks.append(Check(name="state", status="fail", detail=str(exc)))
    return checks


def _guide_instead_of_yours(settings: Settings) -> str | None:
    """Why the folder is suspect when a config file is in use but the bot would answer from
    supportbot's own user guide: the fallback taken when no knowledge/ sits beside the file,
    which would answer your users about supportbot instead of your product."""
    config = settings.config_path
    if config is None or settings.knowledge_dir != bundled_knowledge():
        return None
    named = (config.parent / (settings.knowledge.path or "knowledge")).resolve()
    if named == settings.knowledge_dir:
        return None  # the file itself names the guide (a config in supportbot's own checkout)
    return (
        f"this is supportbot's own user guide, not your documentation: there is no knowledge/ "
        f"folder beside {config}; set [knowledge] path there, or pass --knowledge"
    )


def _cpu_check(settings: Settings) -> Check:
    """`[run] cpu` judged as `supportbot run` judges it before it starts (bot/cpu_affinity.py)."""
    from bot.cpu_affinity import CpuKeeper

    try:
        CpuKeeper(settings.run.cpu).check()
    except ValueError as exc:
        return Check(name="cpu", status="fail", detail=f"{exc}; `supportbot run` refuses to start")
    return Check(name="cpu", status="ok", detail=f"[run] cpu = {settings.run.cpu}")


def _answers_check(settings: Settings) -> Check:
    """What answers questions when no model endpoint is checked: quotes from the docs, unless
    `[answer] mode = "llm"` asks for a model that is not there (then `run` refuses too)."""
    if (problem := settings.model_missing) is not None:
        return Check(name="answers", status="fail", detail=problem)
    return Check(name="answers", status="ok", detail="extractive (offline; no model configured)")


def _workers_detail(workers: list[WorkerRecord]) -> str:
    """The live workers (bot/cluster.py), each with its host, pid, platforms and last beat."""
    if not workers:
        return "none live (no `supportbot run` is beating)"
    now = datetime.now(UTC)
    each = [
        f"{w.host} pid {w.pid} ({','.join(w.platforms) or 'no platform'}, v{w.version}, "
        f"beat {max(0, int((now - w.heartbeat_at).total_seconds()))} s ago)"
        for w in workers
    ]
    return f"{len(workers)} live: " + "; ".join(each)


async def run_checks(settings: Settings) -> list[Check]:
    checks = await _local(settings)
    platforms = enabled_adapters(settings)
    if not platforms:
        checks.append(
            Check(
                name="platforms",
                status="warn",
                detail="no Slack or Discord tokens in the environment; only `supportbot chat` will work",
            )
        )
    for name in platforms:
        module = importlib.import_module(f"adapters.{name}")
        run: CheckRun = module.doctor_checks
        checks.extend(await run(settings))
    checks.append(_cpu_check(settings))
    if settings.llm_configured:
        from bot.answering.openai_client import doctor_checks

        checks.extend(await doctor_checks(settings))
    else:
        checks.append(_answers_check(settings))
    if settings.embeddings_enabled:  # with quoted answers too: retrieval uses them either way
        from bot.answering.openai_client import embeddings_check

        checks.append(await embeddings_check(settings))
    return checks
