"""The dataset card (README.md) of a snapshot folder: Hugging Face YAML front matter and a body.

The ``configs`` of the front matter name each format's Parquet files per split, so
``datasets.load_dataset("<folder>", "<format>")`` loads the folder as it is. A split with no
rows is left out of its config (``datasets`` refuses an empty split), and a format with no rows
at all has no config.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from expertloop.datasets.formats import ExportFormat

if TYPE_CHECKING:
    from expertloop.datasets.folder import FolderSpec

_SIZES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)

_USE = {
    "openai-sft": "Upload `data/openai-sft/train.jsonl` as a fine-tuning file "
    '(`purpose="fine-tune"`) and start a supervised job.',
    "openai-dpo": "Upload `data/openai-dpo/train.jsonl` and start a job with the "
    '`method={"type": "dpo"}`.',
    "trl-sft": "`SFTTrainer(model, train_dataset=ds['train'])` (prompt-completion).",
    "trl-sft-conversational": "`SFTTrainer(model, train_dataset=ds['train'])` (the chat "
    "template is applied to `messages`).",
    "trl-dpo": "`DPOTrainer(model, train_dataset=ds['train'], processing_class=tokenizer)`.",
    "trl-dpo-conversational": "`DPOTrainer(...)` as for `trl-dpo`; the chat template is applied.",
    "trl-kto": "`KTOTrainer(model, train_dataset=ds['train'], processing_class=tokenizer)`.",
    "trl-stepwise": "`PRMTrainer(model, train_dataset=ds['train'], processing_class=tokenizer)`.",
    "rubrics": "Grade answers: sum the `points` of the `rubrics` items an answer meets "
    "(HealthBench), or the `weight` of the `rubric` items (Rubrics as Rewards).",
    "errors": "Error analytics per category and model; span-level evaluation "
    "(`text[start:end] == quote`).",
    "iterations": "The history of every step: revisions, runs, faults, rubric results, diffs.",
}


def _q(value: str) -> str:
    """Quote a string for YAML (a JSON string is a YAML double-quoted scalar)."""
    return json.dumps(value, ensure_ascii=False)


def size_category(rows: int) -> str:
    """Return the Hugging Face size category for a number of rows."""
    for limit, name in _SIZES:
        if rows < limit:
            return name
    return "n>1B"


def _front_matter(spec: FolderSpec, manifest: dict[str, Any], formats: list[ExportFormat]) -> str:
    rows: dict[str, dict[str, int]] = manifest["counts"]["rows"]
    largest = max((sum(r.values()) for r in rows.values()), default=0)
    tasks = sorted({t for f in formats for t in f.task_categories})
    lines = [
        "---",
        f"license: {_q(spec.license)}",
        "language:",
        "- en",
        "task_categories:",
        *[f"- {t}" for t in tasks],
        f"pretty_name: {_q(manifest['name'])}",
        "size_categories:",
        f"- {size_category(largest)}",
        "tags:",
        "- expertloop",
        "- sft",
        "- dpo",
        "- rubrics",
        "configs:",
    ]
    default_given = False
    for fmt in formats:
        splits = [s for s in ("train", "test") if rows[fmt.name][s] > 0]
        if not splits:
            continue
        lines.append(f"- config_name: {_q(fmt.name)}")
        if not default_given:
            lines.append("  default: true")
            default_given = True
        lines.append("  data_files:")
        for split in splits:
            lines += [
                f"  - split: {split}",
                f"    path: {_q(f'data/{fmt.name}/{split}.parquet')}",
            ]
    if not default_given:
        lines[-1] = "configs: []"
    lines.append("---")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def render_card(*, spec: FolderSpec, manifest: dict[str, Any], formats: list[ExportFormat]) -> str:
    """Return the README.md of a snapshot folder."""
    counts = manifest["counts"]
    rows: dict[str, dict[str, int]] = counts["rows"]
    by_split = counts["problem_sets_by_split"]
    filters = {k: v for k, v in manifest["filters"].items() if v is not None}
    body = [
        f"# {_one_line(manifest['name'])}",
        "",
        f"An immutable dataset snapshot of the ExpertLoop project "
        f"“{_one_line(spec.project_name)}” (domain: {_one_line(spec.project_domain) or 'none'}): "
        f"its accepted problem sets, worked through by domain experts with the target models, "
        f"with every iteration kept.",
        "",
        f"- Created {manifest['created_at']} by {spec.created_by}, "
        f"ExpertLoop {manifest['expertloop_version']}.",
        f"- Filters: {json.dumps(filters, ensure_ascii=False) if filters else 'none'}.",
        f"- Split: deterministic by problem set id ({spec.test_fraction_bp / 100:g} % test); "
        f"{by_split['train']} problem sets in train, {by_split['test']} in test.",
        f"- Taxonomy of fault categories: version {manifest['taxonomy']['current_version']} "
        f"(the categories are listed in `manifest.json`).",
        "- Experts appear only as pseudonymous ids, different in every snapshot; no names, "
        "emails or contact data, and no model keys.",
        "",
        "## Contents",
        "",
        "| problem sets | steps | revisions | runs | annotations |",
        "|---:|---:|---:|---:|---:|",
        f"| {counts['problem_sets']} | {counts['steps']} | {counts['revisions']} "
        f"| {counts['runs']} | {counts['annotations']} |",
        "",
        "## Formats",
        "",
        "Each format is a config of this dataset, written as JSONL and Parquet: "
        "`data/<format>/<split>.jsonl` and `.parquet`. `manifest.json` holds the sha256 of "
        "every file.",
        "",
        "| config | version | train rows | test rows | what it holds |",
        "|---|---|---:|---:|---|",
    ]
    for fmt in formats:
        r = rows[fmt.name]
        body.append(
            f"| `{fmt.name}` | {fmt.version} | {r['train']} | {r['test']} | {fmt.description} |"
        )
    body += ["", "## Loading", ""]
    loadable = [f for f in formats if sum(rows[f.name].values()) > 0]
    example = loadable[0].name if loadable else "openai-sft"
    body += [
        "```python",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("path/to/this/folder", "{example}")',
        f'jsonl = load_dataset("json", data_files="data/{example}/train.jsonl")',
        "```",
        "",
    ]
    for fmt in formats:
        columns = ", ".join(f"`{f.name}`" for f in fmt.arrow_schema)
        body += [
            f"### {fmt.name} (version {fmt.version})",
            "",
            fmt.description,
            "",
            f"Columns: {columns}.",
            "",
            _USE.get(fmt.name, ""),
            "",
        ]
        if sum(rows[fmt.name].values()) == 0:
            body += ["This snapshot has no rows of this format, so it has no config.", ""]
    return _front_matter(spec, manifest, formats) + "\n" + "\n".join(body).rstrip() + "\n"
