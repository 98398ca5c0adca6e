"""A step's history through the JSON API and the page: older revisions keep their answers and
annotations (read-only, collapsed), and two revisions come side by side."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from expertloop.workbench import access as wb_access
from expertloop.workbench import assess, steps
from expertloop.workbench.models import StepRevision
from tests.factories import World, make_problem_set, make_step, make_step_run, scripted_target

API = "/api/v1"


@pytest.fixture
def two_revisions(db: Session, app, world: World) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Revision 1 answered and annotated, then revision 2 answered differently."""
    endpoint = scripted_target(db, app.state.hub, world.project_a, name="Model <i>X</i>")
    ps = make_problem_set(db, world.project_a, world.expert_a, "Budget")
    step = make_step(db, ps, world.expert_a, prompt="Draw up the budget.", rubric=["Totals"])
    first = make_step_run(db, step, world.expert_a, endpoint, "Total: 90k <script>x</script>")
    loaded = wb_access.problem_set(session=db, actor=world.expert_a, problem_set_id=ps.id)
    rev1 = db.get(StepRevision, first.revision_id)
    assert rev1 is not None
    note = assess.add(
        session=db,
        loaded=loaded,
        revision=rev1,
        step_run=first,
        start=7,
        end=10,
        category="calculation_error",
        severity="critical",
        note="Sum is 95k",
    )
    steps.update_draft(
        session=db,
        loaded=loaded,
        step=step,
        version=step.version,
        changes={"draft_prompt": "Draw up the 2027 budget."},
    )
    steps.revise(session=db, loaded=loaded, step=step, reason="Name the year")
    make_step_run(db, step, world.expert_a, endpoint, "Total: 95k")
    db.commit()
    return {"step": step.id, "note": note.id, "run1": first.id}


def test_the_api_lists_every_revision_newest_first(  # type: ignore[no-untyped-def]
    login_as, world: World, two_revisions: dict[str, Any]
) -> None:
    api = login_as(world.expert_a)
    body = api.get(f"{API}/steps/{two_revisions['step']}/history").json()
    assert [r["number"] for r in body["revisions"]] == [2, 1]
    old = body["revisions"][1]
    (run,) = old["runs"]
    assert run["step_run_id"] == two_revisions["run1"]
    assert [a["id"] for a in run["annotations"]] == [two_revisions["note"]]
    assert run["criteria"] == [{"text": "Totals", "met": None}]
    cmp = api.get(f"{API}/steps/{two_revisions['step']}/compare?left=1&right=2").json()
    assert cmp["left"]["number"] == 1 and cmp["right"]["number"] == 2
    assert cmp["answers"][0]["left"]["answer"].startswith("Total: 90k")
    r = api.get(f"{API}/steps/{two_revisions['step']}/compare?left=1&right=9")
    assert r.status_code == 404 and "no revision 9" in r.json()["error"]["message"]
    assert api.get(f"{API}/steps/{two_revisions['step']}/compare?left=0&right=1").status_code == 422


def test_the_page_keeps_older_iterations_collapsed_and_inert(  # type: ignore[no-untyped-def]
    login_as, world: World, two_revisions: dict[str, Any]
) -> None:
    for who in (world.expert_a, world.reviewer_a, world.client_a):
        page = login_as(who).get(f"/steps/{two_revisions['step']}")
        assert page.status_code == 200
        text = page.text
        history = text[text.index('data-testid="history"') :]
        assert '<details data-testid="iteration" open>' in history  # the newest
        assert history.count('data-testid="iteration">') == 1  # the older one, collapsed
        assert 'Total: <mark class="sev-critical"' in history and ">90k</mark>" in history
        assert "Sum is 95k" in history
        assert "&lt;script&gt;x&lt;/script&gt;" in history and "<script>x</script>" not in text
        assert "Model &lt;i&gt;X&lt;/i&gt;" in history
        assert "data-delete-annotation" not in history  # read-only
    partial = login_as(world.reviewer_a).get(
        f"/steps/{two_revisions['step']}/compare?left=1&right=2", headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200 and 'data-testid="side-by-side"' in partial.text
    assert "<html" not in partial.text
    assert "Total: 95k" in partial.text and "Sum is 95k" in partial.text


def test_without_htmx_the_comparison_is_a_page(  # type: ignore[no-untyped-def]
    login_as, world: World, two_revisions: dict[str, Any]
) -> None:
    page = login_as(world.expert_a).get(f"/steps/{two_revisions['step']}/compare?left=2&right=1")
    assert page.status_code == 200 and "<html" in page.text
    assert 'data-testid="side-by-side"' in page.text and "Budget" in page.text
