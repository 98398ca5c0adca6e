"""Create, find and change organisations and users."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts import events, policies
from expertloop.accounts.models import ROLES_BY_KIND, Organisation, OrganisationKind, Role, User
from expertloop.accounts.passwords import hash_password
from expertloop.accounts.sessions import revoke_all_sessions
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit


def normalise_email(email: str) -> str:
    """Return the canonical (lower-cased, validated) form of an email address."""
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Invalid email address: {exc}") from exc
    return result.normalized.lower()


def slugify(name: str) -> str:
    """Turn an organisation name into a URL-safe slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:60] or "org"


def create_organisation(
    *, session: Session, name: str, kind: OrganisationKind, actor: User | None = None
) -> Organisation:
    """Create an organisation with a unique slug."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Organisation name must not be empty.")
    if kind == OrganisationKind.operator and session.scalar(
        select(Organisation.id).where(Organisation.kind == OrganisationKind.operator)
    ):
        raise Conflict("There is already an operator organisation.")
    base = slugify(name)
    slug, n = base, 1
    while session.scalar(select(Organisation.id).where(Organisation.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    org = Organisation(name=name, slug=slug, kind=kind)
    session.add(org)
    session.flush()
    emit(
        events.OrganisationCreated(
            actor_user_id=actor.id if actor else None,
            organisation_id=org.id,
            subject_type="organisation",
            subject_id=str(org.id),
            name=name,
            org_kind=kind.value,
        ),
        session=session,
    )
    return org


def operator_organisation(*, session: Session) -> Organisation | None:
    """Return the operator's organisation, if it exists."""
    return session.scalar(
        select(Organisation).where(Organisation.kind == OrganisationKind.operator)
    )


def get_organisation(*, session: Session, organisation_id: int, actor: User) -> Organisation:
    """Return an organisation the actor may see, or raise ``NotFound``."""
    org = session.get(Organisation, organisation_id)
    if org is None or not policies.can_view_organisation(actor, org):
        raise NotFound("Organisation not found.")
    return org


def list_organisations(*, session: Session, actor: User) -> list[Organisation]:
    """Return the organisations the actor may see."""
    query = select(Organisation).order_by(Organisation.name)
    if not policies.is_operator(actor):
        query = query.where(Organisation.id == actor.organisation_id)
    return list(session.scalars(query))


def _check_role_fits(org: Organisation, role: Role) -> None:
    if role not in ROLES_BY_KIND[org.kind]:
        allowed = ", ".join(sorted(r.value for r in ROLES_BY_KIND[org.kind]))
        raise ValidationFailed(
            f"A member of a {org.kind.value} organisation can be: {allowed} (not {role.value})."
        )


def create_user(
    *,
    session: Session,
    organisation: Organisation,
    email: str,
    name: str,
    role: Role,
    password: str,
    actor: User | None = None,
    password_hash: str | None = None,
) -> User:
    """Create a user in ``organisation``; ``actor`` None means a trusted caller (CLI, seed).

    ``password_hash`` (from ``passwords.hash_password``) stands in for hashing ``password``: a
    seed making many accounts nobody logs in to hashes one random password once.
    """
    if actor is not None and not policies.can_manage_users(actor):
        raise PermissionDenied("Only operators can create users.")
    _check_role_fits(organisation, role)
    email = normalise_email(email)
    if not name.strip():
        raise ValidationFailed("Name must not be empty.")
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict("A user with this email already exists.")
    user = User(
        organisation_id=organisation.id,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=password_hash or hash_password(password),
    )
    session.add(user)
    session.flush()
    emit(
        events.UserCreated(
            actor_user_id=actor.id if actor else None,
            organisation_id=organisation.id,
            subject_type="user",
            subject_id=str(user.id),
            role=role.value,
        ),
        session=session,
    )
    return user


def find_by_email(*, session: Session, email: str) -> User | None:
    """Return the user with this email (any case), or None."""
    # Emails are stored normalised to lower case, so a plain comparison can use the index.
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def get_user(*, session: Session, user_id: int, actor: User) -> User:
    """Return a user the actor may see, or raise ``NotFound``."""
    user = session.get(User, user_id)
    if user is None or not policies.can_view_user(actor, user):
        raise NotFound("User not found.")
    return user


def list_users(
    *,
    session: Session,
    actor: User | None,
    role: Role | None = None,
    organisation_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[User], int]:
    """Return a page of users the actor may see and the total count; None actor sees all."""
    query = select(User)
    if actor is not None and not policies.is_operator(actor):
        if actor.role == Role.client:
            query = query.where(User.organisation_id == actor.organisation_id)
        else:
            query = query.where(User.id == actor.id)
    if role is not None:
        query = query.where(User.role == role)
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(User.id).limit(limit).offset(offset))
    return list(rows), total


def change_role(*, session: Session, user: User, role: Role, actor: User | None) -> User:
    """Change a user's role (operators only); audit the change."""
    if actor is not None and not policies.can_manage_users(actor):
        raise PermissionDenied("Only operators can change roles.")
    _check_role_fits(user.organisation, role)
    if actor is not None and actor.id == user.id:
        raise ValidationFailed("You cannot change your own role; ask another operator.")
    old = user.role
    if old == role:
        return user
    user.role = role
    session.flush()
    emit(
        events.RoleChanged(
            actor_user_id=actor.id if actor else None,
            organisation_id=user.organisation_id,
            subject_type="user",
            subject_id=str(user.id),
            old_role=old.value,
            new_role=role.value,
        ),
        session=session,
    )
    return user


def set_active(*, session: Session, user: User, active: bool, actor: User | None) -> User:
    """Activate or deactivate an account (operators only); deactivation ends its sessions."""
    if actor is not None and not policies.can_manage_users(actor):
        raise PermissionDenied("Only operators can deactivate users.")
    if actor is not None and actor.id == user.id and not active:
        raise ValidationFailed("You cannot deactivate your own account.")
    user.is_active = active
    session.flush()
    if not active:
        revoke_all_sessions(session=session, user=user)
    event = events.UserReactivated if active else events.UserDeactivated
    emit(
        event(
            actor_user_id=actor.id if actor else None,
            organisation_id=user.organisation_id,
            subject_type="user",
            subject_id=str(user.id),
        ),
        session=session,
    )
    return user


def names_by_id(*, session: Session, user_ids: set[int]) -> dict[int, str]:
    """Return display names for these user ids (trusted callers that checked access: operator
    pages, a lead's team time)."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def role_counts(*, session: Session) -> dict[Role, int]:
    """Return how many active users hold each role."""
    rows = session.execute(
        select(User.role, func.count()).where(User.is_active.is_(True)).group_by(User.role)
    )
    counts = dict.fromkeys(Role, 0)
    counts.update({role: int(n) for role, n in rows})
    return counts


def list_organisations_all(*, session: Session) -> list[Organisation]:
    """Return every organisation (trusted callers: CLI, seed)."""
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def find_organisation(*, session: Session, slug_or_name: str) -> Organisation | None:
    """Return the organisation with this slug or exact name (trusted callers: CLI)."""
    query = select(Organisation).where(
        (Organisation.slug == slug_or_name) | (Organisation.name == slug_or_name)
    )
    return session.scalars(query).first()
