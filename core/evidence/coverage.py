"""The regulatory coverage matrix: each requirement a supervisor may cite, where Vigil shows
the evidence for it, what that covers and, just as plainly, what it does not.

Locations name a dashboard page (its url path) or a command; a test checks that every one
exists, so the matrix cannot point at something Vigil does not have. Coverage is judged
conservatively: "covered" only where Vigil holds the whole evidence the text asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Coverage(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    NOT_COVERED = "not covered"


@dataclass(frozen=True)
class Location:
    kind: str  # "page" | "command"
    name: str  # page url path, or command name


@dataclass(frozen=True)
class Requirement:
    regulation: str
    reference: str
    title: str
    asks: str
    coverage: Coverage
    where: tuple[Location, ...]
    covered: str
    not_covered: str


def _pages(*names: str) -> tuple[Location, ...]:
    return tuple(Location("page", n) for n in names)


def _commands(*names: str) -> tuple[Location, ...]:
    return tuple(Location("command", n) for n in names)


SR = "SR 26-2 (US interagency model risk guidance, 2026)"
PRA = "PRA SS1/23 (UK model risk management principles)"
AI_ACT = "EU AI Act (Regulation (EU) 2024/1689)"

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement(
        SR, "Inventory", "Model inventory",
        "A comprehensive inventory of models in use, with owner, purpose, limitations and "
        "validation status.",
        Coverage.PARTIAL,
        _pages("inventory", "registry") + _commands("evidence"),
        "Every registered model has a model-level entry (owner, intended use, limitations, "
        "validator, validation status and date, vendor flag) and every version its lineage.",
        "Only models registered in Vigil (with an ONNX artifact) are listed: spreadsheets, "
        "vendor models without an artifact and models monitored elsewhere are not.",
    ),
    Requirement(
        SR, "Tiering", "Risk tiering by materiality",
        "Models tiered by materiality, with the tier driving the intensity of oversight.",
        Coverage.PARTIAL,
        _pages("inventory", "calendar"),
        "A materiality tier per model, set by approvers or admins and audited; the tier sets "
        "the review cadence (12 / 24 / 36 months by default, settable).",
        "Vigil records the tier; it does not compute it (no materiality scoring method), and "
        "alert rules and gates are the same whatever the tier.",
    ),
    Requirement(
        SR, "Ongoing monitoring", "Risk-based ongoing monitoring",
        "Ongoing monitoring of performance, stability and outcomes against thresholds, with "
        "escalation when they are breached.",
        Coverage.PARTIAL,
        _pages("drift", "performance", "fairness", "service", "alerts")
        + _commands("evidence", "monitoring-plan"),
        "Drift, realised and estimated performance, fairness and service health per window; "
        "alert rules with thresholds and severities; the monitoring plan with its history.",
        "Escalation beyond the alert list (paging, tickets) is not built in; monitoring "
        "depth is not tied to tier automatically.",
    ),
    Requirement(
        SR, "Validation", "Independent validation and issue tracking",
        "Validation by people independent of development; findings tracked to remediation.",
        Coverage.PARTIAL,
        _pages("inventory", "findings") + _commands("findings"),
        "The validator is checked independent of the model's developers; validation status "
        "and date are recorded; findings carry severity, owner, plan and due date, and close "
        "only with evidence and a second person.",
        "The validation work itself (conceptual soundness, outcomes analysis, its report) "
        "happens outside Vigil; Vigil records its outcome and findings.",
    ),
    Requirement(
        PRA, "Principle 1", "Model identification and risk classification",
        "A model inventory and a risk-based tiering of every model.",
        Coverage.PARTIAL,
        _pages("inventory", "calendar"),
        "Inventory entry and materiality tier per model; periodic review dates by tier.",
        "Same gaps as SR 26-2 inventory and tiering: registered models only, tier recorded "
        "rather than derived.",
    ),
    Requirement(
        PRA, "Principle 2", "Governance",
        "Board-approved policy, clear roles and accountability for model risk.",
        Coverage.PARTIAL,
        _pages("users", "audit"),
        "Roles (viewer, analyst, approver, admin) limit who does what; every change is in "
        "the hash-chained audit log with its actor and rationale.",
        "No field for the accountable senior manager (SMF) and no model risk policy or "
        "appetite document; they live outside Vigil.",
    ),
    Requirement(
        PRA, "Principle 3", "Model development, implementation and use",
        "Documented development with data, assumptions and limitations; controlled "
        "implementation and use within the intended purpose.",
        Coverage.PARTIAL,
        _pages("registry", "review", "data"),
        "Lineage per version (training data version, code commit, hyperparameters, "
        "validation metrics), intended use and limitations, hash-checked artifacts, "
        "promotion gates, validated inputs with quarantine.",
        "Development documentation and testing standards are not held; use outside the "
        "intended purpose is not detected.",
    ),
    Requirement(
        PRA, "Principle 4", "Independent model validation",
        "Independent validation before use and periodically; findings tracked; "
        "post-model adjustments overseen.",
        Coverage.PARTIAL,
        _pages("inventory", "findings", "calendar") + _commands("reviews", "findings"),
        "Validator independence check, validation outcome and date, periodic review "
        "calendar with overdue reviews first, findings register with second-person closure; "
        "an open high finding blocks promotion.",
        "The validation report itself is not stored; Vigil does not check the validator's "
        "organisational independence beyond model development.",
    ),
    Requirement(
        PRA, "Principle 5", "Model risk mitigants",
        "Post-model adjustments and other mitigants recorded, justified and monitored.",
        Coverage.PARTIAL,
        _pages("inventory", "review"),
        "Post-model adjustments in force are recorded per model by approvers (audited); "
        "gate overrides need an admin's rationale; rollback restores the previous champion.",
        "Adjustments are recorded as text: their effect on outputs is neither computed nor "
        "monitored.",
    ),
    Requirement(
        AI_ACT, "Art. 12", "Record-keeping",
        "Automatic recording of events (logs) over the lifetime of a high-risk system, "
        "enough to trace its functioning.",
        Coverage.PARTIAL,
        _pages("data", "audit") + _commands("ingest", "audit"),
        "Every prediction logged with its version, time, inputs, output and status; "
        "rejected rows kept in quarantine with the reason; every lifecycle event in the "
        "audit chain.",
        "Vigil stores the logs the serving system sends; logging inside the system itself "
        "remains the provider's duty, and no log is captured if the producer sends none.",
    ),
    Requirement(
        AI_ACT, "Art. 14", "Human oversight",
        "Design that lets natural persons oversee the system, understand its capacities and "
        "limitations, and decide not to use or to override its output.",
        Coverage.PARTIAL,
        _pages("review", "explain", "alerts") + _commands("approve", "rollback"),
        "Promotion needs a second person's approval; failed gates need an admin's override "
        "with rationale; rollback; explanations of the model's outputs; alerts on breaches.",
        "Oversight of individual decisions (a person overriding one output) happens in the "
        "business process, not in Vigil.",
    ),
    Requirement(
        AI_ACT, "Art. 26(6)", "Deployers keep logs at least six months",
        "Logs automatically generated by the high-risk system kept for at least six months.",
        Coverage.COVERED,
        _pages("calendar") + _commands("purge-logs", "evidence"),
        "Raw-log retention is settable with a six-month floor even against a database edit; "
        "the purge is admin-only, audited, and keeps the day profiles; the evidence pack "
        "states the retention in force.",
        "Labels and quarantined rows are not purged (kept until deleted by hand).",
    ),
    Requirement(
        AI_ACT, "Art. 72", "Post-market monitoring plan",
        "A documented post-market monitoring plan, and monitoring that actively collects "
        "and analyses performance data over the system's lifetime.",
        Coverage.PARTIAL,
        _pages("inventory", "drift", "performance", "fairness")
        + _commands("monitoring-plan", "evidence"),
        "The plan in force (thresholds, windows, rules, owners) is a versioned document "
        "with its history, exportable as JSON and inside the evidence pack with the "
        "monitoring summaries.",
        "The Commission's template for the plan is not followed field by field; serious "
        "incident reporting (Art. 73) is not covered.",
    ),
)  # fmt: skip


def requirements(regulation: str | None = None) -> tuple[Requirement, ...]:
    return tuple(r for r in REQUIREMENTS if regulation is None or r.regulation == regulation)


def regulations() -> tuple[str, ...]:
    return tuple(dict.fromkeys(r.regulation for r in REQUIREMENTS))
