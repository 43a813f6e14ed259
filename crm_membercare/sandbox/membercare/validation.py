"""The writable fields of each MemberCare resource, read from a request body and checked (422 on errors).

Each `*_fields` function returns every writable field, normalised, with defaults for the absent ones (a PUT is
a full replacement). Read-only and unknown fields are ignored. References are checked against the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from crm_membercare.sandbox.countries import COUNTRIES
from crm_membercare.sandbox.membercare.errors import FieldError, ValidationFailed
from crm_membercare.sandbox.membercare.fields import DIGITS, E164, EMAIL, FieldReader

COUNTRY_IDS = frozenset(country_id for country_id, _, _ in COUNTRIES)
CURRENCY = re.compile(r"^[A-Z]{3}$")
ISO2 = re.compile(r"^[A-Z]{2}$")
CONTACT_TYPES = ("Email", "Mobile", "Phone")
GENDERS = (0, 1, 2)
COMPANY_TYPES = ("Business", "Nonprofit", "Public")
UNITS = ("Piece", "Hour", "Month", "Year")
INVOICE_TYPES = ("Invoice", "Proforma")
INVOICE_STATUSES = ("Draft", "Sent", "Paid", "Credited")


class Lookup(Protocol):
    def exists(self, resource: str, key: int) -> bool: ...


def require_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ValidationFailed([FieldError("body", "invalid_type", "the body must be a JSON object")])
    return body


def person_fields(body: dict, lookup: Lookup) -> dict:
    read = FieldReader()
    fields = {
        "firstname": read.text(body, "firstname", required=True),
        "lastname": read.text(body, "lastname", required=True),
        "gender": read.choice(body, "gender", GENDERS, default=0),
        "birthDate": read.local_datetime(body, "birthDate"),
        "socialSecurityNumber": _social_security_number(read, body),
        "contacts": _contacts(read, body),
        "addresses": _addresses(read, body),
        "employments": [
            {
                "companyDebtorAccountNumber": _debtor_reference(
                    read, item, "companyDebtorAccountNumber", prefix, ("companies",), required=True
                ),
                "position": read.text(item, "position", prefix),
            }
            for prefix, item in read.objects(body, "employments")
        ],
        "allowEmail": read.boolean(body, "allowEmail", default=False),
        "allowSms": read.boolean(body, "allowSms", default=False),
        "memberType": read.integer(body, "memberType", default=1),
        "externalId": read.text(body, "externalId"),
    }
    _check_references(read, lookup)
    return fields


def company_fields(body: dict, lookup: Lookup) -> dict:
    read = FieldReader()
    fields = {
        "companyName": read.text(body, "companyName", required=True),
        "organizationNumber": read.text(body, "organizationNumber", pattern=DIGITS, expected="digits only"),
        "url": read.text(body, "url"),
        "companyType": read.choice(body, "companyType", COMPANY_TYPES),
        "contacts": _contacts(read, body),
        "addresses": _addresses(read, body),
        "externalId": read.text(body, "externalId"),
    }
    _check_references(read, lookup)
    return fields


def product_fields(body: dict, lookup: Lookup) -> dict:
    read = FieldReader()
    fields = {
        "productNumber": read.text(body, "productNumber", required=True),
        "name": read.text(body, "name", required=True),
        "description": read.text(body, "description"),
        "price": read.number(body, "price"),
        "currency": read.text(body, "currency", pattern=CURRENCY, expected="an ISO 4217 code") or "NOK",
        "vatRate": read.number(body, "vatRate", minimum=0, maximum=100),
        "unit": read.choice(body, "unit", UNITS, default="Piece"),
        "active": read.boolean(body, "active", default=True),
        "externalId": read.text(body, "externalId"),
    }
    read.raise_if_failed()
    return fields


def invoice_fields(body: dict, lookup: Lookup) -> dict:
    """The invoice's writable fields; `status` is None when absent (the caller decides what that means)."""
    read = FieldReader()
    fields = {
        "invoiceType": read.choice(body, "invoiceType", INVOICE_TYPES, default="Invoice"),
        "status": read.choice(body, "status", INVOICE_STATUSES),
        "debtorAccountNumber": _debtor_reference(
            read, body, "debtorAccountNumber", "", ("persons", "companies"), required=True
        ),
        "contactPersonDebtorAccountNumber": _debtor_reference(
            read, body, "contactPersonDebtorAccountNumber", "", ("persons",)
        ),
        "orderReference": read.text(body, "orderReference"),
        "invoiceDate": read.local_datetime(body, "invoiceDate", required=True),
        "payDueDate": read.local_datetime(body, "payDueDate"),
        "currency": read.text(body, "currency", required=True, pattern=CURRENCY, expected="an ISO 4217 code"),
        "invoiceItems": [_invoice_item(read, prefix, item) for prefix, item in read.objects(body, "invoiceItems")],
        "text": read.text(body, "text"),
        "ourReference": read.text(body, "ourReference"),
        "ourReferenceEmail": read.text(body, "ourReferenceEmail", pattern=EMAIL, expected="an email address"),
        "externalId": read.text(body, "externalId"),
    }
    _check_references(read, lookup)
    return fields


FIELD_READERS: dict[str, Callable[[dict, Lookup], dict]] = {
    "persons": person_fields,
    "companies": company_fields,
    "products": product_fields,
    "invoices": invoice_fields,
}


def _invoice_item(read: FieldReader, prefix: str, item: dict) -> dict:
    product_id = read.integer(item, "productId", prefix)
    if product_id is not None:
        read.reference(f"{prefix}productId", ("products",), product_id)
    return {
        "productId": product_id,
        "description": read.text(item, "description", prefix),
        "quantity": read.number(item, "quantity", prefix, required=True, minimum=0),
        "unitPrice": read.number(item, "unitPrice", prefix, required=True),
        "discountPercent": read.number(item, "discountPercent", prefix, default=0, minimum=0, maximum=100),
        "vatRate": read.number(item, "vatRate", prefix, default=0, minimum=0, maximum=100),
    }


def _contacts(read: FieldReader, body: dict) -> list[dict]:
    contacts = []
    for prefix, item in read.objects(body, "contacts"):
        kind = read.choice(item, "contactType", CONTACT_TYPES, prefix, required=True)
        if kind == "Email":
            value = read.text(item, "value", prefix, required=True, pattern=EMAIL, expected="an email address")
        elif kind in ("Mobile", "Phone"):
            value = read.text(item, "value", prefix, required=True, pattern=E164, expected="E.164 (+4791234567)")
        else:
            value = read.text(item, "value", prefix, required=True)
        contacts.append({"contactType": kind, "value": value})
    return contacts


def _addresses(read: FieldReader, body: dict) -> list[dict]:
    addresses = []
    for prefix, item in read.objects(body, "addresses"):
        postal = read.obj(item, "postalCode", prefix)
        country = read.obj(item, "country", prefix)
        country_id = read.integer(country, "id", f"{prefix}country.") if country is not None else None
        if country_id is not None and country_id not in COUNTRY_IDS:
            read.fail(f"{prefix}country.id", "unknown_country", f"{country_id} is not a known country id")
        addresses.append({
            "street": read.text(item, "street", prefix),
            "postalCode": None if postal is None else {
                "zipCode": read.text(postal, "zipCode", f"{prefix}postalCode."),
                "city": read.text(postal, "city", f"{prefix}postalCode."),
            },
            "country": None if country_id is None else {"id": country_id},
        })
    return addresses


def _social_security_number(read: FieldReader, body: dict) -> dict | None:
    value = read.obj(body, "socialSecurityNumber")
    if value is None:
        return None
    prefix = "socialSecurityNumber."
    return {
        "number": read.text(value, "number", prefix),
        "iso2Letter": read.text(value, "iso2Letter", prefix, pattern=ISO2, expected="two capital letters"),
    }


def _debtor_reference(
    read: FieldReader, body: dict, key: str, prefix: str, resources: tuple[str, ...], *, required: bool = False
) -> str | None:
    value = read.text(body, key, prefix, required=required, pattern=DIGITS, expected="a debtor account number")
    if value is not None:
        read.reference(prefix + key, resources, int(value))
    return value


def _check_references(read: FieldReader, lookup: Lookup) -> None:
    for path, resources, key in read.references:
        if not any(lookup.exists(resource, key) for resource in resources):
            kinds = " or ".join(resources)
            read.fail(path, "unknown_reference", f"{key} is not one of the existing {kinds}")
    read.raise_if_failed()
