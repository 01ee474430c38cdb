"""An organisation-wide (Enterprise Grid) install serves its own organisation's workspaces only.

A workspace is served by an organisation's install only when its organisation is known from
Slack (its signed events, the sign-in's userInfo claim): a workspace with no install of its
own (never installed, or a standalone one just uninstalled) is never handed some other
organisation's token, in chat (test_slack_oauth's real adapter and fake Slack) or at
dashboard sign-in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.slack import SlackAdapter
from adapters.slack.installations import StoreInstallations
from adapters.slack.signin import _directory
from adapters.slack.workspaces import NotInstalled
from bot.config import Settings
from bot.dashboard.identity import Problem, SignInError
from bot.store import AsyncStore, StateStore
from bot.store.slack_installs import SlackInstallRecord
from tests.adapters.test_slack_oauth import fake, oauth_slack
from tests.adapters.test_slack_workspaces import (
    install_and_answer,
    reminder,
    state_of,
    tokens_used,
    uninstall,
)
from tests.fakes.slack_server import DEFAULT_BOT_SCOPES, FakeSlack

__all__ = ["fake", "oauth_slack"]  # the fixtures, imported from test_slack_oauth

OTHER_ORG_TOKEN = "xoxb-E999-" + "otherorg"  # assembled: no token-shaped literal in the repo


def other_org_install() -> SlackInstallRecord:
    """An unrelated organisation, E999, installed the app org-wide (slack_sdk's JSON)."""
    data: dict[str, Any] = {
        "app_id": "A0APP",
        "enterprise_id": "E999",
        "enterprise_name": "Other Org",
        "team_id": None,
        "bot_token": OTHER_ORG_TOKEN,
        "bot_id": "B0E999",
        "bot_user_id": "U0E999",
        "bot_scopes": list(DEFAULT_BOT_SCOPES),
        "user_id": "W999",
        "is_enterprise_install": True,
        "installed_at": datetime.now(UTC).timestamp(),
    }
    return SlackInstallRecord(
        team_id="",
        enterprise_id="E999",
        team_name="",
        bot_user_id="U0E999",
        installed_at=datetime.now(UTC),
        data=data,
    )


async def test_an_uninstalled_workspace_is_not_served_with_another_organisations_install(
    fake: FakeSlack, oauth_slack: tuple[SlackAdapter, str]
) -> None:
    adapter, base = oauth_slack
    fake.add_token(OTHER_ORG_TOKEN, "bot", DEFAULT_BOT_SCOPES, user_id="U0E999", team_id="T9OTHER")
    state_of(adapter).save_slack_installation(other_org_install())  # the only org-wide install
    await install_and_answer(fake, adapter, base)  # T222: a workspace of no organisation
    await uninstall(fake, base, adapter)
    mark = len(fake.calls("chat.postMessage"))
    with pytest.raises(NotInstalled):
        await adapter.channel.send(reminder())
    assert tokens_used(fake, mark) == []  # E999's token was not used in T222


async def test_a_never_installed_workspace_gets_no_organisations_install(tmp_path: Path) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    try:
        store.store.save_slack_installation(other_org_install())
        installs = StoreInstallations(store)
        assert await installs.async_find_bot(enterprise_id=None, team_id="T-NEVER") is None
        assert await installs.async_find_bot(enterprise_id="E111", team_id="T-NEVER") is None
        # named by Slack as a workspace of E999: its organisation's install serves it
        bot = await installs.async_find_bot(enterprise_id="E999", team_id="T-NEVER")
        assert bot is not None and bot.bot_token == OTHER_ORG_TOKEN
    finally:
        store.close()


@pytest.fixture
def oauth_settings(make_settings: Any) -> Settings:
    env = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "x", "SLACK_SIGNING_SECRET": "y"}
    settings: Settings = make_settings(env=env)
    assert settings.slack_oauth and settings.secrets.slack_bot_token is None
    return settings


async def test_signing_in_from_a_workspace_without_an_install_is_refused(
    oauth_settings: Settings, tmp_path: Path
) -> None:
    store = AsyncStore(StateStore(tmp_path / "state.db"))
    try:
        store.store.save_slack_installation(other_org_install())
        with pytest.raises(SignInError) as refused:
            await _directory(oauth_settings, store, "T-STRANGER", None)
        assert refused.value.problem == Problem.OTHER_WORKSPACE
        with pytest.raises(SignInError):  # another organisation's workspace, named as such
            await _directory(oauth_settings, store, "T-STRANGER", "E111")
        # a workspace of E999, as userInfo names it: let in through E999's install
        directory = await _directory(oauth_settings, store, "T-MEMBER", "E999")
        assert directory is not None and directory.identity.enterprise_id == "E999"
    finally:
        store.close()
