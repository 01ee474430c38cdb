"""The Slack app manifest, the setup page that must match it, and `supportbot doctor`'s
Slack checks (against the fake Slack)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from adapters.slack import doctor_checks
from adapters.slack.manifest import (
    APP_TOKEN_SCOPE,
    BOT_EVENTS,
    BOT_SCOPE_REASONS,
    BOT_SCOPES,
    build_manifest,
    manifest_json,
    manifest_yaml,
)
from bot.cli import app
from bot.commands import REGISTRY
from bot.config import Settings
from bot.doctor import run_checks
from bot.store import StateStore
from bot.store.slack_installs import SlackInstallRecord
from tests.fakes.slack_server import DEFAULT_BOT_SCOPES, FakeSlack

SETUP_PAGE = Path(__file__).resolve().parents[2] / "knowledge" / "slack-setup.md"


def test_the_manifest_asks_for_what_the_bot_uses(make_settings: Callable[..., Settings]) -> None:
    manifest = yaml.safe_load(manifest_yaml(make_settings()))
    assert manifest["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert manifest["features"]["bot_user"] == {"display_name": "supportbot", "always_online": True}
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # or no DMs
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/support"
    assert command["description"]
    assert command["should_escape"] is True  # "@ann" arrives as <@U123|ann>, an id the core can use
    for spec in REGISTRY:
        assert spec.usage("").strip() in command["usage_hint"], spec.name
    assert len(command["usage_hint"]) <= 1000
    assert json.loads(manifest_json(make_settings())) == manifest


def test_the_manifest_follows_the_configured_command_and_http_mode(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings('[slack]\nslash_command = "/helpdesk"\n')
    url = "https://bot.example.com/slack/events"
    manifest = build_manifest(settings, request_url=url)
    assert manifest["features"]["slash_commands"][0]["command"] == "/helpdesk"
    assert manifest["features"]["slash_commands"][0]["url"] == url
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert manifest["settings"]["event_subscriptions"]["request_url"] == url
    assert manifest["settings"]["interactivity"]["request_url"] == url


def test_the_manifest_subscribes_to_the_events_that_delete_an_uninstalled_workspaces_token(
    make_settings: Callable[..., Settings],
) -> None:
    """Slack sends app_uninstalled and tokens_revoked only to an app subscribed to them (they
    need no scope): without them Bolt's revocation listeners (adapters/slack/transport.py)
    never ran, and a workspace that removed the app kept its token in the database."""
    env = {"SLACK_CLIENT_ID": "111.222", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "x"}
    settings = make_settings("", env)
    assert settings.slack_oauth
    manifest = build_manifest(settings, request_url="https://bot.example.com/slack/events")
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(events)


def test_the_manifest_subscribes_to_a_channel_being_shared_with_another_organisation(
    make_settings: Callable[..., Settings],
) -> None:
    """Without channel_shared a channel that became a Slack Connect channel stayed cached as
    internal for ten minutes, quoting internal documents to the other organisation; Slack
    sends it and channel_unshared to bot subscriptions with channels:read or groups:read."""
    manifest = build_manifest(make_settings())
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert {"channel_shared", "channel_unshared"} <= set(events)
    assert {"channels:read", "groups:read"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_the_setup_page_names_every_scope_and_event_of_the_manifest(
    make_settings: Callable[..., Settings],
) -> None:
    page = SETUP_PAGE.read_text(encoding="utf-8")
    assert page.startswith("---\ntitle: ")
    manifest = build_manifest(make_settings())
    named = set(re.findall(r"`([a-z_.:]+)`", page))
    for scope in manifest["oauth_config"]["scopes"]["bot"]:
        assert scope in named, f"knowledge/slack-setup.md does not name the scope {scope}"
    for event in manifest["settings"]["event_subscriptions"]["bot_events"]:
        assert event in named, f"knowledge/slack-setup.md does not name the event {event}"
    assert APP_TOKEN_SCOPE in named
    # and the page lists no scope the manifest does not ask for
    scopes_in_page = {n for n in named if re.fullmatch(r"[a-z]+(\.[a-z]+)?:[a-z.]+", n)}
    assert scopes_in_page - set(BOT_SCOPES) == {APP_TOKEN_SCOPE}
    for scope in BOT_SCOPE_REASONS:
        assert f"| `{scope}` |" in page, f"{scope} has no row in the scope table"


def test_supportbot_slack_manifest_prints_it(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text('[slack]\nslash_command = "/ask-us"\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["slack", "manifest", "--config", str(config)])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.output)
    assert printed["features"]["slash_commands"][0]["command"] == "/ask-us"
    assert printed["oauth_config"]["scopes"]["bot"] == list(BOT_SCOPES)


def test_the_fakes_default_workspace_grants_the_manifest() -> None:
    """The fake's default scopes are a real support bot's; ours must be a subset of them."""
    assert set(BOT_SCOPES) <= set(DEFAULT_BOT_SCOPES)


# -- supportbot doctor ------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_scopes=BOT_SCOPES) as server:
        yield server


def env_for(fake: FakeSlack, **extra: str) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.api_url,
        **extra,
    }


async def test_doctor_reports_a_healthy_installation(
    fake: FakeSlack, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings('[slack]\nstaff_groups = ["S111"]\ntriage_channel = "C222"\n', env_for(fake))
    checks = {c.name: c for c in await doctor_checks(settings)}
    assert {name: c.status for name, c in checks.items()} == {
        "slack token": "ok",
        "slack scopes": "ok",
        "slack socket mode": "ok",
        "slack group S111": "ok",
        "slack triage channel": "ok",
    }
    assert checks["slack token"].detail == "team Test Team (T111), bot @supportbot (U0BOT)"
    assert fake.last_call("apps.connections.open").token == fake.app_token
    assert all(fake.bot_token not in c.detail and fake.app_token not in c.detail for c in checks.values())
    # `supportbot doctor` runs them because the environment configures Slack
    names = [c.name for c in await run_checks(settings)]
    assert "slack scopes" in names


async def test_doctor_checks_the_token_s_workspace_with_its_own_settings(
    fake: FakeSlack, make_settings: Callable[..., Settings]
) -> None:
    toml = (
        '[slack]\nstaff_groups = ["S-SHARED"]\ntriage_channel = "C-NOWHERE"\n'
        '[slack.workspaces.T111]\nstaff_groups = ["S111"]\ntriage_channel = "C222"\n'
    )
    checks = {c.name: c for c in await doctor_checks(make_settings(toml, env_for(fake)))}
    # the token is T111's: its own group and triage channel are checked, not the shared ones
    assert checks["slack group S111"].status == "ok" and "slack group S-SHARED" not in checks
    assert checks["slack triage channel"].status == "ok"


async def test_doctor_lists_missing_scopes_and_refused_tokens(
    fake: FakeSlack, make_settings: Callable[..., Settings]
) -> None:
    fake.set_scopes(
        fake.bot_token, [s for s in BOT_SCOPES if s not in ("reactions:write", "usergroups:read")]
    )
    fake.set_scopes(fake.app_token, [])
    settings = make_settings('[slack]\nstaff_groups = ["S404"]\ntriage_channel = "C111"\n', env_for(fake))
    fake.members["C111"].discard(fake.bot_user_id)  # the triage channel without the bot
    checks = {c.name: c for c in await doctor_checks(settings)}
    assert checks["slack scopes"].status == "fail"
    assert checks["slack scopes"].detail.startswith("missing: reactions:write, usergroups:read.")
    assert "reinstall" in checks["slack scopes"].detail
    assert checks["slack socket mode"].status == "fail"
    assert "missing_scope" in checks["slack socket mode"].detail
    assert checks["slack group S404"].status == "warn"
    assert (
        checks["slack triage channel"].status == "warn" and "/invite" in checks["slack triage channel"].detail
    )

    fake.revoke_token(fake.bot_token)
    [check] = await doctor_checks(settings)
    assert (check.name, check.status) == ("slack token", "fail")
    assert "token_revoked" in check.detail and fake.bot_token not in check.detail


async def test_doctor_in_http_mode_explains_the_request_url(
    fake: FakeSlack, make_settings: Callable[..., Settings]
) -> None:
    env = {"SLACK_BOT_TOKEN": fake.bot_token, "SLACK_SIGNING_SECRET": "s3cret", "SLACK_API_URL": fake.api_url}
    checks = {c.name: c for c in await doctor_checks(make_settings("", env))}
    assert checks["slack transport"].status == "ok"
    assert "/slack/events" in checks["slack transport"].detail
    assert fake.calls("apps.connections.open") == []


async def test_doctor_says_when_slack_cannot_be_reached(make_settings: Callable[..., Settings]) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    [check] = await doctor_checks(make_settings("", env))
    assert (
        check.status == "fail" and "cannot reach the Slack Web API at http://127.0.0.1:9/api/" in check.detail
    )


def oauth_env(fake: FakeSlack) -> dict[str, str]:
    """Several workspaces: the app's client id and secret and signing secret, no bot token."""
    return {
        "SLACK_CLIENT_ID": "111.222",
        "SLACK_CLIENT_SECRET": "fake-client-secret",
        "SLACK_SIGNING_SECRET": fake.signing_secret,
        "SLACK_API_URL": fake.api_url,
    }


def installed(settings: Settings, team: str, name: str, token: str) -> None:
    """`team` installed the app through /slack/install: its install in the state database."""
    store = StateStore.open(settings)
    try:
        store.save_slack_installation(
            SlackInstallRecord(
                team_id=team,
                enterprise_id="",
                team_name=name,
                bot_user_id=f"U{team}",
                installed_at=datetime(2026, 12, 1, tzinfo=UTC),
                data={"team_id": team, "bot_token": token},
            )
        )
    finally:
        store.close()


async def test_doctor_checks_each_installed_workspace_of_an_oauth_setup(
    fake: FakeSlack, make_settings: Callable[..., Settings]
) -> None:
    """Several workspaces (no SLACK_BOT_TOKEN, by design): doctor failed "SLACK_BOT_TOKEN is not
    set" and checked nothing else, so `supportbot doctor` always exited 1 for this setup."""
    settings = make_settings('[slack.workspaces.T222]\ntriage_channel = "C222"\n', oauth_env(fake))
    assert settings.slack_oauth
    checks = {c.name: c for c in await run_checks(settings)}
    assert checks["slack oauth"].status == "ok" and "/slack/install" in checks["slack oauth"].detail
    # none installed yet: what to do, not a failure
    assert (
        checks["slack workspaces"].status == "warn" and "/slack/install" in checks["slack workspaces"].detail
    )
    assert [c for c in checks.values() if c.status == "fail"] == []

    two = fake.add_workspace("T222", "Second Team", bot_user_id="U0BOT2", bot_id="B0BOT2")
    three = fake.add_workspace("T333", "Third Team", bot_user_id="U0BOT3", bot_id="B0BOT3")
    installed(settings, "T111", "Test Team", fake.bot_token)
    installed(settings, "T222", "Second Team", two)
    installed(settings, "T333", "Third Team", three)
    fake.set_scopes(fake.bot_token, [s for s in BOT_SCOPES if s != "reactions:write"])
    fake.revoke_token(three)  # removed the app while the bot was not listening
    checks = {c.name: c for c in await doctor_checks(settings)}
    assert {name: c.status for name, c in checks.items()} == {
        "slack oauth": "ok",
        "slack workspaces": "ok",
        "slack visibility": "warn",  # T111 and T333 read internal documents, T222 names its own
        "slack token (T111)": "ok",
        "slack scopes (T111)": "fail",
        "slack token (T222)": "ok",
        "slack scopes (T222)": "ok",
        "slack triage channel (T222)": "ok",  # each workspace with its own settings
        "slack token (T333)": "warn",
    }
    assert checks["slack token (T222)"].detail == "team Second Team (T222), bot @supportbot-t222 (U0BOT2)"
    visibility = checks["slack visibility"].detail
    assert "Test Team (T111)" in visibility and "T333" in visibility and "T222" not in visibility
    assert 'default_visibility = "public"' in visibility
    assert "reactions:write" in checks["slack scopes (T111)"].detail
    assert "token_revoked" in checks["slack token (T333)"].detail
    assert "/slack/install" in checks["slack token (T333)"].detail
    assert all(t not in c.detail for c in checks.values() for t in (fake.bot_token, two, three))
