"""Who may see and do what in the expert network."""

from __future__ import annotations
