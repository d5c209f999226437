"""Data: ingested files with their counts, the quarantine, and uploads for analysts."""

from __future__ import annotations

import streamlit as st

from vigil.app.cache import cached
from vigil.app.context import PageContext
from vigil.app.pagespec import PageSpec
from vigil.core.errors import VigilError
from vigil.core.ingest import history as ingest_history
from vigil.core.ingest.batches import Step
from vigil.core.ingest.run import step_share

PAGE = PageSpec(title="Data", icon=":material/database:", url_path="data")


def upload_progress(step: Step) -> tuple[float, str]:
    """The upload's progress bar: share done and what is happening, with rows/s and time left."""
    share = step_share(step)
    rate = f"{step.rows_per_s:,.0f} rows/s" if step.rows_per_s else ""
    if step.name == "stored":
        return 1.0, f"Stored: {step.rows:,} rows read in {step.elapsed_s:.1f} s"
    if step.name == "storing" and step.total:
        left = step.elapsed_s * (1 - share) / share
        return share, (
            f"Storing {step.rows:,} of {step.total:,} rows · {rate} · about {left:.0f} s left"
        )
    return share, f"Read and checked {step.rows:,} rows · {rate} · storing next"


def _upload(ctx: PageContext, model_name: str) -> None:
    st.subheader("Ingest a file")
    if not ctx.user.can("ingest"):
        st.caption(
            f"You are signed in as {ctx.user.role_phrase}: ingestion is for analysts and admins. "
            "Pipelines ingest with `vigil ingest`."
        )
        return
    with st.form("upload", clear_on_submit=True):
        kind = st.radio("File holds", ["Predictions", "Labels"], horizontal=True)
        upload = st.file_uploader(
            "Prediction-log or label file",
            type=["parquet", "csv", "jsonl"],
            help="Columns as in the log contract (README). Every row is validated.",
        )
        submitted = st.form_submit_button("Ingest", type="primary")
    if submitted and upload is not None:
        bar = st.progress(0.0, text=f"Reading {upload.name}…")

        def show(step: Step) -> None:
            share, words = upload_progress(step)
            bar.progress(share, text=words)

        try:
            result = ingest_history.ingest_upload(
                ctx.store,
                ctx.user,
                model_name,
                filename=upload.name,
                content=upload.getvalue(),
                labels=kind == "Labels",
                progress=show,
            )
        except VigilError as err:
            bar.empty()
            st.error(str(err))
            return
        message = (
            f"{upload.name}: read {result.read:,}, stored {result.stored:,}, "
            f"quarantined {result.quarantined:,}, already present {result.already_present:,}."
        )
        (st.warning if result.quarantined else st.success)(message)
        for top in result.top_reasons:
            st.text(f"{top.rows:,} × {top.reason}")
        if result.ignored_columns:
            st.caption(f"Columns not in the contract, ignored: {', '.join(result.ignored_columns)}")


def render(ctx: PageContext) -> None:
    model_name = ctx.model_name
    if model_name is None:
        st.title("Data")
        st.info("No model is registered yet: register one with `vigil register` first.")
        return
    st.title(f"Data · {model_name}")
    st.caption(
        "Every row received is accounted for: read = stored + quarantined + already present."
    )
    _upload(ctx, model_name)
    st.subheader("Ingested files")
    files = cached(ingest_history.batches, ctx.store, model_name)
    st.dataframe(files, hide_index=True, width="stretch")
    st.subheader("Quarantine")
    left, right = st.columns([1, 2])
    kind = left.selectbox("Rows", ["all", "prediction", "label"], key="data_q_kind")
    contains = right.text_input("Reason contains", key="data_q_contains")
    rows = cached(
        ingest_history.quarantine,
        ctx.store,
        model_name,
        kind=None if kind == "all" else kind,
        contains=contains,
    )
    if rows.empty:
        st.success("No rejected rows match.")
        return
    st.dataframe(rows, hide_index=True, width="stretch")
    st.download_button(
        "Download these rows (CSV)",
        rows.to_csv(index=False).encode(),
        file_name=f"{model_name}-quarantine.csv",
        mime="text/csv",
    )
