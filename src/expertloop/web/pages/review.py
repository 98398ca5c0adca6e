"""Review pages: the step page's comments panel, updated in place (htmx)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from expertloop.errors import ExpertLoopError, NotFound
from expertloop.review import comments
from expertloop.text import clean as clean_text
from expertloop.web.deps import DB, CurrentUser
from expertloop.web.errors import status_for
from expertloop.web.templating import render
from expertloop.workbench import access as load

router = APIRouter()


@router.get("/steps/{step_id}/comments")
def comments_partial(request: Request, step_id: int, user: CurrentUser, db: DB) -> Response:
    """Render the step's review comments panel."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    panel = comments.step_panel(session=db, loaded=loaded, step=step)
    if not panel.visible:
        raise NotFound("Step not found.")
    return render(request, "workbench/_comments.html", {"review": panel})


@router.post("/steps/{step_id}/comments")
def comment_create(
    request: Request,
    step_id: int,
    user: CurrentUser,
    db: DB,
    body: Annotated[str, Form(max_length=20_000)] = "",
    target: Annotated[str, Form(max_length=40)] = "step",
    quote: Annotated[str, Form(max_length=10_000)] = "",
    start: Annotated[str, Form(max_length=12)] = "",
    end: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Add a comment from the panel's form; a refusal keeps what was typed, with the reason."""
    loaded, step = load.step(session=db, actor=user, step_id=step_id)
    in_place = request.headers.get("HX-Request") == "true"
    try:
        body = clean_text(body, field="Comment", max_length=20_000)
        quote = clean_text(quote, field="Quote", max_length=10_000)
        revision_id, step_run_id = comments.parse_target(target)
        with db.begin_nested():
            row = comments.add(
                session=db,
                loaded=loaded,
                step=step,
                body=body,
                revision_id=revision_id,
                step_run_id=step_run_id,
                start=int(start) if start.strip().isdigit() else None,
                end=int(end) if end.strip().isdigit() else None,
                quote=quote if quote else None,
            )
    except ExpertLoopError as exc:
        panel = comments.step_panel(session=db, loaded=loaded, step=step)
        return render(
            request,
            "workbench/_comments.html",
            {
                "review": panel,
                "comment_form": {"body": body, "target": target, "quote": quote},
                "comment_error": exc.message,
            },
            status_for(exc),
        )
    if not in_place:
        return RedirectResponse(f"/steps/{step.id}#comment-{row.id}", status_code=303)
    panel = comments.step_panel(session=db, loaded=loaded, step=step)
    return render(
        request,
        "workbench/_comments.html",
        {
            "review": panel,
            # The next comment is likely on the same text: keep it chosen, clear the rest.
            "comment_form": {"target": target},
            "comment_notice": "Comment added.",
        },
    )
