"""Profiles beyond one machine: one profile plan (SQL written once, core.lake.plan) run by
DuckDB or Apache Spark, logs kept as Parquet in a data lake (`vigil profile`), and KS /
Wasserstein from a fine reference-quantile grid with a proven error bound where a day has
too many distinct values to keep them all (core.lake.bounded)."""
