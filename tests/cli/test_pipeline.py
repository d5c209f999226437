"""The command line, run as pipelines run it: a separate process, exit codes, JSON."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import vigil
from tests.core.factories import add_ingester, log_rows, write_inputs
from vigil.core.store.connection import Store


def test_register_ingest_and_list_from_the_command_line(store: Store, tmp_path: Path) -> None:
    home = store.home
    added = vigil(home, "users", "add", "dana", "--role", "admin", stdin="long-password\n")
    assert added.returncode == 0, added.stderr
    meta, artifact, reference = write_inputs(tmp_path)
    registered = vigil(
        home,
        "register",
        "--metadata",
        str(meta),
        "--artifact",
        str(artifact),
        "--reference",
        str(reference),
        "--user",
        "dana",
        "--json",
        env={"VIGIL_PASSWORD": "long-password"},
    )
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["status"] == "registered"
    rows = log_rows(4)
    rows.loc[2, "income"] = "n/a"
    rows.to_csv(tmp_path / "logs.csv", index=False)
    ingested = vigil(
        home,
        "ingest",
        "--model",
        "toy",
        str(tmp_path / "logs.csv"),
        "--json",
        "--user",
        "dana",
        env={"VIGIL_PASSWORD": "long-password"},
    )
    assert ingested.returncode == 0, ingested.stderr
    counts = json.loads(ingested.stdout)[0]
    assert {k: counts[k] for k in ("read", "stored", "quarantined", "already_present")} == {
        "read": 4,
        "stored": 3,
        "quarantined": 1,
        "already_present": 0,
    }
    listed = json.loads(vigil(home, "models", "--json").stdout)
    assert [(m["model_name"], m["model_version"], m["status"]) for m in listed] == [
        ("toy", "1", "registered")
    ]
    (record,) = json.loads(vigil(home, "quarantine", "--model", "toy", "--json").stdout)
    assert record["reason"] == "income: 'n/a' is not a number"
    quarantined = vigil(home, "quarantine", "--model", "toy")
    assert quarantined.stdout == f"{record['file']}:{record['row']}  {record['reason']}\n"
    assert record["file"].endswith("logs.csv")


def test_errors_exit_non_zero_with_a_message(store: Store, tmp_path: Path) -> None:
    ingester = add_ingester(store)
    missing = vigil(store.home, "ingest", "--model", "nope", str(tmp_path / "x.csv"), env=ingester)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: {tmp_path / 'x.csv'}: file not found"
    unknown = vigil(store.home, "models", "--bogus")
    assert unknown.returncode == 2 and "unrecognized arguments: --bogus" in unknown.stderr


def test_register_needs_an_authenticated_user_with_the_right_role(
    store: Store, tmp_path: Path
) -> None:
    vigil(store.home, "users", "add", "root", "--role", "admin", stdin="long-password\n")
    added = vigil(
        store.home,
        "users",
        "add",
        "vic",
        "--role",
        "viewer",
        "--user",
        "root",
        "--rationale",
        "Auditor for the quarter.",
        stdin="viewer-password\n",
        env={"VIGIL_PASSWORD": "long-password"},
    )
    assert added.returncode == 0, added.stderr
    meta, artifact, reference = write_inputs(tmp_path)
    args = (
        "register",
        "--metadata",
        str(meta),
        "--artifact",
        str(artifact),
        "--reference",
        str(reference),
    )
    anonymous = vigil(store.home, *args)
    assert (
        anonymous.stderr.strip()
        == "error: This command changes the store: name the acting user with --user NAME."
    )
    viewer = vigil(store.home, *args, "--user", "vic", env={"VIGIL_PASSWORD": "viewer-password"})
    assert viewer.returncode == 1
    assert (
        viewer.stderr.strip()
        == "error: vic is a viewer and cannot register model versions; it needs one of: analyst, admin."
    )
