"""Receiver URL rules, the retry schedule and which audit rows become which events."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from expertloop.events import AuditLog
from expertloop.llm.ssrf import AddressPolicy, UnsafeEndpoint
from expertloop.webhooks.delivery import RETRY_DELAYS, retry_delay
from expertloop.webhooks.outbox import event_type_of
from expertloop.webhooks.policies import ReceiverRules, check_receiver_url

LOOPBACK_ALLOWED = AddressPolicy.from_settings(False, ["127.0.0.1/32"])


def test_the_retry_schedule_grows_and_then_holds() -> None:
    waits = [retry_delay(n).total_seconds() for n in range(1, 12)]
    assert waits[:7] == [10, 60, 300, 1800, 7200, 18000, 36000]
    assert waits[7:] == [36000] * 4
    assert all(a < b for a, b in itertools.pairwise(RETRY_DELAYS))
    assert retry_delay(0) == dt.timedelta(seconds=10)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[::ffff:10.0.0.5]/",
        "http://0.0.0.0/",
        "gopher://127.0.0.1/",
        "http://127.0.0.2/",  # loopback, but not in the allowed /32
    ],
)
def test_internal_receivers_are_refused(url: str) -> None:
    with pytest.raises(UnsafeEndpoint):
        check_receiver_url(url, ReceiverRules(LOOPBACK_ALLOWED))


def test_a_name_that_resolves_to_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(UnsafeEndpoint, match="loopback"):
        check_receiver_url("http://localhost:8080/hook", ReceiverRules(AddressPolicy()))


def test_an_allowed_network_is_accepted_and_the_url_normalised() -> None:
    rules = ReceiverRules(LOOPBACK_ALLOWED)
    assert check_receiver_url("http://127.0.0.1:8080/hook?x=1", rules) == (
        "http://127.0.0.1:8080/hook?x=1"
    )


def test_metadata_stays_refused_when_private_endpoints_are_allowed() -> None:
    rules = ReceiverRules(AddressPolicy.from_settings(True, []))
    check_receiver_url("http://10.0.0.5/hook", rules)
    with pytest.raises(UnsafeEndpoint):
        check_receiver_url("http://169.254.169.254/", rules)


def test_production_wants_https_except_on_allowed_private_networks() -> None:
    rules = ReceiverRules(LOOPBACK_ALLOWED, require_https=True)
    with pytest.raises(UnsafeEndpoint, match="https"):
        check_receiver_url("http://93.184.216.34/hook", rules)
    assert check_receiver_url("https://93.184.216.34/hook", rules)
    assert check_receiver_url("http://127.0.0.1:9/hook", rules)  # allowed on purpose


def test_credentials_and_fragments_are_refused() -> None:
    rules = ReceiverRules(LOOPBACK_ALLOWED)
    with pytest.raises(UnsafeEndpoint):
        check_receiver_url("http://user:pw@127.0.0.1/", rules)
    with pytest.raises(UnsafeEndpoint):
        check_receiver_url("http://127.0.0.1/#frag", rules)


def _row(kind: str, **data: object) -> AuditLog:
    return AuditLog(kind=kind, data=data)


def test_which_audit_rows_are_events() -> None:
    transitioned = "workbench.problem_set_transitioned"
    assert event_type_of(_row(transitioned, to_status="accepted")) == "problem_set.accepted"
    assert event_type_of(_row(transitioned, to_status="submitted")) is None
    assert event_type_of(_row("datasets.snapshot_ready")) == "snapshot.ready"
    assert event_type_of(_row("jobs.failed", job_kind="datasets.snapshot")) == "job.failed"
    # A failed delivery job is not reported (it would report itself again and again).
    assert event_type_of(_row("jobs.failed", job_kind="webhooks.deliver")) is None
    assert event_type_of(_row("webhooks.created")) is None
