"""Who may see or change which accounts."""

from __future__ import annotations

from expertloop.accounts.models import Organisation, Role, User


def is_operator(actor: User) -> bool:
    """Tell whether the actor runs the platform."""
    return actor.role == Role.operator and actor.is_active


def can_view_user(actor: User, user: User) -> bool:
    """Operators see everyone; others see themselves and (clients) their organisation's members.

    Expert personal data is visible to operators and the expert alone.
    """
    if is_operator(actor) or actor.id == user.id:
        return True
    return actor.role == Role.client and user.organisation_id == actor.organisation_id


def can_manage_users(actor: User) -> bool:
    """Only operators create users, change roles and deactivate accounts."""
    return is_operator(actor)


def can_view_organisation(actor: User, organisation: Organisation) -> bool:
    """Operators see every organisation; others only their own."""
    return is_operator(actor) or actor.organisation_id == organisation.id


def can_read_audit_log(actor: User) -> bool:
    """Only operators read the audit log."""
    return is_operator(actor)
