"""Realised performance: results, metrics SQL, bootstrap, the report, the labelled baseline
and concept drift."""
