"""What each CustomCRM call does to the store: versions, soft deletes, uniqueness, references, totals, numbers.

The HTTP layer (app.py) only translates between requests and these methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crm_membercare.sandbox.customcrm import keyset
from crm_membercare.sandbox.customcrm.errors import CrmError, FieldProblem, ValidationFailed, conflict, not_found
from crm_membercare.sandbox.customcrm.fields import (
    DOCUMENTS,
    FIELDS,
    LINE_TOTAL_KEYS,
    NUMBERING,
    Field,
    unique_key,
)
from crm_membercare.sandbox.customcrm.store import CustomCrmStore, Transaction
from crm_membercare.sandbox.customcrm.validation import check_parties, writable_values
from crm_membercare.sandbox.money import document_total

UNIQUE_FIELD = {"products": "sku", "users": "email"}


@dataclass(frozen=True)
class ListQuery:
    since_ms: int | None = None
    cursor: str | None = None
    include_archived: bool = False
    external_ref: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class Page:
    data: list[dict]
    next_cursor: str | None


def if_match_allows(header: str, version: int) -> bool:
    """`If-Match: 3`, `"3"`, `W/"3"`, a list of them, or `*`."""
    for candidate in header.split(","):
        tag = candidate.strip().removeprefix("W/").strip('"')
        if tag == "*" or tag == str(version):
            return True
    return False


class CrmService:
    def __init__(self, store: CustomCrmStore, fields: Mapping[str, Mapping[str, Field]] = FIELDS) -> None:
        self.store = store
        self.fields = fields  # resource -> its writable fields (fields.with_extra)

    def list(self, resource: str, query: ListQuery) -> Page:
        try:
            after = keyset.decode(query.cursor) if query.cursor else None
        except ValueError as error:
            raise ValidationFailed([FieldProblem(("query", "cursor"), str(error), "value_error")]) from error
        records, more = self.store.page(
            resource, since_ms=query.since_ms, after=after, include_archived=query.include_archived,
            external_ref=query.external_ref, limit=query.limit,
        )
        return Page(records, keyset.encode(more) if more else None)

    def get(self, resource: str, record_id: int) -> dict:
        record = self.store.get(resource, record_id)
        if record is None:
            raise not_found(resource, record_id)
        return record

    def create(self, resource: str, body: object) -> dict:
        values = writable_values(resource, body, partial=False, fields=self.fields)
        check_parties(resource, values)
        with self.store.transaction() as tx:
            _check_references(tx, self.fields[resource], values)
            _check_unique(tx, resource, values, record_id=None)
            record = {"id": tx.next_value(resource)}
            if resource in NUMBERING:
                field, prefix, _ = NUMBERING[resource]
                record[field] = f"{prefix}{tx.next_value(field)}"
            record.update(values)
            record.update(version=1, archived=False)
            return tx.write(resource, _with_total(resource, record))

    def update(self, resource: str, record_id: int, body: object, if_match: str | None) -> dict:
        with self.store.transaction() as tx:
            current = _live(tx, resource, record_id)
            if if_match is not None and not if_match_allows(if_match, current["version"]):
                raise CrmError(412, f"version is {current['version']}, not {if_match}")
            changes = writable_values(resource, body, partial=True, fields=self.fields)
            record = {**current, **changes, "version": current["version"] + 1}
            check_parties(resource, record)
            _check_references(tx, self.fields[resource], changes)
            _check_unique(tx, resource, record, record_id=record_id)
            return tx.write(resource, _with_total(resource, record))

    def archive(self, resource: str, record_id: int) -> None:
        """Soft delete; archiving an archived record again changes nothing."""
        with self.store.transaction() as tx:
            current = _existing(tx, resource, record_id)
            if not current["archived"]:
                tx.write(resource, {**current, "archived": True, "version": current["version"] + 1})


def _existing(tx: Transaction, resource: str, record_id: int) -> dict:
    record = tx.get(resource, record_id)
    if record is None:
        raise not_found(resource, record_id)
    return record


def _live(tx: Transaction, resource: str, record_id: int) -> dict:
    record = _existing(tx, resource, record_id)
    if record["archived"]:
        raise conflict(f"{resource} {record_id} is archived; archiving is final")
    return record


def _with_total(resource: str, record: dict) -> dict:
    if resource in DOCUMENTS:
        record["total"] = document_total(record["lines"], LINE_TOTAL_KEYS)
    return record


def _check_references(tx: Transaction, fields: Mapping[str, Field], values: dict) -> None:
    """Every id the body names must be a record that exists (archived ones included: they still exist)."""
    wanted = [
        (("body", name), fields[name].target, values[name])
        for name in values
        if fields[name].kind == "ref" and values[name] is not None
    ]
    wanted += [
        (("body", "lines", index, "product_id"), "products", line["product_id"])
        for index, line in enumerate(values.get("lines") or ())
        if line["product_id"] is not None
    ]
    problems = [
        FieldProblem(loc, f"no {target} record with id {value}", "reference")
        for loc, target, value in wanted
        if not tx.exists(target, value)
    ]
    if problems:
        raise ValidationFailed(problems)


def _check_unique(tx: Transaction, resource: str, record: dict, record_id: int | None) -> None:
    external_ref = record.get("external_ref")
    if external_ref is not None:
        holder = tx.holder_of_external_ref(resource, external_ref)
        if holder not in (None, record_id):
            raise conflict(f"external_ref {external_ref!r} is already used by {resource} {holder}")
    key = unique_key(resource, record)
    if key is not None:
        holder = tx.holder_of_unique_key(resource, key)
        if holder not in (None, record_id):
            field = UNIQUE_FIELD[resource]
            raise conflict(f"{field} {record[field]!r} is already used by {resource} {holder}")
