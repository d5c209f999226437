"""Data and prediction drift against a reference: results, settings, SQL sources, exact
statistics, comparison, verdicts, the report and the domain classifier."""
