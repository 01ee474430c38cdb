"""Settings: read once from `supportbot.toml` and the environment, validated, frozen.

This is the only module that reads the environment. Secrets (tokens, API keys) come only
from the environment and never appear in `repr()` or logs. A bad file raises one
ConfigError that lists every problem, each with the key and what to do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from bot.config_escalation import EscalationSettings, time_of_day
from bot.config_insights import FollowupSettings, InsightsSettings, digest_target
from bot.config_platforms import (
    ChannelSettings,
    ConsoleSettings,
    DiscordSettings,
    Duty,
    People,
    PlatformSettings,
    SlackSettings,
    TagRoute,
)
from bot.config_privacy import AudienceSettings, JourneySettings, PrivacySettings, RedactKind
from bot.config_rules import Bounds, Secret, Section, keep_secrets
from bot.config_run import RunSettings
from bot.config_store import DATABASE_URL_SCHEMES, DashboardSettings, StoreSettings
from bot.errors import ConfigError
from bot.retrieval.confidence import THRESHOLD

CONFIG_FILE_NAME = "supportbot.toml"
DATA_DIR_NAME = ".supportbot"


@dataclass(frozen=True, kw_only=True)
class KnowledgeSettings(Section):
    # None: knowledge/ beside the config file (without one, in the current directory), else
    # supportbot's own user guide (`bundled_knowledge`)
    path: Path | None = None
    max_file_mb: Annotated[float, Bounds(gt=0)] = 20.0
    watch_seconds: Annotated[int, Bounds(ge=0)] = (
        60  # a running bot re-reads changed files this often; 0: never
    )
    exclude: tuple[str, ...] = ()  # relative-path globs left out of the index, e.g. "drafts/**"
    include_root: Path | None = None  # where includes may also read from, relative to the config file
    base_url: str | None = None  # the address the documentation is published at, for citation links
    # walk linked folders too; a link is never followed out of the folder (or include_root) either way
    follow_symlinks: bool = False


@dataclass(frozen=True, kw_only=True)
class AnswerSettings(Section):
    mode: Literal["auto", "extractive", "llm"] = "auto"
    confidence_threshold: Annotated[float, Bounds(ge=0.0, le=1.0)] = THRESHOLD  # the calibrated boundary
    max_sources: Annotated[int, Bounds(ge=1, le=10)] = 3
    passages: Annotated[int, Bounds(ge=1, le=50)] = 5
    max_question_chars: Annotated[int, Bounds(ge=50)] = 4000
    workers: Annotated[int, Bounds(ge=1, le=256)] = 8  # questions answered at once; more wait their turn


@dataclass(frozen=True, kw_only=True)
class LLMSettings(Section):
    model: str = "gpt-4o-mini"
    timeout_seconds: Annotated[float, Bounds(gt=0)] = 60.0
    connect_timeout_seconds: Annotated[float, Bounds(gt=0)] = 5.0
    max_retries: Annotated[int, Bounds(ge=0, le=10)] = 2
    temperature: Annotated[float, Bounds(ge=0.0, le=2.0)] = 0.1
    history_tokens: Annotated[int, Bounds(ge=0)] = 1500
    # the model is asked whenever retrieval is at least this sure (a low floor: the model
    # judges the passages); the [answer] threshold stays the gate for quoted answers
    min_confidence: Annotated[float, Bounds(ge=0.0, le=1.0)] = 0.15
    context_tokens: Annotated[int, Bounds(ge=200)] = 4000  # documentation sent with each question
    # the longest answer the endpoint may write (the prompt asks for a few sentences): a model
    # that runs on is cut there, marked unfinished; 0 sends no limit (a model that refuses one)
    max_tokens: Annotated[int, Bounds(ge=0)] = 1024
    embeddings: bool = False
    embedding_model: str = "text-embedding-3-small"
    user_rate_per_hour: Annotated[int, Bounds(ge=0)] = 30
    channel_rate_per_hour: Annotated[int, Bounds(ge=0)] = 300


@dataclass(frozen=True, kw_only=True)
class FileSettings(Section):
    """Everything `supportbot.toml` may contain."""

    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    answer: AnswerSettings = field(default_factory=AnswerSettings)
    llm: LLMSettings = field(default_factory=LLMSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    escalation: EscalationSettings = field(default_factory=EscalationSettings)
    insights: InsightsSettings = field(default_factory=InsightsSettings)
    followup: FollowupSettings = field(default_factory=FollowupSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    audiences: dict[str, AudienceSettings] = field(default_factory=dict)
    journey: JourneySettings = field(default_factory=JourneySettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    run: RunSettings = field(default_factory=RunSettings)


@dataclass(frozen=True, kw_only=True)
class Secrets:
    """Tokens and endpoints from the environment, each under its platform's own name."""

    slack_bot_token: Secret | None = None
    slack_app_token: Secret | None = None
    slack_signing_secret: Secret | None = None
    slack_api_url: str | None = None
    # multi-workspace Slack: the app's OAuth credentials (adapters/slack/installations.py)
    slack_client_id: str | None = None
    slack_client_secret: Secret | None = None
    discord_token: Secret | None = None
    # Sign in with Discord on the dashboard: the application's OAuth2 credentials
    discord_client_id: str | None = None
    discord_client_secret: Secret | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None

    def __post_init__(self) -> None:
        keep_secrets(self)


@dataclass(frozen=True, kw_only=True)
class Settings(FileSettings):
    """The resolved settings: the file's values plus paths and secrets."""

    config_path: Path | None = None
    data_dir: Path
    knowledge_dir: Path
    secrets: Secrets = field(default_factory=Secrets)
    log_level: str = "INFO"
    # how long a silent worker's deliveries stay its own (bot/store/inbox.py); only the
    # environment sets it (SUPPORTBOT_WORKER_LEASE_SECONDS), so tests can see a takeover in seconds
    worker_lease_seconds: Annotated[float, Bounds(gt=0)] = 90.0

    @property
    def state_target(self) -> Path | str:
        """Where state lives: the PostgreSQL URL, or state.db in the data directory."""
        url = self.store.url
        return url.get_secret_value() if url is not None else self.data_dir / "state.db"

    @property
    def slack_oauth(self) -> bool:
        """Slack in several workspaces: no single SLACK_BOT_TOKEN, but the app's client id and
        secret (and HTTP mode), so workspaces install through /slack/install and each one's
        token lives in the state database."""
        s = self.secrets
        return (
            s.slack_bot_token is None
            and s.slack_client_id is not None
            and s.slack_client_secret is not None
            and s.slack_signing_secret is not None
        )

    @property
    def model_endpoint(self) -> bool:
        """Whether the environment names a model endpoint (OPENAI_API_KEY or OPENAI_BASE_URL)."""
        return self.secrets.openai_api_key is not None or self.secrets.openai_base_url is not None

    @property
    def llm_configured(self) -> bool:
        if self.answer.mode == "extractive":
            return False
        return self.model_endpoint

    @property
    def model_missing(self) -> str | None:
        """What is wrong when `[answer] mode = "llm"` has no endpoint to use: the guide says that
        mode always uses the model, so it is refused rather than quietly quoting the docs."""
        if self.answer.mode != "llm" or self.model_endpoint:
            return None
        return (
            '[answer] mode = "llm" always answers with a model, but neither OPENAI_API_KEY nor '
            'OPENAI_BASE_URL is set: set one (knowledge/llm.md), or use mode = "auto" to quote '
            "the documentation while no model is configured"
        )

    @property
    def embeddings_enabled(self) -> bool:
        """Hybrid retrieval: `[llm] embeddings = true` and an endpoint configured. Independent
        of the answer mode: quoted (extractive) answers can use it too."""
        return self.llm.embeddings and self.model_endpoint

    def command_prefix(self, platform: str, *, admin: bool = False) -> str:
        """How people type a command on `platform`: Slack's configured slash command; Discord
        can only hide whole commands from members without Manage Server, so its admin
        commands live under /support-admin; elsewhere /support."""
        if platform == "slack":
            return self.slack.slash_command
        if platform == "discord" and admin:
            return "/support-admin"
        return "/support"


def bundled_knowledge() -> Path:
    """The product's own guide: beside the code in a checkout, else where pip installed it
    (the environment's data directory; a --user install puts it under the user base)."""
    import site
    import sysconfig

    checkout = Path(__file__).resolve().parent.parent / "knowledge"
    installed = [
        Path(base) / "share" / "supportbot" / "knowledge"
        for base in (sysconfig.get_path("data"), sys.prefix, site.getuserbase())
    ]
    return next((p for p in [checkout, *installed] if p.is_dir()), installed[0])


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read: the defaults need no parser

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path} does not exist; run `supportbot init` to write one"]) from None
    except OSError as exc:
        raise ConfigError([f"{path} cannot be read: {exc.strerror}"]) from None
    try:
        return tomllib.loads(_decoded(path, data))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path} is not valid TOML: {exc}"], source=str(path)) from None


def _decoded(path: Path, data: bytes) -> str:
    """The file's text. TOML is UTF-8, but editors save it otherwise: Windows Notepad's "UTF-8
    with BOM" (the mark is dropped, as it means nothing else there), or the system's code page
    (cp949 on Korean Windows), which no guess can read back reliably, so it is refused, saying
    where and how to save it instead."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [f"{path} is not UTF-8 text (line {line}); save it as UTF-8 and run the command again"],
            source=str(path),
        ) from None


# endpoints the environment may point elsewhere (a proxy, a local model, the test fakes)
_ENDPOINTS = {
    "OPENAI_BASE_URL": ("http://", "https://"),
    "SLACK_API_URL": ("http://", "https://"),
    "DISCORD_API_URL": ("http://", "https://"),
    "DISCORD_GATEWAY_URL": ("ws://", "wss://"),
}


def _is_address(text: str, schemes: tuple[str, ...]) -> bool:
    try:
        return text.lower().startswith(schemes) and bool(urlsplit(text).hostname)
    except ValueError:  # a malformed address, e.g. an unclosed [IPv6 literal
        return False


def _secret(env: Mapping[str, str], name: str) -> Secret | None:
    value = env.get(name, "").strip()
    return Secret(value) if value else None


def _plain(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def load_settings(
    *,
    config: Path | None = None,
    knowledge: Path | None = None,
    data: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Resolve settings from (in rising priority) defaults, the TOML file, env, arguments."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    explicit = config or (Path(env["SUPPORTBOT_CONFIG"]) if env.get("SUPPORTBOT_CONFIG") else None)
    config_path = explicit if explicit is not None else cwd / CONFIG_FILE_NAME
    raw: dict[str, Any] = {}
    source = "defaults"
    if explicit is not None or config_path.exists():
        config_path = config_path.resolve()
        raw = _read_toml(config_path)
        source = str(config_path)
    found_config = config_path if source != "defaults" else None
    base = config_path.parent if found_config else cwd

    file_settings = _checked_file(raw, source) if raw else FileSettings()

    problems: list[str] = []
    if env.get("SUPPORTBOT_LLM_MODEL"):
        file_settings = replace(
            file_settings, llm=replace(file_settings.llm, model=env["SUPPORTBOT_LLM_MODEL"])
        )
    if file_settings.knowledge.include_root is not None:  # relative to the config file, like path
        include_root = (base / file_settings.knowledge.include_root).resolve()
        file_settings = replace(
            file_settings, knowledge=replace(file_settings.knowledge, include_root=include_root)
        )
    knowledge_dir = _resolve_knowledge(knowledge, env, file_settings, base)
    data_dir = (
        Path(data)
        if data
        else (Path(env["SUPPORTBOT_DATA"]) if env.get("SUPPORTBOT_DATA") else base / DATA_DIR_NAME)
    )
    database_url = _plain(env, "SUPPORTBOT_DATABASE_URL")
    if database_url is not None:  # beats [store] url, like every variable beats the file
        if database_url.startswith(DATABASE_URL_SCHEMES):
            file_settings = replace(file_settings, store=StoreSettings(url=Secret(database_url)))
        else:
            problems.append(
                "SUPPORTBOT_DATABASE_URL must be a PostgreSQL URL such as postgresql://user:password@host/database"
            )
    log_level = env.get("SUPPORTBOT_LOG_LEVEL", "INFO").upper()
    lease = _plain(env, "SUPPORTBOT_WORKER_LEASE_SECONDS") or "90"
    try:
        worker_lease = float(lease)
    except ValueError:
        worker_lease = 0.0
    if not 0 < worker_lease <= 86_400:  # also refuses nan and inf
        problems.append(
            f"SUPPORTBOT_WORKER_LEASE_SECONDS={lease!r} must be a number of seconds, above 0, at most 86400"
        )
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        problems.append(f"SUPPORTBOT_LOG_LEVEL={log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    secrets = Secrets(  # each already a Secret or plain text, or None
        slack_bot_token=_secret(env, "SLACK_BOT_TOKEN"),
        slack_app_token=_secret(env, "SLACK_APP_TOKEN"),
        slack_signing_secret=_secret(env, "SLACK_SIGNING_SECRET"),
        slack_api_url=_plain(env, "SLACK_API_URL"),
        slack_client_id=_plain(env, "SLACK_CLIENT_ID"),
        slack_client_secret=_secret(env, "SLACK_CLIENT_SECRET"),
        discord_token=_secret(env, "DISCORD_TOKEN"),
        discord_client_id=_plain(env, "DISCORD_CLIENT_ID"),
        discord_client_secret=_secret(env, "DISCORD_CLIENT_SECRET"),
        discord_api_url=_plain(env, "DISCORD_API_URL"),
        discord_gateway_url=_plain(env, "DISCORD_GATEWAY_URL"),
        openai_api_key=_secret(env, "OPENAI_API_KEY"),
        openai_base_url=_plain(env, "OPENAI_BASE_URL"),
    )
    token = secrets.slack_app_token
    if token is not None and not token.get_secret_value().startswith("xapp-"):
        problems.append("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    token = secrets.slack_bot_token
    if token is not None and not token.get_secret_value().startswith("xoxb-"):
        problems.append("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    for name, schemes in _ENDPOINTS.items():
        address = _plain(env, name)
        if address is not None and not _is_address(address, schemes):
            # the value is not repeated: an address may carry a password
            problems.append(f"{name} must be an address starting with {' or '.join(schemes)}, with a host")
    if problems:
        raise ConfigError(problems, source="environment")
    # assembled from parts validated above (the file's sections) and values checked here (the
    # paths are resolved, the level and the lease were tested above): nothing to validate again
    settings = Settings(
        **{f.name: getattr(file_settings, f.name) for f in fields(FileSettings)},
        config_path=found_config,
        data_dir=data_dir.resolve(),
        knowledge_dir=knowledge_dir,
        secrets=secrets,
        log_level=log_level,
        worker_lease_seconds=worker_lease,
    )
    if settings.slack_oauth and (problem := _digest_without_workspace(settings)):
        raise ConfigError([problem], source=source)
    return settings


def _digest_without_workspace(settings: Settings) -> str | None:
    """With Slack installed in several workspaces, a digest channel that names no workspace
    has no install to post with, and would carry every workspace's questions into one."""
    from bot.config_insights import digest_target

    target = digest_target(settings.insights.digest_channel)
    if target is None or target.platform != "slack" or target.workspace is not None:
        return None
    return (
        f"[insights] digest_channel = {settings.insights.digest_channel!r}: with Slack installed in "
        "several workspaces (OAuth), name the workspace whose channel it is, as "
        f'"slack:T0123ABCD:{target.channel}"; that workspace\'s digest is posted there with its install'
    )


def _checked_file(raw: Mapping[str, Any], source: str) -> FileSettings:
    from bot.config_validate import SettingsInvalid, validate  # only a file has values to check

    try:
        return validate(FileSettings, raw)
    except SettingsInvalid as exc:
        from bot.config_problems import problem_text

        raise ConfigError([problem_text(e, FileSettings) for e in exc.errors], source=source) from None


def _resolve_knowledge(
    given: Path | None,
    env: Mapping[str, str],
    file_settings: FileSettings,
    base: Path,
) -> Path:
    """The knowledge folder: the option, the variable, `[knowledge] path`, then knowledge/ in
    `base` (the config file's folder, as the documentation says, so a bot started from
    elsewhere, by cron or systemd, reads the same folder), else supportbot's own guide."""
    if given is not None:
        return Path(given).resolve()
    if env.get("SUPPORTBOT_KNOWLEDGE"):
        return Path(env["SUPPORTBOT_KNOWLEDGE"]).resolve()
    if file_settings.knowledge.path is not None:
        return (base / file_settings.knowledge.path).resolve()
    local = base / "knowledge"
    return local.resolve() if local.is_dir() else bundled_knowledge()


__all__ = [
    "CONFIG_FILE_NAME",
    "DATA_DIR_NAME",
    "AnswerSettings",
    "AudienceSettings",
    "ChannelSettings",
    "ConsoleSettings",
    "DashboardSettings",
    "DiscordSettings",
    "Duty",
    "EscalationSettings",
    "FileSettings",
    "FollowupSettings",
    "InsightsSettings",
    "JourneySettings",
    "KnowledgeSettings",
    "LLMSettings",
    "People",
    "PlatformSettings",
    "PrivacySettings",
    "RedactKind",
    "RunSettings",
    "Secret",
    "Secrets",
    "Section",
    "Settings",
    "SlackSettings",
    "StoreSettings",
    "TagRoute",
    "bundled_knowledge",
    "digest_target",
    "load_settings",
    "time_of_day",
]
