"""Bonus rules and awards.

A rule's ``kind`` names an evaluator in ``EVALUATORS``: a function that returns the bonuses a
rule has earned so far. Each bonus carries a ``source_key`` (unique), so evaluating again never
pays twice. Quality bonuses plug in later as new evaluators; nothing else changes.

A ``referral`` rule pays an expert who referred another (``experts.referral_ledger``) once the
referred expert has at least ``min_hours`` approved hours on the rule's project.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from expertloop.events import emit
from expertloop.experts import referral_ledger
from expertloop.payments import events, ledger, money, postings, rates, timesheets
from expertloop.payments.models import Bonus, BonusRule
from expertloop.payments.policies import can_run_payroll, earns
from expertloop.projects.models import Project
from expertloop.projects.projects import is_staffed
from expertloop.workbench.models import ProblemSet, Status


@dataclass(frozen=True)
class Earned:
    """A bonus an evaluator found: who, how much, why, and its unique source key."""

    user_id: int
    amount_minor: int
    reason: str
    source_key: str
    earned_on: dt.date
    # The line on the earner's statement; None: "Bonus, <project>: <reason>".
    memo: str | None = None


MAX_BONUS_MAJOR = 1_000_000  # in any currency: anything above is a typo

Evaluator = Callable[[Session, BonusRule, dt.date, bool], list[Earned]]


def _per_accepted_item(
    session: Session, rule: BonusRule, until: dt.date, completed: bool
) -> list[Earned]:
    """A fixed amount for every accepted problem set, to its author."""
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    rows = session.scalars(
        select(ProblemSet).where(
            ProblemSet.project_id == rule.project_id,
            ProblemSet.status == Status.accepted,
            ProblemSet.accepted_at < end,
        )
    )
    return [
        Earned(
            ps.author_id,
            rule.amount_minor,
            f"Accepted problem set #{ps.id}: {ps.title}",
            f"rule:{rule.id}:problem_set:{ps.id}",
            ps.accepted_at.date() if ps.accepted_at else until,
        )
        for ps in rows
    ]


def _completion(session: Session, rule: BonusRule, until: dt.date, completed: bool) -> list[Earned]:
    """When the project completes: a bonus to each expert with at least N accepted sets."""
    if not completed:
        return []
    minimum = int(rule.params.get("min_accepted", 1))
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    counts = session.execute(
        select(ProblemSet.author_id, func.count(ProblemSet.id))
        .where(
            ProblemSet.project_id == rule.project_id,
            ProblemSet.status == Status.accepted,
            ProblemSet.accepted_at < end,
        )
        .group_by(ProblemSet.author_id)
    ).all()
    return [
        Earned(
            author_id,
            rule.amount_minor,
            f"Project completion bonus ({n} accepted problem sets, at least {minimum} needed)",
            f"rule:{rule.id}:user:{author_id}",
            until,
        )
        for author_id, n in counts
        if n >= minimum
    ]


MAX_REFERRAL_HOURS = 10_000


def _referral(session: Session, rule: BonusRule, until: dt.date, completed: bool) -> list[Earned]:
    """To each referrer, once per referred expert with at least N approved hours on the project.

    Only approved weeks over by ``until`` count (the capped, paid time); the bonus is dated the
    Sunday of the week that reached N. The referrer need not be staffed on the project (the
    project's client pays for the expert its work brought in), but must be an active expert or
    reviewer.
    """
    minimum = int(rule.params.get("min_hours", 1)) * 3600
    referrals = referral_ledger.referred_experts(session)
    weeks = timesheets.approved_seconds_by_week(
        session=session,
        user_ids={r.referred_user_id for r in referrals},
        project_id=rule.project_id,
        until=until,
    )
    out = []
    for referral in referrals:
        total, reached = 0, None
        for week_start, seconds in weeks.get(referral.referred_user_id, []):
            total += seconds
            if total >= minimum:
                reached = week_start + dt.timedelta(days=6)
                break
        if reached is None:
            continue
        referrer = session.get(User, referral.referrer_user_id)
        referred = session.get(User, referral.referred_user_id)
        # A deactivated referrer is not paid while deactivated; a later evaluation pays them
        # once they are active again (the bonus was never posted).
        if referrer is None or referred is None or not earns(referrer) or not referrer.is_active:
            continue
        label = f"Referral bonus: {' '.join(referred.name.split()) or 'an expert you referred'}"
        out.append(
            Earned(
                referrer.id,
                rule.amount_minor,
                label,
                f"rule:{rule.id}:referral:{referral.candidate_id}",
                reached,
                memo=label,  # the referrer's statement names the expert, not the client's project
            )
        )
    return out


EVALUATORS: dict[str, Evaluator] = {
    "per_accepted_item": _per_accepted_item,
    "completion": _completion,
    "referral": _referral,
}


def add_rule(
    *,
    session: Session,
    actor: User,
    project: Project,
    kind: str,
    currency: str,
    amount_minor: int,
    min_accepted: int | None = None,
    min_hours: int | None = None,
) -> BonusRule:
    """Add a bonus rule to a project."""
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators set bonus rules.")
    if kind not in EVALUATORS:
        raise ValidationFailed(f"Unknown bonus kind {kind!r}; known: {', '.join(EVALUATORS)}.")
    if not 0 < amount_minor <= MAX_BONUS_MAJOR * 10 ** money.minor_digits(currency.upper()):
        raise ValidationFailed("A bonus amount must be positive (and at most 1,000,000).")
    params = {}
    if kind == "completion":
        if min_accepted is None or min_accepted < 1:
            raise ValidationFailed("A completion bonus needs min_accepted of at least 1.")
        params["min_accepted"] = min_accepted
    if kind == "referral":
        if min_hours is None or not 1 <= min_hours <= MAX_REFERRAL_HOURS:
            raise ValidationFailed(
                f"A referral bonus needs min_hours between 1 and {MAX_REFERRAL_HOURS:,}."
            )
        params["min_hours"] = min_hours
    rule = BonusRule(
        project_id=project.id,
        kind=kind,
        currency=money.currency(currency),
        amount_minor=amount_minor,
        params=params,
        created_by_id=actor.id,
    )
    session.add(rule)
    session.flush()
    emit(
        events.BonusRuleSet(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            rule_kind=kind,
            amount_minor=amount_minor,
        ),
        session=session,
    )
    return rule


def rules_of(*, session: Session, project_id: int) -> list[BonusRule]:
    """Return a project's bonus rules."""
    return list(
        session.scalars(
            select(BonusRule).where(BonusRule.project_id == project_id).order_by(BonusRule.id)
        )
    )


def _award(
    *,
    session: Session,
    actor: User | None,
    project: Project,
    user_id: int,
    kind: str,
    currency: str,
    amount_minor: int,
    reason: str,
    source_key: str,
    earned_on: dt.date,
    default_margin_bp: int,
    rule_id: int | None = None,
    expert_memo: str | None = None,
) -> Bonus | None:
    """Record and post one bonus; None when its source key was already paid."""
    exists = session.scalar(select(Bonus.id).where(Bonus.source_key == source_key))
    if exists is not None:
        return None
    terms = rates.terms_for(
        session=session, project_id=project.id, default_margin_bp=default_margin_bp
    )
    fee = money.margin(amount_minor, terms.margin_bp)
    txn = ledger.post(
        session=session,
        kind="bonus",
        description=f"Bonus ({kind}) on {project.name}: {reason}",
        effective_on=earned_on,
        lines=postings.earning_lines(
            user_id=user_id,
            project=project,
            currency=currency,
            cost_minor=amount_minor,
            margin_minor=fee,
            expert_memo=expert_memo or f"Bonus, {project.name}: {reason}",
            client_memo=f"Expert bonus ({kind.replace('_', ' ')})",
        ),
        idempotency_key=f"bonus:{source_key}",
        created_by_id=actor.id if actor else None,
    )
    bonus = Bonus(
        user_id=user_id,
        project_id=project.id,
        rule_id=rule_id,
        kind=kind,
        currency=currency,
        amount_minor=amount_minor,
        reason=reason,
        source_key=source_key,
        earned_on=earned_on,
        transaction_id=txn.id,
        created_by_id=actor.id if actor else None,
    )
    session.add(bonus)
    session.flush()
    emit(
        events.BonusAwarded(
            actor_user_id=actor.id if actor else None,
            organisation_id=project.organisation_id,
            subject_type="bonus",
            subject_id=str(bonus.id),
            user_id=user_id,
            bonus_kind=kind,
            amount_minor=amount_minor,
            currency=currency,
        ),
        session=session,
    )
    return bonus


def evaluate(
    *,
    session: Session,
    actor: User | None,
    until: dt.date,
    default_margin_bp: int,
    project_id: int | None = None,
    completed: bool = False,
) -> list[Bonus]:
    """Award every bonus the active rules have earned up to ``until`` (idempotent)."""
    query = select(BonusRule).where(BonusRule.active.is_(True)).order_by(BonusRule.id)
    if project_id is not None:
        query = query.where(BonusRule.project_id == project_id)
    awarded = []
    for rule in list(session.scalars(query)):
        project = session.get(Project, rule.project_id)
        assert project is not None
        for earned in EVALUATORS[rule.kind](session, rule, until, completed):
            bonus = _award(
                session=session,
                actor=actor,
                project=project,
                user_id=earned.user_id,
                kind=rule.kind,
                currency=rule.currency,
                amount_minor=earned.amount_minor,
                reason=earned.reason,
                source_key=earned.source_key,
                earned_on=earned.earned_on,
                default_margin_bp=default_margin_bp,
                rule_id=rule.id,
                expert_memo=earned.memo,
            )
            if bonus is not None:
                awarded.append(bonus)
    return awarded


def award_manual(
    *,
    session: Session,
    actor: User,
    project: Project,
    user_id: int,
    currency: str,
    amount_minor: int,
    reason: str,
    earned_on: dt.date,
    default_margin_bp: int,
    idempotency_key: str | None = None,
) -> Bonus:
    """Give a one-off bonus with a reason (operators); a repeated key returns the first."""
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators award bonuses.")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User not found.")
    if not earns(user) or not is_staffed(session, project.id, user.id):
        raise ValidationFailed("Bonuses go to experts and reviewers staffed on the project.")
    if not 0 < amount_minor <= MAX_BONUS_MAJOR * 10 ** money.minor_digits(currency.upper()):
        raise ValidationFailed("A bonus amount must be positive (and at most 1,000,000).")
    if not reason.strip():
        raise ValidationFailed("Say why the bonus is given.")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 120:
        raise ValidationFailed("An idempotency key has 1 to 120 characters.")
    key = f"manual:{idempotency_key or uuid.uuid4().hex}"
    existing = session.scalar(select(Bonus).where(Bonus.source_key == key))
    if existing is not None:
        same = (existing.user_id, existing.project_id, existing.currency, existing.amount_minor)
        if same != (user_id, project.id, money.currency(currency), amount_minor):
            raise Conflict("This idempotency key was used for another bonus; use a new key.")
        return existing
    bonus = _award(
        session=session,
        actor=actor,
        project=project,
        user_id=user_id,
        kind="manual",
        currency=money.currency(currency),
        amount_minor=amount_minor,
        reason=reason.strip()[:2000],
        source_key=key,
        earned_on=earned_on,
        default_margin_bp=default_margin_bp,
    )
    assert bonus is not None
    return bonus


def complete_project(
    *, session: Session, actor: User, project: Project, until: dt.date, default_margin_bp: int
) -> list[Bonus]:
    """The project is complete: award its completion bonuses (and anything else now due)."""
    if not can_run_payroll(actor):
        raise PermissionDenied("Only operators mark a project complete for its bonuses.")
    emit(
        events.ProjectCompleted(
            actor_user_id=actor.id,
            organisation_id=project.organisation_id,
            subject_type="project",
            subject_id=str(project.id),
            until=until.isoformat(),
        ),
        session=session,
    )
    return evaluate(
        session=session,
        actor=actor,
        until=until,
        default_margin_bp=default_margin_bp,
        project_id=project.id,
        completed=True,
    )
