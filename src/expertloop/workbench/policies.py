"""Who may see, author, run, annotate and review which problem sets.

A problem set exists for operators, its author, the owning client organisation (read-only) and
the reviewers staffed on its project; to anyone else, other experts included, it is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.projects.models import REVIEWING, Project, StaffRole
from expertloop.workbench.models import ProblemSet, Status

# The author may change a problem set only in these states.
EDITABLE = frozenset({Status.draft, Status.in_progress, Status.returned})


@dataclass(frozen=True)
class Access:
    """The actor's relation to one project, computed once per request."""

    actor: User
    project: Project
    staff_role: StaffRole | None

    @property
    def is_operator(self) -> bool:
        return is_operator(self.actor)

    @property
    def is_owner_client(self) -> bool:
        return (
            self.actor.role == Role.client
            and self.actor.organisation_id == self.project.organisation_id
        )

    @property
    def is_reviewer(self) -> bool:
        """Operators and reviewers staffed as reviewers (or leads) accept and return work.

        The account must still be a reviewer: a staffing outlives a change of role.
        """
        return self.is_operator or (
            self.actor.role == Role.reviewer and self.staff_role in REVIEWING
        )


def can_create(access: Access) -> bool:
    """Staffed experts and reviewers, and operators, write problem sets."""
    return access.is_operator or access.staff_role is not None


def can_view(access: Access, problem_set: ProblemSet) -> bool:
    """Tell whether the problem set exists for the actor."""
    return (
        access.is_operator
        or access.is_owner_client
        or access.is_reviewer
        or problem_set.author_id == access.actor.id
    )


def sees_all(access: Access) -> bool:
    """Tell whether the actor lists every problem set of the project (not only their own)."""
    return access.is_operator or access.is_owner_client or access.is_reviewer


def can_edit(access: Access, problem_set: ProblemSet) -> bool:
    """Only the author changes a problem set, and only while it is not submitted or accepted."""
    return problem_set.author_id == access.actor.id and problem_set.status in EDITABLE


def can_edit_taxonomy(access: Access) -> bool:
    """The project's client organisation and the operators edit its taxonomy."""
    return access.is_operator or access.is_owner_client
