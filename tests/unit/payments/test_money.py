"""Money: one rounding rule (half up, once per line), and amounts that parse and format back."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from expertloop.errors import ValidationFailed
from expertloop.payments import money
from tests.unit.payments.conftest import exact_half_up

CODES = ["USD", "EUR", "JPY", "BHD"]


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (0, 3600, 0),
        (1, 2, 1),  # .5 goes up
        (3, 2, 2),
        (5, 2, 3),
        (1, 3, 0),
        (2, 3, 1),
        (-1, 2, 0),  # half up means towards +infinity, also below zero
        (-3, 2, -1),
        (-2, 3, -1),
        (7, 1, 7),
    ],
)
def test_round_half_up_examples(numerator: int, denominator: int, expected: int) -> None:
    assert money.round_half_up(numerator, denominator) == expected


def test_round_half_up_refuses_a_non_positive_denominator() -> None:
    with pytest.raises(ValueError, match="positive"):
        money.round_half_up(1, 0)


@given(st.integers(-(10**15), 10**15), st.integers(1, 10**9))
def test_round_half_up_is_the_nearest_integer_with_halves_up(numerator: int, d: int) -> None:
    assert money.round_half_up(numerator, d) == exact_half_up(Fraction(numerator, d))


@pytest.mark.parametrize(
    ("seconds", "hourly", "expected"),
    [
        (3600, 200_00, 200_00),
        (1800, 123_45, 61_73),  # 6172.5 -> 6173
        (1, 1, 0),  # 1/3600 of a cent is nothing
        (1800, 1, 1),  # exactly half a cent goes up
        (1799, 1, 0),
        (4 * 3600 + 59, 75_50, 30_324),  # 30200 + 123.736... -> 30324
        (0, 999_99, 0),
    ],
)
def test_time_pay_examples(seconds: int, hourly: int, expected: int) -> None:
    assert money.time_pay(seconds, hourly) == expected


@given(st.integers(0, 7 * 24 * 3600), st.integers(1, 100_000_00))
def test_time_pay_is_within_half_a_minor_unit_of_the_exact_amount(
    seconds: int, hourly: int
) -> None:
    paid = money.time_pay(seconds, hourly)
    exact = Fraction(seconds * hourly, 3600)
    assert type(paid) is int
    assert -Fraction(1, 2) < paid - exact <= Fraction(1, 2)  # a tie is rounded up, never down


@given(st.integers(0, 10**12), st.integers(0, 50_000))
def test_margin_is_rounded_once_half_up(cost: int, margin_bp: int) -> None:
    fee = money.margin(cost, margin_bp)
    assert type(fee) is int
    assert fee == exact_half_up(Fraction(cost * margin_bp, 10_000))


def test_margin_examples() -> None:
    assert money.margin(1, 5000) == 1  # 0.5 -> 1
    assert money.margin(3, 2500) == 1  # 0.75 -> 1
    assert money.margin(2, 2500) == 1  # 0.5 -> 1
    assert money.margin(1, 2500) == 0  # 0.25 -> 0
    assert money.margin(30_212, 2500) == 7553
    assert money.margin(12345, 0) == 0


@pytest.mark.parametrize(
    ("amount", "code", "text"),
    [
        (123_450, "USD", "USD 1,234.50"),
        (-5, "USD", "-USD 0.05"),
        (0, "EUR", "EUR 0.00"),
        (1_000_000, "JPY", "JPY 1,000,000"),
        (1_234_567, "BHD", "BHD 1,234.567"),
        (100_000_000_00, "USD", "USD 100,000,000.00"),
    ],
)
def test_format_money(amount: int, code: str, text: str) -> None:
    assert money.format_money(amount, code) == text


@pytest.mark.parametrize(
    ("text", "code", "amount"),
    [
        ("1234.5", "USD", 123_450),
        ("1,234.50", "USD", 123_450),
        (" 12 ", "EUR", 12_00),
        ("-0.05", "USD", -5),
        ("0.1", "BHD", 100),
        ("1234", "JPY", 1234),
        ("USD 1,234.50", "USD", 123_450),  # as format_money writes it
    ],
)
def test_parse_money(text: str, code: str, amount: int) -> None:
    assert money.parse_money(text, code) == amount


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1.234", "USD"),  # a fraction of a cent
        ("1.5", "JPY"),  # the yen has no minor unit
        ("12.3456", "BHD"),
        ("", "USD"),
        ("abc", "USD"),
        ("1.", "USD"),
        ("--1", "USD"),
        ("1e3", "USD"),
        ("EUR 1.00", "USD"),  # another currency's amount
        ("1,2,3", "USD"),  # commas must group thousands
        ("12,34.50", "USD"),
    ],
)
def test_parse_money_refuses(text: str, code: str) -> None:
    with pytest.raises(ValidationFailed):
        money.parse_money(text, code)


def _number(formatted: str, code: str) -> str:
    """The number of a formatted amount (``-USD 1,234.50`` -> ``-1,234.50``)."""
    return formatted.replace(f"{code} ", "", 1)


@given(st.integers(-(10**14), 10**14), st.sampled_from(CODES))
def test_format_then_parse_gives_the_amount_back(amount: int, code: str) -> None:
    assert money.parse_money(_number(money.format_money(amount, code), code), code) == amount


@given(
    st.booleans(),
    st.integers(0, 10**12),
    st.sampled_from(CODES),
    st.data(),
)
def test_parse_then_format_keeps_the_value(
    negative: bool, major: int, code: str, data: st.DataObject
) -> None:
    exponent = 0 if code == "JPY" else 3 if code == "BHD" else 2
    digits = data.draw(st.integers(0, exponent)) if exponent else 0
    minor = data.draw(st.integers(0, 10**digits - 1)) if digits else 0
    text = f"{'-' if negative else ''}{major}" + (f".{minor:0{digits}d}" if digits else "")
    amount = money.parse_money(text, code)
    assert Fraction(amount, 10**exponent) == Fraction(text)
    assert money.parse_money(_number(money.format_money(amount, code), code), code) == amount


@pytest.mark.parametrize(("raw", "code"), [("usd", "USD"), (" eur ", "EUR"), ("JPY", "JPY")])
def test_currency_codes_are_normalised(raw: str, code: str) -> None:
    assert money.currency(raw) == code


@pytest.mark.parametrize("raw", ["US", "DOLLARS", "U5D", "", "€"])
def test_bad_currency_codes_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        money.currency(raw)
