"""Shared helpers for gateway tests: instances, keys, an app bound to a store."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tests.core import factories
from tests.gateway.conftest import ADMIN
from vigil.core.govern import tokens
from vigil.core.registry import artifacts
from vigil.core.registry.versions import get_version, load_model
from vigil.core.store.connection import Store


def rows(n: int = 5, seed: int = 3) -> list[dict[str, Any]]:
    """Instances as a client sends them: JSON numbers and text."""
    frame = factories.reference_frame(n, seed=seed).drop(columns="label")
    return [
        {"income": float(r.income), "tenure": int(r.tenure), "region": str(r.region)}
        for r in frame.itertuples()
    ]


def expected_scores(store: Store, version: str, instances: list[dict[str, Any]]) -> list[float]:
    """Independent path: the registry's hash-checked session on a DataFrame."""
    with store.connect() as con:
        found = get_version(con, "toy", version)
    session = load_model(store, found)
    return [float(s) for s in artifacts.score(session, pd.DataFrame(instances), found.features)]


def key(store: Store, *scopes: str) -> str:
    return tokens.create_key(
        store, ADMIN, account="front-end", scopes=scopes or ("predict:toy",), rationale="tests"
    ).token
