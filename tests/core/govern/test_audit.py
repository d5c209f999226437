"""The audit trail attacked: every way of rewriting it from issue 9, each detected; the key, the
checkpoints outside the database, the state cross-check; and the unkeyed log of older stores."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vigil.cli import main as cli
from vigil.core.errors import AuditKeyError
from vigil.core.govern import audit, audit_report, auth, checkpoints, users
from vigil.core.govern.audit_chain import AUDIT_FIELDS, GENESIS_HASH, KEY_INTRODUCED, canonical
from vigil.core.govern.audit_key import load_key
from vigil.core.govern.auth import User
from vigil.core.store.connection import Store

MODEL = "credit-risk"
ADAM = User("adam", "admin")  # the demo's admin
DEMO_USERS = 5  # the demo audits creating dana, rita, omar, adam and vic first


# --- helpers: the attacker's tools ----------------------------------------------------------


@pytest.fixture
def key_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key file outside VIGIL_HOME (created by the test), checkpoints beside it."""
    folder = tmp_path / "config" / "vigil"
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(folder / "audit.key"))
    monkeypatch.delenv("VIGIL_CHECKPOINT_FILE", raising=False)
    return folder


@pytest.fixture
def keyed(demo_copy: Store, key_folder: Path) -> Store:
    """The demo (written before any key), keyed now, then changed with the key: 5 users and
    the governance history predate the key; the key-introduced record and two user changes
    are keyed."""
    setup = audit_report.initialise(demo_copy)
    assert setup.key_created and setup.introduced_at == total(demo_copy)
    users.add(demo_copy, ADAM, "zoe", "analyst", "zoe-password", "joins the model risk team")
    users.set_role(demo_copy, ADAM, "zoe", "approver", "passed approver training")
    return demo_copy


def first_admin(store: Store) -> None:
    """The first admin of an empty store, audited as Vigil itself (as `vigil users add` does)."""
    with store.transaction() as con:
        auth.add_user(con, "adam", "admin", "adam-password")
        audit.append(
            con,
            actor="vigil",
            actor_role="system",
            action="user_add",
            rationale="First admin of an empty store.",
            evidence={"user": "adam", "role": "admin"},
        )


def total(store: Store) -> int:
    with store.connect() as con:
        return int(con.execute("SELECT count(*) FROM audit_log").fetchone()[0])


def records(store: Store) -> list[dict[str, Any]]:
    with store.connect() as con:
        return audit.read_records(con)


def report(store: Store) -> audit_report.ChainReport:
    return audit_report.chain_report(store)


def sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record).encode()).hexdigest()


def rewrite(store: Store, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
            rehash: Callable[[dict[str, Any]], str] | None = sha256) -> None:  # fmt: skip
    """What someone with write access to the store does: change the records, renumber them
    and, unless rehash is None, recompute every hash and link so the chain looks whole."""
    rows = change(records(store))
    previous = GENESIS_HASH
    for seq, row in enumerate(rows, start=1):
        row["seq"] = seq
        if rehash is not None:
            row["prev_hash"] = previous
            row["hash"] = rehash(row)
        previous = row["hash"]
    with store.transaction() as con:
        con.execute("DELETE FROM audit_log")
        for row in rows:
            con.execute(
                f"INSERT INTO audit_log VALUES ({', '.join('?' * (len(AUDIT_FIELDS) + 1))})",
                [row[f] for f in (*AUDIT_FIELDS, "hash")],
            )


def execute(store: Store, sql: str, params: list[Any] | None = None) -> None:
    with store.transaction() as con:
        con.execute(sql, params or [])


# --- the key ----------------------------------------------------------------------------------


def test_init_creates_a_private_key_outside_the_store_and_says_where(
    demo_copy: Store, key_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = total(demo_copy)
    assert cli.main(["init"]) == 0
    out = capsys.readouterr().out
    path = key_folder / "audit.key"
    assert f"Audit key created at {path} (mode 0600, outside VIGIL_HOME)" in out
    assert f"The audit log is keyed from record {before + 1} on." in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_folder.stat().st_mode) == 0o700
    assert demo_copy.home not in path.parents
    assert len(path.read_text().strip()) == 64
    assert cli.main(["init"]) == 0  # a second init keeps the key and the chain
    assert f"Audit key: {path}" in capsys.readouterr().out
    assert total(demo_copy) == before + 1


def test_a_key_file_others_can_read_is_refused(key_folder: Path) -> None:
    key_folder.mkdir(parents=True)
    (key_folder / "audit.key").write_text("x" * 64)
    os.chmod(key_folder / "audit.key", 0o644)
    with pytest.raises(AuditKeyError, match=r"can be read by other users \(mode 644\)"):
        load_key()


def test_keyed_records_are_hmac_sha256_with_the_key(keyed: Store, key_folder: Path) -> None:
    secret = (key_folder / "audit.key").read_text().strip().encode()
    log = records(keyed)
    intro = next(r for r in log if r["action"] == KEY_INTRODUCED)
    for record in log[intro["seq"] - 1 :]:
        expected = hmac.new(secret, canonical(record).encode(), hashlib.sha256).hexdigest()
        assert record["hash"] == expected
    for record in log[: intro["seq"] - 1]:
        assert record["hash"] == sha256(record)  # written before the key
    evidence = json.loads(intro["evidence"])
    assert (evidence["sealed_records"], evidence["sealed_head"]) == (
        intro["seq"] - 1,
        log[intro["seq"] - 2]["hash"],
    )


def test_verification_says_which_records_predate_the_key(keyed: Store) -> None:
    result = report(keyed)
    k, n = total(keyed) - 2, total(keyed)
    assert result.ok, result
    assert result.keying == (
        f"Records 1–{k - 1} predate the audit key: they are plain SHA-256, sealed as they were "
        f"by record {k}, which introduced the key. Records {k}–{n} are keyed with HMAC-SHA256 "
        f"(key id {load_key().key_id})."  # type: ignore[union-attr]
    )
    assert result.checkpoint.state is checkpoints.CheckpointState.MATCHES


def test_a_store_created_with_a_key_is_keyed_from_the_first_record(
    store: Store, key_folder: Path
) -> None:
    audit_report.initialise(store)
    first_admin(store)
    users.add(store, ADAM, "zoe", "analyst", "zoe-password", "first analyst")
    log = records(store)
    assert [r["action"] for r in log] == [KEY_INTRODUCED, "user_add", "user_add"]
    assert report(store).keying.startswith("All 3 records are keyed with HMAC-SHA256")
    assert report(store).ok


def test_without_its_key_a_keyed_log_neither_verifies_nor_grows(
    keyed: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    k = total(keyed) - 2
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(tmp_path / "nowhere.key"))
    status = report(keyed).chain
    assert (status.valid, status.first_broken_seq) == (False, k)
    assert "no audit key is configured" in status.message
    with pytest.raises(AuditKeyError, match=f"keyed since record {k}"):
        users.add(keyed, ADAM, "yan", "viewer", "yan-password", "intern")
    monkeypatch.setenv("VIGIL_AUDIT_KEY", "another key of at least thirty-two chars")
    assert "but the configured key has id" in report(keyed).chain.message
    with pytest.raises(AuditKeyError, match="point VIGIL_AUDIT_KEY_FILE at the key"):
        users.add(keyed, ADAM, "yan", "viewer", "yan-password", "intern")


def test_production_mode_refuses_writes_without_a_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_admin(store)  # in development mode, unkeyed
    monkeypatch.setenv("VIGIL_MODE", "production")
    with pytest.raises(AuditKeyError, match="VIGIL_MODE=production needs an audit key"):
        users.add(store, ADAM, "zoe", "analyst", "zoe-password", "first analyst")
    assert total(store) == 1


def test_production_mode_fails_an_unkeyed_log(
    demo_copy: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_MODE", "production")
    status = report(demo_copy).chain
    assert (status.valid, status.first_broken_seq) == (False, 1)
    assert status.message.startswith(f"None of the {total(demo_copy)} records is keyed and ")


def test_production_mode_refuses_a_key_inside_vigil_home(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_admin(store)
    inside = store.home / "audit.key"
    inside.write_text("k" * 64)
    inside.chmod(0o600)
    monkeypatch.setenv("VIGIL_AUDIT_KEY_FILE", str(inside))
    monkeypatch.setenv("VIGIL_MODE", "production")
    with pytest.raises(AuditKeyError, match="is inside VIGIL_HOME"):
        users.add(store, ADAM, "zoe", "analyst", "zoe-password", "first analyst")


# --- the attacks of issue 9, each detected -----------------------------------------------------


def test_deleting_the_last_record_is_caught_by_the_checkpoint(keyed: Store) -> None:
    n = total(keyed)
    execute(keyed, "DELETE FROM audit_log WHERE seq = ?", [n])
    result = report(keyed)
    assert not result.ok and result.chain.first_broken_seq == n
    assert result.chain.message.startswith(f"The log has {n - 1} records but the checkpoint")
    assert result.chain.message.endswith(f"recorded {n}: record {n} was removed.")


def test_rehashing_the_whole_chain_after_an_edit_without_the_key(keyed: Store) -> None:
    k = total(keyed) - 2

    def soften(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[-1]["rationale"] = "no training needed"
        return rows

    rewrite(keyed, soften)  # every hash and link recomputed with SHA-256
    status = report(keyed).chain
    assert (status.valid, status.first_broken_seq) == (False, k)
    assert status.message == (
        f"Record {k} ({KEY_INTRODUCED} by vigil) does not carry the audit key's signature: it "
        "was edited, re-hashed or added by someone without the key."
    )


def test_rehashing_with_a_guessed_key_is_detected(keyed: Store) -> None:
    guess = b"a" * 64
    rewrite(
        keyed,
        lambda rows: rows,
        lambda r: hmac.new(guess, canonical(r).encode(), "sha256").hexdigest(),
    )
    assert not report(keyed).chain.valid


def test_deleting_a_record_and_renumbering_the_rest(keyed: Store) -> None:
    n = total(keyed)
    rewrite(keyed, lambda rows: rows[:-2] + rows[-1:])  # drop the user_add of zoe
    status = report(keyed).chain
    assert (status.valid, status.first_broken_seq) == (False, n - 2)
    assert "does not carry the audit key's signature" in status.message


def test_deleting_a_legacy_record_and_renumbering_breaks_the_seal(keyed: Store) -> None:
    rewrite(keyed, lambda rows: rows[:2] + rows[3:], rehash=None)
    assert report(keyed).chain.message == (
        "Record 3 does not link to record 2: a record was removed, inserted or rewritten."
    )
    rewrite(keyed, lambda rows: rows)  # and relinked: the key-introduced record exposes it
    status = report(keyed).chain
    assert not status.valid and "does not carry the audit key's signature" in status.message


def test_appending_a_forged_record_that_is_not_a_status_change(keyed: Store) -> None:
    n, head = total(keyed), records(keyed)[-1]
    forged = {
        **head,
        "seq": n + 1,
        "actor": "adam",
        "actor_role": "admin",
        "action": "user_role",
        "rationale": "promoted",
        "evidence": json.dumps({"user": "vic", "from_role": "viewer", "to_role": "approver"}),
        "prev_hash": head["hash"],
    }
    forged["hash"] = sha256(forged)
    execute(
        keyed,
        f"INSERT INTO audit_log VALUES ({', '.join('?' * (len(AUDIT_FIELDS) + 1))})",
        [forged[f] for f in (*AUDIT_FIELDS, "hash")],
    )
    execute(keyed, "UPDATE users SET role = 'approver' WHERE username = 'vic'")
    status = report(keyed).chain
    assert (status.valid, status.first_broken_seq) == (False, n + 1)
    assert status.message.startswith(f"Record {n + 1} (user_role by adam) does not carry")


def test_changing_a_role_directly_in_users(keyed: Store) -> None:
    execute(keyed, "UPDATE users SET role = 'admin' WHERE username = 'rita'")
    result = report(keyed)
    assert result.chain.valid and not result.ok
    assert result.mismatches[0] == (
        f"User rita is admin, but its latest audit record (#{total(keyed) - 2}) says approver: "
        "it was changed outside Vigil or records were removed."
    )


def test_a_sock_puppet_inserted_into_users(keyed: Store) -> None:
    execute(
        keyed,
        "INSERT INTO users (username, role, password_hash, created_at) "
        "VALUES ('puppet', 'approver', 'x', now()::TIMESTAMP)",
    )
    assert report(keyed).mismatches == (
        "User puppet is approver but no audit record says so: it was written outside Vigil.",
    )


def test_changing_a_status_directly_in_model_versions(keyed: Store) -> None:
    execute(keyed, "UPDATE model_versions SET status = 'approved' WHERE model_version = '1.1'")
    assert report(keyed).mismatches == (
        f"{MODEL} 1.1 is approved, but its latest audit record (#{total(keyed) - 2}) says "
        "pending_approval: it was changed outside Vigil or records were removed.",
    )


def test_moving_the_champion_alias_directly(keyed: Store) -> None:
    execute(keyed, "UPDATE aliases SET model_version = '1.1' WHERE alias = 'champion'")
    assert report(keyed).mismatches == (
        f"{MODEL}: the champion alias is 1.1, but its latest audit record (#{total(keyed) - 2}) "
        "says 1.0: it was changed outside Vigil or records were removed.",
        f"{MODEL}: the champion alias points at 1.1, which is pending_approval.",
    )


def test_thresholds_written_directly_are_named(keyed: Store) -> None:
    with keyed.connect() as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    if "policy_thresholds" in tables:  # thresholds kept in one table (migration 5)
        execute(
            keyed,
            "INSERT INTO policy_thresholds (model_name, kind, name, feature, threshold, set_at) "
            "VALUES (?, 'gate', 'drift_psi', '*', 5, now()::TIMESTAMP)",
            [MODEL],
        )
    else:
        execute(
            keyed,
            "INSERT INTO gate_thresholds VALUES (?, 'drift_psi', 5, 'adam', now()::TIMESTAMP)",
            [MODEL],
        )
    execute(keyed, "UPDATE alert_rules SET threshold = threshold + 1 WHERE rule_id = 1")
    found = report(keyed).mismatches
    assert found[0] == (
        f"{MODEL}: the threshold of gate drift_psi is 5.0 but no audit record says so: it was "
        "written outside Vigil."
    )
    assert found[1].startswith("Alert rule 1 is ") and "its latest audit record" in found[1]


def test_truncating_the_log_and_the_checkpoint_file_mismatch(
    keyed: Store, key_folder: Path
) -> None:
    n = total(keyed)
    execute(keyed, "DELETE FROM audit_log WHERE seq >= ?", [n - 1])
    status = report(keyed).chain
    assert (status.valid, status.first_broken_seq) == (False, n - 1)
    assert f"records {n - 1}–{n} were removed." in status.message


def test_a_forged_checkpoint_line_is_detected(keyed: Store, key_folder: Path) -> None:
    path = key_folder / "checkpoints.jsonl"
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    last["records"] -= 1
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")
    status = report(keyed).chain
    assert not status.valid and status.message.endswith(
        "is not signed by the audit key: it was forged."
    )


def test_a_witness_catches_a_rewrite_of_log_and_checkpoints(
    keyed: Store, key_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone with the key and shell access rewrites the log and trims the checkpoint file;
    only a copy of the newest checkpoint kept elsewhere shows it."""
    assert cli.main(["audit", "checkpoint"]) == 0
    witness = tmp_path / "witness.jsonl"
    witness.write_text(capsys.readouterr().out)
    n = total(keyed)
    execute(keyed, "DELETE FROM audit_log WHERE seq = ?", [n])  # zoe's promotion, gone
    execute(keyed, "UPDATE users SET role = 'analyst' WHERE username = 'zoe'")
    path = key_folder / "checkpoints.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))
    assert report(keyed).ok  # the local evidence was rewritten consistently
    assert cli.main(["audit", "verify", "--witness", str(witness)]) == 1
    assert f"Witness: The log has {n - 1} records but the checkpoint" in capsys.readouterr().err


# --- checkpoints -------------------------------------------------------------------------------


def test_every_write_batch_appends_one_signed_checkpoint(keyed: Store, key_folder: Path) -> None:
    path = key_folder / "checkpoints.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    found = [checkpoints.parse(line) for line in path.read_text().splitlines()]
    n = total(keyed)
    assert [c.records for c in found] == [n - 2, n - 1, n]  # init, add, set_role
    assert all(checkpoints.is_signed_by(c, load_key()) for c in found)  # type: ignore[arg-type]
    assert found[-1].head == records(keyed)[-1]["hash"]
    assert found[-1].store == str(keyed.db_path.resolve())


def test_a_rolled_back_change_writes_no_checkpoint(keyed: Store, key_folder: Path) -> None:
    before = (key_folder / "checkpoints.jsonl").read_text()
    with pytest.raises(RuntimeError), keyed.transaction() as con:
        audit.append(con, actor="adam", actor_role="admin", action="note", rationale="x")
        raise RuntimeError("the change fails after its record")
    assert (key_folder / "checkpoints.jsonl").read_text() == before
    assert report(keyed).ok


def test_cli_checkpoint_prints_the_newest_line(
    keyed: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "checkpoint"]) == 0
    out, err = capsys.readouterr()
    line = checkpoints.parse(out.strip())
    assert (line.records, line.head) == (total(keyed), records(keyed)[-1]["hash"])
    assert f"{line.records} records, head {line.head}" in err


# --- the unkeyed log of a store written without a key -------------------------------------------


def test_unkeyed_demo_chain_verifies_and_says_it_is_not_keyed(demo_store: Store) -> None:
    n = total(demo_store)
    result = report(demo_store)
    assert result.ok and result.chain.message == f"All {n} records verified."
    assert result.keying.startswith(f"None of the {n} records is keyed")
    assert result.checkpoint.state is checkpoints.CheckpointState.NO_KEY
    assert [r["action"] for r in records(demo_store)[:DEMO_USERS]] == ["user_add"] * DEMO_USERS


def test_unkeyed_edit_is_detected(demo_copy: Store) -> None:
    seq = DEMO_USERS + 3  # adam's import of 1.0's deployment history
    execute(demo_copy, "UPDATE audit_log SET rationale = 'rubber stamp' WHERE seq = ?", [seq])
    status = report(demo_copy).chain
    assert (status.valid, status.first_broken_seq) == (False, seq)
    assert status.message == (
        f"Record {seq} (import_deployment by adam) was edited after it was written: its content "
        "no longer matches its hash."
    )


def test_unkeyed_edit_with_its_own_hash_breaks_the_next_link(demo_copy: Store) -> None:
    seq = DEMO_USERS + 3
    rows = records(demo_copy)
    rows[seq - 1]["actor"] = "omar"
    execute(
        demo_copy,
        "UPDATE audit_log SET actor = 'omar', hash = ? WHERE seq = ?",
        [sha256(rows[seq - 1]), seq],
    )
    status = report(demo_copy).chain
    assert (status.first_broken_seq, status.message) == (
        seq + 1,
        f"Record {seq + 1} does not link to record {seq}: a record was removed, inserted or "
        "rewritten.",
    )


def test_unkeyed_deleted_record_is_detected(demo_copy: Store) -> None:
    execute(demo_copy, "DELETE FROM audit_log WHERE seq = 3")
    assert report(demo_copy).chain.message == "Record 3 is missing: the next record has sequence 4."


# --- reading: filters, exports, CLI ------------------------------------------------------------


def test_filters(demo_store: Store) -> None:
    import datetime as dt

    with demo_store.connect() as con:
        by_dana = audit.query(con, audit.AuditFilter(actor="dana"))
        imports = audit.query(con, audit.AuditFilter(model_name=MODEL, action="import_deployment"))
        choices = audit.filter_choices(con)
        first_day = audit.query(con)[0]["recorded_at"].date()
        same_day = audit.query(con, audit.AuditFilter(start=first_day, end=first_day))
        before = audit.query(con, audit.AuditFilter(end=first_day - dt.timedelta(days=1)))
    assert {r["actor"] for r in by_dana} == {"dana"}
    assert [
        r["seq"] - DEMO_USERS for r in by_dana if r["action"] in ("register", "request_promotion")
    ] == [1, 2, 4]
    assert [(r["seq"] - DEMO_USERS, r["actor"]) for r in imports] == [(3, "adam")]
    assert choices["model_name"] == [MODEL]
    assert {"import_deployment", "register", "request_promotion", "user_add"} <= set(
        choices["action"]
    )
    assert choices["actor"] == ["adam", "dana", "vigil"]
    assert len(same_day) == total(demo_store) and before == []


def test_exports_round_trip_and_reverify(keyed: Store) -> None:
    with keyed.connect() as con:
        exported = audit.query(con)
    rows = audit.export_csv(exported).decode().splitlines()
    assert rows[0].split(",")[:2] == ["seq", "recorded_at"] and len(rows) == total(keyed) + 1
    secret = load_key().secret  # type: ignore[union-attr]
    previous, keyed_from = GENESIS_HASH, None
    for record in json.loads(audit.export_json(exported)):  # re-verified from the export alone
        assert record["prev_hash"] == previous
        if record["action"] == KEY_INTRODUCED:
            keyed_from = record["seq"]
        mac = hmac.new(secret, canonical(record).encode(), "sha256").hexdigest()
        assert record["hash"] == (mac if keyed_from else sha256(record))
        previous = record["hash"]


def test_get_record_unknown(demo_store: Store) -> None:
    with demo_store.connect() as con, pytest.raises(audit.AuditError) as err:
        audit.get_record(con, 999)
    assert str(err.value) == (
        f"Audit record 999 does not exist (the log has records 1 to {total(demo_store)})."
    )


def test_cli_verify(keyed: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Chain intact: {total(keyed)} records verified.\nRecords 1–")
    assert "\nCheckpoints: Newest checkpoint (" in out
    execute(keyed, "UPDATE audit_log SET rationale = 'edited' WHERE seq = ?", [total(keyed)])
    assert cli.main(["audit", "verify", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert (payload["valid"], payload["first_broken_seq"]) == (False, total(keyed))
    assert payload["keyed_from"] == total(keyed) - 2 and payload["state_mismatches"] == []


def test_cli_export_and_report(demo_copy: Store, tmp_path: Path) -> None:
    out = tmp_path / "log.json"
    args = ["audit", "export", "--format", "json", "--out", str(out), "--actor", "adam"]
    assert cli.main(args) == 0
    assert [r["seq"] - DEMO_USERS for r in json.loads(out.read_text())] == [3]
    report_file = tmp_path / "signoff.html"
    seq = DEMO_USERS + 3
    assert cli.main(["audit", "report", "--seq", str(seq), "--out", str(report_file)]) == 0
    assert f"(audit record {seq})" in report_file.read_text()
