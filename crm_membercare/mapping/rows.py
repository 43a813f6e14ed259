"""Property rows: one line of a flow's property table, with the transform that carries it both ways.

A `PropertyRow` has a `key` (its name in the common space, usually the CRM field), the CRM field(s) and the
MemberCare path it joins, the MemberCare data type as documented, a direction, a lossy flag, and a
`RowTransform` that reads the common value from either record and writes it back into either side:

    read_crm(crm_record, ctx) -> common value      write_crm(value, values, patch) -> None (fills patch)
    read_mc(mc_record, ctx)   -> common value      write_mc(value, values, mc_record, ctx) -> None (in place)
    canonical(value), agrees(crm_value, mc_value)

`values` is the whole common record being written, so a row can depend on another row's value (a contact's
title is carried only with a company; an invoice's contact person only under a company debtor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from crm_membercare.mapping.links import MappingContext
from crm_membercare.mapping.paths import McPath
from crm_membercare.mapping.problems import MissingLink, ValueProblem
from crm_membercare.mapping.transforms import TEXT, Codec, canonical_text

REFERENCE = Codec(kind="reference")
LIST = Codec(kind="list")
LIST_ITEM = Codec(kind="object")

Direction = Literal["both", "to_membercare", "to_crm"]


@dataclass(frozen=True)
class DocRow:
    """One row of the QA document's table."""

    crm: str
    membercare: str
    mc_type: str


class RowTransform(Protocol):
    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any: ...

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any: ...

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None: ...

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None: ...

    def canonical(self, value: Any) -> Any: ...

    def agrees(self, crm_value: Any, mc_value: Any) -> bool: ...

    def raw_crm(self, record: Mapping[str, Any]) -> list[RawValue]: ...

    def raw_mc(self, record: Mapping[str, Any]) -> list[RawValue]: ...


MISSING = object()  # a field absent from a payload (a PATCH body names only what it changes)


@dataclass(frozen=True)
class RawValue:
    """A value as it stands in a payload, for validation: where (`subfield` of the row), how typed, what."""

    subfield: str
    codec: Codec
    value: Any


@dataclass(frozen=True)
class Simple:
    """One CRM field ↔ one MemberCare path, through a value codec."""

    crm_field: str
    mc: McPath
    codec: Codec

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return self.codec.from_crm(record.get(self.crm_field), record, ctx)

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return self.codec.from_mc(self.mc.get(record), record, ctx)

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        patch[self.crm_field] = self.codec.to_crm(value)

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None:
        self.mc.put(record, self.codec.to_mc(value, ctx))

    def canonical(self, value: Any) -> Any:
        return self.codec.canonical(value)

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        return self.codec.agrees(crm_value, mc_value)

    def raw_crm(self, record: Mapping[str, Any]) -> list[RawValue]:
        return [RawValue("", self.codec, record.get(self.crm_field, MISSING))]

    def raw_mc(self, record: Mapping[str, Any]) -> list[RawValue]:
        return [RawValue("", self.codec, self.mc.get(record))]


@dataclass(frozen=True)
class CarriedWith(Simple):
    """A field carried only while another field is set (a contact's title needs a company in MemberCare).

    Read from the CRM it is empty when `with_field` is empty; it is written to either side only when the
    common value of `with_field` is set, so a title without a company neither reaches MemberCare nor is
    cleared in the CRM. Lossy for that reason.
    """

    with_field: str = "customer_id"

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return super().read_crm(record, ctx) if record.get(self.with_field) is not None else None

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        if values.get(self.with_field) is not None:
            super().write_crm(value, values, patch)

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None:
        if values.get(self.with_field) is not None:
            super().write_mc(value, values, record, ctx)


@dataclass(frozen=True)
class DebtorOption:
    """One kind of payer: a CRM reference field and the flow that links its records to MemberCare debtors."""

    crm_resource: str
    crm_field: str
    through: str


@dataclass(frozen=True)
class Debtor:
    """Several CRM reference fields ↔ one MemberCare debtor number.

    The common value names the CRM record: "customers:12" or "contacts:7". Reading the CRM, the first
    option whose field is set wins (a customer before a contact). Reading MemberCare, the debtor number is
    looked up in each option's links (persons and companies share one numbering, so at most one answers).
    Writing the CRM sets the chosen option's field and empties the options before it.
    """

    mc: McPath
    options: tuple[DebtorOption, ...]

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        for option in self.options:
            if record.get(option.crm_field) is not None:
                return f"{option.crm_resource}:{record[option.crm_field]}"
        return None

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        debtor = self.mc.get(record)
        if debtor is None:
            return None
        for option in self.options:
            crm_id = ctx.links.crm_id_for(option.through, debtor)
            if crm_id is not None:
                return f"{option.crm_resource}:{crm_id}"
        raise MissingLink(" or ".join(o.through for o in self.options), debtor)

    def _option(self, value: Any) -> tuple[int, DebtorOption, int]:
        resource, _, crm_id = str(value).partition(":")
        for index, option in enumerate(self.options):
            if option.crm_resource == resource and crm_id.isdigit():
                return index, option, int(crm_id)
        raise ValueProblem("is not a debtor reference (expected customers:<id> or contacts:<id>)", value)

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        if value is None:
            for option in self.options:
                patch[option.crm_field] = None
            return
        index, option, crm_id = self._option(value)
        for earlier in self.options[:index]:
            patch[earlier.crm_field] = None
        patch[option.crm_field] = crm_id

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None:
        if value is None:
            self.mc.put(record, None)
            return
        _, option, crm_id = self._option(value)
        mc_id = ctx.links.mc_id_for(option.through, crm_id)
        if mc_id is None:
            raise MissingLink(option.through, crm_id)
        self.mc.put(record, mc_id)

    def canonical(self, value: Any) -> Any:
        return value

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        return crm_value == mc_value

    def raw_crm(self, record: Mapping[str, Any]) -> list[RawValue]:
        present = [record[o.crm_field] for o in self.options if o.crm_field in record]
        chosen = next((v for v in present if v is not None), None if present else MISSING)
        return [RawValue("", REFERENCE, chosen)]

    def raw_mc(self, record: Mapping[str, Any]) -> list[RawValue]:
        return [RawValue("", REFERENCE, self.mc.get(record))]


@dataclass(frozen=True)
class CompanyContact(Simple):
    """An invoice's contact person: carried only when the debtor is a company (`debtor_prefix`).

    Under a person debtor both sides read empty (a contact person typed in MemberCare under a person debtor
    included); writing the CRM then leaves `contact_id` to the debtor row (it holds the paying person), while
    MemberCare gets an empty contact person.
    """

    company_field: str = "customer_id"
    debtor_key: str = "debtor"
    debtor_prefix: str = "customers:"
    mc_debtor: str = "debtorAccountNumber"
    company_flow: str = ""  # the flow whose links say a debtor is a company (set by the flow)

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return super().read_crm(record, ctx) if record.get(self.company_field) is not None else None

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        # A contact person typed under a person debtor is not carried (B3), so the pair still agrees.
        debtor = record.get(self.mc_debtor)
        if debtor is None or ctx.links.crm_id_for(self.company_flow, debtor) is None:
            return None
        return super().read_mc(record, ctx)

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        debtor = values.get(self.debtor_key)
        if str(debtor).startswith(self.debtor_prefix) or (debtor is None and value is not None):
            super().write_crm(value, values, patch)


@dataclass(frozen=True)
class ItemField:
    """One field of a list item (an order line ↔ an invoice item)."""

    crm_key: str
    mc_key: str
    mc_type: str
    codec: Codec
    required: bool = False


@dataclass(frozen=True)
class Items:
    """A CRM list ↔ a MemberCare list, item by item, in order. The list is owned whole: writing replaces it."""

    crm_field: str
    mc_field: str
    fields: tuple[ItemField, ...]

    def _convert(self, items: Any, read: Any) -> list[dict[str, Any]]:
        result = []
        for index, item in enumerate(items or []):
            if not isinstance(item, Mapping):
                raise ValueProblem("is not an object", item, f"[{index}]")
            converted = {}
            for field in self.fields:
                try:
                    converted[field.crm_key] = read(field, item)
                except ValueProblem as problem:
                    raise ValueProblem(problem.reason, problem.value, f"[{index}].{field.crm_key}") from None
            result.append(converted)
        return result

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return self._convert(
            record.get(self.crm_field), lambda f, item: f.codec.from_crm(item.get(f.crm_key), item, ctx)
        )

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return self._convert(
            record.get(self.mc_field), lambda f, item: f.codec.from_mc(item.get(f.mc_key), item, ctx)
        )

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        items = self._convert(value, lambda f, item: f.codec.to_crm(item.get(f.crm_key)))
        patch[self.crm_field] = items

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None:
        items = self._convert(value, lambda f, item: f.codec.to_mc(item.get(f.crm_key), ctx))
        keys = {f.crm_key: f.mc_key for f in self.fields}
        record[self.mc_field] = [{keys[k]: v for k, v in item.items()} for item in items]

    def canonical(self, value: Any) -> Any:
        return [{f.crm_key: f.codec.canonical(item.get(f.crm_key)) for f in self.fields} for item in value or []]

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        return self.canonical(crm_value) == self.canonical(mc_value)

    def _raw(self, items: Any, key: Callable[[ItemField], str]) -> list[RawValue]:
        if items is MISSING or items is None:
            return [RawValue("", LIST, items)]
        if not isinstance(items, list):
            return [RawValue("", LIST, items)]
        raw = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raw.append(RawValue(f"[{index}]", LIST_ITEM, item))
                continue
            for field in self.fields:
                value = item.get(key(field), MISSING if field.required else None)
                raw.append(RawValue(f"[{index}].{field.crm_key}", field.codec, value))
        return raw

    def raw_crm(self, record: Mapping[str, Any]) -> list[RawValue]:
        return self._raw(record.get(self.crm_field, MISSING), lambda f: f.crm_key)

    def raw_mc(self, record: Mapping[str, Any]) -> list[RawValue]:
        return self._raw(record.get(self.mc_field), lambda f: f.mc_key)


@dataclass(frozen=True)
class JoinedText:
    """Several CRM text fields joined by spaces ↔ one MemberCare string. One-way: a join cannot be split."""

    crm_fields: tuple[str, ...]
    mc: McPath

    def read_crm(self, record: Mapping[str, Any], ctx: MappingContext | None) -> Any:
        return " ".join(str(record[f]).strip() for f in self.crm_fields if canonical_text(record.get(f))) or None

    def read_mc(self, record: Mapping[str, Any], ctx: MappingContext) -> Any:
        return self.mc.get(record)

    def write_crm(self, value: Any, values: Mapping[str, Any], patch: dict[str, Any]) -> None:
        """Nothing: the CRM side is the only source of this row."""

    def write_mc(self, value: Any, values: Mapping[str, Any], record: dict[str, Any], ctx: MappingContext) -> None:
        self.mc.put(record, value)

    def canonical(self, value: Any) -> Any:
        return canonical_text(value)

    def agrees(self, crm_value: Any, mc_value: Any) -> bool:
        return canonical_text(crm_value) == canonical_text(mc_value)

    def raw_crm(self, record: Mapping[str, Any]) -> list[RawValue]:
        return [RawValue(f".{f}", TEXT, record.get(f, MISSING)) for f in self.crm_fields]

    def raw_mc(self, record: Mapping[str, Any]) -> list[RawValue]:
        return [RawValue("", TEXT, self.mc.get(record))]


@dataclass(frozen=True)
class PropertyRow:
    """One property of a flow.

    `direction` "to_membercare" marks a row the CRM alone decides (a server-assigned order number, a user's
    name): it is read on both sides but written only to MemberCare, so the engine overwrites a MemberCare
    edit of it (`note`, when set, tells the document what happens instead). `lossy_note` says, for a lossy
    row, what a round trip gives instead. `required` rows must have a value on both sides. `references`
    names the flows whose links the row translates through.
    """

    key: str
    crm_fields: tuple[str, ...]
    mc_paths: tuple[str, ...]
    mc_type: str
    transform: RowTransform
    direction: Direction = "both"
    lossy: bool = False
    lossy_note: str = ""
    references: tuple[str, ...] = ()
    required: bool = False
    crm_label: str = ""
    note: str = ""
    items: tuple[DocRow, ...] = ()

    def doc_rows(self) -> tuple[DocRow, ...]:
        """The row as the QA document shows it; a list row shows one row per item field."""
        crm = self.crm_label or ", ".join(self.crm_fields)
        return self.items or (DocRow(crm, ", ".join(self.mc_paths), self.mc_type),)
