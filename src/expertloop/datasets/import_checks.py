"""Check one record's fields and turn them into the columns of a ``Seed``, or say what is wrong.

Every record goes through ``to_seed``: a quick path for the common record (all text, nothing to
normalise) and, for anything else, the careful path that normalises line ends and names each
field at fault. Both apply the same rules; the quick one only gives up early.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from expertloop.datasets.import_parsers import FORBIDDEN, MAX_COLUMNS, RowError

MAX_TITLE = 300
MAX_TEXT = 100_000
MAX_PROMPTS = 50
MAX_EXTERNAL_ID = 200
MAX_DOMAIN = 100
TITLE_FROM_PROMPT = 80

TEXT_FIELDS = ("title", "statement", "context", "domain")
KNOWN_FIELDS = frozenset({*TEXT_FIELDS, "prompt", "prompts", "id", "external_id"})
LIMITS = {"title": MAX_TITLE, "statement": MAX_TEXT, "context": MAX_TEXT, "domain": MAX_DOMAIN}
_TEXT_CHECKS = tuple((name, LIMITS[name], name in ("title", "domain")) for name in TEXT_FIELDS)
_search = FORBIDDEN.search
_SCALARS = frozenset({int, bool, type(None)})


def title_from(prompt: str) -> str:
    """Return a title made of a prompt's first characters, whitespace collapsed."""
    # Only the start matters; splitting a 100,000-character prompt whole would be wasted work.
    return " ".join(prompt[: TITLE_FROM_PROMPT * 8].split())[:TITLE_FROM_PROMPT]


def _quick(line: int, fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the seed of a plain, valid record, or None to take the careful path."""
    if len(fields) > MAX_COLUMNS:
        return None
    get = fields.get
    title, statement = get("title", ""), get("statement", "")
    context, domain = get("context", ""), get("domain", "")
    one, many = get("prompt"), get("prompts")
    if one is not None:
        if many is not None:
            return None
        prompts = [one]
    elif many is None:
        prompts = []
    elif many.__class__ is list and len(many) <= MAX_PROMPTS:
        prompts = many
    else:
        return None
    external = get("external_id")
    if external is None or external == "":
        external = get("id", "")
    if external.__class__ is int:
        external = str(external)
    extra: dict[str, Any] = {}
    strings: list[str] = []
    if not KNOWN_FIELDS.issuperset(fields):
        for key, value in fields.items():
            if key in KNOWN_FIELDS:
                continue
            kind = value.__class__
            if kind is str:
                strings.append(value)
            elif kind is float:
                if not math.isfinite(value):
                    return None
            elif kind not in _SCALARS:
                return None
            extra[key] = value
    try:
        # One join and one search for the whole record; a value that is not text fails the join.
        blob = "\n".join((title, statement, context, domain, external, *prompts, *strings))
    except TypeError:
        return None
    if "\r" in blob or _search(blob) is not None:
        return None
    title, domain, external = title.strip(), domain.strip(), external.strip()
    if (
        len(title) > MAX_TITLE
        or len(statement) > MAX_TEXT
        or len(context) > MAX_TEXT
        or len(domain) > MAX_DOMAIN
        or len(external) > MAX_EXTERNAL_ID
    ):
        return None
    for prompt in prompts:
        if not prompt or prompt.isspace() or len(prompt) > MAX_TEXT:
            return None
    if not title:
        if not prompts:
            return None
        title = title_from(prompts[0])
    return {
        "line": line,
        "title": title,
        "statement": statement,
        "context": context,
        "domain": domain,
        "prompts": prompts if many is None else list(prompts),
        "external_id": external,
        "extra": extra,
    }


def _text(value: Any, field: str, line: int, errors: list[RowError]) -> str:
    if value.__class__ is str and "\r" not in value and _search(value) is None:
        return value  # the common case, checked first: this runs for every field of every record
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(RowError(line, field, "Must be text."))
        return ""
    text: str = value.replace("\r\n", "\n").replace("\r", "\n")
    bad = _search(text)
    if bad is None:
        return text
    if "\ud800" <= bad.group() <= "\udfff":
        errors.append(RowError(line, field, "Holds an unpaired surrogate: not valid Unicode text."))
    else:
        errors.append(
            RowError(
                line,
                field,
                f"Holds the control character U+{ord(bad.group()):04X} at position "
                f"{bad.start() + 1}; only tab and newline are allowed.",
            )
        )
    return ""


def _prompts(
    fields: Mapping[str, Any], line: int, errors: list[RowError], *, csv_cell: bool
) -> list[str]:
    one, many = fields.get("prompt"), fields.get("prompts")
    if one not in (None, "") and many not in (None, "", []):
        errors.append(RowError(line, "prompts", "Give prompt or prompts, not both."))
        return []
    if one not in (None, ""):
        many = [one]
        field = "prompt"
    else:
        field = "prompts"
    if many in (None, ""):
        return []
    if csv_cell and isinstance(many, str):
        try:
            many = json.loads(many)
        except ValueError:
            errors.append(
                RowError(line, "prompts", 'In CSV, prompts is a JSON list: ["first", "second"].')
            )
            return []
    if not isinstance(many, list):
        errors.append(RowError(line, field, "Must be a list of prompts (text)."))
        return []
    if len(many) > MAX_PROMPTS:
        errors.append(
            RowError(line, field, f"Has {len(many)} prompts; at most {MAX_PROMPTS} are accepted.")
        )
        return []
    prompts: list[str] = []
    for number, item in enumerate(many, start=1):
        where = field if field == "prompt" else f"prompts[{number}]"
        before = len(errors)
        text = _text(item, where, line, errors)
        if len(errors) > before:
            continue
        if not text.strip():
            errors.append(RowError(line, where, "The prompt is empty."))
        elif len(text) > MAX_TEXT:
            errors.append(RowError(line, where, f"Is longer than {MAX_TEXT:,} characters."))
        else:
            prompts.append(text)
    return prompts


def _external_id(fields: Mapping[str, Any], line: int, errors: list[RowError]) -> str:
    key = "external_id" if fields.get("external_id") not in (None, "") else "id"
    value = fields.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        errors.append(RowError(line, key, "Must be text or a whole number."))
        return ""
    value = _text(str(value), key, line, errors).strip()
    if len(value) > MAX_EXTERNAL_ID:
        errors.append(RowError(line, key, f"Is longer than {MAX_EXTERNAL_ID} characters."))
        return ""
    return value


def _jsonable(value: Any, field: str, line: int, errors: list[RowError]) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        errors.append(RowError(line, field, "Numbers must be finite."))
        return None
    if isinstance(value, str):
        return _text(value, field, line, errors)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v, field, line, errors) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, field, line, errors) for k, v in value.items()}
    errors.append(RowError(line, field, f"Values of type {type(value).__name__} are not accepted."))
    return None


def to_seed(
    line: int, fields: Mapping[str, Any], *, csv_cells: bool = False
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """Return a seed's columns from one record's fields, or the errors that refuse it."""
    plain: Mapping[str, Any] | None = fields
    if csv_cells and "prompts" in fields:
        try:
            plain = {**fields, "prompts": json.loads(fields["prompts"])}
        except ValueError:
            plain = None
    quick = _quick(line, plain) if plain is not None else None
    if quick is not None:
        return quick, []
    return careful_seed(line, fields, csv_cells=csv_cells)


def careful_seed(
    line: int, fields: Mapping[str, Any], *, csv_cells: bool = False
) -> tuple[dict[str, Any] | None, list[RowError]]:
    """Check every field one by one, normalising line ends; name each field at fault."""
    errors: list[RowError] = []
    if len(fields) > MAX_COLUMNS:
        return None, [RowError(line, "", f"The record has more than {MAX_COLUMNS} fields.")]
    seed: dict[str, Any] = {"line": line}
    get = fields.get
    for name, limit, strip in _TEXT_CHECKS:
        before = len(errors)
        value = _text(get(name), name, line, errors)
        if len(errors) > before:
            continue
        if strip:
            value = value.strip()
        if len(value) > limit:
            errors.append(RowError(line, name, f"Is longer than {limit:,} characters."))
        seed[name] = value
    seed["prompts"] = _prompts(fields, line, errors, csv_cell=csv_cells)
    seed["external_id"] = _external_id(fields, line, errors)
    if not seed.get("title") and not any(e.field == "title" for e in errors):
        if seed["prompts"]:
            seed["title"] = title_from(seed["prompts"][0])
        elif not any(e.field.startswith("prompt") for e in errors):
            errors.append(
                RowError(line, "title", "A seed needs a title, or a prompt to take one from.")
            )
    extra: dict[str, Any] = {}
    if not KNOWN_FIELDS.issuperset(fields):
        for key, value in fields.items():
            if key not in KNOWN_FIELDS:
                extra[str(key)] = _jsonable(value, str(key), line, errors)
    seed["extra"] = extra
    if errors:
        return None, errors
    return seed, []
