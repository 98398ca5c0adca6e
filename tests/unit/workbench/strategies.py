"""Hypothesis strategies: texts that break naive offset arithmetic.

Arabic with harakat (combining marks, right-to-left), emoji ZWJ sequences, skin tones, flags and
variation selectors, astral-plane letters, decomposed accents, CJK and Hangul, CRLF and other
line breaks, zero-width characters, plus arbitrary code points (no surrogates, which UTF-8 cannot
carry, and no NUL, which PostgreSQL text cannot hold).
"""

from __future__ import annotations

from hypothesis import strategies as st

PIECES = (
    # Arabic, with and without harakat; Arabic-Indic digits; a right-to-left mark.
    "مرحبا بالعالم",
    "مُحَمَّدٌ",
    "الرصيد \u0661\u0662\u0663\u066b\u0664\u0665",  # 123.45 in Arabic-Indic digits
    "\u200f",
    # Emoji: family (ZWJ), skin tone, ZWJ + skin tone, flag, rainbow flag (VS16 + ZWJ), heart VS16.
    "👩\u200d👩\u200d👧\u200d👦",
    "👍🏽",
    "🧑🏿\u200d💻",
    "🇸🇦",
    "🏳\ufe0f\u200d🌈",
    "❤\ufe0f",
    # Astral-plane letters and CJK extension B.
    "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",  # Fraktur "Unicode"
    "𠀋𠂢",
    "𓀀",
    # Combining marks: decomposed accents, stacked marks.
    "e\u0301",
    "n\u0303o",
    "a\u0308\u0323",
    "Z\u0324\u0354\u0367\u0311\u0313",
    # CJK and Hangul.
    "漢字",
    "日本語のテキスト",
    "한국어",
    # Line breaks and spaces.
    "\r\n",
    "\n",
    "\r",
    "\t",
    " ",
    "\u00a0",
    "\u2028",
    # Zero-width joiner / space / BOM on their own.
    "\u200d",
    "\u200b",
    "\ufeff",
    "plain ASCII, 42.",
)

any_char = st.characters(codec="utf-8", exclude_characters="\x00")

texts = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(alphabet=any_char, max_size=6)), max_size=12
).map("".join)
"""Any text mixing the pieces above with arbitrary code points (may be empty)."""

nonempty_texts = texts.filter(bool)


@st.composite
def text_and_span(draw: st.DrawFn) -> tuple[str, int, int]:
    """A non-empty text and a random non-empty code-point span of it (end exclusive)."""
    text = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join))
    text = draw(st.tuples(texts, st.just(text), texts).map("".join))
    start = draw(st.integers(0, len(text) - 1))
    end = draw(st.integers(start + 1, len(text)))
    return text, start, end
