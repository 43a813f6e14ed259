"""The two systems this project syncs, as real HTTP servers with their own SQLite stores (DESIGN Part A)."""
