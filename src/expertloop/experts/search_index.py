"""Keep the matching search index of the experts up to date.

Each expert has one document in ``expert_search_docs`` (migration 0011): the headline, the labels
of their domains and specialties, credentials and education, the résumé and their own answers in
the vetting interview. The database indexes it (SQLite FTS5 through triggers, PostgreSQL a
generated ``tsvector`` with a GIN index), so writing the row is all a refresh takes. Migration
0012 adds a second, short index over the *head* fields (headline, expertise, credentials) that
matching ranks first: on SQLite a second FTS5 table fed by the same triggers; on PostgreSQL the
vectors live in a narrow table ``expert_search_vectors`` (``head`` and ``body``, each with a GIN
index) that a trigger on the documents table writes.

Call ``reindex`` after anything that changes what matching searches (profile, domains, interview
transcript); ``rebuild`` writes every document again (after a bulk import, or for the benchmark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, insert, select
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session

from expertloop.experts import taxonomy
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    Interview,
    InterviewTurn,
    ProfileDomain,
    TurnRole,
)

# Not part of ``Base.metadata``: the table's full shape differs per dialect (a generated tsvector
# column on PostgreSQL, an FTS5 table and triggers beside it on SQLite); migration 0011 makes it.
_metadata = MetaData()
FIELDS: tuple[str, ...] = ("headline", "expertise", "credentials", "resume", "interview")
DOCS = Table(
    "expert_search_docs",
    _metadata,
    Column("user_id", Integer, primary_key=True),
    *(Column(name, Text, nullable=False) for name in FIELDS),
)
# PostgreSQL only (migration 0012): the head and body tsvectors, written by a trigger on DOCS.
VECTORS = Table(
    "expert_search_vectors",
    _metadata,
    Column("user_id", Integer, primary_key=True),
    Column("head", TSVECTOR, nullable=False),
    Column("body", TSVECTOR, nullable=False),
)
FTS_TABLE = "expert_search_fts"  # SQLite only
HEAD_FTS_TABLE = "expert_search_head"  # SQLite only: the head fields alone (migration 0012)
HEAD_FIELDS: tuple[str, ...] = ("headline", "expertise", "credentials")
_PREFIX = "expert_search_"


def include_name(
    name: str | None, type_: str, parent_names: MutableMapping[Any, str | None]
) -> bool:
    """Tell Alembic's comparison to leave the search index's objects alone (see migration 0011)."""
    if type_ == "table":
        return not (name or "").startswith(_PREFIX)
    table = parent_names.get("table_name") or ""
    return not str(table).startswith(_PREFIX)


@dataclass(frozen=True)
class Document:
    """The searchable text of one expert, one field per index column."""

    user_id: int
    headline: str
    expertise: str
    credentials: str
    resume: str
    interview: str

    def row(self) -> dict[str, Any]:
        """Return the row of ``expert_search_docs``."""
        return {"user_id": self.user_id, **{f: getattr(self, f) for f in FIELDS}}


def expertise_label(domain: str, specialty: str) -> str:
    """Return the label of a domain and specialty (the key in words when not in the taxonomy)."""
    known = taxonomy.domains()
    entry = known.get(domain)
    domain_label = entry.label if entry else domain.replace("_", " ")
    if not specialty:
        return domain_label
    spec = entry.specialties.get(specialty) if entry else None
    return f"{domain_label}: {spec or specialty.replace('_', ' ')}"


def _entries(items: Iterable[Any]) -> list[str]:
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out.append(" ".join(str(v) for v in item.values() if v not in (None, "")))
        elif item:
            out.append(str(item))
    return out


def documents(session: Session, user_ids: Sequence[int]) -> list[Document]:
    """Build the documents of the experts among ``user_ids`` that have a profile."""
    if not user_ids:
        return []
    profiles = session.execute(
        select(
            ExpertProfile.user_id,
            ExpertProfile.headline,
            ExpertProfile.credentials,
            ExpertProfile.education,
            ExpertProfile.resume,
        ).where(ExpertProfile.user_id.in_(user_ids))
    ).all()
    if not profiles:
        return []
    found = [p.user_id for p in profiles]
    expertise: dict[int, list[str]] = {}
    for uid, domain, specialty in session.execute(
        select(ProfileDomain.user_id, ProfileDomain.domain, ProfileDomain.specialty)
        .where(ProfileDomain.user_id.in_(found))
        .order_by(ProfileDomain.user_id, ProfileDomain.id)
    ):
        expertise.setdefault(uid, []).append(expertise_label(domain, specialty))
    answers: dict[int, list[str]] = {}
    for owner, text in session.execute(
        select(Candidate.user_id, InterviewTurn.text)
        .join(Interview, Interview.candidate_id == Candidate.id)
        .join(InterviewTurn, InterviewTurn.interview_id == Interview.id)
        .where(Candidate.user_id.in_(found), InterviewTurn.role == TurnRole.candidate)
        .order_by(Candidate.user_id, Interview.id, InterviewTurn.seq)
    ):
        if owner is not None:
            answers.setdefault(owner, []).append(text)
    return [
        Document(
            user_id=p.user_id,
            headline=p.headline or "",
            expertise="; ".join(expertise.get(p.user_id, [])),
            credentials="\n".join(_entries(p.credentials) + _entries(p.education)),
            resume=p.resume or "",
            interview="\n".join(answers.get(p.user_id, [])),
        )
        for p in profiles
    ]


def _write(session: Session, user_ids: Sequence[int], docs: list[Document]) -> None:
    # Delete and insert rather than upsert: the same two statements on both dialects, and the
    # SQLite triggers hand the FTS table the old values it needs to forget them.
    session.execute(delete(DOCS).where(DOCS.c.user_id.in_(user_ids)))
    if docs:
        session.execute(insert(DOCS), [d.row() for d in docs])


def reindex(session: Session, user_id: int) -> None:
    """Refresh the search document of ``user_id`` (removed when they have no profile)."""
    _write(session, [user_id], documents(session, [user_id]))


def rebuild(
    session: Session,
    *,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write every expert's document again; return how many there are.

    ``progress`` is called with the number of documents written after each chunk.
    """
    session.execute(delete(DOCS))
    done = 0
    last = 0
    while True:
        ids = list(
            session.scalars(
                select(ExpertProfile.user_id)
                .where(ExpertProfile.user_id > last)
                .order_by(ExpertProfile.user_id)
                .limit(chunk)
            )
        )
        if not ids:
            break
        docs = documents(session, ids)
        if docs:
            session.execute(insert(DOCS), [d.row() for d in docs])
        done += len(docs)
        last = ids[-1]
        if progress is not None:
            progress(done)
    session.flush()
    return done
