"""What an export format is, and the pieces the formats share (message shapes, pseudonyms)."""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from expertloop.workbench.lineage import AnnotationLine, ProblemSetLineage, RunLine, StepLine
from expertloop.workbench.lineage_sft import SFTProblemSet, SFTStep

MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
DIFF_OP = pa.struct([pa.field("op", pa.string()), pa.field("text", pa.string())])

# Fields TRL-style rows carry besides the trainer's own columns, to trace a row back.
ID_FIELDS = [
    pa.field("id", pa.string()),
    pa.field("problem_set_id", pa.int64()),
    pa.field("step", pa.string()),
]


@dataclass(frozen=True)
class FormatContext:
    """What every format may use besides the lineage: the snapshot's pseudonym key."""

    pseudonym_key: bytes
    _pseudonyms: dict[int, str] = field(default_factory=dict, compare=False, repr=False)

    def expert(self, user_id: int) -> str:
        """Return the expert's pseudonymous id in this snapshot (never their name or email)."""
        found = self._pseudonyms.get(user_id)
        if found is None:
            digest = hmac.new(self.pseudonym_key, str(user_id).encode(), hashlib.sha256)
            found = self._pseudonyms[user_id] = digest.hexdigest()[:16]
        return found


class ExportFormat(abc.ABC):
    """One export format at one version: its columns and how a problem set becomes rows."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str]
    arrow_schema: ClassVar[pa.Schema]
    # Hugging Face task categories the format serves (for the dataset card).
    task_categories: ClassVar[tuple[str, ...]] = ("text-generation",)

    @abc.abstractmethod
    def rows(self, problem_set: ProblemSetLineage, ctx: FormatContext) -> Iterator[dict[str, Any]]:
        """Yield the format's rows for one accepted problem set, keys in schema order."""


class ShortFormat(ExportFormat):
    """A format whose rows need only each step's conversation and target answer (the SFT ones).

    Its rows come the same from the whole lineage (a snapshot reads it for every format) and from
    the short reading ``workbench.lineage_sft``, which a live export of it streams: a fraction of
    the queries and objects.
    """

    @abc.abstractmethod
    def rows(
        self, problem_set: ProblemSetLineage | SFTProblemSet, ctx: FormatContext
    ) -> Iterator[dict[str, Any]]:
        """Yield the format's rows for one accepted problem set, from either reading."""


def row_id(
    ps: ProblemSetLineage | SFTProblemSet, step: StepLine | SFTStep | None = None, *parts: object
) -> str:
    """Return a stable row id: ``ps<id>``, then ``-s<step>`` and any further parts."""
    out = f"ps{ps.id}"
    if step is not None:
        out += f"-s{step.number}"
    for part in parts:
        out += f"-{part}"
    return out


def chat(messages: list[dict[str, str]] | tuple[dict[str, str], ...]) -> list[dict[str, str]]:
    """Return messages with only ``role`` and ``content`` (what the chat formats allow)."""
    return [{"role": m.get("role", ""), "content": m.get("content", "")} for m in messages]


def assistant(text: str) -> list[dict[str, str]]:
    """Return a one-message assistant turn."""
    return [{"role": "assistant", "content": text}]


def plain(messages: list[dict[str, str]]) -> str:
    """Render a conversation as one prompt string for TRL's standard (non-chat) formats.

    A single user message is its content as it is; a longer conversation (chain mode) becomes a
    transcript with ``User:`` / ``Assistant:`` labels, so the earlier steps stay in the prompt.
    """
    if len(messages) == 1:
        return messages[0]["content"]
    label = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{label.get(m['role'], m['role'])}: {m['content']}" for m in messages)


def sent_messages(step: StepLine, run: RunLine) -> list[dict[str, str]]:
    """Return the conversation the run was sent (stored with it), else the step's for its prompt."""
    if run.messages:
        return chat(run.messages)
    return step.messages()


def flawed_runs(step: StepLine, chosen: RunLine | None = None) -> Iterator[tuple[int, RunLine]]:
    """Yield (revision number, run) for each finished run with a located fault in its answer."""
    for rev in step.revisions:
        for run in rev.runs:
            if chosen is not None and run.step_run_id == chosen.step_run_id:
                continue
            if run.ok and run.answer.strip() and any(a.side == "response" for a in run.annotations):
                yield rev.number, run


def iso(value: dt.datetime | None) -> str | None:
    """Return an ISO 8601 UTC time, or None."""
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


SPAN = pa.struct(
    [
        pa.field("annotation_id", pa.int64()),
        pa.field("start", pa.int64()),
        pa.field("end", pa.int64()),
        pa.field("quote", pa.string()),
        pa.field("category", pa.string()),
        pa.field("category_label", pa.string()),
        pa.field("side", pa.string()),
        pa.field("severity", pa.string()),
        pa.field("note", pa.string()),
        pa.field("taxonomy_version", pa.int64()),
        pa.field("expert", pa.string()),
    ]
)


def span(a: AnnotationLine, ctx: FormatContext) -> dict[str, Any]:
    """Return an annotation as a span row (code-point offsets, end exclusive)."""
    return {
        "annotation_id": a.id,
        "start": a.start,
        "end": a.end,
        "quote": a.quote,
        "category": a.category,
        "category_label": a.category_label,
        "side": a.side,
        "severity": a.severity,
        "note": a.note,
        "taxonomy_version": a.taxonomy_version,
        "expert": ctx.expert(a.author_id),
    }
