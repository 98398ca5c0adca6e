"""The demo's expert network: synthetic profiles (deterministic) so that matching shows something.

Names, places and résumés are invented; the résumé sentences are built from a few domain
phrases, so free-text search has real words to rank on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

FIRST = (
    "Aisha",
    "Bruno",
    "Chen",
    "Daniela",
    "Emeka",
    "Farah",
    "Gustavo",
    "Hana",
    "Ivan",
    "Jiwoo",
    "Kwame",
    "Leila",
    "Mateo",
    "Nadia",
    "Omar",
    "Paola",
    "Quinn",
    "Ravi",
    "Sofia",
    "Tariq",
    "Ursula",
    "Viktor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zara",
)
LAST = (
    "Abara",
    "Berger",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fernandes",
    "Guo",
    "Haddad",
    "Ishikawa",
    "Jovanovic",
    "Kaur",
    "Lindqvist",
    "Mensah",
    "Nakamura",
    "Okafor",
    "Petrova",
    "Quispe",
    "Rahman",
    "Silva",
    "Tanaka",
    "Usman",
    "Varga",
    "Wójcik",
    "Yilmaz",
    "Zhou",
)

# country, IANA time zone, UTC offset in minutes, languages spoken there (besides English)
PLACES = (
    ("US", "America/New_York", -300, ("es",)),
    ("GB", "Europe/London", 0, ()),
    ("DE", "Europe/Berlin", 60, ("de",)),
    ("FR", "Europe/Paris", 60, ("fr",)),
    ("BR", "America/Sao_Paulo", -180, ("pt-BR",)),
    ("IN", "Asia/Kolkata", 330, ("hi",)),
    ("NG", "Africa/Lagos", 60, ("yo",)),
    ("EG", "Africa/Cairo", 120, ("ar",)),
    ("JP", "Asia/Tokyo", 540, ("ja",)),
    ("MX", "America/Mexico_City", -360, ("es",)),
    ("CA", "America/Toronto", -300, ("fr",)),
    ("KE", "Africa/Nairobi", 180, ("sw",)),
)

# domain -> (specialties, headline pattern, résumé phrases)
DOMAINS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "finance": (
        ("corporate_finance", "financial_planning", "risk_management", "asset_management"),
        "{years} years in {spec}",
        (
            "built three-statement models and rolling cash-flow forecasts for retail groups",
            "led the annual budget and variance analysis for a business unit",
            "valued acquisitions with discounted cash flow and comparable multiples",
            "designed stress tests for credit and liquidity risk",
            "reported monthly to the CFO on working capital and capital expenditure",
        ),
    ),
    "accounting": (
        ("audit", "tax", "financial_reporting", "management_accounting"),
        "Chartered accountant, {years} years in {spec}",
        (
            "audited inventory, revenue recognition and lease accounting under IFRS 16",
            "prepared consolidated financial statements under US GAAP",
            "reviewed VAT and corporate income tax filings",
            "set up cost centres and activity-based costing",
        ),
    ),
    "medicine": (
        ("cardiology", "general_practice", "emergency_medicine", "pharmacology", "pediatrics"),
        "Physician, {years} years in {spec}",
        (
            "treated acute coronary syndromes and managed heart failure clinics",
            "wrote clinical guidelines on antibiotic prescribing and drug interactions",
            "triaged emergency department patients and taught residents",
            "ran a family practice with a focus on diabetes and hypertension",
        ),
    ),
    "law": (
        ("contract_law", "corporate_law", "privacy_law", "employment_law"),
        "Lawyer, {years} years of {spec}",
        (
            "drafted and negotiated supply, licensing and services contracts",
            "advised on GDPR compliance, data processing agreements and breach notices",
            "handled employment disputes, dismissals and collective agreements",
            "ran due diligence for mergers and shareholder agreements",
        ),
    ),
    "software": (
        ("backend", "machine_learning", "security", "data_engineering"),
        "Software engineer, {years} years of {spec}",
        (
            "built Python and Go services handling payments at scale",
            "trained and evaluated language models and ranking systems",
            "ran penetration tests and threat modelling for web applications",
            "designed streaming data pipelines with Kafka and Spark",
        ),
    ),
    "civil_engineering": (
        ("structural", "geotechnical", "construction_management"),
        "Civil engineer, {years} years in {spec}",
        (
            "designed reinforced concrete frames and checked them against Eurocode 2",
            "supervised foundations, piling and slope stability works",
            "managed the schedule and budget of a hospital construction project",
        ),
    ),
}

LEVELS = ("B2", "C1", "C2", "native")


@dataclass(frozen=True)
class SyntheticExpert:
    """One invented approved expert with a full profile."""

    name: str
    email: str
    domain: str
    specialties: tuple[str, ...]
    headline: str
    years: int
    country: str
    time_zone: str
    utc_offset_minutes: int
    languages: tuple[tuple[str, str], ...]
    weekly_hours: int
    rate_minor: int
    resume: str
    quality_score: float | None = field(default=None)


def synthetic_experts(count: int, *, seed: int = 7) -> list[SyntheticExpert]:
    """Return ``count`` invented experts, the same ones for the same seed."""
    rng = random.Random(seed)  # demo data, not security
    people: list[SyntheticExpert] = []
    domain_keys = list(DOMAINS)
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = (
            domain_keys[i % len(domain_keys)] if i < len(domain_keys) else rng.choice(domain_keys)
        )
        specs, headline, phrases = DOMAINS[domain]
        chosen = tuple(rng.sample(specs, k=rng.randint(1, 2)))
        years = rng.randint(3, 25)
        country, tz, offset, local_langs = rng.choice(PLACES)
        languages = [("en", rng.choice(LEVELS))]
        languages += [(lang, "native") for lang in local_langs]
        resume = " ".join(
            f"{first} {sentence}." if n == 0 else sentence[0].upper() + sentence[1:] + "."
            for n, sentence in enumerate(rng.sample(phrases, k=min(3, len(phrases))))
        )
        people.append(
            SyntheticExpert(
                name=f"{first} {last}",
                email=f"{first}.{last}.{i}@network.expertloop.org".lower().replace("ó", "o"),
                domain=domain,
                specialties=chosen,
                headline=headline.format(years=years, spec=chosen[0].replace("_", " ")),
                years=years,
                country=country,
                time_zone=tz,
                utc_offset_minutes=offset,
                languages=tuple(languages),
                weekly_hours=rng.choice((5, 10, 15, 20, 30)),
                rate_minor=rng.randrange(60_00, 240_00, 5_00),
                resume=resume,
                quality_score=round(rng.uniform(0.6, 0.98), 2) if rng.random() < 0.7 else None,
            )
        )
    return people
