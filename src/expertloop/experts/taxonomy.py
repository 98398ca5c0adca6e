"""The shipped taxonomy of expert domains and their specialties, extensible by a settings file.

``EXPERTLOOP_EXPERT_TAXONOMY_FILE`` may name a JSON file ``{"domain_key": {"label": ...,
"specialties": {"key": "Label", ...}}, ...}``: its domains are added to the shipped ones and its
specialties to theirs (a shipped label may be renamed; nothing shipped is removed, so stored
profiles always stay valid).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from expertloop.errors import ConfigurationError, ValidationFailed


@dataclass(frozen=True)
class Domain:
    """A domain of expertise and its specialties (key -> label)."""

    key: str
    label: str
    specialties: dict[str, str]


_SHIPPED: dict[str, tuple[str, dict[str, str]]] = {
    "medicine": (
        "Medicine",
        {
            "cardiology": "Cardiology",
            "oncology": "Oncology",
            "neurology": "Neurology",
            "pediatrics": "Pediatrics",
            "psychiatry": "Psychiatry",
            "radiology": "Radiology",
            "emergency_medicine": "Emergency medicine",
            "general_practice": "General practice",
            "surgery": "Surgery",
            "pharmacology": "Pharmacology",
            "dermatology": "Dermatology",
            "endocrinology": "Endocrinology",
            "infectious_disease": "Infectious disease",
            "obstetrics_gynecology": "Obstetrics and gynecology",
        },
    ),
    "law": (
        "Law",
        {
            "contract_law": "Contract law",
            "corporate_law": "Corporate law",
            "criminal_law": "Criminal law",
            "tax_law": "Tax law",
            "employment_law": "Employment law",
            "intellectual_property": "Intellectual property",
            "privacy_law": "Privacy and data protection",
            "litigation": "Litigation",
            "immigration_law": "Immigration law",
        },
    ),
    "finance": (
        "Finance",
        {
            "corporate_finance": "Corporate finance",
            "investment_banking": "Investment banking",
            "asset_management": "Asset management",
            "risk_management": "Risk management",
            "quantitative_finance": "Quantitative finance",
            "financial_planning": "Financial planning and analysis",
            "banking": "Banking",
            "insurance": "Insurance",
        },
    ),
    "accounting": (
        "Accounting",
        {
            "audit": "Audit",
            "tax": "Tax",
            "financial_reporting": "Financial reporting (IFRS, GAAP)",
            "management_accounting": "Management accounting",
            "forensic_accounting": "Forensic accounting",
            "bookkeeping": "Bookkeeping",
        },
    ),
    "software": (
        "Software engineering",
        {
            "backend": "Backend",
            "frontend": "Frontend",
            "mobile": "Mobile",
            "data_engineering": "Data engineering",
            "machine_learning": "Machine learning",
            "security": "Security",
            "devops": "DevOps and infrastructure",
            "databases": "Databases",
            "embedded": "Embedded systems",
        },
    ),
    "mechanical_engineering": (
        "Mechanical engineering",
        {
            "thermodynamics": "Thermodynamics",
            "fluid_mechanics": "Fluid mechanics",
            "manufacturing": "Manufacturing",
            "automotive": "Automotive",
            "aerospace": "Aerospace",
            "hvac": "HVAC",
            "robotics": "Robotics",
        },
    ),
    "electrical_engineering": (
        "Electrical engineering",
        {
            "power_systems": "Power systems",
            "electronics": "Electronics",
            "signal_processing": "Signal processing",
            "control_systems": "Control systems",
            "telecommunications": "Telecommunications",
            "semiconductors": "Semiconductors",
        },
    ),
    "civil_engineering": (
        "Civil engineering",
        {
            "structural": "Structural engineering",
            "geotechnical": "Geotechnical engineering",
            "transportation": "Transportation",
            "water_resources": "Water resources",
            "construction_management": "Construction management",
            "environmental": "Environmental engineering",
        },
    ),
    "business_strategy": (
        "Business strategy",
        {
            "management_consulting": "Management consulting",
            "operations": "Operations",
            "marketing": "Marketing",
            "supply_chain": "Supply chain",
            "mergers_acquisitions": "Mergers and acquisitions",
            "entrepreneurship": "Entrepreneurship",
            "human_resources": "Human resources",
        },
    ),
    "chemistry": (
        "Chemistry",
        {
            "organic": "Organic chemistry",
            "analytical": "Analytical chemistry",
            "biochemistry": "Biochemistry",
            "materials": "Materials science",
        },
    ),
    "physics": (
        "Physics",
        {
            "theoretical": "Theoretical physics",
            "condensed_matter": "Condensed matter",
            "astrophysics": "Astrophysics",
            "quantum": "Quantum physics",
        },
    ),
    "mathematics": (
        "Mathematics",
        {
            "statistics": "Statistics",
            "applied_math": "Applied mathematics",
            "pure_math": "Pure mathematics",
            "operations_research": "Operations research",
        },
    ),
}


def _merge(extra: dict[str, object]) -> dict[str, Domain]:
    merged = {k: Domain(k, label, dict(specs)) for k, (label, specs) in _SHIPPED.items()}
    for key, value in extra.items():
        if not isinstance(value, dict) or not isinstance(value.get("specialties", {}), dict):
            raise ConfigurationError(
                f"Expert taxonomy: domain {key!r} needs a label and specialties."
            )
        base = merged.get(key)
        specialties = dict(base.specialties) if base else {}
        specialties.update({str(k): str(v) for k, v in value.get("specialties", {}).items()})
        label = str(value.get("label") or (base.label if base else key))
        merged[key] = Domain(key, label, specialties)
    return merged


@lru_cache(maxsize=8)
def domains(extra_file: Path | None = None) -> dict[str, Domain]:
    """Return every domain by key: the shipped ones plus those of ``extra_file``."""
    if extra_file is None:
        return _merge({})
    try:
        data = json.loads(Path(extra_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"Expert taxonomy file {extra_file}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"Expert taxonomy file {extra_file}: expected a JSON object.")
    return _merge(data)


def check(domain: str, specialty: str = "", *, extra_file: Path | None = None) -> None:
    """Raise ``ValidationFailed`` unless ``domain`` (and ``specialty``) are in the taxonomy."""
    known = domains(extra_file)
    if domain not in known:
        raise ValidationFailed(
            f"Unknown domain {domain!r}; known: {', '.join(sorted(known))}.",
            details={"field": "domain"},
        )
    if specialty and specialty not in known[domain].specialties:
        raise ValidationFailed(
            f"Unknown specialty {specialty!r} for {known[domain].label}.",
            details={"field": "specialty"},
        )
