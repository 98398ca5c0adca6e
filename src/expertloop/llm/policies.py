"""Who may manage model endpoints and see what of a run."""

from __future__ import annotations

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator


def can_manage_endpoints(actor: User) -> bool:
    """Only operators connect, test and remove model endpoints."""
    return is_operator(actor)


def can_see_upstream_errors(actor: User) -> bool:
    """Endpoint error bodies can carry internal details: operators only."""
    return is_operator(actor)
