"""Deterministic seed data for both sandboxes (the interface in briefs/seed_shapes.md).

`generate` is pure: the same (system, seed, scale, overlap, now) always gives the same records, and the records
the two systems share (DESIGN A3 "Seed overlap") come out identical under the Part B mapping whichever system is
generated, alone or both.

Choices where DESIGN is silent:
- small is DESIGN A3's list per side; medium and large multiply every count by 40 and 800 (~51 k and ~1.0 M
  records in all). A dict scale names resources by either side's name; "invoices" alone splits 5:2 into
  orders:quotes; a pair given two different counts, an unknown name or a negative count is a ValueError.
- Both sides of a pair have the same size n; round(overlap * n) records are shared, scattered over different
  ids on each side. A shared record references shared parents only; a shared document needs a shared debtor, so
  with no shared customers and no shared contacts no document is shared.
- E-mails, org numbers (valid mod-11) and SKUs embed a number unique across both sides, so a side-only record
  never shares a match key (nor a company's fallback e-mail key) with the other side.
- All money is NOK. A CRM quote "accepted" shows as Proforma "Sent" or, for some, "Paid" (DESIGN B5's lossy row
  maps Paid back to accepted). MemberCare-only invoices carry a "PO-" order reference or none, and an
  our-reference (name and e-mail exactly as the CRM has them) of one of the organisation's staff, who are the
  CRM's users, or none: a seeded first sync finds every signer a CRM user (B6).
- A record without an address has no country to parse a phone with, so its CRM phone is typed with a "+".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Literal

from crm_membercare.sandbox.seeding.customcrm import customcrm_records
from crm_membercare.sandbox.seeding.layout import Scale, plan_layout
from crm_membercare.sandbox.seeding.membercare import membercare_records
from crm_membercare.sandbox.seeding.pools import build_pools
from crm_membercare.sandbox.seeding.stamps import stamp_shared
from crm_membercare.sandbox.seeding.world import SideWorld

__all__ = ["CHUNK_SIZE", "Scale", "generate"]

CHUNK_SIZE = 10_000
_RENDERERS = {"customcrm": customcrm_records, "membercare": membercare_records}


def generate(
    system: Literal["customcrm", "membercare"], seed: int, scale: Scale, overlap: float, now: datetime,
    *, stamped: bool = False,
) -> Iterator[tuple[str, list[dict]]]:
    """Yield `(resource, chunk)` with chunks of at most CHUNK_SIZE API-shaped records, in dependency order.

    Arguments are checked before the first record is made (ValueError), so a bad request fails fast.
    `stamped`: shared records carry their counterpart's identity, as a sync would have left them (stamps.py).
    """
    if system not in _RENDERERS:
        raise ValueError(f"unknown system {system!r}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    layout = plan_layout(seed, scale, overlap)
    world = SideWorld(layout, system, build_pools(seed), now)
    records = _RENDERERS[system](world)
    return _chunked(stamp_shared(system, layout, records) if stamped else records)


def _chunked(records: Iterator[tuple[str, dict]]) -> Iterator[tuple[str, list[dict]]]:
    resource, chunk = None, []
    for name, record in records:
        if name != resource or len(chunk) == CHUNK_SIZE:
            if chunk:
                yield resource, chunk
            resource, chunk = name, []
        chunk.append(record)
    if chunk:
        yield resource, chunk
