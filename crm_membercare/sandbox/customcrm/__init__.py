"""The CustomCRM sandbox (DESIGN A1, A3): a REST API over a persistent SQLite store."""
