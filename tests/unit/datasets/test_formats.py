"""Every export format loads with Hugging Face ``datasets`` three ways — ``load_dataset("json")``,
``load_dataset("parquet")`` and the snapshot folder's own card — with the columns and types the
trainers' documentation gives, and Unicode text and span offsets come back exactly.

Documentation the shapes are checked against:
- OpenAI SFT: https://platform.openai.com/docs/guides/supervised-fine-tuning (``messages``)
- OpenAI DPO: https://platform.openai.com/docs/guides/direct-preference-optimization
  (``input.messages``, ``preferred_output``, ``non_preferred_output``)
- TRL: https://huggingface.co/docs/trl/dataset_formats (prompt-completion, conversational
  language modeling, preference, unpaired preference, stepwise supervision)
- HealthBench rubric items (``criterion``, ``points``, ``tags``):
  https://github.com/openai/simple-evals (healthbench_eval.py); Rubrics as Rewards items
  (``title``, ``description``, ``weight``): https://arxiv.org/abs/2507.17746
"""

# ruff: noqa: RUF001 (Arabic-Indic digits are the point of these strings)

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest

from expertloop.datasets.formats import FORMATS
from expertloop.workbench import diffs
from tests.unit.datasets.conftest import (
    ANSWER_1,
    ANSWER_2,
    IDEAL_NOTE,
    NOTE_ANSWER,
    PROMPT_1,
    PROMPT_1B,
    WRONG,
    Built,
    Kit,
)

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

# The columns each format must have, as the documentation names them (extra id columns allowed
# for TRL and rubric rows; OpenAI rows hold nothing else).
DOC_COLUMNS: dict[str, set[str]] = {
    "openai-sft": {"messages"},
    "openai-dpo": {"input", "preferred_output", "non_preferred_output"},
    "trl-sft": {"prompt", "completion"},
    "trl-sft-conversational": {"messages"},
    "trl-dpo": {"prompt", "chosen", "rejected"},
    "trl-dpo-conversational": {"prompt", "chosen", "rejected"},
    "trl-kto": {"prompt", "completion", "label"},
    "trl-stepwise": {"prompt", "completions", "labels"},
    "rubrics": {"prompt", "rubrics", "rubric", "reference_answer"},
    "errors": {"text", "spans", "side", "model_id", "endpoint", "taxonomy_version"},
    "iterations": {"revisions", "ideal_answer", "passing"},
}
EXACT = {"openai-sft", "openai-dpo"}


@pytest.fixture
def folder(kit: Kit, tmp_path: Path) -> tuple[Path, Built]:
    built = kit.rich()
    kit.simple("Second")
    out = tmp_path / "snapshot"
    kit.build(out)
    return out, built


def _loads(hf: ModuleType, folder: Path, name: str, cache: Path) -> dict[str, Any]:
    """Load one format's train split the three ways."""
    data = folder / "data" / name
    return {
        "json": hf.load_dataset(
            "json", data_files={"train": str(data / "train.jsonl")}, cache_dir=str(cache)
        )["train"],
        "parquet": hf.load_dataset(
            "parquet", data_files={"train": str(data / "train.parquet")}, cache_dir=str(cache)
        )["train"],
        "card": hf.load_dataset(str(folder), name, cache_dir=str(cache))["train"],
    }


def _same_type(loaded: pa.DataType, expected: pa.DataType) -> bool:
    """Compare types; a JSON column that is null in every row has no type to infer."""
    if pa.types.is_null(loaded):
        return True
    if pa.types.is_struct(expected) and pa.types.is_struct(loaded):
        names = {loaded.field(i).name: loaded.field(i).type for i in range(loaded.num_fields)}
        return all(
            expected.field(i).name in names
            and _same_type(names[expected.field(i).name], expected.field(i).type)
            for i in range(expected.num_fields)
        )
    if pa.types.is_list(expected) and (pa.types.is_list(loaded) or pa.types.is_large_list(loaded)):
        return _same_type(loaded.value_type, expected.value_type)
    return bool(loaded == expected)


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_loads_three_ways_with_its_documented_columns(
    name: str, folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """Columns per https://huggingface.co/docs/trl/dataset_formats and OpenAI's fine-tuning
    guides (https://platform.openai.com/docs/guides/supervised-fine-tuning,
    https://platform.openai.com/docs/guides/direct-preference-optimization)."""
    out, _built = folder
    fmt = FORMATS[name]
    loads = _loads(hf, out, name, tmp_path / "cache")
    expected_rows = sum(1 for _ in (out / "data" / name / "train.jsonl").open(encoding="utf-8"))
    assert expected_rows > 0
    for how, ds in loads.items():
        assert ds.num_rows == expected_rows, how
        columns = set(ds.column_names)
        assert DOC_COLUMNS[name] <= columns, (how, columns)
        if name in EXACT:
            assert columns == DOC_COLUMNS[name], how
        assert columns == set(fmt.arrow_schema.names), how
        schema = ds.data.schema
        for f in fmt.arrow_schema:
            assert _same_type(schema.field(f.name).type, f.type), (
                how,
                f.name,
                schema.field(f.name),
            )
    # The card's config and the Parquet file give the exact schema, and the same rows as JSONL.
    assert loads["card"].data.schema.types == fmt.arrow_schema.types
    assert loads["json"].to_list() == loads["parquet"].to_list() == loads["card"].to_list()


def _rows(hf: ModuleType, out: Path, name: str, tmp_path: Path) -> list[list[dict[str, Any]]]:
    return [ds.to_list() for ds in _loads(hf, out, name, tmp_path / "cache").values()]


def test_openai_sft_messages_and_chain_mode_turns(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """https://platform.openai.com/docs/guides/supervised-fine-tuning: ``messages`` of
    {role, content}; a chain-mode step carries the earlier steps as turns."""
    out, _ = folder
    for rows in _rows(hf, out, "openai-sft", tmp_path):
        for row in rows:
            roles = [m["role"] for m in row["messages"]]
            assert set(roles) <= {"system", "user", "assistant"} and roles[-1] == "assistant"
        single, chained = rows[0]["messages"], rows[1]["messages"]
        assert [m["role"] for m in single] == ["user", "assistant"]
        assert single[0]["content"].endswith(PROMPT_1B) and single[1]["content"] == ANSWER_2
        assert [m["role"] for m in chained] == ["user", "assistant", "user", "assistant"]
        assert chained[:2] == single  # the earlier step, as chain mode sends it
        assert chained[3]["content"] == IDEAL_NOTE


def test_openai_dpo_pairs_ideal_against_the_annotated_answer(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """https://platform.openai.com/docs/guides/direct-preference-optimization: ``input`` with
    ``messages``; ``preferred_output`` and ``non_preferred_output`` one assistant message each."""
    out, _ = folder
    for rows in _rows(hf, out, "openai-dpo", tmp_path):
        assert {r["non_preferred_output"][0]["content"] for r in rows} >= {ANSWER_1, NOTE_ANSWER}
        for r in rows:
            assert [m["role"] for m in r["preferred_output"]] == ["assistant"]
            assert [m["role"] for m in r["non_preferred_output"]] == ["assistant"]
            assert r["input"]["messages"][-1]["role"] == "user"
        first = next(r for r in rows if r["non_preferred_output"][0]["content"] == ANSWER_1)
        # The input is what the flawed run was sent: revision 1's prompt.
        assert first["input"]["messages"][0]["content"].endswith(PROMPT_1)
        assert first["preferred_output"][0]["content"] == ANSWER_2


def test_trl_preference_unpaired_and_stepwise_types(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """https://huggingface.co/docs/trl/dataset_formats: preference (prompt, chosen, rejected),
    unpaired preference (prompt, completion, label: bool), stepwise supervision (prompt,
    completions: list of str, labels: list of bool, one per completion)."""
    out, _ = folder
    for rows in _rows(hf, out, "trl-dpo", tmp_path):
        assert all(isinstance(r[k], str) for r in rows for k in ("prompt", "chosen", "rejected"))
        assert {(r["chosen"], r["rejected"]) for r in rows} >= {
            (ANSWER_2, ANSWER_1),
            (IDEAL_NOTE, NOTE_ANSWER),
        }
    for rows in _rows(hf, out, "trl-dpo-conversational", tmp_path):
        assert all(r["chosen"][0]["role"] == "assistant" for r in rows)
        assert all(r["prompt"][-1]["role"] == "user" for r in rows)
    for rows in _rows(hf, out, "trl-kto", tmp_path):
        assert {type(r["label"]) for r in rows} == {bool}
        labelled = {(r["completion"], r["label"]) for r in rows}
        assert {(ANSWER_2, True), (ANSWER_1, False), (IDEAL_NOTE, True)} <= labelled
    for rows in _rows(hf, out, "trl-stepwise", tmp_path):
        # The simple problem set's one step has one completion (its model answer, not passing).
        (simple,) = [r for r in rows if len(r["completions"]) == 1]
        assert simple["labels"] == [False]
        (row,) = [r for r in rows if len(r["completions"]) != 1]
        assert len(row["completions"]) == len(row["labels"]) == 2
        assert row["labels"] == [True, False]  # step 1 passed on a run; step 2 did not
        assert row["completions"][0].endswith(ANSWER_2)


def test_rubrics_in_both_shapes_with_pitfalls_from_located_faults(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """HealthBench items (criterion, points, tags) and Rubrics-as-Rewards items (title,
    description, weight): https://github.com/openai/simple-evals, arXiv 2507.17746."""
    out, _ = folder
    for rows in _rows(hf, out, "rubrics", tmp_path):
        first = rows[0]
        assert [i["criterion"] for i in first["rubrics"][:2]] == [
            "States 14 months",
            "Shows 700k ÷ 50k",
        ]
        assert all(i["points"] > 0 for i in first["rubrics"][:2])
        pitfalls = [i for i in first["rubrics"] if i["points"] < 0]
        assert any(WRONG in i["criterion"] for i in pitfalls)
        assert all("source:located_fault" in i["tags"] for i in pitfalls)
        assert [i["weight"] for i in first["rubric"]] == [i["points"] for i in first["rubrics"]]
        assert first["reference_answer"] == ANSWER_2


def test_errors_spans_round_trip_exactly(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """Code-point offsets: ``text[start:end] == quote`` after loading, Arabic with harakat,
    emoji and combining marks included; nothing is normalised."""
    out, _ = folder
    for rows in _rows(hf, out, "errors", tmp_path):
        quotes = set()
        for r in rows:
            for s in r["spans"]:
                assert r["text"][s["start"] : s["end"]] == s["quote"]
                quotes.add(s["quote"])
        assert WRONG in quotes and "Cafe\u0301 board 📈" in quotes
        answer_row = next(r for r in rows if r["text"] == ANSWER_1)
        assert (answer_row["side"], answer_row["endpoint"]) == ("response", "Model A ✨")
        span = answer_row["spans"][0]
        assert (span["category"], span["category_label"], span["severity"]) == (
            "calculation_error",
            "Calculation error",
            "major",
        )
        assert span["note"] == "٧٠٠ ÷ ٥٠ = ١٤, not ١٥" and span["taxonomy_version"] == 0
        prompt_row = next(r for r in rows if r["side"] == "prompt")
        assert prompt_row["text"] == PROMPT_1 and prompt_row["model_id"] is None
        assert "Cafe\u0301" in prompt_row["text"]  # still decomposed


def test_iterations_keep_the_whole_lineage(
    folder: tuple[Path, Built], hf: ModuleType, tmp_path: Path
) -> None:
    """Revisions with reasons and motivating annotations, runs with rubric results, the
    ideal answer's diff (which rebuilds the ideal answer from the model answer it began as)."""
    out, built = folder
    for rows in _rows(hf, out, "iterations", tmp_path):
        step1, step2 = rows[0], rows[1]
        assert [r["number"] for r in step1["revisions"]] == [1, 2]
        rev2 = step1["revisions"][1]
        assert rev2["reason"] == "Ask for whole months"
        assert {a["annotation_id"] for a in rev2["motivated_by"]} == set(
            built.annotation_ids.values()
        )
        assert diffs.apply(PROMPT_1, [(d["op"], d["text"]) for d in rev2["prompt_diff"]]) == (
            PROMPT_1B
        )
        run1 = step1["revisions"][0]["runs"][0]
        assert run1["answer"] == ANSWER_1
        assert [(c["criterion"], c["met"]) for c in run1["rubric"]] == [
            ("States 14 months", False),
            ("Shows 700k ÷ 50k", True),
        ]
        assert [r["passing"] for r in rev2["runs"]] == [True, False]
        assert step1["passing"] is True and step2["passing"] is False and step2["done"] is True
        assert step2["chain"] is True and len(step2["earlier_messages"]) == 2
        ideal = step2["ideal_answer"]
        assert ideal["text"] == IDEAL_NOTE
        assert ideal["based_on_step_run_id"] == built.runs["r4"].id
        assert diffs.apply(NOTE_ANSWER, [(d["op"], d["text"]) for d in ideal["diff"]]) == IDEAL_NOTE
