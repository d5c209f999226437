"""Coverage: each regulatory requirement (SR 26-2, PRA SS1/23, EU AI Act), where Vigil shows
the evidence for it, what that covers and what it does not."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.evidence.coverage import Coverage, Location, regulations, requirements

PAGE = PageSpec(
    title="Coverage", icon=":material/checklist:", url_path="coverage", needs_model=False
)
ALL = "All regulations"


def _where(locations: tuple[Location, ...]) -> str:
    return ", ".join(
        f"{loc.name} page" if loc.kind == "page" else f"vigil {loc.name}" for loc in locations
    )


def render(ctx: PageContext) -> None:
    st.title("Regulatory coverage")
    st.caption(
        "Where Vigil shows the evidence for each requirement, and what it leaves to other "
        "systems. Partial means part of the requirement is evidenced here, not all of it."
    )
    regulation = st.selectbox("Regulation", [ALL, *regulations()], key="coverage_regulation")
    rows = requirements(None if regulation == ALL else regulation)
    columns = st.columns(len(Coverage))
    for column, level in zip(columns, Coverage, strict=True):
        column.metric(level.value.capitalize(), sum(r.coverage is level for r in rows))
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "regulation": r.regulation,
                    "reference": r.reference,
                    "requirement": r.title,
                    "what it asks": r.asks,
                    "coverage": r.coverage.value,
                    "where in Vigil": _where(r.where),
                    "what Vigil covers": r.covered,
                    "what it does not": r.not_covered,
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        key="coverage_table",
    )
