"""The Discord adapter: discord.py's Client and app_commands, and the Discord Channel.

It owns the door between Discord and the core, and none of the core's decisions. By concern:

* `client`: the connection (token, fatal errors), command sync, replay on READY, and
  `DiscordAdapter.run` / `close`;
* `support_client`: the discord.py Client (intents, command tree, event routing) and what is
  said when Discord refuses the token or the Message Content Intent;
* `endpoints`: the API and gateway URLs discord.py uses;
* `dispatch_guard`: a gateway dispatch discord.py cannot read is logged and skipped, not the
  connection's end;
* `shards`: how many gateway shards, and which set of them a worker holds;
* `standby`: waiting for the gateway lease, and catching up when taking it over;
* `events`: each event (message, edit, forum post, slash command, button) up to the core,
  as a task the adapter can wait for on shutdown;
* `translate`: discord.py objects into `InboundMessage`, `ActionEvent` and `Command`;
* `channel`: the core's Channel over REST (send, edit, open_thread, forum tags);
* `outgoing`: what one message is made of beside its text (view, pings, nonce), the bot's
  permissions where it posts, and the webhooks follow-ups are edited through;
* `event_channels`: the Channel during one message (typing) or interaction (follow-ups);
* `commands`: the `/support` and `/support-admin` trees from the registry, and the buttons;
* `render`: what a Reply looks like on Discord (pure, no discord.py);
* `invite`: the invite URL and its permissions (`supportbot discord invite`);
* `doctor`: `doctor_checks` for `supportbot doctor`.

`bot/supervisor.py` loads this package by name and calls `build_adapter`; `bot/doctor.py` calls
`doctor_checks`. The names below are the package's public surface.
"""

from __future__ import annotations

from adapters.discord.channel import DiscordChannel
from adapters.discord.client import DiscordAdapter, build_adapter
from adapters.discord.commands import (
    ADMIN_COMMAND_GROUP,
    COMMAND_GROUP,
    SupportButton,
    build_command_groups,
)
from adapters.discord.doctor import doctor_checks
from adapters.discord.endpoints import DEFAULT_API_BASE, api_base, gateway_address, point_discord_py
from adapters.discord.event_channels import InteractionChannel, MessageChannel
from adapters.discord.events import Events
from adapters.discord.outgoing import WebhookMessages
from adapters.discord.support_client import INTENT_MISSING, TOKEN_REJECTED, SupportClient, support_intents
from adapters.discord.translate import PLATFORM, MessageTranslator, command_args

__all__ = [
    "ADMIN_COMMAND_GROUP",
    "COMMAND_GROUP",
    "DEFAULT_API_BASE",
    "INTENT_MISSING",
    "PLATFORM",
    "TOKEN_REJECTED",
    "DiscordAdapter",
    "DiscordChannel",
    "Events",
    "InteractionChannel",
    "MessageChannel",
    "MessageTranslator",
    "SupportButton",
    "SupportClient",
    "WebhookMessages",
    "api_base",
    "build_adapter",
    "build_command_groups",
    "command_args",
    "doctor_checks",
    "gateway_address",
    "point_discord_py",
    "support_intents",
]
