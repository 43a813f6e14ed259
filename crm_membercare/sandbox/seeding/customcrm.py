"""CustomCRM records exactly as `GET /{res}/{id}` returns them (DESIGN A1), rendered from the drafts."""

from __future__ import annotations

from collections.abc import Iterator

from crm_membercare.sandbox.money import document_total
from crm_membercare.sandbox.seeding.catalog import Product
from crm_membercare.sandbox.seeding.documents import Document
from crm_membercare.sandbox.seeding.layout import Owner
from crm_membercare.sandbox.seeding.parties import Address, Organisation, Person, User
from crm_membercare.sandbox.seeding.timeline import Stamps, crm_timestamp
from crm_membercare.sandbox.seeding.world import SideWorld

LINE_KEYS = ("quantity", "unit_price", "discount_percent", "vat_rate")
ORDER_NUMBER_BASE = 10000  # SO-10001 is order 1
QUOTE_NUMBER_BASE = 1000  # Q-1001 is quote 1


def order_number(order_id: int) -> str:
    return f"SO-{ORDER_NUMBER_BASE + order_id}"


def quote_number(quote_id: int) -> str:
    return f"Q-{QUOTE_NUMBER_BASE + quote_id}"


def customcrm_records(world: SideWorld) -> Iterator[tuple[str, dict]]:
    """Every record of the CRM side, resources in dependency order, ids 1, 2, ... per resource."""
    for index, user in enumerate(world.users):
        yield "users", _user(index + 1, user)
    for index, _, organisation in world.organisations():
        yield "customers", _customer(index + 1, organisation)
    for index, owner, person in world.people():
        yield "contacts", _contact(world, index + 1, owner, person)
    for index, _, product in world.products():
        yield "products", _product(index + 1, product)
    for is_quote, count in ((False, world.counts.orders), (True, world.counts.quotes)):
        for index in range(count):
            owner, _, document = world.document(is_quote, index)
            yield ("quotes" if is_quote else "orders"), _document(world, index + 1, owner, document)


def _common(record_id: int, stamps: Stamps) -> dict:
    return {
        "id": record_id,
        "created_at": crm_timestamp(stamps.created_ms),
        "updated_at": crm_timestamp(stamps.updated_ms),
        "version": 1,
        "archived": False,
        "external_ref": None,
    }


def _user_id(user_index: int | None) -> int | None:
    return None if user_index is None else user_index + 1


def _address(address: Address | None) -> dict:
    if address is None:
        return {"street": None, "postal_code": None, "city": None, "country": None}
    return {
        "street": address.street, "postal_code": address.postal_code, "city": address.city,
        "country": address.country,
    }


def _user(record_id: int, user: User) -> dict:
    return {
        **_common(record_id, user.stamps),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone.typed if user.phone else None,
        "role": user.role,
        "active": user.active,
    }


def _customer(record_id: int, organisation: Organisation) -> dict:
    return {
        **_common(record_id, organisation.stamps),
        "name": organisation.name,
        "org_number": organisation.org_number,
        "email": organisation.email,
        "phone": organisation.phone.typed if organisation.phone else None,
        "website": organisation.website,
        **_address(organisation.address),
        "customer_type": organisation.customer_type,
        "owner_id": _user_id(organisation.owner),
    }


def _contact(world: SideWorld, record_id: int, owner: Owner, person: Person) -> dict:
    customer = world.resolve("customers", owner, person.employer)
    return {
        **_common(record_id, person.stamps),
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": person.phone.typed if person.phone else None,
        "title": person.title,
        "customer_id": None if customer is None else customer + 1,
        **_address(person.address),
        "birth_date": person.birth_date.isoformat() if person.birth_date else None,
        "newsletter": person.newsletter,
        "owner_id": _user_id(person.owner),
    }


def _product(record_id: int, product: Product) -> dict:
    return {
        **_common(record_id, product.stamps),
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": product.price,
        "currency": "NOK",
        "vat_rate": product.vat_rate,
        "unit": product.unit,
        "active": product.active,
    }


def _document(world: SideWorld, record_id: int, owner: Owner, document: Document) -> dict:
    customer = world.resolve("customers", owner, document.customer)
    contact = world.resolve("contacts", owner, document.contact)
    lines = []
    for line in document.lines:
        product = world.resolve("products", owner, line.product)
        lines.append({
            "product_id": None if product is None else product + 1,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
            "vat_rate": line.vat_rate,
        })
    record = {
        **_common(record_id, document.stamps),
        "customer_id": None if customer is None else customer + 1,
        "contact_id": None if contact is None else contact + 1,
    }
    if document.is_quote:
        record.update({
            "quote_number": quote_number(record_id),
            "quote_date": document.day.isoformat(),
            "valid_until": document.due.isoformat() if document.due else None,
        })
    else:
        record.update({
            "order_number": order_number(record_id),
            "order_date": document.day.isoformat(),
            "due_date": document.due.isoformat() if document.due else None,
        })
    record.update({
        "status": document.status,
        "currency": "NOK",
        "lines": lines,
        "total": document_total(lines, LINE_KEYS),
    })
    if not document.is_quote:
        record["notes"] = document.notes
    record["owner_id"] = _user_id(document.owner)
    return record
