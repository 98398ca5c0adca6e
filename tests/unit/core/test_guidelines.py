"""Markdown guidelines render to safe HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from expertloop.projects.guidelines import render

FORBIDDEN_TAGS = {"script", "iframe", "object", "embed", "style", "img", "svg", "form", "input"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Collector()
    parser.feed(html)
    return parser.tags


def _assert_inert(html: str) -> None:
    for tag, attrs in _elements(html):
        assert tag not in FORBIDDEN_TAGS, tag
        for name, value in attrs:
            assert not name.startswith("on"), name
            scheme = re.match(r"\s*([a-zA-Z][a-zA-Z0-9+.-]*):", value or "")
            if name == "href" and scheme:  # anything else is a relative URL
                assert scheme.group(1).lower() in ("http", "https", "mailto"), value


def test_markdown_features() -> None:
    html = render("# Title\n\n**bold** and [link](https://example.com)\n\n| a |\n|---|\n| 1 |")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html and "<table>" in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_dangerous_input_is_neutralised() -> None:
    html = render(
        "<script>alert(1)</script> <img src=x onerror=alert(1)> [a](javascript:x)"
        ' <a href="data:text/html,hi">d</a>'
    )
    assert {tag for tag, _ in _elements(html)} <= {"p"}
    _assert_inert(html)


@given(st.text(max_size=300))
def test_any_text_never_yields_active_content(source: str) -> None:
    _assert_inert(render(source))


@given(
    st.lists(
        st.sampled_from(
            [
                "<script>",
                "javascript:",
                "<img src=x onerror=y>",
                "[a](",
                ")",
                "**",
                "\n",
                "<",
                ">",
                '"',
                "onload=",
                "x",
                "<a href=",
                "data:text/html,",
                "`",
            ]
        ),
        max_size=30,
    )
)
def test_hostile_fragments_never_yield_active_content(parts: list[str]) -> None:
    _assert_inert(render("".join(parts)))
