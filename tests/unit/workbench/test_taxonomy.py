"""Fault categories: the product's defaults, and versioned, validated edits per project."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import AuditLog
from expertloop.workbench import assess, taxonomy
from expertloop.workbench.models import Side, Taxonomy
from expertloop.workbench.policies import Access
from tests.factories import World
from tests.unit.workbench.conftest import Bench

RESPONSE_KEYS = {
    "factual_error",
    "calculation_error",
    "invented_data",
    "off_scope",
    "incomplete",
    "ignores_instruction",
    "faulty_reasoning",
    "unsafe",
}
PROMPT_KEYS = {"ambiguity", "missing_constraint", "missing_context"}


def _client(world: World) -> Access:
    return Access(world.client_a, world.project_a, None)


def _cat(key: str = "wrong_total", side: str = "response", **kw: Any) -> dict[str, Any]:
    return {"key": key, "label": kw.pop("label", key.replace("_", " ").title()), "side": side, **kw}


def _versions(db: Session, project_id: int) -> int:
    return db.scalar(select(func.count(Taxonomy.id)).where(Taxonomy.project_id == project_id)) or 0


def test_the_defaults_are_the_products_eleven_categories() -> None:
    cats = taxonomy.DEFAULT_CATEGORIES
    assert len(cats) == 11
    keys = [c["key"] for c in cats]
    assert len(set(keys)) == 11
    assert {c["key"] for c in cats if c["side"] == "response"} == RESPONSE_KEYS
    assert {c["key"] for c in cats if c["side"] == "prompt"} == PROMPT_KEYS
    for c in cats:
        assert set(c) == {"key", "label", "side", "description"}
        assert re.fullmatch(r"[a-z][a-z0-9_]{0,59}", c["key"])
        assert c["label"].strip() and len(c["label"]) <= 100
        assert len(c["description"].strip()) >= 20, c["key"]
        assert c["description"].endswith(".")


def test_the_defaults_pass_their_own_validation() -> None:
    assert taxonomy._clean([dict(c) for c in taxonomy.DEFAULT_CATEGORIES]) == list(
        taxonomy.DEFAULT_CATEGORIES
    )


def test_a_project_that_never_edited_uses_the_defaults(db: Session, world: World) -> None:
    current = taxonomy.current(session=db, project_id=world.project_a.id)
    assert current.version == 0
    assert current.categories == taxonomy.DEFAULT_CATEGORIES
    assert [c["key"] for c in current.for_side(Side.prompt)] == [
        "ambiguity",
        "missing_constraint",
        "missing_context",
    ]
    assert len(current.for_side(Side.response)) == 8
    assert current.get("unsafe") is not None
    assert current.get("nope") is None


def test_an_edit_stores_a_new_version_for_that_project_only(db: Session, world: World) -> None:
    new = [_cat("wrong_total"), _cat("vague_ask", "prompt", description="  Asks vaguely. ")]
    saved = taxonomy.set_categories(session=db, access=_client(world), categories=new, version=0)
    assert saved.version == 1
    assert [c["key"] for c in saved.categories] == ["wrong_total", "vague_ask"]
    assert saved.categories[1]["description"] == "Asks vaguely."
    db.expire_all()
    assert taxonomy.current(session=db, project_id=world.project_a.id) == saved
    assert taxonomy.current(session=db, project_id=world.project_b.id).version == 0
    event = db.scalars(select(AuditLog).where(AuditLog.kind == "workbench.taxonomy_changed")).one()
    assert event.data["version"] == 1
    assert event.data["keys"] == ["wrong_total", "vague_ask"]

    operator = Access(world.operator, world.project_a, None)
    again = taxonomy.set_categories(
        session=db, access=operator, categories=[_cat("only_one")], version=1
    )
    assert again.version == 2
    assert taxonomy.current(session=db, project_id=world.project_a.id).version == 2


def test_keys_and_labels_are_trimmed_and_descriptions_bounded(db: Session, world: World) -> None:
    raw = {
        "key": "  spaced_key ",
        "label": "  Spaced  ",
        "side": " prompt ",
        "description": "x" * 3000,
    }
    saved = taxonomy.set_categories(session=db, access=_client(world), categories=[raw], version=0)
    assert saved.categories == (
        {"key": "spaced_key", "label": "Spaced", "side": "prompt", "description": "x" * 2000},
    )


@pytest.mark.parametrize(
    ("categories", "message"),
    [
        ([], "at least one category"),
        ([_cat(f"k{i}") for i in range(101)], "at most 100"),
        ([_cat("Bad Key")], "Category 1: the key must be lowercase"),
        ([_cat("1st")], "the key must be lowercase"),
        ([_cat("_x")], "the key must be lowercase"),
        ([_cat("caf\u00e9")], "the key must be lowercase"),
        ([_cat("x" * 61)], "the key must be lowercase"),
        ([{"label": "No key", "side": "response"}], "the key must be lowercase"),
        ([_cat("dup"), _cat("dup", "prompt")], "Category 2: the key 'dup' is used twice"),
        ([_cat("a"), _cat("b", label="   ")], "Category 2: a label of 1 to 100"),
        ([_cat("a", label="L" * 101)], "a label of 1 to 100"),
        ([_cat("a", "answer")], "side must be 'response' or 'prompt'"),
        ([_cat("a", "")], "side must be 'response' or 'prompt'"),
    ],
)
def test_invalid_categories_are_refused_and_nothing_is_stored(
    db: Session, world: World, categories: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=re.escape(message)):
        taxonomy.set_categories(session=db, access=_client(world), categories=categories, version=0)
    assert _versions(db, world.project_a.id) == 0


def test_a_key_of_sixty_characters_is_accepted(db: Session, world: World) -> None:
    saved = taxonomy.set_categories(
        session=db, access=_client(world), categories=[_cat("k" * 60)], version=0
    )
    assert saved.categories[0]["key"] == "k" * 60


@pytest.mark.parametrize("stale", [1, -1, 5])
def test_an_edit_of_another_version_is_a_conflict(db: Session, world: World, stale: int) -> None:
    with pytest.raises(Conflict) as caught:
        taxonomy.set_categories(
            session=db, access=_client(world), categories=[_cat()], version=stale
        )
    assert caught.value.details == {"current_version": 0}
    assert _versions(db, world.project_a.id) == 0


def test_two_edits_of_the_same_version_the_second_conflicts(db: Session, world: World) -> None:
    taxonomy.set_categories(session=db, access=_client(world), categories=[_cat("a")], version=0)
    with pytest.raises(Conflict, match="changed by someone else") as caught:
        taxonomy.set_categories(
            session=db, access=_client(world), categories=[_cat("b")], version=0
        )
    assert caught.value.details == {"current_version": 1}
    assert [
        c["key"] for c in taxonomy.current(session=db, project_id=world.project_a.id).categories
    ] == ["a"]


@pytest.mark.parametrize("who", ["expert_a", "reviewer_a", "client_b"])
def test_only_the_projects_client_and_operators_edit_it(
    db: Session, world: World, who: str
) -> None:
    access = Access(getattr(world, who), world.project_a, None)
    with pytest.raises(PermissionDenied):
        taxonomy.set_categories(session=db, access=access, categories=[_cat()], version=0)
    assert _versions(db, world.project_a.id) == 0


def test_annotations_use_the_edited_taxonomy_and_record_its_version(
    bench: Bench, db: Session
) -> None:
    world = bench.world
    taxonomy.set_categories(
        session=db,
        access=_client(world),
        categories=[_cat("wrong_total"), _cat("vague_ask", "prompt")],
        version=0,
    )
    run = bench.run("The total is 12.")
    row = assess.add(
        session=db,
        loaded=bench.loaded,
        revision=bench.revision,
        step_run=run,
        start=4,
        end=9,
        category="wrong_total",
        severity="major",
    )
    assert (row.category, row.taxonomy_version) == ("wrong_total", 1)
    with pytest.raises(ValidationFailed, match="Unknown category 'factual_error'"):
        assess.add(
            session=db,
            loaded=bench.loaded,
            revision=bench.revision,
            step_run=run,
            start=4,
            end=9,
            category="factual_error",
            severity="major",
        )
