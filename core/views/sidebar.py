"""What the dashboard's sidebar needs on every rerun, read in one unit of work.

Each rerun checks that the signed-in user is still who the session claims (core.govern.
principals) and reads the choices the selectors offer. Doing it in one connection keeps a
rerun to one open of the store, however many selectors the sidebar draws.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import duckdb

from vigil.core.errors import VigilError
from vigil.core.govern.auth import User
from vigil.core.govern.principals import PrincipalCheck, check
from vigil.core.monitor.selection import data_range, segment_columns, segment_values
from vigil.core.registry.versions import ModelVersion, aliases, list_model_names, list_versions
from vigil.core.store.connection import Store
from vigil.core.store.pending import Snapshot, snapshot


@dataclass(frozen=True)
class Picks:
    """What the user had chosen before this rerun (None: nothing yet)."""

    model: str | None = None
    version: str | None = None
    segment_column: str | None = None


@dataclass(frozen=True)
class VersionChoice:
    version: ModelVersion
    alias: str | None

    @property
    def label(self) -> str:
        alias = f" · {self.alias}" if self.alias else ""
        return f"{self.version.model_version} · {self.version.status_label}{alias}"


@dataclass(frozen=True)
class SidebarData:
    principal: PrincipalCheck
    models: tuple[str, ...] = ()
    model: str | None = None
    versions: tuple[VersionChoice, ...] = ()
    version: ModelVersion | None = None
    data_range: tuple[dt.datetime, dt.datetime] | None = None
    segment_columns: tuple[str, ...] = ()
    segment_values: tuple[str, ...] = ()
    error: str | None = None  # a selector's choices could not be read (shown, not raised)
    snapshot: Snapshot | None = None  # the store's version and freshness (see app.cache)


def _default_version(choices: tuple[VersionChoice, ...], picked: str | None) -> ModelVersion:
    by_name = {c.version.model_version: c.version for c in choices}
    if picked in by_name:
        return by_name[picked]
    champion = next((c.version for c in choices if c.alias == "champion"), None)
    return champion or choices[-1].version


def sidebar_data(
    store: Store, user: User, signed_in_at: dt.datetime | None, picks: Picks
) -> SidebarData:
    """The principal's standing and the selectors' choices, in one connection. Picks that no
    longer exist fall back to defaults: the first model, its champion (else newest version)."""
    with store.connect() as con:
        principal = check(con, user, signed_in_at=signed_in_at)
        if not principal.current:
            return SidebarData(principal)
        state = snapshot(con)  # the cache's version key, read in the same open
        try:
            return replace(_choices(con, principal, picks), snapshot=state)
        except VigilError as err:
            return SidebarData(principal, error=str(err), snapshot=state)


def _choices(
    con: duckdb.DuckDBPyConnection, principal: PrincipalCheck, picks: Picks
) -> SidebarData:
    models = tuple(list_model_names(con))
    if not models:
        return SidebarData(principal)
    model = picks.model if picks.model in models else models[0]
    alias_of = {v: a for a, v in aliases(con, model).items()}
    choices = tuple(
        VersionChoice(v, alias_of.get(v.model_version)) for v in list_versions(con, model)
    )
    if not choices:
        return SidebarData(principal, models, model)
    version = _default_version(choices, picks.version)
    columns = tuple(segment_columns(con, model, version.model_version))
    column = picks.segment_column if picks.segment_column in columns else None
    values = tuple(segment_values(con, model, version.model_version, column)) if column else ()
    return SidebarData(
        principal,
        models,
        model,
        choices,
        version,
        data_range(con, model, version.model_version),
        columns,
        values,
    )
