"""Vigil: monitoring and governance for machine-learning models in production.

The distribution installs one top-level package, `vigil`: `vigil.core` (every query,
statistic, rule and state change), `vigil.app` and `vigil.pages` (the dashboard),
`vigil.cli` (the command line). In the source tree core/, app/ and pages/ stay at the top,
and vigil/ links to them (see ARCHITECTURE.md).
"""

__version__ = "0.2.0"
