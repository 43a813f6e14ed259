"""Norwegian specifics the seed needs: postal places, organisation numbers, national identity numbers, slugs."""

from __future__ import annotations

import random
from datetime import date
from functools import lru_cache

# Real postal codes with their post towns; the weight is roughly how often a customer lives there.
POSTAL_PLACES: tuple[tuple[str, str, int], ...] = (
    ("0150", "OSLO", 6), ("0152", "OSLO", 4), ("0250", "OSLO", 5), ("0255", "OSLO", 3), ("0350", "OSLO", 5),
    ("0361", "OSLO", 4), ("0450", "OSLO", 4), ("0456", "OSLO", 3), ("0553", "OSLO", 5), ("0557", "OSLO", 4),
    ("0566", "OSLO", 3), ("0655", "OSLO", 4), ("0661", "OSLO", 3), ("0770", "OSLO", 3), ("0787", "OSLO", 2),
    ("0875", "OSLO", 3), ("0952", "OSLO", 3), ("0976", "OSLO", 2), ("1054", "OSLO", 3), ("1169", "OSLO", 2),
    ("1257", "OSLO", 2), ("1337", "SANDVIKA", 3), ("1346", "GJETTUM", 1), ("1366", "LYSAKER", 2),
    ("1398", "NESØYA", 1), ("1410", "KOLBOTN", 2), ("1430", "ÅS", 1), ("1440", "DRØBAK", 1),
    ("1470", "LØRENSKOG", 2), ("1480", "SLATTUM", 1), ("1530", "MOSS", 2), ("1605", "FREDRIKSTAD", 2),
    ("1632", "GAMLE FREDRIKSTAD", 1), ("1710", "SARPSBORG", 2), ("1772", "HALDEN", 1), ("1850", "MYSEN", 1),
    ("2000", "LILLESTRØM", 2), ("2050", "JESSHEIM", 2), ("2150", "ÅRNES", 1), ("2317", "HAMAR", 2),
    ("2407", "ELVERUM", 1), ("2609", "LILLEHAMMER", 2), ("2670", "OTTA", 1), ("2815", "GJØVIK", 2),
    ("3015", "DRAMMEN", 3), ("3044", "DRAMMEN", 2), ("3112", "TØNSBERG", 2), ("3210", "SANDEFJORD", 2),
    ("3256", "LARVIK", 2), ("3611", "KONGSBERG", 1), ("3715", "SKIEN", 2), ("3921", "PORSGRUNN", 1),
    ("4006", "STAVANGER", 3), ("4014", "STAVANGER", 2), ("4021", "STAVANGER", 2), ("4306", "SANDNES", 2),
    ("4340", "BRYNE", 1), ("4400", "FLEKKEFJORD", 1), ("4514", "MANDAL", 1), ("4611", "KRISTIANSAND S", 3),
    ("4631", "KRISTIANSAND S", 2), ("4836", "ARENDAL", 2), ("4876", "GRIMSTAD", 1), ("4950", "RISØR", 1),
    ("5003", "BERGEN", 4), ("5006", "BERGEN", 3), ("5015", "BERGEN", 3), ("5035", "BERGEN", 2),
    ("5052", "BERGEN", 2), ("5096", "BERGEN", 2), ("5145", "FYLLINGSDALEN", 1), ("5221", "NESTTUN", 1),
    ("5300", "KLEPPESTØ", 1), ("5411", "STORD", 1), ("5527", "HAUGESUND", 2), ("5700", "VOSS", 1),
    ("6002", "ÅLESUND", 2), ("6100", "VOLDA", 1), ("6413", "MOLDE", 1), ("6509", "KRISTIANSUND N", 1),
    ("6800", "FØRDE", 1), ("6856", "SOGNDAL", 1), ("7010", "TRONDHEIM", 3), ("7030", "TRONDHEIM", 2),
    ("7041", "TRONDHEIM", 2), ("7067", "TRONDHEIM", 1), ("7300", "ORKANGER", 1), ("7500", "STJØRDAL", 1),
    ("7600", "LEVANGER", 1), ("7713", "STEINKJER", 1), ("7800", "NAMSOS", 1), ("8006", "BODØ", 2),
    ("8301", "SVOLVÆR", 1), ("8514", "NARVIK", 1), ("8622", "MO I RANA", 1), ("8800", "SANDNESSJØEN", 1),
    ("9008", "TROMSØ", 2), ("9019", "TROMSØ", 1), ("9405", "HARSTAD", 1), ("9510", "ALTA", 1),
    ("9600", "HAMMERFEST", 1), ("9900", "KIRKENES", 1),
)

STREET_NAMES: tuple[str, ...] = (
    "Storgata", "Kirkegata", "Kongens gate", "Dronningens gate", "Strandveien", "Skolegata", "Jernbanegata",
    "Parkveien", "Bjørkeveien", "Granveien", "Furuveien", "Lindeveien", "Rosenkrantz' gate", "Markveien",
    "Sandakerveien", "Thorvald Meyers gate", "Trondheimsveien", "Bogstadveien", "Hegdehaugsveien",
    "Grensen", "Torggata", "Industriveien", "Fjordveien", "Havnegata", "Sjøgata", "Nedre Slottsgate",
    "Øvre Storgate", "Elvegata", "Solveien", "Bakkeveien", "Åsveien", "Myrveien", "Lyngveien", "Kløverveien",
    "Tollbugata", "Prinsens gate", "Olav Tryggvasons gate", "Munkegata", "Kaigaten", "Strandgaten",
)

# Titles people carry at work (CRM `title`, MemberCare `employments[].position`).
JOB_TITLES: tuple[str, ...] = (
    "Daglig leder", "Økonomisjef", "Regnskapsfører", "Salgssjef", "Prosjektleder", "Rådgiver", "Konsulent",
    "HR-sjef", "Styreleder", "Innkjøper", "Markedssjef", "Sekretær", "Driftsleder", "IT-sjef",
    "Kundeansvarlig", "Økonomimedarbeider", "Administrasjonssjef", "Avdelingsleder", "Lærer", "Ingeniør",
)

_ORG_WEIGHTS = (3, 2, 7, 6, 5, 4, 3, 2)
_ORG_SPACE = 2_000_000  # first seven digits 8000000..9999999: one per unique number
_ORG_STRIDE = 1_234_567  # odd and not a multiple of 5, so coprime with _ORG_SPACE: a bijection


def org_number(unique: int, offset: int) -> str:
    """A valid Norwegian organisation number (9 digits, mod-11 check), distinct for every distinct `unique`.

    The first seven digits are a bijection of `unique`; the eighth is picked so the check digit is never the
    invalid 10 (the eighth digit moves the weighted sum by 2 mod 11, so at most one of ten choices is bad).
    """
    if not 0 <= unique < _ORG_SPACE:
        raise ValueError("too many organisations for the organisation number space")
    head = 8_000_000 + (unique * _ORG_STRIDE + offset) % _ORG_SPACE
    eighth = (unique * 7 + offset) % 10
    while True:
        digits = [int(c) for c in f"{head}{eighth}"]
        check = 11 - sum(w * d for w, d in zip(_ORG_WEIGHTS, digits, strict=True)) % 11
        if check != 10:
            return f"{head}{eighth}{check % 11}"
        eighth = (eighth + 1) % 10


def is_valid_org_number(text: str) -> bool:
    if len(text) != 9 or not text.isdigit():
        return False
    check = 11 - sum(w * int(d) for w, d in zip(_ORG_WEIGHTS, text[:8], strict=True)) % 11
    return check != 10 and check % 11 == int(text[8])


_K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def national_identity_number(rng: random.Random, born: date, male: bool) -> str:
    """A fødselsnummer with valid check digits for this birth date and sex (individual number by century)."""
    low, high = (0, 499) if born.year < 2000 else (500, 999)
    while True:
        individual = rng.randint(low, high)
        if (individual % 10) % 2 != int(male):
            individual = individual + 1 if individual < high else individual - 1
        digits = [int(c) for c in f"{born:%d%m%y}{individual:03d}"]
        first = (11 - sum(w * d for w, d in zip(_K1, digits, strict=True)) % 11) % 11
        if first == 10:
            continue
        second = (11 - sum(w * d for w, d in zip(_K2, [*digits, first], strict=True)) % 11) % 11
        if second != 10:
            return "".join(map(str, digits)) + f"{first}{second}"


_ASCII = str.maketrans({"æ": "ae", "ø": "o", "å": "a", "ä": "a", "ö": "o", "ü": "u", "ß": "ss", "é": "e"})


@lru_cache(maxsize=65536)
def slug(text: str, separator: str = "-") -> str:
    """'Haugland, Nilsen og Ødegård' -> 'haugland-nilsen-og-odegard': safe for e-mail addresses and domains."""
    ascii_text = text.lower().translate(_ASCII)
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in ascii_text).split()
    return separator.join(words)
