"""How the mapping resolves references: through a link lookup the caller provides.

References are carried in the common space as *CRM ids*. Reading a MemberCare record turns each referenced
MemberCare id into the CRM id it is linked to; writing a MemberCare record turns CRM ids back. The engine
passes its link table as a `LinkLookup`; `InMemoryLinks` is a plain dictionary implementation (tests,
small tools). A lookup answers None for an unlinked id; the mapping then raises `UnresolvedReference`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from crm_membercare.mapping.countries import CountryTable


class LinkLookup(Protocol):
    def crm_id_for(self, flow_name: str, mc_id: Any) -> int | None:
        """The CRM id linked to MemberCare id `mc_id` in flow `flow_name`, or None."""

    def mc_id_for(self, flow_name: str, crm_id: int) -> Any | None:
        """The MemberCare id linked to CRM id `crm_id` in flow `flow_name`, or None."""


@dataclass
class InMemoryLinks:
    """Links held in two dictionaries per flow; MemberCare ids are compared as strings (debtor numbers are)."""

    _to_mc: dict[str, dict[int, Any]] = field(default_factory=dict)
    _to_crm: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, flow_name: str, crm_id: int, mc_id: Any) -> None:
        self._to_mc.setdefault(flow_name, {})[crm_id] = mc_id
        self._to_crm.setdefault(flow_name, {})[str(mc_id)] = crm_id

    def crm_id_for(self, flow_name: str, mc_id: Any) -> int | None:
        return self._to_crm.get(flow_name, {}).get(str(mc_id))

    def mc_id_for(self, flow_name: str, crm_id: int) -> Any | None:
        return self._to_mc.get(flow_name, {}).get(crm_id)


@dataclass(frozen=True)
class MappingContext:
    """What a mapping call needs besides the flow and the record: links and MemberCare's country list."""

    links: LinkLookup
    countries: CountryTable
