"""Tenant isolation: organisation A's users get 404 for every resource of organisation B."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import compile_path

from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm import runs as runs_uc
from expertloop.llm.models import ModelEndpoint, ModelRun
from expertloop.payments import payouts as pay_payouts
from expertloop.payments import rates as pay_rates
from expertloop.payments import timesheets as pay_ts
from expertloop.payments.models import (
    BonusRule,
    LedgerTransaction,
    PayTerms,
    TimeAdjustment,
    Timesheet,
)
from expertloop.projects import targets
from expertloop.projects.models import Staffing, StaffRole
from expertloop.web.api import PREFIX, RESOURCES
from expertloop.web.pages import PAGES
from expertloop.workbench import access as wb_access
from expertloop.workbench import assess, taxonomy
from expertloop.workbench.models import (
    Annotation,
    Heartbeat,
    IdealAnswer,
    ProblemSet,
    RubricResult,
    Step,
    StepRevision,
    StepRun,
)
from tests.factories import World, make_problem_set, make_step, make_step_run
from tests.isolation import B_SIDE, B_STATE, CASES

OUTSIDERS = ("client_a", "expert_a", "reviewer_a")

# Text only B's problem set holds: no answer to an outsider may contain any of it.
B_SECRETS = (
    "B's secret problem",
    "B's confidential statement",
    "B's confidential step prompt",
    "B's confidential answer",
    "B's ideal answer",
    "B's annotation note",
    "b-secret-checkpoint",
)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_outsider_gets_404(
    case: str, outsider: str, login_as, world: World, db: Session, app
) -> None:  # type: ignore[no-untyped-def]
    owner = login_as(world.client_b)
    ids: dict[str, Any] = {
        "b_token_id": owner.post("/api/v1/tokens", json={"name": "b's token"}).json()["id"]
    }
    ids.update(_b_side(db, app, world))
    for build in B_SIDE:
        ids.update(build(db, app, world, ids))
    before = _b_state(db, world)
    api = login_as(getattr(world, outsider))
    for probe in CASES[case](world):
        url = probe.url.format(**ids)
        response = api.request(probe.method, url, json=_fill(probe.json, ids))
        assert response.status_code == 404, (probe, response.status_code, response.text)
        # The answer must not leak B's data.
        assert world.project_b.name not in response.text
        assert world.client_b.email not in response.text
        for secret in B_SECRETS:
            assert secret not in response.text, (probe, secret)
    # Nothing changed on B's side.
    assert (
        owner.get(f"/api/v1/projects/{world.project_b.id}").json()["name"] == world.project_b.name
    )
    assert owner.get("/api/v1/tokens").json()[0]["revoked_at"] is None
    assert _b_state(db, world) == before


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    """Replace ``"{b_…}"`` placeholders in a probe's JSON body with the ids."""
    if isinstance(value, str):
        match = re.fullmatch(r"\{(\w+)\}", value)
        return ids[match.group(1)] if match else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _b_run(db: Session, app, world: World) -> tuple[ModelEndpoint, int]:  # type: ignore[no-untyped-def]
    """Give B's project a target model only B may use, and one stored run."""
    hub = app.state.hub
    endpoint = endpoints_uc.add_endpoint(
        session=db,
        actor=None,
        box=hub.box,
        policy=hub.runtime.policy,
        name="B's own model",
        provider="scripted",
        model_id="b-secret-checkpoint",
        organisation_id=world.org_b.id,
    )
    targets.set_targets(
        session=db, actor=world.operator, project=world.project_b, endpoint_ids=[endpoint.id]
    )
    run = runs_uc.start_run(
        session=db,
        endpoint=endpoint,
        project_id=world.project_b.id,
        user_id=world.expert_b.id,
        params={},
        messages=[{"role": "user", "content": "B's confidential prompt"}],
    )
    db.commit()
    return endpoint, run.id


def _b_side(db: Session, app, world: World) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """B's expert works on a problem set: a run step (revision, run, annotation, rubric, ideal
    answer) and a step never run. The problem set stays editable, so a leaked edit would land."""
    endpoint, run_id = _b_run(db, app, world)
    b = world.expert_b
    ps = make_problem_set(
        db, world.project_b, b, "B's secret problem", statement="B's confidential statement"
    )
    step = make_step(
        db, ps, b, prompt="B's confidential step prompt", rubric=["Names the margin", "Cites"]
    )
    empty = make_step(db, ps, b, title="B's second step")
    step_run = make_step_run(db, step, b, endpoint, "B's confidential answer: margin 12%")
    loaded = wb_access.problem_set(session=db, actor=b, problem_set_id=ps.id)
    revision = db.get(StepRevision, step_run.revision_id)
    assert revision is not None
    note = assess.add(
        session=db,
        loaded=loaded,
        revision=revision,
        step_run=step_run,
        start=0,
        end=3,
        category="factual_error",
        severity="minor",
        note="B's annotation note",
    )
    assess.score(
        session=db, loaded=loaded, revision=revision, step_run=step_run, criterion=0, met=True
    )
    assess.save_ideal(
        session=db,
        loaded=loaded,
        step=step,
        text="B's ideal answer: margin 12.5%",
        version=None,
        based_on=step_run,
        revision=revision,
    )
    db.commit()
    money = _b_money(db, world)
    return {
        **money,
        "b_run_id": run_id,
        "b_endpoint_id": endpoint.id,
        "b_problem_set_id": ps.id,
        "b_step_id": step.id,
        "b_empty_step_id": empty.id,
        "b_revision_id": revision.id,
        "b_step_run_id": step_run.id,
        "b_annotation_id": note.id,
    }


def _b_money(db: Session, world: World) -> dict[str, int]:
    """B's expert has a rate, an approved week that was paid, a submitted week and a pending
    adjustment (all of which an outsider could try to approve, read or reverse). The outsider
    reviewer leads A's project here, so that a lead's reach (team time) is probed too."""
    b, op = world.expert_b, world.operator
    lead = db.scalar(
        select(Staffing).where(
            Staffing.project_id == world.project_a.id, Staffing.user_id == world.reviewer_a.id
        )
    )
    assert lead is not None
    lead.role = StaffRole.lead
    pay_rates.set_rate(
        session=db,
        actor=op,
        currency="USD",
        hourly_minor=15_000,
        effective_from=dt.date(2026, 1, 1),
        user_id=b.id,
    )
    done = pay_ts.request_adjustment(
        session=db,
        actor=b,
        project=world.project_b,
        work_date=dt.date(2026, 11, 10),
        minutes=90,
        reason="B's offline review",
    )
    pay_ts.decide_adjustment(session=db, actor=op, adjustment_id=done.id, approve=True)
    paid_week = pay_ts.submit(session=db, actor=b, week_start=dt.date(2026, 11, 9))
    pay_ts.approve(
        session=db,
        actor=op,
        sheet=paid_week,
        idle_cutoff=dt.timedelta(minutes=5),
        default_margin_bp=2500,
    )
    run = pay_payouts.require_run(
        pay_payouts.run(
            session=db,
            actor=op,
            period_start=dt.date(2026, 11, 9),
            period_end=dt.date(2026, 11, 15),
            idempotency_key="b-payout",
            default_margin_bp=2500,
        )
    )
    pending = pay_ts.request_adjustment(
        session=db,
        actor=b,
        project=world.project_b,
        work_date=dt.date(2026, 11, 17),
        minutes=30,
        reason="B's call with the client",
    )
    submitted = pay_ts.submit(session=db, actor=b, week_start=dt.date(2026, 11, 16))
    db.commit()
    assert paid_week.transaction_id is not None
    return {
        "b_user_id": b.id,
        "b_timesheet_id": submitted.id,
        "b_adjustment_id": pending.id,
        "b_payout_run_id": run.run.id,
        "b_transaction_id": paid_week.transaction_id,
    }


def _b_state(db: Session, world: World) -> dict[str, Any]:
    """Everything of B's workbench an outsider's request could change."""
    db.expire_all()
    p = world.project_b.id
    problem_sets = db.scalars(select(ProblemSet).where(ProblemSet.project_id == p)).all()
    ps_ids = [ps.id for ps in problem_sets]
    steps = db.scalars(select(Step).where(Step.problem_set_id.in_(ps_ids))).all()
    step_ids = [s.id for s in steps]
    revisions = db.scalars(select(StepRevision).where(StepRevision.step_id.in_(step_ids))).all()
    rev_ids = [r.id for r in revisions]
    step_runs = db.scalars(select(StepRun).where(StepRun.revision_id.in_(rev_ids))).all()
    ideal = db.scalars(select(IdealAnswer).where(IdealAnswer.step_id.in_(step_ids))).all()
    return {
        "problem_sets": sorted(
            (ps.id, ps.title, ps.statement, ps.status.value, ps.version, ps.review_comment)
            for ps in problem_sets
        ),
        "steps": sorted(
            (s.id, s.title, s.position, s.draft_prompt, s.chain, s.version) for s in steps
        ),
        "revisions": sorted((r.id, r.number, r.prompt) for r in revisions),
        "step_runs": sorted(sr.id for sr in step_runs),
        "annotations": sorted(
            (a.id, a.category, a.severity.value)
            for a in db.scalars(select(Annotation).where(Annotation.revision_id.in_(rev_ids)))
        ),
        "rubric": sorted(
            (r.step_run_id, r.criterion, r.met)
            for r in db.scalars(
                select(RubricResult).where(
                    RubricResult.step_run_id.in_([sr.id for sr in step_runs])
                )
            )
        ),
        "ideal": sorted((i.step_id, i.text, i.version) for i in ideal),
        "taxonomy": taxonomy.current(session=db, project_id=p).version,
        "heartbeats": db.scalar(select(func.count(Heartbeat.id)).where(Heartbeat.project_id == p)),
        "model_runs": db.scalar(select(func.count(ModelRun.id)).where(ModelRun.project_id == p)),
        "ledger": db.scalar(select(func.count(LedgerTransaction.id))),
        "timesheets": sorted(
            (t.id, t.status.value)
            for t in db.scalars(select(Timesheet).where(Timesheet.user_id == world.expert_b.id))
        ),
        "adjustments": sorted(
            (a.id, a.status.value)
            for a in db.scalars(
                select(TimeAdjustment).where(TimeAdjustment.user_id == world.expert_b.id)
            )
        ),
        "rules": db.scalar(select(func.count(BonusRule.id)).where(BonusRule.project_id == p)),
        "terms": db.scalar(select(func.count(PayTerms.project_id))),
        **{name: read(db, world) for name, read in sorted(B_STATE.items())},
    }


def test_registry_covers_every_route_with_an_id() -> None:
    """Every route that takes an id of a tenant resource is probed by some isolation case."""
    probes = []
    for builder in CASES.values():
        for probe in builder(_FakeWorld()):  # type: ignore[arg-type]
            probes.append((probe.method, probe.url.split("?")[0]))
    exempt = {
        "/api/v1/models/{endpoint_id}",
        "/models/{endpoint_id}/test",
        "/models/{endpoint_id}/remove",
        "/account/tokens/{token_id}/revoke",
        "/api/v1/models/{endpoint_id}/test",
    }  # operator-only, not tenant data
    missing = []
    checked = 0
    routes = [(PREFIX + r.path, r) for m in RESOURCES for r in m.router.routes]
    routes += [(r.path, r) for m in PAGES for r in m.router.routes]
    for path, route in routes:
        if "{" not in path or path.startswith("/static") or path in exempt:
            continue
        # Match the probes against the route's own pattern, so a parameter that is not an id
        # (``/transitions/{action}``) is covered by probes naming a real value.
        pattern = compile_path(path)[0]
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            checked += 1
            if not any(m == method and pattern.match(url) for m, url in probes):
                missing.append(f"{method} {path}")
    assert checked >= 15
    assert not missing, f"routes without an isolation probe: {missing}"


class _FakeWorld:
    """Stands in for a World so probe URLs can be built without a database."""

    def __getattr__(self, name: str) -> object:
        return type("Obj", (), {"id": 1})()
