"""Matching: each filter narrows, free text ranks the obvious match first, keyset pagination
returns every match exactly once, why each matched, and only operators search."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role, User
from expertloop.errors import NotFound, ValidationFailed
from expertloop.experts import matching, search_index, text_search
from expertloop.experts.matching import MatchQuery
from expertloop.experts.models import (
    Candidate,
    ExpertProfile,
    Interview,
    InterviewGuide,
    InterviewStatus,
    InterviewTurn,
    InvitationKind,
    LanguageLevel,
    ProfileDomain,
    ProfileLanguage,
    TurnRole,
    VettingState,
)
from tests.factories import make_user


def make_expert(
    db: Session,
    *,
    name: str | None = None,
    headline: str = "",
    resume: str = "",
    domains: tuple[tuple[str, str], ...] = (("software", "backend"),),
    languages: tuple[tuple[str, LanguageLevel], ...] = (("en", LanguageLevel.c2),),
    country: str = "DE",
    time_zone: str = "Europe/Berlin",
    offset: int = 60,
    weekly_hours: int = 20,
    rate_minor: int | None = 8000,
    currency: str = "USD",
    quality: float | None = None,
    state: VettingState | None = None,
    interview: tuple[str, ...] = (),
) -> User:
    """Make an expert with a profile (and a candidate when ``state`` is given), indexed."""
    user = make_user(db, Role.expert, name=name)
    db.add(
        ExpertProfile(
            user_id=user.id,
            headline=headline,
            resume=resume,
            country=country,
            time_zone=time_zone,
            utc_offset_minutes=offset,
            weekly_hours=weekly_hours,
            rate_minor=rate_minor,
            rate_currency=currency,
            quality_score=quality,
            vetting_state=state or VettingState.approved,
            credentials=[{"title": "Licensed engineer", "issuer": "VDI", "year": 2015}],
        )
    )
    db.flush()
    for domain, specialty in domains:
        db.add(ProfileDomain(user_id=user.id, domain=domain, specialty=specialty))
    for language, level in languages:
        db.add(ProfileLanguage(user_id=user.id, language=language, level=level))
    if state is not None or interview:
        candidate = Candidate(
            email=user.email,
            name=user.name,
            user_id=user.id,
            state=state or VettingState.approved,
            source=InvitationKind.operator,
        )
        db.add(candidate)
        db.flush()
        if interview:
            guide = db.query(InterviewGuide).filter_by(version=9000).one_or_none()
            if guide is None:
                guide = InterviewGuide(version=9000, system_prompt="ask", scoring_prompt="score")
                db.add(guide)
                db.flush()
            iv = Interview(
                candidate_id=candidate.id, guide_id=guide.id, status=InterviewStatus.completed
            )
            db.add(iv)
            db.flush()
            for seq, text in enumerate(interview):
                db.add(
                    InterviewTurn(
                        interview_id=iv.id,
                        seq=2 * seq,
                        role=TurnRole.interviewer,
                        text="Tell me about your work with zebrafish.",
                    )
                )
                db.add(
                    InterviewTurn(
                        interview_id=iv.id, seq=2 * seq + 1, role=TurnRole.candidate, text=text
                    )
                )
    db.flush()
    search_index.reindex(db, user.id)
    return user


@pytest.fixture
def operator(db: Session) -> User:
    return make_user(db, Role.operator)


def ids(page: matching.MatchPage) -> list[int]:
    return [i.user_id for i in page.items]


def run(db: Session, actor: User, **kw: object) -> list[int]:
    return ids(matching.search(db, actor, MatchQuery(**kw), limit=100))  # type: ignore[arg-type]


def test_each_filter_narrows(db: Session, operator: User) -> None:
    base = make_expert(db)
    law = make_expert(db, domains=(("law", "tax_law"),))
    cardio = make_expert(db, domains=(("medicine", "cardiology"),))
    onco = make_expert(db, domains=(("medicine", "oncology"),))
    french_b1 = make_expert(db, languages=(("fr", LanguageLevel.b1),))
    french_c1 = make_expert(db, languages=(("fr", LanguageLevel.c1), ("en", LanguageLevel.b2)))
    japan = make_expert(db, country="JP", time_zone="Asia/Tokyo", offset=540)
    few_hours = make_expert(db, weekly_hours=5)
    cheap = make_expert(db, rate_minor=3000)
    euro = make_expert(db, rate_minor=8000, currency="EUR")
    good = make_expert(db, quality=0.9)
    poor = make_expert(db, quality=0.3)
    interview = make_expert(db, state=VettingState.interview)
    everyone = {
        base.id,
        law.id,
        cardio.id,
        onco.id,
        french_b1.id,
        french_c1.id,
        japan.id,
        few_hours.id,
        cheap.id,
        euro.id,
        good.id,
        poor.id,
    }

    approved = set(run(db, operator))
    assert everyone <= approved and interview.id not in approved
    assert set(run(db, operator, domain="medicine")) == {cardio.id, onco.id}
    assert run(db, operator, domain="medicine", specialty="oncology") == [onco.id]
    assert set(run(db, operator, language="fr")) == {french_b1.id, french_c1.id}
    assert run(db, operator, language="fr", min_level=LanguageLevel.b2) == [french_c1.id]
    assert run(db, operator, country="JP") == [japan.id]
    assert run(db, operator, utc_offset_min=300, utc_offset_max=600) == [japan.id]
    assert few_hours.id not in run(db, operator, min_weekly_hours=10)
    assert few_hours.id in run(db, operator, min_weekly_hours=5)
    in_range = set(run(db, operator, rate_min=2000, rate_max=4000, currency="USD"))
    assert cheap.id in in_range and base.id not in in_range and euro.id not in in_range
    assert euro.id in run(db, operator, rate_min=7000, currency="EUR")
    assert set(run(db, operator, min_quality=0.5)) & {good.id, poor.id} == {good.id}
    assert run(db, operator, states=(VettingState.interview,)) == [interview.id]


def test_free_text_ranks_the_obvious_match_first(db: Session, operator: User) -> None:
    filler = "I have worked on many projects with teams across several countries."
    others = [make_expert(db, headline="Backend developer", resume=filler) for _ in range(4)]
    mention = make_expert(
        db, headline="Backend developer", resume=filler + " Once read about kubernetes."
    )
    obvious = make_expert(
        db,
        headline="Kubernetes platform engineer",
        resume="Ran Kubernetes clusters for ten years; wrote Kubernetes operators.",
    )
    page = matching.search(db, operator, MatchQuery(text="kubernetes"))
    assert ids(page) == [obvious.id, mention.id]
    assert all(o.id not in ids(page) for o in others)
    top = page.items[0]
    assert top.score > page.items[1].score
    assert "headline" in top.matched_in and "résumé" in top.matched_in
    assert any(s.match and s.text.lower() == "kubernetes" for s in top.snippet)
    assert top.why[0].startswith("The search text is in the headline")


def test_text_in_labels_credentials_and_interview(db: Session, operator: User) -> None:
    cardio = make_expert(db, domains=(("medicine", "cardiology"),))
    zebra = make_expert(db, interview=("I bred zebrafish for cardiac regeneration studies.",))
    assert run(db, operator, text="cardiology") == [cardio.id]
    found = matching.search(db, operator, MatchQuery(text="zebrafish", states=()))
    assert ids(found) == [zebra.id]
    # Only the candidate's own answers are indexed, not the interviewer's questions.
    assert found.items[0].matched_in == ["interview"]
    assert "VDI" in search_index.documents(db, [cardio.id])[0].credentials


def test_web_search_syntax(db: Session, operator: User) -> None:
    a = make_expert(db, headline="Tax lawyer in Munich")
    b = make_expert(db, headline="Tax accountant in Hamburg")
    assert set(run(db, operator, text="tax")) == {a.id, b.id}
    assert run(db, operator, text="tax -accountant") == [a.id]
    assert set(run(db, operator, text="munich or hamburg")) == {a.id, b.id}
    assert run(db, operator, text='"tax lawyer"') == [a.id]
    assert run(db, operator, text="lawyers") == [a.id]  # stemmed on both databases
    # Only stop words and punctuation: no text, so filters alone decide.
    assert {a.id, b.id} <= set(run(db, operator, text='the "" * ( OR'))


def test_fts5_query_quotes_everything() -> None:
    # FTS5 operators, brackets and stars typed by the operator are plain words here.
    assert matching.fts5_query('NEAR(a b) "x" AND -y OR z*') == (
        '("near a" AND "b" AND ("x" OR "z")) NOT "y"'
    )
    query = matching.fts5_query('kubernetes "site reliability" -java')
    assert query == '("kubernetes" AND "site reliability") NOT "java"'
    assert matching.fts5_query('c++ e-mail "unterminated') == '"c" AND "e mail" AND "unterminated"'
    assert matching.fts5_query("the of and") is None


def test_keyset_pagination_returns_every_match_once(db: Session, operator: User) -> None:
    made = []
    for i in range(23):
        # Ties on purpose: groups of equal documents score the same.
        made.append(make_expert(db, headline=f"Data engineer {'spark ' * (i % 4)}").id)
    for q in (MatchQuery(text="spark"), MatchQuery(text="engineer"), MatchQuery()):
        seen: list[int] = []
        after = None
        pages = 0
        while pages < 10:  # bounded: a cursor that does not advance would loop
            page = matching.search(db, operator, q, after=after, limit=5)
            seen += ids(page)
            pages += 1
            if page.next_cursor is None:
                break
            after = page.next_cursor
        everything = ids(matching.search(db, operator, q, limit=100))
        assert len(seen) == len(set(seen)) == len(everything)
        assert seen == everything
        assert pages == -(-len(everything) // 5)
    spark = [
        s
        for s in made
        if s in ids(matching.search(db, operator, MatchQuery(text="spark"), limit=100))
    ]
    assert len(spark) == 17


def test_cursor_of_another_search_is_refused(db: Session, operator: User) -> None:
    for _ in range(3):
        make_expert(db, headline="Rust developer")
    page = matching.search(db, operator, MatchQuery(text="rust"), limit=1)
    assert page.next_cursor
    with pytest.raises(ValidationFailed, match="start the search again"):
        matching.search(db, operator, MatchQuery(text="go"), after=page.next_cursor)
    with pytest.raises(ValidationFailed):
        matching.search(db, operator, MatchQuery(text="rust"), after="not-a-cursor")


def test_why_names_each_filter(db: Session, operator: User) -> None:
    expert = make_expert(
        db,
        domains=(("medicine", "cardiology"),),
        languages=(("fr", LanguageLevel.c1),),
        country="FR",
        time_zone="Europe/Paris",
        quality=0.8,
    )
    page = matching.search(
        db,
        operator,
        MatchQuery(
            domain="medicine",
            specialty="cardiology",
            language="fr",
            min_level=LanguageLevel.b2,
            country="FR",
            utc_offset_min=0,
            utc_offset_max=120,
            min_weekly_hours=10,
            rate_min=5000,
            rate_max=9000,
            currency="USD",
            min_quality=0.5,
        ),
    )
    assert ids(page) == [expert.id]
    why = page.items[0].why
    assert why == [
        "Works in Medicine: Cardiology",
        "Speaks fr (C1, at least B2)",
        "Lives in FR",
        "Time zone UTC+01:00 (Europe/Paris), within UTC+00:00 … UTC+02:00",
        "20 hours a week (wanted 10 or more)",
        "Rate 80.00 USD an hour, within 50.00 USD … 90.00 USD",
        "Quality score 0.80 (wanted 0.50 or more)",
        "Vetting: approved",
    ]


def test_results_carry_no_contact_data(db: Session, operator: User) -> None:
    expert = make_expert(db, headline="Actuary")
    page = matching.search(db, operator, MatchQuery(text="actuary"))
    item = page.items[0]
    assert item.user_id == expert.id
    assert not hasattr(item, "email") and not hasattr(item, "phone")
    assert expert.email not in repr(page)


def test_reindex_follows_changes_and_removal(db: Session, operator: User) -> None:
    expert = make_expert(db, headline="Welder")
    assert run(db, operator, text="welder") == [expert.id]
    profile = db.get(ExpertProfile, expert.id)
    assert profile is not None
    profile.headline = "Glassblower"
    db.flush()
    search_index.reindex(db, expert.id)
    assert run(db, operator, text="welder") == []
    assert run(db, operator, text="glassblower") == [expert.id]
    db.delete(profile)
    db.flush()
    search_index.reindex(db, expert.id)
    assert run(db, operator, text="glassblower") == []


def test_rebuild_writes_every_document(db: Session, operator: User) -> None:
    a = make_expert(db, headline="Cartographer")
    b = make_expert(db, headline="Cartographer and surveyor")
    seen: list[int] = []
    count = search_index.rebuild(db, chunk=1, progress=seen.append)
    assert count >= 2 and seen[-1] == count
    assert set(run(db, operator, text="cartographer")) == {a.id, b.id}


@pytest.mark.parametrize("role", [Role.client, Role.expert, Role.reviewer])
def test_only_operators_search(db: Session, role: Role) -> None:
    make_expert(db, headline="Anything")
    with pytest.raises(NotFound):
        matching.search(db, make_user(db, role), MatchQuery())


def test_meaningless_queries_are_refused(db: Session, operator: User) -> None:
    for kw, message in [
        ({"rate_min": 100}, "currency"),
        ({"rate_min": 500, "rate_max": 100, "currency": "USD"}, "above"),
        ({"specialty": "oncology"}, "domain"),
        ({"min_level": LanguageLevel.b2}, "language"),
        ({"utc_offset_min": 60, "utc_offset_max": 0}, "starts after"),
    ]:
        with pytest.raises(ValidationFailed, match=message):
            matching.search(db, operator, MatchQuery(**kw))  # type: ignore[arg-type]


def test_deactivated_experts_are_left_out_and_pages_stay_full(db: Session, operator: User) -> None:
    made = [make_expert(db, headline="Seismologist") for _ in range(9)]
    for user in made[1:6]:  # a run of deactivated accounts inside the first pages
        user.is_active = False
    db.flush()
    active = [made[0].id, *(u.id for u in made[6:])]
    page = matching.search(db, operator, MatchQuery(text="seismologist"), limit=2)
    assert len(page.items) == 2 and page.next_cursor
    rest = matching.search(
        db, operator, MatchQuery(text="seismologist"), after=page.next_cursor, limit=10
    )
    assert sorted(ids(page) + ids(rest)) == sorted(active) and rest.next_cursor is None
    assert sorted(run(db, operator, text="seismologist")) == sorted(active)


def test_head_matches_rank_before_body_matches(db: Session, operator: User) -> None:
    # The résumé repeats the word; the headline says it once: the headline still wins.
    body = make_expert(db, headline="Developer", resume="geodesy " * 30)
    head = make_expert(db, headline="Geodesy consultant", resume="Surveys and maps.")
    label = make_expert(db, domains=(("medicine", "cardiology"),), resume="geodesy")
    page = matching.search(db, operator, MatchQuery(text="geodesy"))
    assert ids(page)[0] == head.id and set(ids(page)[1:]) == {body.id, label.id}
    assert page.items[0].score >= text_search.HEAD_TIER > page.items[1].score
    assert page.items[2].score >= text_search.BODY_TIER
    # Domain labels are head too; a résumé-only word in the same profile ranks as body.
    both = matching.search(db, operator, MatchQuery(text="cardiology or geodesy"), limit=10)
    assert set(ids(both)[:2]) == {label.id, head.id} and ids(both)[2:] == [body.id]


@pytest.mark.parametrize("pool", [1, 2, 3, 5, 1000])
def test_bounded_pools_page_every_match_once(
    db: Session, operator: User, monkeypatch: pytest.MonkeyPatch, pool: int
) -> None:
    monkeypatch.setattr(text_search, "POOL", pool)
    heads = [make_expert(db, headline=f"Hydrologist {'river ' * (i % 3)}").id for i in range(5)]
    bodies = [
        make_expert(db, headline="Engineer", resume="hydrologist " * (i + 1)).id for i in range(4)
    ]
    german = make_expert(db, headline="Hydrologist", country="AT").id
    make_expert(db, headline="Hydrologist on leave", state=VettingState.paused)
    everyone = set(heads) | set(bodies) | {german}
    q = MatchQuery(text="hydrologist")
    seen: list[int] = []
    scores: list[float] = []
    after = None
    for _ in range(20):
        page = matching.search(db, operator, q, after=after, limit=2)
        seen += ids(page)
        scores += [i.score for i in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert len(seen) == len(set(seen)) and set(seen) == everyone
    assert scores == sorted(scores, reverse=True)  # tiers never go back up
    assert seen == ids(matching.search(db, operator, q, limit=100))
    if pool >= len(everyone):  # nothing left over: every match ranked, head tier first
        assert set(seen[:6]) == set(heads) | {german}
        assert all(s >= text_search.BODY_TIER for s in scores)
    else:
        assert scores[-1] == 0.0  # the rest tier, by user id
        rest = [uid for uid, s in zip(seen, scores, strict=True) if s == 0.0]
        assert rest == sorted(rest)
    # The pools count only experts that pass the filters.
    assert run(db, operator, text="hydrologist", country="AT") == [german]


def test_rest_tier_leaves_out_deactivated_experts(
    db: Session, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_search, "POOL", 2)
    made = [make_expert(db, headline="Volcanologist") for _ in range(8)]
    for user in made[3:6]:
        user.is_active = False
    db.flush()
    active = [u.id for u in made if u.is_active]
    seen: list[int] = []
    after = None
    for _ in range(10):
        page = matching.search(db, operator, MatchQuery(text="volcanologist"), after=after, limit=2)
        seen += ids(page)
        assert len(page.items) == 2 or page.next_cursor is None
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert sorted(seen) == sorted(active) and len(seen) == len(active)


def test_an_excluded_word_in_the_resume_excludes_a_head_match(db: Session, operator: User) -> None:
    keeps = make_expert(db, headline="Supply chain lead", resume="Warehouses and freight.")
    make_expert(db, headline="Supply chain lead", resume="Freight, then marketing.")
    assert run(db, operator, text='"supply chain" -marketing') == [keeps.id]
    assert text_search.has_negation("a -b") and not text_search.has_negation("e-mail")
