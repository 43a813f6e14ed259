"""The link table (`sync.links`): which CRM record is which MemberCare record, per flow, with the bases.

Links are one-to-one per flow (derived flows excepted: a user has many invoices), an invoice belongs to at
most one order or quote, and a link whose record went away is *ended*, not removed (DESIGN Part B).
`LinkIndex` is a cycle's in-memory view of the active links; it answers the mapping's reference lookups.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from crm_membercare.engine.state import CATALOG, json_text, registered


@dataclass(frozen=True)
class Link:
    flow: str
    crm_id: int
    mc_id: str
    state: str
    base_crm: dict | None
    base_mc: dict | None


class LinkAnswers:
    """The mapping's `LinkLookup`, answered through `by_crm` / `by_mc`. An ended link still names the record's
    counterpart (an archived customer and its closed company both still exist), so references keep
    translating through it."""

    def crm_id_for(self, flow_name: str, mc_id: Any) -> int | None:
        link = self.by_mc(flow_name, mc_id)
        return link.crm_id if link else None

    def mc_id_for(self, flow_name: str, crm_id: int) -> Any | None:
        link = self.by_crm(flow_name, crm_id)
        return link.mc_id if link else None


class LinkIndex(LinkAnswers):
    """Active and ended links of every flow, by both ids. Implements the mapping's `LinkLookup`.

    Given a connection, it is a cycle's cache over `sync.links`: a link is read when first asked for (in bulk
    through `fetch` / `fetch_flows`, or one at a time on a miss), so a cycle reads the links of what changed,
    not all of them. Every link the cycle writes goes through `put`, which keeps the cache current; an answer
    once read (a link or its absence) is kept for the cycle. Without a connection it holds what it was given.
    """

    def __init__(self, links: Iterable[Link] = (), *, integer_mc_ids: Iterable[str] = (),
                 many_per_crm: Iterable[str] = (), con: duckdb.DuckDBPyConnection | None = None) -> None:
        # MemberCare ids travel in their own type: debtor numbers are strings, product and invoice ids integers.
        self._integer_mc_ids = frozenset(integer_mc_ids)
        # Flows whose CRM record has many links (a derived flow's user): its CRM side is never complete.
        self._many_per_crm = frozenset(many_per_crm)
        self._con = con
        # Worker threads (the executor's mapping) must not use the owner's connection: a miss there reads
        # through a cursor of its own, which sees what is committed.
        self._owner_thread = threading.get_ident()
        self._pairs: dict[tuple[str, int, str], Link] = {}
        # One-to-one flows are looked up by either id; a derived flow's user has many invoices, so its
        # links are reached through `pair`.
        self._by_crm: dict[tuple[str, int], Link] = {}
        self._by_mc: dict[tuple[str, str], Link] = {}
        # Keys whose answer is settled (read, implied by an active link, or written this cycle); and the
        # MemberCare ids whose every link has been read (a pair is looked for among those).
        self._known_crm: set[tuple[str, int]] = set()
        self._known_mc: set[tuple[str, str]] = set()
        self._complete_mc: set[tuple[str, str]] = set()
        self._whole: set[str] = set()
        for link in links:
            self.put(link)

    def put(self, link: Link) -> None:
        link = self._normal(link)
        crm_key, mc_key = (link.flow, link.crm_id), (link.flow, str(link.mc_id))
        self._pairs[(link.flow, link.crm_id, str(link.mc_id))] = link
        self._by_crm[crm_key] = link
        self._by_mc[mc_key] = link
        self._known_crm.add(crm_key)
        self._known_mc.add(mc_key)

    def _normal(self, link: Link) -> Link:
        # Bases stay in DuckDB (loaded per planned pair): a million links' bases would not fit in memory.
        # MemberCare ids keep their own type: product and invoice ids are integers, debtor numbers strings.
        mc_id = int(link.mc_id) if link.flow in self._integer_mc_ids else str(link.mc_id)
        return Link(link.flow, int(link.crm_id), mc_id, link.state, None, None)

    # --- reading from sync.links ----------------------------------------------------------------------
    def fetch(self, flow: str, crm_ids: Iterable[int] = (), mc_ids: Iterable[Any] = ()) -> None:
        """Read the links of these records (of one flow) in one query each side, unless already known."""
        if self._con is None or flow in self._whole:
            return
        crm_wanted = sorted({int(i) for i in crm_ids if (flow, int(i)) not in self._known_crm})
        mc_wanted = sorted({str(i) for i in mc_ids if (flow, str(i)) not in self._complete_mc})
        if crm_wanted:
            self._load("flow = ? AND crm_id IN (SELECT unnest(?))", [flow, crm_wanted])
            self._known_crm.update((flow, i) for i in crm_wanted)
        if mc_wanted:
            self._load("flow = ? AND mc_id IN (SELECT unnest(?))", [flow, mc_wanted])
            self._known_mc.update((flow, i) for i in mc_wanted)
            self._complete_mc.update((flow, i) for i in mc_wanted)

    def fetch_flows(self, flows: Iterable[str]) -> None:
        """Read every link of these flows (when most of a flow will be asked for: one scan, not many)."""
        if self._con is None:
            return
        wanted = sorted(set(flows) - self._whole)
        if wanted:
            self._load("flow IN (SELECT unnest(?))", [wanted])
            self._whole.update(wanted)

    def _load(self, where: str, params: list) -> None:
        # Ended links first: when a record has an ended and an active link, the active one answers.
        query = (f"SELECT flow, crm_id, mc_id, state FROM {CATALOG}.sync.links WHERE {where} "
                 "ORDER BY state = 'active', updated_at")
        if threading.get_ident() == self._owner_thread:
            rows = self._con.execute(query, params).fetchall()
        else:
            with self._con.cursor() as reader:
                rows = reader.execute(query, params).fetchall()
        # What the cache already holds came from this cycle's own writes or an earlier read: it stays.
        fresh_crm: set[tuple[str, int]] = set()
        fresh_mc: set[tuple[str, str]] = set()
        for row in rows:
            link = self._normal(Link(*row, None, None))
            crm_key, mc_key = (link.flow, link.crm_id), (link.flow, str(link.mc_id))
            self._pairs.setdefault((link.flow, link.crm_id, str(link.mc_id)), link)
            if crm_key not in self._by_crm or crm_key in fresh_crm:
                self._by_crm[crm_key] = link
                fresh_crm.add(crm_key)
            if mc_key not in self._by_mc or mc_key in fresh_mc:
                self._by_mc[mc_key] = link
                fresh_mc.add(mc_key)
            if link.state == "active":
                # A record has at most one active link: read by one id, its counterpart's answer is known too.
                self._known_mc.add(mc_key)
                if link.flow not in self._many_per_crm:
                    self._known_crm.add(crm_key)

    def forget(self, flows: Iterable[str]) -> None:
        """Drop what is held of these flows (no flow still to plan needs them): memory stays bounded by
        the flows in use, not by every link of the cycle. Asked again, they are read again."""
        if self._con is None:
            return
        gone = set(flows)
        for cache in (self._pairs, self._by_crm, self._by_mc):
            for key in [key for key in cache if key[0] in gone]:
                del cache[key]
        self._known_crm = {key for key in self._known_crm if key[0] not in gone}
        self._known_mc = {key for key in self._known_mc if key[0] not in gone}
        self._complete_mc = {key for key in self._complete_mc if key[0] not in gone}
        self._whole -= gone

    def _known(self, flow: str, crm_id: int | None = None, mc_id: str | None = None) -> bool:
        if self._con is None or flow in self._whole:
            return True
        return (flow, crm_id) in self._known_crm if crm_id is not None else (flow, mc_id) in self._known_mc

    # --- lookups ---------------------------------------------------------------------------------------
    def pair(self, flow: str, crm_id: int, mc_id: Any) -> Link | None:
        # Looked for among every link of the MemberCare id: a derived flow's user has many invoices, and
        # while a plan is saved an invoice may have its new link and the old one still to end.
        key = (flow, int(crm_id), str(mc_id))
        if mc_id is None or key in self._pairs:
            return self._pairs.get(key)
        if self._con is not None and flow not in self._whole and (flow, str(mc_id)) not in self._complete_mc:
            self.fetch(flow, mc_ids=[mc_id])
        return self._pairs.get(key)

    def by_crm(self, flow: str, crm_id: int) -> Link | None:
        if not self._known(flow, crm_id=int(crm_id)):
            self.fetch(flow, crm_ids=[crm_id])
        return self._by_crm.get((flow, int(crm_id)))

    def by_mc(self, flow: str, mc_id: Any) -> Link | None:
        if not self._known(flow, mc_id=str(mc_id)):
            self.fetch(flow, mc_ids=[mc_id])
        return self._by_mc.get((flow, str(mc_id)))

    def view(self) -> LinkView:
        """What is held now, for a planner that must not read more (see `LinkView`)."""
        return LinkView(self)



class LinkNotLoaded(LookupError):
    """The planner asked for a link its input does not hold: a gap in what `load_flow_input` reads first."""


class LinkView(LinkAnswers):
    """A `LinkIndex`'s links as the planner sees them: read-only, and never a query. A question whose answer
    the index has not settled (read, or implied by an active link) raises `LinkNotLoaded` instead of reading:
    a plan is a function of what was loaded before it, so a gap is a bug to see, not a query to hide."""

    def __init__(self, index: LinkIndex) -> None:
        self._index = index

    def _settled(self, flow: str, crm_id: int | None = None, mc_id: Any = None) -> None:
        index = self._index
        if index._con is None or flow in index._whole:
            return
        known = ((flow, int(crm_id)) in index._known_crm if crm_id is not None
                 else (flow, str(mc_id)) in index._known_mc)
        if not known:
            side, record = ("crm", crm_id) if crm_id is not None else ("membercare", mc_id)
            raise LinkNotLoaded(f"{flow}: the link of {side} record {record} was not loaded before planning")

    def pair(self, flow: str, crm_id: int, mc_id: Any) -> Link | None:
        if mc_id is not None and self._index._con is not None and flow not in self._index._whole \
                and (flow, str(mc_id)) not in self._index._complete_mc \
                and (flow, int(crm_id), str(mc_id)) not in self._index._pairs:
            raise LinkNotLoaded(f"{flow}: the links of membercare record {mc_id} were not loaded before planning")
        return self._index._pairs.get((flow, int(crm_id), str(mc_id))) if mc_id is not None else None

    def by_crm(self, flow: str, crm_id: int) -> Link | None:
        self._settled(flow, crm_id=crm_id)
        return self._index._by_crm.get((flow, int(crm_id)))

    def by_mc(self, flow: str, mc_id: Any) -> Link | None:
        self._settled(flow, mc_id=mc_id)
        return self._index._by_mc.get((flow, str(mc_id)))



def load_links(
    con: duckdb.DuckDBPyConnection, flows: Iterable[str] | None = None, *, integer_mc_ids: Iterable[str] = ()
) -> LinkIndex:
    """Every link (of the given flows) read at once: for whole-state checks (QA), not for a cycle."""
    query = "SELECT flow, crm_id, mc_id, state FROM sync.links"
    params: list = []
    if flows is not None:
        query += " WHERE flow IN (SELECT unnest(?))"
        params.append(list(flows))
    rows = con.execute(query + " ORDER BY state = 'active', updated_at", params).fetchall()
    return LinkIndex((
        Link(flow, crm_id, mc_id, state, None, None) for flow, crm_id, mc_id, state in rows
    ), integer_mc_ids=integer_mc_ids)


def _json(value: str | None) -> dict | None:
    return None if value is None else json.loads(value)


def load_bases(con: duckdb.DuckDBPyConnection, flow: str, pairs: Iterable[tuple[int, Any]]) -> dict:
    """(crm id, mc id as text) -> (base_crm, base_mc) for the given links of a flow."""
    keys = {(int(crm_id), str(mc_id)) for crm_id, mc_id in pairs}
    if not keys:
        return {}
    # Filtered by both id lists inside the scan (a join would read every link's bases); the exact pairs are
    # picked out here.
    rows = con.execute(
        """SELECT crm_id, mc_id, base_crm, base_mc FROM sync.links
           WHERE flow = ? AND crm_id IN (SELECT unnest(?)) AND mc_id IN (SELECT unnest(?))""",
        [flow, sorted({crm_id for crm_id, _ in keys}), sorted({mc_id for _, mc_id in keys})],
    ).fetchall()
    return {(crm_id, mc_id): (_json(base_crm), _json(base_mc))
            for crm_id, mc_id, base_crm, base_mc in rows if (crm_id, mc_id) in keys}


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
        [(*key, json_text(base_crm), json_text(base_mc)) for key, (base_crm, base_mc) in combined.items()],
        columns=["flow", "crm_id", "mc_id", "base_crm", "base_mc"], dtype=object,
    )
    with registered(con, "base_updates", frame):
        con.execute(
            """UPDATE sync.links l SET
                 base_crm = json_merge_patch(coalesce(l.base_crm, '{}'::JSON), CAST(u.base_crm AS JSON)),
                 base_mc = json_merge_patch(coalesce(l.base_mc, '{}'::JSON), CAST(u.base_mc AS JSON)),
                 updated_at = now()
               FROM base_updates u
               WHERE l.flow = u.flow AND l.crm_id = CAST(u.crm_id AS BIGINT) AND l.mc_id = u.mc_id
                 AND l.crm_id IN (SELECT unnest(?))""",  # read inside the scan: the join alone reads every link
            [_crm_ids(frame)],
        )


def save_links(con: duckdb.DuckDBPyConnection, links: list[tuple[Link, str]]) -> None:
    """Insert or refresh links, each with how it was made ('match', 'create', 'external_id', 'derived')."""
    if not links:
        return
    frame = pd.DataFrame(
        [(link.flow, link.crm_id, str(link.mc_id), link.state, linked_by, json_text(link.base_crm),
          json_text(link.base_mc)) for link, linked_by in links],
        columns=["flow", "crm_id", "mc_id", "state", "linked_by", "base_crm", "base_mc"], dtype=object,
    ).drop_duplicates(subset=["flow", "crm_id", "mc_id"], keep="last")
    with registered(con, "new_links", frame):
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
        [(link.flow, link.crm_id, str(link.mc_id), json_text(link.base_crm), json_text(link.base_mc))
         for link in links],
        columns=["flow", "crm_id", "mc_id", "base_crm", "base_mc"], dtype=object,
    ).drop_duplicates(subset=["flow", "crm_id", "mc_id"], keep="last")
    with registered(con, "new_bases", frame):
        con.execute(
            """UPDATE sync.links l SET base_crm = CAST(b.base_crm AS JSON), base_mc = CAST(b.base_mc AS JSON),
                      updated_at = now()
               FROM new_bases b
               WHERE l.flow = b.flow AND l.crm_id = CAST(b.crm_id AS BIGINT) AND l.mc_id = b.mc_id
                 AND l.crm_id IN (SELECT unnest(?))""",
            [_crm_ids(frame)],
        )


def end_links(con: duckdb.DuckDBPyConnection, ended: list[tuple[Link, str]]) -> None:
    if not ended:
        return
    frame = pd.DataFrame([(link.flow, link.crm_id, str(link.mc_id), reason) for link, reason in ended],
                         columns=["flow", "crm_id", "mc_id", "reason"], dtype=object)
    with registered(con, "ended_links", frame):
        con.execute(
            """UPDATE sync.links l SET state = 'ended', ended_at = now(), ended_reason = e.reason, updated_at = now()
               FROM ended_links e
               WHERE l.flow = e.flow AND l.crm_id = CAST(e.crm_id AS BIGINT) AND l.mc_id = e.mc_id
                 AND l.crm_id IN (SELECT unnest(?))""",
            [_crm_ids(frame)],
        )


def with_bases(link: Link, base_crm: dict | None, base_mc: dict | None) -> Link:
    return Link(link.flow, link.crm_id, link.mc_id, link.state, base_crm, base_mc)


def ended(link: Link) -> Link:
    return Link(link.flow, link.crm_id, link.mc_id, "ended", link.base_crm, link.base_mc)


def _crm_ids(frame: pd.DataFrame) -> list[int]:
    return sorted({int(i) for i in frame["crm_id"]})
