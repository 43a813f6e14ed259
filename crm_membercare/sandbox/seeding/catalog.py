"""Side-neutral drafts of products: what a Norwegian member organisation and consultancy sells, at real VAT rates."""

from __future__ import annotations

import random
from dataclasses import dataclass

from crm_membercare.sandbox.seeding.layout import pick
from crm_membercare.sandbox.seeding.timeline import Stamps, draw_stamps


@dataclass(frozen=True)
class Category:
    code: str  # SKU prefix
    unit: str  # CRM vocabulary: pcs | hour | month | year
    vat_rate: int  # percent: 25 standard, 15 food, 12 transport and lodging, 0 exempt (fees, courses, books)
    low: int
    high: int
    step: int
    names: tuple[str, ...]
    variants: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category("KONS", "hour", 25, 650, 1850, 25, (
        "Konsulenttime", "Prosjektledelse", "Systemutvikling", "Regnskapsbistand", "Juridisk rådgivning",
        "Brukerstøtte", "Kursholder",
    ), ("senior", "junior", "ordinær", "kveld", "helg")),
    Category("ABO", "month", 25, 99, 2499, 10, (
        "Abonnement", "Programvarelisens", "Webhotell", "Skylagring", "Nyhetsbrevtjeneste",
    ), ("Basis", "Standard", "Pluss", "Premium", "Bedrift")),
    Category("MEDL", "year", 0, 290, 9900, 10, (
        "Medlemskontingent", "Årsavgift", "Støttemedlemskap",
    ), ("ordinær", "student", "familie", "honnør", "bedrift")),
    Category("KURS", "pcs", 0, 1490, 12900, 100, (
        "Kurs: Førstehjelp", "Kurs: Regnskap for små bedrifter", "Kurs: Prosjektledelse", "Kurs: Styrearbeid",
        "Kurs: Excel for viderekomne", "Kurs: HMS grunnkurs", "Kurs: Lederutvikling",
    ), ("dagkurs", "kveldskurs", "nettkurs", "to dager")),
    Category("BOK", "pcs", 0, 199, 599, 10, (
        "Bok: Håndbok for tillitsvalgte", "Bok: Praktisk regnskap", "Bok: Norsk arbeidsrett", "Årbok",
    ), ("innbundet", "heftet", "e-bok")),
    Category("MAT", "pcs", 15, 89, 495, 5, (
        "Lunsjbuffet", "Kaffe og kake", "Fruktkurv", "Møtemat", "Middag", "Tapasfat",
    ), ("per person", "liten", "stor")),
    Category("REISE", "pcs", 12, 990, 2490, 10, (
        "Overnatting enkeltrom", "Overnatting dobbeltrom", "Bussreise", "Båttur", "Kinobillett",
    ), ("helg", "hverdag", "inkl. frokost")),
    Category("VARE", "pcs", 25, 49, 4990, 10, (
        "Kontorstol", "Skjerm 27\"", "Tastatur", "Headset", "Profilgenser", "Caps", "Termokopp", "Refleksvest",
        "Paraply", "Sekk",
    ), ("sort", "hvit", "blå", "rød", "grå", "str. M", "str. L")),
    Category("AVT", "year", 25, 4900, 49000, 100, (
        "Serviceavtale", "Vedlikeholdsavtale", "Supportavtale",
    ), ("Basis", "Utvidet", "Total")),
)
DESCRIPTIONS = (
    "Faktureres etterskuddsvis.", "Prisen gjelder per enhet.", "Inkluderer oppfølging på e-post.",
    "Bindingstid 12 måneder.", "Leveres innen 5 virkedager.", "Gjelder for inneværende år.",
    "Kan ikke kombineres med andre rabatter.",
)


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    description: str | None
    price: float  # excl. VAT, 2 decimals
    vat_rate: int
    unit: str
    active: bool
    stamps: Stamps


def draw_product(rng: random.Random, unique: int, sku_offset: int, now_ms: int) -> Product:
    category = pick(rng, CATEGORIES)
    price = rng.randrange(category.low, category.high + 1, category.step)
    roll = rng.random()
    if roll < 0.3 and price > 100:
        price -= 1  # 499 rather than 500
    cents = 50 if roll > 0.92 else 0
    return Product(
        sku=f"{category.code}-{unique + sku_offset:06d}",
        name=f"{pick(rng, category.names)}, {pick(rng, category.variants)}",
        description=pick(rng, DESCRIPTIONS) if rng.random() < 0.6 else None,
        price=round(price + cents / 100, 2),
        vat_rate=category.vat_rate,
        unit=category.unit,
        active=rng.random() < 0.9,
        stamps=draw_stamps(rng, now_ms),
    )
