"""Settings: defaults, the TOML file, the environment, and errors that list every problem."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from bot.channel_types import ChannelMode, Visibility
from bot.config import FileSettings, Secrets, Section, Settings, load_settings
from bot.config_escalation import MAX_WAIT_MINUTES
from bot.config_template import TEMPLATE
from bot.config_validate import validate
from bot.errors import ConfigError
from bot.hours import BusinessHours


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    assert settings.config_path is None
    assert settings.data_dir == (tmp_path / ".supportbot").resolve()
    assert settings.answer.mode == "auto"
    assert not settings.llm_configured


def test_file_values_and_channel_overrides(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        '[answer]\nconfidence_threshold = 0.3\n[slack]\nstaff_groups = ["S1"]\n'
        '[slack.channels.C9]\nmode = "auto-answer"\nvisibility = "public"\n',
        encoding="utf-8",
    )
    settings = load_settings(config=config, env={})
    assert settings.answer.confidence_threshold == 0.3
    assert settings.slack.staff_groups == ("S1",)
    assert settings.slack.channels["C9"].mode == ChannelMode.AUTO_ANSWER
    assert settings.slack.channels["C9"].visibility == Visibility.PUBLIC
    assert settings.data_dir == (tmp_path / ".supportbot").resolve()


def test_every_problem_is_listed_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        '[answer]\nconfidence_treshold = 0.3\nmax_sources = "many"\n[slak]\nx = 1\n'
        '[slack]\nslash_command = "support"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config=config, env={})
    problems = caught.value.problems
    assert len(problems) == 4, problems
    text = str(caught.value)
    assert "did you mean 'confidence_threshold'" in text
    assert "'slak' in the top level is not a setting (did you mean 'slack'?)" in text
    assert "answer.max_sources" in text
    assert "slack.slash_command" in text
    assert str(config) in text


def test_a_typo_in_a_named_section_gets_that_sections_suggestion_and_a_password_is_never_echoed(
    tmp_path: Path,
) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        '[audiences.vip]\nslack_grps = ["S1"]\n[slack.channels.C1]\nmod = "auto"\n'
        '[store]\nurl = "mysql://bot:hunter2@db.example/support"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(config=config, env={})
    text = str(caught.value)
    assert "'slack_grps' in [audiences.vip] is not a setting (did you mean 'slack_groups'?)" in text
    assert "'mod' in [slack.channels.C1] is not a setting (did you mean 'mode'?)" in text
    assert "store.url" in text and "hunter2" not in text and "bot:***@db.example" in text


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text("[answer\nmode = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(config=config, env={})


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    # Windows Notepad's "UTF-8 with BOM": the mark before the first table
    config.write_bytes(b"\xef\xbb\xbf[answer]\nconfidence_threshold = 0.3\n")
    assert load_settings(config=config, env={}).answer.confidence_threshold == 0.3


def test_a_config_not_in_utf8_names_the_file_and_says_to_save_it_as_utf8(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    # a Korean comment saved in Korean Windows' code page
    config.write_bytes('# 설정\n[console]\nuser = "나"\n'.encode("cp949"))
    with pytest.raises(ConfigError, match="is not UTF-8 text \\(line 1\\); save it as UTF-8") as caught:
        load_settings(config=config, env={})
    assert caught.value.source == str(config.resolve())


@pytest.mark.parametrize("channel", ["C0456", "slack:C0456"])
def test_with_slack_installs_the_digest_channel_must_name_its_workspace(tmp_path: Path, channel: str) -> None:
    """Slack installed in several workspaces (OAuth): a digest channel with no workspace has no
    install to post with (the digest was posted with whichever workspace asked last, or not at
    all) and would carry every workspace's questions into one; refused at start, saying how."""
    config = tmp_path / "supportbot.toml"
    oauth = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s" * 12, "SLACK_SIGNING_SECRET": "g" * 12}
    config.write_text(f'[insights]\ndigest_channel = "{channel}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="name the workspace whose channel it is") as caught:
        load_settings(config=config, env=oauth, data=tmp_path / "data")
    assert caught.value.source == str(config.resolve()) and '"slack:T0123ABCD:C0456"' in str(caught.value)
    config.write_text('[insights]\ndigest_channel = "slack:T0123:C0456"\n', encoding="utf-8")
    assert load_settings(config=config, env=oauth, data=tmp_path / "data").slack_oauth
    one_token = {"SLACK_BOT_TOKEN": "xoxb-" + "1", "SLACK_SIGNING_SECRET": "g" * 12}
    config.write_text(f'[insights]\ndigest_channel = "{channel}"\n', encoding="utf-8")
    assert (
        load_settings(config=config, env=one_token, data=tmp_path / "data").insights.digest_channel == channel
    )


def test_missing_explicit_config_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="supportbot init"):
        load_settings(config=tmp_path / "nope.toml", env={})


def test_secrets_come_from_the_environment_and_never_show(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-" + "123-secret",
        "SLACK_APP_TOKEN": "xapp-1-secret",
        "OPENAI_API_KEY": "sk-verysecretkey",
        "SUPPORTBOT_LLM_MODEL": "llama3",
    }
    settings = load_settings(env=env, cwd=tmp_path)
    assert settings.secrets.slack_bot_token is not None
    assert settings.secrets.slack_bot_token.get_secret_value() == "xoxb-" + "123-secret"
    assert settings.llm_configured
    assert settings.llm.model == "llama3"
    shown = repr(settings) + str(dataclasses.asdict(settings))
    for value in env.values():
        if value != "llama3":
            assert value not in shown


def test_wrong_token_kinds_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"SLACK_APP_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN": "xapp-2"}, cwd=tmp_path)
    assert len(caught.value.problems) == 2


def test_extractive_mode_ignores_a_configured_model(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text('[answer]\nmode = "extractive"\n', encoding="utf-8")
    settings = load_settings(config=config, env={"OPENAI_API_KEY": "sk-x"})
    assert not settings.llm_configured


def test_data_dir_priority(tmp_path: Path) -> None:
    from_env = load_settings(env={"SUPPORTBOT_DATA": str(tmp_path / "env")}, cwd=tmp_path)
    assert from_env.data_dir == (tmp_path / "env").resolve()
    explicit = load_settings(
        env={"SUPPORTBOT_DATA": str(tmp_path / "env")}, data=tmp_path / "arg", cwd=tmp_path
    )
    assert explicit.data_dir == (tmp_path / "arg").resolve()


def test_template_parses_and_names_every_setting() -> None:
    parsed = tomllib.loads(TEMPLATE)
    validate(FileSettings, parsed)  # raises if the template drifts from the model
    for section, annotation in _field_types(FileSettings).items():
        if get_origin(annotation) is dict:  # a table of named sections, shown as an example
            assert f"# [{section}." in TEMPLATE
            annotation = get_args(annotation)[1]
            section = f"{section}.NAME"
        else:
            assert f"[{section}]" in TEMPLATE
        for key in _field_types(annotation):
            if key in ("channels", "tags"):  # tables keyed by id or tag, shown as examples
                assert f"[{section}.{key}." in TEMPLATE
                continue
            assert f"{key} =" in TEMPLATE or f"# {key} =" in TEMPLATE, (
                f"{section}.{key} missing from template"
            )


def test_the_worker_lease_comes_from_the_environment_and_bad_values_are_refused(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path).worker_lease_seconds == 90.0
    assert (
        load_settings(env={"SUPPORTBOT_WORKER_LEASE_SECONDS": "3"}, cwd=tmp_path).worker_lease_seconds == 3.0
    )
    for bad in ("0", "-5", "nan", "inf", "soon", "90000"):
        with pytest.raises(ConfigError, match="SUPPORTBOT_WORKER_LEASE_SECONDS"):
            load_settings(env={"SUPPORTBOT_WORKER_LEASE_SECONDS": bad}, cwd=tmp_path)


def _field_types(model: Any) -> dict[str, Any]:
    hints = get_type_hints(model)
    return {f.name: hints[f.name] for f in dataclasses.fields(model)}


def _models() -> list[type[Any]]:
    import bot.config

    return [
        m
        for name in bot.config.__all__
        if isinstance(m := getattr(bot.config, name), type) and dataclasses.is_dataclass(m)
        if issubclass(m, Section) or m is Secrets
    ]


def test_every_settings_type_is_checked_here() -> None:
    names = {m.__name__ for m in _models()}
    assert {"AnswerSettings", "SlackSettings", "DiscordSettings", "FileSettings", "Secrets"} <= names
    assert len(names) >= 20


@pytest.mark.parametrize("model", [m for m in _models() if m is not Settings], ids=lambda m: m.__name__)
def test_defaults_are_what_validating_nothing_gives_and_pass_the_validator_unchanged(
    model: type[Any],
) -> None:
    """What nobody configured is not validated at a start (a cold `ask` never loads pydantic):
    that is only sound while every default is what the validator makes of an empty table, and
    while the defaults, checked as if a file had written them, come back unchanged (a default
    outside its own bounds would fail here, not on the first file that leaves it out)."""
    default = model()
    assert validate(model, {}) == default
    assert validate(model, {f.name: getattr(default, f.name) for f in dataclasses.fields(model)}) == default


def _validated_again(settings: Settings) -> Settings:
    return validate(Settings, {f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)})


def test_settings_assembled_without_their_validator_equal_the_validated_ones(tmp_path: Path) -> None:
    bare = load_settings(env={}, cwd=tmp_path)  # no file, no environment: every part a default
    assert bare == _validated_again(bare)
    assert bare.knowledge.max_file_mb == 20.0 and bare.secrets.slack_bot_token is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        bare.log_level = "DEBUG"  # type: ignore[misc]  # still frozen

    (tmp_path / "supportbot.toml").write_text(
        '[answer]\nmax_sources = 2\n[escalation]\ntimezone = "Asia/Seoul"\n'
    )
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SUPPORTBOT_LOG_LEVEL": "debug",
        "SUPPORTBOT_WORKER_LEASE_SECONDS": "5",
    }
    configured = load_settings(env=env, cwd=tmp_path)
    assert configured == _validated_again(configured)
    assert configured.answer.max_sources == 2 and configured.escalation.timezone == "Asia/Seoul"
    assert configured.secrets.slack_bot_token is not None and configured.worker_lease_seconds == 5.0


def test_an_endpoint_that_is_not_an_address_is_refused_without_repeating_it(tmp_path: Path) -> None:
    env = {
        "OPENAI_BASE_URL": "localhost:8000/v1",  # no scheme: the client would fail on each question
        "DISCORD_GATEWAY_URL": "https://gateway.example",  # a websocket address is ws:// or wss://
        "SLACK_API_URL": "https://user:hunter2@",  # no host, and a password that must not be echoed
        "DISCORD_API_URL": "http://[::1",  # urlsplit raises on it: still a config error, no traceback
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(env=env, cwd=tmp_path)
    text = str(raised.value)
    for name in env:
        assert name in text
    assert "hunter2" not in text and "localhost:8000" not in text
    fine = {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "DISCORD_GATEWAY_URL": "WSS://gateway.example"}
    assert load_settings(env=fine, cwd=tmp_path).secrets.openai_base_url == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize(
    ("days", "read"),
    [
        ('["Mon-Fri"]', ("mon", "tue", "wed", "thu", "fri")),
        ('["sun-thu"]', ("sun", "mon", "tue", "wed", "thu")),  # across the week's end
        ('["Monday", "wed", "fri-sat"]', ("mon", "wed", "fri", "sat")),
        # abbreviations read by their first three letters before ranges were: still read
        ('["mon", "tues", "weds", "thurs", "fri"]', ("mon", "tue", "wed", "thu", "fri")),
        ('[" MON - FRI "]', ("mon", "tue", "wed", "thu", "fri")),
    ],
)
def test_business_days_are_days_or_ranges_of_days(tmp_path: Path, days: str, read: tuple[str, ...]) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        f'[escalation]\nbusiness_hours = "09:00-18:00"\nbusiness_days = {days}\n', encoding="utf-8"
    )
    settings = load_settings(config=config, env={})
    assert settings.escalation.business_days == read
    hours = BusinessHours.parse("09:00-18:00", settings.escalation.business_days, "UTC")
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert hours.is_open(tuesday) is ("tue" in read)


@pytest.mark.parametrize("days", ['["monkey"]', '["Mon–Fri"]', '["weekdays"]', "[]"])
def test_business_days_not_read_as_days_are_refused(tmp_path: Path, days: str) -> None:
    """Read by its first three letters, "monkey" was Monday (and "Mon-Fri" Monday alone)."""
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[escalation]\nbusiness_days = {days}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"escalation\.business_days"):
        load_settings(config=config, env={})


@pytest.mark.parametrize(
    "key", ["first_response_minutes", "second_tier_minutes", "claimed_idle_minutes", "reopen_days"]
)
def test_a_wait_beyond_the_calendar_is_refused_naming_the_key(tmp_path: Path, key: str) -> None:
    """`first_response_minutes = 9999999999` ("never remind me") used to be accepted, then every
    hand-over failed with OverflowError (no ticket, the asker told something went wrong); a
    reopen_days as large failed every reply to a resolved ticket. Now it is refused at start."""
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[escalation]\n{key} = 9999999999\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"escalation\.{key}"):
        load_settings(config=config, env={})


@pytest.mark.parametrize("key", ["burst_window_minutes", "burst_cooldown_minutes"])
def test_a_burst_window_beyond_the_calendar_is_refused_naming_the_key(tmp_path: Path, key: str) -> None:
    """`burst_cooldown_minutes = 9999999999` ("alert once") used to be accepted, then `now -
    cooldown` overflowed on every clock tick (logged each time) and no burst alert was ever
    posted. Now it is refused at start, as the escalation waits are."""
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[insights]\n{key} = 9999999999\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"insights\.{key}"):
        load_settings(config=config, env={})
    config.write_text(f"[insights]\n{key} = {MAX_WAIT_MINUTES}\n", encoding="utf-8")
    assert getattr(load_settings(config=config, env={}).insights, key) == MAX_WAIT_MINUTES


@pytest.mark.parametrize(
    ("section", "key"), [("insights", "assume_after_hours"), ("followup", "after_hours")]
)
def test_hours_beyond_the_calendar_are_refused_naming_the_key(tmp_path: Path, section: str, key: str) -> None:
    """`[followup] after_hours = 1e12` ("never ask") used to be accepted, then `timedelta(hours=…)`
    overflowed wherever it was used; now it is refused at start, as the minutes are."""
    config = tmp_path / "supportbot.toml"
    config.write_text(f"[{section}]\n{key} = 1e12\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{section}\.{key}"):
        load_settings(config=config, env={})
    config.write_text(f"[{section}]\n{key} = {MAX_WAIT_MINUTES // 60}\n", encoding="utf-8")
    assert getattr(getattr(load_settings(config=config, env={}), section), key) == MAX_WAIT_MINUTES // 60


def test_the_longest_wait_allowed_stays_in_the_calendar_with_the_fewest_working_hours() -> None:
    hours = BusinessHours.parse("09:00-09:01", ("sun",), "Pacific/Kiritimati")  # a minute a week
    start = datetime(9000, 1, 1, tzinfo=UTC)
    assert hours.add_minutes(start, MAX_WAIT_MINUTES).year < 9999


def test_default_knowledge_folder_is_beside_the_config_file(tmp_path: Path) -> None:
    """knowledge/configuration.md: `path` defaults to ./knowledge "relative to the config file",
    so a bot started elsewhere (cron, systemd, Docker) with `-c` reads the same folder; with no
    config file it is the current directory's, as before."""
    home, elsewhere = tmp_path / "srv", tmp_path / "elsewhere"
    (home / "knowledge").mkdir(parents=True)
    (elsewhere / "knowledge").mkdir(parents=True)
    config = home / "supportbot.toml"
    config.write_text("", encoding="utf-8")
    assert load_settings(config=config, env={}, cwd=elsewhere).knowledge_dir == (home / "knowledge").resolve()
    assert load_settings(env={}, cwd=elsewhere).knowledge_dir == (elsewhere / "knowledge").resolve()
