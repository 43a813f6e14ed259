"""The sync engine, free of Dagster: DuckDB state, extract, link, merge, outbox, apply (DESIGN Part C)."""
