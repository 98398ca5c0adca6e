"""Import pages: a project's seed imports (upload form, live status, line-numbered errors) and
the Pick up button experts use on the problem-sets page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from expertloop.accounts.models import User
from expertloop.datasets import imports, seeds
from expertloop.errors import ExpertLoopError, ValidationFailed
from expertloop.jobs.queue import JobQueue
from expertloop.projects.models import Project
from expertloop.settings import Settings
from expertloop.web.api.imports import too_large
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs
from expertloop.web.errors import status_for
from expertloop.web.templating import render

router = APIRouter()
PAGE_SIZE = 20
# What a multipart form adds around the file (boundaries, headers, the CSRF token).
FORM_OVERHEAD = 64 * 1024
COPY_CHUNK = 1024 * 1024
FORMAT_LABELS = {
    "jsonl": "JSONL",
    "csv": "CSV",
    "parquet": "Parquet",
    "label_studio": "Label Studio JSON export",
}


async def upload_form(request: Request, settings: AppSettings) -> FormData:
    """Check the declared size, then parse the upload form, before anything else runs.

    Declared first among the route's dependencies, so that neither the database session nor the
    CSRF check (which reads the form) starts before an oversized body is refused, and no
    transaction is held while the file arrives.
    """
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return FormData()
    length = request.headers.get("content-length")
    if length is None:
        raise HTTPException(status_code=411, detail="Send the upload with a Content-Length.")
    try:
        imports.check_declared_size(length, settings.import_max_bytes + FORM_OVERHEAD)
    except imports.UploadTooLarge as exc:
        raise too_large(exc) from None
    # Parsed once here; the CSRF check reads the same cached form.
    return await request.form(max_files=1, max_fields=5)


def _page(
    request: Request,
    db: Session,
    settings: Settings,
    project: Project,
    page: int,
    *,
    error: str = "",
    status_code: int = 200,
) -> Response:
    rows, total = imports.list_imports(
        session=db, project=project, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    return render(
        request,
        "imports/list.html",
        {
            "project": project,
            "imports": imports.views(session=db, rows=rows),
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "formats": FORMAT_LABELS,
            "max_bytes": settings.import_max_bytes,
            "error": error,
        },
        status_code,
    )


@router.get("/projects/{project_id}/imports")
def import_list(
    request: Request,
    project_id: int,
    user: CurrentUser,
    db: DB,
    settings: AppSettings,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    """Show a project's seed imports and the upload form (its clients and the operators)."""
    project = imports.importable_project(session=db, actor=user, project_id=project_id)
    return _page(request, db, settings, project, page)


def _authorise(db: Session, user: User, project_id: int) -> Project:
    project = imports.importable_project(session=db, actor=user, project_id=project_id)
    db.commit()  # hold no transaction while the file is copied
    return project


def _record(
    db: Session,
    jobs: JobQueue,
    user: User,
    project: Project,
    staged: imports.StagedUpload,
    filename: str,
    fmt: str,
) -> None:
    imports.record_upload(
        session=db,
        queue=jobs,
        actor=user,
        project=project,
        staged=staged,
        filename=filename,
        fmt=fmt,
    )


@router.post("/projects/{project_id}/imports")
async def import_upload(
    request: Request,
    project_id: int,
    form: Annotated[FormData, Depends(upload_form)],
    user: CurrentUser,
    db: DB,
    jobs: Jobs,
    settings: AppSettings,
) -> Response:
    """Take a seed file from the upload form and queue its import."""
    project = await run_in_threadpool(_authorise, db, user, project_id)
    upload = form.get("file")
    chosen = form.get("format")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ValidationFailed("Choose a file to upload.")
        fmt = imports.resolve_format(upload.filename, chosen if isinstance(chosen, str) else None)
        limit = settings.import_max_bytes
        with imports.StagedUpload(imports.uploads_dir(settings), limit=limit, fmt=fmt) as staged:
            while chunk := await upload.read(COPY_CHUNK):
                staged.write(chunk)
            staged.finish()
        await run_in_threadpool(
            _record, db, jobs, user, project, staged, upload.filename or "", fmt
        )
    except ExpertLoopError as exc:
        status = 413 if isinstance(exc, imports.UploadTooLarge) else status_for(exc)
        return await run_in_threadpool(
            _page, request, db, settings, project, 1, error=exc.message, status_code=status
        )
    return RedirectResponse(f"/projects/{project.id}/imports", status_code=303)


@router.get("/imports/{import_id}/card")
def import_card(request: Request, import_id: int, user: CurrentUser, db: DB) -> Response:
    """Return one import's card (polled while the import runs)."""
    row = imports.get_import(session=db, actor=user, import_id=import_id)
    return render(request, "imports/_import.html", {"item": imports.view(session=db, row=row)})


@router.post("/seeds/{seed_id}/pick-up")
def seed_pick_up(seed_id: int, user: CurrentUser, db: DB) -> Response:
    """Pick a seed up as a new problem set of yours and open it."""
    picked = seeds.pick_up(session=db, actor=user, seed_id=seed_id)
    return RedirectResponse(f"/problem-sets/{picked.problem_set_id}", status_code=303)
