"""What makes up one message the bot sends on Discord, beside its rendered text: the view of
its buttons, the `allowed_mentions` naming exactly the pings the core asked for, the nonce of
a reply to a question, whether the bot may do something where it posts (its cached
permissions), the log fields of a refusal, and the webhooks interaction follow-ups are edited
through (`WebhookMessages`). The posting itself is adapters/discord/channel.py's.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import discord

from adapters.discord.commands import SupportButton
from adapters.discord.render import ButtonSpec, RenderedMessage
from adapters.discord.translate import PLATFORM
from bot.types import ConversationRef, Reply

WEBHOOK_TOKEN_SECONDS = 14 * 60  # interaction tokens live 15 minutes; keep a margin


class WebhookMessages:
    """Messages sent as interaction follow-ups: the bot cannot edit those through the
    channel, only through the interaction's webhook while its token lives (15 minutes)."""

    def __init__(self, ttl: float = WEBHOOK_TOKEN_SECONDS, limit: int = 2000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._messages: dict[str, tuple[discord.Webhook, float]] = {}

    def remember(self, message_id: str, webhook: discord.Webhook) -> None:
        now = time.monotonic()
        if len(self._messages) >= self.limit:
            self._messages = {k: v for k, v in self._messages.items() if v[1] > now}
        while len(self._messages) >= self.limit:  # still full: forget the oldest
            del self._messages[next(iter(self._messages))]
        self._messages[message_id] = (webhook, now + self.ttl)

    def get(self, message_id: str) -> discord.Webhook | None:
        found = self._messages.get(message_id)
        if found is None or found[1] <= time.monotonic():
            return None
        return found[0]


def build_view(buttons: tuple[ButtonSpec, ...]) -> discord.ui.View | None:
    """Buttons as a view of persistent dynamic items: dispatched by custom id, so they work
    on any message, after any restart, and discord.py keeps no per-message state."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        view.add_item(SupportButton(spec.custom_id, label=spec.label, style=discord.ButtonStyle(spec.style)))
    return view


def allowed_mentions(message: RenderedMessage) -> discord.AllowedMentions:
    """Nothing but the users and roles the core asked to ping."""
    return discord.AllowedMentions(
        everyone=False,
        users=[discord.Object(id=u) for u in message.allowed_users] or False,
        roles=[discord.Object(id=r) for r in message.allowed_roles] or False,
        replied_user=False,
    )


def message_kwargs(message: RenderedMessage) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "content": message.content,
        "allowed_mentions": allowed_mentions(message),
    }
    if message.embeds:
        kwargs["embeds"] = [discord.Embed.from_dict(e) for e in message.embeds]
    view = build_view(message.buttons)
    if view is not None:
        kwargs["view"] = view
    return kwargs


def reply_nonce(reply: Reply, part: int, message: RenderedMessage) -> str | None:
    """The nonce of one part of a reply to a question: the same reply to the same question
    in the same place gets the same nonce, and Discord (`enforce_nonce`, which discord.py
    always sends) then returns the message it already created instead of a second one, for
    a few minutes. So a replay that could not find its predecessor's post (history refused)
    and posts the very same text again still shows one message. Posts that answer no
    particular message keep discord.py's random nonce. At most 25 characters."""
    if not reply.in_reply_to:
        return None
    ref = reply.conversation
    key = "\n".join(
        (ref.thread or ref.channel, reply.in_reply_to, str(reply.kind), str(part), message.content)
    )
    return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()


def http_ctx(ref: ConversationRef, exc: discord.HTTPException, **more: object) -> dict[str, object]:
    """The log fields of a refusal from Discord: where, status and code (never the token)."""
    return {
        "platform": PLATFORM,
        "channel": ref.channel,
        "thread_id": ref.thread,
        "status": exc.status,
        "code": exc.code,
        **more,
    }


def may(where: Any, permission: str) -> bool:
    """Whether the bot's cached permissions in `where` (a guild channel or thread) grant
    `permission` (a `discord.Permissions` attribute); True where the cache cannot tell (a DM, a
    partial messageable: discord.py says none there), and Discord's answer decides."""
    guild = getattr(where, "guild", None)
    me = getattr(guild, "me", None)
    if me is None or not isinstance(where, discord.abc.GuildChannel | discord.Thread):
        return True
    return bool(getattr(where.permissions_for(me), permission))
