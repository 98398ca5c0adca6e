"""Refuse endpoint addresses that reach into our own network (SSRF protection).

A URL is checked when it is saved, and again on every connection: the guarded network backend
(``transport.py``) resolves the host itself, checks every address it would connect to, and
connects to the checked address, so DNS rebinding and redirects cannot sneak past.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from yarl import URL

from expertloop.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Shared address space and other special ranges that the ipaddress flags do not all cover.
_EXTRA_BLOCKED: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.ip_network("192.0.0.0/24"),  # IETF protocol assignments
    ipaddress.ip_network("198.18.0.0/15"),  # benchmarking
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 can reach IPv4 internals
    ipaddress.ip_network("2002::/16"),  # 6to4 wraps any IPv4 address, internal ones included
)


class UnsafeEndpoint(ValidationFailed):
    """The endpoint URL or the address it resolves to is not allowed."""

    code = "unsafe_endpoint"


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses model endpoints may use."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, allow_private: bool, allowed: Sequence[str]) -> AddressPolicy:
        """Build the policy from settings values (CIDR strings)."""
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in allowed))

    def is_allowed_text(self, address: str) -> bool:
        """Tell whether a connection to the textual address ``address`` is allowed."""
        try:
            return self.is_allowed(ipaddress.ip_address(address.split("%")[0]))
        except ValueError:
            return False

    def is_allowed(self, address: IPAddress) -> bool:
        """Tell whether a connection to ``address`` is allowed."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allowed_networks if net.version == address.version):
            return True
        if address.is_multicast or address.is_unspecified:
            return False
        if self.allow_private:
            # Link-local holds cloud metadata services (169.254.169.254, fd00:ec2::254 is ULA
            # and stays allowed): never reachable unless listed in allowed_networks.
            return not address.is_link_local
        return address.is_global and not any(
            address in net for net in _EXTRA_BLOCKED if net.version == address.version
        )


def normalise_url(url: str) -> str:
    """Return the URL as the HTTP client will see it (IDNA host, dots of any script folded),
    so that what is checked is what is connected to."""
    try:
        return str(URL(url.strip()))
    except (ValueError, TypeError) as exc:
        raise UnsafeEndpoint(f"Invalid endpoint URL: {exc}.") from exc


def check_url(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of an http(s) URL, or raise ``UnsafeEndpoint``."""
    try:
        parts = urlsplit(normalise_url(url))
        port = parts.port
    except ValueError as exc:
        raise UnsafeEndpoint(f"Invalid endpoint URL: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UnsafeEndpoint("Endpoint URLs must use http or https.")
    if not parts.hostname:
        raise UnsafeEndpoint("Endpoint URL has no host.")
    if parts.username or parts.password:
        raise UnsafeEndpoint("Put credentials in the API key field, not in the URL.")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _checked(host: str, addresses: list[IPAddress], policy: AddressPolicy) -> list[str]:
    refused = [a for a in addresses if not policy.is_allowed(a)]
    if refused or not addresses:
        raise UnsafeEndpoint(
            f"The endpoint host {host!r} resolves to a private, loopback, link-local or "
            "otherwise internal address, which is not allowed. An operator can allow private "
            "endpoints in the settings (EXPERTLOOP_ALLOW_PRIVATE_ENDPOINTS or "
            "EXPERTLOOP_PRIVATE_ENDPOINT_NETWORKS)."
        )
    return [str(a) for a in addresses]


def _from_infos(infos: list[Any]) -> list[IPAddress]:
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


async def resolve_allowed(host: str, port: int, policy: AddressPolicy) -> list[str]:
    """Resolve ``host`` and return its addresses if every one is allowed; else refuse."""
    literal = _literal(host)
    if literal is not None:
        return _checked(host, [literal], policy)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeEndpoint(f"Cannot resolve the endpoint host {host!r}.") from exc
    return _checked(host, _from_infos(infos), policy)


def check_endpoint_url_sync(url: str, policy: AddressPolicy) -> None:
    """Refuse a URL whose scheme or resolved addresses are not allowed (used when saving)."""
    _scheme, host, port = check_url(url)
    literal = _literal(host)
    if literal is not None:
        _checked(host, [literal], policy)
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeEndpoint(f"Cannot resolve the endpoint host {host!r}.") from exc
    _checked(host, _from_infos(infos), policy)


async def check_endpoint_url(url: str, policy: AddressPolicy) -> None:
    """Refuse a URL whose scheme or resolved addresses are not allowed (used when saving)."""
    _scheme, host, port = check_url(url)
    await resolve_allowed(host, port, policy)
