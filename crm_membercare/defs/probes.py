"""Cheap change probes for the sensors: has a system changed since the sensor's cursor? HTTP only, no DuckDB.

A sensor runs in the code-server process while a sync run may hold the DuckDB file (one writer process), so
it asks the API instead. Per resource the cursor keeps a watermark (`at`: the newest change marker seen, as
the system wrote it) and the records seen at exactly that marker (`seen`: "id:version" / "id:lastChange"),
because both reads are inclusive at the watermark. For MemberCare's hard-deletable resources it also keeps a
digest of `/ids`. Nothing is lost: a probe that stops early (page cap) keeps its watermark where it stopped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from crm_membercare.resources import CRM, DECLARED, MEMBERCARE, Resource
from crm_membercare.systems import CustomCrmClient, MemberCareClient

CRM_RESOURCES = tuple(r for r in DECLARED if r.system == CRM)
MC_RESOURCES = tuple(r for r in DECLARED if r.system == MEMBERCARE)
HARD_DELETED = tuple(r for r in MC_RESOURCES if r.hard_deleted)  # deletes only /ids shows
MAX_PAGES = 5  # per resource and tick: a tick must stay well under Dagster's 60 s limit


@dataclass(frozen=True)
class Probe:
    changed: dict[str, int]  # resource -> records new since the cursor ("<resource>/ids" for a changed id list)
    cursor: dict

    @property
    def any(self) -> bool:
        return any(self.changed.values())

    @property
    def encoded(self) -> str:
        return json.dumps(self.cursor, sort_keys=True, separators=(",", ":"))

    def run_key(self, direction: str) -> str:
        """Stable for the same changes: the same new cursor always yields the same key."""
        return f"{direction}-{hashlib.sha256(self.encoded.encode()).hexdigest()[:20]}"


def decode(cursor: str | None) -> dict:
    return json.loads(cursor) if cursor else {}


def _walk(pages, mark: dict | None, key, marker) -> tuple[int, dict | None]:
    """Count records not seen at the watermark; return the new watermark."""
    seen = set(mark["seen"]) if mark else set()
    at = mark["at"] if mark else None
    new = 0
    for number, page in enumerate(pages, start=1):
        for record in page.records:
            record_key = key(record)
            if record_key in seen:
                continue
            new += 1
            if marker(record) != at:
                at, seen = marker(record), set()
            seen.add(record_key)
        if number >= MAX_PAGES:
            break
    return new, ({"at": at, "seen": sorted(seen)} if at is not None else mark)


def probe_customcrm(client: CustomCrmClient, cursor: dict,
                    resources: tuple[Resource, ...] = CRM_RESOURCES) -> Probe:
    changed, marks = {}, dict(cursor.get("marks", {}))
    for declared in resources:
        resource, id_field = declared.resource, declared.id_field
        mark = marks.get(resource)
        pages = client.iter_changes(resource, mark["at"] if mark else None, id_field=id_field)
        changed[resource], marks[resource] = _walk(
            pages, mark, lambda r, f=id_field: f"{r[f]}:{r['version']}", lambda r: r["updated_at"])
    return Probe(changed, {"marks": marks})


def probe_membercare(client: MemberCareClient, cursor: dict,
                     resources: tuple[Resource, ...] = MC_RESOURCES) -> Probe:
    changed, marks, ids = {}, dict(cursor.get("marks", {})), dict(cursor.get("ids", {}))
    for declared in resources:
        resource, id_field = declared.resource, declared.id_field
        mark = marks.get(resource)
        pages = client.iter_changes(resource, mark["at"] if mark else None, id_field=id_field)
        changed[resource], marks[resource] = _walk(
            pages, mark, lambda r, f=id_field: f"{r[f]}:{r['lastChange']}", lambda r: r["lastChange"])
    for resource in (r.resource for r in resources if r.hard_deleted):
        digest = hashlib.sha256(json.dumps(sorted(map(str, client.list_ids(resource)))).encode()).hexdigest()[:20]
        changed[f"{resource}/ids"] = int(ids.get(resource) not in (None, digest))
        ids[resource] = digest
    return Probe(changed, {"marks": marks, "ids": ids})
