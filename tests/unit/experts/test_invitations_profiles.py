"""Profiles: save_profile checks every field (taxonomy, ISO country, IANA zone with its offset,
currency, BCP 47 languages with a level, links, phone), replaces the domain and language rows,
copies the vetting state, refreshes the search document, refuses a stale version and anyone
but the expert and operators; get_profile shows contact data to those two only."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from expertloop.accounts.models import Role
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import recent
from expertloop.experts import profiles, search_index
from expertloop.experts.models import ProfileDomain, ProfileLanguage, VettingState
from expertloop.experts.profiles import ProfileData
from tests.factories import make_user
from tests.unit.experts.test_pipeline import make_candidate


def _data(**kw: object) -> ProfileData:
    values: dict[str, object] = {
        "headline": "Structural engineer",
        "domains": [("civil_engineering", "structural"), ("mathematics", "")],
        "years_experience": 15,
        "country": "in",
        "time_zone": "Asia/Kolkata",
        "languages": [("hi", "native"), ("EN-gb", "c2")],
        "weekly_hours": 20,
        "rate_minor": 4000,
        "rate_currency": "inr",
        "resume": "Bridges and towers.",
        "links": ["https://example.org/cv"],
        "phone": "+91 22 1234 5678",
        "credentials": [{"title": "Chartered Engineer", "issuer": "IEI", "year": 2012}],
        "availability": [{"day": 5, "start": "09:00", "end": "13:00"}],
    }
    values.update(kw)
    return ProfileData(**values)  # type: ignore[arg-type]


def test_save_writes_rows_state_offset_and_the_search_document(db: Session) -> None:
    expert = make_user(db, Role.expert)
    row = profiles.save_profile(db, actor=expert, user_id=expert.id, data=_data())
    assert (row.country, row.rate_currency, row.utc_offset_minutes) == ("IN", "INR", 330)
    assert row.vetting_state == VettingState.approved and row.version == 1
    domains = db.execute(
        select(ProfileDomain.domain, ProfileDomain.specialty).where(
            ProfileDomain.user_id == expert.id
        )
    ).all()
    assert sorted(domains) == [("civil_engineering", "structural"), ("mathematics", "")]
    langs = db.execute(
        select(ProfileLanguage.language, ProfileLanguage.level).where(
            ProfileLanguage.user_id == expert.id
        )
    ).all()
    assert sorted((t, lv.value) for t, lv in langs) == [("en-GB", "C2"), ("hi", "native")]
    doc = db.execute(
        select(search_index.DOCS).where(search_index.DOCS.c.user_id == expert.id)
    ).one()
    assert "Structural engineer" in doc.headline and "Bridges" in doc.resume
    assert "Chartered Engineer" in doc.credentials
    assert recent(session=db, kind="experts.profile_saved", limit=1)[0].subject_id == str(expert.id)

    # Saving again replaces the rows (nothing left over) and bumps the version.
    again = profiles.save_profile(
        db, actor=expert, user_id=expert.id, expected_version=1,
        data=_data(domains=[("software", "backend")], languages=[("de", "B1")], time_zone=""),
    )  # fmt: skip
    assert again.version == 2 and again.utc_offset_minutes == 0
    assert db.scalars(
        select(ProfileDomain.domain).where(ProfileDomain.user_id == expert.id)
    ).all() == ["software"]
    assert db.scalars(
        select(ProfileLanguage.language).where(ProfileLanguage.user_id == expert.id)
    ).all() == ["de"]
    with pytest.raises(Conflict) as stale:
        profiles.save_profile(db, actor=expert, user_id=expert.id, expected_version=1, data=_data())
    assert stale.value.details == {"version": 2}


def test_a_candidates_profile_carries_their_state(db: Session) -> None:
    candidate = make_candidate(db, VettingState.interview, with_profile=False)
    assert candidate.user_id is not None
    row = profiles.save_profile(db, actor=None, user_id=candidate.user_id, data=_data())
    assert row.vetting_state == VettingState.interview


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"domains": [("astrology", "")]}, "domain"),
        ({"domains": [("law", "astrology")]}, "specialty"),
        ({"domains": []}, "domain"),
        ({"country": "XX"}, "country"),
        ({"time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"languages": [("english", "C1")]}, "languages"),
        ({"languages": [("en", "C7")]}, "languages"),
        ({"languages": [("en", "C1"), ("EN", "B1")]}, "languages"),
        ({"rate_currency": "dollars"}, "rate_currency"),
        ({"rate_minor": -1}, "rate"),
        ({"weekly_hours": 100}, "weekly_hours"),
        ({"years_experience": -2}, "years_experience"),
        ({"links": ["javascript:alert(1)"]}, "links"),
        ({"phone": "call me"}, "phone"),
        ({"headline": "two\nlines"}, "headline"),
        ({"resume": "bad \x00 byte"}, "resume"),
        ({"availability": [{"day": 9, "start": "09:00", "end": "10:00"}]}, "availability"),
        ({"availability": [{"day": 1, "start": "10:00", "end": "09:00"}]}, "availability"),
    ],
)
def test_each_field_is_checked(db: Session, change: dict[str, object], field: str) -> None:
    expert = make_user(db, Role.expert)
    with pytest.raises(ValidationFailed) as caught:
        profiles.save_profile(db, actor=expert, user_id=expert.id, data=_data(**change))
    assert field in caught.value.details["fields"], caught.value.details
    assert profiles.get_profile(db, actor=expert, user_id=expert.id) is None  # nothing saved


def test_only_the_expert_and_operators(db: Session) -> None:
    expert = make_user(db, Role.expert)
    profiles.save_profile(db, actor=expert, user_id=expert.id, data=_data())
    operator = make_user(db, Role.operator)
    view = profiles.get_profile(db, actor=operator, user_id=expert.id)
    assert view is not None and view.data.phone == "+91 22 1234 5678"
    assert view.data.resume == "Bridges and towers." and view.email == expert.email
    for role in (Role.client, Role.expert, Role.reviewer):
        other = make_user(db, role)
        with pytest.raises(NotFound):
            profiles.get_profile(db, actor=other, user_id=expert.id)
        with pytest.raises(NotFound):
            profiles.save_profile(db, actor=other, user_id=expert.id, data=_data())
    profiles.save_profile(db, actor=operator, user_id=expert.id, data=_data(headline="Edited"))
    assert profiles.get_profile(db, actor=expert, user_id=expert.id).data.headline == "Edited"  # type: ignore[union-attr]


def test_offsets_follow_the_zone_and_the_date() -> None:
    winter = dt.datetime(2026, 1, 15, 12, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 15, 12, tzinfo=dt.UTC)
    assert profiles.utc_offset_minutes("Europe/Berlin", winter) == 60
    assert profiles.utc_offset_minutes("Europe/Berlin", summer) == 120
    assert profiles.utc_offset_minutes("America/St_Johns", winter) == -210
    assert profiles.utc_offset_minutes("UTC", summer) == 0


@given(
    st.sampled_from(["en", "ar", "pt", "zh", "fil"]),
    st.sampled_from(["", "-hant", "-LATN"]),
    st.sampled_from(["", "-br", "-419", "-Gb"]),
)
def test_language_tags_are_normalised(lang: str, script: str, region: str) -> None:
    tag = profiles.normalise_language(lang.upper() + script + region)
    parts = tag.split("-")
    assert parts[0] == lang
    if script:
        assert parts[1] == script[1:].title()
    if region:
        assert parts[-1] == region[1:].upper()
    assert profiles.normalise_language(tag) == tag  # idempotent


@given(st.text(min_size=1, max_size=20))
def test_anything_else_is_no_language_tag_or_a_valid_one(raw: str) -> None:
    tag = profiles.normalise_language(raw)
    assert tag == "" or profiles._LANGUAGE.match(tag)
