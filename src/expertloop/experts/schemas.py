"""Pydantic shapes of the expert network's JSON API (in and out)."""

from __future__ import annotations
