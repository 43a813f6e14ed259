"""Value transforms: one value between the CRM, the common (comparison) space and MemberCare.

The common space is the CRM's vocabulary in one normal form: CRM enum values, alpha-2 countries, E.164
phones (when parseable), ISO dates, decimals as exact strings ("0.30"), references as CRM ids. Each
`Codec` converts one value:

    from_crm(raw, record, ctx) -> common      to_crm(common) -> raw CRM JSON value
    from_mc(raw, record, ctx)  -> common      to_mc(common, ctx) -> raw MemberCare JSON value
    canonical(common)          -> the form compared and hashed
    agrees(crm_common, mc_common) -> bool     (see `EnumCodec` for lossy tables)

`record` is the whole record the value came from (a phone needs its record's country). Codecs raise
`ValueProblem` for a value that has no counterpart and `MissingLink` for an unlinked reference; the record
mapping adds the field name. None (empty) maps to None everywhere.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_membercare.mapping import dates, decimals, phones
from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.paths import McPath
from crm_membercare.mapping.problems import MissingLink, ValueProblem


def canonical_text(value: Any) -> Any:
    """Strings compared the way a person reads them: Unicode NFC, trimmed, empty as None."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", value).strip()
    return text or None


@dataclass(frozen=True)
class Codec:
    """Text as it is, both ways. The base of every other codec."""

    kind: str = "text"

    def from_crm(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return raw

    def to_crm(self, value: Any) -> Any:
        return value

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return raw

    def to_mc(self, value: Any, ctx: MappingContext) -> Any:
        return value

    def canonical(self, value: Any) -> Any:
        return canonical_text(value)

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        return self.canonical(crm_value) == self.canonical(mc_value)


@dataclass(frozen=True)
class EmailCodec(Codec):
    kind: str = "email"

    def canonical(self, value: Any) -> Any:
        text = canonical_text(value)
        return text.lower() if isinstance(text, str) else text


@dataclass(frozen=True)
class BoolCodec(Codec):
    """Booleans; an absent value is False (both APIs default these flags to false)."""

    kind: str = "bool"

    def from_crm(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return False if raw is None else raw

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return False if raw is None else raw

    def canonical(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class PhoneCodec(Codec):
    """Free text ↔ E.164, parsed with the record's country as default region (then Norway)."""

    kind: str = "phone"
    crm_country_field: str = "country"
    mc_country: McPath | None = None

    def from_crm(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return phones.normalise_phone(raw, record.get(self.crm_country_field))

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        country_id = self.mc_country.get(record) if self.mc_country else None
        country = ctx.countries.alpha2_for(country_id) if country_id is not None else None
        return phones.normalise_phone(raw, country)


@dataclass(frozen=True)
class DateCodec(Codec):
    """"YYYY-MM-DD" ↔ Oslo local midnight "YYYY-MM-DDT00:00:00"."""

    kind: str = "date"

    def to_mc(self, value: Any, ctx: MappingContext) -> Any:
        if value is None:
            return None
        try:
            return dates.date_to_mc(value)
        except ValueError:
            raise ValueProblem("is not a date (expected YYYY-MM-DD)", value) from None

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        if raw is None:
            return None
        try:
            return dates.mc_to_date(raw)
        except ValueError:
            raise ValueProblem("is not a date-time MemberCare could have sent", raw) from None


@dataclass(frozen=True)
class CountryCodec(Codec):
    """Alpha-2 ↔ MemberCare country id, through the `CountryTable` in the context."""

    kind: str = "country"

    def from_crm(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return (raw.strip().upper() or None) if isinstance(raw, str) else raw

    def to_mc(self, value: Any, ctx: MappingContext) -> Any:
        if value is None:
            return None
        country_id = ctx.countries.id_for(value) if isinstance(value, str) else None
        if country_id is None:
            raise ValueProblem(f"unknown country {value!r}: MemberCare has no country with that code", value)
        return country_id

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        if raw is None:
            return None
        alpha2 = ctx.countries.alpha2_for(raw)
        if alpha2 is None:
            raise ValueProblem(f"unknown MemberCare country id {raw!r}", raw)
        return alpha2


@dataclass(frozen=True)
class DecimalCodec(Codec):
    """Exact decimals: JSON numbers on both sides, common form a string ("1.5"; money "0.30").

    `places`, `minimum` and `maximum` are what validation holds a value to (MemberCare takes money and
    rates with at most two decimals).
    """

    kind: str = "decimal"
    money: bool = False
    places: int | None = None
    minimum: int | None = None
    maximum: int | None = None

    def _text(self, raw: Any) -> Any:
        if raw is None:
            return None
        try:
            return decimals.money_text(raw) if self.money else decimals.decimal_text(raw)
        except ValueError:
            # Left as it is: validation names it; the writer refuses it below.
            return raw

    def from_crm(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return self._text(raw)

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return self._text(raw)

    def _number(self, value: Any) -> Any:
        if value is None:
            return None
        try:
            return decimals.json_number(value)
        except ValueError:
            raise ValueProblem("is not a number", value) from None

    def to_crm(self, value: Any) -> Any:
        return self._number(value)

    def to_mc(self, value: Any, ctx: MappingContext) -> Any:
        return self._number(value)

    def canonical(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class EnumCodec(Codec):
    """A value table. `to_mc` maps every CRM value; `to_crm` every MemberCare value.

    Lossy when several CRM values share one MemberCare value. The common value of a MemberCare record is
    its `to_crm` image; a lossy pair (crm value c, MemberCare-side common value m) *agrees* when c == m or
    when c's MemberCare value is the MemberCare value m came from (confirmed and Draft; accepted and Sent).
    `to_crm` must be one-to-one for that to be decidable (checked by `__post_init__`).
    """

    kind: str = "enum"
    crm_to_mc: tuple[tuple[str, str], ...] = ()
    mc_to_crm: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        back = dict(self.mc_to_crm)
        if len(set(back.values())) != len(back):
            raise ValueError("an enum table's MemberCare → CRM direction must be one-to-one")

    @property
    def is_lossy(self) -> bool:
        """True when some MemberCare value has several CRM values (or none) mapping onto it."""
        forward = dict(self.crm_to_mc)
        return len(set(forward.values())) != len(forward) or set(forward.values()) != set(dict(self.mc_to_crm))

    def to_mc(self, value: Any, ctx: MappingContext | None) -> Any:
        if value is None:
            return None
        table = dict(self.crm_to_mc)
        if value not in table:
            raise ValueProblem(f"has no MemberCare counterpart (expected one of {', '.join(table)})", value)
        return table[value]

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        if raw is None:
            return None
        table = dict(self.mc_to_crm)
        if raw not in table:
            raise ValueProblem(f"has no CustomCRM counterpart (expected one of {', '.join(table)})", raw)
        return table[raw]

    def mc_value_of(self, mc_common: Any) -> Any:
        """The MemberCare value a MemberCare-side common value came from."""
        return {crm: mc for mc, crm in self.mc_to_crm}.get(mc_common)

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        if crm_value == mc_value:
            return True
        return dict(self.crm_to_mc).get(crm_value, object()) == self.mc_value_of(mc_value)

    def canonical(self, value: Any) -> Any:
        return value


@dataclass(frozen=True)
class ReferenceCodec(Codec):
    """A CRM id ↔ the MemberCare id it is linked to in flow `through`."""

    kind: str = "reference"
    through: str = ""

    def to_mc(self, value: Any, ctx: MappingContext) -> Any:
        if value is None:
            return None
        mc_id = ctx.links.mc_id_for(self.through, value)
        if mc_id is None:
            raise MissingLink(self.through, value)
        return mc_id

    def from_mc(self, raw: Any, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        if raw is None:
            return None
        crm_id = ctx.links.crm_id_for(self.through, raw)
        if crm_id is None:
            raise MissingLink(self.through, raw)
        return crm_id

    def canonical(self, value: Any) -> Any:
        return value


TEXT = Codec()
EMAIL = EmailCodec()
URL = Codec(kind="url")
DIGITS = Codec(kind="digits")
CURRENCY = Codec(kind="currency")
BOOL = BoolCodec()
DATE = DateCodec()
COUNTRY = CountryCodec()
MONEY = DecimalCodec(money=True, places=2)
RATE = DecimalCodec(places=2, minimum=0, maximum=100)
QUANTITY = DecimalCodec(places=2, minimum=0)
