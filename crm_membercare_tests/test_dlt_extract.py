"""bench/dlt_extract.py, the dlt side of the extraction comparison: run as the bench runs it, over sandboxes with
pages small enough that every resource is read over several pages. Skipped where dlt is not installed (it is
the bench's extra, not the tests')."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from crm_membercare.systems import CustomCrmClient, MemberCareClient
from crm_membercare.systems.customcrm import CRM_RESOURCES
from crm_membercare.systems.membercare import MC_RESOURCES
from crm_membercare_tests.engine_support import CRM_TOKEN, MC_API_KEY, TINY_SCALE
from crm_membercare_tests.process_support import ROOT

pytest.importorskip("dlt")


def held_counts(crm_url: str, mc_url: str) -> dict[str, int]:
    """What the sandboxes hold, read through the project's own clients."""
    counts = {}
    with CustomCrmClient(crm_url, CRM_TOKEN) as crm, MemberCareClient(mc_url, MC_API_KEY) as mc:
        for resource in CRM_RESOURCES:
            counts["crm_products" if resource == "products" else resource] = sum(
                len(page.records) for page in crm.iter_changes(resource))
        for resource in MC_RESOURCES:
            counts["mc_products" if resource == "products" else resource] = sum(
                len(page.records) for page in mc.iter_changes(resource))
    return counts


def test_loads_every_record_and_prints_one_json_line(tmp_path, customcrm_server, membercare_server):
    for server in (customcrm_server, membercare_server):
        httpx.post(f"{server.root_url}/_sandbox/seed", json={"seed": 9, "scale": TINY_SCALE, "overlap": 0.3},
                   timeout=300).raise_for_status()
    args = [sys.executable, "-m", "bench.dlt_extract", customcrm_server.api_url, membercare_server.api_url,
            str(tmp_path), "--crm-page", "7", "--mc-page", "5", "--normalize-workers", "2"]
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.stdout
    result = json.loads(lines[0])
    expected = held_counts(customcrm_server.api_url, membercare_server.api_url)
    assert min(expected.values()) > 5  # every resource spans pages at these page sizes
    assert result["rows"] == expected
    assert result["seconds"] > 0 and result["config"]["crm_page"] == 7
    assert (tmp_path / "dlt.duckdb").exists() and (tmp_path / "dlt_pipelines").is_dir()
