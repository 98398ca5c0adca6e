"""Every audit event kind the code emits has its sentence in the feed's one map."""

from __future__ import annotations

import importlib
import pkgutil

import expertloop
from expertloop.events import SENTENCES, AuditLog, Event, describe
from expertloop.workbench.status import Action


def _event_classes() -> list[type[Event]]:
    for module in pkgutil.iter_modules(expertloop.__path__):
        try:
            importlib.import_module(f"expertloop.{module.name}.events")
        except ModuleNotFoundError:
            continue  # a core module or a package without events
    found: list[type[Event]] = []
    todo = list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [c for c in found if c.__module__.startswith("expertloop.")]


def test_every_event_kind_has_a_sentence() -> None:
    kinds = {str(c.__dataclass_fields__["kind"].default) for c in _event_classes()}
    assert len(kinds) >= 40
    transitions = "workbench.problem_set_transitioned"
    missing = sorted(k for k in kinds - {transitions} if k not in SENTENCES)
    assert not missing, f"event kinds without a sentence in events.SENTENCES: {missing}"
    actions = {a.value for a in Action} | {"resume"}
    assert {f"{transitions}:{a}" for a in actions} <= set(SENTENCES)


def test_every_sentence_names_only_what_describe_can_fill() -> None:
    for kind in SENTENCES:
        row = AuditLog(kind=kind.split(":")[0], data={}, subject_type="thing", subject_id="1")
        text = describe(row, actor="Ann", subject="‘X’").text  # noqa: RUF001 - typographic quotes
        # Either the sentence itself or the fallback: never a raw placeholder or a code.
        assert "{" not in text and kind.split(":")[0] not in text, (kind, text)
