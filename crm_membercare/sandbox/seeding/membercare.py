"""MemberCare records exactly as `GET /{res}/{id}` returns them (DESIGN A2), rendered from the drafts.

Companies and persons share one debtor numbering (companies first, from 10001); address ids run across both.
Invoice and Proforma invoices are interleaved in one id sequence; non-Draft invoices are numbered in id order.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count

from crm_membercare.sandbox.countries import COUNTRY_ID_BY_ISO2
from crm_membercare.sandbox.money import document_total
from crm_membercare.sandbox.seeding.catalog import Product
from crm_membercare.sandbox.seeding.customcrm import order_number, quote_number
from crm_membercare.sandbox.seeding.documents import Document
from crm_membercare.sandbox.seeding.layout import Owner
from crm_membercare.sandbox.seeding.parties import Address, Organisation, Person
from crm_membercare.sandbox.seeding.timeline import local_midnight, membercare_timestamp
from crm_membercare.sandbox.seeding.world import SideWorld

FIRST_DEBTOR = 10001
ITEM_KEYS = ("quantity", "unitPrice", "discountPercent", "vatRate")
COMPANY_TYPES = {"company": "Business", "nonprofit": "Nonprofit", "public": "Public"}
UNITS = {"pcs": "Piece", "hour": "Hour", "month": "Month", "year": "Year"}


def membercare_records(world: SideWorld) -> Iterator[tuple[str, dict]]:
    """Every record of the MemberCare side, resources in dependency order."""
    address_ids = count(1)
    for index, _, organisation in world.organisations():
        yield "companies", _company(FIRST_DEBTOR + index, organisation, address_ids)
    first_person = FIRST_DEBTOR + world.counts.customers
    for index, owner, person in world.people():
        yield "persons", _person(world, first_person + index, owner, person, address_ids)
    for index, _, product in world.products():
        yield "products", _product(index + 1, product)
    invoice_numbers = count(1)
    for invoice_id, (is_quote, index) in enumerate(interleaved(world.counts.orders, world.counts.quotes), 1):
        owner, number, document = world.document(is_quote, index)
        yield "invoices", _invoice(world, invoice_id, owner, number, document, invoice_numbers)


def interleaved(orders: int, quotes: int) -> Iterator[tuple[bool, int]]:
    """Orders and quotes spread evenly through one sequence, as (is_quote, index)."""
    total, placed_orders = orders + quotes, 0
    for position in range(total):
        if (position + 1) * orders // total > placed_orders:
            yield False, placed_orders
            placed_orders += 1
        else:
            yield True, position - placed_orders


def _debtor(world: SideWorld, owner: Owner, customer: int | None) -> str | None:
    index = world.resolve("customers", owner, customer)
    return None if index is None else str(FIRST_DEBTOR + index)


def _person_debtor(world: SideWorld, owner: Owner, contact: int | None) -> str | None:
    index = world.resolve("contacts", owner, contact)
    return None if index is None else str(FIRST_DEBTOR + world.counts.customers + index)


def _address(address: Address, address_ids: Iterator[int]) -> dict:
    return {
        "id": next(address_ids),
        "street": address.street,
        "postalCode": {"zipCode": address.postal_code, "city": address.city},
        "country": {"id": COUNTRY_ID_BY_ISO2[address.country]},
    }


def _addresses(addresses: tuple[Address | None, ...], address_ids: Iterator[int]) -> list[dict]:
    return [_address(address, address_ids) for address in addresses if address is not None]


def _contact_list(*entries: tuple[str, str | None]) -> list[dict]:
    return [{"contactType": kind, "value": value} for kind, value in entries if value is not None]


def _company(debtor: int, organisation: Organisation, address_ids: Iterator[int]) -> dict:
    return {
        "debtorAccountNumber": str(debtor),
        "companyName": organisation.name,
        "organizationNumber": organisation.org_number,
        "url": organisation.website,
        "companyType": COMPANY_TYPES[organisation.customer_type],
        "contacts": _contact_list(
            ("Email", organisation.email),
            ("Phone", organisation.phone.e164 if organisation.phone else None),
            ("Mobile", organisation.extra_mobile.e164 if organisation.extra_mobile else None),
        ),
        "addresses": _addresses((organisation.address, organisation.extra_address), address_ids),
        "closeDate": None,
        "closeReason": None,
        "externalId": None,
        "lastChange": membercare_timestamp(organisation.stamps.updated_ms),
    }


def _person(world: SideWorld, debtor: int, owner: Owner, person: Person, address_ids: Iterator[int]) -> dict:
    employments = []
    if person.employer is not None:
        employments.append({
            "companyDebtorAccountNumber": _debtor(world, owner, person.employer), "position": person.title,
        })
        if person.extra_employment is not None:
            company, position = person.extra_employment
            employments.append({"companyDebtorAccountNumber": _debtor(world, owner, company), "position": position})
    return {
        "debtorAccountNumber": str(debtor),
        "firstname": person.first_name,
        "lastname": person.last_name,
        "name": f"{person.first_name} {person.last_name}",
        "gender": (1 if person.male else 2) if person.gender_known else 0,
        "birthDate": local_midnight(person.birth_date),
        "socialSecurityNumber": (
            {"number": person.national_id, "iso2Letter": "NO"} if person.national_id else None
        ),
        "contacts": _contact_list(
            ("Email", person.email),
            ("Mobile", person.phone.e164 if person.phone else None),
            ("Phone", person.landline.e164 if person.landline else None),
            # a second e-mail only behind a first one: the first entry of a type is the one the sync maps
            ("Email", person.work_email if person.email else None),
        ),
        "addresses": _addresses((person.address, person.extra_address), address_ids),
        "employments": employments,
        "allowEmail": person.newsletter,
        "allowSms": person.allow_sms,
        "memberType": person.member_type,
        "closeDate": None,
        "closeReason": None,
        "externalId": None,
        "lastChange": membercare_timestamp(person.stamps.updated_ms),
    }


def _product(product_id: int, product: Product) -> dict:
    return {
        "id": product_id,
        "productNumber": product.sku,
        "name": product.name,
        "description": product.description,
        "price": product.price,
        "currency": "NOK",
        "vatRate": product.vat_rate,
        "unit": UNITS[product.unit],
        "active": product.active,
        "externalId": None,
        "lastChange": membercare_timestamp(product.stamps.updated_ms),
    }


def _invoice(
    world: SideWorld, invoice_id: int, owner: Owner, number: int, document: Document, invoice_numbers: Iterator[int],
) -> dict:
    company = _debtor(world, owner, document.customer)
    person = _person_debtor(world, owner, document.contact)
    items = []
    for line in document.lines:
        product = world.resolve("products", owner, line.product)
        items.append({
            "productId": None if product is None else product + 1,
            "description": line.description,
            "quantity": line.quantity,
            "unitPrice": line.unit_price,
            "discountPercent": line.discount_percent,
            "vatRate": line.vat_rate,
        })
    status = document.membercare_status
    if owner == "shared":
        # the twin's CRM number: its id is its position on the CRM side
        crm_id = world.layout.pairs["quotes" if document.is_quote else "orders"].positions["customcrm"][number] + 1
        order_reference = quote_number(crm_id) if document.is_quote else order_number(crm_id)
        signer = document.owner
    else:
        order_reference, signer = document.purchase_order, document.staff
    user = None if signer is None else world.users[signer]
    our_reference = None if user is None else (f"{user.first_name} {user.last_name}", user.email)
    return {
        "id": invoice_id,
        "invoiceNumber": None if status == "Draft" else next(invoice_numbers),
        "invoiceType": "Proforma" if document.is_quote else "Invoice",
        "status": status,
        "debtorAccountNumber": company or person,
        "contactPersonDebtorAccountNumber": person if company else None,
        "orderReference": order_reference,
        "invoiceDate": local_midnight(document.day),
        "payDueDate": local_midnight(document.due),
        "currency": "NOK",
        "invoiceItems": items,
        "totalAmount": document_total(items, ITEM_KEYS),
        "text": document.notes,
        "ourReference": our_reference[0] if our_reference else None,
        "ourReferenceEmail": our_reference[1] if our_reference else None,
        "externalId": None,
        "lastChange": membercare_timestamp(document.stamps.updated_ms),
    }
