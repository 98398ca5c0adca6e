"""Who may see, edit and staff which projects.

A project is visible to its organisation's members, the operators and the users staffed on it;
to anyone else it does not exist (404, never 403).
"""

from __future__ import annotations

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.projects.models import Project


def can_view(actor: User, project: Project, *, staffed: bool) -> bool:
    """Tell whether the project exists for the actor."""
    if is_operator(actor) or staffed:
        return True
    return actor.role == Role.client and actor.organisation_id == project.organisation_id


def can_create(actor: User, organisation_id: int) -> bool:
    """Clients create projects for their own organisation; operators for any client."""
    if is_operator(actor):
        return True
    return actor.role == Role.client and actor.organisation_id == organisation_id


def can_edit(actor: User, project: Project) -> bool:
    """The owning organisation's clients and the operators edit a project."""
    return can_create(actor, project.organisation_id)


def can_staff(actor: User) -> bool:
    """Only operators staff users on projects."""
    return is_operator(actor)
