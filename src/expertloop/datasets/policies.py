"""Who may do what with a project's datasets.

Snapshots belong to the client: operators and the clients of the project's organisation create,
list and download them. Experts and reviewers see none, and another organisation's users none:
to them a snapshot does not exist (404, never 403).

Seed imports likewise belong to the client (operators and the project's clients). The seeds they
bring are seen by everyone who sees the project; the experts staffed on it pick them up.
"""

from __future__ import annotations

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.projects.models import Project


def _owns(actor: User, organisation_id: int) -> bool:
    if is_operator(actor):
        return True
    return (
        actor.role == Role.client and actor.is_active and actor.organisation_id == organisation_id
    )


def can_use_snapshots(actor: User, project: Project) -> bool:
    """Operators and the project's clients create, list and download its snapshots."""
    return _owns(actor, project.organisation_id)


def can_see_snapshot(actor: User, organisation_id: int) -> bool:
    """Operators and clients of the snapshot's organisation see (and download) it."""
    return _owns(actor, organisation_id)


def can_use_imports(actor: User, project: Project) -> bool:
    """Operators and the project's clients upload seed files and follow their imports."""
    return _owns(actor, project.organisation_id)


def can_see_import(actor: User, organisation_id: int) -> bool:
    """Operators and clients of the import's organisation see it; to others it does not exist."""
    return _owns(actor, organisation_id)


def can_pick_up_seed(actor: User, *, staffed: bool) -> bool:
    """Experts (and reviewers) staffed on the project turn its seeds into problem sets."""
    return staffed and actor.is_active and actor.role in (Role.expert, Role.reviewer)
