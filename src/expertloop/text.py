"""The one rule for user text at the edge: line ends normalised, control characters refused.

Every text field of the API (through ``CleanText`` / ``CleanLine`` in the schemas) and of the
page forms (through ``clean``) passes here before it reaches a domain service or the database.
Line ends become ``\\n`` (``\\r\\n`` and a lone ``\\r`` alike), so offsets counted in code points
of the stored text mean the same in the browser and on the server. Control characters are
refused rather than stripped: silently changing what an expert typed would move their offsets,
and PostgreSQL refuses NUL in text columns anyway.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError

from expertloop.errors import ValidationFailed

# C0 controls except tab and line feed (carriage returns are gone once line ends are
# normalised), DEL, and UTF-16 surrogates, which only arrive unpaired (a JSON "\ud800" escape)
# and cannot be encoded as UTF-8 for the database. Imports check records with the same pattern.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

CONTROL_CHARACTER = "control_character"
LINE_BREAK = "line_break"

# Field names whose generic label would read oddly in a message.
_LABELS = {
    "draft_prompt": "Prompt",
    "draft_rubric": "Rubric",
    "draft_reference": "Reference",
    "text": "Text",
    "body": "Comment",
    "base_url": "Base URL",
    "url": "URL",
    "model_id": "Model ID",
}


def normalise_newlines(text: str) -> str:
    """Return ``text`` with every ``\\r\\n`` and lone ``\\r`` turned into ``\\n``."""
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def field_label(name: str) -> str:
    """Return how a field is named in messages ("review_comment" -> "Review comment")."""
    if name in _LABELS:
        return _LABELS[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "Text"


def code_point(char: str) -> str:
    """Return the U+XXXX notation of one character."""
    return f"U+{ord(char):04X}"


def control_message(label: str, char: str, position: int) -> str:
    """Return the message refusing a forbidden character (``position`` counts from 1)."""
    what = "an unpaired surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return (
        f"{label} contains {what} ({code_point(char)}) at character {position:,}; "
        "remove it and try again."
    )


def line_break_message(label: str) -> str:
    """Return the message refusing a line break in a one-line field."""
    return f"{label} must be a single line; remove the line break."


def too_long_message(label: str, length: int, limit: int) -> str:
    """Return the message refusing text over its length limit."""
    return f"{label} is too long: {length:,} characters, at most {limit:,}."


def find_forbidden(text: str) -> tuple[int, str] | None:
    """Return (index, character) of the first forbidden character, None when there is none."""
    match = FORBIDDEN.search(text)
    return (match.start(), match.group()) if match else None


def clean(text: str, *, field: str, max_length: int | None = None, one_line: bool = False) -> str:
    """Return ``text`` with normalised line ends; raise ValidationFailed naming ``field``."""
    text = normalise_newlines(text)
    found = find_forbidden(text)
    if found is not None:
        index, char = found
        raise ValidationFailed(
            control_message(field, char, index + 1),
            details={"field": field, "code_point": code_point(char), "position": index + 1},
        )
    if one_line and "\n" in text:
        raise ValidationFailed(line_break_message(field), details={"field": field})
    if max_length is not None and len(text) > max_length:
        raise ValidationFailed(
            too_long_message(field, len(text), max_length),
            details={"field": field, "length": len(text), "max_length": max_length},
        )
    return text


def _validate(value: Any, info: ValidationInfo, *, one_line: bool) -> Any:
    # Runs before the str schema, so max_length counts the normalised text.
    if not isinstance(value, str):
        return value  # the str schema refuses it with its own message
    label = field_label(info.field_name or "text")
    value = normalise_newlines(value)
    found = find_forbidden(value)
    if found is not None:
        index, char = found
        raise PydanticCustomError(
            CONTROL_CHARACTER,
            control_message(label, char, index + 1),
            {"code_point": code_point(char), "position": index + 1},
        )
    if one_line and "\n" in value:
        raise PydanticCustomError(LINE_BREAK, line_break_message(label))
    return value


def _validate_text(value: Any, info: ValidationInfo) -> Any:
    return _validate(value, info, one_line=False)


def _validate_line(value: Any, info: ValidationInfo) -> Any:
    return _validate(value, info, one_line=True)


# Multi-line user text (prompts, notes, statements, reasons): \n line ends, no controls.
CleanText = Annotated[str, BeforeValidator(_validate_text)]
# One-line user text (titles, names, keys): as CleanText, and no line break at all.
CleanLine = Annotated[str, BeforeValidator(_validate_line)]
