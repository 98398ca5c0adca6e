"""Fault categories per project: the product's defaults, editable and versioned per project."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.errors import Conflict, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.workbench import events
from expertloop.workbench.models import Side, Taxonomy
from expertloop.workbench.policies import Access, can_edit_taxonomy

DEFAULT_CATEGORIES: tuple[dict[str, str], ...] = (
    {
        "key": "factual_error",
        "label": "Factual error",
        "side": "response",
        "description": "States something false about the world, the domain or the given context.",
    },
    {
        "key": "calculation_error",
        "label": "Calculation error",
        "side": "response",
        "description": "Arithmetic, formula or unit mistake; a number that does not follow "
        "from its inputs.",
    },
    {
        "key": "invented_data",
        "label": "Invented data",
        "side": "response",
        "description": "Makes up figures, sources, names or facts that the prompt and context "
        "do not give.",
    },
    {
        "key": "off_scope",
        "label": "Drifts off scope",
        "side": "response",
        "description": "Drifts off the scope of the original question: answers something else "
        "or pads with what was not asked.",
    },
    {
        "key": "incomplete",
        "label": "Incomplete",
        "side": "response",
        "description": "Leaves out part of what the prompt asks for or what the rubric requires.",
    },
    {
        "key": "ignores_instruction",
        "label": "Ignores an instruction",
        "side": "response",
        "description": "Disregards an explicit instruction: format, length, constraint, audience.",
    },
    {
        "key": "faulty_reasoning",
        "label": "Faulty reasoning",
        "side": "response",
        "description": "A conclusion that does not follow; wrong logic even where facts are right.",
    },
    {
        "key": "unsafe",
        "label": "Unsafe",
        "side": "response",
        "description": "Harmful, non-compliant or reckless advice for the persona and domain.",
    },
    {
        "key": "ambiguity",
        "label": "Ambiguity",
        "side": "prompt",
        "description": "The prompt can reasonably be read in more than one way.",
    },
    {
        "key": "missing_constraint",
        "label": "Missing constraint",
        "side": "prompt",
        "description": "The prompt does not state a limit or requirement the answer must respect.",
    },
    {
        "key": "missing_context",
        "label": "Missing context",
        "side": "prompt",
        "description": "The prompt lacks facts, figures or documents the model needs.",
    },
)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")


@dataclass(frozen=True)
class Categories:
    """The taxonomy in force for a project: its version (0 = the defaults) and categories."""

    version: int
    categories: tuple[dict[str, str], ...]

    def get(self, key: str) -> dict[str, str] | None:
        return next((c for c in self.categories if c["key"] == key), None)

    def for_side(self, side: Side) -> list[dict[str, str]]:
        return [c for c in self.categories if c["side"] == side.value]


def current(*, session: Session, project_id: int) -> Categories:
    """Return the project's newest taxonomy, or the defaults when it never changed them."""
    row = session.scalar(
        select(Taxonomy)
        .where(Taxonomy.project_id == project_id)
        .order_by(Taxonomy.version.desc())
        .limit(1)
    )
    if row is None:
        return Categories(0, DEFAULT_CATEGORIES)
    return Categories(row.version, tuple(row.categories))


def _clean(categories: list[dict[str, Any]]) -> list[dict[str, str]]:
    if not categories:
        raise ValidationFailed("A taxonomy needs at least one category.")
    if len(categories) > 100:
        raise ValidationFailed("A taxonomy has at most 100 categories.")
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, raw in enumerate(categories, start=1):
        key = str(raw.get("key", "")).strip()
        label = str(raw.get("label", "")).strip()
        side = str(raw.get("side", "")).strip()
        description = str(raw.get("description", "")).strip()
        if not _KEY.match(key):
            raise ValidationFailed(
                f"Category {index}: the key must be lowercase letters, digits and underscores, "
                "starting with a letter (at most 60)."
            )
        if key in seen:
            raise ValidationFailed(f"Category {index}: the key {key!r} is used twice.")
        if not label or len(label) > 100:
            raise ValidationFailed(f"Category {index}: a label of 1 to 100 characters is needed.")
        if side not in {s.value for s in Side}:
            raise ValidationFailed(f"Category {index}: side must be 'response' or 'prompt'.")
        seen.add(key)
        cleaned.append(
            {"key": key, "label": label, "side": side, "description": description[:2000]}
        )
    return cleaned


def set_categories(
    *, session: Session, access: Access, categories: list[dict[str, Any]], version: int
) -> Categories:
    """Store a new version of the project's taxonomy when ``version`` is the current one."""
    if not can_edit_taxonomy(access):
        raise PermissionDenied("Only the project's client and operators edit its taxonomy.")
    now = current(session=session, project_id=access.project.id)
    if version != now.version:
        raise Conflict(
            "The taxonomy was changed by someone else; reload and reapply your edit.",
            details={"current_version": now.version},
        )
    cleaned = _clean(categories)
    row = Taxonomy(
        project_id=access.project.id,
        version=now.version + 1,
        categories=cleaned,
        created_by_id=access.actor.id,
    )
    session.add(row)
    session.flush()  # a concurrent edit of the same version hits the unique constraint (409)
    emit(
        events.TaxonomyChanged(
            actor_user_id=access.actor.id,
            organisation_id=access.project.organisation_id,
            subject_type="project",
            subject_id=str(access.project.id),
            version=row.version,
            keys=tuple(c["key"] for c in cleaned),
        ),
        session=session,
    )
    return Categories(row.version, tuple(cleaned))
