"""Error format, secure headers and the absence of stack traces."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient


def test_secure_headers_on_pages_and_api(client: TestClient) -> None:
    for url in ("/login", "/api/v1/openapi.json", "/does-not-exist"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"


def test_api_404_is_json_and_page_404_is_html(client: TestClient) -> None:
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.json() == {"error": {"code": "not_found", "message": "Not found."}}
    page = client.get("/nothing-here")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text


def test_unauthenticated_api_is_401_and_pages_redirect(client: TestClient) -> None:
    assert client.get("/api/v1/projects").status_code == 401
    page = client.get("/projects?page=2", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/projects%3Fpage%3D2"


def test_unexpected_errors_show_no_stack_trace(app: FastAPI) -> None:
    secret = "sk-very-secret-value"

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError(f"database password is {secret}")

    @app.get("/boom")
    def boom_page() -> None:
        raise RuntimeError(f"database password is {secret}")

    with TestClient(app, raise_server_exceptions=False) as c:
        api = c.get("/api/v1/boom")
        page = c.get("/boom")
    assert api.status_code == page.status_code == 500
    assert api.json()["error"]["code"] == "internal_error"
    for text in (api.text, page.text):
        assert secret not in text and "Traceback" not in text and "RuntimeError" not in text
        assert "reference" in text


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "ExpertLoop API"
    for path in (
        "/api/v1/auth/login",
        "/api/v1/tokens",
        "/api/v1/projects/{project_id}",
        "/api/v1/users",
        "/api/v1/organisations",
        "/api/v1/audit",
    ):
        assert path in spec["paths"], path
    assert not any(p.startswith("/login") for p in spec["paths"])  # pages stay out of the API


def test_wrong_method_is_json(client: TestClient) -> None:
    r = client.put("/api/v1/auth/login")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_api_explorer_is_served_locally(client: TestClient) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200


def test_the_transaction_commits_before_the_response_starts(app: FastAPI, login_as, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    order: list[str] = []

    def committed(_session: Session) -> None:
        order.append("commit")

    event.listen(Session, "after_commit", committed)
    api = login_as(world.client_a)  # builds the middleware stack
    inner = app.middleware_stack

    async def spy(scope, receive, send):  # type: ignore[no-untyped-def]
        async def wrapped(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                order.append("response")
            await send(message)

        await inner(scope, receive, wrapped)

    app.middleware_stack = spy
    try:
        order.clear()
        r = api.post("/api/v1/projects", json={"name": "Committed first"})
    finally:
        app.middleware_stack = inner
        event.remove(Session, "after_commit", committed)
    assert r.status_code == 201
    assert "commit" in order and order.index("commit") < order.index("response")


def test_pages_and_api_answers_are_not_cached(client: TestClient) -> None:
    assert client.get("/login").headers["cache-control"] == "no-store"
    assert client.get("/api/v1/openapi.json").headers["cache-control"] == "no-store"
    assert client.get("/static/app.css").headers.get("cache-control") != "no-store"
