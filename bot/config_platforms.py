"""The settings of the people and channels on each platform: who is staff, admin, on call;
how each channel behaves; who a tagged document routes to.

Every platform's settings answer the same questions (`people(duty)`, `channel_people`,
`tag_people`, ...), each spelling the group half its own way (`staff_groups` on Slack,
`staff_roles` on Discord), so policy and routing never ask which platform they are on.
Read and validated as part of bot/config.py's Settings, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from bot.channel_types import ChannelMode, Visibility
from bot.config_rules import Bounds, Check, Section
from bot.types import Author, MentionKind

# far beyond any bot this serves (Discord wants one shard per 1,000 to 2,500 guilds)
MAX_SHARDS = 4096


@dataclass(frozen=True, kw_only=True)
class ChannelSettings(Section):
    mode: ChannelMode | None = None
    visibility: Visibility | None = None
    # who to tag for tickets from this channel, instead of the platform's staff
    staff_users: tuple[str, ...] = ()
    staff_groups: tuple[str, ...] = ()  # Slack user groups
    staff_roles: tuple[str, ...] = ()  # Discord roles


class Duty(StrEnum):
    """The lists of people a platform's settings name. Each platform spells the group half
    of a list its own way (`staff_groups` on Slack, `staff_roles` on Discord): the accessors
    below translate, so routing and policy never ask which platform they are looking at."""

    FIRST_TIER = "first"  # staff: tagged on escalation, may claim and resolve tickets
    SECOND_TIER = "second"  # tagged when a ticket waits past the second deadline
    ONCALL = "oncall"  # tagged at once outside business hours instead of waiting
    ADMIN = "admin"  # may run admin commands; never tagged


@dataclass(frozen=True, kw_only=True)
class People:
    """Some users and some groups (Slack user groups or Discord roles, as the platform's
    `group_kind` says), read from the settings."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.users or self.groups)

    def includes(self, author: Author) -> bool:
        return author.id in self.users or bool(author.roles.intersection(self.groups))


@dataclass(frozen=True, kw_only=True)
class PlatformSettings(Section):
    """What both chat platforms share: how channels behave and who is staff or admin.

    The settings file keeps each platform's own words for its groups; code asks through
    `people`, `channel_people`, `tag_people`, `group_kind`, `platform_admins_are_admins`
    and `is_forum`, which each platform answers for itself."""

    # how a group is tagged on this platform: a Slack user group or a Discord role
    group_kind: ClassVar[MentionKind] = MentionKind.GROUP

    default_mode: ChannelMode = ChannelMode.MENTION_ONLY
    default_visibility: Visibility = Visibility.INTERNAL
    dm_visibility: Visibility = Visibility.INTERNAL
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    staff_users: tuple[str, ...] = ()
    second_tier_users: tuple[str, ...] = ()  # tagged when a ticket waits past the second deadline
    oncall_users: tuple[str, ...] = ()  # tagged outside business hours instead of waiting
    admin_users: tuple[str, ...] = ()
    triage_channel: str | None = None
    # Per workspace (Slack team id, Discord guild id): the settings above that name things
    # living in one workspace (channels, people, groups, the triage channel), overridden
    # there. One bot installed in several Slack workspaces needs a triage channel and staff
    # in each. `for_workspace` gives the merged view; anything not overridden is shared.
    workspaces: dict[str, dict[str, Any]] = field(default_factory=dict)

    # the keys a workspace may override (its own channels, people and groups, and how its
    # channels behave); the rest (slash command, shards, ...) is one per bot
    WORKSPACE_KEYS: ClassVar[frozenset[str]] = frozenset(
        {
            "default_mode",
            "default_visibility",
            "dm_visibility",
            "channels",
            "staff_users",
            "second_tier_users",
            "oncall_users",
            "admin_users",
            "triage_channel",
        }
    )

    def __post_init__(self) -> None:
        for workspace, override in self.workspaces.items():
            unknown = sorted(set(override) - self.WORKSPACE_KEYS)
            if unknown:
                raise ValueError(
                    f"workspaces.{workspace} cannot set {', '.join(unknown)}: a workspace may "
                    f"override only {', '.join(sorted(self.WORKSPACE_KEYS))}"
                )
            try:
                self.for_workspace(workspace)  # its values are checked as the section's are
            except ValueError as exc:
                raise ValueError(f"workspaces.{workspace}: {exc}") from None

    def for_workspace(self, workspace: str | None) -> Self:
        """These settings as they apply in `workspace`: its overrides over the shared ones."""
        override = self.workspaces.get(workspace) if workspace else None
        if not override:
            return self
        # each instance keeps its own merged views (a copy made with dataclasses.replace is a
        # new instance, so it never answers from the original's)
        merged: dict[str, Self] = self.__dict__.setdefault("_merged", {})
        view = merged.get(workspace or "")
        if view is None:
            from bot.config_validate import validate  # overrides come from a file: check them

            shared = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "workspaces"}
            view = merged[workspace or ""] = validate(type(self), {**shared, **override})
        return view

    def people(self, duty: Duty) -> People:
        users = {
            Duty.FIRST_TIER: self.staff_users,
            Duty.SECOND_TIER: self.second_tier_users,
            Duty.ONCALL: self.oncall_users,
            Duty.ADMIN: self.admin_users,
        }[duty]
        return People(users=users, groups=self._groups(duty))

    def channel_people(self, channel: ChannelSettings) -> People:
        """Who to tag for tickets from `channel` (empty: the platform's staff)."""
        return People(users=channel.staff_users, groups=self._channel_groups(channel))

    def tag_people(self, route: TagRoute) -> People:
        """Who to tag on this platform for tickets about a tagged document (empty: nobody)."""
        return People()

    @property
    def platform_admins_are_admins(self) -> bool:
        """Whether the platform's own administrators (`Author.platform_admin`) are admins here."""
        return False

    def is_forum(self, channel: str) -> bool:
        """Whether every new post in `channel` is a question for the bot."""
        return False

    def _groups(self, duty: Duty) -> tuple[str, ...]:
        return ()

    def _channel_groups(self, channel: ChannelSettings) -> tuple[str, ...]:
        return ()


def _slash_command(value: str) -> str:
    if not value.startswith("/") or len(value) < 2 or " " in value:
        raise ValueError("must look like /support (a slash and a name, no spaces)")
    return value


@dataclass(frozen=True, kw_only=True)
class SlackSettings(PlatformSettings):
    group_kind: ClassVar[MentionKind] = MentionKind.GROUP

    staff_groups: tuple[str, ...] = ()  # user group ids (S...), pinged as <!subteam^ID>
    second_tier_groups: tuple[str, ...] = ()
    oncall_groups: tuple[str, ...] = ()
    admin_groups: tuple[str, ...] = ()
    slash_command: Annotated[str, Check(_slash_command)] = "/support"
    workspace_admins_are_admins: bool = True
    # multi-workspace installs (SLACK_CLIENT_ID / SLACK_CLIENT_SECRET): the public URL of
    # /slack/oauth_redirect, as registered under the app's OAuth & Permissions; "" lets Slack
    # use the only one registered
    oauth_redirect_url: str = ""
    # how long the bot may have heard nothing before it reads back what was said meanwhile
    # (adapters/slack/missed.py): Slack's own retries cover a shorter gap; 0 always reads back
    read_back_after_seconds: Annotated[float, Bounds(ge=0)] = 60.0

    WORKSPACE_KEYS: ClassVar[frozenset[str]] = PlatformSettings.WORKSPACE_KEYS | {
        "staff_groups",
        "second_tier_groups",
        "oncall_groups",
        "admin_groups",
        "workspace_admins_are_admins",
    }

    def tag_people(self, route: TagRoute) -> People:
        return People(users=route.slack_staff_users, groups=route.slack_staff_groups)

    @property
    def platform_admins_are_admins(self) -> bool:
        return self.workspace_admins_are_admins

    def _groups(self, duty: Duty) -> tuple[str, ...]:
        return {
            Duty.FIRST_TIER: self.staff_groups,
            Duty.SECOND_TIER: self.second_tier_groups,
            Duty.ONCALL: self.oncall_groups,
            Duty.ADMIN: self.admin_groups,
        }[duty]

    def _channel_groups(self, channel: ChannelSettings) -> tuple[str, ...]:
        return channel.staff_groups


def _shard_count(value: object) -> object:
    if value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SHARDS:
        raise ValueError(f'must be a number of shards from 1 to {MAX_SHARDS}, or "auto"')
    return value


@dataclass(frozen=True, kw_only=True)
class DiscordSettings(PlatformSettings):
    group_kind: ClassVar[MentionKind] = MentionKind.ROLE

    default_visibility: Visibility = Visibility.PUBLIC
    dm_visibility: Visibility = Visibility.PUBLIC
    staff_roles: tuple[str, ...] = ()
    second_tier_roles: tuple[str, ...] = ()
    oncall_roles: tuple[str, ...] = ()
    admin_roles: tuple[str, ...] = ()
    forum_channels: tuple[str, ...] = ()
    command_guilds: tuple[str, ...] = ()  # sync slash commands here (instant); empty: globally
    manage_server_is_admin: bool = True
    # gateway shards (a bot in thousands of guilds): a number, or "auto" for the count
    # Discord recommends (GET /gateway/bot), asked at each start
    shards: Annotated[int | Literal["auto"], Check(before=_shard_count)] = 1
    # workers sharing a PostgreSQL state split the shards into sets of this many, one holder
    # per set (adapters/discord/shards.py); 0: one set of all shards
    shards_per_worker: Annotated[int, Bounds(ge=0)] = 0

    WORKSPACE_KEYS: ClassVar[frozenset[str]] = PlatformSettings.WORKSPACE_KEYS | {
        "staff_roles",
        "second_tier_roles",
        "oncall_roles",
        "admin_roles",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.shards, int) and self.shards_per_worker > self.shards:
            raise ValueError(
                f"shards_per_worker = {self.shards_per_worker} is out of range: "
                f"there are only {self.shards} shard(s) (shards = {self.shards})"
            )

    def tag_people(self, route: TagRoute) -> People:
        return People(users=route.discord_staff_users, groups=route.discord_staff_roles)

    @property
    def platform_admins_are_admins(self) -> bool:
        return self.manage_server_is_admin

    def is_forum(self, channel: str) -> bool:
        return channel in self.forum_channels

    def _groups(self, duty: Duty) -> tuple[str, ...]:
        return {
            Duty.FIRST_TIER: self.staff_roles,
            Duty.SECOND_TIER: self.second_tier_roles,
            Duty.ONCALL: self.oncall_roles,
            Duty.ADMIN: self.admin_roles,
        }[duty]

    def _channel_groups(self, channel: ChannelSettings) -> tuple[str, ...]:
        return channel.staff_roles


@dataclass(frozen=True, kw_only=True)
class ConsoleSettings(Section):
    user: str = "you"
    visibility: Visibility = Visibility.INTERNAL
    staff_users: tuple[str, ...] = ("staff",)


@dataclass(frozen=True, kw_only=True)
class TagRoute(Section):
    """Who to tag for questions whose best document carries a tag. The keys name their
    platform because one route serves both; `PlatformSettings.tag_people` picks its half."""

    slack_staff_groups: tuple[str, ...] = ()
    slack_staff_users: tuple[str, ...] = ()
    discord_staff_roles: tuple[str, ...] = ()
    discord_staff_users: tuple[str, ...] = ()
