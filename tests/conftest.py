"""Shared fixtures: a small knowledge folder in both languages, settings, a runtime."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.app import Runtime, build_runtime
from bot.config import Settings, load_settings
from tests.fakes.clock import FakeClock

DOCS = {
    "slack-setup.md": """\
        ---
        title: Connecting Slack
        url: https://docs.example.com/slack
        tags: [slack, setup]
        ---
        # Connecting Slack

        ## Create the Slack app

        Open the Slack app dashboard and choose "Create app from manifest". Paste the
        manifest that `supportbot slack manifest` prints, then install the app to your workspace.

        ## Tokens

        The bot needs two tokens in its environment:

        - `SLACK_BOT_TOKEN`, the bot token, which starts with xoxb-
        - `SLACK_APP_TOKEN`, the app-level token for Socket Mode, which starts with xapp-

        Start the bot with `supportbot run` once both are exported.
        """,
    "refunds.md": """\
        # Refund policy

        Customers can ask for a refund within 30 days of purchase. Refunds go back to the
        original payment method and take five to seven business days to arrive.
        Annual plans are refunded pro rata after the first 30 days.
        """,
    "password-reset.md": """\
        # Resetting your password

        To reset your password, open the login page and click "Forgot password". We email
        you a reset link that stays valid for one hour. If the email does not arrive, check
        your spam folder or ask an administrator to send a new invitation.
        """,
    "faq-ko.md": """\
        ---
        title: 자주 묻는 질문
        ---
        # 자주 묻는 질문

        ## 환불은 어떻게 받나요?

        구매 후 30일 이내에 환불을 요청할 수 있습니다. 환불 금액은 원래 결제 수단으로
        돌아가며 영업일 기준 5~7일이 걸립니다.

        ## 비밀번호를 잊어버렸어요

        로그인 페이지에서 "비밀번호 찾기"를 누르면 재설정 링크가 이메일로 발송됩니다.
        링크는 한 시간 동안 유효합니다.
        """,
    "internal/oncall.md": """\
        ---
        title: On-call runbook
        visibility: internal
        ---
        # On-call runbook

        The database failover password rotation happens every Tuesday. Page the on-call
        engineer through the escalation pager before rotating the failover credentials.
        """,
}


def write_docs(folder: Path, docs: dict[str, str] | None = None) -> Path:
    for name, text in (docs or DOCS).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "knowledge")


@pytest.fixture
def make_settings(tmp_path: Path, knowledge_dir: Path) -> Callable[..., Settings]:
    def make(toml: str = "", env: dict[str, str] | None = None) -> Settings:
        config = tmp_path / "supportbot.toml"
        config.write_text(textwrap.dedent(toml), encoding="utf-8")
        return load_settings(config=config, knowledge=knowledge_dir, data=tmp_path / "data", env=env or {})

    return make


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_runtime(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> Iterator[Callable[..., Runtime]]:
    made: list[Runtime] = []

    def make(toml: str = "", env: dict[str, str] | None = None, **kwargs: object) -> Runtime:
        runtime = build_runtime(make_settings(toml, env), clock=clock, **kwargs)  # type: ignore[arg-type]
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
        # a model's HTTP client is async and otherwise closes itself when garbage-collected,
        # by scheduling the close on whatever loop runs then: a later test's, which logs
        # "Event loop is closed". Closed here instead, where no test's loop is running.
        with contextlib.suppress(Exception):
            asyncio.run(runtime.bot.aclose())


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()
