"""Money arithmetic both sandboxes share: exact decimals, rounded half-up to 2 places per line.

Every number either sandbox accepts (quantities, prices, rates) lies within +-MAX_NUMBER, so a line
(quantity x price x VAT) stays below 10^31 and a document's total within what `_EXACT` computes exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, localcontext

CENT = Decimal("0.01")
MAX_NUMBER = 10**15  # a quadrillion: far above any real quantity or price, far below what breaks arithmetic
# 31 digits a line, 2 decimals, up to 10^6 lines: 40 digits; the default context keeps 28 and would refuse.
_EXACT = Context(prec=48, rounding=ROUND_HALF_UP)


def within_bounds(value: int | float) -> bool:
    return -MAX_NUMBER <= value <= MAX_NUMBER


def to_decimal(value: int | float | str | Decimal) -> Decimal:
    """A JSON number as the exact decimal its text shows (0.1 stays 0.1, not 0.1000000000000000055...)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def has_at_most_two_decimals(value: int | float | str | Decimal) -> bool:
    exponent = to_decimal(value).normalize().as_tuple().exponent
    return not isinstance(exponent, int) or exponent >= -2


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP, context=_EXACT)


def line_total(quantity, unit_price, discount_percent, vat_rate) -> Decimal:
    """One line incl. VAT: quantity x unit price, less the discount, plus VAT, rounded half-up to cents."""
    with localcontext(_EXACT):
        net = to_decimal(quantity) * to_decimal(unit_price) * (1 - to_decimal(discount_percent) / 100)
        return round_money(net * (1 + to_decimal(vat_rate) / 100))


def document_total(lines: list[dict], keys: tuple[str, str, str, str]) -> float:
    """Sum of the rounded line totals of an order, quote or invoice, as a JSON number.

    `keys` names the quantity, unit price, discount and VAT fields in that side's spelling.
    """
    with localcontext(_EXACT):
        total = sum((line_total(*(line[k] for k in keys)) for line in lines), Decimal("0"))
        return float(round_money(total))
