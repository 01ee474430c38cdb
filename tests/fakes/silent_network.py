"""A TCP proxy to PostgreSQL whose open connections can go silent, as a dropped NAT entry or a
failed-over host leaves them: nothing forwarded, nothing closed, no error ever. Connections
made after `silence()` pass normally, as a fresh connection through a healed route would.

It listens on 127.0.0.1 and forwards to the server a libpq URL names (TCP, or the Unix socket
pgserver uses), so a client given `url` talks to the real server through it.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self
from urllib.parse import urlencode

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class SilentNetwork:
    """`async with SilentNetwork(server_url) as network`: `network.url` reaches the server."""

    def __init__(self, server_url: str) -> None:
        self._upstream = conninfo_to_dict(server_url)
        self._server_url = server_url
        self._server: asyncio.Server | None = None
        self._open: list[_Link] = []

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        port = self._server.sockets[0].getsockname()[1]
        return make_conninfo(self._server_url, host="127.0.0.1", port=str(port))

    @property
    def database_url(self) -> str:
        """`url` as a postgresql:// URL, the form the state store's settings take."""
        return "postgresql://?" + urlencode(conninfo_to_dict(self.url))

    def silence(self) -> int:
        """Every connection open now stops carrying anything, both ways, for good; how many."""
        for link in self._open:
            link.silent.set()
        return len(self._open)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for link in self._open:
            link.close()
        await self._server.wait_closed()

    async def _upstream_streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host = str(self._upstream.get("host") or "localhost")
        port = int(self._upstream.get("port") or 5432)
        if host.startswith("/"):
            return await asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}")
        return await asyncio.open_connection(host, port)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await self._upstream_streams()
        link = _Link(writer, up_writer)
        self._open.append(link)
        await asyncio.gather(link.pipe(reader, up_writer), link.pipe(up_reader, writer))


class _Link:
    """One client connection and its server connection."""

    def __init__(self, *writers: asyncio.StreamWriter) -> None:
        self.writers = writers
        self.silent = asyncio.Event()

    async def pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if self.silent.is_set():
                    continue  # swallowed: the peer neither hears it nor learns it was lost
                sink.write(data)
                await sink.drain()
        if not self.silent.is_set():  # the end is passed on too; a silent link passes nothing
            sink.close()

    def close(self) -> None:
        for writer in self.writers:
            writer.close()
