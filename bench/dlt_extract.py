"""dlt's `rest_api` source reading both sandboxes into DuckDB: the comparison for the engine's extraction.

Configured fairly (issue 16): parquet loader files, no child tables (`max_table_nesting=0`), every resource
`parallelized`, the engine's page sizes (CustomCRM 1000, MemberCare 500) and dlt's workers tuned for this
machine. All ten resources sit in one source, since dlt extracts the sources of one run one after the other.
Run as `python -m bench.dlt_extract CRM_API_URL MC_API_URL WORK_DIR [--extract-workers N ...]`; prints one
JSON line: the wall time of `pipeline.run` (extract, normalize and load), the rows loaded per table and the
settings used. Everything dlt writes stays under WORK_DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import dlt
import httpx
from dlt.sources.helpers.rest_client.auth import APIKeyAuth, BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator, PageNumberPaginator
from dlt.sources.rest_api import rest_api_resources

from crm_membercare.config import Settings
from crm_membercare.systems.customcrm import CRM_RESOURCES
from crm_membercare.systems.membercare import MC_RESOURCES

PIPELINE, DATASET, DATABASE = "bench_dlt", "sandboxes", "dlt.duckdb"


@dataclass(frozen=True)
class RunConfig:
    """Page sizes and dlt's knobs. The worker defaults are the fastest measured at scale medium on 2 cores
    (median of 3, machine otherwise idle): 5.4 s, against 5.6-6.3 s with one normalize process and 6.0 s with
    dlt's defaults (5 extract threads, normalize in the main process, 20 load threads)."""

    crm_page: int = 1000  # the engine's page sizes (MemberCare's maximum is 500)
    mc_page: int = 500
    # Threads stepping the parallelized resources, one per resource (pages of one resource stay sequential);
    # extraction is bound by the GIL, so 5 measured the same.
    extract_workers: int = 10
    max_parallel_items: int = 20  # dlt's default, above the ten resources
    normalize_workers: int = 2  # forked processes, one per core; 1 normalizes in the main process
    load_workers: int = 2  # threads loading parquet files into DuckDB
    buffer_max_items: int = 5000  # dlt's default; 20 000 measured no faster
    file_max_items: int | None = None  # rotation (lets one table be split between workers): no faster here

    def environ(self) -> dict[str, str]:
        """dlt's own names for the knobs; it reads them from the environment when the pipeline runs."""
        env = {
            "EXTRACT__WORKERS": self.extract_workers,
            "EXTRACT__MAX_PARALLEL_ITEMS": self.max_parallel_items,
            "NORMALIZE__WORKERS": self.normalize_workers,
            "LOAD__WORKERS": self.load_workers,
            "DATA_WRITER__BUFFER_MAX_ITEMS": self.buffer_max_items,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "RUNTIME__LOG_LEVEL": "WARNING",  # to stderr; stdout carries only the result
        }
        if self.file_max_items:
            env["DATA_WRITER__FILE_MAX_ITEMS"] = self.file_max_items
        return {name: str(value) for name, value in env.items()}


def membercare_token(mc_url: str) -> str:
    key = os.environ.get("MEMBERCARE_API_KEY", Settings().membercare_api_key)
    response = httpx.get(f"{mc_url}/token", params={"clientApiKey": key, "personToImpersonate": 1}, timeout=30)
    response.raise_for_status()
    return response.json()["value"]


def crm_resources(crm_url: str, page_size: int) -> list:
    token = os.environ.get("CUSTOMCRM_TOKEN", Settings().customcrm_token)
    return rest_api_resources({
        "client": {
            "base_url": crm_url,
            "auth": BearerTokenAuth(token),
            # Keyset paging: the next page's cursor is in the body, null on the last page.
            "paginator": JSONResponseCursorPaginator(cursor_path="next_cursor", cursor_param="cursor"),
        },
        "resource_defaults": _resource_defaults({"limit": page_size, "include_archived": "true"}, "data"),
        "resources": [_named("crm", name) for name in CRM_RESOURCES],
    })


def mc_resources(mc_url: str, token: str, page_size: int) -> list:
    return rest_api_resources({
        "client": {
            "base_url": mc_url,
            "auth": APIKeyAuth(name="token", api_key=token, location="header"),
            # Page numbers up to `totalPages`: no request for an empty page past the end.
            "paginator": PageNumberPaginator(base_page=1, page_param="page", total_path="totalPages"),
        },
        "resource_defaults": _resource_defaults({"pageSize": page_size}, "result"),
        "resources": [_named("mc", name) for name in MC_RESOURCES],
    })


def _resource_defaults(params: dict, data_selector: str) -> dict:
    # A fresh database each run, so appending loads everything without a truncate step.
    return {"write_disposition": "append", "max_table_nesting": 0, "parallelized": True,
            "endpoint": {"params": params, "data_selector": data_selector}}


def _named(system: str, resource: str) -> dict:
    # Both systems have `products`: the table (resource) name carries the system, the path does not.
    name = f"{system}_products" if resource == "products" else resource
    return {"name": name, "endpoint": {"path": resource}}


def table_names() -> list[str]:
    return [_named("crm", r)["name"] for r in CRM_RESOURCES] + [_named("mc", r)["name"] for r in MC_RESOURCES]


def fresh_pipeline(work: Path):
    """A pipeline whose working folder and DuckDB file are new, both under `work` (nothing in ~/.dlt)."""
    pipelines_dir, database = work / "dlt_pipelines", work / DATABASE
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    database.unlink(missing_ok=True)
    return dlt.pipeline(pipeline_name=PIPELINE, pipelines_dir=str(pipelines_dir),
                        destination=dlt.destinations.duckdb(str(database)), dataset_name=DATASET)


def row_counts(pipeline) -> dict[str, int]:
    """Counted in the loaded DuckDB file, not taken from dlt's own metrics."""
    with pipeline.sql_client() as client:
        return {table: client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(table)}")[0][0]
                for table in table_names()}


def run(crm_url: str, mc_url: str, work: Path, config: RunConfig) -> dict:
    os.environ.update(config.environ())
    work.mkdir(parents=True, exist_ok=True)
    token = membercare_token(mc_url)  # one request, outside the timed run (the engine's client does it too)

    @dlt.source(name="sandboxes")
    def sandboxes():
        return crm_resources(crm_url, config.crm_page) + mc_resources(mc_url, token, config.mc_page)

    pipeline = fresh_pipeline(work)
    started = time.perf_counter()
    pipeline.run(sandboxes(), loader_file_format="parquet")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "rows": row_counts(pipeline), "config": asdict(config)}


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, RunConfig]:
    parser = argparse.ArgumentParser(prog="python -m bench.dlt_extract", description=__doc__.splitlines()[0])
    parser.add_argument("crm_url")
    parser.add_argument("mc_url")
    parser.add_argument("work_dir", type=Path)
    for name, value in asdict(RunConfig()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    args = parser.parse_args(argv)
    return args, RunConfig(**{name: getattr(args, name) for name in asdict(RunConfig())})


@contextlib.contextmanager
def stdout_to_stderr():
    """Points file descriptor 1 at stderr meanwhile: whatever dlt, DuckDB or the normalize processes (forked,
    they inherit the descriptor) write cannot end up beside the result line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()  # what was written through the real sys.stdout goes to stderr too
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: list[str] | None = None) -> None:
    args, config = parse_args(argv)
    with stdout_to_stderr():
        result = run(args.crm_url, args.mc_url, args.work_dir, config)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
