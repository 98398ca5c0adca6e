"""Who may see and do what in the expert network."""

from __future__ import annotations

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator


def can_match(actor: User) -> bool:
    """Tell whether the actor may search and rank experts (operators only)."""
    return is_operator(actor)


def can_vet(actor: User) -> bool:
    """Tell whether the actor may see candidates and decide on them (operators only)."""
    return is_operator(actor)
