"""The state file: migrations, and DuckDB's rule that a half-read result blocks the connection."""

from __future__ import annotations

import duckdb
import pandas as pd

from crm_membercare.engine import breaker
from crm_membercare.engine.cursors import get_cursor
from crm_membercare.engine.state import CATALOG, MIGRATIONS, open_state, schema_version


def test_a_new_file_is_migrated_and_an_existing_one_is_left_as_it_is(tmp_path):
    path = tmp_path / "sync.duckdb"
    with open_state(path) as con:
        assert schema_version(con) == len(MIGRATIONS)
        con.execute("INSERT INTO sync.cursors (system, resource, cursor) VALUES ('crm', 'contacts', 'x')")
    with open_state(path) as con:
        assert schema_version(con) == len(MIGRATIONS)
        assert get_cursor(con, "crm", "contacts") == "x"


def test_a_state_that_spelled_the_crm_side_customcrm_is_rewritten_to_crm(tmp_path):
    """Before migration 5, dirty marks and cursors said 'customcrm' while rejects and ambiguous matches said
    'crm'. A file of that age keeps its cursor and its marks under the one spelling."""
    path = tmp_path / "state.duckdb"
    with open_state(path) as con:
        con.execute("DELETE FROM sync.schema_version WHERE version = 5")
        con.execute("INSERT INTO sync.cursors (system, resource, cursor) VALUES ('customcrm', 'contacts', 'c1')")
        con.execute("INSERT INTO sync.dirty (flow, side, record_id, since_cycle) VALUES "
                    "('contacts_persons', 'customcrm', '7', 1), ('contacts_persons', 'membercare', '10001', 1)")
    with open_state(path) as con:
        assert schema_version(con) == len(MIGRATIONS)
        assert get_cursor(con, "crm", "contacts") == "c1"
        assert sorted(con.execute("SELECT side, record_id FROM sync.dirty").fetchall()) == [
            ("crm", "7"), ("membercare", "10001")]


def test_single_row_reads_leave_the_connection_free(tmp_path):
    """A `fetchone()` leaves DuckDB's result unfinished and the next `register` fails (seen in the crash test:
    an extract that read a cursor, found no page, then compared `/ids`)."""
    with open_state(tmp_path / "sync.duckdb") as con:
        con.execute("INSERT INTO sync.cursors (system, resource, cursor) VALUES ('membercare', 'products', 'x')")
        for read in (lambda: get_cursor(con, "membercare", "products"),
                     lambda: breaker.evaluate(con, "products_products")):
            read()
            con.register("probe", pd.DataFrame({"id": [1]}))
            assert con.execute("SELECT count(*) FROM probe").fetchall() == [(1,)]
            con.unregister("probe")


def test_a_file_of_the_first_release_is_migrated_in_place(tmp_path):
    """A state file written before `/ids` digests existed keeps its cursors and gains the column."""
    path = tmp_path / "sync.duckdb"
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{path}' AS {CATALOG}")
        con.execute(f"USE {CATALOG}")
        schema_version(con)
        MIGRATIONS[0](con)
        con.execute("INSERT INTO sync.schema_version VALUES (1)")
        con.execute("INSERT INTO sync.cursors (system, resource, cursor) VALUES ('membercare', 'persons', 'c')")
    with open_state(path) as con:
        assert schema_version(con) == len(MIGRATIONS) >= 2
        assert con.execute("SELECT cursor, ids_digest FROM sync.cursors").fetchall() == [("c", None)]


def test_duckdb_memory_is_bounded_and_spills_next_to_the_state_file(tmp_path):
    with open_state(tmp_path / "sync.duckdb", memory_limit="256MB") as con:
        limit, spill = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()[0]
    assert limit == "244.1 MiB", limit  # 256 MB in DuckDB's binary units
    assert spill == f"{tmp_path / 'sync.duckdb'}.tmp"
