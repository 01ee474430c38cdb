"""Slack workspaces that installed the app (OAuth), and the one-time states of installs under way.

It owns two tables (migration 0008): `slack_installations`, one row per workspace (or
Enterprise Grid organisation) with what `oauth.v2.access` returned, its bot token included,
and `slack_oauth_states`, the `state` values handed to browsers starting an install, each
consumed at most once; and a third (0021), `slack_organisations`, each workspace's
organisation as Slack's signed events named it, which finds an org-wide install for work
that names the team alone (a read-back, a reminder) in a process that has seen no event
of that workspace yet. Keeping them in the state database is what lets any worker of a
cluster finish an install another one started and answer in every installed workspace.

The install itself is a JSON object as slack_sdk writes it (`Installation.to_dict()`); the
store neither knows nor needs slack_sdk (adapters/slack/installations.py converts). It holds
a secret, the bot token: records never show it in `repr()` and nothing here logs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.store.rows import transaction
from bot.store.store import Repository, iso, parse_time


@dataclass(frozen=True, kw_only=True)
class SlackInstallRecord:
    """One installed workspace. `data` carries the bot token: it is left out of repr()."""

    team_id: str  # "" for an organisation-wide (Enterprise Grid) install
    enterprise_id: str  # "" outside Enterprise Grid
    team_name: str
    bot_user_id: str
    installed_at: datetime
    data: dict[str, Any] = field(repr=False)


class SlackInstallRepository(Repository):
    def save_slack_installation(self, record: SlackInstallRecord) -> None:
        """Keep a workspace's install; a reinstall (new scopes, new token) replaces the old one,
        also one made before the workspace joined or left an organisation (a team id is
        unique across organisations: a workspace has one install of its own)."""
        with transaction(self.db):
            if record.team_id:
                self.db.execute(
                    "delete from slack_installations where team_id = ? and enterprise_id <> ?",
                    [record.team_id, record.enterprise_id],
                )
            self.db.execute(
                "insert into slack_installations "
                "(enterprise_id, team_id, team_name, bot_user_id, installed_at, data) "
                "values (?, ?, ?, ?, ?, ?) on conflict(enterprise_id, team_id) do update set "
                "team_name = excluded.team_name, bot_user_id = excluded.bot_user_id, "
                "installed_at = excluded.installed_at, data = excluded.data",
                [
                    record.enterprise_id,
                    record.team_id,
                    record.team_name,
                    record.bot_user_id,
                    iso(record.installed_at),
                    json.dumps(record.data),
                ],
            )

    def slack_installation(self, enterprise_id: str, team_id: str) -> SlackInstallRecord | None:
        """The install that serves a workspace: its own (a team id is unique across
        organisations), else the organisation-wide install of `enterprise_id`; with no team,
        that organisation-wide install alone (slack_sdk's lookup for `is_enterprise_install`).
        `enterprise_id` must be the workspace's own organisation, as Slack told it: with ""
        no organisation's install is ever taken for a workspace."""
        if team_id:
            rows = self.db.execute(
                "select * from slack_installations where team_id = ? order by installed_at desc",
                [team_id],
            ).fetchall()
            if rows:
                return _record(rows[0])
        if not enterprise_id:
            return None
        rows = self.db.execute(
            "select * from slack_installations where enterprise_id = ? and team_id = ''",
            [enterprise_id],
        ).fetchall()
        return _record(rows[0]) if rows else None

    def note_slack_organisation(self, team_id: str, enterprise_id: str) -> None:
        """Keep the organisation Slack named for a workspace (a signed event's enterprise id);
        a later one replaces it (a workspace moved between organisations)."""
        with transaction(self.db):
            self.db.execute(
                "insert into slack_organisations (team_id, enterprise_id) values (?, ?) "
                "on conflict(team_id) do update set enterprise_id = excluded.enterprise_id",
                [team_id, enterprise_id],
            )

    def slack_organisation(self, team_id: str) -> str:
        """The organisation Slack last named for a workspace; "" when it never named one."""
        rows = self.db.execute(
            "select enterprise_id from slack_organisations where team_id = ?", [team_id]
        ).fetchall()
        return str(rows[0][0]) if rows else ""

    def slack_installations(self) -> list[SlackInstallRecord]:
        """Every installed workspace, by name (`supportbot doctor`, the report)."""
        rows = self.db.execute(
            "select * from slack_installations order by team_name, team_id, enterprise_id"
        ).fetchall()
        return [_record(row) for row in rows]

    def delete_slack_installation(self, enterprise_id: str, team_id: str) -> int:
        """Forget a workspace's install (the app was uninstalled, its token revoked): its own,
        whatever organisation `enterprise_id` names (Slack names the one it is in now, which
        may not be the one it was in when it installed: Enterprise Grid migration); with no
        team, `enterprise_id`'s organisation-wide install."""
        with transaction(self.db):
            if team_id:
                cursor = self.db.execute("delete from slack_installations where team_id = ?", [team_id])
            else:
                cursor = self.db.execute(
                    "delete from slack_installations where enterprise_id = ? and team_id = ''",
                    [enterprise_id],
                )
        return int(cursor.rowcount)

    def issue_oauth_state(self, state: str, expires_at: datetime, now: datetime, limit: int) -> bool:
        """A browser starts an install with `state`, unless `limit` installs are already under
        way (False): anyone may open the install page, so the states it leaves are bounded,
        and refusing the newcomer rather than dropping the oldest means no visitor, however
        many pages they open, cancels an install someone else has started. States expired by
        `now` are swept on the way, and only those: others may still come back from Slack."""
        with transaction(self.db):
            # count-then-insert: under PostgreSQL's READ COMMITTED two workers would both see
            # room for one more; one at a time, the bound holds across the cluster
            self._lock_until_commit("slack_oauth_states")
            self.db.execute("delete from slack_oauth_states where expires_at <= ?", [iso(now)])
            [(live,)] = self.db.execute("select count(*) from slack_oauth_states").fetchall()
            if int(live) >= limit:
                return False
            self.db.execute(
                "insert into slack_oauth_states (state, expires_at) values (?, ?)", [state, iso(expires_at)]
            )
        return True

    def consume_oauth_state(self, state: str, now: datetime) -> bool:
        """True once for a state issued here and not yet expired: the delete is the check, so
        of two callbacks with the same state (a replay, two workers) only one succeeds."""
        with transaction(self.db):
            cursor = self.db.execute(
                "delete from slack_oauth_states where state = ? and expires_at > ?", [state, iso(now)]
            )
        return cursor.rowcount == 1


def _record(row: tuple[Any, ...]) -> SlackInstallRecord:
    # the column order of migration 0008
    enterprise_id, team_id, team_name, bot_user_id, installed_at, data = row
    at = parse_time(str(installed_at))
    assert at is not None
    return SlackInstallRecord(
        team_id=str(team_id or ""),
        enterprise_id=str(enterprise_id or ""),
        team_name=str(team_name or ""),
        bot_user_id=str(bot_user_id or ""),
        installed_at=at,
        data=json.loads(str(data)),
    )
