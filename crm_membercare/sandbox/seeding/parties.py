"""Side-neutral drafts of the parties: organisations (customers/companies) and people (contacts/persons).

A draft holds everything either side renders, including what only MemberCare stores (the data the sync does
not own). References to parents (employer, owner) are numbers in the drawing record's universe: shared
ordinals for a shared record, side indices for a side-only one; the side renderers resolve them to ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from crm_membercare.sandbox.seeding.layout import below, between, pick
from crm_membercare.sandbox.seeding.norway import JOB_TITLES, national_identity_number, org_number, slug
from crm_membercare.sandbox.seeding.phones import Phone, landline, mobile
from crm_membercare.sandbox.seeding.pools import CountryPool, Pools
from crm_membercare.sandbox.seeding.timeline import Stamps, draw_stamps

PERSONAL_DOMAINS = {
    "NO": ("gmail.com", "hotmail.com", "online.no", "outlook.com", "yahoo.no", "icloud.com", "live.no"),
    "SE": ("gmail.com", "hotmail.se", "telia.com", "outlook.com"),
    "DK": ("gmail.com", "hotmail.dk", "mail.dk", "outlook.dk"),
    "DE": ("gmx.de", "web.de", "gmail.com", "t-online.de"),
    "GB": ("gmail.com", "btinternet.com", "outlook.com", "yahoo.co.uk"),
}
TOP_LEVEL = {"NO": "no", "SE": "se", "DK": "dk", "DE": "de", "GB": "co.uk", "FI": "fi", "NL": "nl", "PL": "pl"}
MAILBOXES = ("post", "kontakt", "firmapost", "faktura", "info")
NONPROFITS = (
    "Idrettslag", "Musikkorps", "Historielag", "Sanitetsforening", "Skolekorps", "Velforening", "Turlag",
    "Husflidslag", "Sportsklubb", "Pensjonistforening",
)
PUBLIC_BODIES = ("{} kommune", "{} videregående skole", "{} folkebibliotek", "{} brannvesen", "{} kulturskole")
# Who has a Norwegian organisation number: nearly every company, most associations, all public bodies; abroad only
# those with a Norwegian branch (NUF).
REGISTERED_SHARE = {"company": 0.96, "nonprofit": 0.85, "public": 1.0}
FOREIGN_REGISTERED_SHARE = 0.3
SIDE_ROLES = ("Styremedlem", "Varamedlem", "Revisor", "Kasserer", "Valgkomité")


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True, slots=True)
class Organisation:
    name: str
    org_number: str | None
    email: str | None
    phone: Phone | None
    website: str | None
    address: Address | None
    customer_type: str  # CRM vocabulary: company | nonprofit | public
    owner: int | None  # user index
    stamps: Stamps
    extra_address: Address | None  # MemberCare only: a postal (billing) address after the visiting one
    extra_mobile: Phone | None  # MemberCare only


@dataclass(frozen=True, slots=True)
class Person:
    first_name: str
    last_name: str
    male: bool
    email: str | None
    phone: Phone | None
    birth_date: date | None
    address: Address | None
    employer: int | None  # customer reference
    title: str | None
    newsletter: bool
    owner: int | None  # user index
    stamps: Stamps
    # MemberCare only: what the sync must preserve
    national_id: str | None
    gender_known: bool
    member_type: int
    allow_sms: bool
    landline: Phone | None
    work_email: str | None
    extra_address: Address | None
    extra_employment: tuple[int, str] | None  # (customer reference, position)


def draw_address(rng: random.Random, pools: Pools, country: str) -> Address:
    pool = pools.countries[country]
    street, number = pick(rng, pool.streets), between(rng, 1, 180)
    postal_code, city = pick(rng, pool.places)
    if country == "GB":
        line = f"{number} {street}"
    elif country == "NO" and rng.random() < 0.15:
        line = f"{street} {number}{pick(rng, ('A', 'B', 'C'))}"
    else:
        line = f"{street} {number}"
    return Address(line, postal_code, city, country)


def draw_organisation(
    rng: random.Random, pools: Pools, unique: int, shared: bool, users: int, org_offset: int, now_ms: int,
) -> Organisation:
    country = pick(rng, pools.country_draw)
    pool = pools.countries[country]
    customer_type = "company"
    roll = rng.random()
    if country == "NO" and roll < 0.12:
        customer_type, name = "nonprofit", f"{_place_name(rng, pool)} {pick(rng, NONPROFITS)}"
    elif country == "NO" and roll < 0.2:
        customer_type, name = "public", pick(rng, PUBLIC_BODIES).format(_place_name(rng, pool))
    else:
        name = pick(rng, pool.companies)
    registered_share = REGISTERED_SHARE[customer_type] if country == "NO" else FOREIGN_REGISTERED_SHARE
    registered = shared or rng.random() < registered_share  # a shared one needs its match key
    # The unique number makes the domain (and so the e-mail, a fallback match key) unique across both sides.
    domain = f"{slug(name)}{unique}.{TOP_LEVEL[country]}"
    address = draw_address(rng, pools, country) if rng.random() < 0.95 else None
    return Organisation(
        name=name,
        org_number=org_number(unique, org_offset) if registered else None,
        email=f"{pick(rng, MAILBOXES)}@{domain}" if rng.random() < 0.85 else None,
        phone=landline(rng, country, address is not None) if rng.random() < 0.8 else None,
        website=f"https://www.{domain}" if rng.random() < 0.6 else None,
        address=address,
        customer_type=customer_type,
        owner=below(rng, users) if users and rng.random() < 0.9 else None,
        stamps=draw_stamps(rng, now_ms),
        extra_address=draw_address(rng, pools, country) if address and rng.random() < 0.1 else None,
        extra_mobile=mobile(rng, country) if rng.random() < 0.15 else None,
    )


def _place_name(rng: random.Random, pool: CountryPool) -> str:
    return pick(rng, pool.places)[1].title().replace(" I ", " i ")


def draw_person(
    rng: random.Random, pools: Pools, unique: int, shared: bool, customers: int, users: int, now_ms: int,
    today: date,
) -> Person:
    country = pick(rng, pools.country_draw)
    pool = pools.countries[country]
    male = rng.random() < 0.5
    first, last = pick(rng, pool.male_names if male else pool.female_names), pick(rng, pool.last_names)
    employer = below(rng, customers) if customers and rng.random() < 0.45 else None
    title = pick(rng, JOB_TITLES) if rng.random() < (0.7 if employer is not None else 0.0 if shared else 0.1) else None
    birth_date = today - timedelta(days=between(rng, 18 * 365, 85 * 365)) if rng.random() < 0.6 else None
    address = draw_address(rng, pools, country) if rng.random() < 0.9 else None
    local = f"{slug(first, '')}{pick(rng, ('.', '', '_', '.'))}{slug(last, '')}{unique}"
    email = f"{local}@{pick(rng, PERSONAL_DOMAINS.get(country, ('gmail.com',)))}"
    # MemberCare-only extras, drawn after every mapped field.
    national_id = (
        national_identity_number(rng, birth_date, male)
        if country == "NO" and birth_date and rng.random() < 0.3 else None
    )
    work_company = pick(rng, pools.countries["NO"].companies)
    return Person(
        first_name=first,
        last_name=last,
        male=male,
        email=email if shared or rng.random() < 0.9 else None,
        phone=mobile(rng, country, address is not None) if rng.random() < 0.8 else None,
        birth_date=birth_date,
        address=address,
        employer=employer,
        title=title,
        newsletter=rng.random() < 0.35,
        owner=below(rng, users) if users and rng.random() < 0.85 else None,
        stamps=draw_stamps(rng, now_ms),
        national_id=national_id,
        gender_known=rng.random() < 0.6,
        member_type=pick(rng, (1, 1, 1, 1, 1, 2, 2, 3, 4)),
        allow_sms=rng.random() < 0.4,
        landline=landline(rng, "NO") if rng.random() < 0.1 else None,
        work_email=f"{local}@{slug(work_company)}.no" if employer is not None and rng.random() < 0.15 else None,
        extra_address=draw_address(rng, pools, "NO") if address and rng.random() < 0.15 else None,
        extra_employment=(
            (below(rng, customers), pick(rng, SIDE_ROLES))
            if employer is not None and rng.random() < 0.1 else None
        ),
    )


@dataclass(frozen=True, slots=True)
class User:
    first_name: str
    last_name: str
    email: str
    phone: Phone | None
    role: str
    active: bool
    stamps: Stamps


def draw_users(seed: int, pools: Pools, count: int, now_ms: int) -> list[User]:
    """The CRM's users: staff of the organisation running both systems, e-mails on its own domain."""
    norway = pools.countries["NO"]
    users: list[User] = []
    taken: set[str] = set()
    for index in range(count):
        rng = random.Random(f"{seed}:users:{index}")
        male = rng.random() < 0.5
        first, last = pick(rng, norway.male_names if male else norway.female_names), pick(rng, norway.last_names)
        local = f"{slug(first, '')}.{slug(last, '')}"
        email, suffix = f"{local}@{pools.home_domain}", 2
        while email in taken:
            email, suffix = f"{local}{suffix}@{pools.home_domain}", suffix + 1
        taken.add(email)
        users.append(User(
            first_name=first,
            last_name=last,
            email=email,
            phone=mobile(rng, "NO") if rng.random() < 0.7 else None,
            role="admin" if index == 0 else rng.choices(("sales", "support", "admin"), (70, 20, 10))[0],
            active=index == 0 or rng.random() < 0.9,
            stamps=draw_stamps(rng, now_ms),
        ))
    return users
