"""ISO 3166-1 alpha-2 codes ↔ MemberCare's own country ids.

MemberCare numbers countries itself (Norge is 160). The table is learnt from its API, never hard-coded:
`CountryTable.from_api(response["result"])` with the `result` list of `GET /addresses/countries`. Build it
once per sync run and pass it in the `MappingContext` (that is the cache: one request per run).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Country:
    id: int
    name: str
    alpha2: str


@dataclass(frozen=True)
class CountryTable:
    countries: tuple[Country, ...]

    @classmethod
    def from_api(cls, result: Iterable[Mapping[str, Any]]) -> CountryTable:
        """From the `result` list of `GET /addresses/countries`: `{"id", "name", "iso2Letter"}` objects."""
        return cls(tuple(Country(int(c["id"]), str(c["name"]), str(c["iso2Letter"]).upper()) for c in result))

    def __post_init__(self) -> None:
        # Lookup dictionaries, built once; object.__setattr__ because the dataclass is frozen.
        object.__setattr__(self, "_by_alpha2", {c.alpha2: c for c in self.countries})
        object.__setattr__(self, "_by_id", {c.id: c for c in self.countries})

    def id_for(self, alpha2: str) -> int | None:
        """MemberCare's id for an alpha-2 code (any case, surrounding spaces ignored), or None if unknown."""
        country = self._by_alpha2.get(alpha2.strip().upper())
        return country.id if country else None

    def alpha2_for(self, country_id: int) -> str | None:
        """The alpha-2 code of a MemberCare country id, or None if unknown."""
        country = self._by_id.get(country_id)
        return country.alpha2 if country else None

    def knows_id(self, country_id: Any) -> bool:
        return isinstance(country_id, int) and not isinstance(country_id, bool) and country_id in self._by_id
