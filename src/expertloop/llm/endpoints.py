"""Connect, list, change and remove model endpoints (operators only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Organisation, OrganisationKind, User
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.llm import events, policies
from expertloop.llm.models import ModelEndpoint
from expertloop.llm.registry import NEEDS_URL, check_provider
from expertloop.llm.secrets_box import SecretBox
from expertloop.llm.ssrf import AddressPolicy, check_endpoint_url_sync, normalise_url
from expertloop.types import utcnow


def _require_operator(actor: User | None) -> None:
    if actor is not None and not policies.can_manage_endpoints(actor):
        raise PermissionDenied("Only operators manage model endpoints.")


def _clean_defaults(defaults: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (defaults or {}).items() if v is not None}


def add_endpoint(
    *,
    session: Session,
    actor: User | None,
    box: SecretBox,
    policy: AddressPolicy,
    name: str,
    provider: str,
    model_id: str,
    base_url: str = "",
    api_key: str | None = None,
    defaults: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    rate_limit_per_second: float | None = None,
    organisation_id: int | None = None,
) -> ModelEndpoint:
    """Save a new endpoint; the URL is checked against the address policy first.

    ``organisation_id`` makes it one client's own model (e.g. their unreleased checkpoint);
    None shares it with every client.
    """
    _require_operator(actor)
    if organisation_id is not None:
        org = session.get(Organisation, organisation_id)
        if org is None or org.kind != OrganisationKind.client:
            raise ValidationFailed("An endpoint can belong only to a client organisation.")
    check_provider(provider)
    name = name.strip()
    if not name or not model_id.strip():
        raise ValidationFailed("Name and model id must not be empty.")
    if provider in NEEDS_URL:
        if not base_url.strip():
            raise ValidationFailed("This provider needs a base URL, e.g. https://host/v1.")
        check_endpoint_url_sync(base_url, policy)
    if session.scalar(select(ModelEndpoint.id).where(ModelEndpoint.name == name)):
        raise Conflict(f"An endpoint named {name!r} already exists.")
    endpoint = ModelEndpoint(
        name=name,
        organisation_id=organisation_id,
        provider=provider,
        base_url=normalise_url(base_url) if base_url.strip() else "",
        model_id=model_id.strip(),
        api_key_encrypted=box.encrypt(api_key) if api_key else None,
        defaults=_clean_defaults(defaults),
        options=options or {},
        rate_limit_per_second=rate_limit_per_second,
        created_by_id=actor.id if actor else None,
    )
    session.add(endpoint)
    session.flush()
    emit(
        events.EndpointAdded(
            actor_user_id=actor.id if actor else None,
            subject_type="model_endpoint",
            subject_id=str(endpoint.id),
            name=name,
            provider=provider,
        ),
        session=session,
    )
    return endpoint


def list_endpoints(*, session: Session, include_removed: bool = False) -> list[ModelEndpoint]:
    """Return endpoints by name (active ones unless asked otherwise)."""
    query = select(ModelEndpoint).order_by(ModelEndpoint.name)
    if not include_removed:
        query = query.where(ModelEndpoint.is_active.is_(True))
    return list(session.scalars(query))


def available_to(organisation_id: int) -> ColumnElement[bool]:
    """Return the condition: shared with every client, or this organisation's own."""
    return or_(
        ModelEndpoint.organisation_id.is_(None), ModelEndpoint.organisation_id == organisation_id
    )


def list_available(*, session: Session, organisation_id: int) -> list[ModelEndpoint]:
    """Return the active endpoints a client organisation may choose from."""
    query = (
        select(ModelEndpoint)
        .where(ModelEndpoint.is_active.is_(True), available_to(organisation_id))
        .order_by(ModelEndpoint.name)
    )
    return list(session.scalars(query))


def is_available(endpoint: ModelEndpoint, organisation_id: int) -> bool:
    """Tell whether a client organisation may use this endpoint."""
    return endpoint.organisation_id in (None, organisation_id)


def get_endpoint(*, session: Session, endpoint_id: int, active: bool = True) -> ModelEndpoint:
    """Return an endpoint or raise ``NotFound``."""
    endpoint = session.get(ModelEndpoint, endpoint_id)
    if endpoint is None or (active and not endpoint.is_active):
        raise NotFound("Model endpoint not found.")
    return endpoint


def find_endpoint(*, session: Session, name_or_id: str) -> ModelEndpoint:
    """Return an active endpoint by name or id (CLI)."""
    query = select(ModelEndpoint).where(ModelEndpoint.is_active.is_(True))
    if name_or_id.isdigit():
        query = query.where(ModelEndpoint.id == int(name_or_id))
    else:
        query = query.where(ModelEndpoint.name == name_or_id)
    endpoint = session.scalar(query)
    if endpoint is None:
        raise NotFound(f"No model endpoint {name_or_id!r}.")
    return endpoint


def update_endpoint(
    *,
    session: Session,
    actor: User | None,
    box: SecretBox,
    policy: AddressPolicy,
    endpoint: ModelEndpoint,
    version: int,
    changes: dict[str, Any],
) -> ModelEndpoint:
    """Change an endpoint when ``version`` is current (else ``Conflict``)."""
    _require_operator(actor)
    if version != endpoint.version:
        raise Conflict(
            "The endpoint was changed meanwhile; reload it.",
            details={"current_version": endpoint.version},
        )
    changed: list[str] = []
    if changes.get("base_url") is not None:
        if endpoint.provider in NEEDS_URL:
            check_endpoint_url_sync(changes["base_url"], policy)
        endpoint.base_url = normalise_url(changes["base_url"])
        changed.append("base_url")
    new_name = changes.get("name")
    if new_name is not None and new_name.strip() != endpoint.name:
        taken = select(ModelEndpoint.id).where(
            ModelEndpoint.name == new_name.strip(), ModelEndpoint.id != endpoint.id
        )
        if session.scalar(taken):
            raise Conflict(f"An endpoint named {new_name.strip()!r} already exists.")
    for key in ("name", "model_id"):
        if changes.get(key) is not None and not str(changes[key]).strip():
            raise ValidationFailed("Name and model id must not be empty.")
        if changes.get(key) is not None:
            setattr(endpoint, key, str(changes[key]).strip())
            changed.append(key)
    if "api_key" in changes and changes["api_key"] is not None:
        key_value = changes["api_key"]
        endpoint.api_key_encrypted = box.encrypt(key_value) if key_value else None
        changed.append("api_key")
    if changes.get("defaults") is not None:
        endpoint.defaults = _clean_defaults(changes["defaults"])
        changed.append("defaults")
    if "rate_limit_per_second" in changes:
        endpoint.rate_limit_per_second = changes["rate_limit_per_second"]
        changed.append("rate_limit_per_second")
    if changed:
        endpoint.updated_at = utcnow()
        session.flush()
        emit(
            events.EndpointUpdated(
                actor_user_id=actor.id if actor else None,
                subject_type="model_endpoint",
                subject_id=str(endpoint.id),
                fields=tuple(changed),
            ),
            session=session,
        )
    return endpoint


def remove_endpoint(*, session: Session, actor: User | None, endpoint: ModelEndpoint) -> None:
    """Retire an endpoint: its runs stay for provenance; it can no longer be chosen or called."""
    _require_operator(actor)
    endpoint.is_active = False
    endpoint.api_key_encrypted = None  # a retired endpoint keeps no credential
    endpoint.name = f"{endpoint.name} (removed #{endpoint.id})"[:100]
    session.flush()
    emit(
        events.EndpointRemoved(
            actor_user_id=actor.id if actor else None,
            subject_type="model_endpoint",
            subject_id=str(endpoint.id),
            name=endpoint.name,
        ),
        session=session,
    )
