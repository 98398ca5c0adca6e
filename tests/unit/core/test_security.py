"""Client address behind a proxy and the login throttle's budgets."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from expertloop.accounts.login import LoginThrottle
from expertloop.errors import RateLimited
from expertloop.web.security import client_ip


def _request(xff: str | None) -> Request:
    headers = [(b"x-forwarded-for", xff.encode())] if xff else []
    return Request({"type": "http", "headers": headers, "client": ("10.0.0.9", 1234)})


def test_forwarded_for_is_ignored_unless_trusted() -> None:
    assert client_ip(_request("1.2.3.4"), trust_forwarded_for=False) == "10.0.0.9"


def test_trusted_proxy_hop_is_the_last_entry() -> None:
    # The client forged "6.6.6.6"; our proxy appended the real address.
    assert client_ip(_request("6.6.6.6, 203.0.113.7"), trust_forwarded_for=True) == "203.0.113.7"
    assert client_ip(_request(None), trust_forwarded_for=True) == "10.0.0.9"


def test_account_budget_counts_failures_only() -> None:
    throttle = LoginThrottle("memory://", "3/minute", "100/minute")
    for _ in range(10):  # successful logins do not use up the account's budget
        throttle.check(email="a@x.org", ip="1.1.1.1")
        throttle.record_attempt(ip="1.1.1.1")
    for _ in range(3):
        throttle.record_failure(email="A@x.org")
    with pytest.raises(RateLimited) as info:
        throttle.check(email="a@x.org", ip="2.2.2.2")
    assert info.value.retry_after >= 1
    throttle.check(email="b@x.org", ip="1.1.1.1")  # other accounts are unaffected


def test_address_budget_counts_every_attempt() -> None:
    throttle = LoginThrottle("memory://", "100/minute", "2/minute")
    throttle.record_attempt(ip="1.1.1.1")
    throttle.record_attempt(ip="1.1.1.1")
    with pytest.raises(RateLimited):
        throttle.check(email="anyone@x.org", ip="1.1.1.1")
    throttle.check(email="anyone@x.org", ip="9.9.9.9")
