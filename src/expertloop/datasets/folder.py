"""Build a snapshot folder: every format as JSONL and Parquet per split, a manifest and a card.

The build is a pure function of the database rows and the spec: the same inputs give the same
bytes (no wall-clock times, no randomness, problem sets in id order, fixed Parquet settings).
Problem sets stream through once; each one's rows go to every format's files as they come.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import expertloop
from expertloop.datasets.card import render_card
from expertloop.datasets.formats import FORMATS, ExportFormat, FormatContext
from expertloop.datasets.writers import FileStats, PairWriter, sha256_of
from expertloop.errors import ValidationFailed
from expertloop.workbench import lineage

SPLITS = ("train", "test")
MANIFEST = "manifest.json"
CARD = "README.md"
PROMPT_SIDE = "(prompt)"  # the "model" column of prompt-side faults in the error chart


@dataclass(frozen=True)
class SnapshotFilters:
    """Which accepted problem sets (and runs) a snapshot takes."""

    domain: str | None = None
    accepted_from: dt.date | None = None
    accepted_to: dt.date | None = None
    endpoint_ids: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the filters as JSON values (dates as ISO strings)."""
        return {
            "domain": self.domain,
            "accepted_from": self.accepted_from.isoformat() if self.accepted_from else None,
            "accepted_to": self.accepted_to.isoformat() if self.accepted_to else None,
            "endpoint_ids": list(self.endpoint_ids) if self.endpoint_ids is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SnapshotFilters:
        """Read filters back from ``to_json``'s shape (missing keys: no filter)."""

        def day(value: Any) -> dt.date | None:
            if value in (None, ""):
                return None
            if isinstance(value, dt.date):
                return value
            try:
                return dt.date.fromisoformat(str(value))
            except ValueError:
                raise ValidationFailed(f"{value!r} is not a date (YYYY-MM-DD).") from None

        ids = data.get("endpoint_ids")
        domain = data.get("domain")
        return cls(
            domain=str(domain) if domain not in (None, "") else None,
            accepted_from=day(data.get("accepted_from")),
            accepted_to=day(data.get("accepted_to")),
            # An empty choice of models is no choice (every model), not "no runs at all".
            endpoint_ids=tuple(sorted({int(i) for i in ids})) if ids else None,
        )

    def lineage_filters(self) -> lineage.LineageFilters:
        """Return the filters as the lineage read model takes them."""
        return lineage.LineageFilters(
            domain=self.domain,
            accepted_from=self.accepted_from,
            accepted_to=self.accepted_to,
            endpoint_ids=self.endpoint_ids,
        )


@dataclass(frozen=True)
class FolderSpec:
    """Everything a snapshot folder is built from besides the database."""

    project_id: int
    project_name: str
    project_domain: str
    snapshot_number: int
    filters: SnapshotFilters
    test_fraction_bp: int  # 1000 = 10 % test split
    created_by: str  # e.g. "user 12 (client)": no name or email
    created_at: dt.datetime  # the snapshot row's time, so a rebuild gives the same bytes
    pseudonym_key: bytes  # per-snapshot secret for expert pseudonyms
    license: str = "other"
    formats: tuple[str, ...] | None = None  # None = every format


@dataclass(frozen=True)
class FolderResult:
    """What was built: the manifest, counts for lists and charts, size and data files."""

    manifest: dict[str, Any]
    counts: dict[str, Any]
    total_bytes: int
    files: list[dict[str, Any]]  # [{"path", "bytes", "sha256", "rows", "format", "split"}]


def split_of(problem_set_id: int, test_fraction_bp: int) -> str:
    """Return the split of a problem set: a hash of its id, so it never moves between builds."""
    bucket = int(hashlib.sha256(f"{problem_set_id}".encode()).hexdigest(), 16) % 10_000
    return "test" if bucket < test_fraction_bp else "train"


def chosen_formats(names: tuple[str, ...] | None) -> list[ExportFormat]:
    """Return the formats to write, in registry order; unknown names are refused."""
    if names is None:
        return list(FORMATS.values())
    unknown = sorted(set(names) - FORMATS.keys())
    if unknown:
        raise ValidationFailed(
            f"Unknown format(s): {', '.join(unknown)}. Known: {', '.join(FORMATS)}."
        )
    return [f for name, f in FORMATS.items() if name in names]


class _Tally:
    """Counts gathered while problem sets stream through."""

    def __init__(self) -> None:
        self.problem_sets = {s: 0 for s in SPLITS}
        self.steps = self.revisions = self.runs = self.annotations = 0
        self.errors: dict[str, dict[str, int]] = {}
        self.taxonomy_versions: set[int] = set()

    def add(self, ps: lineage.ProblemSetLineage, split: str) -> None:
        self.problem_sets[split] += 1
        self.steps += len(ps.steps)
        for step in ps.steps:
            self.revisions += len(step.revisions)
            for rev in step.revisions:
                self.runs += len(rev.runs)
                for a in rev.prompt_annotations:
                    self._fault(a, PROMPT_SIDE)
                for run in rev.runs:
                    for a in run.annotations:
                        self._fault(a, run.model_id)

    def _fault(self, a: lineage.AnnotationLine, model: str) -> None:
        self.annotations += 1
        self.taxonomy_versions.add(a.taxonomy_version)
        by_model = self.errors.setdefault(a.category, {})
        by_model[model] = by_model.get(model, 0) + 1

    def errors_by_category_model(self) -> dict[str, dict[str, int]]:
        return {c: dict(sorted(m.items())) for c, m in sorted(self.errors.items())}


def build_snapshot_folder(
    *,
    session: Session,
    spec: FolderSpec,
    out_dir: Path,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> FolderResult:
    """Write the snapshot folder into ``out_dir`` (empty) and return its manifest and counts."""
    formats = chosen_formats(spec.formats)
    if not 0 <= spec.test_fraction_bp <= 10_000:
        raise ValidationFailed("The test fraction is between 0 and 10000 basis points.")
    filters = spec.filters.lineage_filters()
    total = lineage.count_accepted(session=session, project_id=spec.project_id, filters=filters)
    ctx = FormatContext(pseudonym_key=spec.pseudonym_key)
    writers: dict[tuple[str, str], PairWriter] = {}
    for fmt in formats:
        folder = out_dir / "data" / fmt.name
        folder.mkdir(parents=True, exist_ok=True)
        for split in SPLITS:
            writers[(fmt.name, split)] = PairWriter(folder / split, fmt.arrow_schema)
    tally = _Tally()
    try:
        stream = lineage.accepted(session=session, project_id=spec.project_id, filters=filters)
        for done, ps in enumerate(stream, start=1):
            split = split_of(ps.id, spec.test_fraction_bp)
            tally.add(ps, split)
            for fmt in formats:
                writer = writers[(fmt.name, split)]
                for row in fmt.rows(ps, ctx):
                    writer.write(row)
            if progress is not None:
                progress(done, total, f"problem set {ps.id}")
    finally:
        stats = {key: w.close() for key, w in writers.items()}
    files: list[dict[str, Any]] = []
    rows: dict[str, dict[str, int]] = {}
    for fmt in formats:
        rows[fmt.name] = {split: stats[(fmt.name, split)][0].rows for split in SPLITS}
        for split in SPLITS:
            for file in stats[(fmt.name, split)]:
                files.append(_file(out_dir, file, fmt.name, split))
    counts: dict[str, Any] = {
        "problem_sets": sum(tally.problem_sets.values()),
        "problem_sets_by_split": dict(tally.problem_sets),
        "steps": tally.steps,
        "revisions": tally.revisions,
        "runs": tally.runs,
        "annotations": tally.annotations,
        "rows": rows,
        "errors_by_category_model": tally.errors_by_category_model(),
    }
    version, categories = lineage.current_taxonomy(session=session, project_id=spec.project_id)
    manifest: dict[str, Any] = {
        "name": f"{spec.project_name} — snapshot {spec.snapshot_number}",
        "snapshot": spec.snapshot_number,
        "project": {
            "id": spec.project_id,
            "name": spec.project_name,
            "domain": spec.project_domain,
        },
        "filters": spec.filters.to_json(),
        "split": {
            "test_fraction_bp": spec.test_fraction_bp,
            "method": "test when int(sha256(str(problem_set_id)), 16) % 10000 < test_fraction_bp",
        },
        "created_by": spec.created_by,
        "created_at": spec.created_at.astimezone(dt.UTC).isoformat(),
        "expertloop_version": expertloop.__version__,
        "license": spec.license,
        "taxonomy": {
            "current_version": version,
            "versions_used": sorted(tally.taxonomy_versions),
            "categories": categories,
        },
        "formats": [
            {
                "name": fmt.name,
                "version": fmt.version,
                "description": fmt.description,
                "columns": [{"name": f.name, "type": str(f.type)} for f in fmt.arrow_schema],
                "rows": rows[fmt.name],
            }
            for fmt in formats
        ],
        "counts": counts,
        "files": files,
    }
    card = render_card(spec=spec, manifest=manifest, formats=formats)
    card_path = out_dir / CARD
    card_path.write_bytes(card.encode("utf-8"))
    manifest["card"] = {
        "path": CARD,
        "bytes": card_path.stat().st_size,
        "sha256": sha256_of(card_path),
    }
    manifest_path = out_dir / MANIFEST
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    manifest_path.write_bytes(text.encode("utf-8"))
    total_bytes = sum(f["bytes"] for f in files) + card_path.stat().st_size
    total_bytes += manifest_path.stat().st_size
    return FolderResult(manifest=manifest, counts=counts, total_bytes=total_bytes, files=files)


def _file(out_dir: Path, stats: FileStats, fmt: str, split: str) -> dict[str, Any]:
    return {
        "path": stats.path.relative_to(out_dir).as_posix(),
        "bytes": stats.bytes,
        "sha256": stats.sha256,
        "rows": stats.rows,
        "format": fmt,
        "split": split,
    }
