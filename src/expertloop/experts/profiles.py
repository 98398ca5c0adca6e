"""An expert's profile: validate it, save it (with its domain and language rows) and read it.

``save_profile`` is the one writer of ``ExpertProfile`` and its ``ProfileDomain`` and
``ProfileLanguage`` rows (the join page, the expert's own ``/profile`` page and API, the demo
seed). It checks every field against the taxonomy, ISO 3166-1 country codes, IANA time zones
(computing ``utc_offset_minutes``), ISO 4217-style currency codes and BCP 47-style language tags
with a CEFR level; copies the vetting state; and refreshes the matching search document.

Contact data (phone, links) and the résumé are for operators and the expert alone: ``get_profile``
answers ``NotFound`` to everyone else.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from expertloop.accounts.models import User
from expertloop.accounts.policies import is_operator
from expertloop.errors import Conflict, NotFound, ValidationFailed
from expertloop.events import emit
from expertloop.experts import events, pipeline, search_index, taxonomy
from expertloop.experts.models import (
    ExpertProfile,
    LanguageLevel,
    ProfileDomain,
    ProfileLanguage,
)
from expertloop.text import find_forbidden, normalise_newlines
from expertloop.types import utcnow

MAX_DOMAINS = 5
MAX_LANGUAGES = 12
MAX_LINKS = 10
MAX_ENTRIES = 20  # credentials, education, availability windows
MAX_RESUME = 20_000
MAX_HEADLINE = 200
MAX_WEEKLY_HOURS = 80
MAX_YEARS = 70
MAX_RATE_MINOR = 100_000 * 100  # 100,000 an hour: anything above is a typo

# ISO 3166-1 alpha-2 (officially assigned codes).
_COUNTRY_CODES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())
# Currencies offered first on forms; any three capital letters are accepted (ISO 4217 style).
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "INR", "BRL", "CAD", "AUD", "JPY", "CHF", "ZAR", "MXN")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# BCP 47, the usual subset: language (2-3 letters), optional script (4), optional region (2 / 3).
_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:-([A-Z][a-z]{3}))?(?:-([A-Z]{2}|[0-9]{3}))?$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,38}$")
_LINK = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass
class ProfileData:
    """What an expert tells about themself, as typed (``save_profile`` checks and cleans it).

    ``domains`` are ``(domain, specialty)`` pairs (specialty may be ""), the first one the main
    domain; ``languages`` are ``(tag, level)`` pairs with a ``LanguageLevel`` value ("C1",
    "native"); ``rate_minor`` is in minor units of ``rate_currency`` (None: not said).
    """

    headline: str = ""
    domains: list[tuple[str, str]] = field(default_factory=list)
    years_experience: int = 0
    country: str = ""
    time_zone: str = ""
    languages: list[tuple[str, str]] = field(default_factory=list)
    weekly_hours: int = 0
    rate_minor: int | None = None
    rate_currency: str = "USD"
    resume: str = ""
    links: list[str] = field(default_factory=list)
    phone: str = ""
    credentials: list[dict[str, Any]] = field(default_factory=list)
    education: list[dict[str, Any]] = field(default_factory=list)
    availability: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProfileView:
    """An expert's whole profile, contact data included (operators and the expert only)."""

    user_id: int
    name: str
    email: str
    data: ProfileData
    utc_offset_minutes: int
    vetting_state: str
    quality_score: float | None
    updated_at: dt.datetime
    version: int


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Return the IANA time zone names this system knows."""
    return frozenset(zoneinfo.available_timezones())


def utc_offset_minutes(time_zone: str, at: dt.datetime | None = None) -> int:
    """Return the zone's offset from UTC in minutes at ``at`` (default now)."""
    offset = (at or utcnow()).astimezone(zoneinfo.ZoneInfo(time_zone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def normalise_language(tag: str) -> str:
    """Return a BCP 47 tag in its usual case ("pt-br" -> "pt-BR"), or "" when it is not one."""
    parts = tag.strip().replace("_", "-").split("-")
    if not parts or not parts[0]:
        return ""
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.title() if len(part) == 4 else part.upper())
    candidate = "-".join(out)
    return candidate if _LANGUAGE.match(candidate) and len(candidate) <= 12 else ""


def _text(value: str, label: str, limit: int, errors: dict[str, str], key: str) -> str:
    value = normalise_newlines(value or "").strip()
    found = find_forbidden(value)
    if found is not None:
        errors[key] = f"{label} contains a control character (position {found[0] + 1})."
        return ""
    if len(value) > limit:
        errors[key] = f"{label} is too long: {len(value):,} characters, at most {limit:,}."
    return value


def _entries(
    items: list[dict[str, Any]], keys: tuple[str, ...], label: str, errors: dict[str, str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if len(items) > MAX_ENTRIES:
        errors[label] = f"At most {MAX_ENTRIES} {label} entries."
    for item in items[:MAX_ENTRIES]:
        if not isinstance(item, dict):
            errors[label] = f"Each {label} entry is an object."
            continue
        clean: dict[str, Any] = {}
        for key in keys:
            value = item.get(key)
            if value in (None, ""):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                clean[key] = int(value)
            else:
                clean[key] = _text(str(value), label.capitalize(), 300, errors, label)
        if clean:
            out.append(clean)
    return out


def _availability(items: list[dict[str, Any]], errors: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items[:MAX_ENTRIES]:
        day, start, end = item.get("day"), str(item.get("start", "")), str(item.get("end", ""))
        if not isinstance(day, int) or not 0 <= day <= 6 or not _TIME.match(start):
            errors["availability"] = "Each time window has a day (0 Monday … 6) and HH:MM times."
            continue
        if not _TIME.match(end) or end <= start:
            errors["availability"] = "Each time window ends after it starts (HH:MM)."
            continue
        out.append({"day": day, "start": start, "end": end})
    return out


def check(
    data: ProfileData, *, extra_file: Path | None = None
) -> tuple[ProfileData, dict[str, str]]:
    """Return the cleaned profile and the problems found, by field (empty when all is well)."""
    errors: dict[str, str] = {}
    headline = _text(data.headline, "Headline", MAX_HEADLINE, errors, "headline")
    if "\n" in headline:
        errors["headline"] = "Headline must be one line."

    domains: list[tuple[str, str]] = []
    for domain, specialty in data.domains:
        pair = (domain.strip(), (specialty or "").strip())
        if not pair[0] or pair in domains:
            continue
        try:
            taxonomy.check(pair[0], pair[1], extra_file=extra_file)
        except ValidationFailed as exc:
            errors[str(exc.details.get("field", "domain"))] = exc.message
            continue
        domains.append(pair)
    if not domains and "domain" not in errors and "specialty" not in errors:
        errors["domain"] = "Choose the domain you work in."
    if len(domains) > MAX_DOMAINS:
        errors["domain"] = f"Choose at most {MAX_DOMAINS} domains."

    if not 0 <= data.years_experience <= MAX_YEARS:
        errors["years_experience"] = f"Years of experience: 0 to {MAX_YEARS}."
    country = data.country.strip().upper()
    if country and country not in COUNTRIES:
        errors["country"] = f"{data.country!r} is not an ISO 3166 country code such as DE or BR."
    time_zone = data.time_zone.strip()
    if time_zone and time_zone not in time_zones():
        errors["time_zone"] = (
            f"{time_zone!r} is not an IANA time zone such as Europe/Berlin or America/Sao_Paulo."
        )

    languages: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw, level in data.languages:
        if not raw.strip():
            continue
        tag = normalise_language(raw)
        if not tag:
            errors["languages"] = f"{raw!r} is not a language tag such as en, ar or pt-BR."
            continue
        try:
            lvl = LanguageLevel(level.strip() if level.strip() == "native" else level.upper())
        except ValueError:
            errors["languages"] = f"Choose a level for {tag}: A1 … C2 or native."
            continue
        if tag in seen:
            errors["languages"] = f"{tag} is listed twice."
            continue
        seen.add(tag)
        languages.append((tag, lvl.value))
    if len(languages) > MAX_LANGUAGES:
        errors["languages"] = f"At most {MAX_LANGUAGES} languages."

    if not 0 <= data.weekly_hours <= MAX_WEEKLY_HOURS:
        errors["weekly_hours"] = f"Weekly hours: 0 to {MAX_WEEKLY_HOURS}."
    if data.rate_minor is not None and not 0 <= data.rate_minor <= MAX_RATE_MINOR:
        errors["rate"] = "The desired rate must be between 0 and 100,000 an hour."
    currency = data.rate_currency.strip().upper() or "USD"
    if not _CURRENCY.match(currency):
        errors["rate_currency"] = f"{data.rate_currency!r} is not a currency code such as USD."

    resume = _text(data.resume, "Résumé", MAX_RESUME, errors, "resume")
    phone = data.phone.strip()
    if phone and not _PHONE.match(phone):
        errors["phone"] = (
            "A phone number has digits, spaces and + ( ) - . only, e.g. +49 30 1234567."
        )
    links = [link.strip() for link in data.links if link.strip()]
    if len(links) > MAX_LINKS:
        errors["links"] = f"At most {MAX_LINKS} links."
    for link in links:
        if len(link) > 500 or not _LINK.match(link):
            errors["links"] = f"{link[:60]!r} is not a web address starting with https://."
            break

    cleaned = replace(
        data,
        headline=headline,
        domains=domains,
        country=country,
        time_zone=time_zone,
        languages=languages,
        rate_currency=currency,
        resume=resume,
        phone=phone,
        links=links[:MAX_LINKS],
        credentials=_entries(data.credentials, ("title", "issuer", "year"), "credentials", errors),
        education=_entries(
            data.education, ("degree", "institution", "field", "year"), "education", errors
        ),
        availability=_availability(data.availability, errors),
    )
    return cleaned, errors


def _may_edit(actor: User | None, user_id: int) -> bool:
    return actor is None or actor.id == user_id or is_operator(actor)


def save_profile(
    session: Session,
    *,
    actor: User | None,
    user_id: int,
    data: ProfileData,
    expected_version: int | None = None,
    extra_file: Path | None = None,
    ip: str | None = None,
) -> ExpertProfile:
    """Create or replace ``user_id``'s profile from ``data``; return the saved row.

    ``actor`` is the expert themself or an operator (None: a trusted caller such as the demo
    seed); anyone else gets ``NotFound``. Invalid input raises ``ValidationFailed`` whose
    ``details`` are ``{"field": first, "fields": {field: message}}``; ``expected_version`` (the
    version the form was loaded at) not matching raises ``Conflict``. The profile's vetting
    state is copied from the pipeline; the search document is refreshed.
    """
    if not _may_edit(actor, user_id) or session.get(User, user_id) is None:
        raise NotFound("Profile not found.")
    clean, problems = check(data, extra_file=extra_file)
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(problems[first], details={"field": first, "fields": problems})
    profile = session.get(ExpertProfile, user_id, with_for_update=True)
    if expected_version is not None and profile is not None and profile.version != expected_version:
        raise Conflict(
            "This profile was changed meanwhile (in another tab?); reload it and save again.",
            details={"version": profile.version},
        )
    created = profile is None
    if profile is None:
        profile = ExpertProfile(user_id=user_id, version=0)
        session.add(profile)
    profile.headline = clean.headline
    profile.years_experience = clean.years_experience
    profile.country = clean.country
    profile.time_zone = clean.time_zone
    profile.utc_offset_minutes = utc_offset_minutes(clean.time_zone) if clean.time_zone else 0
    profile.weekly_hours = clean.weekly_hours
    profile.rate_minor = clean.rate_minor
    profile.rate_currency = clean.rate_currency
    profile.resume = clean.resume
    profile.links = list(clean.links)
    profile.phone = clean.phone
    profile.credentials = list(clean.credentials)
    profile.education = list(clean.education)
    profile.availability = list(clean.availability)
    profile.vetting_state = pipeline.state_of_user(session, user_id)
    profile.updated_at = utcnow()
    profile.version = (profile.version or 0) + 1
    session.flush()
    session.execute(delete(ProfileDomain).where(ProfileDomain.user_id == user_id))
    session.execute(delete(ProfileLanguage).where(ProfileLanguage.user_id == user_id))
    session.add_all(ProfileDomain(user_id=user_id, domain=d, specialty=s) for d, s in clean.domains)
    session.add_all(
        ProfileLanguage(user_id=user_id, language=tag, level=LanguageLevel(level))
        for tag, level in clean.languages
    )
    session.flush()
    search_index.reindex(session, user_id)
    emit(
        events.ProfileSaved(
            actor_user_id=actor.id if actor else None,
            organisation_id=actor.organisation_id if actor else None,
            ip=ip,
            subject_type="user",
            subject_id=str(user_id),
            created=created,
            version=profile.version,
        ),
        session=session,
    )
    return profile


def get_profile(session: Session, *, actor: User, user_id: int) -> ProfileView | None:
    """Return ``user_id``'s whole profile for them or an operator (None: no profile yet).

    Anyone else gets ``NotFound`` (contact data and résumé are theirs and the operators').
    """
    user = session.get(User, user_id)
    if user is None or not (actor.id == user_id or is_operator(actor)):
        raise NotFound("Profile not found.")
    profile = session.get(ExpertProfile, user_id)
    if profile is None:
        return None
    domains = session.execute(
        select(ProfileDomain.domain, ProfileDomain.specialty)
        .where(ProfileDomain.user_id == user_id)
        .order_by(ProfileDomain.id)
    ).all()
    languages = session.execute(
        select(ProfileLanguage.language, ProfileLanguage.level)
        .where(ProfileLanguage.user_id == user_id)
        .order_by(ProfileLanguage.id)
    ).all()
    data = ProfileData(
        headline=profile.headline,
        domains=[(d, s) for d, s in domains],
        years_experience=profile.years_experience,
        country=profile.country,
        time_zone=profile.time_zone,
        languages=[(tag, level.value) for tag, level in languages],
        weekly_hours=profile.weekly_hours,
        rate_minor=profile.rate_minor,
        rate_currency=profile.rate_currency,
        resume=profile.resume,
        links=list(profile.links or []),
        phone=profile.phone,
        credentials=list(profile.credentials or []),
        education=list(profile.education or []),
        availability=list(profile.availability or []),
    )
    return ProfileView(
        user_id=user_id,
        name=user.name,
        email=user.email,
        data=data,
        utc_offset_minutes=profile.utc_offset_minutes,
        vetting_state=profile.vetting_state.value,
        quality_score=profile.quality_score,
        updated_at=profile.updated_at,
        version=profile.version,
    )
