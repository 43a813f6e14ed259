"""The canonical form of mapped values: what the merge compares and what a base's hash is computed from.

    canonical_values(flow, values) -> {key: canonical value}   (strings NFC + trimmed, empty as None,
                                                               emails lower-case, decimals exact strings,
                                                               list items in a fixed key order)
    values_hash(flow, values) -> hex sha256 of the canonical values as sorted, compact JSON
    fields_agree(flow, key, crm_value, mc_value) -> bool
    disagreeing_fields(flow, crm_values, mc_values) -> [key, ...]
    base_values(flow, values) -> {key: canonical value, JSON-safe}   (what a link's base stores)

A lossy row agrees when either direction's mapping takes one side's value onto the other's: with the
CRM-side common value c and the MemberCare-side common value m (m is the CRM image of the MemberCare
value M), the row agrees when c == m or when c maps to M. So "confirmed" agrees with a Draft invoice, and
"accepted" with a Sent proforma, but "sent" does not agree with a Paid one. The engine should store the
base as the CRM-side value of such a row and test a MemberCare-side value against it with `fields_agree`,
so a lossy row never flip-flops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from crm_membercare.mapping.flows import Flow


def canonical_values(flow: Flow, values: Mapping[str, Any]) -> dict[str, Any]:
    return {row.key: row.transform.canonical(values[row.key]) for row in flow.rows if row.key in values}


def base_value(row, value: Any) -> Any:
    """One row's canonical value as a link's base stores it: JSON-safe (a date or a Decimal as text)."""
    return jsonable(row.transform.canonical(value))


def base_values(flow: Flow, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every row's canonical value as a base stores it (a row missing from `values` as None)."""
    return {row.key: base_value(row, values.get(row.key)) for row in flow.rows}


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def values_hash(flow: Flow, values: Mapping[str, Any]) -> str:
    text = json.dumps(canonical_values(flow, values), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fields_agree(flow: Flow, key: str, crm_value: Any, mc_value: Any) -> bool:
    return flow.row(key).transform.agrees(crm_value, mc_value)


def disagreeing_fields(flow: Flow, crm_values: Mapping[str, Any], mc_values: Mapping[str, Any]) -> list[str]:
    """The rows on which two mapped records differ (the "equal under the mapping" check)."""
    return [
        row.key
        for row in flow.rows
        if not row.transform.agrees(crm_values.get(row.key), mc_values.get(row.key))
    ]
