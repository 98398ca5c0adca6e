"""Pages: experts interviews (filled in by the expert-network work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
