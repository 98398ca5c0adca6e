"""SSRF protection: which endpoint URLs and addresses model clients may reach."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from expertloop.llm.interface import RunStatus
from expertloop.llm.ssrf import (
    AddressPolicy,
    UnsafeEndpoint,
    check_endpoint_url,
    check_endpoint_url_sync,
    check_url,
    resolve_allowed,
)
from tests.unit.llm.client_call import call
from tests.unit.llm.fault_server import FaultServer, sse_response, sse_stream_bytes

DEFAULT = AddressPolicy()
PRIVATE_OK = AddressPolicy(allow_private=True)

INTERNAL_LITERALS = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "169.254.169.254",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "fd00::1",
    "fe80::1",
    "0.0.0.0",
    "::",
    "255.255.255.255",
    "198.18.0.1",
    "192.0.0.8",
]
INTERNAL_LITERALS += [
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
]
PUBLIC_LITERALS = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


def url_for(address: str, port: int = 8000) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/v1"


# -- check_url: the shape of the URL ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://example.com/v1", ("http", "example.com", 80)),
        ("https://api.example.com/v1", ("https", "api.example.com", 443)),
        ("  https://EXAMPLE.com:8443/v1  ", ("https", "example.com", 8443)),
        ("http://[2606:4700:4700::1111]/v1", ("http", "2606:4700:4700::1111", 80)),
    ],
)
def test_check_url_accepts_http_and_https(url: str, expected: tuple[str, str, int]) -> None:
    assert check_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/v1", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("gopher://example.com:70/_x", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("example.com/v1", "http or https"),
        ("http:///v1", "no host"),
        ("http://user:pass@example.com/v1", "API key field"),
        ("http://user@example.com/v1", "API key field"),
        ("http://:secret@example.com/v1", "API key field"),
        ("http://example.com:99999/v1", "Invalid"),
        ("http://[::1/v1", "Invalid"),
    ],
)
def test_check_url_refuses(url: str, message: str) -> None:
    with pytest.raises(UnsafeEndpoint, match=message):
        check_url(url)


# -- AddressPolicy.is_allowed -------------------------------------------------------------


@pytest.mark.parametrize("address", INTERNAL_LITERALS)
def test_default_policy_refuses_internal_addresses(address: str) -> None:
    assert not DEFAULT.is_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC_LITERALS)
def test_default_policy_allows_public_addresses(address: str) -> None:
    assert DEFAULT.is_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["10.1.2.3", "127.0.0.1", "192.168.1.1", "::1", "fd00::1", "::ffff:10.0.0.1"]
)
def test_allow_private_allows_private_addresses(address: str) -> None:
    assert PRIVATE_OK.is_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "224.0.0.1", "239.1.2.3", "ff02::1"])
def test_allow_private_still_refuses_unspecified_and_multicast(address: str) -> None:
    assert not PRIVATE_OK.is_allowed(ipaddress.ip_address(address))


def test_allowed_networks_let_only_the_listed_cidr_through() -> None:
    policy = AddressPolicy.from_settings(False, ["10.20.0.0/16", "fd12::/16"])

    assert policy.is_allowed(ipaddress.ip_address("10.20.3.4"))
    assert policy.is_allowed(ipaddress.ip_address("::ffff:10.20.3.4"))
    assert policy.is_allowed(ipaddress.ip_address("fd12::5"))
    for other in [
        "10.21.0.1",
        "10.1.2.3",
        "127.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fd13::1",
    ]:
        assert not policy.is_allowed(ipaddress.ip_address(other)), other
    assert policy.is_allowed(ipaddress.ip_address("8.8.8.8"))  # public stays allowed


def test_from_settings_accepts_host_bits() -> None:
    policy = AddressPolicy.from_settings(False, ["127.0.0.1/8"])

    assert policy.allowed_networks == (ipaddress.ip_network("127.0.0.0/8"),)


# -- whole-URL checks: sync (when saving) and async (when connecting) -----------------------


@pytest.mark.parametrize("address", INTERNAL_LITERALS)
def test_check_endpoint_url_sync_refuses_internal(address: str) -> None:
    with pytest.raises(UnsafeEndpoint, match="not allowed"):
        check_endpoint_url_sync(url_for(address), DEFAULT)


@pytest.mark.parametrize("address", INTERNAL_LITERALS)
def test_resolve_allowed_refuses_internal(address: str) -> None:
    with pytest.raises(UnsafeEndpoint, match="not allowed"):
        asyncio.run(resolve_allowed(address, 80, DEFAULT))


@pytest.mark.parametrize("address", PUBLIC_LITERALS)
def test_public_literals_pass_without_dns(address: str) -> None:
    check_endpoint_url_sync(url_for(address), DEFAULT)
    asyncio.run(check_endpoint_url(url_for(address), DEFAULT))
    assert asyncio.run(resolve_allowed(address, 443, DEFAULT)) == [
        str(ipaddress.ip_address(address))
    ]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/",
        "file:///etc/passwd",
        "gopher://8.8.8.8/",
        "http://user:pass@8.8.8.8/v1",
    ],
)
def test_whole_url_checks_refuse_bad_shapes(url: str) -> None:
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync(url, DEFAULT)
    with pytest.raises(UnsafeEndpoint):
        asyncio.run(check_endpoint_url(url, DEFAULT))


@pytest.mark.parametrize("host", ["localhost", "127.1", "2130706433", "0x7f.0.0.1"])
def test_names_that_resolve_to_loopback_are_refused(host: str) -> None:
    """Not literal IPs: resolved (offline, by the system resolver), then checked."""
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync(f"http://{host}:8000/v1", DEFAULT)
    with pytest.raises(UnsafeEndpoint):
        asyncio.run(resolve_allowed(host, 8000, DEFAULT))


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(UnsafeEndpoint, match="Cannot resolve"):
        check_endpoint_url_sync("http://no-such-host.invalid/v1", DEFAULT)


def test_allow_private_passes_private_urls_but_not_unspecified() -> None:
    check_endpoint_url_sync("http://10.1.2.3:8000/v1", PRIVATE_OK)
    check_endpoint_url_sync("http://127.0.0.1:8000/v1", PRIVATE_OK)
    assert asyncio.run(resolve_allowed("10.1.2.3", 80, PRIVATE_OK)) == ["10.1.2.3"]
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync("http://0.0.0.0:8000/v1", PRIVATE_OK)
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync("http://224.0.0.1:8000/v1", PRIVATE_OK)


def test_allowed_network_passes_only_its_urls() -> None:
    policy = AddressPolicy.from_settings(False, ["10.20.0.0/16"])

    check_endpoint_url_sync("http://10.20.3.4:8000/v1", policy)
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync("http://10.21.3.4:8000/v1", policy)
    with pytest.raises(UnsafeEndpoint):
        check_endpoint_url_sync("http://127.0.0.1:8000/v1", policy)


# -- the client enforces the policy when it connects --------------------------------------


def test_client_with_default_policy_never_reaches_loopback(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_stream_bytes(["secret"])]))

    outcome = call(fault_server.base_url, policy=AddressPolicy())

    c = outcome.completion
    assert c.status is RunStatus.failed
    assert "not allowed" in (c.error or "")
    assert c.attempts == 1  # refused for good, not retried
    assert fault_server.requests == []
    assert fault_server.pending == 1


def test_client_allowed_network_reaches_the_server(fault_server: FaultServer) -> None:
    fault_server.enqueue(sse_response([sse_stream_bytes(["fine"])]))

    c = call(fault_server.base_url).completion  # 127.0.0.1/32 allowed

    assert c.status is RunStatus.ok
    assert c.text == "fine"


def test_link_local_stays_refused_when_private_endpoints_are_allowed() -> None:
    policy = AddressPolicy(allow_private=True)
    assert not policy.is_allowed(ipaddress.ip_address("169.254.169.254"))
    assert not policy.is_allowed(ipaddress.ip_address("fe80::1"))
    assert policy.is_allowed(ipaddress.ip_address("10.0.0.5"))
    listed = AddressPolicy.from_settings(True, ["169.254.10.0/24"])
    assert listed.is_allowed(ipaddress.ip_address("169.254.10.7"))
