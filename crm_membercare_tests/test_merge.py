"""The three-way merge as a pure function: table cases and randomised invariants."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crm_membercare.engine.merge import conflict_winner, is_empty, merge_pair

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


# --- randomised invariants, each written from a rule of DESIGN C3 (and docs/sync.md's decisions) ----------
# Values: None, the empty string, a few short texts that collide often, and arbitrary text. Bases: none (first
# link), or one per side that may differ from the other (a lossy row agreed on two different values) and may
# lack fields. Times: unknown, tied, or in either order. Every policy.
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
PROPERTY = settings(max_examples=300, deadline=None)
value = st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b", "c"]), st.text(max_size=4))
record = st.fixed_dictionaries({name: value for name in FIELDS})
partial_base = st.fixed_dictionaries({}, optional={name: value for name in FIELDS})
instant = st.one_of(st.none(), st.sampled_from([T0, T1, T2]), st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)))
policy = st.sampled_from(["newest", "crm", "membercare"])


@st.composite
def cases(draw):
    """(crm, mc, base_crm, base_mc, options): bases both None (first link) or both given."""
    crm, mc = draw(record), draw(record)
    if draw(st.booleans()):
        base_crm = base_mc = None
    else:
        base_crm = draw(st.one_of(record, partial_base))
        # The same base on both sides, or one of its own.
        base_mc = dict(base_crm) if draw(st.booleans()) else draw(st.one_of(record, partial_base))
        # Bias towards unchanged fields: an edit usually touches few fields.
        for name in FIELDS:
            if draw(st.booleans()):
                crm[name] = base_crm.get(name)
            if draw(st.booleans()):
                mc[name] = base_mc.get(name)
    options = {"policy": draw(policy), "crm_changed_at": draw(instant), "mc_changed_at": draw(instant)}
    return crm, mc, base_crm, base_mc, options


def changed(now: dict, base: dict | None, name: str) -> bool:
    """C3: a field changed on a side when it differs from that side's base; with no base, every field did."""
    return base is None or now[name] != base.get(name)


def policy_winner(options: dict) -> str:
    """C3: "crm wins", "membercare wins", or newest by the change instants, ties (and unknowns) to the CRM."""
    if options["policy"] != "newest":
        return options["policy"]
    crm_at, mc_at = options["crm_changed_at"], options["mc_changed_at"]
    return "membercare" if crm_at is not None and mc_at is not None and mc_at > crm_at else "crm"


def written(result, name: str) -> str | None:
    if name in result.to_membercare:
        return "membercare"
    return "crm" if name in result.to_crm else None


@PROPERTY
@given(cases())
def test_a_field_changed_on_one_side_only_is_taken_from_that_side(case):
    crm, mc, base_crm, base_mc, options = case
    result = merge(crm, mc, base_crm, base_mc, **options)
    for name in FIELDS:
        if crm[name] == mc[name]:
            continue
        if changed(crm, base_crm, name) and not changed(mc, base_mc, name):
            assert result.to_membercare[name] == crm[name] and name not in result.to_crm
        if changed(mc, base_mc, name) and not changed(crm, base_crm, name):
            assert result.to_crm[name] == mc[name] and name not in result.to_membercare
        if changed(crm, base_crm, name) != changed(mc, base_mc, name):
            assert name not in {c.field for c in result.conflicts}


@PROPERTY
@given(cases())
def test_a_field_unchanged_on_both_sides_or_equal_on_both_plans_nothing(case):
    crm, mc, base_crm, base_mc, options = case
    result = merge(crm, mc, base_crm, base_mc, **options)
    for name in FIELDS:
        if crm[name] == mc[name] or not (changed(crm, base_crm, name) or changed(mc, base_mc, name)):
            # Equal (the same change on both sides included): nothing to do; unchanged but unequal: drift the
            # base explains (a lossy row), not a change.
            assert written(result, name) is None
            assert name not in {c.field for c in result.conflicts}


@PROPERTY
@given(cases())
def test_a_field_changed_on_both_sides_to_different_values_is_a_conflict_resolved_by_the_rules(case):
    crm, mc, base_crm, base_mc, options = case
    result = merge(crm, mc, base_crm, base_mc, **options)
    conflicts = {c.field: c for c in result.conflicts}
    assert len(conflicts) == len(result.conflicts), "one conflict per field"
    for name in FIELDS:
        if crm[name] == mc[name] or not (changed(crm, base_crm, name) and changed(mc, base_mc, name)):
            continue
        # A filled value beats an empty one whatever the policy (docs/sync.md); otherwise the policy decides.
        if is_empty(crm[name]) != is_empty(mc[name]):
            winner = "crm" if is_empty(mc[name]) else "membercare"
        else:
            winner = policy_winner(options)
        assert written(result, name) == ("membercare" if winner == "crm" else "crm")
        assert (result.to_membercare if winner == "crm" else result.to_crm)[name] == \
            (crm[name] if winner == "crm" else mc[name])
        if base_crm is None and (is_empty(crm[name]) or is_empty(mc[name])):
            # First link: filling an empty field is not a disagreement worth reporting.
            assert name not in conflicts
            continue
        conflict = conflicts[name]
        assert (conflict.crm_value, conflict.membercare_value, conflict.winner, conflict.policy) == \
            (crm[name], mc[name], winner, options["policy"])
        assert conflict.base_value == (None if base_crm is None else base_crm.get(name))
    assert set(conflicts) <= {n for n in FIELDS if crm[n] != mc[n] and changed(crm, base_crm, n)
                              and changed(mc, base_mc, n)}


@PROPERTY
@given(cases())
def test_the_merge_makes_the_pair_agree_and_writes_each_field_one_way(case):
    crm, mc, base_crm, base_mc, options = case
    result = merge(crm, mc, base_crm, base_mc, **options)
    assert not (set(result.to_crm) & set(result.to_membercare)), "a field is written one way only"
    crm_after, mc_after = {**crm, **result.to_crm}, {**mc, **result.to_membercare}
    for name in FIELDS:
        if changed(crm, base_crm, name) or changed(mc, base_mc, name):
            assert crm_after[name] == mc_after[name]
        assert crm_after[name] in (crm[name], mc[name]), "only a side's own value is ever written"
    # With the outcome as the new base on both sides, merging again does nothing: echoes are suppressed.
    again = merge(crm_after, mc_after, crm_after, mc_after, **options)
    assert again.is_noop and not again.conflicts


MIRRORED = {"newest": "newest", "crm": "membercare", "membercare": "crm"}


@PROPERTY
@given(cases())
def test_the_merge_is_symmetric_under_swapping_sides_with_the_policy_mirrored(case):
    crm, mc, base_crm, base_mc, options = case
    crm_at, mc_at = options["crm_changed_at"], options["mc_changed_at"]
    # Ties and unknown times go to the CRM whichever record is the CRM's: the one asymmetry of the rules.
    assume(options["policy"] != "newest" or (crm_at is not None and mc_at is not None and crm_at != mc_at))
    result = merge(crm, mc, base_crm, base_mc, **options)
    swapped = merge(mc, crm, base_mc, base_crm, policy=MIRRORED[options["policy"]],
                    crm_changed_at=mc_at, mc_changed_at=crm_at)
    assert (swapped.to_crm, swapped.to_membercare) == (result.to_membercare, result.to_crm)
    side = {"crm": "membercare", "membercare": "crm"}
    assert [(c.field, c.membercare_value, c.crm_value, side[c.winner]) for c in swapped.conflicts] == \
        [(c.field, c.crm_value, c.membercare_value, c.winner) for c in result.conflicts]


@PROPERTY
@given(cases())
def test_a_tie_or_an_unknown_time_goes_to_the_crm_deterministically(case):
    crm, mc, base_crm, base_mc, options = case
    assume(options["policy"] == "newest")
    tied = {**options, "mc_changed_at": options["crm_changed_at"]}
    for opts in (tied, {**options, "crm_changed_at": None}, {**options, "mc_changed_at": None}):
        first, second = merge(crm, mc, base_crm, base_mc, **opts), merge(crm, mc, base_crm, base_mc, **opts)
        assert first == second
        for conflict in first.conflicts:
            if not (is_empty(conflict.crm_value) or is_empty(conflict.membercare_value)):
                assert conflict.winner == "crm"


@given(crm_at=instant, mc_at=instant)
def test_conflict_winner_follows_the_clock_both_ways(crm_at, mc_at):
    newest = conflict_winner("newest", crm_at, mc_at)
    assert newest == ("membercare" if crm_at and mc_at and mc_at > crm_at else "crm")
    assert conflict_winner("crm", crm_at, mc_at) == "crm"
    assert conflict_winner("membercare", crm_at, mc_at) == "membercare"
