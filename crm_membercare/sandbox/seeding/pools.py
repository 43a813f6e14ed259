"""Pools of plausible names, streets, places and company names, drawn once per seed with Faker.

Calling Faker per record is far too slow at a million records; records combine pool entries with their own
fast random stream instead. Pools depend on the seed only (never on scale, overlap or side), so both sandboxes
draw from the same pools.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from crm_membercare.sandbox.seeding.norway import POSTAL_PLACES, STREET_NAMES, slug

# Faker ships Norwegian (bokmål) as `no_NO`; there is no `nb_NO` locale in it.
LOCALES = {
    "NO": "no_NO", "SE": "sv_SE", "DK": "da_DK", "DE": "de_DE", "GB": "en_GB", "FI": "fi_FI", "NL": "nl_NL",
    "PL": "pl_PL",
}
# Where customers and contacts live: mostly Norway, some Nordic neighbours, a few further away.
COUNTRY_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("NO", 860), ("SE", 50), ("DK", 40), ("DE", 15), ("GB", 15), ("FI", 8), ("NL", 7), ("PL", 5),
)
TRADES: tuple[str, ...] = (
    "Bygg", "Regnskap", "Rør", "Elektro", "Transport", "Eiendom", "Consulting", "Data", "Maskin", "Trelast",
    "Revisjon", "Advokatfirma", "Tannlegesenter", "Bilverksted", "Catering", "Reklamebyrå", "Arkitekter",
    "Maling", "Fisk", "Handel", "Mekaniske", "Sikkerhet", "Renhold", "Helse", "Kompetanse",
)


@dataclass(frozen=True)
class CountryPool:
    male_names: tuple[str, ...]
    female_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    places: tuple[tuple[str, str], ...]  # (postal code, city), repeated by how common the place is
    companies: tuple[str, ...]


@dataclass(frozen=True)
class Pools:
    countries: dict[str, CountryPool]
    country_draw: tuple[str, ...]  # ISO codes repeated by weight: one uniform pick gives the weighted country
    home_domain: str  # the e-mail domain of the organisation that runs both systems (CRM users, our references)


@lru_cache(maxsize=4)
def build_pools(seed: int) -> Pools:
    countries = {iso: _country_pool(iso, seed) for iso in LOCALES}
    home_company = countries["NO"].companies[0]
    return Pools(
        countries=countries,
        country_draw=tuple(iso for iso, weight in COUNTRY_WEIGHTS for _ in range(weight)),
        home_domain=f"{slug(home_company)}.no",
    )


def _country_pool(iso: str, seed: int) -> CountryPool:
    faker = Faker(LOCALES[iso])
    faker.seed_instance(f"{seed}:{iso}")
    size = 1500 if iso == "NO" else 200
    if iso == "NO":
        streets = tuple(faker.street_name() for _ in range(size)) + STREET_NAMES * 20
        places = tuple((code, city) for code, city, weight in POSTAL_PLACES for _ in range(weight))
        companies = tuple(faker.company() for _ in range(size)) + tuple(
            f"{(city if i % 2 else faker.last_name()).title()} {TRADES[i % len(TRADES)]} AS"
            for i, (_, city, _) in enumerate(POSTAL_PLACES * 8)
        )
    else:
        streets = tuple(faker.street_name() for _ in range(size))
        places = tuple((faker.postcode(), faker.city()) for _ in range(size))
        companies = tuple(faker.company() for _ in range(size))
    return CountryPool(
        male_names=tuple(faker.first_name_male() for _ in range(size)),
        female_names=tuple(faker.first_name_female() for _ in range(size)),
        last_names=tuple(faker.last_name() for _ in range(size)),
        streets=streets,
        places=places,
        companies=companies,
    )
