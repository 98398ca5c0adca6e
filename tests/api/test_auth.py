"""Login, logout, CSRF, rate limits and password change through the JSON API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, WebSession
from expertloop.events import AuditLog
from tests.factories import PASSWORD, make_user


def _kinds(db: Session) -> list[str]:
    db.expire_all()
    return [row.kind for row in db.scalars(select(AuditLog).order_by(AuditLog.id))]


def test_login_sets_session_and_returns_csrf(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.expert)
    db.commit()
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == user.email
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["set-cookie"]
    assert "expertloop_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/api/v1/auth/me").json()["id"] == user.id
    assert "auth.login_succeeded" in _kinds(db)


def test_login_email_is_case_insensitive(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    response = client.post(
        "/api/v1/auth/login", json={"email": user.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200


def test_wrong_password_and_unknown_email_look_the_same(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.expert)
    db.commit()
    wrong = client.post("/api/v1/auth/login", json={"email": user.email, "password": "nope-nope"})
    unknown = client.post(
        "/api/v1/auth/login", json={"email": "ghost@tests.expertloop.org", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"] == unknown.json()["error"]
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert "set-cookie" not in wrong.headers
    # Failures are audited even though the request failed.
    assert _kinds(db).count("auth.login_failed") == 2


def test_deactivated_user_cannot_log_in(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.expert)
    user.is_active = False
    db.commit()
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert response.status_code == 401


def test_login_requires_json(client: TestClient, db: Session) -> None:
    # A cross-site form can send text/plain or form data, never JSON without CORS.
    user = make_user(db, Role.expert)
    db.commit()
    response = client.post(
        "/api/v1/auth/login",
        content=f'{{"email": "{user.email}", "password": "{PASSWORD}"}}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 422
    assert "set-cookie" not in response.headers


def test_logout_ends_the_session(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    csrf = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    ).json()["csrf_token"]
    cookie = client.cookies.get("expertloop_session")
    response = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    # The old cookie is dead on the server too, not only removed from the browser.
    client.cookies.set("expertloop_session", cookie or "")
    assert client.get("/api/v1/auth/me").status_code == 401
    assert "auth.logged_out" in _kinds(db)


def test_state_change_without_csrf_token_is_rejected(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    for headers in ({}, {"X-CSRF-Token": "forged-token-value"}):
        response = client.post("/api/v1/tokens", json={"name": "x"}, headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "csrf_failed"
    response = client.post("/api/v1/auth/logout")
    assert response.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200  # still logged in


def test_cross_origin_request_is_rejected_even_with_token(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.client)
    db.commit()
    csrf = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    ).json()["csrf_token"]
    response = client.post(
        "/api/v1/tokens",
        json={"name": "x"},
        headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example.com"},
    )
    assert response.status_code == 403
    ok = client.post(
        "/api/v1/tokens",
        json={"name": "x"},
        headers={"X-CSRF-Token": csrf, "Origin": "http://testserver"},
    )
    assert ok.status_code == 201


def test_csrf_token_is_per_session(client: TestClient, app, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db, Role.client)
    db.commit()
    first = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    other = TestClient(app, base_url="http://testserver")
    second = other.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert first.json()["csrf_token"] != second.json()["csrf_token"]
    # Session 1's cookie with session 2's token is refused.
    response = client.post(
        "/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": second.json()["csrf_token"]}
    )
    assert response.status_code == 403
    other.close()


def test_login_rate_limited_per_account(client: TestClient, db: Session) -> None:
    user = make_user(db, Role.expert)
    db.commit()
    for _ in range(10):
        r = client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong-pass"})
        assert r.status_code == 401
    # Even the right password is refused while the account's budget is spent.
    blocked = client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert int(blocked.headers["Retry-After"]) > 0


def test_login_rate_limited_per_address(app, client: TestClient, db: Session) -> None:  # type: ignore[no-untyped-def]
    users = [make_user(db, Role.expert) for _ in range(6)]
    db.commit()
    # 50 attempts per address: spread over accounts so no single account hits its own limit.
    statuses = []
    for i in range(51):
        u = users[i % len(users)]
        r = client.post("/api/v1/auth/login", json={"email": u.email, "password": "wrong-pass"})
        statuses.append(r.status_code)
    assert statuses[:50] == [401] * 50
    assert statuses[50] == 429


def test_token_auth_works_without_cookie_or_csrf(
    client: TestClient,
    app,
    db: Session,  # type: ignore[no-untyped-def]
) -> None:
    user = make_user(db, Role.client)
    db.commit()
    csrf = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    ).json()["csrf_token"]
    created = client.post("/api/v1/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("elk_")
    bare = TestClient(app, base_url="http://testserver")
    auth = {"Authorization": f"Bearer {secret}"}
    assert bare.get("/api/v1/auth/me", headers=auth).json()["id"] == user.id
    # A change with a bearer token needs no CSRF token: no ambient credential is involved.
    assert bare.post("/api/v1/tokens", json={"name": "second"}, headers=auth).status_code == 201
    # The secret is never listed again, and only its hash is stored.
    listed = bare.get("/api/v1/tokens", headers=auth).json()
    assert all("token" not in t for t in listed)
    assert secret not in str(listed)
    from expertloop.accounts.models import ApiToken

    db.expire_all()
    assert all(secret not in (t.token_hash + t.prefix) for t in db.scalars(select(ApiToken)))
    assert "auth.token_created" in _kinds(db)
    bare.close()


def test_revoked_and_bogus_tokens_are_refused(client: TestClient, app, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db, Role.expert)
    db.commit()
    csrf = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    ).json()["csrf_token"]
    created = client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    token_id, secret = created.json()["id"], created.json()["token"]
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    bare = TestClient(app, base_url="http://testserver")
    for bad in (secret, "elk_not-a-real-token", "garbage"):
        r = bare.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert "auth.token_revoked" in _kinds(db)
    bare.close()


def test_expired_token_is_refused(client: TestClient, app, db: Session) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from expertloop.accounts.models import ApiToken
    from expertloop.accounts.tokens import create_token

    user = make_user(db, Role.expert)
    secret, row = create_token(session=db, user=user, name="short", expires_in_days=1)
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.commit()
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert db.get(ApiToken, row.id) is not None


def test_password_change(client: TestClient, app, db: Session) -> None:  # type: ignore[no-untyped-def]
    user = make_user(db, Role.expert)
    db.commit()
    other = TestClient(app, base_url="http://testserver")
    other.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    csrf = client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    ).json()["csrf_token"]
    h = {"X-CSRF-Token": csrf}

    wrong = client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": "not-it-at-all", "new_password": "new-secret-123"},
    )
    assert wrong.status_code == 422
    short = client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert short.status_code == 422
    assert "at least 10" in short.json()["error"]["message"]

    ok = client.post(
        "/api/v1/auth/password",
        headers=h,
        json={"current_password": PASSWORD, "new_password": "new-secret-123"},
    )
    assert ok.status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 200  # this session survives
    assert other.get("/api/v1/auth/me").status_code == 401  # the other one ended
    fresh = TestClient(app, base_url="http://testserver")
    old = fresh.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert old.status_code == 401
    new = fresh.post("/api/v1/auth/login", json={"email": user.email, "password": "new-secret-123"})
    assert new.status_code == 200
    db.expire_all()
    assert db.scalar(select(WebSession.id).where(WebSession.user_id == user.id)) is not None
    assert "auth.password_changed" in _kinds(db)
    other.close()
    fresh.close()


def test_validation_errors_do_not_echo_passwords(client: TestClient) -> None:
    response = client.post("/api/v1/auth/login", json={"email": "x", "password": 12345678901})
    assert response.status_code == 422
    assert "12345678901" not in response.text
    assert response.json()["error"]["code"] == "invalid_request"
