"""Word-level diffs between two texts (revisions' prompts, answers, ideal answer vs model)."""

from __future__ import annotations

import difflib
import re
import unicodedata

# Words, runs of whitespace, and single other characters: diffs that read like track changes.
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
_WORD_CHAR = re.compile(r"\w")

Op = tuple[str, str]  # ("=", text) kept, ("-", text) removed, ("+", text) added


def _wordish(token: str) -> bool:
    """A word, or a combining mark (``\\w`` excludes marks: harakat, virama, accents)."""
    return bool(_WORD_CHAR.match(token)) or unicodedata.category(token[0]).startswith("M")


def tokens(text: str) -> list[str]:
    """Split text into diff tokens that join back to exactly the text.

    A word keeps its combining marks, so Arabic with harakat, Devanagari with its vowel signs
    and decomposed accents stay whole words.
    """
    out: list[str] = []
    for token in _TOKEN.findall(text):
        if out and _wordish(token) and _wordish(out[-1]):
            out[-1] += token
        else:
            out.append(token)
    return out


def diff_words(before: str, after: str) -> list[Op]:
    """Return the operations turning ``before`` into ``after``, adjacent ones merged."""
    if not before or not after or before == after:
        # Nothing to align (all added, all removed or all kept): the same ops, found at once.
        text = after or before
        op = "=" if before == after else ("+" if after else "-")
        return [(op, text)] if text else []
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
    added = sum(_words(t) for op, t in ops if op == "+")
    removed = sum(_words(t) for op, t in ops if op == "-")
    return {"added": added, "removed": removed}


def _words(text: str) -> int:
    return sum(1 for token in tokens(text) if _WORD_CHAR.search(token))
