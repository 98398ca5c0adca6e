"""Pages: operators invite (one address or a CSV, with a per-row result table) and see and
revoke a candidate's links; the public join page (``/join/{token}``); the expert's own profile
(``/profile``) and referrals (``/refer``)."""

from __future__ import annotations

import decimal
import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from expertloop.accounts import sessions
from expertloop.accounts.models import Role, User
from expertloop.errors import ExpertLoopError, Gone, NotFound, ValidationFailed
from expertloop.experts import invitations, policies, profiles, referrals, taxonomy
from expertloop.experts.invitations import InviteSummary
from expertloop.mail import mailer_from_settings
from expertloop.payments.money import minor_digits
from expertloop.settings import Settings
from expertloop.web.api.experts_outreach import MAX_CSV_BYTES, csv_lines
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.security import (
    ANON_CSRF_COOKIE,
    CsrfRejected,
    check_origin,
    new_anon_csrf_token,
    tokens_match,
)
from expertloop.web.session_cookie import set_session_cookie
from expertloop.web.templating import render

router = APIRouter()
LEVELS = ("native", "C2", "C1", "B2", "B1", "A2", "A1")
LANGUAGE_ROWS = 3  # blank language rows the form offers beyond those already given


def _operator(user: User) -> None:
    if not policies.can_vet(user):
        raise NotFound("Page not found.")


def _domains(settings: Settings) -> list[taxonomy.Domain]:
    return list(taxonomy.domains(settings.expert_taxonomy_file).values())


def _form_context(settings: Settings) -> dict[str, Any]:
    return {
        "taxonomy": _domains(settings),
        "levels": LEVELS,
        "currencies": profiles.COMMON_CURRENCIES,
        "time_zones": sorted(profiles.time_zones()),
        "language_rows": LANGUAGE_ROWS,
    }


# --- The profile form (join and /profile) -----------------------------------------------------


def _int(raw: str, field: str, label: str, errors: dict[str, str]) -> int:
    raw = raw.strip()
    if not raw:
        return 0
    try:
        return int(raw)
    except ValueError:
        errors[field] = f"{label} is a whole number."
        return 0


RATE_PATTERN = re.compile(r"[0-9]{1,15}(?:\.[0-9]{0,6})?|\.[0-9]{1,6}", re.ASCII)


def _version(raw: str) -> int | None:
    """Return the form's profile version, None when it is not a plain (ASCII) whole number."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()):
        return None
    try:
        return int(raw)
    except ValueError:  # longer than Python converts
        return None


def _rate(raw: str, currency: str, errors: dict[str, str]) -> int | None:
    """Return the typed rate in minor units: plain digits and a point only (no exponent), so a
    rate like ``1e400`` is refused instead of overflowing; the profile bounds the value."""
    raw = raw.strip().replace(",", "")
    if not raw:
        return None
    if not RATE_PATTERN.fullmatch(raw):
        errors["rate"] = "The desired rate is a number, e.g. 85 or 85.50."
        return None
    try:
        amount = decimal.Decimal(raw)
        digits = minor_digits(currency.strip().upper() or "USD")
        return int(amount.scaleb(digits).to_integral_value(decimal.ROUND_HALF_UP))
    except (decimal.DecimalException, ValueError, OverflowError):
        errors["rate"] = "The desired rate is a number, e.g. 85 or 85.50."
        return None


def profile_from_form(
    *,
    expertise: list[str],
    headline: str,
    years_experience: str,
    country: str,
    time_zone: str,
    language: list[str],
    level: list[str],
    weekly_hours: str,
    rate: str,
    rate_currency: str,
    resume: str,
    links: str,
    phone: str,
) -> tuple[profiles.ProfileData, dict[str, str]]:
    """Return the profile typed into the form and the problems only the form can tell."""
    errors: dict[str, str] = {}
    domains = []
    for item in expertise:
        if item.strip():
            domain, _, specialty = item.partition(":")
            domains.append((domain.strip(), specialty.strip()))
    data = profiles.ProfileData(
        headline=headline,
        domains=domains,
        years_experience=_int(years_experience, "years_experience", "Years of experience", errors),
        country=country,
        time_zone=time_zone,
        languages=[(t, lv) for t, lv in zip(language, level, strict=False) if t.strip()],
        weekly_hours=_int(weekly_hours, "weekly_hours", "Weekly hours", errors),
        rate_minor=_rate(rate, rate_currency, errors),
        rate_currency=rate_currency or "USD",
        resume=resume,
        links=[line.strip() for line in links.splitlines() if line.strip()],
        phone=phone,
    )
    return data, errors


def _values(data: profiles.ProfileData, **extra: str) -> dict[str, Any]:
    """Return the form's values to show again (what was typed, or what is stored)."""
    digits = minor_digits(data.rate_currency or "USD")
    rate = (
        ""
        if data.rate_minor is None
        else f"{decimal.Decimal(data.rate_minor).scaleb(-digits):.{digits}f}"
    )
    return {
        "expertise": [f"{d}:{s}" for d, s in data.domains],
        "headline": data.headline,
        "years_experience": str(data.years_experience or ""),
        "country": data.country,
        "time_zone": data.time_zone,
        "languages": list(data.languages),
        "weekly_hours": str(data.weekly_hours or ""),
        "rate": rate,
        "rate_currency": data.rate_currency or "USD",
        "resume": data.resume,
        "links": "\n".join(data.links),
        "phone": data.phone,
        **extra,
    }


# --- Join (public) -------------------------------------------------------------------------------


def _join_page(
    request: Request,
    settings: Settings,
    token: str,
    summary: invitations.InvitationSummary,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    csrf = request.cookies.get(ANON_CSRF_COOKIE) or new_anon_csrf_token()
    defaults = {
        "name": summary.name,
        "expertise": [f"{summary.domain}:"] if summary.domain else [],
        "languages": [],
        "rate_currency": "USD",
    }
    context = {
        "token": token,
        "invitation": summary,
        "join_csrf": csrf,
        "v": values or defaults,
        "errors": errors or {},
        "error": error,
        **_form_context(settings),
    }
    response = render(request, "experts/join.html", context, status)
    response.set_cookie(
        ANON_CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=bool(settings.cookie_secure),
        path="/join",
    )
    return response


def _gone(request: Request, exc: ExpertLoopError) -> Response:
    status = status_for(exc)
    return render(
        request, "experts/join_gone.html", {"message": exc.message, "status": status}, status
    )


@router.get("/join/{token}")
def join_form(request: Request, token: str, db: DB, settings: AppSettings) -> Response:
    """Show the invitation and the application form (no login: the link is the key)."""
    try:
        summary = invitations.lookup(db, token=token, settings=settings)
    except (NotFound, Gone) as exc:
        return _gone(request, exc)
    return _join_page(request, settings, token, summary)


@router.post("/join/{token}")
def join_submit(
    request: Request,
    token: str,
    db: DB,
    ip: IP,
    settings: AppSettings,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    expertise: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006 - FastAPI default
    headline: Annotated[str, Form(max_length=400)] = "",
    years_experience: Annotated[str, Form(max_length=10)] = "",
    country: Annotated[str, Form(max_length=10)] = "",
    time_zone: Annotated[str, Form(max_length=100)] = "",
    language: Annotated[list[str], Form(max_length=40)] = [],  # noqa: B006
    level: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006
    weekly_hours: Annotated[str, Form(max_length=10)] = "",
    rate: Annotated[str, Form(max_length=20)] = "",
    rate_currency: Annotated[str, Form(max_length=10)] = "USD",
    resume: Annotated[str, Form(max_length=40_000)] = "",
    links: Annotated[str, Form(max_length=6000)] = "",
    phone: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """Apply: make the account and profile, log in, and go to the status page."""
    try:
        summary = invitations.lookup(db, token=token, settings=settings)
    except (NotFound, Gone) as exc:
        return _gone(request, exc)
    check_origin(request, base_url=settings.base_url)
    if not tokens_match(request.cookies.get(ANON_CSRF_COOKIE), csrf_token):
        raise CsrfRejected("The form expired. Reload the page and try again.")
    data, errors = profile_from_form(
        expertise=expertise, headline=headline, years_experience=years_experience,
        country=country, time_zone=time_zone, language=language, level=level,
        weekly_hours=weekly_hours, rate=rate, rate_currency=rate_currency, resume=resume,
        links=links, phone=phone,
    )  # fmt: skip
    join = invitations.JoinData(name=name, password=password, profile=data)
    problems = {**invitations.check_join(join, settings=settings), **errors}
    values = _values(data, name=name)
    values["languages"] = [(t, lv) for t, lv in zip(language, level, strict=False) if t.strip()]
    if problems:
        return _join_page(
            request, settings, token, summary, values=values, errors=problems,
            error="Some answers need another look; they are marked below.", status=422,
        )  # fmt: skip
    try:
        with db.begin_nested():
            user = invitations.accept(db, token=token, data=join, settings=settings, ip=ip)
    except Gone as exc:
        return _gone(request, exc)
    except ExpertLoopError as exc:
        fields = exc.details.get("fields") if isinstance(exc, ValidationFailed) else None
        return _join_page(
            request, settings, token, summary, values=values,
            errors=fields if isinstance(fields, dict) else {}, error=exc.message,
            status=status_for(exc),
        )  # fmt: skip
    secret, _row = sessions.start_session(
        session=db,
        user=user,
        max_age_seconds=settings.session_max_age_seconds,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    response = RedirectResponse("/vetting", status_code=303)
    set_session_cookie(response, settings, secret)
    response.delete_cookie(ANON_CSRF_COOKIE, path="/join")
    return response


# --- The expert's own profile -------------------------------------------------------------------


def _has_profile_role(user: User) -> bool:
    return user.role in (Role.expert, Role.reviewer)


def _profile_page(
    request: Request,
    db: DB,
    settings: Settings,
    user: User,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str = "",
    saved: bool = False,
    status: int = 200,
) -> Response:
    view = profiles.get_profile(db, actor=user, user_id=user.id)
    if values is None:
        values = _values(view.data) if view else {"expertise": [], "languages": []}
    context = {
        "view": view,
        "v": values,
        "errors": errors or {},
        "error": error,
        "saved": saved,
        "version": view.version if view else "",
        **_form_context(settings),
    }
    return render(request, "experts/profile.html", context, status)


@router.get("/profile")
def profile_page(request: Request, user: CurrentUser, db: DB, settings: AppSettings) -> Response:
    """Show the expert's own profile in its edit form (contact data: only them and operators)."""
    if not _has_profile_role(user):
        raise NotFound("Only experts and reviewers have an expert profile.")
    return _profile_page(
        request, db, settings, user, saved=request.query_params.get("saved") == "1"
    )


@router.post("/profile")
def profile_save(
    request: Request,
    user: CurrentUser,
    db: DB,
    ip: IP,
    settings: AppSettings,
    version: Annotated[str, Form(max_length=12)] = "",
    expertise: Annotated[list[str], Form(max_length=200)] = [],  # noqa: B006
    headline: Annotated[str, Form(max_length=400)] = "",
    years_experience: Annotated[str, Form(max_length=10)] = "",
    country: Annotated[str, Form(max_length=10)] = "",
    time_zone: Annotated[str, Form(max_length=100)] = "",
    language: Annotated[list[str], Form(max_length=40)] = [],  # noqa: B006
    level: Annotated[list[str], Form(max_length=10)] = [],  # noqa: B006
    weekly_hours: Annotated[str, Form(max_length=10)] = "",
    rate: Annotated[str, Form(max_length=20)] = "",
    rate_currency: Annotated[str, Form(max_length=10)] = "USD",
    resume: Annotated[str, Form(max_length=40_000)] = "",
    links: Annotated[str, Form(max_length=6000)] = "",
    phone: Annotated[str, Form(max_length=80)] = "",
) -> Response:
    """Save the expert's own profile; problems are shown at their fields, nothing is lost."""
    if not _has_profile_role(user):
        raise NotFound("Only experts and reviewers have an expert profile.")
    data, errors = profile_from_form(
        expertise=expertise, headline=headline, years_experience=years_experience,
        country=country, time_zone=time_zone, language=language, level=level,
        weekly_hours=weekly_hours, rate=rate, rate_currency=rate_currency, resume=resume,
        links=links, phone=phone,
    )  # fmt: skip
    _, problems = profiles.check(data, extra_file=settings.expert_taxonomy_file)
    problems.update(errors)
    values = _values(data)
    values["languages"] = [(t, lv) for t, lv in zip(language, level, strict=False) if t.strip()]
    if problems:
        return _profile_page(
            request, db, settings, user, values=values, errors=problems,
            error="Some answers need another look; they are marked below.", status=422,
        )  # fmt: skip
    try:
        with db.begin_nested():
            profiles.save_profile(
                db,
                actor=user,
                user_id=user.id,
                data=data,
                expected_version=_version(version),
                extra_file=settings.expert_taxonomy_file,
                ip=ip,
            )
    except ExpertLoopError as exc:
        return _profile_page(
            request, db, settings, user, values=values, error=exc.message,
            status=status_for(exc),
        )  # fmt: skip
    return RedirectResponse("/profile?saved=1", status_code=303)


# --- Referrals ----------------------------------------------------------------------------------


def _refer_page(request: Request, db: DB, user: User, status: int = 200, **extra: Any) -> Response:
    context = {
        "referrals": referrals.my_referrals(db, actor=user),
        "can_refer": referrals.can_refer(db, user),
        "pending": referrals.pending_count(db, user.id),
        "max_pending": referrals.MAX_PENDING,
        "result": None,
        "error": "",
        "form": {},
        **extra,
    }
    return render(request, "experts/refer.html", context, status)


@router.get("/refer")
def refer_page(request: Request, user: CurrentUser, db: DB) -> Response:
    """Show the expert's referrals and, when they are approved, the form to refer a peer."""
    if not _has_profile_role(user):
        raise NotFound("Only experts refer peers.")
    return _refer_page(request, db, user)


@router.post("/refer")
def refer_submit(
    request: Request,
    user: CurrentUser,
    db: DB,
    ip: IP,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Refer a peer by email; the result is shown above the list."""
    if not _has_profile_role(user):
        raise NotFound("Only experts refer peers.")
    try:
        with db.begin_nested():
            result = referrals.refer(
                db, actor=user, email=email, name=name, settings=settings,
                mailer=mailer_from_settings(settings), ip=ip,
            )  # fmt: skip
    except ExpertLoopError as exc:
        return _refer_page(
            request, db, user, status_for(exc), error=exc.message,
            form={"email": email, "name": name},
        )  # fmt: skip
    if result.outcome == "failed":
        return _refer_page(
            request, db, user, 422, error=result.message, form={"email": email, "name": name}
        )
    return _refer_page(request, db, user, result=result)


# --- Operators: invite, a candidate's links, revoke ---------------------------------------------


def _invite_page(request: Request, settings: Settings, status: int = 200, **extra: Any) -> Response:
    context = {
        "domains": _domains(settings),
        "results": None,
        "counts": None,
        "error": "",
        "form": {},
        "max_mb": MAX_CSV_BYTES // (1024 * 1024),
        "days": settings.invitation_days,
        **extra,
    }
    return render(request, "experts/invite.html", context, status)


@router.get("/candidates/invite")
def invite_page(request: Request, user: CurrentUser, settings: AppSettings) -> Response:
    """Show the forms to invite one address or a CSV file of them."""
    _operator(user)
    return _invite_page(request, settings)


@router.post("/candidates/invite")
def invite_submit(
    request: Request,
    user: CurrentUser,
    db: DB,
    ip: IP,
    settings: AppSettings,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    domain: Annotated[str, Form(max_length=80)] = "",
    resend: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """Invite one address; the result (with the link, shown once) is shown on the page."""
    _operator(user)
    with db.begin_nested():
        result = invitations.invite(
            db, actor=user, email=email, name=name, domain=domain, settings=settings,
            mailer=mailer_from_settings(settings), resend=bool(resend), ip=ip,
        )  # fmt: skip
    summary = InviteSummary()
    summary.add(result)
    form = {"email": email, "name": name, "domain": domain} if not result.ok else {}
    return _invite_page(
        request, settings, 422 if not result.ok else 200,
        results=[result], counts=summary.counts, form=form,
    )  # fmt: skip


@router.post("/candidates/invite/csv")
def invite_csv_submit(
    request: Request,
    user: CurrentUser,
    db: DB,
    ip: IP,
    settings: AppSettings,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Invite every row of an uploaded CSV; show a result per row with its row number."""
    _operator(user)
    if file is None or not file.filename:
        return _invite_page(request, settings, 422, error="Choose a CSV file to upload.")
    if file.size is not None and file.size > MAX_CSV_BYTES:
        return _invite_page(
            request, settings, 413,
            error=f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB; split it up.",
        )  # fmt: skip
    summary = InviteSummary()
    results = []
    try:
        for result in invitations.invite_csv(
            db, actor=user, lines=csv_lines(file.file), settings=settings,
            mailer=mailer_from_settings(settings), ip=ip,
        ):  # fmt: skip
            summary.add(result)
            results.append(result)
    except ValidationFailed as exc:
        return _invite_page(
            request, settings, 422, error=exc.message, results=results or None,
            counts=summary.counts if results else None,
        )  # fmt: skip
    return _invite_page(request, settings, results=results, counts=summary.counts)


def _links_context(db: DB, user: User, candidate_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "links": invitations.for_candidate(db, actor=user, candidate_id=candidate_id),
        "candidate_id": candidate_id,
        "error": "",
        **extra,
    }


@router.get("/candidates/{candidate_id}/invitations")
def candidate_links(request: Request, candidate_id: int, user: CurrentUser, db: DB) -> Response:
    """List a candidate's links with revoke buttons (a partial for htmx, or a whole page)."""
    context = _links_context(db, user, candidate_id)
    if request.headers.get("HX-Request") == "true":
        return render(request, "experts/invite_links.html", context)
    return render(request, "experts/invite_links_page.html", context)


@router.post("/invitations/{invitation_id}/revoke")
def revoke_link(
    request: Request, invitation_id: int, user: CurrentUser, db: DB, ip: IP
) -> Response:
    """Revoke a link; in place with htmx, else back to the candidate's page."""
    _operator(user)
    error = ""
    try:
        with db.begin_nested():
            view = invitations.revoke(db, actor=user, invitation_id=invitation_id, ip=ip)
        candidate_id = view.candidate_id
    except NotFound:
        raise
    except ExpertLoopError as exc:
        error = exc.message
        candidate_id = invitations.candidate_of(db, actor=user, invitation_id=invitation_id)
    if request.headers.get("HX-Request") == "true":
        context = _links_context(db, user, candidate_id, error=error)
        return render(request, "experts/invite_links.html", context)
    return RedirectResponse(f"/candidates/{candidate_id}#invitations", status_code=303)
