"""Engine endpoints from a headless Service's DNS name: every A record becomes one replica URL."""

from __future__ import annotations

import asyncio
import socket


def parse_host_port(dns: str) -> tuple[str, int]:
    """Split `host:port`; raises ValueError with the expected shape."""
    host, sep, port = dns.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"engine DNS must look like 'host:port', got {dns!r}")
    return host, int(port)


class EndpointResolver:
    """Resolves `host:port` to `http://<ip>:<port>` for each address, sorted so the set is stable."""

    def __init__(self, dns: str, scheme: str = "http") -> None:
        self.host, self.port = parse_host_port(dns)
        self.scheme = scheme

    async def resolve(self) -> list[str]:
        """All current addresses; an empty list when the name does not resolve (all pods gone)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.host, self.port, family=socket.AF_INET, type=socket.SOCK_STREAM)
        except socket.gaierror:
            return []
        addresses = sorted({str(info[4][0]) for info in infos})
        return [f"{self.scheme}://{addr}:{self.port}" for addr in addresses]
