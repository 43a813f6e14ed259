"""Phone numbers per country: the E.164 form MemberCare stores, and the ways people type them into the CRM.

Every typed form parses back to the same E.164 number with the record's country as the default region.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from crm_membercare.sandbox.seeding.layout import below, pick


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str
    typed: str


@dataclass(frozen=True)
class _Plan:
    calling_code: str
    prefixes: tuple[str, ...]  # leading digits of the national significant number
    length: int  # digits of the national significant number
    typings: tuple[Callable[[str], str], ...]  # national significant number -> as typed


_NORWEGIAN_TYPINGS: tuple[Callable[[str], str], ...] = (
    lambda n: f"+47 {n[:3]} {n[3:5]} {n[5:]}",
    lambda n: n,
    lambda n: f"{n[:3]} {n[3:5]} {n[5:]}",
    lambda n: f"+47{n}",
    lambda n: f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}",
)
_MOBILE: dict[str, _Plan] = {
    "NO": _Plan("47", ("40", "41", "46", "47", "48", "90", "91", "92", "93", "94", "95", "97", "98", "99"),
                8, _NORWEGIAN_TYPINGS),
    "SE": _Plan("46", ("70", "72", "73", "76", "79"), 9, (
        lambda n: f"0{n[:2]}-{n[2:5]} {n[5:7]} {n[7:]}",
        lambda n: f"+46 {n[:2]} {n[2:5]} {n[5:7]} {n[7:]}",
        lambda n: f"0{n}",
        lambda n: f"+46{n}",
    )),
    "DK": _Plan("45", (
        "212", "226", "233", "261", "284", "302", "314", "402", "415", "427", "503", "512", "528", "604", "617",
    ), 8, (
        lambda n: f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}",
        lambda n: f"+45 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}",
        lambda n: f"+45{n}",
        lambda n: n,
    )),
    "DE": _Plan("49", ("151", "152", "157", "160", "162", "170", "171", "172", "176", "179"), 11, (
        lambda n: f"0{n[:3]} {n[3:]}",
        lambda n: f"+49 {n[:3]} {n[3:]}",
        lambda n: f"+49{n}",
    )),
    "GB": _Plan("44", ("7400", "7412", "7500", "7511", "7800", "7812", "7900", "7944", "7956"), 10, (
        lambda n: f"0{n[:4]} {n[4:]}",
        lambda n: f"+44 {n[:4]} {n[4:]}",
        lambda n: f"+44{n}",
    )),
    "FI": _Plan("358", ("40", "41", "44", "45", "50"), 9, (
        lambda n: f"0{n[:2]} {n[2:5]} {n[5:]}",
        lambda n: f"+358 {n[:2]} {n[2:]}",
        lambda n: f"+358{n}",
    )),
    "NL": _Plan("31", ("61", "62", "63", "64", "65"), 9, (
        lambda n: f"0{n[:1]} {n[1:]}",
        lambda n: f"+31 {n[:1]} {n[1:]}",
        lambda n: f"+31{n}",
    )),
    "PL": _Plan("48", ("50", "51", "53", "60", "66", "69", "72", "79", "88"), 9, (
        lambda n: f"{n[:3]} {n[3:6]} {n[6:]}",
        lambda n: f"+48 {n[:3]} {n[3:6]} {n[6:]}",
        lambda n: f"+48{n}",
    )),
}

# Norwegian fixed lines (Oslo 21-23, Drammen 32, Bergen 55, Trondheim 73, ...); companies mostly have one.
_NORWEGIAN_LANDLINE = _Plan(
    "47", ("21", "22", "23", "32", "33", "35", "38", "51", "52", "55", "56", "61", "62", "69", "71", "73", "77"),
    8, (
        lambda n: f"{n[:2]} {n[2:4]} {n[4:6]} {n[6:]}",
        lambda n: f"+47 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}",
        lambda n: n,
    ),
)

PHONE_COUNTRIES = frozenset(_MOBILE)


def mobile(rng: random.Random, country: str, region_known: bool = True) -> Phone:
    """`region_known` False: the record has no country to parse a national number with, so it is typed with +."""
    return _draw(rng, _MOBILE[country], region_known)


def landline(rng: random.Random, country: str, region_known: bool = True) -> Phone:
    """A Norwegian switchboard number; abroad, a mobile (foreign fixed-line plans are not worth modelling)."""
    return _draw(rng, _NORWEGIAN_LANDLINE if country == "NO" else _MOBILE[country], region_known)


def _draw(rng: random.Random, plan: _Plan, region_known: bool) -> Phone:
    prefix = pick(rng, plan.prefixes)
    rest = plan.length - len(prefix)
    national = prefix + f"{below(rng, 10 ** rest):0{rest}d}"
    e164 = f"+{plan.calling_code}{national}"
    typed = pick(rng, plan.typings)(national)
    return Phone(e164=e164, typed=typed if region_known or typed.startswith("+") else e164)
