"""The ``oneline`` template filter: bidi embeddings, overrides and isolates out, one line, and
HTML still escaped exactly once."""

from __future__ import annotations

from markupsafe import Markup

from expertloop.web.templating import make_templates, oneline

CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_bidi_controls_are_removed_and_marks_kept() -> None:
    assert oneline("Invoice \u202egnp.exe") == "Invoice gnp.exe"
    assert oneline("a" + CONTROLS + "b") == "ab"
    # Marks cannot reorder letters; right-to-left writers need them for punctuation.
    marhaba = "\u0645\u0631\u062d\u0628\u0627"
    assert oneline(f"\u200f{marhaba}!\u200e") == f"\u200f{marhaba}!\u200e"


def test_line_breaks_become_spaces_and_none_is_empty() -> None:
    assert oneline("one\ntwo\r\nthree") == "one two three"
    assert oneline(None) == ""
    assert oneline(42) == "42"


def test_the_filter_escapes_once_in_templates() -> None:
    env = make_templates(env_name="test").env
    html = env.from_string("{{ t|oneline }}").render(t="<b>\u202ex</b>")
    assert html == "&lt;b&gt;x&lt;/b&gt;"
    block = env.from_string("{% filter oneline %}{{ t }} &amp; co{% endfilter %}").render(
        t="R&D \u202e"
    )
    assert block == "R&amp;D  &amp; co"
    assert isinstance(oneline(Markup("a &amp; b")), Markup)
