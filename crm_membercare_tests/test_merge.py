"""The three-way merge as a pure function: table cases and randomised invariants."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from crm_membercare.engine.merge import conflict_winner, merge_pair

FIELDS = ("name", "email", "phone")
T1 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 11, 1, 11, 0, tzinfo=UTC)


def plain_equal(_field, a, b) -> bool:
    return a == b


def merge(crm, mc, base_crm, base_mc, **options):
    return merge_pair(FIELDS, crm, mc, base_crm, base_mc, equal=plain_equal, **options)


BASE = {"name": "Ola", "email": "ola@example.no", "phone": "+4791234567"}


def test_a_change_on_one_side_propagates_to_the_other():
    result = merge({**BASE, "name": "Ola N"}, BASE, BASE, BASE)
    assert result.to_membercare == {"name": "Ola N"} and result.to_crm == {} and not result.conflicts
    result = merge(BASE, {**BASE, "email": "ny@example.no"}, BASE, BASE)
    assert result.to_crm == {"email": "ny@example.no"} and result.to_membercare == {}


def test_different_fields_changed_on_both_sides_are_both_kept():
    result = merge({**BASE, "name": "Ola N"}, {**BASE, "email": "ny@example.no"}, BASE, BASE)
    assert result.to_membercare == {"name": "Ola N"} and result.to_crm == {"email": "ny@example.no"}
    assert not result.conflicts


def test_the_same_field_changed_to_the_same_value_is_no_conflict():
    result = merge({**BASE, "name": "Kari"}, {**BASE, "name": "Kari"}, BASE, BASE)
    assert result.is_noop and not result.conflicts


def test_a_conflict_is_resolved_by_policy_and_recorded():
    crm, mc = {**BASE, "name": "Kari"}, {**BASE, "name": "Karin"}
    newest_mc = merge(crm, mc, BASE, BASE, crm_changed_at=T1, mc_changed_at=T2)
    assert newest_mc.to_crm == {"name": "Karin"} and newest_mc.conflicts[0].winner == "membercare"
    crm_wins = merge(crm, mc, BASE, BASE, policy="crm", crm_changed_at=T1, mc_changed_at=T2)
    assert crm_wins.to_membercare == {"name": "Kari"} and crm_wins.conflicts[0].winner == "crm"
    assert crm_wins.conflicts[0].base_value == "Ola"


def test_ties_and_unknown_times_go_to_the_crm():
    assert conflict_winner("newest", T1, T1) == "crm"
    assert conflict_winner("newest", None, T2) == "crm"
    assert conflict_winner("membercare", T2, T1) == "membercare"


def test_first_link_fills_empty_fields_from_the_other_side_without_conflicts():
    crm = {"name": "Ola", "email": None, "phone": "+4791234567"}
    mc = {"name": "Ola", "email": "ola@example.no", "phone": None}
    result = merge(crm, mc, None, None)
    assert result.to_crm == {"email": "ola@example.no"} and result.to_membercare == {"phone": "+4791234567"}
    assert not result.conflicts


def test_first_link_with_two_filled_values_is_a_conflict():
    result = merge({**BASE, "name": "Ola"}, {**BASE, "name": "Ole"}, None, None, crm_changed_at=T2, mc_changed_at=T1)
    assert result.to_membercare == {"name": "Ola"} and len(result.conflicts) == 1


def test_clearing_a_field_after_the_first_link_propagates():
    result = merge({**BASE, "phone": None}, BASE, BASE, BASE)
    assert result.to_membercare == {"phone": None}


def test_in_a_conflict_a_filled_value_beats_an_empty_one():
    result = merge({**BASE, "phone": None}, {**BASE, "phone": "+4799999999"}, BASE, BASE, policy="crm")
    assert result.to_crm == {"phone": "+4799999999"}


def test_a_lossy_row_that_agrees_does_not_flip_flop():
    def status_equal(field, crm_value, mc_value):
        lossy = {("confirmed", "draft"), ("draft", "draft")}
        return (crm_value, mc_value) in lossy if field == "status" else crm_value == mc_value

    base_crm, base_mc = {"status": "confirmed"}, {"status": "draft"}
    result = merge_pair(("status",), base_crm, base_mc, base_crm, base_mc, equal=status_equal)
    assert result.is_noop


values = st.sampled_from([None, "a", "b", "c"])
records = st.fixed_dictionaries({name: values for name in FIELDS})


@given(crm=records, mc=records, base=records, policy=st.sampled_from(["newest", "crm", "membercare"]))
def test_applying_the_merge_makes_the_pair_agree(crm, mc, base, policy):
    result = merge(crm, mc, base, base, policy=policy, crm_changed_at=T1, mc_changed_at=T2)
    crm_after = {**crm, **result.to_crm}
    mc_after = {**mc, **result.to_membercare}
    changed_somewhere = {f for f in FIELDS if crm[f] != base[f] or mc[f] != base[f]}
    for name in changed_somewhere:
        assert crm_after[name] == mc_after[name]
    assert not (set(result.to_crm) & set(result.to_membercare)), "a field is written one way only"
    # Re-merging the outcome against itself as the new base is a no-op: echoes are suppressed.
    assert merge(crm_after, mc_after, crm_after, mc_after).is_noop


@given(crm=records, mc=records, base=records)
def test_a_one_sided_change_is_never_lost(crm, mc, base):
    result = merge(crm, mc, base, base, policy="newest", crm_changed_at=T1, mc_changed_at=T2)
    for name in FIELDS:
        if crm[name] != base[name] and mc[name] == base[name]:
            assert result.to_membercare.get(name, mc[name]) == crm[name]
        if mc[name] != base[name] and crm[name] == base[name]:
            assert result.to_crm.get(name, crm[name]) == mc[name]
