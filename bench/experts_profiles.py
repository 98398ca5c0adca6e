"""Generate N synthetic expert profiles (default 1,000,000) into SQLite and/or PostgreSQL, then
build the matching index through ExpertLoop's own ``search_index.rebuild`` and report its build
time and size.

The profiles are streamed (never held in memory) from one seeded generator, so both databases get
the very same experts. Distributions are skewed like a real network: domains and specialties
Zipf-like (software and medicine lead), 1-3 domains each, countries weighted by where such
networks recruit (US, India, UK, Germany, Brazil, ...), each with its IANA time zone and offset,
its native language plus English at B1..C2 for most and a third language for some, weekly hours
5..40 (20 is the mode), hourly rates log-normal by domain in USD or the local currency, a quality
score for about half of them, 70 % approved and the rest spread over the other vetting states,
credentials and education from per-domain lists, and a résumé of 120-350 words drawn from the
expert's specialty, domain and a general vocabulary, with Zipf weights (some words are common,
most are rare, as in real text).

How: the database is made by the real migrations; one operator-made expert goes through the ORM
as a template of the stored formats, then users, profiles, domain and language rows are written
straight to the tables (SQLite ``executemany``, PostgreSQL ``COPY``): a shortcut only a benchmark
may take (no events, no audit log). The index is then built by the app's ``rebuild`` (documents
assembled in Python, written by SQLAlchemy; SQLite FTS5 fills through its triggers, PostgreSQL
its trigger writes the head and body tsvectors, migration 0012). On PostgreSQL the two GIN indexes
are dropped before and made after the bulk write (timed separately), as one does for a bulk load.
The synthetic experts have no candidate rows and no interview transcript.

    .venv/bin/python bench/experts_profiles.py --profiles 100000 \\
        --sqlite /tmp/el-match/bench.sqlite3 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/el_match_bench
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from expertloop.accounts.models import OrganisationKind, Role, User
from expertloop.db import make_engine, make_session_factory, transaction, upgrade
from expertloop.experts import search_index, taxonomy
from expertloop.experts.models import ExpertProfile
from expertloop.settings import Settings

SECRET_KEY = "bench-secret-key-for-a-throwaway-data-dir-0123456789"
CHUNK = 5000

# country: weight, time zone, UTC offset (minutes), native language, local currency
COUNTRIES: dict[str, tuple[float, str, int, str, str]] = {
    "US": (18, "America/New_York", -300, "en", "USD"),
    "IN": (12, "Asia/Kolkata", 330, "hi", "INR"),
    "GB": (6, "Europe/London", 0, "en", "GBP"),
    "DE": (5, "Europe/Berlin", 60, "de", "EUR"),
    "BR": (4, "America/Sao_Paulo", -180, "pt-BR", "BRL"),
    "CA": (4, "America/Toronto", -300, "en", "CAD"),
    "FR": (4, "Europe/Paris", 60, "fr", "EUR"),
    "NG": (3, "Africa/Lagos", 60, "en", "NGN"),
    "PH": (3, "Asia/Manila", 480, "tl", "PHP"),
    "ES": (3, "Europe/Madrid", 60, "es", "EUR"),
    "MX": (3, "America/Mexico_City", -360, "es", "MXN"),
    "PK": (2, "Asia/Karachi", 300, "ur", "PKR"),
    "EG": (2, "Africa/Cairo", 120, "ar", "EGP"),
    "KE": (2, "Africa/Nairobi", 180, "sw", "KES"),
    "ZA": (2, "Africa/Johannesburg", 120, "en", "ZAR"),
    "AU": (2, "Australia/Sydney", 600, "en", "AUD"),
    "IT": (2, "Europe/Rome", 60, "it", "EUR"),
    "NL": (1.5, "Europe/Amsterdam", 60, "nl", "EUR"),
    "PL": (1.5, "Europe/Warsaw", 60, "pl", "PLN"),
    "JP": (1.5, "Asia/Tokyo", 540, "ja", "JPY"),
    "AR": (1.5, "America/Argentina/Buenos_Aires", -180, "es", "ARS"),
    "TR": (1.5, "Europe/Istanbul", 180, "tr", "TRY"),
    "SA": (1, "Asia/Riyadh", 180, "ar", "SAR"),
    "AE": (1, "Asia/Dubai", 240, "ar", "AED"),
    "IL": (1, "Asia/Jerusalem", 120, "he", "ILS"),
    "SE": (1, "Europe/Stockholm", 60, "sv", "SEK"),
    "UA": (1, "Europe/Kyiv", 120, "uk", "UAH"),
    "VN": (1, "Asia/Ho_Chi_Minh", 420, "vi", "VND"),
    "KR": (1, "Asia/Seoul", 540, "ko", "KRW"),
    "CN": (1, "Asia/Shanghai", 480, "zh", "CNY"),
}
STATES = {
    "approved": 70, "applied": 8, "assessment": 6, "interview": 5, "work_sample": 3,
    "rejected": 5, "paused": 2, "withdrawn": 1,
}  # fmt: skip
# Median hourly rate in USD per domain (log-normal around it).
RATES = {
    "medicine": 120, "law": 110, "finance": 95, "accounting": 70, "software": 80,
    "mechanical_engineering": 65, "electrical_engineering": 65, "civil_engineering": 60,
    "business_strategy": 90, "chemistry": 60, "physics": 65, "mathematics": 60,
}  # fmt: skip
USD_PER = {"EUR": 1.08, "GBP": 1.27, "INR": 0.012, "BRL": 0.2, "CAD": 0.73}
HOURS = ([5, 10, 15, 20, 25, 30, 40], [8, 20, 14, 26, 10, 12, 10])
# Stored as the enum member names (SQLAlchemy Enum), i.e. lower case.
LEVELS = (["b1", "b2", "c1", "c2"], [10, 30, 40, 20])

GENERAL = """experience project team clients delivered led managed designed improved reviewed
analysis reports research stakeholders quality process training mentored junior senior budget
strategy deadlines documentation presentations international cross-functional regulatory
compliance standards audits published papers conference workshop coordinated implemented
developed evaluated assessed guidelines best practices data results outcomes reduced increased
efficiency cost risk communication remote consulting freelance years responsible lead principal
expert specialist advisor contributor volunteer teaching university hospital firm company startup
agency government nonprofit committee board certification license member association fellow
award grant patent author editor peer review tutoring annotation evaluation ai models writing
""".split()  # noqa: SIM905
DOMAIN_WORDS: dict[str, str] = {
    "medicine": "patients clinical diagnosis treatment hospital ward physician residency "
    "therapy trials guidelines care protocols imaging triage prescribing chronic acute "
    "inpatient outpatient evidence",
    "law": "contracts litigation counsel clients court drafting negotiation compliance "
    "regulatory statutes precedent filings arbitration disputes advisory due diligence "
    "agreements tribunal legislation",
    "finance": "valuation portfolio markets equity debt derivatives modelling forecasting "
    "capital liquidity trading credit hedging returns investors fund treasury pricing",
    "accounting": "ledger reconciliation statements ifrs gaap audit tax payroll closing "
    "accruals controls invoices budgeting variance receivable payable reporting",
    "software": "python java typescript kubernetes docker microservices api database "
    "cloud aws latency testing deployment frontend backend react postgres scalability "
    "distributed pipelines",
    "mechanical_engineering": "cad tolerances prototypes thermal stress fatigue "
    "machining assembly solidworks simulation fea turbines pumps gears",
    "electrical_engineering": "circuits pcb voltage power grid firmware sensors "
    "microcontrollers signals filters inverters transformers fpga",
    "civil_engineering": "structures concrete steel bridges foundations soils "
    "surveying drainage permits construction site loads codes",
    "business_strategy": "market growth pricing operations supply chain "
    "transformation benchmarking competitors revenue acquisitions roadmap",
    "chemistry": "synthesis spectroscopy chromatography reactions catalysts polymers "
    "laboratory titration compounds assays",
    "physics": "experiments simulations quantum particles optics lasers cosmology "
    "detectors thermodynamics theory",
    "mathematics": "proofs statistics probability optimisation algebra modelling "
    "regression inference combinatorics topology",
}
CREDENTIALS: dict[str, list[str]] = {
    "medicine": ["MD", "Board certification", "MRCP", "Fellowship"],
    "law": ["Bar admission", "LLM", "Solicitor", "Notary"],
    "finance": ["CFA charterholder", "FRM", "Series 7", "CAIA"],
    "accounting": ["CPA", "ACCA", "CIMA", "Chartered accountant"],
    "software": ["AWS Certified Solutions Architect", "CKA", "OSCP", "Google Professional"],
    "mechanical_engineering": ["PE license", "Chartered engineer", "Six Sigma"],
    "electrical_engineering": ["PE license", "Chartered engineer", "IPC certified"],
    "civil_engineering": ["PE license", "Chartered engineer", "PMP"],
    "business_strategy": ["MBA", "PMP", "Chartered manager"],
    "chemistry": ["PhD", "Chartered chemist"],
    "physics": ["PhD", "Chartered physicist"],
    "mathematics": ["PhD", "Accredited statistician"],
}
DEGREES = ["BSc", "MSc", "PhD", "BA", "MA", "MBA", "MD", "LLB", "BEng", "MEng"]
SCHOOLS = [
    "University of Toronto", "Technical University of Munich", "IIT Bombay", "University of Lagos",
    "Universidade de São Paulo", "Sorbonne University", "University of Melbourne",
    "National University of Singapore", "Cairo University", "University of Nairobi",
    "Stanford University", "University of Manchester", "Tsinghua University", "ETH Zurich",
]  # fmt: skip
FIRST = [
    "Amara",
    "Ben",
    "Chen",
    "Dana",
    "Elif",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kavya",
    "Luca",
    "Maya",
    "Noor",
    "Omar",
    "Priya",
    "Rafael",
    "Sara",
    "Tomas",
    "Uma",
    "Vera",
    "Wei",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adeyemi",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Umar",
    "Varga",
    "Wang",
    "Yilmaz",
    "Zhou",
]


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    """Return Zipf-like weights for ranks 1..n."""
    return [1 / (r**s) for r in range(1, n + 1)]


@dataclass
class Generated:
    """The rows of one expert."""

    user: tuple[Any, ...]
    profile: tuple[Any, ...]
    domains: list[tuple[Any, ...]]
    languages: list[tuple[Any, ...]]


class Generator:
    """A seeded stream of synthetic experts; the same seed gives the same experts."""

    def __init__(self, seed: int, org_id: int, password_hash: str, stamp: Any) -> None:
        self.rng = random.Random(seed)
        self.org_id = org_id
        self.password_hash = password_hash
        self.stamp = stamp
        self.tax = taxonomy.domains()
        self.domain_keys = list(self.tax)
        self.domain_w = zipf_weights(len(self.domain_keys), 0.9)
        self.spec = {k: list(d.specialties) for k, d in self.tax.items()}
        self.spec_w = {k: zipf_weights(len(v), 0.8) for k, v in self.spec.items()}
        self.countries = list(COUNTRIES)
        self.country_w = [COUNTRIES[c][0] for c in self.countries]
        self.states = list(STATES)
        self.state_w = list(STATES.values())
        self.general_w = zipf_weights(len(GENERAL), 0.7)
        self.vocab: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
        for d in self.domain_keys:
            dwords = DOMAIN_WORDS.get(d, "").split()
            for s in self.spec[d]:
                swords = [w.lower() for w in self.tax[d].specialties[s].split() if len(w) > 3]
                words = swords + dwords + GENERAL
                weights = (
                    [6.0] * len(swords)
                    + [w * 2.5 for w in zipf_weights(len(dwords), 0.6)]
                    + self.general_w
                )
                cum = list(_accumulate(weights))
                self.vocab[(d, s)] = (words, cum)

    def expert(self, user_id: int) -> Generated:
        """Return the rows of expert ``user_id``."""
        rng = self.rng
        n_domains = rng.choices((1, 2, 3), (70, 25, 5))[0]
        domains: list[tuple[str, str]] = []
        while len(domains) < n_domains:
            d = rng.choices(self.domain_keys, self.domain_w)[0]
            s = rng.choices(self.spec[d], self.spec_w[d])[0]
            if (d, s) not in domains:
                domains.append((d, s))
        d0, s0 = domains[0]
        country = rng.choices(self.countries, self.country_w)[0]
        _, zone, offset, native, local = COUNTRIES[country]
        langs = [(native, "native")]
        if native != "en" and rng.random() < 0.85:
            langs.append(("en", rng.choices(*LEVELS)[0]))
        if rng.random() < 0.25:
            third = rng.choice(["fr", "es", "de", "ar", "pt-BR", "zh", "ru", "it"])
            if all(third != code for code, _ in langs):
                langs.append((third, rng.choice(["a2", "b1", "b2"])))
        years = min(45, max(1, int(rng.lognormvariate(2.2, 0.6))))
        currency = local if local in USD_PER and rng.random() < 0.5 else "USD"
        usd = RATES.get(d0, 70) * rng.lognormvariate(0, 0.35)
        rate = round(usd / USD_PER.get(currency, 1.0)) * 100
        quality = round(rng.betavariate(5, 2), 3) if rng.random() < 0.5 else None
        state = rng.choices(self.states, self.state_w)[0]
        label = self.tax[d0].specialties[s0]
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        headline = f"{label} {rng.choice(['specialist', 'consultant', 'lead', 'expert'])}, " \
            f"{years} years"  # fmt: skip
        words, cum = self.vocab[(d0, s0)]
        resume = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(120, 350)))
        creds = [
            {"title": rng.choice(CREDENTIALS.get(d, ["Certificate"])), "year": 2024 - years // 2}
            for d, _ in domains[:2]
        ]
        edu = [{"degree": rng.choice(DEGREES), "institution": rng.choice(SCHOOLS)}]
        hours = rng.choices(*HOURS)[0]
        user = (
            user_id, self.org_id, f"expert{user_id}@bench.expertloop.invalid", name, "expert",
            self.password_hash, True, self.stamp, self.stamp,
        )  # fmt: skip
        profile = (
            user_id, headline, years, json.dumps(creds), json.dumps(edu), country, zone, offset,
            hours, "[]", rate, currency, "", resume, "[]", quality, state, self.stamp, 1,
        )  # fmt: skip
        return Generated(
            user,
            profile,
            [(d, s) for d, s in domains],
            langs,
        )


def _accumulate(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


USER_COLS = (
    "id", "organisation_id", "email", "name", "role", "password_hash", "is_active",
    "created_at", "password_changed_at",
)  # fmt: skip
PROFILE_COLS = (
    "user_id", "headline", "years_experience", "credentials", "education", "country",
    "time_zone", "utc_offset_minutes", "weekly_hours", "availability", "rate_minor",
    "rate_currency", "phone", "resume", "links", "quality_score", "vetting_state", "updated_at",
    "version",
)  # fmt: skip


def settings_for(url: str, data_dir: Path) -> Settings:
    """Return settings for a throwaway benchmark database."""
    return Settings(  # type: ignore[call-arg]
        env="test", database_url=url, data_dir=data_dir, secret_key=SECRET_KEY
    )


def fresh_database(url: str) -> None:
    """Drop and create the database (PostgreSQL) or delete the file (SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def template(engine: Engine) -> tuple[int, str, Any, int]:
    """Make the expert organisation and one expert through the ORM; return formats to copy."""
    from expertloop.accounts import users as users_uc

    factory = make_session_factory(engine)
    with transaction(factory) as db:
        org = users_uc.operator_organisation(session=db) or users_uc.create_organisation(
            session=db, name="Bench operators", kind=OrganisationKind.operator
        )
        user = User(
            organisation_id=org.id,
            email="template@bench.expertloop.invalid",
            name="Template Expert",
            role=Role.expert,
            password_hash="!bench-no-login",
        )
        db.add(user)
        db.flush()
        db.add(ExpertProfile(user_id=user.id, headline="Template", resume="template"))
        db.flush()
        uid = user.id
        org_id = org.id
    with engine.connect() as conn:
        stamp = conn.execute(
            text("SELECT created_at FROM users WHERE id = :i"), {"i": uid}
        ).scalar()
    return org_id, "!bench-no-login", stamp, uid


def load_sqlite(path: str, gen: Generator, first_id: int, n: int, progress: Progress) -> None:
    """Write ``n`` experts with plain sqlite3 executemany, in chunks."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=OFF", "cache_size=-200000"):
        db.execute(f"PRAGMA {pragma}")
    ins_user = (
        f"INSERT INTO users ({','.join(USER_COLS)}) VALUES ({','.join('?' * len(USER_COLS))})"
    )
    ins_prof = (
        f"INSERT INTO expert_profiles ({','.join(PROFILE_COLS)}) "
        f"VALUES ({','.join('?' * len(PROFILE_COLS))})"
    )
    ins_dom = "INSERT INTO expert_profile_domains (user_id, domain, specialty) VALUES (?, ?, ?)"
    ins_lang = "INSERT INTO expert_profile_languages (user_id, language, level) VALUES (?, ?, ?)"
    task = progress.add_task("sqlite: profiles", total=n)
    uid = first_id
    done = 0
    while done < n:
        users, profiles, doms, langs = [], [], [], []
        for _ in range(min(CHUNK, n - done)):
            g = gen.expert(uid)
            users.append(g.user)
            profiles.append(g.profile)
            doms.extend((uid, d, s) for d, s in g.domains)
            langs.extend((uid, lang, level) for lang, level in g.languages)
            uid += 1
        db.execute("BEGIN")
        db.executemany(ins_user, users)
        db.executemany(ins_prof, profiles)
        db.executemany(ins_dom, doms)
        db.executemany(ins_lang, langs)
        db.execute("COMMIT")
        done += len(users)
        progress.update(task, completed=done)
    db.close()


def load_pg(url: str, gen: Generator, first_id: int, n: int, progress: Progress) -> None:
    """Write ``n`` experts with COPY, in chunks."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    task = progress.add_task("postgresql: profiles", total=n)
    with psycopg.connect(conninfo) as conn:
        uid = first_id
        done = 0
        while done < n:
            batch = [gen.expert(uid + i) for i in range(min(CHUNK, n - done))]
            uid += len(batch)
            with conn.cursor() as cur:
                with cur.copy(f"COPY users ({','.join(USER_COLS)}) FROM STDIN") as copy:
                    for g in batch:
                        copy.write_row(g.user)
                with cur.copy(
                    f"COPY expert_profiles ({','.join(PROFILE_COLS)}) FROM STDIN"
                ) as copy:
                    for g in batch:
                        copy.write_row(g.profile)
                with cur.copy(
                    "COPY expert_profile_domains (user_id, domain, specialty) FROM STDIN"
                ) as copy:
                    for g in batch:
                        for d, s in g.domains:
                            copy.write_row((g.user[0], d, s))
                with cur.copy(
                    "COPY expert_profile_languages (user_id, language, level) FROM STDIN"
                ) as copy:
                    for g in batch:
                        for lang, level in g.languages:
                            copy.write_row((g.user[0], lang, level))
            conn.commit()
            done += len(batch)
            progress.update(task, completed=done)
        with conn.cursor() as cur:
            for table in ("users", "expert_profile_domains", "expert_profile_languages"):
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
        conn.commit()


# The GIN indexes of migration 0012 (dropped for the bulk write, made after it).
PG_GIN = {"ix_expert_search_vectors_head": "head", "ix_expert_search_vectors_body": "body"}


def build_index(engine: Engine, n: int, progress: Progress) -> dict[str, float]:
    """Build the search index with the app's rebuild; return timings (seconds) and sizes (MB)."""
    dialect = engine.dialect.name
    out: dict[str, float] = {}
    factory = make_session_factory(engine)
    if dialect == "postgresql":
        with engine.begin() as conn:
            for index in PG_GIN:
                conn.execute(text(f"DROP INDEX IF EXISTS {index}"))
    task = progress.add_task(f"{dialect}: index", total=n + 1)
    start = time.perf_counter()
    with transaction(factory) as db:
        search_index.rebuild(db, chunk=CHUNK, progress=lambda k: progress.update(task, completed=k))
    out["documents_s"] = time.perf_counter() - start
    if dialect == "postgresql":
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
            for index, column in PG_GIN.items():
                conn.execute(
                    text(f"CREATE INDEX {index} ON expert_search_vectors USING gin ({column})")
                )
        out["gin_s"] = time.perf_counter() - start
    start = time.perf_counter()
    if dialect == "postgresql":
        # What autovacuum does on a live database: statistics and the visibility map (so the
        # covering indexes of matching can answer from the index alone).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        if dialect == "sqlite":
            conn.execute(
                text("INSERT INTO expert_search_fts (expert_search_fts) VALUES ('optimize')")
            )
    out["analyze_optimize_s"] = time.perf_counter() - start
    progress.update(task, completed=n + 1)
    out.update(sizes(engine))
    return out


def sizes(engine: Engine) -> dict[str, float]:
    """Return the sizes (MB) of the profiles, the documents and the full-text index."""
    mb = 1024 * 1024
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = dict(
                conn.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
            )
            fts = sum(v for k, v in rows.items() if k.startswith("expert_search_fts"))
            head = sum(v for k, v in rows.items() if k.startswith("expert_search_head"))
            return {
                "profiles_mb": rows.get("expert_profiles", 0) / mb,
                "documents_mb": rows.get("expert_search_docs", 0) / mb,
                "fulltext_index_mb": fts / mb,
                "head_index_mb": head / mb,
                "database_mb": sum(rows.values()) / mb,
            }
        q = conn.execute(
            text(
                "SELECT pg_total_relation_size('expert_profiles'), "
                "pg_table_size('expert_search_docs'), "
                "pg_relation_size('expert_search_vectors'), "
                "pg_table_size('expert_search_vectors') "
                "- pg_relation_size('expert_search_vectors'), "
                "pg_relation_size('ix_expert_search_vectors_body'), "
                "pg_relation_size('ix_expert_search_vectors_head'), "
                "pg_database_size(current_database())"
            )
        ).one()
        return {
            "profiles_mb": q[0] / mb,
            "documents_mb": q[1] / mb,
            "vectors_heap_mb": q[2] / mb,
            "vectors_toast_mb": q[3] / mb,
            "fulltext_index_mb": q[4] / mb,
            "head_index_mb": q[5] / mb,
            "database_mb": q[6] / mb,
        }


def run_one(url: str, n: int, seed: int, data_dir: Path, progress: Progress) -> dict[str, Any]:
    """Make a fresh database at ``url`` with ``n`` profiles and its index; return the figures."""
    fresh_database(url)
    settings = settings_for(url, data_dir)
    engine = make_engine(settings)
    upgrade(engine)
    org_id, pw, stamp, template_id = template(engine)
    gen = Generator(seed, org_id, pw, stamp)
    start = time.perf_counter()
    if engine.dialect.name == "sqlite":
        load_sqlite(make_url(url).database or "", gen, template_id + 1, n, progress)
    else:
        load_pg(url, gen, template_id + 1, n, progress)
    figures: dict[str, Any] = {"profiles": n, "load_s": time.perf_counter() - start}
    figures.update(build_index(engine, n + 1, progress))
    engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sqlite", help="SQLite file to (re)create", default="")
    parser.add_argument("--pg", help="PostgreSQL URL of a database to (re)create", default="")
    parser.add_argument("--data-dir", default="/tmp/el-match-bench")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    args = parser.parse_args()
    if not args.sqlite and not args.pg:
        parser.error("give --sqlite PATH and/or --pg URL")
    print(common.machine_line())
    results: dict[str, Any] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as progress:
        if args.sqlite:
            results["sqlite"] = run_one(
                f"sqlite:///{args.sqlite}", args.profiles, args.seed, Path(args.data_dir), progress
            )
        if args.pg:
            results["postgresql"] = run_one(
                args.pg, args.profiles, args.seed, Path(args.data_dir), progress
            )
    for name, figures in results.items():
        print(f"\n{name}: {figures['profiles']:,} profiles")
        for key, value in figures.items():
            if key != "profiles":
                print(f"  {key:>22}: {value:,.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
