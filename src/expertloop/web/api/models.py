"""Model endpoints (operators), with a connection test."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import Role
from expertloop.errors import PermissionDenied
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import TEST_REQUEST
from expertloop.llm.models import ModelEndpoint
from expertloop.llm.policies import can_manage_endpoints
from expertloop.llm.schemas import (
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointPublicOut,
    EndpointTestOut,
)
from expertloop.web.api.common import ERRORS
from expertloop.web.deps import DB, CurrentUser, Hub

router = APIRouter(prefix="/models", tags=["models"], responses=ERRORS)


def _require_operator(user: CurrentUser) -> None:
    if not can_manage_endpoints(user):
        raise PermissionDenied("Only operators manage model endpoints.")


@router.get("", response_model=list[EndpointOut] | list[EndpointPublicOut])
def list_models(user: CurrentUser, db: DB) -> list[EndpointOut] | list[EndpointPublicOut]:
    """List model endpoints (operators: everything but keys; clients: names to choose from)."""
    if can_manage_endpoints(user):
        return [EndpointOut.model_validate(r) for r in endpoints_uc.list_endpoints(session=db)]
    if user.role == Role.client:
        rows = endpoints_uc.list_available(session=db, organisation_id=user.organisation_id)
        return [EndpointPublicOut.model_validate(r) for r in rows]
    raise PermissionDenied("Only operators and clients list model endpoints.")


@router.post("", response_model=EndpointOut, status_code=201)
def add_model(body: EndpointIn, user: CurrentUser, db: DB, hub: Hub) -> EndpointOut:
    """Connect a model endpoint; its URL must pass the address policy; the key is encrypted."""
    _require_operator(user)
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=user,
        box=hub.box,
        policy=hub.runtime.policy,
        name=body.name,
        provider=body.provider,
        model_id=body.model_id,
        base_url=body.base_url,
        api_key=body.api_key.get_secret_value() if body.api_key else None,
        defaults=body.defaults.model_dump(),
        options=body.options,
        rate_limit_per_second=body.rate_limit_per_second,
        organisation_id=body.organisation_id,
    )
    return EndpointOut.model_validate(endpoint)


@router.get("/{endpoint_id}", response_model=EndpointOut)
def get_model(endpoint_id: int, user: CurrentUser, db: DB) -> EndpointOut:
    """Return one endpoint (operators)."""
    _require_operator(user)
    return EndpointOut.model_validate(
        endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    )


@router.patch("/{endpoint_id}", response_model=EndpointOut)
def update_model(
    endpoint_id: int, body: EndpointPatch, user: CurrentUser, db: DB, hub: Hub
) -> EndpointOut:
    """Change an endpoint; send the version you edited (stale: 409)."""
    _require_operator(user)
    endpoint = endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    changes = body.model_dump(exclude={"version", "api_key"}, exclude_unset=True)
    if body.api_key is not None:
        changes["api_key"] = body.api_key.get_secret_value()
    updated = endpoints_uc.update_endpoint(
        session=db,
        actor=user,
        box=hub.box,
        policy=hub.runtime.policy,
        endpoint=endpoint,
        version=body.version,
        changes=changes,
    )
    return EndpointOut.model_validate(updated)


@router.delete("/{endpoint_id}", status_code=204)
def remove_model(endpoint_id: int, user: CurrentUser, db: DB) -> None:
    """Retire an endpoint (its runs stay)."""
    _require_operator(user)
    endpoint = endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    endpoints_uc.remove_endpoint(session=db, actor=user, endpoint=endpoint)


@router.post("/{endpoint_id}/test", response_model=EndpointTestOut)
async def test_model(endpoint_id: int, user: CurrentUser, db: DB, hub: Hub) -> EndpointTestOut:
    """Send a short prompt and report how the endpoint answered (operators see its errors)."""
    _require_operator(user)
    endpoint = await run_in_threadpool(_load, db, endpoint_id)
    result = await hub.complete(endpoint, TEST_REQUEST)
    return EndpointTestOut(
        ok=result.status.value == "ok",
        status=result.status.value,
        answer=result.text,
        error=result.error,
        upstream_error=result.upstream_error,
        latency_ms=result.latency_ms,
        ttft_ms=result.ttft_ms,
    )


def _load(db: Session, endpoint_id: int) -> ModelEndpoint:
    endpoint = endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    db.commit()  # hold no transaction while waiting for the model
    return endpoint
