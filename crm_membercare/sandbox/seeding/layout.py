"""How many records each side gets, which of them are shared, and where each shared record sits on each side.

A pair (customers/companies, contacts/persons, products, orders/Invoice invoices, quotes/Proforma invoices) has
the same size `n` on both sides; `round(overlap * n)` of its records are shared. Shared record number `j` (its
*ordinal*) is drawn from its own random stream, so both sides produce it identically; its *position* (index, and
so its id) on each side is a seeded scatter, different per side, so that ids never line up by accident.
Everything here depends on (seed, scale, overlap) only.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

T = TypeVar("T")
Scale = Literal["small", "medium", "large"] | dict[str, int]
Side = Literal["customcrm", "membercare"]
Owner = Literal["shared", "customcrm", "membercare"]
SIDES: tuple[Side, Side] = ("customcrm", "membercare")
PAIRS = ("customers", "contacts", "products", "orders", "quotes")

# small, per side, as DESIGN A3 lists it; medium and large scale every count alike (~50 k and ~1 M in all).
SMALL_COUNTS = {"users": 10, "customers": 80, "contacts": 300, "products": 40, "orders": 150, "quotes": 60}
MULTIPLIERS = {"small": 1, "medium": 40, "large": 800}
# Either side's name for a pair sets the pair's count.
RESOURCE_ALIASES = {
    "users": "users", "customers": "customers", "companies": "customers", "contacts": "contacts",
    "persons": "contacts", "products": "products", "orders": "orders", "quotes": "quotes",
}
INVOICE_SPLIT = (5, 2)  # "invoices" alone: orders to quotes, as at small (150:60)


@dataclass(frozen=True)
class Counts:
    users: int
    customers: int
    contacts: int
    products: int
    orders: int
    quotes: int


def counts_for(scale: Scale) -> Counts:
    """The per-side counts a scale stands for. Documents need a debtor: with no customers and no contacts, none."""
    if isinstance(scale, str):
        if scale not in MULTIPLIERS:
            raise ValueError(f"unknown scale {scale!r}: use small, medium, large or a dict of counts")
        counts = {name: n * MULTIPLIERS[scale] for name, n in SMALL_COUNTS.items()}
    else:
        counts = _explicit_counts(scale)
    if counts["customers"] == 0 and counts["contacts"] == 0:
        counts["orders"] = counts["quotes"] = 0
    return Counts(**counts)


def _explicit_counts(scale: dict[str, int]) -> dict[str, int]:
    counts = dict.fromkeys(SMALL_COUNTS, 0)
    given: dict[str, int] = {}
    for name, n in scale.items():
        if name not in RESOURCE_ALIASES and name != "invoices":
            raise ValueError(f"unknown resource {name!r} in scale")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"scale[{name!r}] must be a non-negative integer")
        if name == "invoices":
            continue
        key = RESOURCE_ALIASES[name]
        if key in given and given[key] != n:
            raise ValueError(f"scale gives two different counts for {key}")
        given[key] = n
    counts.update(given)
    if "invoices" in scale:
        invoices = scale["invoices"]
        orders, quotes = given.get("orders"), given.get("quotes")
        if orders is None and quotes is None:
            orders = round(invoices * INVOICE_SPLIT[0] / sum(INVOICE_SPLIT))
            quotes = invoices - orders
        elif orders is None or quotes is None:
            orders, quotes = (invoices - quotes, quotes) if orders is None else (orders, invoices - orders)
        if orders < 0 or quotes < 0 or orders + quotes != invoices:
            raise ValueError("scale: invoices must equal orders + quotes")
        counts["orders"], counts["quotes"] = orders, quotes
    return counts


@dataclass(frozen=True)
class PairLayout:
    size: int
    shared: int
    positions: dict[Side, list[int]]  # shared ordinal -> index on that side
    ordinals: dict[Side, list[int]]  # index on that side -> shared ordinal, or -1 for a side-only record

    def index_of(self, owner: Owner, reference: int, side: Side) -> int:
        """The index on `side` of a parent referenced from a record of `owner`."""
        return self.positions[side][reference] if owner == "shared" else reference


@dataclass(frozen=True)
class Layout:
    seed: int
    counts: Counts
    pairs: dict[str, PairLayout]

    def size(self, pair: str, owner: Owner) -> int:
        """How many parents a record of `owner` may reference: shared records reference shared ones only."""
        layout = self.pairs[pair]
        return layout.shared if owner == "shared" else layout.size


def plan_layout(seed: int, scale: Scale, overlap: float) -> Layout:
    if not 0.0 <= overlap <= 1.0:
        raise ValueError("overlap must lie between 0.0 and 1.0")
    counts = counts_for(scale)
    pairs: dict[str, PairLayout] = {}
    for pair in PAIRS:
        size = getattr(counts, pair)
        shared = round(overlap * size)
        if pair in ("orders", "quotes") and pairs["customers"].shared == 0 and pairs["contacts"].shared == 0:
            shared = 0  # a shared document needs a shared debtor
        pairs[pair] = _scatter(seed, pair, size, shared)
    return Layout(seed=seed, counts=counts, pairs=pairs)


def _scatter(seed: int, pair: str, size: int, shared: int) -> PairLayout:
    positions: dict[Side, list[int]] = {}
    ordinals: dict[Side, list[int]] = {}
    for side in SIDES:
        rng = np.random.default_rng(_entropy(f"{seed}:{pair}:{side}:layout"))
        chosen = rng.choice(size, size=shared, replace=False) if shared else np.empty(0, dtype=np.int64)
        at = np.full(size, -1, dtype=np.int64)
        at[chosen] = np.arange(shared)
        positions[side] = chosen.tolist()
        ordinals[side] = at.tolist()
    return PairLayout(size=size, shared=shared, positions=positions, ordinals=ordinals)


def _entropy(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def stream(seed: int, pair: str, owner: Owner, index: int) -> random.Random:
    """The random stream of one record: a shared record's depends on its ordinal only, never on the side."""
    return random.Random(f"{seed}:{pair}:{owner}:{index}")


_OWNER_RESIDUE = {"shared": 0, "customcrm": 1, "membercare": 2}


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """A uniform pick, cheaper than rng.choice (it matters at a million records)."""
    return items[int(rng.random() * len(items))]


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): what rng.randrange(n) gives, at a third of the cost."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]."""
    return low + int(rng.random() * (high - low + 1))


def unique_number(owner: Owner, index: int) -> int:
    """Distinct across both sides and all records of a pair: the basis of e-mails, org numbers and SKUs."""
    return 3 * index + _OWNER_RESIDUE[owner]


def seed_offset(seed: int, modulus: int) -> int:
    """A per-seed shift, so that different seeds give different org numbers and SKUs."""
    return _entropy(f"{seed}:offset") % modulus
