"""Fixtures for the payments domain tests: a priced world, heartbeats, accepted problem sets, and a
fresh database of its own (SQLite file in WAL mode, or a new PostgreSQL database) for the tests
that need real, separate transactions.

Rows go through the payments use cases (rates, terms, rules, timesheets). Heartbeats and accepted
problem sets are written straight to their tables: that is what the workbench leaves there, and
their own rules are tested in ``tests/unit/workbench``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from expertloop.accounts.models import User
from expertloop.db import make_engine, make_session_factory, upgrade
from expertloop.payments import bonuses, rates, timesheets
from expertloop.payments.models import BonusRule, Timesheet
from expertloop.projects.models import Project
from expertloop.workbench.models import Heartbeat, ProblemSet, Status
from tests.conftest import make_settings
from tests.factories import World, make_world, staff

MARGIN_BP = 2500  # the default margin (EXPERTLOOP_BILLING_MARGIN_BP's default)
CUTOFF = dt.timedelta(seconds=300)  # the default idle cutoff
WEEK0 = dt.date(2024, 1, 1)  # a Monday, long past
_titles = itertools.count(1)


def monday(n: int) -> dt.date:
    """The Monday ``n`` weeks after WEEK0."""
    return WEEK0 + dt.timedelta(weeks=n)


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """A UTC instant on ``day``."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def exact_half_up(value: Fraction) -> int:
    """The rounding rule restated with exact rationals: nearest integer, .5 upwards."""
    return int((value + Fraction(1, 2)).__floor__())


def pay_for(seconds: int, hourly_minor: int) -> int:
    return exact_half_up(Fraction(seconds * hourly_minor, 3600))


def margin_on(cost: int, margin_bp: int) -> int:
    return exact_half_up(Fraction(cost * margin_bp, 10_000))


def add_beats(
    db: Session,
    user: User,
    project: Project,
    start: dt.datetime,
    count: int,
    gap_seconds: int,
) -> int:
    """Store ``count`` heartbeats ``gap_seconds`` apart; return the seconds they track."""
    for i in range(count):
        db.add(
            Heartbeat(
                user_id=user.id,
                project_id=project.id,
                at=start + dt.timedelta(seconds=i * gap_seconds),
                kind="active",
            )
        )
    db.flush()
    return (count - 1) * gap_seconds if count > 1 and gap_seconds <= CUTOFF.seconds else 0


def accept_problem_set(
    db: Session, project: Project, author: User, accepted_at: dt.datetime
) -> ProblemSet:
    """An accepted problem set, as a finished review leaves it."""
    ps = ProblemSet(
        project_id=project.id,
        author_id=author.id,
        title=f"Accepted set {next(_titles)}",
        status=Status.accepted,
        accepted_at=accepted_at,
    )
    db.add(ps)
    db.flush()
    return ps


# Rates in force (see ``Pay``): expert A has a base rate, project A a project-wide rate, and from
# week 5 expert A a rate of their own on project A; expert B is paid in EUR with a raise in week 9.
A_BASE = 120_00  # USD, expert A, from WEEK0
PROJECT_A_RATE = 75_50  # USD, everyone on project A, from WEEK0
A_ON_PROJECT_A = 200_00  # USD, expert A on project A, from monday(5)
B_BASE = 99_99  # EUR, expert B, from WEEK0
B_RAISED = 110_01  # EUR, expert B, from monday(9)
CAP_A_MINUTES = 240  # project A's weekly cap
MARGIN_B_BP = 1750  # project B's margin
ITEM_BONUS = 50_00  # USD per accepted problem set on project A
COMPLETION_BONUS = 250_00  # EUR on project B's completion, at least 2 accepted sets


@dataclass
class Pay:
    """The two-tenant world with rates, pay terms and bonus rules set by the operator.

    Expert A works on projects A and B, expert B on project B, reviewer A on project A.
    """

    db: Session
    world: World
    item_rule: BonusRule
    completion_rule: BonusRule

    @property
    def operator(self) -> User:
        return self.world.operator

    @property
    def expert_a(self) -> User:
        return self.world.expert_a

    @property
    def expert_b(self) -> User:
        return self.world.expert_b

    @property
    def reviewer_a(self) -> User:
        return self.world.reviewer_a

    @property
    def project_a(self) -> Project:
        return self.world.project_a

    @property
    def project_b(self) -> Project:
        return self.world.project_b

    def submit(self, user: User, week_start: dt.date) -> Timesheet:
        return timesheets.submit(session=self.db, actor=user, week_start=week_start)

    def approve(self, sheet: Timesheet) -> Timesheet:
        return timesheets.approve(
            session=self.db,
            actor=self.operator,
            sheet=sheet,
            idle_cutoff=CUTOFF,
            default_margin_bp=MARGIN_BP,
        )

    def approve_week(self, user: User, week_start: dt.date) -> Timesheet:
        """Submit the user's week and approve it."""
        return self.approve(self.submit(user, week_start))

    def adjust(
        self, user: User, project: Project, day: dt.date, minutes: int, *, approve: bool = True
    ) -> None:
        row = timesheets.request_adjustment(
            session=self.db,
            actor=user,
            project=project,
            work_date=day,
            minutes=minutes,
            reason="Worked offline on the write-up",
        )
        timesheets.decide_adjustment(
            session=self.db, actor=self.operator, adjustment_id=row.id, approve=approve
        )


def build_pay(db: Session) -> Pay:
    """Set up the priced world (see ``Pay``) and commit it."""
    w = make_world(db)
    staff(db, w.project_b, w.expert_a)
    op = w.operator
    for kwargs in (
        {"user_id": w.expert_a.id, "currency": "USD", "hourly_minor": A_BASE, "on": 0},
        {"project_id": w.project_a.id, "currency": "USD", "hourly_minor": PROJECT_A_RATE, "on": 0},
        {
            "user_id": w.expert_a.id,
            "project_id": w.project_a.id,
            "currency": "USD",
            "hourly_minor": A_ON_PROJECT_A,
            "on": 5,
        },
        {"user_id": w.expert_b.id, "currency": "EUR", "hourly_minor": B_BASE, "on": 0},
        {"user_id": w.expert_b.id, "currency": "EUR", "hourly_minor": B_RAISED, "on": 9},
    ):
        on = monday(int(kwargs.pop("on")))
        rates.set_rate(session=db, actor=op, effective_from=on, **kwargs)  # type: ignore[arg-type]
    rates.set_terms(
        session=db,
        actor=op,
        project=w.project_a,
        weekly_cap_minutes=CAP_A_MINUTES,
        margin_bp=MARGIN_BP,
    )
    rates.set_terms(
        session=db, actor=op, project=w.project_b, weekly_cap_minutes=None, margin_bp=MARGIN_B_BP
    )
    item_rule = bonuses.add_rule(
        session=db,
        actor=op,
        project=w.project_a,
        kind="per_accepted_item",
        currency="USD",
        amount_minor=ITEM_BONUS,
    )
    completion_rule = bonuses.add_rule(
        session=db,
        actor=op,
        project=w.project_b,
        kind="completion",
        currency="EUR",
        amount_minor=COMPLETION_BONUS,
        min_accepted=2,
    )
    db.commit()
    return Pay(db, w, item_rule, completion_rule)


@pytest.fixture
def pay(db: Session) -> Pay:
    return build_pay(db)


# --- A fresh database of the test's own ---------------------------------------------------------


def _pg_admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    u = make_url(url)
    return psycopg.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 5432,
        user=u.username,
        password=u.password,
        dbname="postgres",
        autocommit=True,
    )


def _pg_drop(url: str, name: str) -> None:
    from psycopg import sql

    with _pg_admin(url) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def fresh_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """Sessions on a new, migrated database: real transactions, committed and seen by others.

    PostgreSQL (when EXPERTLOOP_TEST_DATABASE_URL is set): a database created for this test and
    dropped after it. Otherwise a SQLite file in WAL mode.
    """
    base = os.environ.get("EXPERTLOOP_TEST_DATABASE_URL")
    pg_name: str | None = None
    if base:
        from psycopg import sql

        pg_name = f"{make_url(base).database}_pay_{uuid.uuid4().hex[:10]}"
        with _pg_admin(base) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(pg_name)))
        url = make_url(base).set(database=pg_name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    engine = make_engine(make_settings(url, tmp_path), pool_size=12, max_overflow=4)
    try:
        upgrade(engine)
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        if base and pg_name:
            _pg_drop(base, pg_name)
