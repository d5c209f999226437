"""How a page declares itself to the navigation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    title: str
    icon: str
    url_path: str
    needs_model: bool = True  # pages that show one model version; False for e.g. Audit
    roles: frozenset[str] | None = None  # roles that see the page; None: every role
