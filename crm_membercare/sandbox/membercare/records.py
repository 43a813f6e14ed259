"""What each write does to a MemberCare record: validate, apply the resource's rules, stamp and store.

Every write runs in one store transaction, so reference checks, number assignment and the write agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crm_membercare.sandbox.membercare import invoices
from crm_membercare.sandbox.membercare.errors import ApiError, not_found
from crm_membercare.sandbox.membercare.oslo_time import render_local
from crm_membercare.sandbox.membercare.store import DEBTOR_RESOURCES, MemberCareStore, Transaction
from crm_membercare.sandbox.membercare.validation import FIELD_READERS, Lookup, require_object


class Records:
    def __init__(self, store: MemberCareStore,
                 readers: Mapping[str, Callable[[dict, Lookup], dict]] = FIELD_READERS) -> None:
        self.store = store
        self.readers = readers  # resource -> what reads its writable fields from a body

    def get(self, resource: str, key: int) -> dict:
        with self.store.transaction() as tx:
            return _existing(tx, resource, key)

    def create(self, resource: str, body: Any) -> dict:
        body = require_object(body)
        with self.store.transaction() as tx:
            fields = self.readers[resource](body, tx)
            sequence = "debtor" if resource in DEBTOR_RESOURCES else resource
            key = tx.next_value(sequence)
            return _write(tx, resource, key, fields, previous=None)

    def replace(self, resource: str, key: int, body: Any) -> dict:
        """PUT: a full replacement of the writable fields; read-only ones are kept from the stored record."""
        body = require_object(body)
        with self.store.transaction() as tx:
            previous = _existing(tx, resource, key)
            fields = self.readers[resource](body, tx)
            return _write(tx, resource, key, fields, previous)

    def delete(self, resource: str, key: int) -> None:
        """Debtors are closed (closing is final; deleting a closed one changes nothing), the rest removed."""
        with self.store.transaction() as tx:
            record = _existing(tx, resource, key)
            if resource in DEBTOR_RESOURCES:
                if record["closeDate"] is None:
                    tx.write(resource, {**record, "closeDate": render_local(tx.now), "closeReason": "deleted"})
                return
            if resource == "invoices":
                invoices.check_delete(record)
            tx.delete(resource, key)

    def credit(self, key: int) -> dict:
        with self.store.transaction() as tx:
            record = _existing(tx, "invoices", key)
            invoices.check_credit(record)
            return tx.write("invoices", {**record, "status": "Credited"})


def _existing(tx: Transaction, resource: str, key: int) -> dict:
    record = tx.get(resource, key)
    if record is None:
        raise not_found()
    return record


def _write(tx: Transaction, resource: str, key: int, fields: dict, previous: dict | None) -> dict:
    if resource == "persons":
        return tx.write(resource, _person(tx, key, fields, previous))
    if resource == "companies":
        return tx.write(resource, _company(tx, key, fields, previous))
    if resource == "products":
        owner = tx.unique_key_owner("products", fields["productNumber"])
        if owner is not None and owner != key:
            raise ApiError(409, "duplicate_product_number")
        return tx.write(resource, {"id": key, **fields}, unique_key=fields["productNumber"])
    if resource == "invoices":
        return tx.write(resource, _invoice(tx, key, fields, previous))
    return tx.write(resource, {"id": key, **fields})  # a resource added to the app: its fields as read


def _person(tx: Transaction, key: int, fields: dict, previous: dict | None) -> dict:
    return {
        "debtorAccountNumber": str(key),
        "firstname": fields["firstname"],
        "lastname": fields["lastname"],
        "name": f"{fields['firstname']} {fields['lastname']}",
        **{k: v for k, v in fields.items() if k not in ("firstname", "lastname", "externalId")},
        "addresses": _addresses_with_ids(tx, fields["addresses"], previous),
        **_closing(previous),
        "externalId": fields["externalId"],
    }


def _company(tx: Transaction, key: int, fields: dict, previous: dict | None) -> dict:
    return {
        "debtorAccountNumber": str(key),
        **{k: v for k, v in fields.items() if k != "externalId"},
        "addresses": _addresses_with_ids(tx, fields["addresses"], previous),
        **_closing(previous),
        "externalId": fields["externalId"],
    }


def _closing(previous: dict | None) -> dict:
    """Closing is final: a PUT on a closed debtor is allowed, but it stays closed."""
    if previous is None:
        return {"closeDate": None, "closeReason": None}
    return {"closeDate": previous["closeDate"], "closeReason": previous["closeReason"]}


def _addresses_with_ids(tx: Transaction, addresses: list[dict], previous: dict | None) -> list[dict]:
    """Address ids are the server's: the address at position i keeps the id stored at position i."""
    old_ids = [address["id"] for address in (previous or {}).get("addresses") or ()]
    return [
        {"id": old_ids[index] if index < len(old_ids) else tx.next_value("address"), **address}
        for index, address in enumerate(addresses)
    ]


def _invoice(tx: Transaction, key: int, fields: dict, previous: dict | None) -> dict:
    if previous is None:
        status = invoices.status_on_create(fields["status"])
        number = None
    else:
        status = invoices.status_on_replace(previous, fields)
        number = previous["invoiceNumber"]
    if status != "Draft" and number is None:
        number = tx.next_value("invoice_number")
    return {
        "id": key,
        "invoiceNumber": number,
        **fields,
        "status": status,
        "totalAmount": invoices.total_amount(fields["invoiceItems"]),
    }
