"""The link table (`sync.links`): which CRM record is which MemberCare record, per flow, with the bases.

Links are one-to-one per flow (derived flows excepted: a user has many invoices), an invoice belongs to at
most one order or quote, and a link whose record went away is *ended*, not removed (DESIGN Part B).
`LinkIndex` is a cycle's in-memory view of the active links; it answers the mapping's reference lookups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd


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
        self._pairs: dict[tuple[str, int, str], Link] = {}
        # One-to-one flows are looked up by either id; a derived flow's user has many invoices, so its
        # links are reached through `pair` and `of_flow`.
        self._by_crm: dict[tuple[str, int], Link] = {}
        self._by_mc: dict[tuple[str, str], Link] = {}
        for link in links:
            self.put(link)

    def put(self, link: Link) -> None:
        # Bases stay in DuckDB (loaded per planned pair): a million links' bases would not fit in memory.
        # MemberCare ids keep their own type: product and invoice ids are integers, debtor numbers strings.
        mc_id = int(link.mc_id) if link.flow in self._integer_mc_ids else str(link.mc_id)
        link = Link(link.flow, int(link.crm_id), mc_id, link.state, None, None)
        self._pairs[(link.flow, link.crm_id, str(link.mc_id))] = link
        self._by_crm[(link.flow, link.crm_id)] = link
        self._by_mc[(link.flow, str(link.mc_id))] = link

    def pair(self, flow: str, crm_id: int, mc_id: Any) -> Link | None:
        return self._pairs.get((flow, int(crm_id), str(mc_id)))

    def by_crm(self, flow: str, crm_id: int) -> Link | None:
        return self._by_crm.get((flow, int(crm_id)))

    def by_mc(self, flow: str, mc_id: Any) -> Link | None:
        return self._by_mc.get((flow, str(mc_id)))

    def of_flow(self, flow: str) -> list[Link]:
        return [link for (name, _, _), link in self._pairs.items() if name == flow]

    # LinkLookup. An ended link still names the record's counterpart (an archived customer and its closed
    # company both still exist), so references keep translating through it.
    def crm_id_for(self, flow_name: str, mc_id: Any) -> int | None:
        link = self.by_mc(flow_name, mc_id)
        return link.crm_id if link else None

    def mc_id_for(self, flow_name: str, crm_id: int) -> Any | None:
        link = self.by_crm(flow_name, crm_id)
        return link.mc_id if link else None


def load_links(
    con: duckdb.DuckDBPyConnection, flows: Iterable[str] | None = None, *, integer_mc_ids: Iterable[str] = ()
) -> LinkIndex:
    query = "SELECT flow, crm_id, mc_id, state FROM sync.links"
    params: list = []
    if flows is not None:
        query += " WHERE flow IN (SELECT unnest(?))"
        params.append(list(flows))
    rows = con.execute(query, params).fetchall()
    return LinkIndex((
        Link(flow, crm_id, mc_id, state, None, None) for flow, crm_id, mc_id, state in rows
    ), integer_mc_ids=integer_mc_ids)


def _json(value: str | None) -> dict | None:
    return None if value is None else json.loads(value)


def load_bases(con: duckdb.DuckDBPyConnection, flow: str, pairs: Iterable[tuple[int, Any]]) -> dict:
    """(crm id, mc id as text) -> (base_crm, base_mc) for the given links of a flow."""
    keys = [(int(crm_id), str(mc_id)) for crm_id, mc_id in pairs]
    if not keys:
        return {}
    frame = pd.DataFrame(keys, columns=["crm_id", "mc_id"], dtype=object)
    with _registered(con, "wanted_bases", frame):
        rows = con.execute(
            """SELECT l.crm_id, l.mc_id, l.base_crm, l.base_mc FROM sync.links l
               JOIN wanted_bases w ON l.crm_id = CAST(w.crm_id AS BIGINT) AND l.mc_id = w.mc_id
               WHERE l.flow = ?""",
            [flow],
        ).fetchall()
    return {(crm_id, mc_id): (_json(base_crm), _json(base_mc)) for crm_id, mc_id, base_crm, base_mc in rows}


def merge_bases(con: duckdb.DuckDBPyConnection, updates: list[tuple[Link, dict, dict]]) -> None:
    """Overwrite some fields of the links' bases (the fields a write just agreed), keeping the others."""
    if not updates:
        return
    combined: dict[tuple, tuple[dict, dict]] = {}
    for link, base_crm, base_mc in updates:
        key = (link.flow, link.crm_id, str(link.mc_id))
        crm_part, mc_part = combined.get(key, ({}, {}))
        combined[key] = ({**crm_part, **base_crm}, {**mc_part, **base_mc})
    frame = pd.DataFrame(
        [(*key, _dump(base_crm), _dump(base_mc)) for key, (base_crm, base_mc) in combined.items()],
        columns=["flow", "crm_id", "mc_id", "base_crm", "base_mc"], dtype=object,
    )
    with _registered(con, "base_updates", frame):
        con.execute(
            """UPDATE sync.links l SET
                 base_crm = json_merge_patch(coalesce(l.base_crm, '{}'::JSON), CAST(u.base_crm AS JSON)),
                 base_mc = json_merge_patch(coalesce(l.base_mc, '{}'::JSON), CAST(u.base_mc AS JSON)),
                 updated_at = now()
               FROM base_updates u
               WHERE l.flow = u.flow AND l.crm_id = CAST(u.crm_id AS BIGINT) AND l.mc_id = u.mc_id"""
        )


def save_links(con: duckdb.DuckDBPyConnection, links: list[tuple[Link, str]]) -> None:
    """Insert or refresh links, each with how it was made ('match', 'create', 'external_id', 'derived')."""
    if not links:
        return
    frame = pd.DataFrame(
        [(link.flow, link.crm_id, str(link.mc_id), link.state, linked_by, _dump(link.base_crm), _dump(link.base_mc))
         for link, linked_by in links],
        columns=["flow", "crm_id", "mc_id", "state", "linked_by", "base_crm", "base_mc"], dtype=object,
    ).drop_duplicates(subset=["flow", "crm_id", "mc_id"], keep="last")
    with _registered(con, "new_links", frame):
        con.execute(
            """INSERT INTO sync.links (flow, crm_id, mc_id, state, linked_by, base_crm, base_mc)
               SELECT flow, CAST(crm_id AS BIGINT), mc_id, state, linked_by, CAST(base_crm AS JSON),
                      CAST(base_mc AS JSON) FROM new_links
               ON CONFLICT (flow, crm_id, mc_id) DO UPDATE SET
                 state = excluded.state, base_crm = excluded.base_crm, base_mc = excluded.base_mc,
                 updated_at = now()"""
        )


def write_bases(con: duckdb.DuckDBPyConnection, links: list[Link]) -> None:
    """Store the bases the given links now carry."""
    if not links:
        return
    frame = pd.DataFrame(
        [(link.flow, link.crm_id, str(link.mc_id), _dump(link.base_crm), _dump(link.base_mc)) for link in links],
        columns=["flow", "crm_id", "mc_id", "base_crm", "base_mc"], dtype=object,
    ).drop_duplicates(subset=["flow", "crm_id", "mc_id"], keep="last")
    with _registered(con, "new_bases", frame):
        con.execute(
            """UPDATE sync.links l SET base_crm = CAST(b.base_crm AS JSON), base_mc = CAST(b.base_mc AS JSON),
                      updated_at = now()
               FROM new_bases b
               WHERE l.flow = b.flow AND l.crm_id = CAST(b.crm_id AS BIGINT) AND l.mc_id = b.mc_id"""
        )


def end_links(con: duckdb.DuckDBPyConnection, ended: list[tuple[Link, str]]) -> None:
    if not ended:
        return
    frame = pd.DataFrame([(link.flow, link.crm_id, str(link.mc_id), reason) for link, reason in ended],
                         columns=["flow", "crm_id", "mc_id", "reason"], dtype=object)
    with _registered(con, "ended_links", frame):
        con.execute(
            """UPDATE sync.links l SET state = 'ended', ended_at = now(), ended_reason = e.reason, updated_at = now()
               FROM ended_links e
               WHERE l.flow = e.flow AND l.crm_id = CAST(e.crm_id AS BIGINT) AND l.mc_id = e.mc_id"""
        )


def with_bases(link: Link, base_crm: dict | None, base_mc: dict | None) -> Link:
    return Link(link.flow, link.crm_id, link.mc_id, link.state, base_crm, base_mc)


def ended(link: Link) -> Link:
    return Link(link.flow, link.crm_id, link.mc_id, "ended", link.base_crm, link.base_mc)


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[None]:
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def _dump(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
