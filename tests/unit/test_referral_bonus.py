"""The referral bonus: posted once, only after the threshold of approved hours, to the referrer.

Referred experts are Candidate rows written straight to their table here (the referral links are
another part's work); their hours are approved time adjustments in weeks submitted and approved
through the timesheet use cases, so only what payroll approved counts.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import ValidationFailed
from expertloop.experts import invitations, referral_ledger, referrals
from expertloop.experts.invitations import JoinData
from expertloop.experts.models import Candidate, InvitationKind, VettingState
from expertloop.experts.profiles import ProfileData
from expertloop.mail import Message
from expertloop.payments import bonuses, corrections, ledger, rates, reports, timesheets
from expertloop.payments.models import Bonus, BonusRule, Timesheet
from expertloop.projects.models import Project
from expertloop.settings import Settings
from tests.factories import World, make_user, make_world, staff

MARGIN_BP = 2500
CUTOFF = dt.timedelta(seconds=300)
WEEK0 = dt.date(2024, 1, 1)  # a Monday, long past
AMOUNT = 300_00  # USD
MIN_HOURS = 10
_emails = itertools.count(1)


def monday(n: int) -> dt.date:
    return WEEK0 + dt.timedelta(weeks=n)


def sunday(n: int) -> dt.date:
    return monday(n) + dt.timedelta(days=6)


def make_referral(db: Session, referrer: User | None, user: User | None) -> Candidate:
    """A candidate brought in by ``referrer``'s link (None: invited by an operator)."""
    row = Candidate(
        email=f"referred{next(_emails)}@tests.expertloop.org",
        name=user.name if user else "Not yet applied",
        user_id=user.id if user else None,
        state=VettingState.approved if user else VettingState.invited,
        source=InvitationKind.referral if referrer else InvitationKind.operator,
        referrer_user_id=referrer.id if referrer else None,
    )
    db.add(row)
    db.flush()
    return row


class Net:
    """Expert A refers experts who work on project B (org B's, where A is not staffed)."""

    def __init__(self, db: Session) -> None:
        self.db = db
        self.w: World = make_world(db)
        self.rule = bonuses.add_rule(
            session=db,
            actor=self.w.operator,
            project=self.w.project_b,
            kind="referral",
            currency="USD",
            amount_minor=AMOUNT,
            min_hours=MIN_HOURS,
        )

    def referred(self, name: str, referrer: User | None = None) -> tuple[User, Candidate]:
        """A referred expert staffed on project B, paid USD 100.00 an hour."""
        user = make_user(self.db, Role.expert, name=name)
        staff(self.db, self.w.project_b, user)
        rates.set_rate(
            session=self.db,
            actor=self.w.operator,
            currency="USD",
            hourly_minor=100_00,
            effective_from=WEEK0,
            user_id=user.id,
        )
        return user, make_referral(self.db, referrer or self.w.expert_a, user)

    def work(
        self,
        user: User,
        week: int,
        minutes: int,
        *,
        approve: bool = True,
        project: Project | None = None,
    ) -> Timesheet:
        """Approved minutes on the week's Tuesday, the week submitted (and approved)."""
        day = monday(week) + dt.timedelta(days=1)
        left = minutes
        while left > 0:
            chunk = min(left, timesheets.MAX_ADJUSTMENT_MINUTES)
            row = timesheets.request_adjustment(
                session=self.db,
                actor=user,
                project=project or self.w.project_b,
                work_date=day,
                minutes=chunk,
                reason="Worked on the write-up",
            )
            timesheets.decide_adjustment(
                session=self.db, actor=self.w.operator, adjustment_id=row.id, approve=True
            )
            left -= chunk
            day += dt.timedelta(days=1)
        sheet = timesheets.submit(session=self.db, actor=user, week_start=monday(week))
        if approve:
            timesheets.approve(
                session=self.db,
                actor=self.w.operator,
                sheet=sheet,
                idle_cutoff=CUTOFF,
                default_margin_bp=MARGIN_BP,
            )
        return sheet

    def evaluate(self, until: dt.date) -> list[Bonus]:
        return bonuses.evaluate(
            session=self.db, actor=self.w.operator, until=until, default_margin_bp=MARGIN_BP
        )

    def referral_bonuses(self) -> list[Bonus]:
        return list(
            self.db.scalars(select(Bonus).where(Bonus.kind == "referral").order_by(Bonus.id))
        )


@pytest.fixture
def net(db: Session) -> Net:
    return Net(db)


def test_referred_experts_lists_pairs_with_a_referrer_and_an_account(net: Net) -> None:
    db, w = net.db, net.w
    ada, ada_row = net.referred("Ada Lovelace")
    bob, bob_row = net.referred("Bob Referred", referrer=w.expert_b)
    make_referral(db, w.expert_a, None)  # has not applied yet: no account
    make_referral(db, None, make_user(db, Role.expert))  # an operator's invitation
    selfish = make_user(db, Role.expert)
    make_referral(db, selfish, selfish)  # names themself: nobody earns for joining
    pairs = referral_ledger.referred_experts(db)
    mine = [p for p in pairs if p.candidate_id in (ada_row.id, bob_row.id)]
    assert mine == [
        referral_ledger.Referral(w.expert_a.id, ada.id, ada_row.id),
        referral_ledger.Referral(w.expert_b.id, bob.id, bob_row.id),
    ]
    assert all(p.referrer_user_id != p.referred_user_id for p in pairs)
    by_b = referral_ledger.referred_experts(db, referrer_ids=[w.expert_b.id])
    assert [p.candidate_id for p in by_b] == [bob_row.id]
    of_ada = referral_ledger.referred_experts(db, referred_ids=[ada.id])
    assert [p.candidate_id for p in of_ada] == [ada_row.id]


def test_below_the_threshold_nothing_then_one_bonus_once(net: Net) -> None:
    ada, cand = net.referred("Ada Lovelace")
    net.work(ada, 0, 6 * 60, project=None)
    assert net.evaluate(sunday(0)) == []  # 6 h < 10 h
    net.work(ada, 1, 3 * 60 + 59, project=None)
    assert net.evaluate(sunday(3)) == []  # 9 h 59 min: still below
    net.work(ada, 2, 1, project=None)  # exactly 10 h
    assert net.evaluate(sunday(2) - dt.timedelta(days=1)) == []  # that week is not over yet
    [bonus] = net.evaluate(sunday(2))
    assert (bonus.user_id, bonus.amount_minor, bonus.currency, bonus.kind) == (
        net.w.expert_a.id,
        AMOUNT,
        "USD",
        "referral",
    )
    assert bonus.source_key == f"rule:{net.rule.id}:referral:{cand.id}"
    assert bonus.earned_on == sunday(2)
    assert bonus.reason == "Referral bonus: Ada Lovelace"
    net.work(ada, 3, 20 * 60, project=None)
    assert net.evaluate(sunday(3)) == []  # again, with more hours: still the one bonus
    assert net.evaluate(sunday(10)) == []
    assert len(net.referral_bonuses()) == 1
    assert ledger.balance(
        session=net.db, account=ledger.EXPERT_PAYABLE, user_id=net.w.expert_a.id
    ) == {"USD": -AMOUNT}


def test_submitted_but_not_approved_hours_do_not_count(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    net.work(ada, 0, 12 * 60, approve=False, project=None)
    assert net.evaluate(sunday(5)) == []
    net.work(ada, 1, 5 * 60, project=None)
    assert net.evaluate(sunday(5)) == []  # 5 approved hours; the submitted 12 wait
    sheet = net.db.scalar(select(Timesheet).where(Timesheet.week_start == monday(0)))
    assert sheet is not None
    timesheets.approve(
        session=net.db,
        actor=net.w.operator,
        sheet=sheet,
        idle_cutoff=CUTOFF,
        default_margin_bp=MARGIN_BP,
    )
    [bonus] = net.evaluate(sunday(5))
    assert bonus.earned_on == sunday(0)  # the week whose approved hours reached 10


def test_a_reversed_week_stops_counting(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    sheet = net.work(ada, 0, 11 * 60, project=None)
    assert sheet.transaction_id is not None
    corrections.reverse(
        session=net.db,
        actor=net.w.operator,
        transaction_id=sheet.transaction_id,
        reason="Wrong project",
    )
    assert net.evaluate(sunday(4)) == []


def test_only_hours_on_the_rules_project_count(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    staff(net.db, net.w.project_a, ada)
    net.work(ada, 0, 9 * 60, project=net.w.project_a)
    net.work(ada, 1, 9 * 60, project=None)
    assert net.evaluate(sunday(4)) == []  # 18 h in all, 9 on project B
    net.work(ada, 2, 60, project=None)
    [bonus] = net.evaluate(sunday(4))
    assert bonus.project_id == net.w.project_b.id


def test_a_candidate_without_referrer_earns_nobody_anything(net: Net) -> None:
    db, w = net.db, net.w
    solo = make_user(db, Role.expert, name="Solo Expert")
    staff(db, w.project_b, solo)
    rates.set_rate(
        session=db,
        actor=w.operator,
        currency="USD",
        hourly_minor=100_00,
        effective_from=WEEK0,
        user_id=solo.id,
    )
    make_referral(db, None, solo)
    net.work(solo, 0, 20 * 60, project=None)
    assert net.evaluate(sunday(3)) == []
    assert net.referral_bonuses() == []


def test_each_referred_expert_pays_their_own_referrer(net: Net) -> None:
    w = net.w
    ada, _ = net.referred("Ada Lovelace")
    bob, _ = net.referred("Bob Second", referrer=w.expert_b)
    cy, _ = net.referred("Cy Third")
    net.work(ada, 0, 10 * 60, project=None)
    net.work(bob, 0, 10 * 60, project=None)
    net.work(cy, 0, 2 * 60, project=None)
    awarded = net.evaluate(sunday(1))
    assert sorted((b.user_id, b.reason) for b in awarded) == sorted(
        [
            (w.expert_a.id, "Referral bonus: Ada Lovelace"),
            (w.expert_b.id, "Referral bonus: Bob Second"),
        ]
    )


def test_a_referrer_who_no_longer_earns_is_skipped_until_they_do(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    net.work(ada, 0, 10 * 60, project=None)
    net.w.expert_a.role = Role.client
    net.db.flush()
    assert net.evaluate(sunday(1)) == []
    net.w.expert_a.role = Role.expert
    net.db.flush()
    assert len(net.evaluate(sunday(1))) == 1


def test_a_deactivated_referrer_is_paid_only_once_active_again(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    net.work(ada, 0, 10 * 60, project=None)
    net.w.expert_a.is_active = False
    net.db.flush()
    assert net.evaluate(sunday(1)) == []
    net.w.expert_a.is_active = True
    net.db.flush()
    assert len(net.evaluate(sunday(1))) == 1
    assert net.evaluate(sunday(2)) == []


def test_the_bonus_is_on_the_referrers_statement_naming_the_expert(net: Net) -> None:
    ada, _ = net.referred("Ada Lovelace")
    net.work(ada, 0, 10 * 60, project=None)
    net.evaluate(sunday(0))
    st_ = reports.statement(
        session=net.db, user=net.w.expert_a, period_start=monday(0), period_end=sunday(0)
    )
    [line] = [x for x in st_.lines if x.kind == "bonus"]
    assert (line.description, line.amount_minor, line.currency, line.on) == (
        "Referral bonus: Ada Lovelace",
        AMOUNT,
        "USD",
        sunday(0),
    )
    assert net.w.project_b.name not in line.description  # the referrer is not told the client
    assert st_.earned == {"USD": AMOUNT}
    assert "Referral bonus: Ada Lovelace" in reports.statement_csv(st_)
    # The client of project B is billed the bonus plus the margin, without the expert's name.
    inv = reports.invoice(
        session=net.db, project=net.w.project_b, period_start=monday(0), period_end=sunday(0)
    )
    [billed] = [x for x in inv.lines if "bonus" in x.description.lower()]
    assert billed.description == "Expert bonus (referral)"
    assert billed.amount_minor == AMOUNT + AMOUNT * MARGIN_BP // 10_000
    assert "Ada" not in billed.description
    # Ada's own statement has her time, not the referral bonus.
    ada_st = reports.statement(
        session=net.db, user=ada, period_start=monday(0), period_end=sunday(0)
    )
    assert [x.kind for x in ada_st.lines] == ["time"]


def test_capped_time_is_what_counts(net: Net) -> None:
    rates.set_terms(
        session=net.db,
        actor=net.w.operator,
        project=net.w.project_b,
        weekly_cap_minutes=4 * 60,
        margin_bp=MARGIN_BP,
    )
    ada, _ = net.referred("Ada Lovelace")
    net.work(ada, 0, 8 * 60, project=None)  # 4 h paid
    net.work(ada, 1, 8 * 60, project=None)  # 8 h paid
    assert net.evaluate(sunday(3)) == []
    net.work(ada, 2, 2 * 60, project=None)  # 10 h paid
    [bonus] = net.evaluate(sunday(3))
    assert bonus.earned_on == sunday(2)


@pytest.mark.parametrize("min_hours", [None, 0, -3, bonuses.MAX_REFERRAL_HOURS + 1])
def test_a_referral_rule_needs_min_hours(net: Net, min_hours: int | None) -> None:
    with pytest.raises(ValidationFailed, match="min_hours"):
        bonuses.add_rule(
            session=net.db,
            actor=net.w.operator,
            project=net.w.project_a,
            kind="referral",
            currency="USD",
            amount_minor=100,
            min_hours=min_hours,
        )


def test_the_rule_keeps_its_threshold(net: Net) -> None:
    rule = net.db.get(BonusRule, net.rule.id)
    assert rule is not None
    assert (rule.kind, rule.params) == ("referral", {"min_hours": MIN_HOURS})


# Random weeks of work, each approved or left submitted: at most one bonus, and one exactly when
# the approved hours reach the threshold, dated the Sunday of the week that reached it.
WEEK = st.tuples(st.integers(min_value=0, max_value=6 * 60), st.booleans())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(weeks=st.lists(WEEK, min_size=1, max_size=5), evaluate_every=st.integers(1, 3))
def test_random_weeks_pay_at_most_once_and_only_at_the_threshold(
    net: Net, weeks: list[tuple[int, bool]], evaluate_every: int
) -> None:
    with net.db.begin_nested() as savepoint:
        ada, _ = net.referred("Ada Lovelace")
        approved_total = 0
        reached: dt.date | None = None
        for i, (minutes, approve) in enumerate(weeks):
            if minutes:
                net.work(ada, i, minutes, approve=approve, project=None)
                if approve:
                    approved_total += minutes
            if reached is None and approved_total >= MIN_HOURS * 60:
                reached = sunday(i)
            if i % evaluate_every == 0:
                net.evaluate(sunday(i))
        net.evaluate(sunday(len(weeks)))
        net.evaluate(sunday(len(weeks)))
        paid = [b for b in net.referral_bonuses() if b.reason.endswith("Ada Lovelace")]
        if reached is None:
            assert paid == []
        else:
            [bonus] = paid
            assert bonus.earned_on == reached
            assert bonus.user_id == net.w.expert_a.id
        count = net.db.scalar(select(func.count(Bonus.id)).where(Bonus.kind == "referral"))
        assert count == len(paid)
        savepoint.rollback()


class _Outbox:
    """A mailer that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    def send(self, message: Message) -> bool:
        self.sent.append(message)
        return True


def test_a_peer_referred_through_the_real_link_earns_the_referrer_the_bonus(
    net: Net, settings: Settings
) -> None:
    """The outreach part's own flow: refer by email, the peer joins by the mailed link."""
    db, w = net.db, net.w
    outbox = _Outbox()
    result = referrals.refer(
        db, actor=w.expert_a, email="peer.joins@example.org", settings=settings, mailer=outbox
    )
    assert result.candidate_id is not None
    [link] = [line for line in outbox.sent[0].text.split() if "/join/" in line]
    peer = invitations.accept(
        db,
        token=link.rsplit("/join/", 1)[1],
        data=JoinData(
            name="Ada  Joined",
            password="a-long-enough-password",
            profile=ProfileData(
                headline="Treasury analyst",
                domains=[("finance", "")],
                years_experience=8,
                country="gb",
                time_zone="Europe/London",
                languages=[("en", "native")],
                weekly_hours=10,
                rate_minor=9000,
                rate_currency="usd",
                resume="Eight years of treasury.",
                links=[],
                phone="+44 20 7946 0000",
            ),
        ),
        settings=settings,
    )
    assert referral_ledger.referred_experts(db, referred_ids=[peer.id]) == [
        referral_ledger.Referral(w.expert_a.id, peer.id, result.candidate_id)
    ]
    staff(db, w.project_b, peer)
    rates.set_rate(
        session=db,
        actor=w.operator,
        currency="USD",
        hourly_minor=100_00,
        effective_from=WEEK0,
        user_id=peer.id,
    )
    net.work(peer, 0, MIN_HOURS * 60)
    [bonus] = net.evaluate(sunday(0))
    assert (bonus.user_id, bonus.reason) == (w.expert_a.id, "Referral bonus: Ada Joined")
    assert bonus.source_key == f"rule:{net.rule.id}:referral:{result.candidate_id}"
