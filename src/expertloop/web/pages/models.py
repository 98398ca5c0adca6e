"""The Models page (operators): connect, test and retire endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import OrganisationKind
from expertloop.accounts.users import list_organisations_all
from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import TEST_REQUEST
from expertloop.llm.models import ModelEndpoint
from expertloop.llm.policies import can_manage_endpoints
from expertloop.llm.registry import PROVIDERS
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, CurrentUser, Hub
from expertloop.web.templating import render

router = APIRouter(prefix="/models")


def _check(user: CurrentUser) -> None:
    if not can_manage_endpoints(user):
        raise PermissionDenied("Only operators manage model endpoints.")


def _page(request: Request, db: DB, status: int = 200, **extra: object) -> Response:
    endpoints = endpoints_uc.list_endpoints(session=db)
    orgs = {
        o.id: o for o in list_organisations_all(session=db) if o.kind == OrganisationKind.client
    }
    context = {
        "endpoints": endpoints,
        "providers": list(PROVIDERS),
        "orgs": orgs,
        "form": {},
        **extra,
    }
    return render(request, "models.html", context, status)


@router.get("")
def models_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """List endpoints with the form to add one."""
    _check(user)
    return _page(request, db)


@router.post("")
def models_add(
    request: Request,
    user: CurrentUser,
    db: DB,
    hub: Hub,
    name: Annotated[str, Form(max_length=100)] = "",
    provider: Annotated[str, Form(max_length=40)] = "openai_compatible",
    base_url: Annotated[str, Form(max_length=500)] = "",
    model_id: Annotated[str, Form(max_length=200)] = "",
    api_key: Annotated[str, Form(max_length=2000)] = "",
    temperature: Annotated[str, Form(max_length=10)] = "",
    max_tokens: Annotated[str, Form(max_length=10)] = "",
    seed: Annotated[str, Form(max_length=20)] = "",
    organisation_id: Annotated[str, Form(max_length=20)] = "",
    system_prompt: Annotated[str, Form()] = "",
) -> Response:
    """Add an endpoint, or show the form again with the reason (the key is never echoed)."""
    _check(user)
    form = {
        "name": name,
        "provider": provider,
        "base_url": base_url,
        "model_id": model_id,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
        "system_prompt": system_prompt,
    }
    try:
        defaults = {
            "temperature": float(temperature) if temperature.strip() else None,
            "max_tokens": int(max_tokens) if max_tokens.strip() else None,
            "seed": int(seed) if seed.strip() else None,
            "system_prompt": system_prompt or None,
        }
    except ValueError:
        return _page(
            request, db, 422, form=form, error="Temperature, max tokens and seed must be numbers."
        )
    try:
        name = clean_text(name, field="Name", max_length=100, one_line=True)
        base_url = clean_text(base_url, field="Base URL", max_length=500, one_line=True)
        model_id = clean_text(model_id, field="Model ID", max_length=200, one_line=True)
        system_prompt = clean_text(system_prompt, field="System prompt", max_length=20_000)
        defaults["system_prompt"] = system_prompt or None
        endpoints_uc.add_endpoint(
            session=db,
            actor=user,
            box=hub.box,
            policy=hub.runtime.policy,
            name=name,
            provider=provider,
            model_id=model_id,
            base_url=base_url,
            api_key=api_key or None,
            defaults=defaults,
            organisation_id=int(organisation_id) if organisation_id.isdigit() else None,
        )
    except ValidationFailed as exc:
        return _page(request, db, 422, form=form, error=exc.message)
    return RedirectResponse("/models", status_code=303)


@router.post("/{endpoint_id}/test")
async def models_test(
    request: Request, endpoint_id: int, user: CurrentUser, db: DB, hub: Hub
) -> Response:
    """Send a short prompt; answer with a fragment (htmx) showing how the endpoint replied."""
    _check(user)
    endpoint = await run_in_threadpool(_load, db, endpoint_id)
    result = await hub.complete(endpoint, TEST_REQUEST)
    return render(request, "_model_test.html", {"endpoint": endpoint, "result": result})


def _load(db: DB, endpoint_id: int) -> ModelEndpoint:
    endpoint = endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    db.commit()  # hold no transaction while waiting for the model
    return endpoint


@router.post("/{endpoint_id}/remove")
def models_remove(endpoint_id: int, user: CurrentUser, db: DB) -> Response:
    """Retire an endpoint."""
    _check(user)
    endpoint = endpoints_uc.get_endpoint(session=db, endpoint_id=endpoint_id)
    endpoints_uc.remove_endpoint(session=db, actor=user, endpoint=endpoint)
    return RedirectResponse("/models", status_code=303)
