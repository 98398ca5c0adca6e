"""Audit events of the expert network."""

from __future__ import annotations

from dataclasses import dataclass, field

from expertloop.events import Event


@dataclass(frozen=True, kw_only=True)
class CandidateMoved(Event):
    """A candidate moved from one vetting state to another (a person's decision, or their own)."""

    kind: str = field(init=False, default="experts.candidate_moved")
    candidate_id: int
    from_state: str | None
    to_state: str
    reason: str
