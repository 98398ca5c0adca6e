"""Word-level diffs between two texts (revisions' prompts, answers, ideal answer vs model)."""

from __future__ import annotations

import difflib
import re

# Words, runs of whitespace, and single other characters: diffs that read like track changes.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)

Op = tuple[str, str]  # ("=", text) kept, ("-", text) removed, ("+", text) added


def tokens(text: str) -> list[str]:
    """Split text into diff tokens that join back to exactly the text."""
    return _TOKEN.findall(text)


def diff_words(before: str, after: str) -> list[Op]:
    """Return the operations turning ``before`` into ``after``, adjacent ones merged."""
    a, b = tokens(before), tokens(after)
    ops: list[Op] = []

    def push(op: str, text: str) -> None:
        if not text:
            return
        if ops and ops[-1][0] == op:
            ops[-1] = (op, ops[-1][1] + text)
        else:
            ops.append((op, text))

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            push("=", "".join(a[i1:i2]))
        else:
            push("-", "".join(a[i1:i2]))
            push("+", "".join(b[j1:j2]))
    return ops


def apply(before: str, ops: list[Op]) -> str:
    """Rebuild the newer text from the older one and the operations (checks they fit)."""
    out: list[str] = []
    pos = 0
    for op, text in ops:
        if op in ("=", "-"):
            if before[pos : pos + len(text)] != text:
                raise ValueError("The diff does not fit this text.")
            pos += len(text)
            if op == "=":
                out.append(text)
        else:
            out.append(text)
    if pos != len(before):
        raise ValueError("The diff does not cover this text.")
    return "".join(out)


def stats(ops: list[Op]) -> dict[str, int]:
    """Count words added and removed."""
    added = sum(len(re.findall(r"\w+", t)) for op, t in ops if op == "+")
    removed = sum(len(re.findall(r"\w+", t)) for op, t in ops if op == "-")
    return {"added": added, "removed": removed}
