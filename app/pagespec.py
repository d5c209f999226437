"""How a page declares itself to the navigation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    title: str
    icon: str
    order: int
    url_path: str
    needs_model: bool = True  # pages that show one model version; False for e.g. Audit
