"""Host-header check and security headers for every answer of the map server (a plain ASGI middleware).

DNS rebinding: a page on ``evil.example`` whose name the attacker re-points at 127.0.0.1 can
make the browser talk to a local server as if it were ``evil.example``, and read its answers
(the tile URLs of ``/layers`` would even name ``evil.example``). A request is therefore only
served when its ``Host`` names this server: the address it listens on, the loopback names
for a loopback address, the machine's names and addresses when it listens on all interfaces,
and any name given with ``--allow-host``. Others get **400**.

Every answer, refused or not, carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")
NOSNIFF = (b"x-content-type-options", b"nosniff")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _machine_names() -> set[str]:
    """This machine's host names and interface addresses (for a server listening on all of them)."""
    import psutil

    names = {socket.gethostname(), socket.getfqdn()}
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                names.add(a.address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    return names


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names (lower case, no port) a server listening on ``bind`` answers to."""
    names = {bind}
    if bind in ANY_ADDRESS:
        names |= set(LOOPBACK_NAMES) | _machine_names()
    elif _is_loopback(bind):
        names |= set(LOOPBACK_NAMES)
    else:
        names |= {socket.gethostname(), socket.getfqdn()}
    names |= set(extra)
    return frozenset(n.lower().strip("[]") for n in names if n)


def host_of(header: str) -> str:
    """The host part of a Host header: ``[::1]:8000`` -> ``::1``, ``Name:80`` -> ``name``."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class HostGuard:
    """Refuse requests whose Host is not one of ``allowed``; add ``nosniff`` to every answer."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), NOSNIFF]
            await send(message)

        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
        if host_of(host) in self.allowed:
            await self.app(scope, receive, send_nosniff)
            return
        body = (f"invalid Host header {host!r}: this server answers to its own address only; "
                "start it with --allow-host NAME to add a name\n").encode()
        await send_nosniff({"type": "http.response.start", "status": 400,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
        await send_nosniff({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
