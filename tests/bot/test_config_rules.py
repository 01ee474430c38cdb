"""The settings' vocabulary (bot/config_rules.py) and their checking (bot/config_validate.py):
rules ride on the types, every problem of a table is reported, secrets never show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pytest

from bot.config import DiscordSettings, FileSettings, Secret, Secrets, StoreSettings, load_settings
from bot.config_rules import Bounds, Check, Section
from bot.config_validate import SettingsInvalid, validate
from bot.errors import ConfigError


def test_a_secret_shows_its_value_only_when_asked() -> None:
    token = Secret("a-value-to-hide")
    assert token.get_secret_value() == "a-value-to-hide"
    assert "value-to-hide" not in repr(token) + str(token) + f"{token}" + repr([token])
    assert token == Secret("a-value-to-hide") and token != Secret("other") and token != "a-value-to-hide"


def test_a_secret_read_from_a_file_is_a_secret_and_is_checked() -> None:
    store = validate(StoreSettings, {"url": "postgresql://bot:pw@db/support"})
    assert isinstance(store.url, Secret) and store.url.get_secret_value().endswith("@db/support")
    assert validate(StoreSettings, {"url": store.url}) == store  # a checked value passes again
    with pytest.raises(SettingsInvalid, match=r"url: .*PostgreSQL URL"):
        validate(StoreSettings, {"url": "mysql://bot:pw@db/support"})
    with pytest.raises(SettingsInvalid, match="url: Input should be a valid string"):
        validate(StoreSettings, {"url": 5})


def test_every_problem_of_a_file_is_reported_with_its_path() -> None:
    with pytest.raises(SettingsInvalid) as raised:
        validate(
            FileSettings,
            {
                "answer": {"workers": 0, "workerz": 2},
                "escalation": {"timezone": "Mars/Base"},
                "dashbord": {},
            },
        )
    found = {(".".join(map(str, e["loc"])), e["type"]) for e in raised.value.errors}
    assert found == {
        ("answer.workers", "greater_than_equal"),
        ("answer.workerz", "unexpected_keyword_argument"),
        ("escalation.timezone", "value_error"),
        ("dashbord", "unexpected_keyword_argument"),
    }


def test_a_rule_spanning_fields_holds_for_a_section_built_in_code_too() -> None:
    with pytest.raises(ValueError, match="shards_per_worker = 3 is out of range"):
        DiscordSettings(shards=2, shards_per_worker=3)
    with pytest.raises(SettingsInvalid, match="shards_per_worker = 3 is out of range"):
        validate(DiscordSettings, {"shards": 2, "shards_per_worker": 3})
    assert validate(DiscordSettings, {"shards": "auto", "shards_per_worker": 3}).shards == "auto"


def _upper(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip().upper()


def _from_words(value: object) -> object:
    return {"one": 1, "two": 2}.get(value, value) if isinstance(value, str) else value


@dataclass(frozen=True, kw_only=True)
class _Sample(Section):
    name: Annotated[str, Check(_upper)] = "X"
    count: Annotated[int, Check(before=_from_words), Bounds(ge=1, le=2)] = 1
    ratio: Annotated[float, Bounds(gt=0)] = 0.5


def test_checks_run_before_or_after_the_type_and_bounds_use_pydantics_words() -> None:
    assert validate(_Sample, {"name": " ab ", "count": "two", "ratio": 1}) == _Sample(
        name="AB", count=2, ratio=1.0
    )
    with pytest.raises(SettingsInvalid) as raised:
        validate(_Sample, {"name": " ", "count": "three", "ratio": 0})
    messages = {e["loc"]: e["msg"] for e in raised.value.errors}
    assert messages == {
        ("name",): "Value error, must not be blank",
        ("count",): "Input should be a valid integer, unable to parse string as an integer",
        ("ratio",): "Input should be greater than 0",
    }
    with pytest.raises(SettingsInvalid, match="less than or equal to 2"):
        validate(_Sample, {"count": 3})


def test_bounds_on_a_value_that_is_not_a_number_is_a_mistake_in_the_code() -> None:
    @dataclass(frozen=True, kw_only=True)
    class Wrong(Section):
        label: Annotated[str, Bounds(ge=1)] = "a"

    with pytest.raises(TypeError, match="Bounds applies to int or float"):
        validate(Wrong, {"label": "b"})


def test_a_secret_given_as_text_in_code_is_kept_secret_too() -> None:
    store = StoreSettings(url="postgresql://bot:hunter2@db/support")
    secrets = Secrets(openai_api_key="sk-hunter2", openai_base_url="http://127.0.0.1:8000/v1")
    assert isinstance(store.url, Secret) and isinstance(secrets.openai_api_key, Secret)
    assert "hunter2" not in repr(store) + repr(secrets)
    assert secrets.openai_base_url == "http://127.0.0.1:8000/v1"  # an address is not a secret


def test_problems_are_worded_for_a_file_and_listed_in_the_settings_order(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text(
        'answer = 3\n[zzz]\na = 1\n[knowledge]\nmax_file_mb = 0\n[slack.channels.C1]\nmod = "off"\n[aaa]\nb = 2\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(config=config, env={})
    assert raised.value.problems == [
        "knowledge.max_file_mb: Input should be greater than 0 (got 0)",
        "answer: Input should be a valid dictionary or instance of AnswerSettings (got 3)",
        "'mod' in [slack.channels.C1] is not a setting (did you mean 'mode'?)",
        "'zzz' in the top level is not a setting",
        "'aaa' in the top level is not a setting",
    ]
    with pytest.raises(SettingsInvalid, match=r"channels\.C1\.mod: Extra inputs are not permitted"):
        validate(DiscordSettings, {"workspaces": {"G1": {"channels": {"C1": {"mod": "off"}}}}})


def test_an_address_inside_a_wrong_value_is_not_repeated(tmp_path: Path) -> None:
    config = tmp_path / "supportbot.toml"
    config.write_text('[store]\nurl = ["postgresql://bot:hunter2@db/support"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(config=config, env={})
    assert raised.value.problems == ["store.url: Input should be a valid string"]
