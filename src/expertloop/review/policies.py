"""Who may comment on review, and who sees the comments.

Reviewers staffed on the project (and operators) comment, never on their own problem set; the
author and the project's reviewers see the comments; the project's client organisation sees them
only when the project's review settings say so (off by default). Everyone else never reaches a
problem set at all (``workbench.access`` answers 404).
"""

from __future__ import annotations

from expertloop.workbench.models import ProblemSet, Status
from expertloop.workbench.policies import Access

# Accepted work is final: it takes no more comments.
COMMENTABLE = frozenset(
    {Status.draft, Status.in_progress, Status.submitted, Status.in_review, Status.returned}
)


def can_comment(access: Access, problem_set: ProblemSet) -> bool:
    """Tell whether the actor may comment on the problem set's steps now."""
    return (
        access.is_reviewer
        and problem_set.author_id != access.actor.id
        and problem_set.status in COMMENTABLE
    )


def can_see_comments(access: Access, problem_set: ProblemSet, *, clients_see: bool) -> bool:
    """Tell whether the actor sees the review comments of a problem set they may view."""
    if access.is_operator or access.is_reviewer or problem_set.author_id == access.actor.id:
        return True
    if access.is_owner_client:
        return clients_see
    return False


def can_change_settings(access: Access) -> bool:
    """The project's client organisation and the operators decide what the client sees."""
    return access.is_operator or access.is_owner_client


def sees_since_return(access: Access) -> bool:
    """Reviewers (and operators) see what changed since a return."""
    return access.is_reviewer
