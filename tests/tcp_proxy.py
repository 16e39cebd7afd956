"""A TCP proxy that a test can cut and restore: an outage of a server others share, for one client.

The proxy listens on a loopback port of its own and forwards every connection to the target. ``cut()``
closes every connection it carries and stops listening (new connections are refused, as by a server
that is down); ``restore()`` listens again on the same port. It runs its own event loop in a thread,
so a test may block (start a process, wait for it) while the proxy keeps forwarding.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit


class TcpProxy:
    """Forwards loopback TCP to ``target``: a (host, port), or the path of a unix socket (the embedded
    PostgreSQL listens on one only)."""

    def __init__(self, target: tuple[str, int] | str, *, listen_host: str = "127.0.0.1", listen_port: int = 0) -> None:
        self.target = target
        self.host = listen_host
        self.port = listen_port or _free_port(listen_host)
        self.connections = 0  # accepted while up, over the proxy's life
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"tcp-proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- control, from the test's thread ----------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def cut(self) -> int:
        """Close every open connection and refuse new ones; return how many were closed."""
        return self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def up(self) -> bool:
        return self._server is not None

    @classmethod
    def for_postgres(cls, database_url: str) -> TcpProxy:
        """A proxy in front of the server ``database_url`` names, over TCP or its unix socket."""
        parts = urlsplit(database_url)
        query = parse_qs(parts.query)
        socket_dir = (query.get("host") or [None])[0] or (parts.hostname if (parts.hostname or "").startswith("/") else None)
        port = int((query.get("port") or [None])[0] or parts.port or 5432)
        if socket_dir:
            return cls(f"{socket_dir}/.s.PGSQL.{port}")
        return cls((parts.hostname or "127.0.0.1", port))

    def url(self, database_url: str) -> str:
        """``database_url`` reaching its database through the proxy (host and port the proxy's, no socket)."""
        parts = urlsplit(database_url)
        query = {k: v for k, v in parse_qs(parts.query).items() if k not in {"host", "port"}}
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials + '@' if credentials else ''}{self.host}:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, doseq=True), ""))

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the proxy, on its own loop ---------------------------------------------------------

    def _call(self, coro):  # noqa: ANN001, ANN202
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)

    async def _cut(self) -> int:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        closed = len(self._writers)
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()  # a reset, as when the server or the network goes away
        self._writers.clear()
        return closed

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if isinstance(self.target, str):
                server_reader, server_writer = await asyncio.open_unix_connection(self.target)
            else:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        pair = {client_writer, server_writer}
        self._writers |= pair
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            for writer in pair:
                self._writers.discard(writer)
                with contextlib.suppress(Exception):
                    writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.transport.abort()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]

