"""Who may see and cancel which job.

Operators see every job; a client sees the jobs of their organisation; anyone sees the jobs they
started. Anything else is a 404.
"""

from __future__ import annotations

from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.jobs.models import Job


def can_see_job(actor: User, job: Job) -> bool:
    """Operators, the job's starter, and clients of the job's organisation see it."""
    if is_operator(actor) or job.created_by_id == actor.id:
        return True
    return (
        actor.role == Role.client
        and job.organisation_id is not None
        and job.organisation_id == actor.organisation_id
    )


def can_cancel_job(actor: User, job: Job) -> bool:
    """Whoever may see a job may cancel it."""
    return can_see_job(actor, job)
