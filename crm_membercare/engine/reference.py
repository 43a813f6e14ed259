"""MemberCare's country list (`addresses/countries`) kept in the state file, so analysts can join on it.

The mapping translates ISO alpha-2 codes through this list; the engine reads it from the API once per cycle,
and this table is a copy for people (`membercare.countries`), replaced whole each time.
"""

from __future__ import annotations

import duckdb

from crm_membercare.engine.state import transaction


def store_countries(con: duckdb.DuckDBPyConnection, countries: list[dict]) -> int:
    """Replace `membercare.countries` with the API's list; return how many rows it holds."""
    rows = [(c["id"], c.get("name"), c.get("iso2Letter")) for c in countries]
    with transaction(con):
        con.execute("""CREATE TABLE IF NOT EXISTS membercare.countries (
                           id INTEGER PRIMARY KEY, name VARCHAR, iso2 VARCHAR)""")
        con.execute("DELETE FROM membercare.countries")
        if rows:
            con.executemany("INSERT INTO membercare.countries VALUES (?, ?, ?)", rows)
    return len(rows)
