"""Text from the systems never drives the operator's terminal (issue 12, item 7; DESIGN C11): the CLI's tables
show control characters escaped, its JSON stays exact. A reject and a conflict holding ESC sequences, BEL, a
bidi override and a newline are put in a real state file; `crm-membercare rejects` / `conflicts` / `status`
run as subprocesses.
"""

from __future__ import annotations

import json
from pathlib import Path

from crm_membercare.engine.state import open_state
from crm_membercare_tests.process_support import cli

HOSTILE = "Nord\x1b[2J\x1b]0;owned\x07mann\u202eevil\nnext line"
CONTROLS = ("\x1b", "\x07", "\u202e")


def _state_with_hostile_text(path: Path) -> None:
    with open_state(path) as con:
        con.execute("INSERT INTO sync.cycles (finished_at, status, error) VALUES (now(), 'failed', ?)", [HOSTILE])
        con.execute("INSERT INTO sync.rejects (cycle_id, flow, side, record_id, field, reason, value) "
                    "VALUES (1, 'contacts_persons', 'crm', '7', 'last_name', ?, ?)", [HOSTILE, HOSTILE])
        con.execute("INSERT INTO sync.conflicts (cycle_id, flow, crm_id, mc_id, field, crm_value, membercare_value, "
                    "winner, policy) VALUES (1, 'contacts_persons', 7, '10007', 'last_name', ?, ?, 'crm', 'newest')",
                    [json.dumps(HOSTILE), json.dumps("x\x1b[31m")])


def test_tables_show_control_characters_escaped_and_json_stays_exact(tmp_path) -> None:
    env = {"CRM_MEMBERCARE_DB": str(tmp_path / "state.duckdb"),
           "CRM_MEMBERCARE_ANALYTICS_DB": str(tmp_path / "analytics.duckdb")}
    _state_with_hostile_text(tmp_path / "state.duckdb")
    for command in (("rejects",), ("conflicts",), ("status",)):
        run = cli(*command, env=env)
        assert run.returncode == 0, run.stderr
        assert not [c for c in CONTROLS if c in run.stdout], (command, run.stdout)
        assert "\\x1b[2J" in run.stdout or "\\x1b[31m" in run.stdout, (command, run.stdout)
    rejects = cli("rejects", "--json", env=env)
    assert [r["reason"] for r in json.loads(rejects.stdout)] == [HOSTILE]
