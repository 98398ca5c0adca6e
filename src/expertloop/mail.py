"""Outgoing mail behind one small interface (filled in by the expert-network outreach work)."""

from __future__ import annotations
