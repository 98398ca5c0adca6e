"""Jinja2 environment and the per-request context every page gets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response

from expertloop.accounts.models import Role
from expertloop.projects.guidelines import render as render_markdown

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


# What each role finds in the navigation; later capabilities add their pages here.
NAVIGATION: dict[Role, tuple[NavItem, ...]] = {
    Role.operator: (
        NavItem("Home", "/"),
        NavItem("Projects", "/projects"),
        NavItem("Users", "/users"),
        NavItem("Candidates", "/candidates"),
        NavItem("Find experts", "/experts/search"),
        NavItem("Models", "/models"),
        NavItem("Payroll", "/payroll"),
        NavItem("Jobs", "/jobs"),
        NavItem("Webhooks", "/webhooks"),
        NavItem("Audit log", "/audit"),
    ),
    Role.client: (
        NavItem("Home", "/"),
        NavItem("Projects", "/projects"),
        NavItem("Spend", "/spend"),
        NavItem("Jobs", "/jobs"),
        NavItem("Webhooks", "/webhooks"),
    ),
    Role.expert: (
        NavItem("Home", "/"),
        NavItem("My projects", "/projects"),
        NavItem("Time", "/time"),
        NavItem("Earnings", "/earnings"),
        NavItem("Profile", "/profile"),
        NavItem("Refer", "/refer"),
    ),
    Role.reviewer: (
        NavItem("Home", "/"),
        NavItem("Projects", "/projects"),
        NavItem("Time", "/time"),
        NavItem("Team time", "/team-time"),
        NavItem("Earnings", "/earnings"),
        NavItem("Profile", "/profile"),
        NavItem("Refer", "/refer"),
    ),
}


# Embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): they reorder what
# follows them, so "gnp.exe" can show as "exe.png". The marks (LRM, RLM, ALM) stay: they cannot
# reorder letters, and right-to-left writers use them to place punctuation.
_BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A)],
    None,
)


def oneline(value: object) -> str:
    """Return text for a one-line context (title, link, cell): bidi controls out, one line."""
    if value is None:
        return ""
    text = str(value)
    flat = " ".join(text.translate(_BIDI_CONTROLS).splitlines())
    # Already escaped HTML (a {% filter %} block's output) must not be escaped twice.
    return Markup(flat) if isinstance(value, Markup) else flat  # noqa: S704


def format_datetime(value: dt.datetime | None) -> str:
    """Format a timestamp for pages (UTC, minute precision)."""
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def make_templates(*, env_name: str) -> Jinja2Templates:
    """Build the template environment (autoescaping on)."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["instance_env"] = env_name
    templates.env.filters["markdown"] = lambda text: Markup(render_markdown(text))  # noqa: S704
    templates.env.filters["dt"] = format_datetime
    templates.env.filters["oneline"] = oneline
    return templates


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    """Render a page with the caller, their navigation and CSRF token in context."""
    auth = getattr(request.state, "auth", None)
    viewer = getattr(request.state, "viewer", None)
    ctx: dict[str, Any] = {
        "user": auth.user if auth else None,
        "viewer": viewer,
        "nav": NAVIGATION.get(viewer.role, ()) if viewer else (),
        "csrf_token": viewer.csrf_token if viewer else "",
        "path": request.url.path,
    }
    ctx.update(context or {})
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)
