"""Fixtures for the model-client tests: fault-injecting HTTP servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.llm.fault_server import FaultServer


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A fault server on 127.0.0.1; fails the test if a request found no scenario."""
    server = FaultServer().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, server.errors


@pytest.fixture
def other_server() -> Iterator[FaultServer]:
    """A second fault server on another loopback address (another origin)."""
    server = FaultServer("127.0.0.2").start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, server.errors
