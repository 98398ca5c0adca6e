"""Stream a project's accepted data as it is now, in one export format, as JSON lines.

A live export is not a snapshot: it is not numbered, not stored, not immutable and has no
manifest or card; two downloads differ when problem sets were accepted in between. It reads the
same read model (``workbench.lineage``; for the SFT formats its short reading,
``workbench.lineage_sft``) through the same format modules as a snapshot build, row by row, so
the first line leaves long before the last problem set is read and memory stays flat.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import User
from expertloop.datasets import policies
from expertloop.datasets.formats import FORMATS, ExportFormat, FormatContext
from expertloop.datasets.formats.base import ShortFormat
from expertloop.datasets.snapshots import slugify
from expertloop.datasets.writers import json_bytes
from expertloop.db import read_transaction
from expertloop.errors import NotFound, ValidationFailed
from expertloop.projects import projects as projects_uc
from expertloop.workbench import lineage, lineage_sft

# Problem sets the read model loads per round of queries. Bigger rounds cost fewer queries (each
# has a fixed cost: an IN list compiled, executed, its rows typed); 200 one-step problem sets
# read ~1.5x as fast as 50 (bench/delivery_export.py) and the first one still comes quickly.
CHUNK = 200


@dataclass(frozen=True)
class LiveExport:
    """What a live export of one project in one format streams, checked before it starts."""

    project_id: int
    format: ExportFormat
    filters: lineage.LineageFilters
    pseudonym_key: bytes
    filename: str  # "<project-slug>-<format>-live.jsonl"


def pseudonym_key(secret_key: str, project_id: int) -> bytes:
    """Return the key of expert pseudonyms in live exports of a project (never a snapshot's)."""
    return hmac.new(
        secret_key.encode(), f"live-export:{project_id}".encode(), hashlib.sha256
    ).digest()


def export_format(name: str) -> ExportFormat:
    """Return the export format called ``name`` (422 naming the known ones otherwise)."""
    fmt = FORMATS.get(name.strip().lower())
    if fmt is None:
        raise ValidationFailed(
            f"Unknown format {name!r}. Known: {', '.join(FORMATS)}.",
            details={"formats": list(FORMATS)},
        )
    return fmt


def prepare(
    *,
    session: Session,
    actor: User,
    project_id: int,
    format_name: str,
    secret_key: str,
    filters: lineage.LineageFilters | None = None,
) -> LiveExport:
    """Check who asks and for what: the project's clients and operators; others get 404."""
    project = projects_uc.get_project(session=session, project_id=project_id, actor=actor)
    if not policies.can_use_snapshots(actor, project):
        # Experts and reviewers staffed on the project see it, but not its datasets.
        raise NotFound("Project not found.")
    fmt = export_format(format_name)
    filters = filters or lineage.LineageFilters()
    if (
        filters.accepted_from is not None
        and filters.accepted_to is not None
        and filters.accepted_from > filters.accepted_to
    ):
        raise ValidationFailed("'Accepted from' is after 'accepted to'.")
    stem = slugify(project.name, f"project-{project.id}")
    return LiveExport(
        project_id=project.id,
        format=fmt,
        filters=filters,
        pseudonym_key=pseudonym_key(secret_key, project.id),
        filename=f"{stem}-{fmt.name}-live.jsonl",
    )


def lines(*, session: Session, export: LiveExport) -> Iterator[bytes]:
    """Yield the export's rows as UTF-8 JSON lines, problem sets in id order."""
    ctx = FormatContext(pseudonym_key=export.pseudonym_key)
    fmt = export.format
    if isinstance(fmt, ShortFormat):
        # The SFT formats need only conversations and target answers: the short reading.
        for short in lineage_sft.accepted(
            session=session, project_id=export.project_id, filters=export.filters
        ):
            for row in fmt.rows(short, ctx):
                yield json_bytes(row)
        return
    for problem_set in lineage.accepted(
        session=session, project_id=export.project_id, filters=export.filters, chunk_size=CHUNK
    ):
        for row in fmt.rows(problem_set, ctx):
            yield json_bytes(row)


def stream(factory: sessionmaker[Session], export: LiveExport) -> Generator[bytes, None, None]:
    """Yield the export's lines from a read session of its own, closed when the stream ends.

    One read-only transaction for the whole stream (a consistent view; on SQLite it begins
    deferred and holds no write lock). The read model loads problem sets a chunk at a time, so
    nothing grows with the project; closing the generator (the client went away) ends the
    transaction at once.
    """
    with read_transaction(factory) as session:
        yield from lines(session=session, export=export)
