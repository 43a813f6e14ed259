"""Where a value lives in a MemberCare record, for reading and for writing in place.

Each accessor reads one value (`get`) and writes one value into a copy of the current record (`put`),
touching nothing else: other contacts, other addresses and other employments stay as they are. Its `path` is
the text the QA document shows ("contacts[Mobile].value", "addresses[0].postalCode.city").

Conventions where DESIGN is silent:
- Writing None to a contact value removes the first contact of that type (MemberCare has no empty contact).
- Address fields are written into the primary (first) address; one is added only for a non-empty value, and
  clearing every field keeps the address entry with empty fields (it may carry an id other systems use).
  An empty country is written as `"country": null`.
- Writing None to the first employment's company removes that employment (MemberCare has no employment
  without a company); its position is written only when that employment exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class McPath(Protocol):
    path: str

    def get(self, record: Mapping[str, Any]) -> Any: ...

    def put(self, record: dict[str, Any], value: Any) -> None: ...


@dataclass(frozen=True)
class Field:
    """A top-level field: `firstname`, `organizationNumber`, `payDueDate`."""

    name: str

    @property
    def path(self) -> str:
        return self.name

    def get(self, record: Mapping[str, Any]) -> Any:
        return record.get(self.name)

    def put(self, record: dict[str, Any], value: Any) -> None:
        record[self.name] = value


@dataclass(frozen=True)
class ContactValue:
    """The value of the first contact of a type: `contacts[Email].value`."""

    contact_type: str

    @property
    def path(self) -> str:
        return f"contacts[{self.contact_type}].value"

    def _index(self, contacts: list[dict[str, Any]]) -> int | None:
        return next((i for i, c in enumerate(contacts) if c.get("contactType") == self.contact_type), None)

    def get(self, record: Mapping[str, Any]) -> Any:
        contacts = record.get("contacts") or []
        index = self._index(contacts)
        return None if index is None else contacts[index].get("value")

    def put(self, record: dict[str, Any], value: Any) -> None:
        contacts = [dict(c) for c in record.get("contacts") or []]
        index = self._index(contacts)
        if value is None:
            if index is not None:
                del contacts[index]
        elif index is None:
            contacts.append({"contactType": self.contact_type, "value": value})
        else:
            contacts[index]["value"] = value
        record["contacts"] = contacts


def _empty_address() -> dict[str, Any]:
    return {"street": None, "postalCode": {"zipCode": None, "city": None}, "country": None}


@dataclass(frozen=True)
class AddressField:
    """A field of the primary address: `addresses[0].street`, `addresses[0].country.id`."""

    keys: tuple[str, ...]

    @property
    def path(self) -> str:
        return "addresses[0]." + ".".join(self.keys)

    def get(self, record: Mapping[str, Any]) -> Any:
        addresses = record.get("addresses") or []
        node: Any = addresses[0] if addresses else None
        for key in self.keys:
            node = node.get(key) if isinstance(node, Mapping) else None
        return node

    def put(self, record: dict[str, Any], value: Any) -> None:
        addresses = [dict(a) for a in record.get("addresses") or []]
        if not addresses:
            if value is None:
                return
            addresses.append(_empty_address())
        node = addresses[0]
        *parents, leaf = self.keys
        if value is None:
            self._clear(node, parents, leaf)
        else:
            for key in parents:
                child = node.get(key)
                node[key] = dict(child) if isinstance(child, Mapping) else {}
                node = node[key]
            node[leaf] = value
        record["addresses"] = addresses

    @staticmethod
    def _clear(node: dict[str, Any], parents: list[str], leaf: str) -> None:
        """Empty a nested value; an object holding nothing else ({"id": 160}) becomes null as a whole."""
        if not parents:
            node[leaf] = None
            return
        holder = node.get(parents[0])
        if not isinstance(holder, Mapping):
            return
        if set(holder) <= {leaf}:
            node[parents[0]] = None
        else:
            node[parents[0]] = {**holder, leaf: None}


@dataclass(frozen=True)
class EmploymentField:
    """A field of the first employment: `employments[0].companyDebtorAccountNumber`, `.position`."""

    key: str
    company_key: str = "companyDebtorAccountNumber"

    @property
    def path(self) -> str:
        return f"employments[0].{self.key}"

    def get(self, record: Mapping[str, Any]) -> Any:
        employments = record.get("employments") or []
        return employments[0].get(self.key) if employments else None

    def put(self, record: dict[str, Any], value: Any) -> None:
        employments = [dict(e) for e in record.get("employments") or []]
        if self.key == self.company_key and value is None:
            employments = employments[1:]
        elif employments:
            employments[0][self.key] = value
        elif self.key == self.company_key:
            employments.append({self.company_key: value, "position": None})
        record["employments"] = employments
