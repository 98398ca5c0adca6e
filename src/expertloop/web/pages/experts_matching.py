"""Pages: find experts (operators): filters and free text, results with why each matched, keyset
pages, and the chosen experts invited to a project in one action (in place with htmx)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from expertloop.accounts.models import User
from expertloop.errors import ExpertLoopError, NotFound, ValidationFailed
from expertloop.experts import matching, policies, taxonomy
from expertloop.experts.matching import MatchPage, MatchQuery
from expertloop.experts.models import LanguageLevel, VettingState
from expertloop.projects import projects as projects_uc
from expertloop.settings import Settings
from expertloop.text import clean
from expertloop.web.api.experts_matching import (
    COUNTRY,
    CURRENCY,
    LANGUAGE,
    check_taxonomy,
    invite_to_project,
)
from expertloop.web.deps import DB, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()
PAGE_SIZE = 25
FIELDS = (
    "q", "domain", "specialty", "language", "min_level", "country", "tz_from", "tz_to",
    "min_hours", "rate_min", "rate_max", "currency", "min_quality",
)  # fmt: skip
CURRENCIES = ("USD", "EUR", "GBP", "INR", "BRL", "CAD", "AUD", "JPY", "CHF")


def _number(form: dict[str, str], key: str, label: str) -> Decimal | None:
    raw = form.get(key, "").strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValidationFailed(f"{label}: give a number.", details={"field": key}) from exc
    if not value.is_finite():
        raise ValidationFailed(f"{label}: give a number.", details={"field": key})
    return value


def _bounded(value: Decimal | None, low: float, high: float, label: str, key: str) -> None:
    if value is not None and not (Decimal(str(low)) <= value <= Decimal(str(high))):
        raise ValidationFailed(f"{label}: between {low} and {high}.", details={"field": key})


def parse_form(form: dict[str, str], states: list[str], settings: Settings) -> MatchQuery:
    """Return the query a filter form asks for; raise ``ValidationFailed`` with the field."""
    text = clean(form.get("q", ""), field="Search text", max_length=500, one_line=True)
    domain = form.get("domain", "").strip() or None
    specialty = form.get("specialty", "").strip() or None
    check_taxonomy(settings, domain, specialty)
    language = form.get("language", "").strip() or None
    if language and not re.match(LANGUAGE, language):
        raise ValidationFailed(
            "Language: a code such as en, fr or pt-BR.", details={"field": "language"}
        )
    level_raw = form.get("min_level", "").strip()
    levels = {lv.value: lv for lv in LanguageLevel}
    if level_raw and level_raw not in levels:
        raise ValidationFailed(
            "Choose a language level from the list.", details={"field": "min_level"}
        )
    country = form.get("country", "").strip().upper() or None
    if country and not re.match(COUNTRY, country):
        raise ValidationFailed(
            "Country: a two-letter code such as DE.", details={"field": "country"}
        )
    currency = form.get("currency", "").strip().upper() or None
    if currency and not re.match(CURRENCY, currency):
        raise ValidationFailed(
            "Currency: a three-letter code such as USD.", details={"field": "currency"}
        )
    tz_from = _number(form, "tz_from", "Time zone from")
    tz_to = _number(form, "tz_to", "Time zone to")
    _bounded(tz_from, -12, 14, "Time zone from (hours from UTC)", "tz_from")
    _bounded(tz_to, -12, 14, "Time zone to (hours from UTC)", "tz_to")
    hours = _number(form, "min_hours", "Hours a week")
    _bounded(hours, 0, 168, "Hours a week", "min_hours")
    rate_min = _number(form, "rate_min", "Lowest rate")
    rate_max = _number(form, "rate_max", "Highest rate")
    _bounded(rate_min, 0, 1_000_000, "Lowest rate", "rate_min")
    _bounded(rate_max, 0, 1_000_000, "Highest rate", "rate_max")
    quality = _number(form, "min_quality", "Quality score")
    _bounded(quality, 0, 1, "Quality score", "min_quality")
    known = {s.value: s for s in VettingState}
    if any(s not in known for s in states):
        raise ValidationFailed("Choose vetting states from the list.", details={"field": "state"})
    chosen = tuple(known[s] for s in dict.fromkeys(states)) or (VettingState.approved,)
    return MatchQuery(
        text=text,
        domain=domain,
        specialty=specialty,
        language=language,
        min_level=levels[level_raw] if level_raw else None,
        country=country,
        utc_offset_min=int(tz_from * 60) if tz_from is not None else None,
        utc_offset_max=int(tz_to * 60) if tz_to is not None else None,
        min_weekly_hours=int(hours) if hours is not None else None,
        rate_min=int(rate_min * 100) if rate_min is not None else None,
        rate_max=int(rate_max * 100) if rate_max is not None else None,
        currency=currency,
        states=chosen,
        min_quality=float(quality) if quality is not None else None,
    )


def _form_values(request: Request) -> tuple[dict[str, str], list[str]]:
    params = request.query_params
    return {k: params.get(k, "")[:500] for k in FIELDS}, params.getlist("state")[:20]


def _context(
    settings: Settings,
    form: dict[str, str],
    states: list[str],
    page: MatchPage | None,
    after: str,
    projects: list[Any],
) -> dict[str, Any]:
    pairs = [(k, v) for k, v in form.items() if v] + [("state", s) for s in states]
    return {
        "form": form,
        "states_chosen": set(states) or {VettingState.approved.value},
        "all_states": [s.value for s in VettingState],
        "levels": [lv.value for lv in LanguageLevel],
        "domains": list(taxonomy.domains(settings.expert_taxonomy_file).values()),
        "currencies": CURRENCIES,
        "page": page,
        "after": after,
        "projects": projects,
        "query_string": urlencode(pairs),
        "next_href": (
            "/experts/search?" + urlencode([*pairs, ("after", page.next_cursor)])
            if page and page.next_cursor
            else ""
        ),
        "first_href": "/experts/search?" + urlencode(pairs) if after else "",
    }


def _projects(db: DB, user: User) -> list[Any]:
    rows, _ = projects_uc.list_projects(session=db, actor=user, limit=200)
    return rows


@router.get("/experts/search")
def search_page(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """Show the search form and, once anything is asked, a page of results."""
    if not policies.can_match(user):
        raise NotFound("Page not found.")
    form, states = _form_values(request)
    after = request.query_params.get("after", "")[:400]
    asked = any(form.values()) or bool(states) or "go" in request.query_params
    error = ""
    status = 200
    page = None
    if asked:
        try:
            query = parse_form(form, states, settings)
            page = matching.search(db, user, query, after=after or None, limit=PAGE_SIZE)
        except ExpertLoopError as exc:
            error = exc.message
            status = status_for(exc)
    ctx = _context(settings, form, states, page, after, _projects(db, user) if page else [])
    ctx["error"] = error
    return render(request, "experts/match.html", ctx, status)


@router.post("/experts/search/invite")
def invite(
    request: Request,
    user: CurrentUser,
    db: DB,
    project_id: Annotated[str, Form(max_length=12)] = "",
    user_id: Annotated[list[str] | None, Form()] = None,
    back: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Staff the ticked experts on the chosen project; say who was staffed, skipped, refused."""
    if not policies.can_match(user):
        raise NotFound("Page not found.")
    in_place = request.headers.get("HX-Request") == "true"
    back = back if back.startswith("/experts/search") else "/experts/search"
    ids = [int(v) for v in (user_id or [])[:200] if v.strip().isdigit()]
    ctx: dict[str, Any] = {"back": back, "result": None, "error": ""}
    try:
        if not project_id.strip().isdigit():
            raise ValidationFailed(
                "Choose the project to invite them to.", details={"field": "project_id"}
            )
        if not ids:
            raise ValidationFailed("Tick at least one expert.", details={"field": "user_id"})
        ctx["result"] = invite_to_project(
            session=db, actor=user, project_id=int(project_id), user_ids=ids
        )
        status = 200
    except ExpertLoopError as exc:
        ctx["error"] = exc.message
        status = status_for(exc)
    if in_place:
        # Swapped into the page whatever happened: the refusal is read where the button was.
        return render(request, "experts/_match_invite.html", ctx)
    return render(request, "experts/match_invited.html", ctx, status)
