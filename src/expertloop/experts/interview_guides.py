"""Versioned interview guides: the prompts, rubric and model that drive the model interviewer.

A guide is never changed in place: an operator's edit saves version n+1, and every interview
keeps the version it started with, so its transcript and suggested score stay explainable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events
from expertloop.experts.models import InterviewGuide
from expertloop.llm.models import ModelEndpoint
from expertloop.text import clean

DEFAULT_SYSTEM_PROMPT = (
    "You are a senior interviewer vetting experts for paid work that trains and evaluates AI "
    "models. Interview the candidate in their own field. Ask one clear, specific question at a "
    "time: the kind a seasoned practitioner answers from experience and a layperson cannot. "
    "Build on what the candidate said before: follow up where an answer was vague, go deeper "
    "where it was strong, and never repeat a question. Do not grade, praise or explain the "
    "answers. Reply with the question alone."
)

DEFAULT_SCORING_PROMPT = (
    "You assess a text interview of a candidate expert. Score the candidate on each rubric "
    "criterion from 1 (poor) to 5 (excellent), and give for each a short reason that cites what "
    "the candidate said. Judge only what is in the transcript; a person makes the decision."
)

DEFAULT_RUBRIC: tuple[dict[str, Any], ...] = (
    {
        "key": "knowledge",
        "title": "Domain knowledge",
        "description": "Accurate, specific, current knowledge of the field.",
        "weight": 4,
    },
    {
        "key": "reasoning",
        "title": "Reasoning",
        "description": "Works through problems step by step and weighs trade-offs.",
        "weight": 3,
    },
    {
        "key": "clarity",
        "title": "Clarity",
        "description": "Explains precisely and plainly, as a reviewer of model answers must.",
        "weight": 2,
    },
    {
        "key": "candour",
        "title": "Knows their limits",
        "description": "Says what they do not know instead of guessing.",
        "weight": 1,
    },
)

DEFAULT_QUESTION_COUNT = 5
MAX_QUESTIONS = 20
MAX_CRITERIA = 12
MAX_PROMPT = 20_000
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class GuideDraft:
    """What an operator submits for a new version (validated by ``save_version``)."""

    system_prompt: str
    scoring_prompt: str
    rubric: list[dict[str, Any]]
    question_count: int
    endpoint_id: int | None


def current(session: Session) -> InterviewGuide | None:
    """Return the newest guide version, or None before any was installed."""
    return session.scalar(select(InterviewGuide).order_by(InterviewGuide.version.desc()).limit(1))


def _shared_local_endpoint(session: Session) -> int | None:
    # The demo's bundled model when there is one; otherwise an operator picks a model.
    query = select(ModelEndpoint.id).where(
        ModelEndpoint.is_active.is_(True),
        ModelEndpoint.organisation_id.is_(None),
        ModelEndpoint.provider == "local",
    )
    return session.scalar(query.order_by(ModelEndpoint.id).limit(1))


def ensure_default(session: Session) -> InterviewGuide:
    """Install guide version 1 with the shipped prompts unless a guide exists; return the newest."""
    existing = current(session)
    if existing is not None:
        return existing
    guide = InterviewGuide(
        version=1,
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        scoring_prompt=DEFAULT_SCORING_PROMPT,
        rubric=[dict(c) for c in DEFAULT_RUBRIC],
        question_count=DEFAULT_QUESTION_COUNT,
        endpoint_id=_shared_local_endpoint(session),
    )
    session.add(guide)
    session.flush()
    return guide


def get(session: Session, *, actor: User, guide_id: int) -> InterviewGuide:
    """Return one guide version (operators only; others are told it does not exist)."""
    guide = session.get(InterviewGuide, guide_id) if is_operator(actor) else None
    if guide is None:
        raise NotFound("Interview guide not found.")
    return guide


def list_versions(
    session: Session, *, actor: User, limit: int = 20, offset: int = 0
) -> tuple[list[InterviewGuide], int]:
    """Return guide versions, newest first, and how many there are (operators only)."""
    if not is_operator(actor):
        raise NotFound("Interview guides not found.")
    ensure_default(session)
    total = session.scalar(select(func.count()).select_from(InterviewGuide)) or 0
    query = select(InterviewGuide).order_by(InterviewGuide.version.desc())
    return list(session.scalars(query.limit(limit).offset(offset))), total


def usable_endpoints(session: Session) -> list[ModelEndpoint]:
    """Return the models a guide may use: active and shared (a client's own model never hears a
    candidate's profile)."""
    query = select(ModelEndpoint).where(
        ModelEndpoint.is_active.is_(True), ModelEndpoint.organisation_id.is_(None)
    )
    return list(session.scalars(query.order_by(ModelEndpoint.name)))


def endpoint_of(session: Session, endpoint_id: int | None) -> ModelEndpoint | None:
    """Return the endpoint if it can still interview (active and shared), else None."""
    if endpoint_id is None:
        return None
    endpoint = session.get(ModelEndpoint, endpoint_id)
    if endpoint is None or not endpoint.is_active or endpoint.organisation_id is not None:
        return None
    return endpoint


def clean_rubric(rubric: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the rubric criteria checked and normalised; raise ``ValidationFailed`` naming the
    first bad one."""
    if not rubric:
        raise ValidationFailed(
            "Give the rubric at least one criterion.", details={"field": "rubric"}
        )
    if len(rubric) > MAX_CRITERIA:
        raise ValidationFailed(
            f"A rubric has at most {MAX_CRITERIA} criteria.", details={"field": "rubric"}
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, raw in enumerate(rubric, start=1):
        where = f"Criterion {n}"
        key = clean(str(raw.get("key", "")), field=f"{where} key", one_line=True).strip()
        title = clean(
            str(raw.get("title", "")), field=f"{where} title", one_line=True, max_length=120
        ).strip()
        description = clean(
            str(raw.get("description", "")), field=f"{where} description", max_length=1000
        ).strip()
        if not _KEY.match(key):
            raise ValidationFailed(
                f"{where}: the key must be lower-case letters, digits and _ (starting with a "
                "letter, at most 40).",
                details={"field": "rubric", "criterion": n},
            )
        if key in seen:
            raise ValidationFailed(
                f"{where}: the key {key!r} is used twice.", details={"field": "rubric"}
            )
        if not title:
            raise ValidationFailed(f"{where}: give it a title.", details={"field": "rubric"})
        try:
            weight = float(raw.get("weight", 1))
        except (TypeError, ValueError):
            weight = -1.0
        if not 0 < weight <= 100:
            raise ValidationFailed(
                f"{where}: the weight must be a number above 0 (at most 100).",
                details={"field": "rubric", "criterion": n},
            )
        seen.add(key)
        out.append(
            {
                "key": key,
                "title": title,
                "description": description,
                "weight": int(weight) if weight.is_integer() else weight,
            }
        )
    return out


def save_version(
    session: Session, *, actor: User, draft: GuideDraft, base_version: int | None
) -> InterviewGuide:
    """Save the draft as the next version; ``base_version`` must be the newest (else 409)."""
    if not is_operator(actor):
        raise NotFound("Interview guides not found.")
    latest = ensure_default(session)
    if base_version is not None and base_version != latest.version:
        raise Conflict(
            f"Someone saved version {latest.version} meanwhile; reload, compare, and edit that.",
            details={"version": latest.version},
        )
    system_prompt = clean(draft.system_prompt, field="Interviewer prompt", max_length=MAX_PROMPT)
    scoring_prompt = clean(draft.scoring_prompt, field="Scoring prompt", max_length=MAX_PROMPT)
    if not system_prompt.strip():
        raise ValidationFailed("Write the interviewer prompt.", details={"field": "system_prompt"})
    if not scoring_prompt.strip():
        raise ValidationFailed("Write the scoring prompt.", details={"field": "scoring_prompt"})
    if not 1 <= draft.question_count <= MAX_QUESTIONS:
        raise ValidationFailed(
            f"An interview has 1 to {MAX_QUESTIONS} questions.",
            details={"field": "question_count"},
        )
    if draft.endpoint_id is not None and endpoint_of(session, draft.endpoint_id) is None:
        raise ValidationFailed(
            "Choose an active shared model for the interviewer.", details={"field": "endpoint_id"}
        )
    guide = InterviewGuide(
        version=latest.version + 1,
        system_prompt=system_prompt.strip(),
        scoring_prompt=scoring_prompt.strip(),
        rubric=clean_rubric(draft.rubric),
        question_count=draft.question_count,
        endpoint_id=draft.endpoint_id,
        created_by_id=actor.id,
    )
    session.add(guide)
    session.flush()
    emit(
        events.InterviewGuideSaved(
            actor_user_id=actor.id,
            organisation_id=actor.organisation_id,
            subject_type="interview_guide",
            subject_id=str(guide.id),
            version=guide.version,
            endpoint_id=guide.endpoint_id,
            question_count=guide.question_count,
        ),
        session=session,
    )
    return guide
