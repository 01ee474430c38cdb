"""slack_sdk's installation and OAuth state stores, kept in our state database.

This module owns the adapter side of multi-workspace Slack: `StoreInstallations` implements
slack_sdk's `AsyncInstallationStore` and `StoreOAuthStates` its `AsyncOAuthStateStore`, both
over `bot.store` (SQLite or PostgreSQL, through AsyncStore's thread), so every worker of a
cluster sees every install and any worker can finish an install another one started.
`oauth_settings` gives slack-bolt's `AsyncOAuthSettings` for `/slack/install` and
`/slack/oauth_redirect` with these stores. Only bot-level installs are kept: the app asks
for no user scopes. Tokens are stored (they are what answers in each workspace) but never
logged: log lines name the team id.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.client import api_url, ctx, retry_handlers
from adapters.slack.manifest import BOT_SCOPES
from bot import faults
from bot.config import Settings
from bot.errors import PlatformError
from bot.store import AsyncStore, StateStore
from bot.store.slack_installs import SlackInstallRecord

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # how long a started install may take (slack-bolt's default too)
# installs under way at once, across the cluster: far above what real installers start in ten
# minutes, low enough that a flood of install pages cannot grow the table without bound
MAX_LIVE_STATES = 1000

# The client exchanging install codes logs through this logger: slack_sdk writes response
# bodies at DEBUG, and oauth.v2.access's body is the new bot token. Capped at WARNING here,
# whatever the log level, so `SUPPORTBOT_LOG_LEVEL=DEBUG` still never writes a token.
_EXCHANGE_LOG = logging.getLogger("adapters.slack.installations.exchange")
_EXCHANGE_LOG.setLevel(logging.WARNING)


def _jsonable(value: Any) -> Any:
    """slack_sdk's dicts carry datetimes; Installation(**data) reads them back from ISO text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _record(installation: Installation) -> SlackInstallRecord:
    data = _jsonable(installation.to_dict_for_copying())
    json.dumps(data)  # fails here, not inside the store's thread, on anything not JSON
    return SlackInstallRecord(
        # an org-wide install is kept under its organisation alone, as slack_sdk looks it up
        team_id="" if installation.is_enterprise_install else installation.team_id or "",
        enterprise_id=installation.enterprise_id or "",
        team_name=installation.team_name or "",
        bot_user_id=installation.bot_user_id or "",
        installed_at=datetime.fromtimestamp(installation.installed_at, UTC),
        data=data,
    )


def _cause(exc: Exception) -> str:
    """What a store error says, on one line: its first, which names the cause ("database or
    disk is full"); PostgreSQL's DETAIL lines after it may quote the row, token included."""
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def _refused(what: str, exc: Exception, workspace: str | None = None) -> BoltError:
    """A store error on an install page as Bolt's own (it renders its failure page, whose link
    starts the install again, instead of aiohttp's bare 500), told in one WARNING line."""
    log.warning(
        "could not %s (%s); the installer is asked to try again",
        what,
        _cause(exc),
        extra=ctx(workspace=workspace),
    )
    return BoltError(f"could not {what}")


# told (enterprise_id, team_id) of an install saved or deleted through this process; team_id
# is "" for an organisation-wide install
InstallChanged = Callable[[str, str], None]


@dataclass
class InstallLookup:
    """Whether one request's install could not be read (the state store failed). Bolt takes
    such a failure for "not installed" and answers Slack 200 (adapters/slack/http_events.py)."""

    failed: bool = False


_lookup: ContextVar[InstallLookup | None] = ContextVar("slack_install_lookup", default=None)


@contextmanager
def watching_lookups() -> Iterator[InstallLookup]:
    """What the install lookups made within this block (in this task) came to."""
    lookup = InstallLookup()
    token = _lookup.set(lookup)
    try:
        yield lookup
    finally:
        _lookup.reset(token)


class StoreInstallations(AsyncInstallationStore):
    """slack_sdk's installation store over the state database: one install per workspace."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store
        self._logger = logging.getLogger(__name__)
        self._listeners: list[InstallChanged] = []

    def on_change(self, listener: InstallChanged) -> None:
        """Call `listener` after every save and delete made here: a reinstall, an uninstall
        or a revocation (Bolt's listeners delete through this store) reaches whatever this
        process keeps of the old token at once."""
        self._listeners.append(listener)

    def _changed(self, enterprise_id: str | None, team_id: str | None) -> None:
        for listener in self._listeners:
            listener(enterprise_id or "", team_id or "")

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_save(self, installation: Installation) -> None:
        if installation.bot_token is None:
            # a user-only install: nothing the bot could answer with
            log.warning("ignored an install without a bot token", extra=ctx(workspace=installation.team_id))
            return
        record = _record(installation)
        try:
            await self.store.run(StateStore.save_slack_installation, record)
        except Exception as exc:
            team = installation.team_id or installation.enterprise_id
            raise _refused(f"keep Slack workspace {team}'s install", exc, workspace=team) from exc
        self._changed(record.enterprise_id, record.team_id)
        log.info(
            "Slack workspace %s installed the app (bot user %s)",
            installation.team_id or installation.enterprise_id,
            installation.bot_user_id,
            extra=ctx(workspace=installation.team_id),
        )

    async def async_save_bot(self, bot: Bot) -> None:
        # bolt saves the bot through async_save; a bare Bot only comes from token rotation,
        # which the manifest leaves off: keep it as an install of its own
        await self.async_save(Installation(user_id="", **_bot_fields(bot)))

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        # slack_sdk's semantics: an org-wide install is found by its organisation alone; a
        # workspace by its own install, else (a workspace of an organisation that installed
        # the app org-wide) by that organisation's. The organisation is never guessed: with
        # `enterprise_id` unknown only the workspace's own install serves it, or a workspace
        # of no organisation (or of another) would be answered with some organisation's token
        team = "" if is_enterprise_install else team_id or ""
        lookup = _lookup.get()
        try:
            faults.point("installations.find")
            record = await self.store.run(StateStore.slack_installation, enterprise_id or "", team)
        except Exception:
            if lookup is not None:
                lookup.failed = True
            raise
        if lookup is not None:
            lookup.failed = False  # read after all: what Bolt decides is its own again
        return None if record is None else _installation(record)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        if installation is None or installation.bot_token is None:
            return None
        return installation.to_bot()

    async def note_organisation(self, team_id: str, enterprise_id: str) -> None:
        """Keep the organisation Slack's signed events named for a workspace (`organisation`)."""
        faults.point("installations.note")
        await self.store.run(StateStore.note_slack_organisation, team_id, enterprise_id)

    async def organisation(self, team_id: str) -> str:
        """The organisation Slack's signed events last named for a workspace, in any process
        of the cluster; "" when none did."""
        return await self.store.run(StateStore.slack_organisation, team_id)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        faults.point("installations.delete")
        await self.store.run(StateStore.delete_slack_installation, enterprise_id or "", team_id or "")
        self._changed(enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        if user_id is None:  # a user's own install is not kept: nothing to delete for one
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


def _installation(record: SlackInstallRecord) -> Installation:
    # keys bolt does not expect (custom_values) go back as they came
    return Installation(**record.data)


def _bot_fields(bot: Bot) -> dict[str, Any]:
    return {
        "app_id": bot.app_id,
        "enterprise_id": bot.enterprise_id,
        "enterprise_name": bot.enterprise_name,
        "team_id": bot.team_id,
        "team_name": bot.team_name,
        "bot_token": bot.bot_token,
        "bot_id": bot.bot_id,
        "bot_user_id": bot.bot_user_id,
        "bot_scopes": bot.bot_scopes,
        "is_enterprise_install": bot.is_enterprise_install,
        "installed_at": bot.installed_at,
    }


class TooManyInstalls(PlatformError):
    """`MAX_LIVE_STATES` installs are under way: a new one may start when some finish or expire."""


class StoreOAuthStates(AsyncOAuthStateStore):
    """slack_sdk's OAuth state store over the state database: each state is used once."""

    def __init__(
        self, store: AsyncStore, *, expiration_seconds: int = STATE_SECONDS, limit: int = MAX_LIVE_STATES
    ) -> None:
        self.store = store
        self.expiration = timedelta(seconds=expiration_seconds)
        self.limit = limit
        self._logger = logging.getLogger(__name__)

    @property
    def logger(self) -> logging.Logger:
        return self._logger

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        try:
            issued = await self.store.run(
                StateStore.issue_oauth_state, state, now + self.expiration, now, self.limit
            )
        except Exception as exc:
            raise _refused("start a Slack install", exc) from exc
        if not issued:
            raise TooManyInstalls(f"{self.limit} Slack installs are already under way")
        return state

    async def async_consume(self, state: str) -> bool:
        if not state:
            return False
        consumed = await self.store.run(StateStore.consume_oauth_state, state, datetime.now(UTC))
        if not consumed:
            log.info("refused an OAuth callback with an unknown, used or expired state", extra=ctx())
        return consumed


def authorization_url(settings: Settings) -> str:
    """Where installers are sent: Slack's authorize page, next to the Web API's URL (so a
    SLACK_API_URL pointing at a test server moves both)."""
    api = api_url(settings)
    base = api[: -len("api/")] if api.endswith("/api/") else api
    return f"{base}oauth/v2/authorize"


def oauth_settings(settings: Settings, store: AsyncStore) -> AsyncOAuthSettings:
    """slack-bolt's OAuth settings: our stores, the manifest's scopes, bot installs only."""
    secrets_ = settings.secrets
    assert secrets_.slack_client_id is not None and secrets_.slack_client_secret is not None
    oauth = AsyncOAuthSettings(
        client_id=secrets_.slack_client_id,
        client_secret=secrets_.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        redirect_uri=settings.slack.oauth_redirect_url or None,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(settings),
        installation_store=StoreInstallations(store),
        installation_store_bot_only=True,
        state_store=StoreOAuthStates(store, expiration_seconds=STATE_SECONDS),
        state_expiration_seconds=STATE_SECONDS,
        logger=logging.getLogger("slack_bolt.supportbot.oauth"),
    )
    # Bolt's authorize reads the install for each request, then, its cache off, asks Slack's
    # auth.test for who the token is: a Web API call per event that the event waits on. The
    # cache is keyed by the token the install gave (after an uninstall it gives none), and what
    # it keeps (the bot's user, bot and team ids) is the token's own: it cannot change under it.
    if isinstance(oauth.authorize, AsyncInstallationStoreAuthorize):
        oauth.authorize.cache_enabled = True
    return oauth


def oauth_flow(
    settings: Settings, store: AsyncStore, *, retry_interval: float | None = None
) -> AsyncOAuthFlow:
    """slack-bolt's OAuth flow with `oauth_settings`, exchanging codes on a client of its own
    whose log never carries the tokens it receives."""
    client = AsyncWebClient(
        base_url=api_url(settings),
        timeout=30,
        retry_handlers=retry_handlers(retry_interval),
        logger=_EXCHANGE_LOG,
    )
    return AsyncOAuthFlow(client=client, settings=oauth_settings(settings, store), logger=_EXCHANGE_LOG)
