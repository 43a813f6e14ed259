"""References that can never resolve (DESIGN C8): the dependent record is a reject naming the reference and why
(archived, closed, deleted, itself rejected), not a wait; and it closes once the reference can resolve.

Records are written as users of each system would (plain HTTP), both sandboxes are real servers, the state is a
real DuckDB file; a lost state file is a new file.
"""

from __future__ import annotations

from crm_membercare.engine.state import open_state
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare_tests.engine_support import World, links_by, rejects_of
from crm_membercare_tests.hostile_support import CrmUser

CONTACTS = flow_by_name("contacts_persons")
ORDERS = flow_by_name("orders_invoices")
PRODUCTS = flow_by_name("products_products")
LINE = {"description": "Consulting", "quantity": 1, "unit_price": 100.0, "discount_percent": 0, "vat_rate": 25}
ITEM = {"description": "Consulting", "quantity": 1, "unitPrice": 100.0, "discountPercent": 0, "vatRate": 25}


def open_rejects(world: World, flow, side: str, record_id) -> list[dict]:
    return [r for r in rejects_of(world.con, flow) if r["open"] and r["side"] == side
            and r["record_id"] == str(record_id)]


def waiting(world: World) -> list[tuple]:
    return world.con.execute("SELECT flow, side, record_id FROM sync.dirty WHERE reason IS NOT NULL").fetchall()


def test_an_order_and_a_contact_on_a_customer_archived_before_its_first_sync_are_rejected(world, users):
    crm, _ = users
    customer = crm.create("customers", {"name": "Gone AS", "customer_type": "company"})
    crm.delete("customers", customer["id"])
    contact = crm.create("contacts", {"first_name": "Ola", "last_name": "Orphan", "customer_id": customer["id"]})
    order = crm.create("orders", {"customer_id": customer["id"], "order_date": "2026-11-02", "status": "draft",
                                  "currency": "NOK", "lines": [LINE]})
    world.cycle()
    world.cycle()

    for flow, record, field in ((CONTACTS, contact, "customer_id"), (ORDERS, order, "debtor")):
        (reject,) = open_rejects(world, flow, "crm", record["id"])
        assert reject["field"] == field
        assert f"customers {customer['id']}" in reject["reason"] and "archived" in reject["reason"]
        assert "not synced yet" not in reject["reason"]
    assert waiting(world) == [], "a reference that can never resolve is not a wait"


def test_invoices_and_persons_on_a_closed_company_are_rejected(world, users):
    _, mc = users
    company = mc.create("companies", {"companyName": "Closed AS", "companyType": "Business"})
    mc.delete("companies", company["debtorAccountNumber"])
    person = mc.create("persons", {"firstname": "Kari", "lastname": "Orphan", "employments": [
        {"companyDebtorAccountNumber": company["debtorAccountNumber"], "position": "CEO"}]})
    invoice = mc.create("invoices", {"invoiceType": "Invoice", "debtorAccountNumber": company["debtorAccountNumber"],
                                     "invoiceDate": "2026-11-02T00:00:00", "currency": "NOK",
                                     "invoiceItems": [ITEM], "orderReference": "MC-1"})
    world.cycle()

    for flow, record_id, field in ((CONTACTS, person["debtorAccountNumber"], "customer_id"),
                                   (ORDERS, invoice["id"], "debtor")):
        (reject,) = open_rejects(world, flow, "membercare", record_id)
        assert reject["field"] == field
        assert f"companies {company['debtorAccountNumber']}" in reject["reason"] and "closed" in reject["reason"]
    assert waiting(world) == []


def test_invoices_on_a_hard_deleted_product_after_the_state_file_is_lost_are_rejected(world, users, tmp_path):
    crm, mc = users
    product = mc.create("products", {"productNumber": "P-1", "name": "Widget", "price": 10.0, "vatRate": 25,
                                     "unit": "Piece"})
    invoice = mc.create("invoices", {"invoiceType": "Invoice", "debtorAccountNumber": mc.create(
        "persons", {"firstname": "Per", "lastname": "Payer"})["debtorAccountNumber"],
        "invoiceDate": "2026-11-02T00:00:00", "currency": "NOK", "orderReference": "MC-2",
        "invoiceItems": [{**ITEM, "productId": product["id"]}]})
    world.cycle()
    assert links_by(world.con, ORDERS), "the invoice synced while its product existed"
    mc.delete("products", product["id"])

    with open_state(tmp_path / "lost.duckdb") as con, world.clients() as (crm_client, mc_client):
        from crm_membercare.engine.cycle import Cycle, SyncEngine

        Cycle(SyncEngine(con, crm_client, mc_client)).run_all()
        rejects = con.execute("""SELECT field, reason FROM sync.rejects WHERE flow = ? AND side = 'membercare'
                                   AND record_id = ? AND open""", [ORDERS.name, str(invoice["id"])]).fetchall()
        waits = con.execute("SELECT count(*) FROM sync.dirty WHERE reason IS NOT NULL").fetchall()[0][0]
    assert len(rejects) == 1 and rejects[0][0] == "lines"
    assert f"products {product['id']}" in rejects[0][1] and "deleted" in rejects[0][1]
    assert waits == 0


def test_a_reject_for_a_rejected_reference_closes_once_the_reference_syncs(world, users):
    crm, _ = users
    customer = crm.create("customers", {"name": "Bad Phone AS", "customer_type": "company", "phone": "not a phone"})
    contact = crm.create("contacts", {"first_name": "Ola", "last_name": "Waiting", "customer_id": customer["id"]})
    world.cycle()
    (reject,) = open_rejects(world, CONTACTS, "crm", contact["id"])
    assert f"customers {customer['id']}" in reject["reason"] and "itself rejected" in reject["reason"]

    crm.update("customers", customer["id"], {"phone": "+47 912 34 567"})
    world.cycle()
    world.cycle()
    assert open_rejects(world, CONTACTS, "crm", contact["id"]) == []
    assert [crm_id for crm_id, _ in links_by(world.con, CONTACTS)] == [contact["id"]]


USERS = flow_by_name("users_invoices")


def paid_order_world(crm: CrmUser) -> tuple[dict, dict, dict]:
    user = crm.create("users", {"email": "owner@example.org", "first_name": "Olga", "last_name": "Owner",
                                "role": "sales", "active": True})
    customer = crm.create("customers", {"name": "Buyer AS", "customer_type": "company"})
    product = crm.create("products", {"sku": "W-1", "name": "Widget", "price": 100.0, "currency": "NOK",
                                      "vat_rate": 25, "unit": "pcs", "active": True})
    order = crm.create("orders", {"customer_id": customer["id"], "order_date": "2026-11-02", "status": "paid",
                                  "currency": "NOK", "owner_id": user["id"],
                                  "lines": [{**LINE, "product_id": product["id"]}]})
    return user, product, order


def test_a_product_still_on_invoices_is_deactivated_not_deleted(world, users):
    crm, mc = users
    user, product, order = paid_order_world(crm)
    world.cycle()
    ((_, mc_product),) = [pair for pair in links_by(world.con, PRODUCTS)]
    ((_, invoice_id),) = [pair for pair in links_by(world.con, ORDERS)]
    assert mc.get("invoices", invoice_id)["status"] == "Paid"

    crm.delete("products", product["id"])
    world.cycle()
    kept = mc.get("products", mc_product)
    assert kept["active"] is False and kept["productNumber"] == "W-1"
    assert links_by(world.con, PRODUCTS)[(product["id"], mc_product)][0] == "ended"

    crm.update("users", user["id"], {"first_name": "Renamed"})
    world.cycle()
    invoice = mc.get("invoices", invoice_id)
    assert invoice["ourReference"] == "Renamed Owner"
    assert [r for r in rejects_of(world.con, USERS) if r["open"]] == []
    assert [r for r in rejects_of(world.con, PRODUCTS) if r["open"]] == []


def test_a_product_on_no_invoice_is_still_deleted(world, users):
    crm, mc = users
    product = crm.create("products", {"sku": "W-2", "name": "Unused", "price": 5.0, "currency": "NOK",
                                      "vat_rate": 25, "unit": "pcs", "active": True})
    world.cycle()
    ((_, mc_product),) = [pair for pair in links_by(world.con, PRODUCTS)]
    crm.delete("products", product["id"])
    world.cycle()
    assert mc.http.get(f"/products/{mc_product}").status_code == 404


def test_a_user_invoice_reject_names_the_user_and_the_invoice(world, users):
    crm, mc = users
    user, product, order = paid_order_world(crm)
    world.cycle()
    ((_, mc_product),) = [pair for pair in links_by(world.con, PRODUCTS)]
    ((_, invoice_id),) = [pair for pair in links_by(world.con, ORDERS)]
    mc.delete("products", mc_product)  # a MemberCare user deletes a product paid invoices still name

    crm.update("users", user["id"], {"first_name": "Renamed"})
    world.cycle()
    (reject,) = [r for r in rejects_of(world.con, USERS) if r["open"]]
    assert (reject["side"], reject["record_id"]) == ("membercare", str(invoice_id))
    assert f"CustomCRM users {user['id']}" in reject["reason"] and reject["field"] == "invoiceItems[0].productId"
