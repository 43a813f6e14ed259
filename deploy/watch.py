"""What `make deploy-check` reads back: runs and sensor state through the webserver's GraphQL API (which
reads them from PostgreSQL), and the linked pairs it edits from the CRM sandbox."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from crm_membercare.systems.customcrm import CustomCrmClient

LOCATION = "crm_membercare"  # deploy/workspace.yaml's location_name
REPOSITORY = "__repository__"  # the name Dagster gives a code location's one Definitions
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}

RUNS = "{ runsOrError(limit: 1000) { ... on Runs { results { runId status endTime } } } }"
SENSORS = """query ($repository: RepositorySelector!) { sensorsOrError(repositorySelector: $repository) {
  ... on Sensors { results { name sensorState {
    typeSpecificData { ... on SensorData { lastCursor } }
    ticks(limit: 1) { timestamp status runIds } } } } } }"""


@dataclass(frozen=True)
class Snapshot:
    run_ids: frozenset[str]
    cursors: dict[str, str | None]
    last_ticks: dict[str, dict]  # sensor -> its newest tick


class Dagster:
    def __init__(self, webserver_url: str) -> None:
        self.url = f"{webserver_url}/graphql"

    def _query(self, query: str, **variables) -> dict:
        response = httpx.post(self.url, json={"query": query, "variables": variables}, timeout=30)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def _runs(self) -> list[dict]:
        return self._query(RUNS)["runsOrError"]["results"]

    def _sensors(self) -> list[dict]:
        repository = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        return self._query(SENSORS, repository=repository)["sensorsOrError"].get("results") or []

    def location_loaded(self) -> bool:
        try:
            return bool(self._sensors())
        except httpx.HTTPError:  # the webserver is still starting
            return False

    def first_runs_succeeded(self) -> bool:
        runs = self._runs()
        failed = [run["runId"] for run in runs if run["status"] == "FAILURE"]
        if failed:
            raise RuntimeError(f"runs failed: {failed} (their events are in the webserver, logs in the run's log)")
        return any(run["status"] == "SUCCESS" for run in runs)

    def snapshot(self) -> Snapshot:
        sensors = self._sensors()
        return Snapshot(
            run_ids=frozenset(run["runId"] for run in self._runs()),
            cursors={s["name"]: s["sensorState"]["typeSpecificData"]["lastCursor"] for s in sensors},
            last_ticks={s["name"]: (s["sensorState"]["ticks"] or [{}])[0] for s in sensors})

    def settled(self) -> Snapshot | None:
        """A snapshot once no run is in flight and every sensor has ticked, requesting nothing, since the last
        run ended (so each has seen the sync's own writes); None until then."""
        runs = self._runs()
        if any(run["status"] in ACTIVE for run in runs):
            return None
        last_end = max((run["endTime"] or 0 for run in runs), default=0)
        snapshot = self.snapshot()
        quiet = all(tick.get("status") == "SKIPPED" and tick["timestamp"] > last_end
                    for tick in snapshot.last_ticks.values())
        return snapshot if quiet else None

    def ticked_since(self, timestamp: float) -> Snapshot | None:
        """A snapshot once every sensor has finished a tick that started after `timestamp`; None until then."""
        snapshot = self.snapshot()
        ticked = all(tick.get("timestamp", 0) > timestamp and tick["status"] != "STARTED"
                     for tick in snapshot.last_ticks.values())
        return snapshot if ticked else None

    @staticmethod
    def assert_survived(before: Snapshot, after: Snapshot) -> None:
        """After the daemon's restart: every earlier run still listed, every cursor as it was, and no sensor's
        first tick requested a run (a sensor that had lost its cursor would see old changes as new)."""
        lost = before.run_ids - after.run_ids
        assert not lost, f"runs missing after the daemon's restart: {sorted(lost)}"
        assert after.cursors == before.cursors, f"cursors changed: {before.cursors} -> {after.cursors}"
        launched = {name: tick for name, tick in after.last_ticks.items() if tick.get("status") != "SKIPPED"}
        assert not launched, f"first ticks after the restart requested runs: {launched}"


def linked_pairs(crm: CustomCrmClient, count: int) -> list[tuple[int, str]] | None:
    """`count` (contact id, person id) pairs the sync linked: each contact carries its person's identity."""
    prefix = "membercare:persons:"
    pairs = []
    for page in crm.iter_changes("contacts"):
        pairs += [(record["id"], record["external_ref"].removeprefix(prefix)) for record in page.records
                  if not record["archived"] and (record["external_ref"] or "").startswith(prefix)]
        if len(pairs) >= count:
            return pairs[:count]
    return None
