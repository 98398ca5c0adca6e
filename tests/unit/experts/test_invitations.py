"""Invitations: a new address enters the pipeline (none → invited) with one hashed, expiring,
single-use link and one mail; inviting again is idempotent (no second candidate, no second
mail) and sends a fresh link only when the old one lapsed (or on resend); a CSV is read row by
row, its bad rows reported with their row numbers while the good ones are invited; a link used
twice, after expiry or after revoking is refused; accepting creates the account, the profile
and the applied transition; referrals set the referrer."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import OrganisationKind, Role, User
from expertloop.errors import Conflict, Gone, NotFound, ValidationFailed
from expertloop.events import recent
from expertloop.experts import invitations, referrals
from expertloop.experts.invitations import InviteRow, JoinData, Outcome
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    Invitation,
    InvitationKind,
    ProfileDomain,
    ProfileLanguage,
    VettingState,
    VettingTransition,
)
from expertloop.experts.profiles import ProfileData
from expertloop.mail import FileMailer, Message
from expertloop.settings import Settings
from expertloop.types import utcnow
from tests.factories import make_user
from tests.unit.experts.test_pipeline import make_candidate

S = VettingState


class Outbox:
    """A mailer that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> bool:
        self.sent.append(message)
        return True


@pytest.fixture
def operator(db: Session) -> User:
    return make_user(db, Role.operator)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


def _token(link: str | None) -> str:
    assert link is not None
    return link.rsplit("/join/", 1)[1]


def _profile(**kw: object) -> ProfileData:
    values: dict[str, object] = {
        "headline": "Cardiologist, 12 years in clinical trials",
        "domains": [("medicine", "cardiology")],
        "years_experience": 12,
        "country": "de",
        "time_zone": "Europe/Berlin",
        "languages": [("en", "C1"), ("de", "native")],
        "weekly_hours": 10,
        "rate_minor": 9000,
        "rate_currency": "eur",
        "resume": "Twelve years of cardiology.",
        "links": ["https://example.org/me"],
        "phone": "+49 30 1234567",
    }
    values.update(kw)
    return ProfileData(**values)  # type: ignore[arg-type]


def test_a_new_address_is_invited_once(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    result = invitations.invite(
        db, actor=operator, email="  Ada@Example.ORG ", name="Ada", domain="medicine",
        settings=settings, mailer=outbox,
    )  # fmt: skip
    assert result.outcome == Outcome.invited and result.mailed
    candidate = db.get(Candidate, result.candidate_id)
    assert candidate is not None
    assert (candidate.email, candidate.state, candidate.source) == (
        "ada@example.org",
        S.invited,
        InvitationKind.operator,
    )
    assert candidate.invited_by_id == operator.id
    moves = db.scalars(
        select(VettingTransition).where(VettingTransition.candidate_id == candidate.id)
    ).all()
    assert [(m.from_state, m.to_state) for m in moves] == [(None, S.invited)]
    assert recent(session=db, kind="experts.candidate_entered", limit=1)[0].subject_id == str(
        candidate.id
    )
    # The token is in the link and the mail, only its hash in the database.
    token = _token(result.link)
    invitation = db.get(Invitation, result.invitation_id)
    assert invitation is not None
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(recent(session=db, kind="experts.invitation_created", limit=1)[0].data)
    expected = utcnow() + dt.timedelta(days=settings.invitation_days)
    assert abs((invitation.expires_at - expected).total_seconds()) < 60
    assert len(outbox.sent) == 1
    mail = outbox.sent[0]
    assert mail.to == "ada@example.org" and result.link in mail.text
    assert operator.name in mail.text and "Medicine" in mail.text


def test_inviting_again_is_idempotent(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    first = invitations.invite(
        db, actor=operator, email="ben@example.org", settings=settings, mailer=outbox
    )
    again = invitations.invite(
        db, actor=operator, email="BEN@example.org", settings=settings, mailer=outbox
    )
    assert again.outcome == Outcome.already_invited and again.link is None
    assert again.candidate_id == first.candidate_id and again.invitation_id == first.invitation_id
    assert len(outbox.sent) == 1  # not mailed twice
    assert len(db.scalars(select(Candidate).where(Candidate.email == "ben@example.org")).all()) == 1
    assert (
        len(
            db.scalars(
                select(Invitation).where(Invitation.candidate_id == first.candidate_id)
            ).all()
        )
        == 1
    )

    # The link lapsed unused: inviting again sends a fresh one; the old stays refused.
    old = db.get(Invitation, first.invitation_id)
    assert old is not None
    old.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.flush()
    fresh = invitations.invite(
        db, actor=operator, email="ben@example.org", settings=settings, mailer=outbox
    )
    assert fresh.outcome == Outcome.reinvited and fresh.link and fresh.link != first.link
    assert fresh.candidate_id == first.candidate_id and len(outbox.sent) == 2
    with pytest.raises(Gone, match="expired"):
        invitations.lookup(db, token=_token(first.link), settings=settings)
    assert (
        invitations.lookup(db, token=_token(fresh.link), settings=settings).email
        == "ben@example.org"
    )

    # Resend: a fresh link, and the working one is revoked.
    resent = invitations.invite(
        db, actor=operator, email="ben@example.org", settings=settings, mailer=outbox, resend=True
    )
    assert resent.outcome == Outcome.reinvited and len(outbox.sent) == 3
    with pytest.raises(Gone, match="withdrawn"):
        invitations.lookup(db, token=_token(fresh.link), settings=settings)
    # Only one funnel entry however often the address was invited.
    entries = db.scalars(
        select(VettingTransition).where(VettingTransition.candidate_id == first.candidate_id)
    ).all()
    assert len(entries) == 1


def test_addresses_further_along_or_with_an_account_are_left_alone(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    applied = make_candidate(db, S.applied)
    result = invitations.invite(
        db, actor=operator, email=applied.email, settings=settings, mailer=outbox
    )
    assert result.outcome == Outcome.in_pipeline and "applied" in result.message
    client = make_user(db, Role.client)
    result = invitations.invite(
        db, actor=operator, email=client.email, settings=settings, mailer=outbox
    )
    assert result.outcome == Outcome.has_account
    assert outbox.sent == []
    assert db.scalar(select(Candidate).where(Candidate.email == client.email)) is None


@pytest.mark.parametrize(
    ("email", "domain", "words"),
    [("not-an-email", "", "Invalid email"), ("c@example.org", "astrology", "Unknown domain")],
)
def test_bad_input_fails_without_a_candidate(
    db: Session,
    operator: User,
    settings: Settings,
    outbox: Outbox,
    email: str,
    domain: str,
    words: str,
) -> None:
    result = invitations.invite(
        db, actor=operator, email=email, domain=domain, settings=settings, mailer=outbox
    )
    assert result.outcome == Outcome.failed and words in result.message
    assert db.scalar(select(Candidate).where(Candidate.email == email)) is None
    assert outbox.sent == []


def test_only_operators_invite(db: Session, settings: Settings, outbox: Outbox) -> None:
    for role in (Role.client, Role.expert, Role.reviewer):
        with pytest.raises(NotFound):
            invitations.invite(
                db,
                actor=make_user(db, role),
                email="x@example.org",
                settings=settings,
                mailer=outbox,
            )
    assert outbox.sent == []


def test_csv_reports_row_numbers_and_keeps_the_good_rows(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    lines = [
        "Name,EMAIL,domain,notes\n",  # any order and case; other columns ignored
        "Dana,dana@example.org,law,\n",  # row 2
        "Eve,not-an-email,,\n",  # row 3: bad email
        "\n",  # row 4: blank, skipped
        "Finn,finn@example.org,astrology,\n",  # row 5: unknown domain
        "Dana again,DANA@example.org,,\n",  # row 6: duplicate of row 2
        "Gil,,law,\n",  # row 7: no email
        '"Hana, MD",hana@example.org,medicine,"multi\n',
        'line"\n',  # rows 8-9: one quoted record spanning two lines
        "Ivo,ivo@example.org,finance\n",  # row 10
    ]
    results = list(
        invitations.invite_csv(db, actor=operator, lines=lines, settings=settings, mailer=outbox)
    )
    by_row = {r.row: r for r in results}
    assert by_row[2].outcome == Outcome.invited
    assert by_row[3].outcome == Outcome.failed and "Invalid email" in by_row[3].message
    assert by_row[5].outcome == Outcome.failed and "Unknown domain" in by_row[5].message
    assert by_row[6].outcome == Outcome.failed and "row 2" in by_row[6].message
    assert by_row[7].outcome == Outcome.failed and "No email" in by_row[7].message
    assert by_row[9].outcome == Outcome.invited and by_row[9].email == "hana@example.org"
    assert by_row[10].outcome == Outcome.invited
    assert 4 not in by_row
    invited = set(db.scalars(select(Candidate.email).where(Candidate.email.like("%@example.org"))))
    assert invited == {"dana@example.org", "hana@example.org", "ivo@example.org"}
    assert {m.to for m in outbox.sent} == invited
    hana = db.scalar(select(Candidate).where(Candidate.email == "hana@example.org"))
    assert hana is not None and hana.name == "Hana, MD" and hana.domain == "medicine"


def test_csv_without_an_email_column_is_refused(
    db: Session, operator: User, settings: Settings
) -> None:
    with pytest.raises(ValidationFailed, match="header"):
        list(
            invitations.invite_csv(
                db,
                actor=operator,
                lines=["name,domain\n", "a,b\n"],
                settings=settings,
                mailer=Outbox(),
            )
        )
    with pytest.raises(ValidationFailed, match="empty"):
        list(
            invitations.invite_csv(db, actor=operator, lines=[], settings=settings, mailer=Outbox())
        )


def test_csv_is_streamed(db: Session, operator: User, settings: Settings, outbox: Outbox) -> None:
    consumed: list[int] = []

    def lines() -> Iterator[str]:
        yield "email\n"
        for i in range(1, 4):
            consumed.append(i)
            yield f"stream{i}@example.org\n"

    results = invitations.invite_csv(
        db, actor=operator, lines=lines(), settings=settings, mailer=outbox
    )
    first = next(results)
    assert first.row == 2 and first.outcome == Outcome.invited
    assert consumed == [1]  # the rest of the file is not read yet
    assert [r.row for r in results] == [3, 4]


@hsettings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["mail", "blank", "noemail"]), max_size=12))
def test_csv_row_numbers_are_the_files_lines(kinds: list[str]) -> None:
    lines = ["email,name\n"]
    expected: list[tuple[int, str]] = []
    for number, kind in enumerate(kinds, start=2):
        if kind == "mail":
            lines.append(f"p{number}@example.org,P\n")
            expected.append((number, f"p{number}@example.org"))
        elif kind == "blank":
            lines.append("\n")
        else:
            lines.append(",Nobody\n")
            expected.append((number, ""))
    got = [
        (n, item.email if isinstance(item, InviteRow) else "")
        for n, item in invitations.read_csv(lines)
    ]
    assert got == expected


def _join(**kw: object) -> JoinData:
    return JoinData(name="Ada Byron", password="a-long-enough-password", profile=_profile(**kw))


def test_accepting_creates_account_profile_and_applies(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    result = invitations.invite(
        db, actor=operator, email="ada.join@example.org", settings=settings, mailer=outbox
    )
    token = _token(result.link)
    summary = invitations.lookup(db, token=token, settings=settings)
    assert summary.email == "ada.join@example.org" and summary.inviter_name == operator.name
    user = invitations.accept(db, token=token, data=_join(), settings=settings, ip="127.0.0.9")
    assert user.role == Role.expert and user.organisation.kind == OrganisationKind.operator
    assert user.email == "ada.join@example.org" and user.name == "Ada Byron"
    candidate = db.get(Candidate, result.candidate_id)
    assert candidate is not None
    assert candidate.user_id == user.id and candidate.state == S.applied
    assert candidate.domain == "medicine"  # taken from the profile when the invite had none
    last = db.scalars(
        select(VettingTransition)
        .where(VettingTransition.candidate_id == candidate.id)
        .order_by(VettingTransition.id)
    ).all()
    assert [(t.from_state, t.to_state, t.actor_id) for t in last] == [
        (None, S.invited, operator.id), (S.invited, S.applied, user.id)
    ]  # fmt: skip
    profile = db.get(ExpertProfile, user.id)
    assert profile is not None
    assert (profile.country, profile.time_zone, profile.rate_currency) == (
        "DE",
        "Europe/Berlin",
        "EUR",
    )
    assert profile.utc_offset_minutes in (60, 120) and profile.vetting_state == S.applied
    assert set(
        db.scalars(select(ProfileDomain.specialty).where(ProfileDomain.user_id == user.id))
    ) == {"cardiology"}
    assert {
        (lang.language, lang.level.value)
        for lang in db.scalars(select(ProfileLanguage).where(ProfileLanguage.user_id == user.id))
    } == {("en", "C1"), ("de", "native")}
    invitation = db.get(Invitation, result.invitation_id)
    assert invitation is not None and invitation.used_at is not None
    # Used once: a second use is refused, and nothing more is created.
    with pytest.raises(Gone, match="already used"):
        invitations.accept(db, token=token, data=_join(), settings=settings)
    with pytest.raises(Gone):
        invitations.lookup(db, token=token, settings=settings)
    # Inviting the address now: already in the pipeline.
    again = invitations.invite(
        db, actor=operator, email="ada.join@example.org", settings=settings, mailer=outbox
    )
    assert again.outcome == Outcome.in_pipeline


def test_expired_revoked_and_unknown_links_are_refused(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    expired = invitations.invite(
        db, actor=operator, email="late@example.org", settings=settings, mailer=outbox
    )
    row = db.get(Invitation, expired.invitation_id)
    assert row is not None
    row.expires_at = utcnow() - dt.timedelta(seconds=1)
    db.flush()
    with pytest.raises(Gone, match="expired") as caught:
        invitations.accept(db, token=_token(expired.link), data=_join(), settings=settings)
    assert caught.value.details == {"status": "expired"}
    revoked = invitations.invite(
        db, actor=operator, email="gone@example.org", settings=settings, mailer=outbox
    )
    assert revoked.invitation_id is not None
    view = invitations.revoke(db, actor=operator, invitation_id=revoked.invitation_id)
    assert view.status == "revoked"
    assert (
        invitations.revoke(db, actor=operator, invitation_id=revoked.invitation_id).status
        == "revoked"
    )
    with pytest.raises(Gone, match="withdrawn"):
        invitations.accept(db, token=_token(revoked.link), data=_join(), settings=settings)
    for bogus in ("", "x" * 43, _token(revoked.link)[:-1]):
        with pytest.raises(NotFound):
            invitations.lookup(db, token=bogus, settings=settings)
    assert (
        db.scalar(select(User).where(User.email.in_(["late@example.org", "gone@example.org"])))
        is None
    )


def test_a_bad_join_form_creates_nothing(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    result = invitations.invite(
        db, actor=operator, email="typo@example.org", settings=settings, mailer=outbox
    )
    data = JoinData(
        name=" ", password="short",
        profile=_profile(time_zone="Mars/Olympus", country="XX", languages=[("english!", "C1")]),
    )  # fmt: skip
    with pytest.raises(ValidationFailed) as caught:
        invitations.accept(db, token=_token(result.link), data=data, settings=settings)
    fields = caught.value.details["fields"]
    assert {"name", "password", "time_zone", "country", "languages"} <= set(fields)
    assert "at least 10" in fields["password"]
    assert db.scalar(select(User).where(User.email == "typo@example.org")) is None
    invitation = db.get(Invitation, result.invitation_id)
    assert invitation is not None and invitation.used_at is None  # the link still works


def test_revoke_is_for_operators_and_not_after_use(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    result = invitations.invite(
        db, actor=operator, email="rev@example.org", settings=settings, mailer=outbox
    )
    assert result.invitation_id is not None
    with pytest.raises(NotFound):
        invitations.revoke(db, actor=make_user(db, Role.expert), invitation_id=result.invitation_id)
    invitations.accept(db, token=_token(result.link), data=_join(), settings=settings)
    with pytest.raises(Conflict, match="used already"):
        invitations.revoke(db, actor=operator, invitation_id=result.invitation_id)
    views = invitations.for_candidate(db, actor=operator, candidate_id=result.candidate_id or 0)
    assert [v.status for v in views] == ["used"] and views[0].created_by_name == operator.name
    with pytest.raises(NotFound):
        invitations.for_candidate(
            db, actor=make_user(db, Role.client), candidate_id=result.candidate_id or 0
        )


def test_the_mail_file_is_written_once(
    db: Session, operator: User, settings: Settings, tmp_path: Path
) -> None:
    mailer = FileMailer(tmp_path / "mail", sender=settings.mail_from)
    result = invitations.invite(
        db, actor=operator, email="file@example.org", settings=settings, mailer=mailer
    )
    files = list((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 1
    body = files[0].read_text()
    assert "To: file@example.org" in body and (result.link or "-") in body
    invitations.invite(
        db, actor=operator, email="file@example.org", settings=settings, mailer=mailer
    )
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_a_mail_problem_is_told_without_paths_and_a_newline_name_is_mailed(
    db: Session, operator: User, settings: Settings, tmp_path: Path
) -> None:
    class Broken:
        def send(self, message: Message) -> bool:
            raise PermissionError(13, "Permission denied", "/srv/secret/mail/x.eml")

    failed = invitations.invite(
        db, actor=operator, email="nomail@example.org", settings=settings, mailer=Broken()
    )
    assert failed.outcome == Outcome.invited and not failed.mailed
    assert "/srv" not in failed.message and "/srv" not in failed.mail_error
    assert "could not be written" in failed.mail_error
    expert = make_user(db, Role.expert)
    expert.name = "Ada\nLovelace"  # a referral's subject names the referrer
    db.flush()
    mailer = FileMailer(tmp_path / "mail", sender=settings.mail_from)
    sent = referrals.refer(
        db, actor=expert, email="newline@example.org", settings=settings, mailer=mailer
    )
    assert sent.outcome == "sent" and sent.mailed
    [path] = list((tmp_path / "mail").glob("*.eml"))
    assert "Subject: Ada Lovelace invites you" in path.read_text()


def test_an_address_inserted_meanwhile_is_already_invited_not_an_error(
    db: Session, operator: User, settings: Settings, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race on the unique address: the lookup saw none, the insert hits the other's row."""
    first = invitations.invite(
        db, actor=operator, email="race@example.org", settings=settings, mailer=outbox
    )
    real = invitations._candidate_by_email
    calls: list[str] = []

    def stale_first(session: Session, address: str) -> Candidate | None:
        calls.append(address)
        return None if len(calls) == 1 else real(session, address)

    monkeypatch.setattr(invitations, "_candidate_by_email", stale_first)
    raced = invitations.invite(
        db, actor=operator, email="race@example.org", settings=settings, mailer=outbox, resend=True
    )
    assert raced.outcome == Outcome.already_invited and raced.candidate_id == first.candidate_id
    assert len(outbox.sent) == 1 and len(calls) == 2
    calls.clear()
    [row] = invitations.invite_many(
        db, actor=operator, rows=[InviteRow(email="race@example.org")], settings=settings,
        mailer=outbox,
    )  # fmt: skip
    assert row.outcome == Outcome.already_invited
    # The session is still usable: the next address is invited.
    monkeypatch.setattr(invitations, "_candidate_by_email", real)
    after = invitations.invite(
        db, actor=operator, email="after@example.org", settings=settings, mailer=outbox
    )
    assert after.outcome == Outcome.invited


# --- Referrals ---------------------------------------------------------------------------------


def test_an_approved_expert_refers_a_peer(db: Session, settings: Settings, outbox: Outbox) -> None:
    make_user(db, Role.operator)
    expert = make_user(db, Role.expert)  # made by an operator: counts as approved
    result = referrals.refer(
        db, actor=expert, email="peer@example.org", name="Pia", settings=settings, mailer=outbox
    )
    assert result.outcome == "sent" and not hasattr(result, "link")  # mailed, never shown
    candidate = db.scalar(select(Candidate).where(Candidate.email == "peer@example.org"))
    assert candidate is not None
    assert candidate.referrer_user_id == expert.id and candidate.source == InvitationKind.referral
    invitation = db.scalar(select(Invitation).where(Invitation.candidate_id == candidate.id))
    assert invitation is not None and invitation.kind == InvitationKind.referral
    assert len(outbox.sent) == 1 and expert.name in outbox.sent[0].text
    mine = referrals.my_referrals(db, actor=expert)
    assert [(r.email, r.state) for r in mine] == [("peer@example.org", S.invited)]
    # The peer accepts: the referrer is still theirs, and the referrer sees the state move.
    token = _token(
        next(line for line in outbox.sent[0].text.splitlines() if "/join/" in line).strip()
    )
    invitations.accept(db, token=token, data=_join(), settings=settings)
    assert [r.state for r in referrals.my_referrals(db, actor=expert)] == [S.applied]
    # A known address is not taken over by another referrer.
    other = make_user(db, Role.expert)
    known = referrals.refer(
        db, actor=other, email="peer@example.org", settings=settings, mailer=outbox
    )
    assert known.outcome == "known" and "known" in known.message and known.candidate_id is None
    db.refresh(candidate)
    assert candidate.referrer_user_id == expert.id
    assert referrals.my_referrals(db, actor=other) == []
    # The referrer sees coarse states only: never assessment, interview, rejected and the like.
    peer = db.get(Candidate, candidate.id)
    assert peer is not None
    for detailed, coarse in [
        (S.assessment, "applied"),
        (S.interview, "applied"),
        (S.work_sample, "applied"),
        (S.approved, "approved"),
        (S.rejected, "closed"),
        (S.withdrawn, "closed"),
        (S.paused, "closed"),
    ]:
        peer.state = detailed
        db.flush()
        [view] = referrals.my_referrals(db, actor=expert)
        assert (view.state, view.label) == (coarse, referrals.REFERRAL_LABELS[coarse])
        assert detailed.value not in (view.state, view.label) or detailed == S.approved


def test_a_referrer_learns_nothing_about_a_known_address_and_cannot_revive_its_link(
    db: Session, operator: User, settings: Settings, outbox: Outbox
) -> None:
    """Every known address answers the same ``known``; a lapsed or revoked link stays dead."""
    expert = make_user(db, Role.expert)
    client = make_user(db, Role.client)
    applied = make_candidate(db, S.applied)
    live = invitations.invite(
        db, actor=operator, email="live@example.org", settings=settings, mailer=outbox
    )
    revoked = invitations.invite(
        db, actor=operator, email="revoked@example.org", settings=settings, mailer=outbox
    )
    invitations.revoke(db, actor=operator, invitation_id=revoked.invitation_id or 0)
    expired = invitations.invite(
        db, actor=operator, email="expired@example.org", settings=settings, mailer=outbox
    )
    lapsed = db.get(Invitation, expired.invitation_id)
    assert lapsed is not None
    lapsed.expires_at = utcnow() - dt.timedelta(minutes=1)
    db.flush()
    links = db.scalar(select(func.count()).select_from(Invitation))
    mails = len(outbox.sent)
    results = [
        referrals.refer(db, actor=expert, email=address, settings=settings, mailer=outbox)
        for address in (
            client.email,
            applied.email,
            "live@example.org",
            "revoked@example.org",
            "expired@example.org",
        )
    ]
    assert {(r.outcome, r.message, r.mailed, r.candidate_id) for r in results} == {
        ("known", referrals.KNOWN_MESSAGE, False, None)
    }
    assert len(outbox.sent) == mails  # no mail, no fresh link for anyone
    assert db.scalar(select(func.count()).select_from(Invitation)) == links
    assert live.outcome == Outcome.invited
    assert referrals.my_referrals(db, actor=expert) == []


def test_only_approved_experts_refer_and_a_cap_holds(
    db: Session, settings: Settings, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = make_user(db, Role.operator)
    applied = make_candidate(db, S.applied)
    applicant = db.get(User, applied.user_id)
    assert applicant is not None
    for who in (applicant, make_user(db, Role.client), operator):
        with pytest.raises(NotFound):
            referrals.refer(db, actor=who, email="x@example.org", settings=settings, mailer=outbox)
    monkeypatch.setattr(referrals, "MAX_PENDING", 2)
    expert = make_user(db, Role.expert)
    for i in range(2):
        referrals.refer(
            db, actor=expert, email=f"cap{i}@example.org", settings=settings, mailer=outbox
        )
    with pytest.raises(Conflict, match="2 referrals waiting"):
        referrals.refer(
            db, actor=expert, email="cap9@example.org", settings=settings, mailer=outbox
        )
    with pytest.raises(Conflict, match="own address"):
        monkeypatch.setattr(referrals, "MAX_PENDING", 20)
        referrals.refer(
            db, actor=expert, email=expert.email.upper(), settings=settings, mailer=outbox
        )
