"""The link table (`sync.links`): which CRM record is which MemberCare record, per flow, with the bases.

Links are one-to-one per flow (derived flows excepted: a user has many invoices), an invoice belongs to at
most one order or quote, and a link whose record went away is *ended*, not removed (DESIGN Part B).
`LinkIndex` is a cycle's in-memory view of the active links; it answers the mapping's reference lookups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class Link:
    flow: str
    crm_id: int
    mc_id: str
    state: str
    base_crm: dict | None
    base_mc: dict | None


class LinkIndex:
    """Active and ended links of every flow, by both ids. Implements the mapping's `LinkLookup`."""

    def __init__(self, links: Iterable[Link] = (), *, integer_mc_ids: Iterable[str] = ()) -> None:
        # MemberCare ids travel in their own type: debtor numbers are strings, product and invoice ids integers.
        self._integer_mc_ids = frozenset(integer_mc_ids)
        self._by_crm: dict[tuple[str, int], Link] = {}
        self._by_mc: dict[tuple[str, str], Link] = {}
        for link in links:
            self.put(link)

    def put(self, link: Link) -> None:
        self._by_crm[(link.flow, link.crm_id)] = link
        self._by_mc[(link.flow, str(link.mc_id))] = link

    def drop(self, link: Link) -> None:
        self._by_crm.pop((link.flow, link.crm_id), None)
        self._by_mc.pop((link.flow, str(link.mc_id)), None)

    def by_crm(self, flow: str, crm_id: int) -> Link | None:
        return self._by_crm.get((flow, int(crm_id)))

    def by_mc(self, flow: str, mc_id: Any) -> Link | None:
        return self._by_mc.get((flow, str(mc_id)))

    def of_flow(self, flow: str) -> list[Link]:
        return [link for (name, _), link in self._by_crm.items() if name == flow]

    # LinkLookup: only active links translate references.
    def crm_id_for(self, flow_name: str, mc_id: Any) -> int | None:
        link = self.by_mc(flow_name, mc_id)
        return link.crm_id if link and link.state == "active" else None

    def mc_id_for(self, flow_name: str, crm_id: int) -> Any | None:
        link = self.by_crm(flow_name, crm_id)
        if not link or link.state != "active":
            return None
        return int(link.mc_id) if flow_name in self._integer_mc_ids else link.mc_id


def load_links(
    con: duckdb.DuckDBPyConnection, flows: Iterable[str] | None = None, *, integer_mc_ids: Iterable[str] = ()
) -> LinkIndex:
    query = "SELECT flow, crm_id, mc_id, state, base_crm, base_mc FROM sync.links"
    params: list = []
    if flows is not None:
        query += " WHERE flow IN (SELECT unnest(?))"
        params.append(list(flows))
    rows = con.execute(query, params).fetchall()
    return LinkIndex((
        Link(flow, crm_id, mc_id, state, _json(base_crm), _json(base_mc))
        for flow, crm_id, mc_id, state, base_crm, base_mc in rows
    ), integer_mc_ids=integer_mc_ids)


def _json(value: str | None) -> dict | None:
    return None if value is None else json.loads(value)


def save_link(
    con: duckdb.DuckDBPyConnection,
    link: Link,
    *,
    linked_by: str,
    crm_marker: str | None = None,
    mc_marker: str | None = None,
) -> None:
    con.execute(
        """INSERT INTO sync.links (flow, crm_id, mc_id, state, linked_by, base_crm, base_mc, crm_marker, mc_marker)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (flow, crm_id, mc_id) DO UPDATE SET
             state = excluded.state, base_crm = excluded.base_crm, base_mc = excluded.base_mc,
             crm_marker = coalesce(excluded.crm_marker, sync.links.crm_marker),
             mc_marker = coalesce(excluded.mc_marker, sync.links.mc_marker), updated_at = now()""",
        [link.flow, link.crm_id, str(link.mc_id), link.state, linked_by, _dump(link.base_crm), _dump(link.base_mc),
         crm_marker, mc_marker],
    )


def update_bases(
    con: duckdb.DuckDBPyConnection, link: Link, base_crm: dict | None, base_mc: dict | None
) -> Link:
    con.execute(
        """UPDATE sync.links SET base_crm = ?, base_mc = ?, updated_at = now()
           WHERE flow = ? AND crm_id = ? AND mc_id = ?""",
        [_dump(base_crm), _dump(base_mc), link.flow, link.crm_id, str(link.mc_id)],
    )
    return Link(link.flow, link.crm_id, link.mc_id, link.state, base_crm, base_mc)


def end_link(con: duckdb.DuckDBPyConnection, link: Link, reason: str) -> Link:
    con.execute(
        """UPDATE sync.links SET state = 'ended', ended_at = now(), ended_reason = ?, updated_at = now()
           WHERE flow = ? AND crm_id = ? AND mc_id = ?""",
        [reason, link.flow, link.crm_id, str(link.mc_id)],
    )
    return Link(link.flow, link.crm_id, link.mc_id, "ended", link.base_crm, link.base_mc)


def _dump(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
