"""B6 from MemberCare's side: an invoice's `ourReferenceEmail` names the CRM user who owns its order or quote.

An invoice created in MemberCare, or an invoice whose order has no owner, with a CRM user's email gives the
order that owner; an email no CRM user has is a reject naming the invoice and the email, open until the email
is fixed or cleared or the user appears. Written as users of each system would, over real HTTP, with a real
state file.
"""

from __future__ import annotations

import pytest

from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import World, links_by, rejects_of
from crm_membercare_tests.hostile_support import CrmUser, McUser

ORDERS = flow_by_name("orders_invoices")
QUOTES = flow_by_name("quotes_invoices")
USERS = flow_by_name("users_invoices")
LINE = {"description": "Consulting", "quantity": 1, "unit_price": 100.0, "discount_percent": 0, "vat_rate": 25}
ITEM = {"description": "Consulting", "quantity": 1, "unitPrice": 100.0, "discountPercent": 0, "vatRate": 25}


def owner(crm: CrmUser) -> dict:
    return crm.create("users", {"email": "owner@example.org", "first_name": "Olga", "last_name": "Owner",
                                "role": "sales", "active": True})


def mc_invoice(mc: McUser, reference: str, email: str | None, invoice_type: str = "Invoice") -> dict:
    payer = mc.create("persons", {"firstname": "Per", "lastname": "Payer"})
    return mc.create("invoices", {"invoiceType": invoice_type, "debtorAccountNumber": payer["debtorAccountNumber"],
                                  "invoiceDate": "2026-11-02T00:00:00", "currency": "NOK", "invoiceItems": [ITEM],
                                  "orderReference": reference, "ourReference": "Someone", "ourReferenceEmail": email})


def crm_record_of(world: World, crm: CrmUser, flow, invoice_id) -> dict:
    (crm_id,) = [c for (c, m), (state, _) in links_by(world.con, flow).items() if m == invoice_id]
    return crm.get(flow.crm_resource, crm_id)


def open_user_rejects(world: World) -> list[dict]:
    return [r for r in rejects_of(world.con, USERS) if r["open"]]


@pytest.mark.parametrize("flow", [ORDERS, QUOTES], ids=["order", "quote"])
def test_an_invoice_created_in_membercare_gives_its_order_the_user_with_its_email(world, users, flow):
    crm, mc = users
    user = owner(crm)
    invoice = mc_invoice(mc, "MC-10", "OWNER@example.org", flow.mc_part)
    world.cycle()
    world.cycle()
    assert crm_record_of(world, crm, flow, invoice["id"])["owner_id"] == user["id"]
    refreshed = mc.get("invoices", invoice["id"])
    assert refreshed["ourReference"] == "Olga Owner"
    assert refreshed["ourReferenceEmail"].lower() == "owner@example.org", "emails compare case-insensitively"
    assert open_user_rejects(world) == []


def test_an_order_without_owner_takes_the_user_whose_email_its_invoice_gets(world, users):
    crm, mc = users
    user = owner(crm)
    customer = crm.create("customers", {"name": "Buyer AS", "customer_type": "company"})
    order = crm.create("orders", {"customer_id": customer["id"], "order_date": "2026-11-02", "status": "draft",
                                  "currency": "NOK", "lines": [LINE]})
    world.cycle()
    ((_, invoice_id),) = list(links_by(world.con, ORDERS))
    mc.update("invoices", invoice_id, {"ourReferenceEmail": "owner@example.org"})
    world.cycle()
    world.cycle()
    assert crm.get("orders", order["id"])["owner_id"] == user["id"]
    assert mc.get("invoices", invoice_id)["ourReference"] == "Olga Owner"


def assert_one_open_reject_naming(world: World, invoice: dict, email: str) -> None:
    (reject,) = open_user_rejects(world)
    assert (reject["side"], reject["record_id"], reject["field"]) == ("membercare", str(invoice["id"]),
                                                                      "ourReferenceEmail")
    assert reject["value"] == email
    assert email in reject["reason"] and f"invoice {invoice['id']}" in reject["reason"]
    assert "no CRM user has email" in reject["reason"]


@pytest.mark.parametrize("flow", [ORDERS, QUOTES], ids=["order", "quote"])
def test_an_unknown_email_on_an_invoice_created_in_membercare_is_a_reject_until_fixed(world, users, flow):
    """B6: an email no CRM user has is a rejected change naming the invoice and the email; the order or quote
    is made all the same, with no owner; fixing the email to a CRM user's gives the owner and closes it."""
    crm, mc = users
    user = owner(crm)
    invoice = mc_invoice(mc, "MC-11", "nobody.here@example.org", flow.mc_part)
    world.cycle()
    world.cycle()
    assert crm_record_of(world, crm, flow, invoice["id"])["owner_id"] is None
    assert mc.get("invoices", invoice["id"])["ourReferenceEmail"] == "nobody.here@example.org"
    assert_one_open_reject_naming(world, invoice, "nobody.here@example.org")
    world.cycle()
    assert len(open_user_rejects(world)) == 1, "looked at again, the same reject stays open, not a second one"

    mc.update("invoices", invoice["id"], {"ourReferenceEmail": "owner@example.org"})
    world.cycle()
    world.cycle()
    assert crm_record_of(world, crm, flow, invoice["id"])["owner_id"] == user["id"]
    assert mc.get("invoices", invoice["id"])["ourReference"] == "Olga Owner"
    assert open_user_rejects(world) == []


def test_the_reject_of_an_unknown_email_closes_when_the_user_appears(world, users):
    crm, mc = users
    invoice = mc_invoice(mc, "MC-12", "late.comer@example.org")
    world.cycle()
    world.cycle()
    assert_one_open_reject_naming(world, invoice, "late.comer@example.org")

    user = crm.create("users", {"email": "late.comer@example.org", "first_name": "Lars", "last_name": "Late",
                                "role": "sales", "active": True})
    world.cycle()
    world.cycle()
    assert crm_record_of(world, crm, ORDERS, invoice["id"])["owner_id"] == user["id"]
    assert mc.get("invoices", invoice["id"])["ourReference"] == "Lars Late"
    assert open_user_rejects(world) == []


def test_the_reject_of_an_unknown_email_closes_when_the_email_is_cleared(world, users):
    crm, mc = users
    invoice = mc_invoice(mc, "MC-13", "nobody.here@example.org")
    world.cycle()
    world.cycle()
    assert_one_open_reject_naming(world, invoice, "nobody.here@example.org")

    mc.update("invoices", invoice["id"], {"ourReferenceEmail": None})
    world.cycle()
    assert crm_record_of(world, crm, ORDERS, invoice["id"])["owner_id"] is None
    assert open_user_rejects(world) == []


def test_an_unknown_email_given_to_an_unowned_crm_order_is_a_reject(world, users):
    crm, mc = users
    customer = crm.create("customers", {"name": "Buyer AS", "customer_type": "company"})
    order = crm.create("orders", {"customer_id": customer["id"], "order_date": "2026-11-02", "status": "draft",
                                  "currency": "NOK", "lines": [LINE]})
    world.cycle()
    ((_, invoice_id),) = list(links_by(world.con, ORDERS))
    mc.update("invoices", invoice_id, {"ourReferenceEmail": "nobody.here@example.org"})
    world.cycle()
    world.cycle()
    assert crm.get("orders", order["id"])["owner_id"] is None
    assert_one_open_reject_naming(world, {"id": invoice_id}, "nobody.here@example.org")


def test_an_owner_cleared_in_the_crm_stays_cleared(world, users):
    crm, mc = users
    user = owner(crm)
    customer = crm.create("customers", {"name": "Buyer AS", "customer_type": "company"})
    order = crm.create("orders", {"customer_id": customer["id"], "order_date": "2026-11-02", "status": "draft",
                                  "currency": "NOK", "owner_id": user["id"], "lines": [LINE]})
    world.cycle()
    crm.update("orders", order["id"], {"owner_id": None})
    world.cycle()
    world.cycle()
    assert crm.get("orders", order["id"])["owner_id"] is None
    assert open_user_rejects(world) == []
