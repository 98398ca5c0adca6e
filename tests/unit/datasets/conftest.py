"""Fixtures for the export tests: accepted problem sets built through the workbench's own use
cases (steps, revisions, runs, spans, rubric scores, ideal answers, submit → review → accept),
and an offline, throw-away Hugging Face cache for ``datasets``.
"""

# ruff: noqa: RUF001 (Arabic-Indic digits are the point of these strings)

from __future__ import annotations

import datetime as dt
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.orm import Session

from expertloop.datasets.folder import FolderResult, FolderSpec, SnapshotFilters
from expertloop.datasets.folder import build_snapshot_folder as build
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm.hub import ModelHub
from expertloop.llm.models import ModelEndpoint
from expertloop.projects import targets
from expertloop.settings import Settings
from expertloop.workbench import access as wb_access
from expertloop.workbench import assess, steps
from expertloop.workbench.models import ProblemSet, Step, StepRun
from expertloop.workbench.status import Action, transition
from tests.factories import World, make_problem_set, make_step, make_step_run, scripted_target

# Arabic with harakat (combining marks), emoji (astral code points) and a decomposed é.
ARABIC = "الرَّصِيدُ النَّقْدِيُّ"
CONTEXT = f"Cash in bank: 700k 💶. Monthly burn: 50k. {ARABIC}: ٧٠٠ ألف."
PROMPT_1 = f"What is our runway in months? Answer for the Cafe\u0301 board 📈 — {ARABIC}"
PROMPT_1B = f"What is our runway, in whole months? Café board 📈 — {ARABIC}"
WRONG = f"{ARABIC} ١٥ شهرًا"
ANSWER_1 = f"Runway: 15 months 😀 at 50k a month. {WRONG}. Cafe\u0301 costs included."
ANSWER_2 = "Runway: 14 months (700k ÷ 50k) 🚀."
ANSWER_B = "Runway: roughly a year and a half 🙂."
NOTE_ANSWER = "Board note: we have 12 months of runway 👍🏽."
IDEAL_NOTE = "Board note: we have 14 months of runway 👍🏽 (700k ÷ 50k)."
API_KEY = "sk-live-DO-NOT-LEAK-0123456789abcdef"
SYSTEM_SECRET = "OPERATOR-ONLY-SYSTEM-PROMPT-42"
EXPERT_NAME = "Zoë Qwertyname"
EXPERT_EMAIL = "zoe.qwertyname@experts.example"


@dataclass
class Built:
    """What the richly built problem set holds, for assertions."""

    problem_set: ProblemSet
    step1: Step
    step2: Step
    runs: dict[str, StepRun] = field(default_factory=dict)
    annotation_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class Kit:
    """Everything a test needs to make accepted problem sets and build folders."""

    db: Session
    world: World
    hub: ModelHub
    model_a: ModelEndpoint
    model_b: ModelEndpoint

    def loaded(self, ps: ProblemSet) -> wb_access.Loaded:
        return wb_access.problem_set(
            session=self.db, actor=self.world.expert_a, problem_set_id=ps.id
        )

    def accept(self, ps: ProblemSet, at: dt.datetime | None = None) -> None:
        """Submit as the author, then take into review and accept as the reviewer."""
        transition(session=self.db, loaded=self.loaded(ps), action=Action.submit)
        reviewer = wb_access.problem_set(
            session=self.db, actor=self.world.reviewer_a, problem_set_id=ps.id
        )
        transition(session=self.db, loaded=reviewer, action=Action.start_review)
        transition(session=self.db, loaded=reviewer, action=Action.accept, comment="Good")
        if at is not None:
            ps.accepted_at = at
        self.db.flush()

    def simple(
        self, title: str = "Simple", *, domain: str = "finance", at: dt.datetime | None = None
    ) -> ProblemSet:
        """An accepted problem set with one step done by an ideal answer (after one model run)."""
        ps = make_problem_set(
            self.db, self.world.project_a, self.world.expert_a, title, domain=domain
        )
        step = make_step(
            self.db, ps, self.world.expert_a, prompt=f"{title}: what now?", rubric=["Says"]
        )
        # An ideal answer counts once the final revision was run (workbench.progress.RULE).
        make_step_run(self.db, step, self.world.expert_a, self.model_a, f"{title}: no idea.")
        assess.save_ideal(
            session=self.db,
            loaded=self.loaded(ps),
            step=step,
            text=f"Ideal for {title}",
            version=None,
        )
        self.accept(ps, at)
        return ps

    def rich(self, title: str = "Runway 📈", at: dt.datetime | None = None) -> Built:
        """The loop in full: two revisions, two models, spans, rubric, chain step, ideal answer."""
        db, expert = self.db, self.world.expert_a
        ps = make_problem_set(
            db, self.world.project_a, expert, title, context=CONTEXT, statement="Plan the year."
        )
        s1 = make_step(
            db, ps, expert, prompt=PROMPT_1, rubric=["States 14 months", "Shows 700k ÷ 50k"]
        )
        built = Built(ps, s1, s1)
        loaded = self.loaded(ps)
        rev1 = steps.revisions_of(session=db, step_id=s1.id)[-1]
        r1 = make_step_run(db, s1, expert, self.model_a, ANSWER_1)
        built.runs["r1"] = r1
        start = ANSWER_1.index(WRONG)
        span = assess.add(
            session=db,
            loaded=loaded,
            revision=rev1,
            category="calculation_error",
            severity="major",
            note="٧٠٠ ÷ ٥٠ = ١٤, not ١٥",
            step_run=r1,
            start=start,
            end=start + len(WRONG),
            quote=WRONG,
        )
        p_start = PROMPT_1.index("Cafe\u0301")
        ambiguity = assess.add(
            session=db,
            loaded=loaded,
            revision=rev1,
            category="ambiguity",
            severity="minor",
            note="Months: whole or fractional?",
            start=p_start,
            end=p_start + len("Cafe\u0301 board 📈"),
            quote="Cafe\u0301 board 📈",
        )
        built.annotation_ids = {"span": span.id, "ambiguity": ambiguity.id}
        assess.score(session=db, loaded=loaded, revision=rev1, step_run=r1, criterion=0, met=False)
        assess.score(session=db, loaded=loaded, revision=rev1, step_run=r1, criterion=1, met=True)
        steps.update_draft(
            session=db,
            loaded=loaded,
            step=s1,
            version=s1.version,
            changes={"draft_prompt": PROMPT_1B},
        )
        rev2 = steps.revise(
            session=db,
            loaded=loaded,
            step=s1,
            reason="Ask for whole months",
            motivated_by=[ambiguity.id, span.id],
        )
        r2 = make_step_run(db, s1, expert, self.model_a, ANSWER_2)
        r3 = make_step_run(db, s1, expert, self.model_b, ANSWER_B)
        built.runs.update(r2=r2, r3=r3)
        for c in (0, 1):
            assess.score(
                session=db, loaded=loaded, revision=rev2, step_run=r2, criterion=c, met=True
            )
        assess.score(session=db, loaded=loaded, revision=rev2, step_run=r3, criterion=0, met=False)
        vague = ANSWER_B.index("roughly a year and a half")
        assess.add(
            session=db,
            loaded=loaded,
            revision=rev2,
            category="incomplete",
            severity="minor",
            step_run=r3,
            start=vague,
            end=vague + len("roughly a year and a half"),
        )
        s2 = make_step(
            db,
            ps,
            expert,
            prompt="Write the board note, one line 📝.",
            rubric=["One line"],
            chain=True,
        )
        built.step2 = s2
        rev_note = steps.revisions_of(session=db, step_id=s2.id)[-1]
        r4 = make_step_run(db, s2, expert, self.model_a, NOTE_ANSWER)
        built.runs["r4"] = r4
        twelve = NOTE_ANSWER.index("12 months")
        assess.add(
            session=db,
            loaded=loaded,
            revision=rev_note,
            category="factual_error",
            severity="critical",
            step_run=r4,
            start=twelve,
            end=twelve + len("12 months"),
        )
        assess.save_ideal(
            session=db,
            loaded=loaded,
            step=s2,
            text=IDEAL_NOTE,
            version=None,
            based_on=r4,
            revision=rev_note,
        )
        self.accept(ps, at)
        return built

    def spec(self, **overrides: Any) -> FolderSpec:
        values: dict[str, Any] = {
            "project_id": self.world.project_a.id,
            "project_name": self.world.project_a.name,
            "project_domain": self.world.project_a.domain,
            "snapshot_number": 1,
            "filters": SnapshotFilters(),
            "test_fraction_bp": 0,
            "created_by": f"user {self.world.client_a.id} (client)",
            "created_at": dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC),
            "pseudonym_key": b"k" * 32,
        }
        values.update(overrides)
        return FolderSpec(**values)

    def build(self, out: Path, progress: Any = None, **overrides: Any) -> FolderResult:
        out.mkdir(parents=True)
        return build(session=self.db, spec=self.spec(**overrides), out_dir=out, progress=progress)


@pytest.fixture
def kit(db: Session, world: World, settings: Settings) -> Kit:
    hub = ModelHub.from_settings(settings)
    model_a = scripted_target(db, hub, world.project_a, name="Model A ✨")
    # A model with a key and an operator system prompt: neither may reach an export.
    operator = world.operator
    model_b = endpoints_uc.add_endpoint(
        session=db,
        actor=operator,
        box=hub.box,
        policy=hub.runtime.policy,
        name="Model B",
        provider="scripted",
        model_id="scripted-b",
        api_key=API_KEY,
        defaults={"system_prompt": SYSTEM_SECRET},
    )
    current = [
        e.id for e in targets.list_targets(session=db, actor=operator, project=world.project_a)
    ]
    targets.set_targets(
        session=db, actor=operator, project=world.project_a, endpoint_ids=[*current, model_b.id]
    )
    world.expert_a.name, world.expert_a.email = EXPERT_NAME, EXPERT_EMAIL
    db.flush()
    return Kit(db, world, hub, model_a, model_b)


@pytest.fixture
def hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``datasets`` offline, with its caches in a temporary folder (nothing in ~/.cache)."""
    home = tmp_path / "hf"
    env = {
        "HF_HOME": home,
        "HF_DATASETS_CACHE": home / "datasets",
        "HF_MODULES_CACHE": home / "modules",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    # Imported after the environment is set; if another test imported it first, patch its config.
    datasets = importlib.import_module("datasets")
    config = datasets.config
    monkeypatch.setattr(config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(config, "HF_CACHE_HOME", str(home))
    monkeypatch.setattr(config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(config, "HF_MODULES_CACHE", home / "modules")
    monkeypatch.setattr(config, "DOWNLOADED_DATASETS_PATH", home / "datasets" / "downloads")
    monkeypatch.setattr(
        config, "EXTRACTED_DATASETS_PATH", home / "datasets" / "downloads" / "extracted"
    )
    datasets.disable_progress_bars()
    return datasets
