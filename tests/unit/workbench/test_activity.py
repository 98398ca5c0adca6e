"""Tracked time from heartbeats: short gaps count, long gaps do not, and no second counts twice."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.orm import Session

from expertloop.errors import PermissionDenied, ValidationFailed
from expertloop.workbench import activity, problem_sets
from expertloop.workbench.access import Loaded, project_access
from expertloop.workbench.models import Heartbeat
from expertloop.workbench.policies import Access
from tests.unit.workbench.conftest import Bench

T0 = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
CUTOFF = dt.timedelta(minutes=5)
Key = tuple[int, int | None]


@pytest.fixture
def keys(bench: Bench) -> list[Key]:
    """Three places time can go: two problem sets of the expert, and the project itself."""
    other = problem_sets.create(
        session=bench.db, access=bench.loaded.access, title="Second problem set"
    )
    project_id = bench.world.project_a.id
    return [(project_id, bench.loaded.problem_set.id), (project_id, other.id), (project_id, None)]


def _store(db: Session, user_id: int, beats: list[tuple[dt.datetime, Key]]) -> None:
    """Insert heartbeats in the given order (the id breaks ties between equal times)."""
    for at, (project_id, problem_set_id) in beats:
        db.add(
            Heartbeat(user_id=user_id, project_id=project_id, problem_set_id=problem_set_id, at=at)
        )
        db.flush()


def _model(beats: list[tuple[dt.datetime, Key]], cutoff: dt.timedelta) -> dict[Key, float]:
    """The rule, restated: consecutive heartbeats (by time, then insertion), gap ≤ cutoff counts
    for the earlier one's key."""
    ordered = sorted(beats, key=lambda b: b[0])  # stable: insertion order breaks ties
    out: dict[Key, float] = defaultdict(float)
    for (a, key), (b, _) in pairwise(ordered):
        if b - a <= cutoff:
            out[key] += (b - a) / dt.timedelta(seconds=1)
    return dict(out)


def _tracked(bench: Bench, **kw: object) -> activity.Tracked:
    return activity.tracked(
        session=bench.db,
        user_id=bench.world.expert_a.id,
        idle_cutoff=kw.pop("idle_cutoff", CUTOFF),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


beat_lists = st.lists(
    st.tuples(st.integers(0, 3_600_000), st.integers(0, 2)),  # (milliseconds after T0, key)
    max_size=30,
)


@settings(
    suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None
)
@given(raw=beat_lists, cutoff_ms=st.integers(1_000, 600_000))
def test_tracked_time_matches_the_rule_and_never_counts_a_second_twice(
    bench: Bench, keys: list[Key], raw: list[tuple[int, int]], cutoff_ms: int
) -> None:
    db, user_id = bench.db, bench.world.expert_a.id
    db.execute(delete(Heartbeat).where(Heartbeat.user_id == user_id))
    beats = [(T0 + dt.timedelta(milliseconds=ms), keys[k]) for ms, k in raw]
    cutoff = dt.timedelta(milliseconds=cutoff_ms)
    _store(db, user_id, beats)

    result = _tracked(bench, idle_cutoff=cutoff)
    expected = _model(beats, cutoff)

    assert result.seconds.keys() <= set(keys)
    for key in keys:
        assert result.seconds.get(key, 0.0) == pytest.approx(expected.get(key, 0.0), abs=1e-6)
        if (
            key[1] is not None
        ):  # total(project, None) is the whole project, not the project-only key
            assert result.total(*key) == pytest.approx(result.seconds.get(key, 0.0), abs=1e-6)
    # Interleaved problem sets (several tabs) share one stream: the per-key totals add up to the
    # merged stream's total, which never exceeds the wall-clock time between first and last beat.
    merged = sum(expected.values())
    assert sum(result.seconds.values()) == pytest.approx(merged, abs=1e-6)
    assert result.total() == pytest.approx(merged, abs=1e-6)
    assert result.total(bench.world.project_a.id) == pytest.approx(merged, abs=1e-6)
    if beats:
        times = [at for at, _ in beats]
        assert result.total() <= (max(times) - min(times)).total_seconds() + 1e-6


def test_gaps_up_to_the_cutoff_count_and_longer_gaps_count_nothing(
    bench: Bench, keys: list[Key]
) -> None:
    key = keys[0]
    _store(bench.db, bench.world.expert_a.id, [(_at(s), key) for s in (0, 30, 60, 361, 391)])
    assert _tracked(bench).seconds == {key: 90.0}


def test_a_gap_of_exactly_the_cutoff_counts_and_a_microsecond_more_does_not(
    bench: Bench, keys: list[Key]
) -> None:
    key = keys[0]
    beats = [
        (T0, key),
        (T0 + CUTOFF, key),
        (T0 + 2 * CUTOFF + dt.timedelta(microseconds=1), key),
    ]
    _store(bench.db, bench.world.expert_a.id, beats)
    assert _tracked(bench).seconds == {key: CUTOFF.total_seconds()}


def test_time_goes_to_the_earlier_heartbeats_problem_set(bench: Bench, keys: list[Key]) -> None:
    a, b, project_only = keys
    beats = [(_at(0), a), (_at(30), b), (_at(40), a), (_at(100), project_only), (_at(130), b)]
    _store(bench.db, bench.world.expert_a.id, beats)
    result = _tracked(bench)
    assert result.seconds == {a: 90.0, b: 10.0, project_only: 30.0}
    assert result.total(problem_set_id=a[1]) == 90.0
    assert result.total() == 130.0


def test_two_tabs_on_two_problem_sets_count_wall_clock_time_once(
    bench: Bench, keys: list[Key]
) -> None:
    a, b, _ = keys
    # Tab A beats every 30 s from 0, tab B every 30 s from 15, for ten minutes.
    beats = [(_at(s), a) for s in range(0, 600, 30)] + [(_at(s), b) for s in range(15, 600, 30)]
    _store(bench.db, bench.world.expert_a.id, beats)
    result = _tracked(bench)
    assert result.total() == 585.0  # 0 → 585: wall-clock time, not twice that
    assert result.seconds == {a: 300.0, b: 285.0}


def test_since_and_until_bound_the_heartbeats_used(bench: Bench, keys: list[Key]) -> None:
    key = keys[0]
    _store(bench.db, bench.world.expert_a.id, [(_at(s), key) for s in (0, 30, 60, 90, 120)])
    assert _tracked(bench, since=_at(30)).total() == 90.0
    assert _tracked(bench, until=_at(90)).total() == 60.0  # until is exclusive
    assert _tracked(bench, since=_at(30), until=_at(91)).total() == 60.0


def test_other_peoples_heartbeats_do_not_count(bench: Bench, keys: list[Key]) -> None:
    key = keys[0]
    _store(bench.db, bench.world.expert_a.id, [(_at(0), key), (_at(30), key)])
    _store(bench.db, bench.world.reviewer_a.id, [(_at(10), key), (_at(20), key)])
    assert _tracked(bench).total() == 30.0
    assert activity.tracked(session=bench.db, user_id=bench.world.reviewer_a.id).total() == 10.0


def test_no_heartbeats_or_one_heartbeat_is_no_time(bench: Bench, keys: list[Key]) -> None:
    assert _tracked(bench).seconds == {}
    _store(bench.db, bench.world.expert_a.id, [(_at(0), keys[0])])
    assert _tracked(bench).total() == 0.0


def _record(bench: Bench, seconds: float, loaded: Loaded | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return activity.record(
        session=bench.db,
        access=bench.loaded.access,
        loaded=loaded if loaded is not None else bench.loaded,
        now=_at(seconds),
        **kw,  # type: ignore[arg-type]
    )


def test_heartbeats_closer_than_five_seconds_are_one(bench: Bench, keys: list[Key]) -> None:
    first = _record(bench, 0)
    assert first is not None and first.at == T0
    assert first.problem_set_id == bench.loaded.problem_set.id
    assert _record(bench, 4.999) is None
    assert _record(bench, 5) is not None
    # Another tab on another problem set, 2 s later: deduplicated too.
    other = problem_sets.create(session=bench.db, access=bench.loaded.access, title="Other tab")
    assert _record(bench, 7, loaded=Loaded(bench.loaded.access, other)) is None
    # A heartbeat from the past (a late request) is dropped, not counted backwards.
    assert _record(bench, 1) is None
    assert _record(bench, 35, kind="typing") is not None
    assert _tracked(bench).seconds == {keys[0]: 35.0}


def test_recorded_heartbeats_every_thirty_seconds_add_up(bench: Bench, keys: list[Key]) -> None:
    for n in range(5):
        assert _record(bench, 30 * n, kind="click") is not None
    assert _tracked(bench).total(*keys[0]) == 120.0
    # A project-level heartbeat (no problem set) goes to the project only.
    activity.record(session=bench.db, access=bench.loaded.access, now=_at(150))
    assert activity.record(session=bench.db, access=bench.loaded.access, now=_at(180))
    assert _tracked(bench).seconds == {keys[0]: 150.0, keys[2]: 30.0}


def test_an_unknown_kind_is_refused(bench: Bench) -> None:
    with pytest.raises(ValidationFailed, match="Unknown activity kind"):
        _record(bench, 0, kind="idle")


def test_only_people_working_on_the_project_record_time(bench: Bench) -> None:
    db, world = bench.db, bench.world
    client = Access(world.client_a, world.project_a, None)
    with pytest.raises(PermissionDenied, match="working on the project"):
        activity.record(session=db, access=client, now=T0)


def test_time_is_tracked_only_on_your_own_problem_sets(bench: Bench) -> None:
    db, world = bench.db, bench.world
    reviewer = project_access(session=db, actor=world.reviewer_a, project_id=world.project_a.id)
    with pytest.raises(PermissionDenied, match="your own problem sets"):
        activity.record(session=db, access=reviewer, loaded=bench.loaded, now=T0)
    assert activity.record(session=db, access=reviewer, now=T0) is not None


def test_a_problem_set_of_another_project_is_refused(bench: Bench) -> None:
    """Time of a problem set never lands on another project (and so another client's bill)."""
    db, world = bench.db, bench.world
    on_a = project_access(session=db, actor=world.operator, project_id=world.project_a.id)
    on_b = project_access(session=db, actor=world.operator, project_id=world.project_b.id)
    ps_a = problem_sets.create(session=db, access=on_a, title="Operator's own")
    with pytest.raises(ValidationFailed, match="not in this project"):
        activity.record(session=db, access=on_b, loaded=Loaded(on_a, ps_a), now=T0)
    assert activity.record(session=db, access=on_a, loaded=Loaded(on_a, ps_a), now=T0)
