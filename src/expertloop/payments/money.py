"""Money rules: integer minor units, ISO currency codes, and the one rounding rule.

Rounding (documented in docs/payments.md): every computed line is rounded once, half up, to the
currency's minor unit: ``amount = floor((numerator * 2 + denominator) / (2 * denominator))``.
Time pay is ``seconds * hourly_minor / 3600``; the client margin is ``cost * margin_bp / 10000``.
"""

from __future__ import annotations

import re

from expertloop.errors import ValidationFailed

_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Minor-unit digits for display; anything not listed has two.
_EXPONENT = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3}


def currency(code: str) -> str:
    """Return a valid ISO 4217-style code (three capital letters), or raise."""
    code = code.strip().upper()
    if not _CURRENCY.match(code):
        raise ValidationFailed(f"{code!r} is not a currency code such as USD or EUR.")
    return code


def minor_digits(code: str) -> int:
    """Return how many decimals the currency's minor unit has (2 unless listed)."""
    return _EXPONENT.get(code, 2)


def round_half_up(numerator: int, denominator: int) -> int:
    """Divide and round half up (towards +infinity at .5), in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (numerator * 2 + denominator) // (2 * denominator)


def time_pay(seconds: int, hourly_minor: int) -> int:
    """Pay for ``seconds`` at ``hourly_minor`` per hour, rounded once."""
    return round_half_up(seconds * hourly_minor, 3600)


def margin(cost_minor: int, margin_bp: int) -> int:
    """The platform's margin on a cost, rounded once."""
    return round_half_up(cost_minor * margin_bp, 10_000)


def format_money(amount_minor: int, code: str) -> str:
    """Format for pages and statements: ``USD 1,234.50``."""
    exponent = minor_digits(code)
    sign = "-" if amount_minor < 0 else ""
    value = abs(amount_minor)
    if exponent == 0:
        return f"{sign}{code} {value:,}"
    major, minor = divmod(value, 10**exponent)
    return f"{sign}{code} {major:,}.{minor:0{exponent}d}"


def parse_money(text: str, code: str) -> int:
    """Parse ``1234.5``, ``1,234.50`` or ``USD 1,234.50`` into minor units.

    Commas must group thousands; fractions of a minor unit are refused.
    """
    exponent = minor_digits(code)
    cleaned = text.strip()
    if cleaned[:3].upper() == code and cleaned[3:4] in (" ", ""):
        cleaned = cleaned[3:].strip()
    if not re.match(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$", cleaned):
        raise ValidationFailed(f"{text!r} is not an amount such as 1234.50.")
    cleaned = cleaned.replace(",", "")
    negative = cleaned.startswith("-")
    major, _, minor = cleaned.lstrip("-").partition(".")
    if len(minor) > exponent:
        raise ValidationFailed(f"{code} amounts have at most {exponent} decimals.")
    scale: int = 10**exponent
    value = int(major) * scale + (int(minor.ljust(exponent, "0")) if exponent else 0)
    return -value if negative else value
