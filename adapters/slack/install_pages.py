"""The two OAuth pages of multi-workspace HTTP mode: `/slack/install` and `/slack/oauth_redirect`.

Both are GET pages anyone may load, without a signature: this module owns what stands
between them and Bolt's OAuth flow. The request's body is never read: a GET's body means
nothing to either page, and one that is not text must not become an error.
"""

from __future__ import annotations

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.installations import INSTALL_PATH


class InstallPages:
    """The aiohttp handler of both pages, over Bolt's OAuth flow (which checks the state
    against the browser's cookie and consumes it in the store, once)."""

    def __init__(self, flow: AsyncOAuthFlow) -> None:
        self.flow = flow

    async def handle(self, request: web.Request) -> web.Response:
        # the query and the cookie are all either page reads: the body is left unread
        bolt_request = AsyncBoltRequest(
            body="",
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # as Bolt's aiohttp adapter passes them
        )
        if request.path != INSTALL_PATH:
            return await to_aiohttp_response(await self.flow.handle_callback(bolt_request))
        response = await self.flow.handle_installation(bolt_request)
        return await to_aiohttp_response(response)
