"""The derived flow's planner (B6: users ↔ the invoices of the orders and quotes they own) as a pure function:
plain records in, a plan out, no state file. Expectations are DESIGN B6's, written out here."""

from __future__ import annotations

from crm_membercare.engine.derived import DerivedInput, plan_derived
from crm_membercare.engine.operations import Record
from crm_membercare.mapping.countries import CountryTable
from crm_membercare.mapping.flows import flow_by_name
from crm_membercare.mapping.links import InMemoryLinks, MappingContext

USERS = flow_by_name("users_invoices")
CTX = MappingContext(InMemoryLinks(), CountryTable(()))
KARI = {"id": 3, "first_name": "Kari", "last_name": "Nordmann", "email": "kari@firma.no", "archived": False}
OLA = {"id": 4, "first_name": "Ola", "last_name": "Hansen", "email": "ola@firma.no", "archived": False}


def invoice(**fields) -> Record:
    raw = {"id": 501, "invoiceType": "Invoice", "status": "Draft", "ourReference": "Kari Nordmann",
           "ourReferenceEmail": "kari@firma.no", "lastChange": "2026-11-02T10:00:00", **fields}
    return Record(501, raw, None, None, raw["lastChange"])


def given(mc: Record, *, linked: bool, base_mc: dict | None = None, unowned=()) -> DerivedInput:
    users = {3: Record(3, KARI, None, None, "1"), 4: Record(4, OLA, None, None, "1")}
    bases = {(3, "501"): ({}, base_mc or {})} if linked else {}
    return DerivedInput(USERS, CTX, [(3, 501, "orders_invoices", 21, linked)], users, {501: mc}, bases,
                        {"kari@firma.no": [3], "ola@firma.no": [4]}, unowned=list(unowned),
                        through={"orders_invoices": "orders", "quotes_invoices": "quotes"})


def test_an_owner_first_seen_links_the_pair_and_writes_nothing_when_the_invoice_already_names_them():
    plan = plan_derived(given(invoice(), linked=False))
    assert [(n.crm_id, n.mc_id, n.linked_by) for n in plan.new_links] == [(3, 501, "derived")]
    assert plan.operations == [] and plan.rejects == []


def test_a_renamed_user_rewrites_our_reference_on_the_invoice():
    plan = plan_derived(given(invoice(ourReference="Kari Old"), linked=True,
                              base_mc={"our_reference": "Kari Old", "email": "kari@firma.no"}))
    (op,) = plan.operations
    assert (op.direction, op.kind, op.target_resource, op.crm_id, op.mc_id) == ("to_membercare", "update",
                                                                                 "invoices", 3, 501)
    assert op.fields == ("our_reference",) and op.values["our_reference"] == "Kari Nordmann"


def test_an_email_edited_in_membercare_moves_the_order_to_that_user():
    plan = plan_derived(given(invoice(ourReferenceEmail="ola@firma.no"), linked=True,
                              base_mc={"our_reference": "Kari Nordmann", "email": "kari@firma.no"}))
    (op,) = plan.operations
    assert (op.direction, op.target_resource, op.crm_id, op.values) == ("to_crm", "orders", 21, {"owner_id": 4})


def test_an_email_naming_no_user_is_a_reject_that_says_so():
    plan = plan_derived(given(invoice(ourReferenceEmail="nobody@firma.no"), linked=True,
                              base_mc={"our_reference": "Kari Nordmann", "email": "kari@firma.no"}))
    assert plan.operations == []
    (reject,) = plan.rejects
    assert (reject.side, reject.record_id, reject.field) == ("membercare", 501, "ourReferenceEmail")
    assert "no CRM user has email 'nobody@firma.no'" in reject.reason


def test_an_unowned_order_whose_invoice_names_a_user_gets_that_owner():
    plan = plan_derived(given(invoice(), linked=True, unowned=[("quotes_invoices", 31, "777", "ola@firma.no")]))
    assert any(op.target_resource == "quotes" and op.crm_id == 31 and op.values == {"owner_id": 4}
               for op in plan.operations)


def test_a_user_email_changed_in_the_crm_rewrites_the_invoice_even_when_no_base_was_agreed_yet():
    """Found by the chaos oracle (crash test, seed 11): an order owned through its invoice's email, then the
    owner's email changed in the CRM while the link's bases were still empty. B6: a user's email edited in the
    CRM rewrites `ourReferenceEmail` on that user's invoices. The engine read the old email as a MemberCare
    edit naming nobody and opened a reject instead; a field the base does not hold is no MemberCare edit."""
    plan = plan_derived(given(invoice(ourReferenceEmail="kari.old@firma.no"), linked=True, base_mc={}))
    assert plan.rejects == []
    (op,) = plan.operations
    assert (op.direction, op.target_resource, op.fields) == ("to_membercare", "invoices", ("email",))
    assert op.values["email"] == "kari@firma.no"
