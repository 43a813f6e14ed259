"""The awkward single values: phones, countries, exact decimals, dates through Oslo midnight and DST."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from crm_membercare.mapping import (
    CountryTable,
    InMemoryLinks,
    MappingContext,
    MappingRejected,
    apply_common_to_mc,
    crm_to_common,
    flow_by_name,
    mc_to_common,
    problems_for_membercare,
    validate_for_membercare,
)
from crm_membercare.mapping.dates import date_to_mc, mc_to_date, oslo_midnight
from crm_membercare.mapping.decimals import decimal_text, json_number, money_text, to_decimal
from crm_membercare.mapping.phones import is_e164, normalise_phone, to_e164
from crm_membercare.sandbox.countries import COUNTRIES

COUNTRY_RESULT = [{"id": cid, "name": name, "iso2Letter": iso2} for cid, name, iso2 in COUNTRIES]
CTX = MappingContext(InMemoryLinks(), CountryTable.from_api(COUNTRY_RESULT))
CONTACTS = flow_by_name("contacts_persons")


def contact(**fields):
    return {"first_name": "Kari", "last_name": "Nordmann", **fields}


# --- phones ---------------------------------------------------------------------------------------

def test_spaced_international_number_becomes_e164():
    assert to_e164("+47 912 34 567") == "+4791234567"
    assert crm_to_common(CONTACTS, contact(phone="+47 912 34 567", country="SE"))["phone"] == "+4791234567"


def test_national_number_takes_the_region_of_the_records_country():
    assert crm_to_common(CONTACTS, contact(phone="91234567", country="NO"))["phone"] == "+4791234567"
    assert crm_to_common(CONTACTS, contact(phone="91234567", country="SE"))["phone"] == "+4691234567"


def test_national_number_without_usable_country_defaults_to_norway():
    assert normalise_phone("91234567", None) == "+4791234567"
    assert normalise_phone("91234567", "XX") == "+4791234567"


def test_unparseable_phone_is_kept_and_named_by_validation():
    values = crm_to_common(CONTACTS, contact(phone="call me maybe", country="NO"))
    assert values["phone"] == "call me maybe"
    problems = problems_for_membercare(CONTACTS, values, None, CTX)
    assert [(p.field, p.value) for p in problems] == [("phone", "call me maybe")]
    assert "E.164" in problems[0].reason


def test_impossible_length_is_not_converted():
    assert to_e164("123", "NO") is None
    assert normalise_phone("  123 ", "NO") == "123"
    assert not is_e164("+47123")
    assert is_e164("+4791234567")


# --- countries ------------------------------------------------------------------------------------

def test_country_table_comes_from_the_api_list():
    table = CountryTable.from_api(COUNTRY_RESULT)
    assert table.id_for("NO") == 160
    assert table.id_for(" no ") == 160
    assert table.alpha2_for(206) == "SE"
    assert table.id_for("XX") is None and table.alpha2_for(9999) is None


def test_unknown_crm_country_is_a_reject_not_a_null():
    values = crm_to_common(CONTACTS, contact(country="XX", city="Atlantis"))
    with pytest.raises(MappingRejected) as rejected:
        apply_common_to_mc(CONTACTS, values, None, CTX)
    [problem] = rejected.value.problems
    assert (problem.field, problem.value) == ("country", "XX")
    assert "unknown country" in problem.reason


def test_unknown_membercare_country_id_is_named():
    person = {"firstname": "Kari", "lastname": "Nordmann",
              "addresses": [{"street": "x", "postalCode": None, "country": {"id": 9999}}]}
    with pytest.raises(MappingRejected) as rejected:
        mc_to_common(CONTACTS, person, CTX)
    assert rejected.value.problems[0].field == "country"
    problems = validate_for_membercare(CONTACTS, person, CTX.countries)
    assert [(p.field, p.value) for p in problems] == [("country", 9999)]


# --- decimals -------------------------------------------------------------------------------------

def test_point_one_plus_point_two_stays_point_three():
    total = to_decimal(0.1) + to_decimal(0.2)
    assert total == Decimal("0.3")
    assert money_text(total) == "0.30"
    assert json.dumps(json_number(money_text(total))) == "0.3"
    assert money_text("0.1") == "0.10" and decimal_text(2.50) == "2.5" and decimal_text(-0.0) == "0"


def test_amounts_keep_their_exact_text_through_a_product():
    products = flow_by_name("products_products")
    crm = {"sku": "A-1", "name": "A", "price": 0.1, "vat_rate": 25, "unit": "pcs", "active": True}
    values = crm_to_common(products, crm)
    assert values["price"] == "0.10" and values["vat_rate"] == "25"
    mc = apply_common_to_mc(products, values, None, CTX)
    assert mc["price"] == 0.1 and mc["vatRate"] == 25
    assert mc_to_common(products, {**mc, "price": 0.30000000000000004}, CTX)["price"] == "0.30000000000000004"


# --- dates ----------------------------------------------------------------------------------------

def test_birth_date_through_oslo_midnight():
    assert date_to_mc("1980-05-01") == "1980-05-01T00:00:00"
    assert mc_to_date("1980-05-01T00:00:00") == "1980-05-01"
    # Norway kept summer time in 1980: local midnight was 22:00 UTC the day before.
    assert oslo_midnight("1980-05-01").astimezone(UTC) == datetime(1980, 4, 30, 22, tzinfo=UTC)
    assert mc_to_date("1980-04-30T22:00:00Z") == "1980-05-01"
    mc = apply_common_to_mc(CONTACTS, crm_to_common(CONTACTS, contact(birth_date="1980-05-01")), None, CTX)
    assert mc["birthDate"] == "1980-05-01T00:00:00"
    assert mc_to_common(CONTACTS, mc, CTX)["birth_date"] == "1980-05-01"


@pytest.mark.parametrize(
    ("day", "offset_hours"),
    [("2026-03-28", 1), ("2026-03-29", 1), ("2026-03-30", 2), ("2026-10-24", 2), ("2026-10-25", 2),
     ("2026-10-26", 1)],
)
def test_dates_around_dst_switches_round_trip(day, offset_hours):
    assert mc_to_date(date_to_mc(day)) == day
    assert oslo_midnight(day).utcoffset() == timedelta(hours=offset_hours)
    utc_text = oslo_midnight(day).astimezone(UTC).isoformat()
    assert mc_to_date(utc_text) == day


def test_a_date_that_is_not_a_date_is_rejected():
    with pytest.raises(MappingRejected) as rejected:
        apply_common_to_mc(CONTACTS, {"birth_date": "01.05.1980"}, None, CTX)
    assert rejected.value.problems[0].field == "birth_date"
