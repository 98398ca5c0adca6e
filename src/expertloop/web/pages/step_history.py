"""Step history pages: two revisions of a step side by side (an htmx partial, or a page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from expertloop.web.deps import DB, CurrentUser
from expertloop.web.templating import render
from expertloop.workbench import access as load
from expertloop.workbench import step_history

router = APIRouter()


@router.get("/steps/{step_id}/compare")
def compare_partial(
    request: Request,
    step_id: int,
    user: CurrentUser,
    db: DB,
    left: Annotated[int, Query(ge=1)],
    right: Annotated[int, Query(ge=1)],
) -> Response:
    """Render two revisions' prompts and answers next to each other."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    hist = step_history.history(session=db, step=step, project_id=loaded.access.project.id)
    cmp = step_history.compare(hist, left, right)
    if request.headers.get("HX-Request") == "true":
        return render(request, "workbench/_compare.html", {"cmp": cmp})
    # Without htmx the form navigates here: the same comparison as a page of its own.
    return render(
        request,
        "workbench/compare.html",
        {
            "cmp": cmp,
            "ps": loaded.problem_set,
            "project": loaded.access.project,
            "step_id": step.id,
        },
    )
