"""JSON API: outreach — operators invite (one, a list, a CSV), list and revoke links; the public
invitation link (summary, accept); the expert's own profile and referrals.

The two public routes (``/invitations/{token}`` and its ``/accept``) need no login: the token is
the credential. Accepting takes a JSON body (as the login does, so a page on another site cannot
forge it) and logs the new expert in.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import IO, Annotated

from fastapi import APIRouter, File, HTTPException, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from expertloop.accounts import sessions
from expertloop.accounts.models import User
from expertloop.errors import NotFound, ValidationFailed
from expertloop.experts import invitations, pipeline, policies, profiles, referrals
from expertloop.experts.invitations import InviteResult, InviteRow, InviteSummary
from expertloop.experts.schemas import (
    InvitationOut,
    InvitationSummaryOut,
    InviteBatchIn,
    InviteBatchOut,
    InviteOneIn,
    InviteResultOut,
    JoinIn,
    JoinOut,
    ProfileDomainIn,
    ProfileIn,
    ProfileLanguageIn,
    ProfileOut,
    ReferralIn,
    ReferralListOut,
    ReferralOut,
    ReferralResultOut,
)
from expertloop.mail import mailer_from_settings
from expertloop.settings import Settings
from expertloop.web.api.common import ERRORS, ErrorOut
from expertloop.web.deps import DB, IP, AppSettings, CurrentUser
from expertloop.web.security import check_origin
from expertloop.web.session_cookie import set_session_cookie

router = APIRouter(tags=["experts"], responses=ERRORS)

MAX_CSV_BYTES = 5 * 1024 * 1024  # 5 MB: about 100,000 rows of email,name,domain


# --- Shared with the pages ----------------------------------------------------------------------


def csv_lines(upload: IO[bytes], *, limit: int = MAX_CSV_BYTES) -> Iterator[str]:
    """Yield an uploaded CSV's lines one at a time (UTF-8, a BOM allowed), refusing > ``limit``."""
    seen = 0
    text = io.TextIOWrapper(upload, encoding="utf-8-sig", newline="")
    try:
        for line in text:
            seen += len(line.encode())
            if seen > limit:
                raise ValidationFailed(
                    f"The file is larger than {limit // (1024 * 1024)} MB; split it up.",
                    details={"field": "file"},
                )
            yield line
    except UnicodeDecodeError:
        raise ValidationFailed(
            "The file is not UTF-8 text; save the CSV as UTF-8 and upload it again.",
            details={"field": "file"},
        ) from None
    finally:
        # Leave the upload open for its owner; it may be closed already when the generator is
        # dropped unfinished (a refused header), which is fine.
        with contextlib.suppress(ValueError):
            text.detach()


def check_upload_size(upload: UploadFile, *, limit: int = MAX_CSV_BYTES) -> None:
    """Refuse (413) an upload whose size is known to be over the limit before reading it."""
    if upload.size is not None and upload.size > limit:
        raise HTTPException(
            status_code=413,
            detail=f"The file is larger than {limit // (1024 * 1024)} MB; split it up.",
        )


def batch_out(results: list[InviteResult]) -> InviteBatchOut:
    """Return the results and their counts."""
    summary = InviteSummary()
    for r in results:
        summary.add(r)
    return InviteBatchOut(
        results=[InviteResultOut.model_validate(r) for r in results], counts=summary.counts
    )


def profile_data(body: ProfileIn) -> profiles.ProfileData:
    """Return the domain's profile data from the API body."""
    return profiles.ProfileData(
        headline=body.headline,
        domains=[(d.domain, d.specialty) for d in body.domains],
        years_experience=body.years_experience,
        country=body.country,
        time_zone=body.time_zone,
        languages=[(lang.language, lang.level) for lang in body.languages],
        weekly_hours=body.weekly_hours,
        rate_minor=body.rate_minor,
        rate_currency=body.rate_currency,
        resume=body.resume,
        links=list(body.links),
        phone=body.phone,
        credentials=list(body.credentials),
        education=list(body.education),
        availability=list(body.availability),
    )


def profile_out(view: profiles.ProfileView) -> ProfileOut:
    """Return the API shape of a whole profile."""
    d = view.data
    return ProfileOut(
        user_id=view.user_id,
        name=view.name,
        email=view.email,
        headline=d.headline,
        domains=[ProfileDomainIn(domain=a, specialty=b) for a, b in d.domains],
        years_experience=d.years_experience,
        country=d.country,
        time_zone=d.time_zone,
        utc_offset_minutes=view.utc_offset_minutes,
        languages=[ProfileLanguageIn(language=a, level=b) for a, b in d.languages],
        weekly_hours=d.weekly_hours,
        rate_minor=d.rate_minor,
        rate_currency=d.rate_currency,
        resume=d.resume,
        links=list(d.links),
        phone=d.phone,
        credentials=list(d.credentials),
        education=list(d.education),
        availability=list(d.availability),
        vetting_state=view.vetting_state,
        quality_score=view.quality_score,
        updated_at=view.updated_at,
        version=view.version,
    )


def _operator(user: User) -> None:
    if not policies.can_vet(user):
        raise NotFound("Page not found.")


# --- Operators: invite, list, revoke -------------------------------------------------------------


@router.post("/candidates/invitations", response_model=InviteBatchOut)
def invite(
    body: InviteOneIn | InviteBatchIn, user: CurrentUser, db: DB, settings: AppSettings, ip: IP
) -> InviteBatchOut:
    """Invite one address (``{"email", "name"?, "domain"?}``) or several (``{"items": […]}``).

    Idempotent on the address; each result says what happened. The links appear here once.
    """
    _operator(user)
    mailer = mailer_from_settings(settings)
    if isinstance(body, InviteOneIn):
        result = invitations.invite(
            db, actor=user, email=body.email, name=body.name, domain=body.domain,
            settings=settings, mailer=mailer, resend=body.resend, ip=ip,
        )  # fmt: skip
        return batch_out([result])
    if body.resend:
        results = [
            invitations.invite(
                db,
                actor=user,
                email=i.email,
                name=i.name,
                domain=i.domain,
                settings=settings,
                mailer=mailer,
                resend=True,
                ip=ip,
            )
            for i in body.items
        ]
        return batch_out(results)
    rows = [InviteRow(email=i.email, name=i.name, domain=i.domain) for i in body.items]
    return batch_out(
        list(
            invitations.invite_many(
                db, actor=user, rows=rows, settings=settings, mailer=mailer, first_row=1, ip=ip
            )
        )
    )


@router.post(
    "/candidates/invitations/csv",
    response_model=InviteBatchOut,
    responses={
        413: {"model": ErrorOut, "description": "The file is larger than 5 MB"},
        422: {
            "model": ErrorOut,
            "description": "The file cannot be read (no email column, not UTF-8, over 5 MB); "
            "when it stops midway, the rows done before are kept and listed in "
            "``details.results`` with ``details.counts``",
        },
    },
)
def invite_csv(
    file: Annotated[UploadFile, File(description="CSV with a header: email,name,domain")],
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    ip: IP,
) -> InviteBatchOut | JSONResponse:
    """Invite every row of a CSV file (multipart field ``file``), read line by line.

    Bad rows come back ``failed`` with their row number (the header is row 1); the others are
    invited all the same. A file that stops being readable midway answers 422, keeping (and
    listing in ``details.results``) the rows invited before: their mails are out, their links
    work.
    """
    _operator(user)
    check_upload_size(file)
    results: list[InviteResult] = []
    try:
        for result in invitations.invite_csv(
            db, actor=user, lines=csv_lines(file.file), settings=settings,
            mailer=mailer_from_settings(settings), ip=ip,
        ):  # fmt: skip
            results.append(result)
    except ValidationFailed as exc:
        done = batch_out(results)
        # Answered, not raised: the request's transaction commits the rows done.
        return JSONResponse(
            {
                "error": {
                    "code": exc.code,
                    "message": exc.message,
                    "details": {
                        **(exc.details or {}),
                        "results": [r.model_dump(mode="json") for r in done.results],
                        "counts": done.counts,
                    },
                }
            },
            status_code=422,
        )
    return batch_out(results)


@router.get("/candidates/{candidate_id}/invitations", response_model=list[InvitationOut])
def candidate_invitations(
    candidate_id: int, user: CurrentUser, db: DB
) -> list[invitations.InvitationView]:
    """List a candidate's invitation links, newest first (operators)."""
    return invitations.for_candidate(db, actor=user, candidate_id=candidate_id)


@router.post("/invitations/{invitation_id}/revoke", response_model=InvitationOut)
def revoke(invitation_id: int, user: CurrentUser, db: DB, ip: IP) -> invitations.InvitationView:
    """Revoke an unused link (operators); it answers 410 from then on."""
    return invitations.revoke(db, actor=user, invitation_id=invitation_id, ip=ip)


# --- The public link -----------------------------------------------------------------------------


@router.get(
    "/invitations/{token}",
    response_model=InvitationSummaryOut,
    responses={410: {"model": ErrorOut, "description": "The link was used, expired or revoked"}},
)
def invitation_summary(token: str, db: DB, settings: AppSettings) -> InvitationSummaryOut:
    """Return who invited the link's holder and to what (no login: the token is the key)."""
    view = invitations.lookup(db, token=token, settings=settings)
    return InvitationSummaryOut.model_validate(view)


@router.post(
    "/invitations/{token}/accept",
    response_model=JoinOut,
    status_code=201,
    responses={410: {"model": ErrorOut, "description": "The link was used, expired or revoked"}},
)
def accept(
    token: str,
    body: JoinIn,
    request: Request,
    response: Response,
    db: DB,
    ip: IP,
    settings: AppSettings,
) -> JoinOut:
    """Apply with the link: your account and profile are made and you are logged in.

    Problems with the form answer 422 with ``details.fields`` (by field); nothing is made.
    """
    check_origin(request, base_url=settings.base_url)
    user = invitations.accept(
        db,
        token=token,
        data=invitations.JoinData(
            name=body.name, password=body.password, profile=profile_data(body.profile)
        ),
        settings=settings,
        ip=ip,
    )
    return _log_in(request, response, db, settings, user, ip)


def _log_in(
    request: Request, response: Response, db: DB, settings: Settings, user: User, ip: str | None
) -> JoinOut:
    secret, row = sessions.start_session(
        session=db,
        user=user,
        max_age_seconds=settings.session_max_age_seconds,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    set_session_cookie(response, settings, secret)
    return JoinOut(
        user_id=user.id,
        candidate_state=pipeline.state_of_user(db, user.id).value,
        csrf_token=row.csrf_token,
        next="/vetting",
    )


# --- The expert's own profile and referrals --------------------------------------------------


@router.get("/me/profile", response_model=ProfileOut)
def my_profile(user: CurrentUser, db: DB) -> ProfileOut:
    """Return your whole profile (contact data included: only you and operators see it)."""
    view = profiles.get_profile(db, actor=user, user_id=user.id)
    if view is None:
        raise NotFound("You have no expert profile yet; PUT one to create it.")
    return profile_out(view)


@router.put(
    "/me/profile",
    response_model=ProfileOut,
    responses={409: {"model": ErrorOut, "description": "Stale version"}},
)
def save_my_profile(
    body: ProfileIn, user: CurrentUser, db: DB, settings: AppSettings, ip: IP
) -> ProfileOut:
    """Save your profile; send the ``version`` you edited (stale: 409). Experts and reviewers."""
    if user.role.value not in ("expert", "reviewer"):
        raise NotFound("Only experts and reviewers have an expert profile.")
    profiles.save_profile(
        db,
        actor=user,
        user_id=user.id,
        data=profile_data(body),
        expected_version=body.version,
        extra_file=settings.expert_taxonomy_file,
        ip=ip,
    )
    view = profiles.get_profile(db, actor=user, user_id=user.id)
    assert view is not None
    return profile_out(view)


@router.get("/me/referrals", response_model=ReferralListOut)
def my_referrals(user: CurrentUser, db: DB) -> ReferralListOut:
    """List the peers you referred (the address you typed and where they stand)."""
    items = referrals.my_referrals(db, actor=user)
    return ReferralListOut(
        items=[ReferralOut.model_validate(r) for r in items],
        can_refer=referrals.can_refer(db, user),
        pending=referrals.pending_count(db, user.id),
        max_pending=referrals.MAX_PENDING,
    )


@router.post(
    "/me/referrals",
    response_model=ReferralResultOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "Too many referrals waiting"}},
)
def refer(
    body: ReferralIn, user: CurrentUser, db: DB, settings: AppSettings, ip: IP
) -> ReferralResultOut:
    """Refer a peer by email (approved experts; up to 20 waiting); they get the link by mail."""
    result = referrals.refer(
        db, actor=user, email=body.email, name=body.name, settings=settings,
        mailer=mailer_from_settings(settings), ip=ip,
    )  # fmt: skip
    if result.outcome == "failed":
        raise ValidationFailed(result.message, details={"field": "email"})
    return ReferralResultOut.model_validate(result)
