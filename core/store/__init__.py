"""The DuckDB store: connection and unit of work, the ordered migrations, SQL helpers."""
