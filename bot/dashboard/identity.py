"""What a chat platform's sign-in (Sign in with Slack, Discord OAuth2) tells the dashboard:
who the person is on that platform (`Identity`), or why it could not tell (`SignInError`);
and which of the two the settings turn on (`slack_configured`, `discord_configured`).

The adapters (adapters/slack/signin.py, adapters/discord/signin.py) speak each provider's
protocol and return these values; bot/dashboard/oauth.py turns them into a session or an
error page. The values carry what policy needs to decide rights exactly as for chat
commands: the user id, their group or role ids, and whether the platform calls them an
administrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.config import Settings


@dataclass(frozen=True, kw_only=True)
class Identity:
    platform: str
    user_id: str
    name: str = ""
    team: str = ""  # the Slack team or Discord guild the rights were read in
    enterprise: str = ""  # the team's Enterprise Grid organisation, when Slack names one
    roles: frozenset[str] = frozenset()  # Slack user group ids / Discord role ids, where known
    platform_admin: bool = False  # Slack workspace admin or owner, Discord Manage Server


class Problem(StrEnum):
    """Why a sign-in failed; each has one message for the person (and the operator's log)."""

    MISCONFIGURED = "misconfigured"  # the provider refused our client id or secret
    UNREACHABLE = "unreachable"  # the provider did not answer, or answered with an error
    CODE_REFUSED = "code refused"  # the code was used already, expired, or forged
    MISMATCH = "mismatch"  # the provider's answer was not for this sign-in (nonce, client)
    OTHER_WORKSPACE = "other workspace"  # signed in to a workspace the bot does not serve


class SignInError(Exception):
    """A sign-in (or a re-read of its rights) that cannot finish. `problem` is what the person
    is told; `retry_after` the seconds the platform asked to wait (a rate limit), when it said.
    Nothing secret (no code, token or client secret) is ever put in the exception."""

    def __init__(self, problem: Problem, detail: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem
        self.detail = detail
        self.retry_after = retry_after


def slack_configured(settings: Settings) -> bool:
    """Sign in with Slack uses the Slack app's own OAuth credentials (SLACK_CLIENT_ID and
    SLACK_CLIENT_SECRET, the same as for installs in several workspaces)."""
    s = settings.secrets
    return s.slack_client_id is not None and s.slack_client_secret is not None


def discord_guild(settings: Settings) -> str:
    """The guild whose roles count at Discord sign-in: `[dashboard] discord_guild`, else the
    only `[discord] command_guilds` entry; "" when neither names one."""
    if settings.dashboard.discord_guild:
        return settings.dashboard.discord_guild
    guilds = settings.discord.command_guilds
    return guilds[0] if len(guilds) == 1 else ""


def discord_configured(settings: Settings) -> bool:
    s = settings.secrets
    return (
        s.discord_client_id is not None
        and s.discord_client_secret is not None
        and bool(discord_guild(settings))
    )
