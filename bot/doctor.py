"""`supportbot doctor`: checks that say what is wrong and what to do about it.

Local checks (knowledge folder, data directory, state database and the live workers
sharing it) run always; each
configured platform and the model endpoint contribute their own checks (token valid,
scopes granted, model reachable), imported only when configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.app import open_knowledge
from bot.checks import Check, Status
from bot.config import Settings
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
    if settings.llm_configured:
        from bot.answering.openai_client import doctor_checks

        checks.extend(await doctor_checks(settings))
    else:
        checks.append(Check(name="answers", status="ok", detail="extractive (offline; no model configured)"))
    return checks
