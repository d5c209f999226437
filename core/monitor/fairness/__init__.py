"""Fairness across groups of sensitive attributes: results, grouping and group metrics,
bootstrap intervals, the comparison with validation, the report and its metric values."""
