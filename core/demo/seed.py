"""Seed a store with the demo: users, two registered versions, 90 days of traffic and labels."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vigil.core.alerts.defaults import install_default_rules
from vigil.core.alerts.evaluate import refresh_after_ingest
from vigil.core.contract import parse_metadata
from vigil.core.demo import model as demo_model
from vigil.core.demo.traffic import Calendar, simulate
from vigil.core.govern import audit, auth
from vigil.core.govern.history import DeploymentEvent, import_deployments
from vigil.core.govern.lifecycle import apply_transition
from vigil.core.ingest.batches import IngestResult
from vigil.core.ingest.labels import ingest_labels
from vigil.core.ingest.predictions import ingest_predictions
from vigil.core.registry import versions as registry
from vigil.core.registry.versions import Status
from vigil.core.store.connection import Store

DEMO_USERS = {
    "dana": ("analyst", "data scientist who registers models and requests promotions"),
    "rita": ("approver", "model risk officer who signs off promotions"),
    "omar": ("approver", "second model risk officer"),
    "adam": ("admin", "platform administrator"),
    "vic": ("viewer", "internal auditor, read-only"),
}
CHAMPION, CHALLENGER = "1.0", "1.1"


@dataclass
class DemoReport:
    passwords: dict[str, str]
    ingests: list[IngestResult] = field(default_factory=list)
    calendar: Calendar | None = None

    def summary(self) -> str:
        lines = ["Demo users (passwords are shown only now):"]
        for name, password in self.passwords.items():
            role, what = DEMO_USERS[name]
            lines.append(f"  {name:<5} {role:<9} {password:<16} {what}")
        if self.calendar:
            lines.append(
                f"Traffic: {self.calendar.start} to {self.calendar.end - dt.timedelta(days=1)}; "
                f"concept drift from {self.calendar.concept_drift_start}, data drift from "
                f"{self.calendar.data_drift_start}."
            )
        for result in self.ingests:
            lines.append(
                f"  {Path(result.file).name:<32} read {result.read:>6}  stored {result.stored:>6}"
                f"  quarantined {result.quarantined:>3}  already present {result.already_present}"
            )
        return "\n".join(lines)


def is_seeded(store: Store) -> bool:
    with store.connect() as con:
        row = con.execute(
            "SELECT count(*) FROM models WHERE model_name = ?", [demo_model.MODEL_NAME]
        ).fetchone()
    return bool(row and row[0])


def is_empty(store: Store) -> bool:
    """No model and no user yet: the only kind of store the demo may seed, since it creates
    users and approval records of its own."""
    with store.connect() as con:
        row = con.execute(
            "SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM users)"
        ).fetchone()
    return row is not None and row[0] == 0


def _create_users(store: Store, password: str | None) -> dict[str, str]:
    passwords = {}
    with store.transaction() as con:
        for name, (role, _) in DEMO_USERS.items():
            if con.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
                continue
            passwords[name] = password or secrets.token_urlsafe(9)
            auth.add_user(con, name, role, passwords[name])
            audit.append(
                con,
                actor="vigil",
                actor_role="system",
                action="user_add",
                rationale="Demo user created by `vigil demo`.",
                evidence={"user": name, "role": role, "source": "demo"},
            )
    return passwords


def _register(store: Store, version: str, folder: Path) -> None:
    trained = demo_model.train_version(version)
    artifact = folder / f"credit-risk-{version}.onnx"
    artifact.write_bytes(trained.onnx_bytes)
    reference = folder / f"reference-{version}.parquet"
    trained.reference.to_parquet(reference, index=False)
    (folder / f"metadata-{version}.json").write_text(json.dumps(trained.metadata, indent=2))
    registry.register_version(
        store,
        parse_metadata(trained.metadata),
        artifact=artifact,
        reference=reference,
        registered_by="dana",
        registered_by_role="analyst",
    )


def _bootstrap_statuses(store: Store, calendar: Calendar) -> None:
    """The champion was live before the simulated traffic began: an imported, audited history
    (core.govern.history) says so at the simulated time. The challenger awaits review."""
    dana, adam = auth.User("dana", "analyst"), auth.User("adam", "admin")
    name = demo_model.MODEL_NAME
    with store.transaction() as con:
        went_live = dt.datetime.combine(calendar.start, dt.time())
        import_deployments(
            con, adam, name, [DeploymentEvent(CHAMPION, went_live, "rita")],
            source="demo: simulated deployment records of the scoring service",
        )  # fmt: skip
        apply_transition(
            con,
            actor=dana,
            model_name=name,
            model_version=CHALLENGER,
            action="request_promotion",
            to_status=Status.PENDING_APPROVAL,
            rationale="Retrained on the October data; shadow traffic since "
            f"{calendar.shadow_start} looks at least as good as 1.0.",
        )


def _write_inputs(
    folder: Path, logs: pd.DataFrame, labels: pd.DataFrame
) -> tuple[list[Path], list[Path]]:
    """Split traffic into the files a scoring service would write: Parquet per month for the
    champion, JSON Lines for the shadow challenger, CSV for label feedback."""
    log_files: list[Path] = []
    month = pd.to_datetime(logs["timestamp"]).dt.strftime("%Y-%m")
    for (version, period), part in logs.groupby([logs["model_version"], month], sort=True):
        if version == CHAMPION:
            path = folder / f"predictions-{version}-{period}.parquet"
            part.to_parquet(path, index=False)
        else:
            path = folder / f"predictions-{version}-{period}.jsonl"
            part.to_json(path, orient="records", lines=True)
        log_files.append(path)
    label_files: list[Path] = []
    arrival = pd.to_datetime(labels["label_timestamp"]).dt.strftime("%Y-%m")
    for period, part in labels.groupby(arrival, sort=True):
        path = folder / f"labels-{period}.csv"
        part.to_csv(path, index=False)
        label_files.append(path)
    return log_files, label_files


def _malformed_file(folder: Path, logs: pd.DataFrame, calendar: Calendar) -> Path:
    """One file with a producer's mistakes, as real pipelines send: it shows quarantine."""
    sample = logs[logs["model_version"] == CHAMPION].tail(6).copy()
    sample["prediction_id"] = [f"cr-bad-{i}" for i in range(len(sample))]
    sample = sample.astype(object)
    sample.iloc[0, sample.columns.get_loc("age")] = "unknown"
    sample.iloc[1, sample.columns.get_loc("timestamp")] = "yesterday"
    sample.iloc[2, sample.columns.get_loc("prediction")] = 1.7
    sample.iloc[3, sample.columns.get_loc("model_version")] = "0.9"
    sample.iloc[4, sample.columns.get_loc("credit_amount")] = None
    duplicate = sample.iloc[[5]].copy()
    sample = pd.concat([sample, duplicate], ignore_index=True)
    path = folder / f"predictions-{CHAMPION}-late-batch-{calendar.end}.csv"
    sample.to_csv(path, index=False)
    return path


def seed(store: Store, *, end: dt.date | None = None, password: str | None = None) -> DemoReport:
    """Build the demo in `store`. Deterministic for a given `end` (default: today, UTC)."""
    calendar = Calendar(end or dt.datetime.now(dt.UTC).date())
    folder = store.home / "demo_inputs"
    folder.mkdir(parents=True, exist_ok=True)
    report = DemoReport(passwords=_create_users(store, password), calendar=calendar)
    for version in (CHAMPION, CHALLENGER):
        _register(store, version, folder)
    _bootstrap_statuses(store, calendar)
    with store.connect() as con:
        versions = {
            v: registry.get_version(con, demo_model.MODEL_NAME, v) for v in (CHAMPION, CHALLENGER)
        }
    sessions = {v: registry.load_model(store, versions[v]) for v in versions}
    traffic = simulate(
        demo_model.load_dataset(),
        sessions,
        versions[CHAMPION].features,
        champion=CHAMPION,
        challenger=CHALLENGER,
        calendar=calendar,
    )
    log_files, label_files = _write_inputs(folder, traffic.logs, traffic.labels)
    log_files.append(_malformed_file(folder, traffic.logs, calendar))
    for path in log_files:
        report.ingests.append(ingest_predictions(store, demo_model.MODEL_NAME, path))
    for path in label_files:
        report.ingests.append(ingest_labels(store, demo_model.MODEL_NAME, path))
    install_default_rules(store, auth.User("dana", "analyst"), demo_model.MODEL_NAME, CHAMPION)
    refresh_after_ingest(store, demo_model.MODEL_NAME)
    return report
