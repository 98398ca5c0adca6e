"""Invite prospective experts: one address, a list, or a CSV streamed row by row; accept a link.

An invitation is a single-use link ``<base_url>/join/<token>``: the token
(``secrets.token_urlsafe(32)``) is handed to the caller once, in the ``InviteResult``, and mailed
to the person; the database keeps only its SHA-256. A link stops working once used, after
``settings.invitation_days`` days, or when an operator revokes it.

Inviting is idempotent on the email address (one candidate per address):

- a new address gets a candidate (state *invited*, entered through ``pipeline.enter``, so the
  funnel counts it), an invitation and one mail;
- an address that is invited and still holds a working link gets nothing new ("already
  invited"; no second mail) unless ``resend=True``, which revokes that link and sends a fresh one;
- an address invited whose links all expired or were revoked (never used) gets a fresh link and
  a mail ("invited again");
- an address further along (applied or later, or with an account) is left alone ("already in
  the pipeline"), as is the address of an existing user ("already has an account").

The mail is sent after the rows are flushed, with a ``Message-ID`` made from the invitation, so
the file mailer never writes the same invitation twice. If the caller's transaction then fails,
the mail carries a link that does not work; inviting again sends a working one.

Accepting (``accept``) creates the expert's account in the operators' organisation, saves the
profile (``profiles.save_profile``), marks the link used, revokes the candidate's other links
and moves the candidate from invited to applied (their own move).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from expertloop.accounts import passwords
from expertloop.accounts import users as users_uc
from expertloop.accounts.models import Role, User
from expertloop.accounts.policies import is_operator
from expertloop.accounts.secrets_util import token_hash
from expertloop.errors import Conflict, ExpertLoopError, Gone, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events, pipeline, policies, profiles, taxonomy
from expertloop.experts.models import Candidate, Invitation, InvitationKind, VettingState
from expertloop.mail import Mailer, MailError, Message, mailer_from_settings
from expertloop.settings import Settings
from expertloop.text import find_forbidden
from expertloop.types import utcnow

log = logging.getLogger("expertloop.experts.invitations")

S = VettingState
MAX_NAME = 200
MAX_CSV_ROWS = 10_000
CSV_COLUMNS = ("email", "name", "domain")


class Outcome(enum.StrEnum):
    """What inviting one address did."""

    invited = "invited"  # a new candidate and link
    reinvited = "reinvited"  # a fresh link for a candidate whose links had lapsed (or resend)
    already_invited = "already_invited"  # a working link exists: nothing sent
    in_pipeline = "in_pipeline"  # applied or further: left alone
    has_account = "has_account"  # a user with this address exists: left alone
    failed = "failed"  # bad input (the message says why)


SENT = frozenset({Outcome.invited, Outcome.reinvited})


@dataclass
class InviteResult:
    """One address's outcome. ``link`` is the only copy of the token: shown once, never stored.

    ``row`` is the CSV row number (the header is row 1), None outside a CSV.
    """

    email: str
    outcome: Outcome
    message: str
    row: int | None = None
    candidate_id: int | None = None
    invitation_id: int | None = None
    link: str | None = None
    expires_at: dt.datetime | None = None
    mailed: bool = False
    mail_error: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the row was not refused."""
        return self.outcome != Outcome.failed


@dataclass
class InviteSummary:
    """Counts of a batch's outcomes."""

    counts: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})

    def add(self, result: InviteResult) -> None:
        """Count one result."""
        self.counts[result.outcome.value] += 1

    @property
    def failed(self) -> int:
        """Return how many rows were refused."""
        return self.counts[Outcome.failed.value]


def new_token() -> str:
    """Return a fresh invitation token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def join_link(settings: Settings, token: str) -> str:
    """Return the public link of an invitation token."""
    return f"{settings.base_url.rstrip('/')}/join/{token}"


def is_live(invitation: Invitation, now: dt.datetime | None = None) -> bool:
    """Tell whether the link still works (unused, not revoked, not expired)."""
    now = now or utcnow()
    return (
        invitation.used_at is None and invitation.revoked_at is None and invitation.expires_at > now
    )


def status_of(invitation: Invitation, now: dt.datetime | None = None) -> str:
    """Return "used", "revoked", "expired" or "pending"."""
    if invitation.used_at is not None:
        return "used"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if find_forbidden(name):
        raise ValidationFailed("The name contains a control character.", details={"field": "name"})
    if len(name) > MAX_NAME:
        raise ValidationFailed(
            f"The name is too long: {len(name)} characters, at most {MAX_NAME}.",
            details={"field": "name"},
        )
    return name


def _mail(
    *,
    settings: Settings,
    inviter: User | None,
    kind: InvitationKind,
    candidate: Candidate,
    invitation: Invitation,
    link: str,
) -> Message:
    who = " ".join(inviter.name.split()) if inviter is not None else "The ExpertLoop team"
    domain = ""
    if candidate.domain:
        known = taxonomy.domains(settings.expert_taxonomy_file).get(candidate.domain)
        domain = f" in {known.label if known else candidate.domain}"
    greeting = f"Hello {candidate.name}," if candidate.name else "Hello,"
    if kind == InvitationKind.referral:
        subject = f"{who} invites you to join ExpertLoop's expert network"
        opening = f"{who}, an expert on ExpertLoop, recommends you as an expert{domain}."
    else:
        subject = "You are invited to join ExpertLoop's expert network"
        opening = f"{who} invites you to join ExpertLoop as an expert{domain}."
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"{greeting}\n\n{opening}\n\n"
        "Experts on ExpertLoop write realistic problems, test AI models on them, mark what goes "
        "wrong and fix it, paid by the hour, part-time, on their own schedule.\n\n"
        f"To apply, open this link and fill in your profile:\n\n{link}\n\n"
        f"The link works once and until {expires}. If you did not expect this mail, ignore it.\n"
    )
    return Message(
        to=candidate.email,
        subject=subject,
        text=text,
        message_id=f"<invitation-{invitation.id}-{invitation.token_hash[:16]}@expertloop>",
    )


def _issue(
    session: Session,
    *,
    settings: Settings,
    mailer: Mailer | None,
    actor: User | None,
    candidate: Candidate,
    kind: InvitationKind,
    ip: str | None,
) -> tuple[Invitation, str, bool, str]:
    token = new_token()
    now = utcnow()
    invitation = Invitation(
        candidate_id=candidate.id,
        token_hash=token_hash(token),
        kind=kind,
        created_by_id=actor.id if actor else None,
        created_at=now,
        expires_at=now + dt.timedelta(days=settings.invitation_days),
    )
    session.add(invitation)
    session.flush()
    link = join_link(settings, token)
    mailed, error = False, ""
    try:
        message = _mail(
            settings=settings,
            inviter=actor,
            kind=kind,
            candidate=candidate,
            invitation=invitation,
            link=link,
        )
        (mailer or mailer_from_settings(settings)).send(message)
        mailed = True
    except MailError as exc:
        error = str(exc)
    except (OSError, ValueError) as exc:  # the mail folder, or a header the mail cannot carry
        log.warning(
            "invitation %s: could not hand the mail over: %s", invitation.id, exc, exc_info=True
        )
        error = "The mail could not be written; the server log has the details."
    emit(
        events.InvitationCreated(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="expert_candidate",
            subject_id=str(candidate.id),
            candidate_id=candidate.id,
            invitation_kind=kind.value,
            expires_at=invitation.expires_at.isoformat(),
            mailed=mailed,
        ),
        session=session,
    )
    return invitation, link, mailed, error


def _live(session: Session, candidate_id: int) -> list[Invitation]:
    now = utcnow()
    return list(
        session.scalars(
            select(Invitation).where(
                Invitation.candidate_id == candidate_id,
                Invitation.used_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
        )
    )


def _candidate_by_email(session: Session, address: str) -> Candidate | None:
    return session.scalar(select(Candidate).where(Candidate.email == address))


def invite(
    session: Session,
    *,
    actor: User | None,
    email: str,
    settings: Settings,
    name: str = "",
    domain: str = "",
    mailer: Mailer | None = None,
    kind: InvitationKind = InvitationKind.operator,
    referrer: User | None = None,
    resend: bool = False,
    create_only: bool = False,
    ip: str | None = None,
) -> InviteResult:
    """Invite one address (idempotent on it, see the module's docstring); never raises for input.

    With ``create_only`` only a new address is invited: an address with a candidate already gets
    nothing (``already_invited`` or ``in_pipeline``), never a fresh link (referrals use it, so an
    expert cannot undo an operator's revocation).

    ``actor`` is an operator (None: a trusted caller such as the CLI or the demo seed) or, for
    ``kind=referral``, the referring expert (``referrer``; see ``experts.referrals``). Bad input
    (email, unknown domain, name) gives ``Outcome.failed`` with the reason; ``mailer`` defaults to
    the one the settings choose.
    """
    if kind == InvitationKind.operator and actor is not None and not policies.can_vet(actor):
        raise NotFound("Page not found.")
    raw = (email or "").strip()
    try:
        address = users_uc.normalise_email(raw)
        clean_name = _clean_name(name)
        domain = (domain or "").strip()
        if domain:
            taxonomy.check(domain, extra_file=settings.expert_taxonomy_file)
    except ValidationFailed as exc:
        return InviteResult(email=raw, outcome=Outcome.failed, message=exc.message)

    candidate = _candidate_by_email(session, address)
    if candidate is None:
        if session.scalar(select(User.id).where(func.lower(User.email) == address)):
            return InviteResult(
                email=address,
                outcome=Outcome.has_account,
                message="This address already has an account here; nothing was sent.",
            )
        now = utcnow()
        candidate = Candidate(
            email=address,
            name=clean_name,
            state=S.invited,
            state_changed_at=now,
            created_at=now,
            domain=domain,
            source=kind,
            invited_by_id=actor.id if actor else None,
            referrer_user_id=referrer.id if referrer else None,
        )
        try:
            with session.begin_nested():  # another request may insert the address meanwhile
                session.add(candidate)
                session.flush()
        except IntegrityError:
            raced = _candidate_by_email(session, address)
            if raced is None:
                raise
            return InviteResult(
                email=address,
                outcome=Outcome.already_invited,
                message="Already invited (just now, by another request); nothing was sent.",
                candidate_id=raced.id,
            )
        reason = "Referred by an expert" if kind == InvitationKind.referral else "Invited"
        pipeline.enter(session=session, actor=actor, candidate=candidate, reason=reason, ip=ip)
        outcome, message = Outcome.invited, "Invited."
    elif candidate.state != S.invited or candidate.user_id is not None:
        return InviteResult(
            email=address,
            outcome=Outcome.in_pipeline,
            message=f"Already in the pipeline ({candidate.state.value.replace('_', ' ')}); "
            "nothing was sent.",
            candidate_id=candidate.id,
        )
    elif create_only:
        return InviteResult(
            email=address,
            outcome=Outcome.already_invited,
            message="Already invited; nothing was sent.",
            candidate_id=candidate.id,
        )
    else:
        live = _live(session, candidate.id)
        if live and not resend:
            latest = max(live, key=lambda i: i.expires_at)
            return InviteResult(
                email=address,
                outcome=Outcome.already_invited,
                message="Already invited; the link sent before works until "
                f"{latest.expires_at:%Y-%m-%d}. Nothing was sent again.",
                candidate_id=candidate.id,
                invitation_id=latest.id,
                expires_at=latest.expires_at,
            )
        now = utcnow()
        for old in live:
            old.revoked_at = now  # resend: the earlier link stops working
        if clean_name and not candidate.name:
            candidate.name = clean_name
        if domain and not candidate.domain:
            candidate.domain = domain
        outcome = Outcome.reinvited
        message = (
            "Sent a fresh link (the earlier one is revoked)."
            if live
            else ("Invited again: the earlier link had expired or was revoked.")
        )
    invitation, link, mailed, error = _issue(
        session,
        settings=settings,
        mailer=mailer,
        actor=actor,
        candidate=candidate,
        kind=kind,
        ip=ip,
    )
    if error:
        message += f" The mail was not sent: {error}"
    return InviteResult(
        email=address,
        outcome=outcome,
        message=message,
        candidate_id=candidate.id,
        invitation_id=invitation.id,
        link=link,
        expires_at=invitation.expires_at,
        mailed=mailed,
        mail_error=error,
    )


@dataclass(frozen=True)
class InviteRow:
    """One address to invite, with its optional name and domain (a taxonomy key)."""

    email: str
    name: str = ""
    domain: str = ""


def invite_many(
    session: Session,
    *,
    actor: User | None,
    rows: Iterable[InviteRow],
    settings: Settings,
    mailer: Mailer | None = None,
    first_row: int | None = None,
    ip: str | None = None,
) -> Iterator[InviteResult]:
    """Invite each row in turn, yielding its result as it is done (a generator: iterate it).

    A repeated address is refused on its second row ("listed already on row N"); each row runs
    in a savepoint, so one row's failure keeps the others. With ``first_row`` the results carry
    row numbers counted from it.
    """
    if actor is not None and not policies.can_vet(actor):
        raise NotFound("Page not found.")
    mailer = mailer or mailer_from_settings(settings)
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        number = first_row + index if first_row is not None else None
        key = row.email.strip().lower()
        if key and key in seen:
            where = f"row {seen[key]}" if first_row is not None else "above"
            yield InviteResult(
                email=row.email.strip(),
                outcome=Outcome.failed,
                message=f"Duplicate: this address is listed already ({where}).",
                row=number,
            )
            continue
        seen[key] = number or index + 1
        try:
            with session.begin_nested():
                result = invite(
                    session,
                    actor=actor,
                    email=row.email,
                    name=row.name,
                    domain=row.domain,
                    settings=settings,
                    mailer=mailer,
                    ip=ip,
                )
        except ExpertLoopError as exc:
            result = InviteResult(
                email=row.email.strip(), outcome=Outcome.failed, message=exc.message
            )
        result.row = number
        yield result


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, InviteRow | str]]:
    """Yield ``(row number, row or problem)`` from CSV text lines, header first (row 1).

    The header names the columns (``email`` required, ``name`` and ``domain`` optional, any
    order and case; others ignored). A row without an email, or a file with more than
    ``MAX_CSV_ROWS`` rows, yields a problem instead. Lines are read one at a time.
    """
    reader = csv.reader(iter(lines))
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("The CSV file is empty.", details={"field": "file"}) from None
    except csv.Error as exc:
        raise ValidationFailed(f"The CSV header cannot be read: {exc}.") from None
    names = [h.strip().lstrip("\ufeff").lower() for h in header]
    if "email" not in names:
        raise ValidationFailed(
            "The CSV needs a header row naming its columns: email,name,domain (email required).",
            details={"field": "file"},
        )
    where = {col: names.index(col) for col in CSV_COLUMNS if col in names}
    count = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, f"This row cannot be read as CSV: {exc}."
            continue
        number = reader.line_num  # the row's line in the file, as a spreadsheet numbers it
        if not any(v.strip() for v in values):
            continue  # blank lines are not rows
        count += 1
        if count > MAX_CSV_ROWS:
            yield number, f"Too many rows: at most {MAX_CSV_ROWS:,} a file; the rest was not read."
            return

        def cell(col: str, values: list[str] = values) -> str:
            i = where.get(col)
            return values[i].strip() if i is not None and i < len(values) else ""

        if not cell("email"):
            yield number, "No email address in this row."
            continue
        yield number, InviteRow(email=cell("email"), name=cell("name"), domain=cell("domain"))


def invite_csv(
    session: Session,
    *,
    actor: User | None,
    lines: Iterable[str],
    settings: Settings,
    mailer: Mailer | None = None,
    ip: str | None = None,
) -> Iterator[InviteResult]:
    """Invite every row of a CSV (header ``email,name,domain``), streamed; yield each result.

    Bad rows (no or bad email, unknown domain, a repeated address) come back as
    ``Outcome.failed`` with their row number; the good rows are invited all the same.
    """
    if actor is not None and not policies.can_vet(actor):
        raise NotFound("Page not found.")
    mailer = mailer or mailer_from_settings(settings)
    seen: dict[str, int] = {}
    for number, item in read_csv(lines):
        if isinstance(item, str):
            yield InviteResult(email="", outcome=Outcome.failed, message=item, row=number)
            continue
        key = item.email.lower()
        if key in seen:
            yield InviteResult(
                email=item.email,
                outcome=Outcome.failed,
                message=f"Duplicate: this address is listed already on row {seen[key]}.",
                row=number,
            )
            continue
        seen[key] = number
        yield from invite_many(
            session,
            actor=actor,
            rows=[item],
            settings=settings,
            mailer=mailer,
            first_row=number,
            ip=ip,
        )


# --- The link's side: look up, accept, revoke ------------------------------------------------


@dataclass(frozen=True)
class InvitationSummary:
    """What the holder of a working link is shown: who invited them, to what, until when."""

    email: str
    name: str
    domain: str
    domain_label: str
    kind: str
    inviter_name: str
    expires_at: dt.datetime


_GONE = {
    "used": "This invitation link was already used. If you applied with it, log in; otherwise "
    "ask the person who invited you for a new one.",
    "revoked": "This invitation link was withdrawn. Ask the person who invited you for a new one.",
    "expired": "This invitation link has expired. Ask the person who invited you for a new one.",
}


def _by_token(session: Session, token: str, *, lock: bool = False) -> Invitation:
    token = (token or "").strip()
    if not token or len(token) > 200:
        raise NotFound("This invitation link is not valid. Check that it was copied whole.")
    query = select(Invitation).where(Invitation.token_hash == token_hash(token))
    invitation = session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise NotFound("This invitation link is not valid. Check that it was copied whole.")
    status = status_of(invitation)
    if status != "pending":
        raise Gone(_GONE[status], details={"status": status})
    return invitation


def lookup(session: Session, *, token: str, settings: Settings) -> InvitationSummary:
    """Return a working link's summary; unknown: ``NotFound``; used, expired, revoked: ``Gone``."""
    invitation = _by_token(session, token)
    candidate = session.get(Candidate, invitation.candidate_id)
    assert candidate is not None
    if candidate.user_id is not None or candidate.state != S.invited:
        raise Gone(_GONE["used"], details={"status": "used"})
    inviter = session.get(User, invitation.created_by_id) if invitation.created_by_id else None
    known = taxonomy.domains(settings.expert_taxonomy_file).get(candidate.domain)
    return InvitationSummary(
        email=candidate.email,
        name=candidate.name,
        domain=candidate.domain,
        domain_label=known.label if known else candidate.domain,
        kind=invitation.kind.value,
        inviter_name=inviter.name if inviter else "The ExpertLoop team",
        expires_at=invitation.expires_at,
    )


@dataclass
class JoinData:
    """What the invited person fills in: their name, a password and their profile."""

    name: str
    password: str
    profile: profiles.ProfileData


def check_join(data: JoinData, *, settings: Settings) -> dict[str, str]:
    """Return the problems of a join form by field (empty when it may be submitted)."""
    problems: dict[str, str] = {}
    name = " ".join((data.name or "").split())
    if not name:
        problems["name"] = "Tell us your name."
    elif len(name) > MAX_NAME or find_forbidden(name):
        problems["name"] = f"A name is one line of at most {MAX_NAME} characters."
    try:
        passwords.check_policy(data.password or "")
    except ValidationFailed as exc:
        problems["password"] = exc.message
    _, profile_problems = profiles.check(data.profile, extra_file=settings.expert_taxonomy_file)
    problems.update(profile_problems)
    return problems


def accept(
    session: Session,
    *,
    token: str,
    data: JoinData,
    settings: Settings,
    ip: str | None = None,
) -> User:
    """Use a working link: create the expert's account and profile; the candidate applies.

    Returns the new user (the caller logs them in). Problems with the form raise
    ``ValidationFailed`` with ``details["fields"]`` (by field); a link that cannot be used any
    more raises ``Gone`` (unknown: ``NotFound``) and nothing is created.
    """
    invitation = _by_token(session, token, lock=True)
    candidate = session.scalar(
        select(Candidate).where(Candidate.id == invitation.candidate_id).with_for_update()
    )
    assert candidate is not None
    if candidate.user_id is not None or candidate.state != S.invited:
        raise Gone(_GONE["used"], details={"status": "used"})
    problems = check_join(data, settings=settings)
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(problems[first], details={"field": first, "fields": problems})
    org = users_uc.operator_organisation(session=session)
    if org is None:
        raise Conflict("This instance has no operator organisation yet; ask the operator.")
    if users_uc.find_by_email(session=session, email=candidate.email) is not None:
        raise Conflict(
            "An account with this address exists already; log in instead.",
            details={"field": "email"},
        )
    user = users_uc.create_user(
        session=session,
        organisation=org,
        email=candidate.email,
        name=" ".join(data.name.split()),
        role=Role.expert,
        password=data.password,
        actor=None,
    )
    candidate.user_id = user.id
    candidate.name = user.name
    main_domain = next((d for d, _ in data.profile.domains if d), "")
    if not candidate.domain and main_domain:
        candidate.domain = main_domain
    session.flush()
    profiles.save_profile(
        session,
        actor=user,
        user_id=user.id,
        data=data.profile,
        extra_file=settings.expert_taxonomy_file,
        ip=ip,
    )
    now = utcnow()
    invitation.used_at = now
    for other in _live(session, candidate.id):
        if other.id != invitation.id:
            other.revoked_at = now
    pipeline.move(
        session=session,
        actor=user,
        candidate=candidate,
        to=S.applied,
        reason="Accepted the invitation and filled in the profile",
        ip=ip,
    )
    emit(
        events.InvitationAccepted(
            actor_user_id=user.id,
            organisation_id=user.organisation_id,
            ip=ip,
            subject_type="expert_candidate",
            subject_id=str(candidate.id),
            candidate_id=candidate.id,
            user_id=user.id,
        ),
        session=session,
    )
    return user


@dataclass(frozen=True)
class InvitationView:
    """One of a candidate's links as operators see it (never the token)."""

    id: int
    candidate_id: int
    kind: str
    status: str
    created_by_name: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _view(invitation: Invitation, names: dict[int, str]) -> InvitationView:
    creator = invitation.created_by_id
    return InvitationView(
        id=invitation.id,
        candidate_id=invitation.candidate_id,
        kind=invitation.kind.value,
        status=status_of(invitation),
        created_by_name=names.get(creator, "") if creator is not None else "the system",
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        used_at=invitation.used_at,
        revoked_at=invitation.revoked_at,
    )


def for_candidate(session: Session, *, actor: User, candidate_id: int) -> list[InvitationView]:
    """Return a candidate's links, newest first (operators; anyone else ``NotFound``)."""
    if not policies.can_vet(actor) or session.get(Candidate, candidate_id) is None:
        raise NotFound("Candidate not found.")
    rows = list(
        session.scalars(
            select(Invitation)
            .where(Invitation.candidate_id == candidate_id)
            .order_by(Invitation.id.desc())
        )
    )
    names = users_uc.names_by_id(
        session=session, user_ids={r.created_by_id for r in rows if r.created_by_id is not None}
    )
    return [_view(r, names) for r in rows]


def revoke(
    session: Session, *, actor: User, invitation_id: int, ip: str | None = None
) -> InvitationView:
    """Revoke an unused link (operators; others ``NotFound``); revoking twice changes nothing."""
    if not is_operator(actor):
        raise NotFound("Invitation not found.")
    invitation = session.scalar(
        select(Invitation).where(Invitation.id == invitation_id).with_for_update()
    )
    if invitation is None:
        raise NotFound("Invitation not found.")
    if invitation.used_at is not None:
        raise Conflict("This link was used already; it cannot be revoked.")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        session.flush()
        emit(
            events.InvitationRevoked(
                actor_user_id=actor.id,
                organisation_id=actor.organisation_id,
                ip=ip,
                subject_type="expert_candidate",
                subject_id=str(invitation.candidate_id),
                candidate_id=invitation.candidate_id,
            ),
            session=session,
        )
    names = users_uc.names_by_id(
        session=session,
        user_ids={invitation.created_by_id} if invitation.created_by_id is not None else set(),
    )
    return _view(invitation, names)


def candidate_of(session: Session, *, actor: User, invitation_id: int) -> int:
    """Return the candidate id of an invitation (operators; anyone else ``NotFound``)."""
    invitation = session.get(Invitation, invitation_id) if is_operator(actor) else None
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation.candidate_id
