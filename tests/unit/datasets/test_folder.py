"""The snapshot folder: manifest hashes match the files, a rebuild gives the same bytes, the split
is deterministic and keeps its fraction, filters select what they say, and nothing personal or
secret is in any file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

from expertloop.datasets.folder import SnapshotFilters, split_of
from expertloop.datasets.formats import FORMATS
from expertloop.datasets.writers import ParquetWriter, write_jsonl
from expertloop.errors import ValidationFailed
from expertloop.workbench import lineage
from tests.unit.datasets.conftest import API_KEY, EXPERT_EMAIL, EXPERT_NAME, SYSTEM_SECRET, Kit

UTC = dt.UTC


def _ids(out: Path, name: str, split: str) -> set[int]:
    path = out / "data" / name / f"{split}.jsonl"
    return {json.loads(line)["problem_set_id"] for line in path.open(encoding="utf-8")}


def _all_text(out: Path) -> str:
    """Every file's text; Parquet files decoded (their pages are compressed)."""
    parts = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), ensure_ascii=False))
        else:
            parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def test_manifest_hashes_match_and_a_rebuild_gives_the_same_bytes(kit: Kit, tmp_path: Path) -> None:
    kit.rich()
    kit.simple("Second")
    first = kit.build(tmp_path / "a", test_fraction_bp=5000)
    second = kit.build(tmp_path / "b", test_fraction_bp=5000)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == first.manifest
    assert len(manifest["files"]) == len(FORMATS) * 2 * 2  # every format, 2 splits, 2 kinds
    for f in manifest["files"]:
        data = (tmp_path / "a" / f["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"]
        if f["path"].endswith(".jsonl"):
            assert data.count(b"\n") == f["rows"]
        else:
            assert pq.ParquetFile(tmp_path / "a" / f["path"]).metadata.num_rows == f["rows"]
    card = (tmp_path / "a" / "README.md").read_bytes()
    assert hashlib.sha256(card).hexdigest() == manifest["card"]["sha256"]
    names_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*"))
    names_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*"))
    assert names_a == names_b
    for name in names_a:
        if (tmp_path / "a" / name).is_file():
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert first.files == second.files and first.total_bytes == second.total_bytes
    on_disk = sum(p.stat().st_size for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert first.total_bytes == on_disk
    # What the manifest says of the project, formats and build.
    assert manifest["project"]["id"] == kit.world.project_a.id
    assert manifest["created_at"] == "2025-03-01T12:00:00+00:00"
    assert {f["name"]: f["version"] for f in manifest["formats"]} == {
        n: f.version for n, f in FORMATS.items()
    }
    assert manifest["taxonomy"]["versions_used"] == [0]
    assert manifest["counts"]["problem_sets"] == 2 and manifest["counts"]["revisions"] == 4
    assert first.counts["errors_by_category_model"]["calculation_error"] == {
        kit.model_a.model_id: 1
    }


def test_split_is_a_hash_of_the_id_and_keeps_the_fraction(kit: Kit, tmp_path: Path) -> None:
    # The rule alone, on many ids: within a point of the fraction.
    share = sum(split_of(i, 1000) == "test" for i in range(1, 20_001)) / 20_000
    assert 0.09 < share < 0.11
    made = [kit.simple(f"Problem {n}").id for n in range(200)]
    result = kit.build(tmp_path / "out", test_fraction_bp=2500, formats=("trl-sft",))
    test, train = (
        _ids(tmp_path / "out", "trl-sft", "test"),
        _ids(tmp_path / "out", "trl-sft", "train"),
    )
    assert test | train == set(made) and not test & train
    assert test == {i for i in made if split_of(i, 2500) == "test"}
    assert 30 <= len(test) <= 70  # 25 % of 200, give or take
    assert result.counts["problem_sets_by_split"] == {"train": len(train), "test": len(test)}
    assert result.counts["rows"]["trl-sft"] == {"train": len(train), "test": len(test)}


def test_filters_select_by_domain_dates_and_target_model(kit: Kit, tmp_path: Path) -> None:
    jan = kit.simple("January", at=dt.datetime(2025, 1, 31, 23, 59, tzinfo=UTC))
    feb = kit.simple("February", domain="legal", at=dt.datetime(2025, 2, 1, 0, 0, tzinfo=UTC))
    built = kit.rich(at=dt.datetime(2025, 2, 15, 8, 0, tzinfo=UTC))
    rich = built.problem_set.id

    def ids(name: str, **filters: object) -> set[int]:
        out = tmp_path / name
        kit.build(out, filters=SnapshotFilters(**filters))  # type: ignore[arg-type]
        return _ids(out, "iterations", "train")

    assert ids("all") == {jan.id, feb.id, rich}
    assert ids("legal", domain="legal") == {feb.id}
    assert ids("jan", accepted_to=dt.date(2025, 1, 31)) == {jan.id}
    assert ids("feb", accepted_from=dt.date(2025, 2, 1)) == {feb.id, rich}
    assert ids("day", accepted_from=dt.date(2025, 2, 15), accepted_to=dt.date(2025, 2, 15)) == {
        rich
    }
    # The target-model filter keeps every problem set but only that model's runs.
    kit.build(tmp_path / "b", filters=SnapshotFilters(endpoint_ids=(kit.model_b.id,)))
    errors = [
        json.loads(line)
        for line in (tmp_path / "b" / "data" / "errors" / "train.jsonl").open(encoding="utf-8")
    ]
    assert {e["endpoint_id"] for e in errors} == {None, kit.model_b.id}
    models = {
        run["model_id"]
        for line in (tmp_path / "b" / "data" / "iterations" / "train.jsonl").open(encoding="utf-8")
        for rev in json.loads(line)["revisions"]
        for run in rev["runs"]
    }
    assert models == {kit.model_b.model_id}
    # Filters survive the snapshot row's JSON.
    f = SnapshotFilters("legal", dt.date(2025, 1, 1), dt.date(2025, 2, 1), (3, 1))
    assert SnapshotFilters.from_json(f.to_json()) == SnapshotFilters(
        "legal", dt.date(2025, 1, 1), dt.date(2025, 2, 1), (1, 3)
    )
    assert SnapshotFilters.from_json({}) == SnapshotFilters()
    assert SnapshotFilters.from_json({"endpoint_ids": [], "domain": ""}) == SnapshotFilters()
    with pytest.raises(ValidationFailed, match="not a date"):
        SnapshotFilters.from_json({"accepted_from": "March"})


def test_no_expert_name_email_or_key_in_any_file(kit: Kit, tmp_path: Path) -> None:
    kit.rich()
    out = tmp_path / "out"
    kit.build(out)
    text = _all_text(out)
    people = [kit.world.expert_a, kit.world.reviewer_a, kit.world.client_a, kit.world.operator]
    for secret in [
        API_KEY,
        SYSTEM_SECRET,
        EXPERT_NAME,
        EXPERT_EMAIL,
        *(u.email for u in people),
        *(u.name for u in people),
    ]:
        assert secret not in text, secret
    assert kit.model_b.api_key_encrypted and kit.model_b.api_key_encrypted not in text
    # Experts appear under a pseudonym that differs from one snapshot (key) to the next.
    iterations = json.loads((out / "data" / "iterations" / "train.jsonl").open().readline())
    other = tmp_path / "other"
    kit.build(other, pseudonym_key=b"another key")
    again = json.loads((other / "data" / "iterations" / "train.jsonl").open().readline())
    assert len(iterations["expert"]) == 16 and iterations["expert"] != again["expert"]
    assert str(kit.world.expert_a.id) != iterations["expert"]


def test_progress_per_problem_set_with_the_total_up_front(kit: Kit, tmp_path: Path) -> None:
    for n in range(3):
        kit.simple(f"P{n}")
    calls: list[tuple[int, int | None, str]] = []
    kit.build(tmp_path / "out", progress=lambda d, t, note: calls.append((d, t, note)))
    assert [(d, t) for d, t, _ in calls] == [(1, 3), (2, 3), (3, 3)]
    assert (
        lineage.count_accepted(
            session=kit.db, project_id=kit.world.project_a.id, filters=lineage.LineageFilters()
        )
        == 3
    )


def test_a_subset_of_formats_and_unknown_names(kit: Kit, tmp_path: Path, hf: ModuleType) -> None:
    kit.simple()
    result = kit.build(tmp_path / "out", formats=("rubrics", "openai-sft"))
    assert {f["format"] for f in result.files} == {"openai-sft", "rubrics"}
    assert sorted(p.name for p in (tmp_path / "out" / "data").iterdir()) == [
        "openai-sft",
        "rubrics",
    ]
    # Loading the folder without a config name takes the default (the first format with rows).
    ds = hf.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    assert list(ds) == ["train"] and "messages" in ds["train"].column_names
    with pytest.raises(ValidationFailed, match="Unknown format"):
        kit.build(tmp_path / "bad", formats=("openai-sft", "alpaca"))


def test_an_empty_project_still_builds_a_folder(kit: Kit, tmp_path: Path) -> None:
    result = kit.build(tmp_path / "out")
    assert result.counts["problem_sets"] == 0
    assert all(f["rows"] == 0 for f in result.files)
    assert "configs: []" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_writers_stream_in_bounded_row_groups(tmp_path: Path) -> None:
    schema = FORMATS["trl-sft"].arrow_schema
    rows = [
        {"id": f"r{i}", "problem_set_id": i, "step": "1", "prompt": "p 😀", "completion": "c"}
        for i in range(10)
    ]
    writer = ParquetWriter(tmp_path / "x.parquet", schema, row_group_rows=3)
    for row in rows:
        writer.write(row)
    stats = writer.close()
    assert stats.rows == 10 and pq.ParquetFile(stats.path).metadata.num_row_groups == 4
    assert pq.read_table(stats.path).to_pylist() == rows
    jsonl = write_jsonl(tmp_path / "x.jsonl", iter(rows))
    assert jsonl.rows == 10 and (tmp_path / "x.jsonl").read_text(encoding="utf-8").count("😀") == 10
    bad = ParquetWriter(tmp_path / "y.parquet", schema)
    with pytest.raises(ValueError, match="do not match the schema"):
        bad.write({"prompt": "p", "completion": "c"})
    bad.close()


def test_row_groups_do_not_depend_on_how_rows_were_batched(tmp_path: Path) -> None:
    schema = FORMATS["trl-kto"].arrow_schema
    rows = [
        {
            "id": f"r{i}",
            "problem_set_id": i,
            "step": "1",
            "prompt": "p" * (i % 7),
            "completion": "c 😀",
            "label": i % 2 == 0,
            "source": "ideal_answer",
        }
        for i in range(2500)
    ]
    one = ParquetWriter(tmp_path / "one.parquet", schema, row_group_rows=5000)
    one.BATCH = 10_000  # type: ignore[misc]  # every row waits as a Python object
    many = ParquetWriter(tmp_path / "many.parquet", schema, row_group_rows=5000)
    many.BATCH = 7  # type: ignore[misc]  # rows turn into many small Arrow batches
    for row in rows:
        one.write(row)
        many.write(row)
    one.close(), many.close()
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "many.parquet").read_bytes()
