"""The validator's quick column-wise path agrees with the row-by-row one on any batch, and the
feed equals the registry's own (DataFrame) feed."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.contract import FeatureSpec
from vigil.core.registry import artifacts
from vigil.core.serve import instances

FEATURES = (
    FeatureSpec("income", "number", False),
    FeatureSpec("tenure", "integer", False),
    FeatureSpec("region", "string", True),
    FeatureSpec("vip", "boolean", True, nullable=True),
    FeatureSpec("branch", "string", True, nullable=True, model_input=False),
)
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3), st.just(2.0), st.lists(st.integers(), max_size=1),
)  # fmt: skip
ROW = st.dictionaries(
    st.sampled_from(["income", "tenure", "region", "vip", "branch", "request_id", "other"]), VALUES
)


def _slow(rows: list[object]) -> list[instances.FieldError]:
    names = frozenset(f.name for f in FEATURES)
    return [
        e for i, r in enumerate(rows) for e in instances._instance_errors(i, r, FEATURES, names)
    ]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(ROW, st.integers()), min_size=1, max_size=6))
def test_quick_and_row_by_row_validation_agree(rows: list[object]) -> None:
    assert instances.validate(rows, FEATURES) == _slow(rows)


def test_the_feed_equals_the_registrys_feed() -> None:
    rows = [
        {"income": 10.5, "tenure": 3, "region": "north", "vip": True, "branch": None},
        {"income": -1, "tenure": 0, "region": "é", "vip": False},
    ]
    ours = instances.build_feed(rows, FEATURES)
    theirs = artifacts.build_feed(pd.DataFrame(rows), FEATURES)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].dtype == theirs[name].dtype and ours[name].shape == theirs[name].shape
        assert np.array_equal(ours[name], theirs[name]), name
    assert not any(math.isnan(x) for x in ours["income"].ravel())
