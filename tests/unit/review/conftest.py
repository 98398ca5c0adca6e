"""Fixtures for the review domain tests: the workbench's problem set with one step and runs."""

from __future__ import annotations

from tests.unit.workbench.conftest import bench, endpoint

__all__ = ["bench", "endpoint"]
