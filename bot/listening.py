"""The sockets `serve` listens on, bound before anything else starts: an address it cannot
have stops it with one line, before migrations, the scheduler or any job have run."""

from __future__ import annotations

import socket


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """A socket bound (not yet listening) on each address `host` names, as asyncio's
    `create_server` binds them; socket.gaierror when `host` does not resolve, OSError when an
    address cannot be had (in use, not this machine's, a privileged port)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    bound: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            # As uvicorn does: a restart need not wait for the last run's connections to time out.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # Else "::" would take IPv4 too, and the IPv4 wildcard beside it would clash.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError:
        for sock in bound:
            sock.close()
        raise
    return bound


def shown(host: str, port: int) -> str:
    """`host:port` as a person writes it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
