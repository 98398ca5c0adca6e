"""Seed imports (upload a file as the raw body, follow its import) and seeds (list, pick up)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from expertloop.accounts.models import User
from expertloop.datasets import imports, seeds
from expertloop.datasets.models import SeedImport
from expertloop.datasets.schemas import ImportOut, PickUpOut, SeedOut
from expertloop.jobs.queue import JobQueue
from expertloop.projects.models import Project
from expertloop.web.api.common import ERRORS, ErrorOut, PageOut
from expertloop.web.deps import DB, AppSettings, CurrentUser, Jobs, Paging

router = APIRouter(tags=["imports"], responses=ERRORS)

_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def _authorise(db: Session, user: User, project_id: int) -> Project:
    project = imports.importable_project(session=db, actor=user, project_id=project_id)
    db.commit()  # hold no transaction (on SQLite: no write lock) while the upload streams in
    return project


def _record(
    db: Session,
    jobs: JobQueue,
    user: User,
    project: Project,
    staged: imports.StagedUpload,
    filename: str,
    fmt: str,
) -> ImportOut:
    result = imports.record_upload(
        session=db,
        queue=jobs,
        actor=user,
        project=project,
        staged=staged,
        filename=filename,
        fmt=fmt,
    )
    view = imports.view(session=db, row=result.seed_import, duplicate=result.duplicate)
    return ImportOut.model_validate(view)


def too_large(exc: imports.UploadTooLarge) -> HTTPException:
    """Return the 413 an oversized upload gets."""
    return HTTPException(status_code=413, detail=exc.message)


@router.post(
    "/projects/{project_id}/imports",
    response_model=ImportOut,
    status_code=202,
    responses={
        200: {"model": ImportOut, "description": "The same content was already uploaded"},
        413: {"model": ErrorOut, "description": "The upload is larger than the limit"},
        415: {"model": ErrorOut, "description": "The file was not sent as the raw body"},
    },
)
async def create_import(
    request: Request,
    response: Response,
    project_id: int,
    user: CurrentUser,
    db: DB,
    jobs: Jobs,
    settings: AppSettings,
    filename: Annotated[str, Query(max_length=1000)] = "",
    fmt: Annotated[
        str | None,
        Query(alias="format", max_length=40, description="jsonl, csv, parquet or label_studio"),
    ] = None,
) -> ImportOut:
    """Upload a seed file as the raw request body; its records are checked and imported by a job.

    The format comes from ``format`` or the filename's extension (``.json`` is a Label Studio
    export). The same content uploaded again answers 200 with the existing import.
    """
    project = await run_in_threadpool(_authorise, db, user, project_id)
    chosen = imports.resolve_format(filename, fmt)
    if request.headers.get("content-type", "").startswith(_FORM_TYPES):
        raise HTTPException(
            status_code=415,
            detail="Send the file itself as the request body (application/octet-stream).",
        )
    limit = settings.import_max_bytes
    try:
        imports.check_declared_size(request.headers.get("content-length"), limit)
        with imports.StagedUpload(imports.uploads_dir(settings), limit=limit, fmt=chosen) as staged:
            async for chunk in request.stream():
                staged.write(chunk)
            staged.finish()
    except imports.UploadTooLarge as exc:
        raise too_large(exc) from None
    out = await run_in_threadpool(_record, db, jobs, user, project, staged, filename, chosen)
    if out.duplicate:
        response.status_code = 200
    return out


@router.get("/projects/{project_id}/imports", response_model=PageOut[ImportOut])
def list_imports(project_id: int, user: CurrentUser, db: DB, page: Paging) -> PageOut[ImportOut]:
    """List a project's seed imports, newest first (its clients and the operators)."""
    project = imports.importable_project(session=db, actor=user, project_id=project_id)
    rows, total = imports.list_imports(
        session=db, project=project, limit=page.limit, offset=page.offset
    )
    return PageOut[ImportOut](
        items=[ImportOut.model_validate(v) for v in imports.views(session=db, rows=rows)],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/imports/{import_id}", response_model=ImportOut)
def get_import(import_id: int, user: CurrentUser, db: DB) -> ImportOut:
    """Return an import: status, counts and the first 100 errors (line, field, message)."""
    row: SeedImport = imports.get_import(session=db, actor=user, import_id=import_id)
    return ImportOut.model_validate(imports.view(session=db, row=row))


@router.get("/projects/{project_id}/seeds", response_model=PageOut[SeedOut])
def list_seeds(
    project_id: int,
    user: CurrentUser,
    db: DB,
    page: Paging,
    available: Annotated[
        bool | None, Query(description="true: not picked up yet; false: picked up")
    ] = None,
) -> PageOut[SeedOut]:
    """List a project's imported seeds in import order."""
    project = seeds.visible_project(session=db, actor=user, project_id=project_id)
    rows, total = seeds.list_seeds(
        session=db, project=project, available=available, limit=page.limit, offset=page.offset
    )
    return PageOut[SeedOut](
        items=[SeedOut.model_validate(s) for s in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/seeds/{seed_id}", response_model=SeedOut)
def get_seed(seed_id: int, user: CurrentUser, db: DB) -> SeedOut:
    """Return one seed."""
    return SeedOut.model_validate(seeds.get_seed(session=db, actor=user, seed_id=seed_id))


@router.post(
    "/seeds/{seed_id}/pick-up",
    response_model=PickUpOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "The seed was already picked up"}},
)
def pick_up(seed_id: int, user: CurrentUser, db: DB) -> PickUpOut:
    """Turn a seed into a draft problem set of yours (experts staffed on its project)."""
    picked = seeds.pick_up(session=db, actor=user, seed_id=seed_id)
    return PickUpOut(
        problem_set_id=picked.problem_set_id,
        problem_set_url=f"/problem-sets/{picked.problem_set_id}",
        step_ids=picked.step_ids,
        seed=SeedOut.model_validate(picked.seed),
    )
