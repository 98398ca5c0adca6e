"""Outreach API and pages: operators invite (one, a list, a CSV with row numbers), list and revoke
links; everyone else gets 404 on those routes; the public link answers its summary, 404 when
unknown and 410 once used, expired or revoked; accepting makes the account, profile and applied
transition and logs in (JSON and the join page, with per-field errors that keep what was typed);
the expert's own profile (GET/PUT, stale 409, the page); referrals (approved experts only)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    Invitation,
    VettingState,
    VettingTransition,
)
from expertloop.settings import Settings
from expertloop.types import utcnow
from tests.factories import World, make_user
from tests.unit.experts.test_pipeline import make_candidate

S = VettingState
OUTSIDERS = ("client_a", "expert_a", "reviewer_a")

PROFILE: dict[str, Any] = {
    "headline": "Tax lawyer",
    "domains": [{"domain": "law", "specialty": "tax_law"}],
    "years_experience": 8,
    "country": "br",
    "time_zone": "America/Sao_Paulo",
    "languages": [{"language": "pt-br", "level": "native"}, {"language": "en", "level": "c1"}],
    "weekly_hours": 12,
    "rate_minor": 7500,
    "rate_currency": "BRL",
    "resume": "Eight years of tax litigation.",
    "links": ["https://example.org/lia"],
    "phone": "+55 11 5555 0101",
}


def mails_to(settings: Settings, address: str) -> list[email.message.EmailMessage]:
    """Return the .eml files written for ``address``, oldest first."""
    out = []
    for path in sorted((settings.data_dir / "mail").glob("*.eml"), key=lambda p: p.stat().st_mtime):
        parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if parsed["To"] == address:
            out.append(parsed)  # type: ignore[arg-type]
    return out


def link_in(mail: email.message.EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"https?://\S+/join/[\w-]+", body.get_content())
    assert found, body.get_content()
    return found.group(0)


def _token(link: str) -> str:
    return link.rsplit("/join/", 1)[1]


def test_operator_invites_one_and_a_list(
    world: World, login_as: Any, settings: Settings, db: Session
) -> None:
    op = login_as(world.operator)
    one = op.post(
        "/api/v1/candidates/invitations",
        json={"email": "Lia@Example.org", "name": "Lia", "domain": "law"},
    )
    assert one.status_code == 200, one.text
    result = one.json()["results"][0]
    assert (
        result["outcome"] == "invited"
        and result["mailed"]
        and result["link"].startswith("http://testserver/join/")
    )
    mails = mails_to(settings, "lia@example.org")
    assert len(mails) == 1 and link_in(mails[0]) == result["link"]
    again = op.post("/api/v1/candidates/invitations", json={"email": "lia@example.org"}).json()[
        "results"
    ][0]
    assert again["outcome"] == "already_invited" and again["link"] is None
    assert len(mails_to(settings, "lia@example.org")) == 1  # no second mail
    batch = op.post(
        "/api/v1/candidates/invitations",
        json={
            "items": [
                {"email": "m1@example.org"},
                {"email": "bad"},
                {"email": "M1@example.org"},
                {"email": "lia@example.org"},
            ]
        },
    ).json()
    outcomes = [(r["row"], r["outcome"]) for r in batch["results"]]
    assert outcomes == [(1, "invited"), (2, "failed"), (3, "failed"), (4, "already_invited")]
    assert batch["counts"]["invited"] == 1 and batch["counts"]["failed"] == 2
    assert "row 1" in batch["results"][2]["message"]
    candidate = db.scalar(select(Candidate).where(Candidate.email == "lia@example.org"))
    assert candidate is not None and candidate.state == S.invited
    links = op.get(f"/api/v1/candidates/{candidate.id}/invitations").json()
    assert [(lnk["status"], lnk["kind"]) for lnk in links] == [("pending", "operator")]
    assert "token" not in links[0] and result["link"] not in str(links)


def test_csv_upload_reports_rows(world: World, login_as: Any, db: Session) -> None:
    op = login_as(world.operator)
    csv_text = (
        "email,name,domain\nn1@example.org,N One,finance\nnope,Bad,\n"
        "n2@example.org,N Two,astrology\n\nn3@example.org,,\n"
    )
    r = op.post(
        "/api/v1/candidates/invitations/csv",
        files={"file": ("people.csv", csv_text.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    rows = {x["row"]: x for x in r.json()["results"]}
    assert rows[2]["outcome"] == "invited" and rows[6]["outcome"] == "invited"
    assert rows[3]["outcome"] == "failed" and "email" in rows[3]["message"].lower()
    assert rows[4]["outcome"] == "failed" and "Unknown domain" in rows[4]["message"]
    assert set(
        db.scalars(select(Candidate.email).where(Candidate.email.like("n_@example.org")))
    ) == {"n1@example.org", "n3@example.org"}
    no_header = op.post(
        "/api/v1/candidates/invitations/csv", files={"file": ("x.csv", b"name\nx\n", "text/csv")}
    )
    assert no_header.status_code == 422 and "header" in no_header.json()["error"]["message"]
    latin = op.post(
        "/api/v1/candidates/invitations/csv",
        files={"file": ("x.csv", "email\nj\xf6rg@example.org\n".encode("latin-1"), "text/csv")},
    )
    assert latin.status_code == 422 and "UTF-8" in latin.json()["error"]["message"]


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_operator_routes_are_404_for_everyone_else(
    world: World, login_as: Any, db: Session, outsider: str
) -> None:
    op = login_as(world.operator)
    made = op.post(
        "/api/v1/candidates/invitations", json={"email": f"o-{outsider}@example.org"}
    ).json()["results"][0]
    api = login_as(getattr(world, outsider))
    probes = [
        ("POST", "/api/v1/candidates/invitations", {"email": "planted@example.org"}),
        ("GET", f"/api/v1/candidates/{made['candidate_id']}/invitations", None),
        ("POST", f"/api/v1/invitations/{made['invitation_id']}/revoke", None),
        ("GET", "/candidates/invite", None),
        ("GET", f"/candidates/{made['candidate_id']}/invitations", None),
    ]
    for method, url, body in probes:
        r = api.request(method, url, json=body)
        assert r.status_code == 404, (url, r.status_code, r.text)
        assert f"o-{outsider}@example.org" not in r.text
    csv = api.post(
        "/api/v1/candidates/invitations/csv",
        files={"file": ("x.csv", b"email\nplanted2@example.org\n", "text/csv")},
    )
    assert csv.status_code == 404
    assert db.scalar(select(Candidate).where(Candidate.email.like("planted%"))) is None
    assert (
        op.get(f"/api/v1/candidates/{made['candidate_id']}/invitations").json()[0]["status"]
        == "pending"
    )


def test_public_link_accept_and_refusals(
    world: World, login_as: Any, client: Any, db: Session, settings: Settings
) -> None:
    op = login_as(world.operator)
    made = op.post(
        "/api/v1/candidates/invitations", json={"email": "lia.join@example.org", "domain": "law"}
    ).json()["results"][0]
    token = _token(made["link"])
    summary = client.get(f"/api/v1/invitations/{token}")
    assert summary.status_code == 200, summary.text
    assert (
        summary.json()["inviter_name"] == world.operator.name
        and summary.json()["domain_label"] == "Law"
    )
    assert client.get("/api/v1/invitations/not-a-token").status_code == 404
    bad = client.post(
        f"/api/v1/invitations/{token}/accept",
        json={
            "name": "Lia",
            "password": "short",
            "profile": {**PROFILE, "time_zone": "Nowhere/Land"},
        },
    )
    assert bad.status_code == 422, bad.text
    fields = bad.json()["error"]["details"]["fields"]
    assert set(fields) >= {"password", "time_zone"}
    ok = client.post(
        f"/api/v1/invitations/{token}/accept",
        json={"name": "Lia Souza", "password": "a-long-enough-password", "profile": PROFILE},
    )
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["candidate_state"] == "applied" and body["next"] == "/vetting"
    # Logged in: the status page and the own profile answer.
    me = client.get("/api/v1/me/vetting").json()
    assert me["state"] == "applied"
    profile = client.get("/api/v1/me/profile").json()
    assert profile["country"] == "BR" and profile["languages"][0] == {
        "language": "pt-BR",
        "level": "native",
    }
    assert profile["utc_offset_minutes"] == -180 and profile["phone"] == PROFILE["phone"]
    user = db.scalar(select(User).where(User.email == "lia.join@example.org"))
    assert user is not None and user.role == Role.expert
    moves = db.scalars(
        select(VettingTransition.to_state)
        .join(Candidate, Candidate.id == VettingTransition.candidate_id)
        .where(Candidate.user_id == user.id)
        .order_by(VettingTransition.id)
    ).all()
    assert moves == [S.invited, S.applied]
    # Used: the link answers 410, twice the same.
    for _ in range(2):
        again = client.post(
            f"/api/v1/invitations/{token}/accept",
            json={"name": "X", "password": "a-long-enough-password", "profile": PROFILE},
        )
        assert again.status_code == 410 and "already used" in again.json()["error"]["message"]
    assert client.get(f"/api/v1/invitations/{token}").status_code == 410
    # Expired and revoked links: 410 too.
    late = op.post("/api/v1/candidates/invitations", json={"email": "late.api@example.org"}).json()[
        "results"
    ][0]
    row = db.get(Invitation, late["invitation_id"])
    assert row is not None
    row.expires_at = utcnow() - dt.timedelta(hours=1)
    db.commit()
    r = client.get(f"/api/v1/invitations/{_token(late['link'])}")
    assert r.status_code == 410 and r.json()["error"]["code"] == "gone" and "expired" in r.text
    gone = op.post("/api/v1/candidates/invitations", json={"email": "gone.api@example.org"}).json()[
        "results"
    ][0]
    revoked = op.post(f"/api/v1/invitations/{gone['invitation_id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.get(f"/api/v1/invitations/{_token(gone['link'])}").status_code == 410
    used = op.post(f"/api/v1/invitations/{made['invitation_id']}/revoke")
    assert used.status_code == 409


def test_join_page_keeps_what_was_typed_and_logs_in(
    world: World, login_as: Any, app: Any, db: Session
) -> None:
    from fastapi.testclient import TestClient

    op = login_as(world.operator)
    made = op.post(
        "/api/v1/candidates/invitations", json={"email": "page.join@example.org", "name": "Pia"}
    ).json()["results"][0]
    token = _token(made["link"])
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as browser:
        page = browser.get(f"/join/{token}")
        assert page.status_code == 200 and "page.join@example.org" in page.text
        assert escape(world.operator.name) in page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        form = {
            "csrf_token": csrf.group(1), "name": "Pia Ritter", "password": "short",
            "expertise": "medicine:cardiology", "headline": "Cardiologist", "country": "DE",
            "time_zone": "Europe/Berlin", "language": ["de", "en"], "level": ["native", "B2"],
            "weekly_hours": "ten", "rate": "90", "rate_currency": "EUR",
            "resume": "Kardiologie seit 2010.",
        }  # fmt: skip
        bad = browser.post(f"/join/{token}", data=form)
        assert bad.status_code == 422
        assert (
            'data-testid="error-password"' in bad.text
            and 'data-testid="error-weekly_hours"' in bad.text
        )
        assert "Kardiologie seit 2010." in bad.text and 'value="Cardiologist"' in bad.text
        assert 'value="medicine:cardiology" selected' in bad.text
        no_csrf = browser.post(
            f"/join/{token}",
            data={
                **form,
                "csrf_token": "forged",
                "password": "a-long-enough-password",
                "weekly_hours": "10",
            },
        )
        assert no_csrf.status_code == 403
        done = browser.post(
            f"/join/{token}",
            data={**form, "password": "a-long-enough-password", "weekly_hours": "10"},
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/vetting"
        status = browser.get("/vetting")
        assert status.status_code == 200 and 'data-testid="vetting-state">applied' in status.text
        user = db.scalar(select(User).where(User.email == "page.join@example.org"))
        assert user is not None
        profile = db.get(ExpertProfile, user.id)
        assert profile is not None and profile.rate_minor == 9000 and profile.rate_currency == "EUR"
        gone = browser.get(f"/join/{token}")
        assert gone.status_code == 410 and "already used" in gone.text
        assert browser.get("/join/not-a-token").status_code == 404


def test_my_profile_get_put_and_page(world: World, login_as: Any, db: Session) -> None:
    expert = login_as(world.expert_a)
    assert expert.get("/api/v1/me/profile").status_code == 404
    created = expert.put("/api/v1/me/profile", json=PROFILE)
    assert created.status_code == 200, created.text
    assert created.json()["version"] == 1 and created.json()["vetting_state"] == "approved"
    changed = expert.put(
        "/api/v1/me/profile", json={**PROFILE, "headline": "Senior tax lawyer", "version": 1}
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = expert.put(
        "/api/v1/me/profile", json={**PROFILE, "headline": "Other tab", "version": 1}
    )
    assert stale.status_code == 409 and stale.json()["error"]["details"]["version"] == 2
    bad = expert.put("/api/v1/me/profile", json={**PROFILE, "country": "ZZ", "version": 2})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "country"
    unknown = expert.put(
        "/api/v1/me/profile",
        json={**PROFILE, "domains": [{"domain": "law", "specialty": "astrology"}]},
    )
    assert unknown.status_code == 422
    page = expert.get("/profile")
    assert page.status_code == 200 and 'value="Senior tax lawyer"' in page.text
    saved = expert.post(
        "/profile",
        data={
            "version": "2",
            "expertise": "law:tax_law",
            "headline": "Tax adviser",
            "country": "PT",
            "time_zone": "Europe/Lisbon",
            "language": ["pt"],
            "level": ["native"],
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert expert.get("/api/v1/me/profile").json()["headline"] == "Tax adviser"
    wrong = expert.post(
        "/profile", data={"version": "3", "expertise": "law:tax_law", "time_zone": "Mars/Base"}
    )
    assert wrong.status_code == 422 and 'data-testid="error-time_zone"' in wrong.text
    # Clients and operators have no own expert profile page; a client cannot save one.
    client = login_as(world.client_a)
    assert client.get("/profile").status_code == 404
    assert client.put("/api/v1/me/profile", json=PROFILE).status_code == 404


def test_referrals(world: World, login_as: Any, db: Session, settings: Settings) -> None:
    expert = login_as(world.expert_a)  # made by an operator: approved
    r = expert.post("/api/v1/me/referrals", json={"email": "peer.api@example.org", "name": "Peer"})
    assert r.status_code == 201, r.text
    assert r.json()["outcome"] == "sent" and "link" not in r.json()
    candidate = db.scalar(select(Candidate).where(Candidate.email == "peer.api@example.org"))
    assert candidate is not None and candidate.referrer_user_id == world.expert_a.id
    assert len(mails_to(settings, "peer.api@example.org")) == 1
    mine = expert.get("/api/v1/me/referrals").json()
    assert mine["can_refer"] and mine["pending"] == 1
    assert [(x["email"], x["state"]) for x in mine["items"]] == [
        ("peer.api@example.org", "invited")
    ]
    candidate.state = S.rejected
    db.commit()
    closed = expert.get("/api/v1/me/referrals").json()["items"]
    assert [(x["state"], x["label"]) for x in closed] == [("closed", "closed")]
    assert "rejected" not in expert.get("/refer").text
    bad = expert.post("/api/v1/me/referrals", json={"email": "nope"})
    assert bad.status_code == 422
    # Known addresses (an account, a candidate) look alike: one outcome, one message.
    known = [
        expert.post("/api/v1/me/referrals", json={"email": address}).json()
        for address in (world.client_a.email, "peer.api@example.org")
    ]
    assert known[0] == known[1] | {"email": world.client_a.email}
    assert known[0]["outcome"] == "known" and not known[0]["mailed"]
    page = expert.get("/refer")
    assert page.status_code == 200 and "peer.api@example.org" in page.text
    sent = expert.post("/refer", data={"email": "peer.page@example.org"})
    assert sent.status_code == 200 and 'data-testid="refer-result"' in sent.text
    # A candidate still in vetting may not refer; neither may a client.
    applicant = make_candidate(db, S.applied)
    db.commit()
    user = db.get(User, applicant.user_id)
    assert user is not None
    assert (
        login_as(user).post("/api/v1/me/referrals", json={"email": "x@example.org"}).status_code
        == 404
    )
    assert (
        login_as(world.client_a)
        .post("/api/v1/me/referrals", json={"email": "x@example.org"})
        .status_code
        == 404
    )
    assert login_as(world.client_a).get("/api/v1/me/referrals").json()["items"] == []


def test_operator_pages_invite_and_revoke(world: World, login_as: Any, db: Session) -> None:
    op = login_as(world.operator)
    board = op.get("/candidates")
    assert 'href="/candidates/invite"' in board.text
    form = op.get("/candidates/invite")
    assert form.status_code == 200 and 'data-testid="invite-csv-form"' in form.text
    one = op.post("/candidates/invite", data={"email": "page.inv@example.org", "domain": "finance"})
    assert one.status_code == 200 and 'data-outcome="invited"' in one.text and "/join/" in one.text
    bad = op.post("/candidates/invite", data={"email": "nope"})
    assert bad.status_code == 422 and 'data-outcome="failed"' in bad.text
    csv = op.post(
        "/candidates/invite/csv",
        files={"file": ("p.csv", b"email\npage.csv@example.org\nbroken\n", "text/csv")},
    )
    assert (
        csv.status_code == 200
        and 'data-row="3"' in csv.text
        and 'data-outcome="failed"' in csv.text
    )
    candidate = db.scalar(select(Candidate).where(Candidate.email == "page.inv@example.org"))
    assert candidate is not None
    detail = op.get(f"/candidates/{candidate.id}")
    assert f'hx-get="/candidates/{candidate.id}/invitations"' in detail.text
    links = op.get(f"/candidates/{candidate.id}/invitations", headers={"HX-Request": "true"})
    assert links.status_code == 200 and "Revoke" in links.text
    invitation = db.scalar(select(Invitation).where(Invitation.candidate_id == candidate.id))
    assert invitation is not None
    revoked = op.post(f"/invitations/{invitation.id}/revoke", headers={"HX-Request": "true"})
    assert revoked.status_code == 200 and ">revoked<" in revoked.text
    whole = op.get(f"/candidates/{candidate.id}/invitations")
    assert (
        whole.status_code == 200 and "Invitation links" in whole.text and ">revoked<" in whole.text
    )


def test_expert_nav_links_profile_and_refer(world: World, login_as: Any) -> None:
    home = login_as(world.expert_a).get("/")
    assert 'href="/profile"' in home.text and 'href="/refer"' in home.text


# --- CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh SQLite database (and data dir for the mail) the command uses, with an operator."""
    from expertloop.db import make_engine, make_session_factory, upgrade
    from expertloop.settings import get_settings
    from tests.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("EXPERTLOOP_ENV", "development")
    monkeypatch.setenv("EXPERTLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXPERTLOOP_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(make_settings(url, tmp_path))
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        make_user(session, Role.operator)
        session.commit()
    yield factory, tmp_path
    engine.dispose()
    get_settings.cache_clear()


def test_cli_invite_addresses_and_csv(cli_db: Any) -> None:
    from typer.testing import CliRunner

    from expertloop.cli.main import app

    factory, tmp = cli_db
    runner = CliRunner()
    one = runner.invoke(
        app, ["experts", "invite", "cli1@example.org", "--name", "[bold]Cli[/]", "--domain", "law"]
    )
    assert one.exit_code == 0, one.output
    assert "invited: cli1@example.org" in one.output and "/join/" not in one.output
    assert "Done: 1 invited." in one.output
    assert len(list((tmp / "mail").glob("*.eml"))) == 1
    again = runner.invoke(app, ["experts", "invite", "cli1@example.org", "--show-links"])
    assert (
        again.exit_code == 0 and "already invited" in again.output and "/join/" not in again.output
    )
    shown = runner.invoke(app, ["experts", "invite", "cli2@example.org", "--show-links"])
    assert shown.exit_code == 0 and "/join/" in shown.output
    with factory() as session:
        named = session.scalar(select(Candidate).where(Candidate.email == "cli1@example.org"))
        assert named is not None and named.name == "[bold]Cli[/]" and named.domain == "law"

    path = tmp / "people.csv"
    path.write_text(
        "email,name,domain\ncsv1@example.org,One,finance\nbroken,Two,\ncsv3@example.org,,astrology\n"
        "csv1@example.org,Dup,\ncsv5@example.org,Five,\n",
        encoding="utf-8",
    )
    rows = runner.invoke(app, ["experts", "invite", "--csv", str(path)])
    assert rows.exit_code == 1, rows.output  # some rows failed
    assert "row 3: broken" in rows.output and "row 4: csv3@example.org" in rows.output
    assert "row 5: csv1@example.org" in rows.output and "row 2" in rows.output
    assert "Done: 2 invited, 3 failed." in rows.output and "Traceback" not in rows.output
    as_json = runner.invoke(app, ["experts", "invite", "--csv", str(path), "--json"])
    body = json.loads(as_json.stdout)
    assert body["counts"]["already_invited"] == 2 and body["counts"]["failed"] == 3
    with factory() as session:
        emails = set(session.scalars(select(Candidate.email).where(Candidate.email.like("csv%"))))
    assert emails == {"csv1@example.org", "csv5@example.org"}
    both = runner.invoke(app, ["experts", "invite", "x@example.org", "--csv", str(path)])
    assert both.exit_code == 1 and "one of the two" in both.output
    latin = tmp / "latin.csv"
    latin.write_bytes("email\nj\xf6rg@example.org\n".encode("latin-1"))
    bad = runner.invoke(app, ["experts", "invite", "--csv", str(latin)])
    assert bad.exit_code == 1 and "UTF-8" in bad.output and "Traceback" not in bad.output
    # Broken past the first read: the rows done are kept, listed, and the error told.
    midway = tmp / "midway.csv"
    midway.write_bytes(b"email\nmidcli@example.org\n" + b"\n" * 20_000 + b"x\xff@example.org\n")
    half = runner.invoke(app, ["experts", "invite", "--csv", str(midway), "--json"])
    assert half.exit_code == 1 and "Traceback" not in half.output
    report = json.loads(half.stdout)
    assert "UTF-8" in report["error"] and report["counts"]["invited"] == 1
    with factory() as session:
        kept = session.scalar(select(Candidate).where(Candidate.email == "midcli@example.org"))
    assert kept is not None


def test_profile_page_refuses_huge_or_odd_numbers_without_crashing(
    world: World, login_as: Any
) -> None:
    """A rate in exponent notation or too long, or a Unicode-digit version, is a 422, never 500."""
    expert = login_as(world.expert_a)
    base = {
        "expertise": "law:tax_law", "headline": "Tax adviser", "country": "PT",
        "time_zone": "Europe/Lisbon", "language": ["pt"], "level": ["native"],
    }  # fmt: skip
    for rate in ("1e400", "9e999999", "1E2", "12345678901234567890", "NaN", "-5"):
        page = expert.post("/profile", data={**base, "rate": rate})
        assert page.status_code == 422, (rate, page.status_code)
        assert 'data-testid="error-rate"' in page.text
    too_much = expert.post("/profile", data={**base, "rate": "999999999999999"})
    assert too_much.status_code == 422 and "999999999999999.00" in too_much.text
    odd = expert.post(
        "/profile", data={**base, "rate": "85.50", "version": "²"}, follow_redirects=False
    )
    assert odd.status_code in (303, 409), odd.text


def test_rate_form_values_are_exact() -> None:
    from expertloop.web.pages import experts_outreach as pages

    errors: dict[str, str] = {}
    assert pages._rate("85.505", "USD", errors) == 8551 and not errors
    assert pages._rate("1,200", "JPY", errors) == 1200 and not errors
    assert pages._rate("1e400", "USD", errors) is None and "rate" in errors
    data = pages.profiles.ProfileData(rate_minor=10**20 + 1, rate_currency="USD")
    assert pages._values(data)["rate"] == "1000000000000000000.01"
    assert pages._version("²") is None and pages._version("9" * 5000) is None
    assert pages._version(" 3 ") == 3


def test_csv_upload_broken_midway_keeps_the_rows_done(
    world: World, login_as: Any, db: Session, settings: Settings
) -> None:
    """Bad UTF-8 past the first read: 422 with the rows done listed, kept and their links live."""
    op = login_as(world.operator)
    body = (
        b"email,name\nmid1@example.org,Mid One\n" + b"\n" * 20_000 + b"mid2@example.org,\xff\xfe\n"
    )
    r = op.post(
        "/api/v1/candidates/invitations/csv", files={"file": ("people.csv", body, "text/csv")}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert "UTF-8" in error["message"] and error["details"]["field"] == "file"
    assert [(x["row"], x["outcome"]) for x in error["details"]["results"]] == [(2, "invited")]
    assert error["details"]["counts"]["invited"] == 1
    db.expire_all()
    assert db.scalar(select(Candidate).where(Candidate.email == "mid1@example.org")) is not None
    [mail] = mails_to(settings, "mid1@example.org")
    token = link_in(mail).rsplit("/join/", 1)[1]
    assert op.get(f"/api/v1/invitations/{token}").status_code == 200
