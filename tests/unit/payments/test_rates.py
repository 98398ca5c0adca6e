"""Rates: the most specific rate in force on the date wins; rows are added, never edited."""

from __future__ import annotations

import datetime as dt

import pytest

from expertloop.errors import NotFound, ValidationFailed
from expertloop.payments import rates
from expertloop.payments.models import Rate
from tests.factories import make_org, make_project
from tests.unit.payments.conftest import (
    A_BASE,
    A_ON_PROJECT_A,
    B_BASE,
    B_RAISED,
    MARGIN_B_BP,
    MARGIN_BP,
    PROJECT_A_RATE,
    Pay,
    monday,
)


def _rate(pay: Pay, user_id: int, project_id: int, on: dt.date) -> Rate | None:
    return rates.rate_for(session=pay.db, user_id=user_id, project_id=project_id, on=on)


def test_expert_on_project_beats_project_beats_base(pay: Pay) -> None:
    on = monday(6)
    mine = _rate(pay, pay.expert_a.id, pay.project_a.id, on)
    assert mine is not None and mine.hourly_minor == A_ON_PROJECT_A
    # The reviewer has no rate of their own: the project's rate applies.
    project_wide = _rate(pay, pay.reviewer_a.id, pay.project_a.id, on)
    assert project_wide is not None and project_wide.hourly_minor == PROJECT_A_RATE
    # Project B has no project rate: expert A's base rate applies there.
    base = _rate(pay, pay.expert_a.id, pay.project_b.id, on)
    assert base is not None and (base.hourly_minor, base.currency) == (A_BASE, "USD")


def test_a_rate_counts_from_its_effective_date_on(pay: Pay) -> None:
    # Expert A's own rate on project A starts in week 5; before it the project's rate applies.
    before = _rate(pay, pay.expert_a.id, pay.project_a.id, monday(5) - dt.timedelta(days=1))
    assert before is not None and before.hourly_minor == PROJECT_A_RATE
    first_day = _rate(pay, pay.expert_a.id, pay.project_a.id, monday(5))
    assert first_day is not None and first_day.hourly_minor == A_ON_PROJECT_A
    # Expert B's raise in week 9.
    assert _hourly(pay, pay.expert_b.id, pay.project_b.id, monday(9) - dt.timedelta(1)) == B_BASE
    assert _hourly(pay, pay.expert_b.id, pay.project_b.id, monday(9)) == B_RAISED
    assert _hourly(pay, pay.expert_b.id, pay.project_b.id, monday(40)) == B_RAISED


def _hourly(pay: Pay, user_id: int, project_id: int, on: dt.date) -> int | None:
    rate = _rate(pay, user_id, project_id, on)
    return rate.hourly_minor if rate else None


def test_nothing_is_in_force_before_the_first_rate(pay: Pay) -> None:
    assert _rate(pay, pay.expert_b.id, pay.project_b.id, monday(0) - dt.timedelta(days=1)) is None
    # Nobody has a rate for the client's user on another project.
    assert _rate(pay, pay.world.client_a.id, pay.project_b.id, monday(3)) is None


def test_a_later_row_with_the_same_date_corrects_the_earlier(pay: Pay) -> None:
    rates.set_rate(
        session=pay.db,
        actor=pay.operator,
        user_id=pay.expert_b.id,
        currency="EUR",
        hourly_minor=B_BASE + 1,
        effective_from=monday(0),
    )
    assert _hourly(pay, pay.expert_b.id, pay.project_b.id, monday(1)) == B_BASE + 1
    assert _hourly(pay, pay.expert_b.id, pay.project_b.id, monday(9)) == B_RAISED


def test_setting_a_rate_adds_a_row_and_keeps_the_old_ones(pay: Pay) -> None:
    before = {r.id: r.hourly_minor for r in rates.list_rates(session=pay.db)}
    new = rates.set_rate(
        session=pay.db,
        actor=pay.operator,
        user_id=pay.expert_a.id,
        currency="usd",
        hourly_minor=130_00,
        effective_from=monday(20),
    )
    assert new.currency == "USD"
    after = {r.id: r.hourly_minor for r in rates.list_rates(session=pay.db)}
    assert after == {**before, new.id: 130_00}
    assert rates.list_rates(session=pay.db, user_id=pay.expert_a.id)[0].id == new.id


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"user_id": None, "project_id": None}, ValidationFailed),
        ({"hourly_minor": 0}, ValidationFailed),
        ({"hourly_minor": -100}, ValidationFailed),
        ({"hourly_minor": rates.MAX_HOURLY_MAJOR * 100 + 1}, ValidationFailed),
        ({"currency": "dollars"}, ValidationFailed),
        ({"user_id": 10**9}, NotFound),
        ({"project_id": 10**9}, NotFound),
    ],
)
def test_bad_rates_are_refused(pay: Pay, kwargs: dict[str, object], error: type[Exception]) -> None:
    values: dict[str, object] = {
        "user_id": pay.expert_a.id,
        "currency": "USD",
        "hourly_minor": 100_00,
        "effective_from": monday(1),
        **kwargs,
    }
    with pytest.raises(error):
        rates.set_rate(session=pay.db, actor=pay.operator, **values)  # type: ignore[arg-type]


def test_terms_default_and_validation(pay: Pay) -> None:
    a = rates.terms_for(session=pay.db, project_id=pay.project_a.id, default_margin_bp=MARGIN_BP)
    assert (a.weekly_cap_minutes, a.margin_bp) == (240, MARGIN_BP)
    b = rates.terms_for(session=pay.db, project_id=pay.project_b.id, default_margin_bp=MARGIN_BP)
    assert (b.weekly_cap_minutes, b.margin_bp) == (None, MARGIN_B_BP)
    for cap, margin_bp in ((0, 100), (7 * 24 * 60 + 1, 100), (None, -1), (None, 50_001)):
        with pytest.raises(ValidationFailed):
            rates.set_terms(
                session=pay.db,
                actor=pay.operator,
                project=pay.project_a,
                weekly_cap_minutes=cap,
                margin_bp=margin_bp,
            )


def test_unset_terms_use_the_default_margin(pay: Pay) -> None:
    project = make_project(pay.db, make_org(pay.db), pay.operator)
    terms = rates.terms_for(session=pay.db, project_id=project.id, default_margin_bp=1234)
    assert (terms.weekly_cap_minutes, terms.margin_bp) == (None, 1234)
