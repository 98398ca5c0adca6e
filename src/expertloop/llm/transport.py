"""HTTP sessions for model endpoints (aiohttp) whose every connection goes to a checked address.

Why aiohttp rather than httpx here: at 64 concurrent streams httpx 0.28's connection pool spends
~10 ms of CPU per request rescanning its connections (encode/httpcore#1035), which held batch
fan-out to 7 % of the ideal throughput on our benchmark; aiohttp's pool and C parser reach ~88 %.
aiohttp also lets us plug the SSRF check into DNS resolution itself.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from expertloop.llm.ssrf import AddressPolicy, UnsafeEndpoint, resolve_allowed


class GuardedResolver(AbstractResolver):
    """Resolve a host name and refuse it unless every address passes the policy.

    aiohttp connects to exactly the addresses returned here, so the address checked is the
    address connected to (no DNS-rebinding window). Literal IP hosts skip resolvers in aiohttp:
    ``check_literal_host`` covers them before each request.
    """

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r for r in results if not self._policy.is_allowed_text(r["host"])]
        if refused or not results:
            raise UnsafeEndpoint(
                f"The endpoint host {host!r} resolves to a private, loopback, link-local or "
                "otherwise internal address, which is not allowed. An operator can allow private "
                "endpoints in the settings (EXPERTLOOP_ALLOW_PRIVATE_ENDPOINTS or "
                "EXPERTLOOP_PRIVATE_ENDPOINT_NETWORKS)."
            )
        return results

    async def close(self) -> None:
        await self._inner.close()


async def check_literal_host(host: str, port: int, policy: AddressPolicy) -> None:
    """Check an IP-literal host (aiohttp does not resolve those, so the resolver never sees
    them); names are checked by ``GuardedResolver`` when connecting."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver checks it
    await resolve_allowed(host, port, policy)


def new_session(
    policy: AddressPolicy,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int = 100,
) -> aiohttp.ClientSession:
    """Return a session with the guarded resolver, no environment proxies and our timeouts."""
    connector = aiohttp.TCPConnector(
        resolver=GuardedResolver(policy), limit=max_connections, ttl_dns_cache=10
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        ),
        trust_env=False,
        auto_decompress=True,
        cookie_jar=aiohttp.DummyCookieJar(),  # an API client keeps no cookies
    )


class SessionPerLoop:
    """Keep one session per event loop (a session is bound to the loop it was made in)."""

    def __init__(self, policy: AddressPolicy, **options: Any) -> None:
        self._policy = policy
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        """Return the running loop's session, making it on first use."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = new_session(self._policy, **self._options)
            self._loop = loop
        return self._session

    async def close(self) -> None:
        """Close the session if it belongs to the running loop."""
        if self._session is not None and self._loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None
