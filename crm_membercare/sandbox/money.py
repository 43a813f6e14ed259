"""Money arithmetic both sandboxes share: exact decimals, rounded half-up to 2 places per line."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_decimal(value: int | float | str | Decimal) -> Decimal:
    """A JSON number as the exact decimal its text shows (0.1 stays 0.1, not 0.1000000000000000055...)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def has_at_most_two_decimals(value: int | float | str | Decimal) -> bool:
    exponent = to_decimal(value).normalize().as_tuple().exponent
    return not isinstance(exponent, int) or exponent >= -2


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def line_total(quantity, unit_price, discount_percent, vat_rate) -> Decimal:
    """One line incl. VAT: quantity x unit price, less the discount, plus VAT, rounded half-up to cents."""
    net = to_decimal(quantity) * to_decimal(unit_price) * (1 - to_decimal(discount_percent) / 100)
    return round_money(net * (1 + to_decimal(vat_rate) / 100))


def document_total(lines: list[dict], keys: tuple[str, str, str, str]) -> float:
    """Sum of the rounded line totals of an order, quote or invoice, as a JSON number.

    `keys` names the quantity, unit price, discount and VAT fields in that side's spelling.
    """
    total = sum((line_total(*(line[k] for k in keys)) for line in lines), Decimal("0"))
    return float(round_money(total))
