"""Fairness: every number equals fairlearn / scikit-learn computed on the raw log rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from vigil.core.monitor.fairness.groups import band_labels
from vigil.core.monitor.fairness.metrics import metric_by_window, metric_value
from vigil.core.monitor.fairness.report import fairness_report
from vigil.core.monitor.fairness.results import AttributeFairness, FairnessError
from vigil.core.monitor.selection import Segment, Selection
from vigil.core.registry import versions as registry
from vigil.core.store.connection import Store

MODEL = "credit-risk"
SELECTION = Selection(MODEL, "1.0", dt.datetime(2026, 9, 28), dt.datetime(2026, 11, 2))
BANDS = ["<25", "25–34", "35–49", "50+"]


def raw_rows(store: Store, selection: Selection) -> pd.DataFrame:
    """The selection's served rows, straight from the tables (the independent side)."""
    where, params = selection.where("l")
    with store.connect() as con:
        frame = con.execute(
            "SELECT l.served_at, l.sex, l.age, l.prediction, b.label FROM log_credit_risk l "
            "LEFT JOIN labels b ON b.model_name = ? AND b.prediction_id = l.prediction_id "
            f"WHERE {where} AND l.status = 'ok' AND l.prediction IS NOT NULL",
            [MODEL, *params],
        ).df()
    frame["y_pred"] = (frame["prediction"] >= 0.5).astype(int)
    frame["sex"] = frame["sex"].fillna("(missing)")
    frame["age"] = (
        pd.cut(frame["age"], [-np.inf, 25, 35, 50, np.inf], right=False, labels=BANDS)
        .astype(str)
        .where(frame["age"].notna(), "(missing)")
    )
    return frame


def check_attribute(item, rows: pd.DataFrame, columns: list[str]) -> None:
    """Group metrics and disparities of `item` against fairlearn on `rows`."""
    sensitive = rows[columns] if len(columns) > 1 else rows[columns[0]]
    everyone = MetricFrame(
        metrics={"selection_rate": selection_rate, "count": lambda t, p: len(t)},
        y_true=rows["y_pred"],
        y_pred=rows["y_pred"],
        sensitive_features=sensitive,
    ).by_group
    labelled = rows[rows["label"].notna()]
    outcomes = MetricFrame(
        metrics={
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
            "accuracy": accuracy_score,
            "count": lambda t, p: len(t),
        },
        y_true=labelled["label"].astype(int),
        y_pred=labelled["y_pred"],
        sensitive_features=labelled[columns] if len(columns) > 1 else labelled[columns[0]],
    ).by_group
    assert {g.group for g in item.groups} == {
        ", ".join(k) if isinstance(k, tuple) else k for k in everyone.index
    }
    for g in item.groups:
        key = tuple(g.group.split(", ")) if len(columns) > 1 else g.group
        assert g.rows == everyone.loc[key, "count"]
        assert g.selection_rate == pytest.approx(everyone.loc[key, "selection_rate"], abs=1e-12)
        assert g.labelled == outcomes.loc[key, "count"]
        for metric in ("tpr", "fpr", "precision", "accuracy"):
            assert getattr(g, metric) == pytest.approx(outcomes.loc[key, metric], abs=1e-12)
    d = item.disparities
    assert d.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(rows["y_pred"], rows["y_pred"], sensitive_features=sensitive),
        abs=1e-12,
    )
    assert d.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(rows["y_pred"], rows["y_pred"], sensitive_features=sensitive),
        abs=1e-12,
    )
    labelled_sensitive = labelled[columns] if len(columns) > 1 else labelled[columns[0]]
    y_true = labelled["label"].astype(int)
    assert d.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(
            y_true, labelled["y_pred"], sensitive_features=labelled_sensitive
        ),
        abs=1e-12,
    )
    assert d.equalized_odds_ratio == pytest.approx(
        equalized_odds_ratio(y_true, labelled["y_pred"], sensitive_features=labelled_sensitive),
        abs=1e-12,
    )


@pytest.fixture(scope="module")
def report(demo_store: Store):
    return fairness_report(demo_store, SELECTION, granularity="week")


@pytest.fixture(scope="module")
def rows(demo_store: Store) -> pd.DataFrame:
    return raw_rows(demo_store, SELECTION)


def test_attributes_are_each_sensitive_feature_and_their_crossing(report) -> None:
    assert [a.name for a in report.attributes] == ["sex", "age", "sex × age"]
    assert [a.key for a in report.attributes] == ["sex", "age", "sex_x_age"]
    assert report.bands == {"age": tuple(BANDS)}
    assert [g.group for g in report.attribute("age").groups] == BANDS
    assert report.favourable == "prediction >= 0.5 (predicted 1 (good credit risk))"


@pytest.mark.parametrize(
    ("name", "columns"), [("sex", ["sex"]), ("age", ["age"]), ("sex × age", ["sex", "age"])]
)
def test_group_metrics_and_disparities_equal_fairlearn(report, rows, name, columns) -> None:
    check_attribute(report.attribute(name), rows, columns)
    assert report.rows == len(rows)
    assert report.labelled == rows["label"].notna().sum()


def test_each_window_equals_fairlearn_on_its_rows(report, rows) -> None:
    item = report.attribute("sex")
    assert [w.start for w in item.windows] == [
        dt.datetime(2026, 9, 28),
        dt.datetime(2026, 10, 5),
        dt.datetime(2026, 10, 12),
        dt.datetime(2026, 10, 19),
        dt.datetime(2026, 10, 26),
    ]
    for window in item.windows:
        part = rows[(rows["served_at"] >= window.start) & (rows["served_at"] < window.end)]
        assert window.rows == len(part)
        check_attribute(
            AttributeFairness(
                name="sex",
                key="sex",
                columns=("sex",),
                groups=window.groups,
                disparities=window.disparities,
            ),
            part,
            ["sex"],
        )


def test_four_fifths_rule_and_plain_language(report) -> None:
    age = report.attribute("age")
    top = max(age.groups, key=lambda g: g.selection_rate)
    assert age.most_favoured == top.group and top.status == "most_favoured"
    for g in age.groups:
        assert g.ratio_to_most_favoured == pytest.approx(g.selection_rate / top.selection_rate)
        if g is not top:
            assert g.status == ("fail" if g.ratio_to_most_favoured < 0.8 else "pass")
    young = next(g for g in age.groups if g.group == "<25")
    assert young.status == "fail" and age.verdict == "fail"
    assert (
        f"Approval rate for <25 is {young.ratio_to_most_favoured:.2f} of that for {top.group} "
        f"({young.selection_rate:.1%} vs {top.selection_rate:.1%}): below the 0.8 rule."
    ) in age.statements
    sex = report.attribute("sex")
    assert sex.verdict == "pass"
    female = next(g for g in sex.groups if g.group == "female")
    assert sex.statements == (
        f"Approval rate for female is {female.ratio_to_most_favoured:.2f} of that for male "
        f"({female.selection_rate:.1%} vs "
        f"{next(g for g in sex.groups if g.group == 'male').selection_rate:.1%}): "
        "meets the 0.8 rule.",
    )


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate(demo_store, report) -> None:
    sex = report.attribute("sex")
    again = fairness_report(demo_store, SELECTION, granularity="week", attribute="sex")
    assert again.attribute("sex").intervals == sex.intervals
    other = fairness_report(demo_store, SELECTION, granularity="week", attribute="sex", seed=9)
    assert other.attribute("sex").intervals != sex.intervals
    for metric in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    ):
        interval = sex.intervals[metric]
        assert interval.low <= getattr(sex.disparities, metric) <= interval.high
    for g in sex.groups:
        # Close to the normal approximation for a proportion (200 resamples: within 35 %).
        width = g.selection_rate_ci.high - g.selection_rate_ci.low
        normal = 2 * 1.96 * np.sqrt(g.selection_rate * (1 - g.selection_rate) / g.rows)
        assert width == pytest.approx(normal, rel=0.35)
    none = fairness_report(demo_store, SELECTION, attribute="sex", resamples=0)
    assert none.attribute("sex").intervals == {}


def test_drift_against_validation_values(demo_store: Store, report) -> None:

    with demo_store.connect() as con:
        holdout = registry.get_version(con, MODEL, "1.0").validation_metrics["holdout"]
    sex = report.attribute("sex")
    comparison = sex.validation
    assert comparison.dataset == "holdout"
    assert (
        comparison.demographic_parity_ratio_at_validation == holdout["demographic_parity_ratio_sex"]
    )
    assert comparison.change == pytest.approx(
        sex.disparities.demographic_parity_ratio - holdout["demographic_parity_ratio_sex"]
    )
    rates = {r.group: r for r in comparison.selection_rates}
    assert rates["female"].at_validation == holdout["selection_rate_female"]
    assert comparison.status == ("drift" if abs(comparison.change) > 0.1 else "ok")
    age = report.attribute("age").validation
    assert age.status == "unavailable"
    assert age.text == (
        "No fairness values for 'age' were recorded at validation; nothing to compare with."
    )


def test_a_single_group_gets_no_verdict(demo_store: Store) -> None:
    only_women = Selection(MODEL, "1.0", SELECTION.start, SELECTION.end, Segment("sex", "female"))
    sex = fairness_report(demo_store, only_women, attribute="sex").attribute("sex")
    assert [g.group for g in sex.groups] == ["female"]
    assert sex.verdict == "insufficient"
    assert sex.disparities.demographic_parity_ratio is None
    assert sex.disparities.equalized_odds_difference is None
    assert sex.statements == (
        "sex: not enough groups with 30 or more predictions to apply the 0.8 rule.",
    )


def test_a_group_without_positive_labels(demo_copy: Store) -> None:
    with demo_copy.transaction() as con:
        con.execute(
            "DELETE FROM labels WHERE label = 1 AND prediction_id IN "
            "(SELECT prediction_id FROM log_credit_risk WHERE sex = 'female')"
        )
    report = fairness_report(demo_copy, SELECTION, resamples=20)
    sex = report.attribute("sex")
    female = next(g for g in sex.groups if g.group == "female")
    assert female.positives == 0 and female.tpr is None
    assert "no labelled positives: TPR is undefined" in female.warnings
    assert sex.disparities.eo_groups == ("male",)
    assert sex.disparities.equalized_odds_difference is None
    # Selection rates need no labels, so demographic parity is unchanged and still exact.
    rows = raw_rows(demo_copy, SELECTION)
    assert sex.disparities.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(rows["y_pred"], rows["y_pred"], sensitive_features=rows["sex"])
    )
    # Age bands still have positives among men: equalized odds over all bands as fairlearn.
    check_attribute(report.attribute("age"), rows, ["age"])


def test_missing_sensitive_values_form_their_own_group(demo_copy: Store) -> None:
    where, params = SELECTION.where()
    with demo_copy.transaction() as con:
        con.execute(
            "UPDATE log_credit_risk SET sex = NULL, age = NULL WHERE prediction_id IN ("
            f"SELECT prediction_id FROM log_credit_risk WHERE {where} AND status = 'ok' "
            "ORDER BY prediction_id LIMIT 12)",
            params,
        )
    report = fairness_report(demo_copy, SELECTION, resamples=0)
    sex = report.attribute("sex")
    missing = sex.groups[-1]
    assert missing.group == "(missing)" and missing.rows == 12
    assert missing.status == "too_small" and missing.ratio_to_most_favoured is None
    assert missing.warnings[0] == "only 12 predictions (fewer than 30): no verdict"
    assert "(missing): only 12 predictions (fewer than 30): no verdict." in sex.statements
    assert sex.disparities.dp_groups == ("female", "male")
    rows = raw_rows(demo_copy, SELECTION)
    known = rows[rows["sex"] != "(missing)"]
    assert sex.disparities.demographic_parity_ratio == pytest.approx(
        demographic_parity_ratio(known["y_pred"], known["y_pred"], sensitive_features=known["sex"])
    )
    assert [g.group for g in report.attribute("age").groups][-1] == "(missing)"


def test_unknown_attribute(demo_store: Store) -> None:
    with pytest.raises(FairnessError) as err:
        fairness_report(demo_store, SELECTION, attribute="income")
    assert str(err.value) == (
        "'income' is not a sensitive attribute here (available: sex, age, sex × age)."
    )


def test_an_empty_selection(demo_store: Store) -> None:
    empty = Selection(MODEL, "1.1", dt.datetime(2026, 9, 1), dt.datetime(2026, 9, 2))
    with pytest.raises(FairnessError) as err:
        fairness_report(demo_store, empty)
    assert str(err.value) == (
        "credit-risk 1.1 served no successful predictions in the selected range; widen the "
        "range or clear the segment."
    )


def test_band_labels() -> None:
    assert band_labels((25, 35, 50), integer=True) == ("<25", "25–34", "35–49", "50+")
    assert band_labels((1.5, 3.0), integer=False) == ("<1.5", "1.5–<3", "3+")


def test_fairness_metric_values_for_a_selection_and_per_window(report) -> None:
    """Plain functions alert rules and pipelines call: one attribute, or the worst single one."""
    sex, age = report.attribute("sex"), report.attribute("age")
    dpr = metric_value(report, "demographic_parity_ratio", "sex")
    assert (dpr.value, dpr.attribute) == (sex.disparities.demographic_parity_ratio, "sex")
    worst = metric_value(report, "demographic_parity_ratio")
    ratios = {a.name: a.disparities.demographic_parity_ratio for a in (sex, age)}
    assert worst.value == min(ratios.values())
    assert worst.attribute == min(ratios, key=ratios.__getitem__)
    difference = metric_value(report, "equalized_odds_difference")
    assert difference.value == max(a.disparities.equalized_odds_difference for a in (sex, age))
    by_window = metric_by_window(report, "demographic_parity_ratio", "sex_x_age")
    crossed = report.attribute("sex × age")
    assert [start for start in by_window] == [w.start for w in crossed.windows]
    for window in crossed.windows:
        found = by_window[window.start]
        assert found.value == window.disparities.demographic_parity_ratio
        assert (found.value is None) == bool(found.note)
    assert report.metric_values()["demographic_parity_ratio_sex"] == dpr.value
    with pytest.raises(FairnessError):
        metric_value(report, "accuracy")
    with pytest.raises(FairnessError):
        metric_value(report, "demographic_parity_ratio", "income")


def test_cli_fairness_json(demo_store: Store, report, monkeypatch, capsys) -> None:
    import json

    from vigil.cli.main import main

    monkeypatch.setenv("VIGIL_HOME", str(demo_store.home))
    argv = ["fairness", "--model", MODEL, "--version", "1.0", "--from", "2026-09-28"]
    code = main([*argv, "--to", "2026-11-01", "--attribute", "sex", "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    sex = report.attribute("sex")
    assert [a["name"] for a in payload["attributes"]] == ["sex"]
    shown = payload["attributes"][0]
    assert [g["selection_rate"] for g in shown["groups"]] == [g.selection_rate for g in sex.groups]
    assert shown["verdict"] == sex.verdict
    assert payload["metrics"]["demographic_parity_ratio_sex"] == (
        sex.disparities.demographic_parity_ratio
    )
    assert shown["intervals"]["demographic_parity_ratio"]["low"] == (
        sex.intervals["demographic_parity_ratio"].low
    )
    assert len(shown["windows"]) == 5
    code = main([*argv, "--to", "2026-11-01", "--attribute", "income"])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: 'income' is not a sensitive attribute here (available: sex, age, sex × age).\n"
    )
