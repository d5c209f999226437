"""Registry: registration records everything, versions are immutable, artifacts are checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.core.factories import metadata, register_toy, write_inputs
from vigil.core.contract import parse_metadata
from vigil.core.errors import ArtifactError, MetadataError, UnknownModelError, VersionExistsError
from vigil.core.govern import audit
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store


def test_registration_stores_the_inventory_entry(store: Store, tmp_path: Path) -> None:
    version = register_toy(store, tmp_path)
    assert (version.model_name, version.model_version, version.status) == ("toy", "1", "registered")
    assert version.owner == "Test Team" and version.code_commit == "abc1234"
    assert version.hyperparameters == {"C": 1.0}
    assert version.validation_metrics == {"holdout": {"roc_auc": 0.8}}
    assert [f.name for f in version.sensitive] == ["region"]
    assert version.reference_rows == 200
    stored = store.home / version.artifact_path
    assert stored.is_file() and stored.parent == store.artifacts_dir / "toy" / "1"
    with store.connect() as con:
        ref = con.execute(
            "SELECT count(*), count(prediction), avg(label) FROM reference_toy"
        ).fetchone()
        records = audit.read_records(con)
    assert ref[0] == ref[1] == 200  # predictions were scored with the ONNX model
    assert [(r["action"], r["actor"], r["to_status"]) for r in records] == [
        ("register", "dana", "registered")
    ]


def test_versions_are_immutable(store: Store, tmp_path: Path) -> None:
    register_toy(store, tmp_path)
    with pytest.raises(
        VersionExistsError,
        match=r"^toy version 1 is already registered \(status: Registered\)\. Versions are immutable: register the change as a new version\.$",
    ):
        register_toy(store, tmp_path)


def test_a_new_version_may_add_a_feature_but_not_change_a_type(
    store: Store, tmp_path: Path
) -> None:
    register_toy(store, tmp_path)
    changed = [dict(f) for f in metadata()["features"]]
    changed[1]["type"] = "string"
    changed[1]["categorical"] = True
    with pytest.raises(
        MetadataError,
        match=r"Feature 'tenure' is stored as BIGINT for earlier versions of 'toy', but version 2 declares type string",
    ):
        register_toy(store, tmp_path, version="2", features=changed)


def test_previous_version_must_exist(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match=r"^Model 'toy' is not registered\.$"):
        register_toy(store, tmp_path, previous_version="0")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"owner": ""}, "metadata: missing required field(s): owner"),
        (
            {"task": "ranking"},
            "metadata: task 'ranking' must be one of binary_classification, regression",
        ),
        (
            {"training_date": "yesterday"},
            "metadata: 'training_date' must be a date like 2026-01-31, got 'yesterday'",
        ),
        (
            {"features": [{"name": "timestamp", "type": "number"}]},
            "metadata: feature name 'timestamp' is not allowed (letters, digits and _ only, not one of the log contract's own columns)",
        ),
        (
            {"features": [{"name": "x", "type": "float"}]},
            "metadata: feature 'x' has type 'float'; use one of number, integer, string, boolean",
        ),
        (
            {"decision_threshold": 1.5},
            "metadata: decision_threshold must lie strictly between 0 and 1",
        ),
    ],
)
def test_metadata_errors_name_the_field(change: dict, message: str) -> None:
    with pytest.raises(MetadataError) as err:
        parse_metadata(metadata(**change))
    assert str(err.value) == message


def test_artifact_inputs_must_match_the_features(store: Store, tmp_path: Path) -> None:
    meta_path, artifact, reference = write_inputs(tmp_path)
    raw = json.loads(meta_path.read_text())
    raw["features"] = raw["features"][:2]
    with pytest.raises(
        ArtifactError,
        match=r"the ONNX inputs do not match the declared features \(declared but not in the graph: none; in the graph but not declared: \['region'\]\)",
    ):
        registry.register_version(
            store,
            parse_metadata(raw),
            artifact=artifact,
            reference=reference,
            registered_by="dana",
            registered_by_role="analyst",
        )


def test_reference_data_is_validated(store: Store, tmp_path: Path) -> None:
    meta_path, artifact, reference = write_inputs(tmp_path)
    import pandas as pd

    frame = pd.read_parquet(reference).astype({"tenure": object})
    frame.loc[4, "tenure"] = "many"
    frame.to_csv(tmp_path / "ref.csv", index=False)
    with pytest.raises(
        MetadataError, match=r"ref\.csv: row 5, column 'tenure' has 'many', not an integer$"
    ):
        registry.register_version(
            store,
            parse_metadata(json.loads(meta_path.read_text())),
            artifact=artifact,
            reference=tmp_path / "ref.csv",
            registered_by="dana",
            registered_by_role="analyst",
        )


def test_a_tampered_artifact_is_refused(store: Store, tmp_path: Path) -> None:
    version = register_toy(store, tmp_path)
    assert registry.load_model(store, version) is not None
    path = store.home / version.artifact_path
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(
        ArtifactError,
        match=r"SHA-256 is [0-9a-f]{12}…, but [0-9a-f]{12}… was recorded at registration\. The artifact was changed after registration; it will not be run\.$",
    ):
        registry.load_model(store, version)
