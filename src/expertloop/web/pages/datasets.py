"""A project's Datasets tab: create snapshots, follow their builds, download them, read one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.datasets import snapshots
from expertloop.datasets.schemas import SnapshotFiltersIn
from expertloop.datasets.snapshots import SnapshotView
from expertloop.errors import NotFound, ValidationFailed
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs
from expertloop.web.templating import render

router = APIRouter(prefix="/projects/{project_id}/datasets")
PAGE_SIZE = 20


def _tab(
    request: Request,
    db: DB,
    user: CurrentUser,
    project_id: int,
    page: int,
    form: dict[str, Any],
    error: str = "",
    status_code: int = 200,
) -> Response:
    rows, total = snapshots.list_snapshots(
        session=db,
        actor=user,
        project_id=project_id,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    project = projects_uc.get_project(session=db, project_id=project_id, actor=user)
    return render(
        request,
        "datasets/list.html",
        {
            "project": project,
            "snapshots": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "targets": targets.list_targets(session=db, actor=user, project=project),
            "form": form,
            "error": error,
        },
        status_code,
    )


@router.get("")
def dataset_tab(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """List the project's snapshots, with the form that asks for a new one."""
    return _tab(request, db, user, project_id, page, {"test_percent": 10})


def _date(value: str, label: str) -> dt.date | None:
    if not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(f"{label} is not a date (YYYY-MM-DD).") from None


@router.post("")
def dataset_create(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    queue: Jobs,
    domain: Annotated[str, Form(max_length=100)] = "",
    accepted_from: Annotated[str, Form(max_length=20)] = "",
    accepted_to: Annotated[str, Form(max_length=20)] = "",
    endpoint_id: Annotated[list[int] | None, Form()] = None,
    test_percent: Annotated[float, Form(ge=0, le=100)] = 10,
) -> Response:
    """Create a snapshot and go back to the list, where its build shows live."""
    form = {
        "domain": domain,
        "accepted_from": accepted_from,
        "accepted_to": accepted_to,
        "endpoint_ids": endpoint_id or [],
        "test_percent": test_percent,
    }
    try:
        start, end = _date(accepted_from, "Accepted from"), _date(accepted_to, "Accepted to")
        if start and end and start > end:
            raise ValidationFailed("'Accepted from' is after 'accepted to'.")
        filters = snapshots.filters_from(
            SnapshotFiltersIn(
                domain=domain or None,
                accepted_from=start,
                accepted_to=end,
                endpoint_ids=endpoint_id,
            )
        )
        snapshot = snapshots.create_snapshot(
            session=db,
            queue=queue,
            actor=user,
            project_id=project_id,
            filters=filters,
            test_fraction_bp=round(test_percent * 100),
        )
    except ValidationFailed as exc:
        return _tab(request, db, user, project_id, 1, form, exc.message, 422)
    return RedirectResponse(
        f"/projects/{project_id}/datasets#snapshot-{snapshot.number}", status_code=303
    )


def chart_spec(view: SnapshotView) -> dict[str, Any]:
    """Return the chart of annotated items per fault category, stacked by model."""
    table: dict[str, dict[str, int]] = view.counts.get("errors_by_category_model") or {}
    categories = sorted(table)
    models = sorted({m for per_model in table.values() for m in per_model})
    return {
        "labels": [c.replace("_", " ") for c in categories],
        "datasets": [
            {"label": m, "data": [int(table[c].get(m, 0)) for c in categories]} for m in models
        ],
        "unit": "count",
        "stacked": True,
    }


@router.get("/{number}")
def snapshot_page(
    request: Request,
    project_id: int,
    number: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
) -> Response:
    """Show one snapshot: its dataset card, files, and errors per category and model."""
    view = snapshots.get_snapshot_by_number(
        session=db, actor=user, project_id=project_id, number=number
    )
    card, missing = "", False
    if view.ready:
        try:
            download = snapshots.open_download(
                session=db,
                actor=user,
                snapshot_id=view.id,
                snapshots_dir=settings.resolved_snapshots_dir(),
            )
            card = snapshots.read_card(download)
        except NotFound:
            missing = True
    table: dict[str, dict[str, int]] = view.counts.get("errors_by_category_model") or {}
    return render(
        request,
        "datasets/detail.html",
        {
            "s": view,
            "card": card,
            "files_missing": missing,
            "errors_chart": chart_spec(view),
            "errors_table": table,
            "models": sorted({m for per_model in table.values() for m in per_model}),
        },
    )


@router.get("/{number}/row")
def snapshot_row(
    request: Request, project_id: int, number: int, user: CurrentUser, db: DB
) -> Response:
    """Return one snapshot's row of the list (polled while it builds)."""
    view = snapshots.get_snapshot_by_number(
        session=db, actor=user, project_id=project_id, number=number
    )
    return render(request, "datasets/_row.html", {"s": view})


@router.get("/{number}/status")
def snapshot_status(
    request: Request, project_id: int, number: int, user: CurrentUser, db: DB
) -> Response:
    """Return the building notice of the snapshot page; once built, make htmx reload the page."""
    view = snapshots.get_snapshot_by_number(
        session=db, actor=user, project_id=project_id, number=number
    )
    response = render(request, "datasets/_building.html", {"s": view})
    if view.status.value != "building":
        response.headers["HX-Refresh"] = "true"
    return response
