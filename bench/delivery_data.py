"""Make a benchmark project with N accepted items fast: one template through the app, then bulk SQL.

One **item** is one step of an accepted problem set with what a real one carries: one revision
(prompt ~60 characters, a rubric of three criteria, reference facts), one model run whose answer
is 30-49 words (the record sizes of Label Studio's benchmark, ``ls_bench.py make_task``), one
located fault (an annotation on a span of the answer), the rubric results of that run, and an
ideal answer with its word diff. So an export's records compare with Label Studio's tasks.

How: the first problem set is written through ExpertLoop's own use cases (create, add step,
record a run, annotate, score, write the ideal answer, submit, review, accept), so every column
holds what the app writes. Its rows are then read back and **copied straight into the tables**
with ``executemany`` in chunks, new ids and new texts per item: a shortcut only a benchmark may
take (no events, no audit log, no checks; the copies are as valid as the template). SQLite gets
the app's pragmas (WAL, ``synchronous=NORMAL``, foreign keys on). A self-check at the end reads a
few copied items back through the ORM and compares offsets, quotes and diffs.

    .venv/bin/python bench/delivery_data.py --items 2000 --data-dir /tmp/el-bench-data
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import common
from sqlalchemy import select

from expertloop.accounts import tokens as tokens_uc
from expertloop.accounts import users as users_uc
from expertloop.accounts.models import OrganisationKind, Role
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.llm import endpoints as endpoints_uc
from expertloop.llm import runs as llm_runs
from expertloop.llm.config import Runtime
from expertloop.llm.interface import Completion, RunStatus, Usage
from expertloop.llm.models import ModelRun
from expertloop.llm.secrets_box import SecretBox
from expertloop.projects import projects as projects_uc
from expertloop.projects import targets
from expertloop.projects.models import StaffRole
from expertloop.settings import Settings
from expertloop.workbench import assess, diffs, status
from expertloop.workbench import problem_sets as ps_uc
from expertloop.workbench import runs as wb_runs
from expertloop.workbench import steps as steps_uc
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import Annotation, IdealAnswer, StepRun
from expertloop.workbench.progress import latest_revisions

PASSWORD = "bench-password-not-secret"
SECRET_KEY = "bench-secret-key-for-a-throwaway-data-dir-0123456789"
WORLD_FILE = "bench-world.json"
# The app's SQLite pragmas (expertloop.db._sqlite_pragmas).
PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL")

# The same vocabulary and shapes as ls_bench.py's make_task (prompt ~55 chars, 30-49 words).
TOPICS = "python rust sql physics history biology finance law music chess".split()  # noqa: SIM905
_WORDS = "the model answers that this depends on context and gives a short justification with an "
WORDS = (_WORDS + "example and a caveat about edge cases").split()
FIX = "usually"  # one token that is not in WORDS: the ideal answer's diff is exactly 4 ops
FAULT_WORDS = 4  # the annotated span: 4 words of the answer


@dataclass(frozen=True)
class Item:
    """The texts of one item (one step)."""

    prompt: str
    answer: str
    quote: str
    start: int
    end: int
    ideal: str
    diff: list[list[str]]
    title: str
    rubric: list[str]
    reference: str


def make_item(i: int, rng: random.Random) -> Item:
    """Return item ``i``: the prompt and answer of ls_bench's task ``i``, a fault, an ideal."""
    topic = TOPICS[i % len(TOPICS)]
    words = rng.choices(WORDS, k=30 + i % 20)
    prompt = f"Q{i}: In two sentences, explain a key idea of {topic}."
    head = f"A{i}: " + " ".join(words[:2]) + " "
    quote = " ".join(words[2 : 2 + FAULT_WORDS])
    tail = " " + " ".join(words[2 + FAULT_WORDS :]) + "."
    answer = head + quote + tail
    return Item(
        prompt=prompt,
        answer=answer,
        quote=quote,
        start=len(head),
        end=len(head) + len(quote),
        ideal=head + FIX + tail,
        diff=[["=", head], ["-", quote], ["+", FIX], ["=", tail]],
        title=f"Key idea of {topic} #{i}",
        rubric=[f"Names a key idea of {topic}", "Two sentences at most", "Gives an example"],
        reference=f"A key idea of {topic}, stated plainly, with one example.",
    )


def raw_response(item: Item, i: int) -> dict[str, Any]:
    """What an OpenAI-compatible endpoint answers (stored whole with each run)."""
    return {
        "id": f"chatcmpl-bench-{i}",
        "object": "chat.completion",
        "model": "bench-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": item.answer},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 60, "total_tokens": 80},
    }


@dataclass
class World:
    """Who and what a benchmark talks to (saved as bench-world.json in the data directory)."""

    data_dir: str
    project_id: int
    items: int
    problem_sets: int
    steps_per_set: int
    client_token: str
    operator_token: str
    outsider_token: str
    expert_token: str
    endpoint_id: int


def bench_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a throwaway benchmark instance in ``data_dir`` (SQLite, development mode)."""
    values: dict[str, Any] = {
        "env": "development",
        "data_dir": data_dir,
        "secret_key": SECRET_KEY,
        "base_url": "http://127.0.0.1:8000",
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


def _base(
    settings: Settings, steps_per_set: int, rng: random.Random
) -> tuple[World, int, list[Item]]:
    """Create people, the project, the model and the template problem set (item 0..k-1)."""
    engine = make_engine(settings)
    upgrade(engine)
    factory = make_session_factory(engine)
    with transaction(factory) as s:
        op_org = users_uc.create_organisation(
            session=s, name="Bench operator", kind=OrganisationKind.operator
        )
        client_org = users_uc.create_organisation(
            session=s, name="Bench client", kind=OrganisationKind.client
        )
        other_org = users_uc.create_organisation(
            session=s, name="Bench other client", kind=OrganisationKind.client
        )

        def user(org: Any, role: Role, name: str) -> Any:
            return users_uc.create_user(
                session=s,
                organisation=org,
                email=f"{name}@bench.expertloop.org",
                name=name.title(),
                role=role,
                password=PASSWORD,
            )

        operator = user(op_org, Role.operator, "operator")
        client = user(client_org, Role.client, "client")
        outsider = user(other_org, Role.client, "outsider")
        expert = user(op_org, Role.expert, "expert")
        reviewer = user(op_org, Role.reviewer, "reviewer")
        project = projects_uc.create_project(
            session=s,
            actor=operator,
            organisation_id=client_org.id,
            name="Delivery benchmark",
            domain="general",
        )
        projects_uc.staff_user(
            session=s, actor=operator, project=project, user_id=expert.id, role=StaffRole.expert
        )
        projects_uc.staff_user(
            session=s,
            actor=operator,
            project=project,
            user_id=reviewer.id,
            role=StaffRole.reviewer,
        )
        runtime = Runtime()
        endpoint = endpoints_uc.add_endpoint(
            session=s,
            actor=operator,
            box=SecretBox(SECRET_KEY),
            policy=runtime.policy,
            name="Bench model",
            provider="scripted",
            model_id="bench-model",
        )
        targets.set_targets(session=s, actor=operator, project=project, endpoint_ids=[endpoint.id])
        tokens = {
            who: tokens_uc.create_token(session=s, user=u, name="bench")[0]
            for who, u in (
                ("client", client),
                ("operator", operator),
                ("outsider", outsider),
                ("expert", expert),
            )
        }
        # The template problem set, through the app's own use cases.
        access = project_access(session=s, actor=expert, project_id=project.id)
        items = [make_item(i, rng) for i in range(steps_per_set)]
        ps = ps_uc.create(
            session=s,
            access=access,
            title=f"Problem set 0: {items[0].title}",
            statement="Explain the key ideas below, each in two sentences.",
        )
        loaded = Loaded(access, ps)
        made = [
            steps_uc.add(
                session=s,
                loaded=loaded,
                title=it.title,
                prompt=it.prompt,
                rubric=list(it.rubric),
                reference=it.reference,
            )
            for it in items
        ]
        revisions = latest_revisions(session=s, step_ids=[st.id for st in made])
        for n, (it, st) in enumerate(zip(items, made, strict=True)):
            rev = revisions[st.id]
            step_run, run, _e = wb_runs.start(
                session=s, loaded=loaded, step=st, revision=rev, endpoint_id=endpoint.id
            )
            llm_runs.finish_run(
                session=s,
                run_id=run.id,
                completion=Completion(
                    text=it.answer,
                    status=RunStatus.ok,
                    finish_reason="stop",
                    usage=Usage(prompt_tokens=20, completion_tokens=60),
                    latency_ms=850.0,
                    ttft_ms=120.0,
                    raw_request={"model": "bench-model", "messages": run.messages},
                    raw_response=raw_response(it, n),
                ),
            )
            for criterion, met in enumerate((True, False, True)):
                assess.score(
                    session=s,
                    loaded=loaded,
                    revision=rev,
                    step_run=step_run,
                    criterion=criterion,
                    met=met,
                )
            assess.add(
                session=s,
                loaded=loaded,
                revision=rev,
                step_run=step_run,
                category="factual_error",
                severity="major",
                note="Overstates how much depends on context.",
                start=it.start,
                end=it.end,
                quote=it.quote,
            )
            ideal = assess.save_ideal(
                session=s,
                loaded=loaded,
                step=st,
                text=it.ideal,
                version=None,
                based_on=step_run,
                revision=rev,
            )
            if ideal.diff != it.diff:
                raise SystemExit(f"diff_words disagrees with make_item's diff: {ideal.diff!r}")
        status.transition(session=s, loaded=loaded, action=status.Action.submit)
        review = Loaded(project_access(session=s, actor=reviewer, project_id=project.id), ps)
        status.transition(session=s, loaded=review, action=status.Action.start_review)
        status.transition(session=s, loaded=review, action=status.Action.accept, comment="Good.")
        world = World(
            data_dir=str(settings.data_dir),
            project_id=project.id,
            items=steps_per_set,
            problem_sets=1,
            steps_per_set=steps_per_set,
            client_token=tokens["client"],
            operator_token=tokens["operator"],
            outsider_token=tokens["outsider"],
            expert_token=tokens["expert"],
            endpoint_id=endpoint.id,
        )
        template_id = ps.id
    engine.dispose()
    return world, template_id, items


# -- the bulk copy --------------------------------------------------------------------------------


class Table:
    """A table's columns, the template's rows, and the next free id."""

    def __init__(self, db: sqlite3.Connection, name: str, where: str, args: tuple[Any, ...]):
        self.name = name
        self.columns = [r[1] for r in db.execute(f"PRAGMA table_info({name})")]
        self.rows = [list(r) for r in db.execute(f"SELECT * FROM {name} WHERE {where}", args)]
        self.next_id = (db.execute(f"SELECT max(id) FROM {name}").fetchone()[0] or 0) + 1
        self.pending: list[tuple[Any, ...]] = []
        marks = ", ".join("?" * len(self.columns))
        self.sql = f"INSERT INTO {name} ({', '.join(self.columns)}) VALUES ({marks})"

    def col(self, name: str) -> int:
        return self.columns.index(name)

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def _sub(text: str, old: str, new: str) -> str:
    """Replace a text inside a JSON document (both JSON-escaped), checking it was there."""
    o, n = json.dumps(old)[1:-1], json.dumps(new)[1:-1]
    if o not in text:
        raise SystemExit(f"template text {old!r} not found in {text[:200]!r}")
    return text.replace(o, n)


def bulk_copy(
    db_path: Path,
    template_id: int,
    tpl: list[Item],
    total_sets: int,
    steps_per_set: int,
    rng: random.Random,
    chunk_sets: int,
    log: Any,
) -> None:
    """Copy the template problem set ``total_sets - 1`` times with new ids and new texts."""
    db = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    ps = Table(db, "problem_sets", "id = ?", (template_id,))
    steps = Table(db, "steps", "problem_set_id = ? ORDER BY position", (template_id,))
    step_ids = [r[0] for r in steps.rows]
    q = ",".join("?" * len(step_ids))
    revs = Table(db, "step_revisions", f"step_id IN ({q}) ORDER BY step_id", tuple(step_ids))
    rev_ids = [r[0] for r in revs.rows]
    qr = ",".join("?" * len(rev_ids))
    step_runs = Table(
        db, "step_runs", f"revision_id IN ({qr}) ORDER BY revision_id", tuple(rev_ids)
    )
    sr_ids = [r[0] for r in step_runs.rows]
    qs = ",".join("?" * len(sr_ids))
    mr_col = step_runs.col("model_run_id")
    mr_ids = tuple(r[mr_col] for r in step_runs.rows)
    runs = Table(db, "model_runs", f"id IN ({','.join('?' * len(mr_ids))}) ORDER BY id", mr_ids)
    anns = Table(db, "annotations", f"step_run_id IN ({qs}) ORDER BY id", tuple(sr_ids))
    results = Table(db, "rubric_results", f"step_run_id IN ({qs}) ORDER BY id", tuple(sr_ids))
    ideals = Table(db, "ideal_answers", f"step_id IN ({q}) ORDER BY step_id", tuple(step_ids))
    tables = [ps, steps, revs, runs, step_runs, anns, results, ideals]
    if not (
        len(revs.rows)
        == len(step_runs.rows)
        == len(anns.rows)
        == len(ideals.rows)
        == len(steps.rows)
    ):
        raise SystemExit("the template must have one revision, run, annotation, ideal per step")
    c = {t.name: {col: t.col(col) for col in t.columns} for t in tables}
    per_run_results = len(results.rows) // len(step_runs.rows)

    def flush() -> None:
        db.execute("BEGIN IMMEDIATE")
        for t in tables:
            if t.pending:
                db.executemany(t.sql, t.pending)
                t.pending.clear()
        db.execute("COMMIT")

    # Column positions, looked up once (the loop below runs a million times).
    cs, cr, cm = c["steps"], c["step_revisions"], c["model_runs"]
    cs_ps, cs_title, cs_prompt, cs_rubric, cs_ref = (
        cs[k]
        for k in ("problem_set_id", "title", "draft_prompt", "draft_rubric", "draft_reference")
    )
    cr_step, cr_prompt, cr_rubric, cr_ref = (
        cr[k] for k in ("step_id", "prompt", "rubric", "reference")
    )
    cm_msgs, cm_req, cm_resp, cm_answer = (
        cm[k] for k in ("messages", "raw_request", "raw_response", "answer")
    )
    csr_rev, csr_run = c["step_runs"]["revision_id"], c["step_runs"]["model_run_id"]
    ca = c["annotations"]
    ca_rev, ca_sr, ca_start, ca_end, ca_quote = (
        ca[k] for k in ("revision_id", "step_run_id", "start", "end", "quote")
    )
    crr_sr = c["rubric_results"]["step_run_id"]
    ci = c["ideal_answers"]
    ci_step, ci_rev, ci_sr, ci_text, ci_diff = (
        ci[k] for k in ("step_id", "revision_id", "based_on_step_run_id", "text", "diff")
    )
    cps_title = c["problem_sets"]["title"]
    # JSON of texts that depend on the topic only, and the template's JSON documents split
    # around the texts that change (every text here is ASCII with nothing to escape).
    rubric_json = {
        t: json.dumps(make_item(n, random.Random(0)).rubric) for n, t in enumerate(TOPICS)
    }
    msgs_parts = [runs.rows[k][cm_msgs].split(tpl[k].prompt) for k in range(steps_per_set)]
    req_parts = [runs.rows[k][cm_req].split(tpl[k].prompt) for k in range(steps_per_set)]
    resp_tpl = [json.dumps(raw_response(tpl[k], k)) for k in range(steps_per_set)]
    resp_parts = [
        r.replace(f"chatcmpl-bench-{k}", "@ID@").split(tpl[k].answer)
        for k, r in enumerate(resp_tpl)
    ]
    if resp_tpl[0] != runs.rows[0][cm_resp] or any(
        len(p) != 2 for p in msgs_parts + req_parts + resp_parts
    ):
        raise SystemExit("the template's run documents are not shaped as expected")

    t0 = time.perf_counter()
    item_no = steps_per_set
    ps_row, step_tpl, rev_tpl, run_tpl = ps.rows[0], steps.rows, revs.rows, runs.rows
    sr_tpl, ann_tpl, res_tpl, ideal_tpl = step_runs.rows, anns.rows, results.rows, ideals.rows
    ps_id, step_id, rev_id, run_id = ps.next_id, steps.next_id, revs.next_id, runs.next_id
    sr_id, ann_id, res_id, ideal_id = (
        step_runs.next_id,
        anns.next_id,
        results.next_id,
        ideals.next_id,
    )
    for n in range(1, total_sets):
        row = ps_row.copy()
        row[0] = ps_id
        first = True
        for k in range(steps_per_set):
            it = make_item(item_no + k, rng)
            if first:
                row[cps_title] = f"Problem set {n}: {it.title}"
                ps.pending.append(tuple(row))
                first = False
            rubric = rubric_json[TOPICS[(item_no + k) % len(TOPICS)]]
            row = step_tpl[k].copy()
            row[0] = step_id
            row[cs_ps] = ps_id
            row[cs_title] = it.title
            row[cs_prompt] = it.prompt
            row[cs_rubric] = rubric
            row[cs_ref] = it.reference
            steps.pending.append(tuple(row))
            row = rev_tpl[k].copy()
            row[0] = rev_id
            row[cr_step] = step_id
            row[cr_prompt] = it.prompt
            row[cr_rubric] = rubric
            row[cr_ref] = it.reference
            revs.pending.append(tuple(row))
            row = run_tpl[k].copy()
            row[0] = run_id
            row[cm_msgs] = it.prompt.join(msgs_parts[k])
            row[cm_req] = it.prompt.join(req_parts[k])
            row[cm_resp] = it.answer.join(resp_parts[k]).replace(
                "@ID@", f"chatcmpl-bench-{item_no + k}", 1
            )
            row[cm_answer] = it.answer
            runs.pending.append(tuple(row))
            row = sr_tpl[k].copy()
            row[0] = sr_id
            row[csr_rev] = rev_id
            row[csr_run] = run_id
            step_runs.pending.append(tuple(row))
            row = ann_tpl[k].copy()
            row[0] = ann_id
            row[ca_rev] = rev_id
            row[ca_sr] = sr_id
            row[ca_start] = it.start
            row[ca_end] = it.end
            row[ca_quote] = it.quote
            anns.pending.append(tuple(row))
            for j in range(per_run_results):
                row = res_tpl[k * per_run_results + j].copy()
                row[0] = res_id
                row[crr_sr] = sr_id
                results.pending.append(tuple(row))
                res_id += 1
            row = ideal_tpl[k].copy()
            row[0] = ideal_id
            row[ci_step] = step_id
            row[ci_rev] = rev_id
            row[ci_sr] = sr_id
            row[ci_text] = it.ideal
            row[ci_diff] = (
                f'[["=", "{it.diff[0][1]}"], ["-", "{it.quote}"], ["+", "{FIX}"], '
                f'["=", "{it.diff[3][1]}"]]'
            )
            ideals.pending.append(tuple(row))
            step_id += 1
            rev_id += 1
            run_id += 1
            sr_id += 1
            ann_id += 1
            ideal_id += 1
        ps_id += 1
        item_no += steps_per_set
        if n % chunk_sets == 0:
            flush()
            if n % (chunk_sets * 10) == 0:
                rate = (n * steps_per_set) / (time.perf_counter() - t0)
                log(f"  {n * steps_per_set:,} items copied ({rate:,.0f} items/s)")
    flush()
    db.close()


def self_check(settings: Settings, project_id: int, sample: list[int]) -> None:
    """Read sampled copied steps back through the ORM: offsets, quotes and diffs must hold."""
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    with factory() as s:
        for step_id in sample:
            rev = latest_revisions(session=s, step_ids=[step_id])[step_id]
            step_run = s.scalar(select(StepRun).where(StepRun.revision_id == rev.id))
            assert step_run is not None, step_id
            answer = s.get(ModelRun, step_run.model_run_id).answer  # type: ignore[union-attr]
            ann = s.scalar(select(Annotation).where(Annotation.step_run_id == step_run.id))
            ideal = s.scalar(select(IdealAnswer).where(IdealAnswer.step_id == step_id))
            assert ann is not None and ideal is not None, step_id
            assert ann.start is not None and answer[ann.start : ann.end] == ann.quote, step_id
            assert diffs.apply(answer, [tuple(op) for op in ideal.diff]) == ideal.text
            assert [list(op) for op in diffs.diff_words(answer, ideal.text)] == ideal.diff
            assert ideal.created_at.tzinfo is not None
    engine.dispose()


def make(
    data_dir: Path,
    items: int,
    steps_per_set: int = 1,
    chunk_sets: int = 2000,
    seed: int = 1,
    log: Any = print,
) -> World:
    """Create the data directory with ``items`` accepted items; return the world (also saved)."""
    if items % steps_per_set:
        raise SystemExit("--items must be a multiple of --steps-per-set")
    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / "expertloop.sqlite3").exists():
        raise SystemExit(f"{data_dir} already has a database; give an empty directory")
    settings = bench_settings(data_dir)
    rng = random.Random(seed)
    t0 = time.perf_counter()
    world, template_id, tpl = _base(settings, steps_per_set, rng)
    log(f"  schema, people, project and the template problem set: {time.perf_counter() - t0:.1f} s")
    sets = items // steps_per_set
    t1 = time.perf_counter()
    db_path = data_dir / "expertloop.sqlite3"
    bulk_copy(db_path, template_id, tpl, sets, steps_per_set, rng, chunk_sets, log)
    copy_s = time.perf_counter() - t1
    log(
        f"  bulk copy of {items - steps_per_set:,} items: {copy_s:.1f} s "
        f"({(items - steps_per_set) / max(copy_s, 1e-9):,.0f} items/s)"
    )
    db = sqlite3.connect(db_path)
    max_step = db.execute("SELECT max(id) FROM steps").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    self_check(settings, world.project_id, sorted({1, max(1, max_step // 2), max_step}))
    world.items, world.problem_sets = items, sets
    (data_dir / WORLD_FILE).write_text(json.dumps(asdict(world), indent=2))
    size = db_path.stat().st_size
    log(f"  done in {time.perf_counter() - t0:.1f} s; database {size / 2**20:,.0f} MB")
    return world


def load_world(data_dir: Path) -> World:
    """Read the world a previous ``make`` saved."""
    return World(**json.loads((data_dir / WORLD_FILE).read_text()))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--items", type=int, default=2000, help="steps to make (default 2000)")
    p.add_argument("--data-dir", type=Path, required=True, help="an empty directory")
    p.add_argument("--steps-per-set", type=int, default=1, help="steps per problem set (1)")
    p.add_argument("--chunk", type=int, default=2000, help="problem sets per transaction")
    a = p.parse_args()
    print(f"delivery_data: {common.machine_line()}")
    print(f"making {a.items:,} items ({a.steps_per_set} per problem set) in {a.data_dir}")
    world = make(a.data_dir, a.items, a.steps_per_set, a.chunk)
    print(f"project {world.project_id}; world saved in {a.data_dir / WORLD_FILE}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
