"""Secure headers, CSRF checks and the client address."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from expertloop.errors import PermissionDenied

ANON_CSRF_COOKIE = "expertloop_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The OpenAPI explorer pages load their own inline bootstrap script; nothing else needs it.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


class CsrfRejected(PermissionDenied):
    """The request changes state but does not prove it came from our own page."""

    code = "csrf_failed"


class SecurityHeadersMiddleware:
    """Add CSP, nosniff, frame and referrer policies to every HTTP response."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CONTENT_SECURITY_POLICY if path == "/api/v1/docs" else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": csp.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                }
                if not path.startswith("/static/"):
                    # Confidential project data and one-time secrets stay out of caches.
                    extra[b"cache-control"] = b"no-store"
                if self.hsts:
                    extra[b"strict-transport-security"] = b"max-age=31536000; includeSubDomains"
                headers += [(k, v) for k, v in extra.items() if k not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_ip(request: Request, *, trust_forwarded_for: bool) -> str | None:
    """Return the client's address; behind a trusted proxy, the hop that proxy appended.

    The last X-Forwarded-For entry is the one our proxy wrote; earlier entries come from the
    client and can be forged.
    """
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:64]
    return request.client.host if request.client else None


def check_origin(request: Request, *, base_url: str) -> None:
    """Refuse a state-changing request whose Origin (or Referer) is another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return
    allowed = {request.headers.get("host", ""), urlsplit(base_url).netloc}
    if origin == "null" or urlsplit(origin).netloc not in allowed:
        raise CsrfRejected("Cross-site request refused.")


async def submitted_csrf_token(request: Request) -> str:
    """Return the CSRF token sent in the header or, for form posts, in the form."""
    token = request.headers.get(CSRF_HEADER, "")
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def tokens_match(expected: str | None, submitted: str) -> bool:
    """Compare tokens in constant time; an empty side never matches."""
    return bool(expected) and bool(submitted) and secrets.compare_digest(expected or "", submitted)


def new_anon_csrf_token() -> str:
    """Return a fresh token for the double-submit cookie on anonymous forms (login)."""
    return secrets.token_urlsafe(32)
