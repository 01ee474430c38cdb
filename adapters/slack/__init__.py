"""The Slack adapter: slack-bolt's AsyncApp over Socket Mode or HTTP, and the Slack Channel.

The package owns the door between Slack and the core, and nothing of the core's
decisions. One module per concern:

* `transport`: `SlackAdapter` (lifecycle, Socket Mode or the HTTP Events API server,
  Bolt's app, replay on start, draining on shutdown) and `build_adapter`;
* `events`: Bolt listeners (ack at once, work on a tracked task) and the translation of
  events, button presses and the slash command into core types; the thinking reaction;
* `directory`: cached lookups of the workspace (channel visibility, users, user groups);
* `channel`: `SlackChannel`, the core's Channel (send / edit / open_thread);
* `client`: the Web API client with slack_sdk's retry handlers, error codes, message ids;
* `render` and `mrkdwn`: Block Kit and text markup, pure functions;
* `manifest`: the app manifest `supportbot slack manifest` prints (and `BOT_SCOPES`);
* `doctor`: `doctor_checks` for `supportbot doctor`.

`bot.supervisor` and `bot.doctor` load this package by name (`adapters.slack`) and call
`build_adapter` / `doctor_checks`; the names below are what other code may import.
"""

from adapters.slack.channel import SlackChannel
from adapters.slack.client import SlackCallError, api_url, make_web_client
from adapters.slack.directory import SlackDirectory, SlackIdentity
from adapters.slack.doctor import doctor_checks
from adapters.slack.events import SlackEvents, event_kind
from adapters.slack.transport import SlackAdapter, build_adapter

__all__ = [
    "SlackAdapter",
    "SlackCallError",
    "SlackChannel",
    "SlackDirectory",
    "SlackEvents",
    "SlackIdentity",
    "api_url",
    "build_adapter",
    "doctor_checks",
    "event_kind",
    "make_web_client",
]
