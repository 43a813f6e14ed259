"""Exact decimals for money, quantities and rates.

Both APIs send numbers as JSON numbers, which a JSON parser hands over as floats. A float is turned into the
Decimal of its shortest text (`repr`), so 0.1 stays 0.1, and all arithmetic is Decimal: "0.1" + "0.2" is
0.3, never 0.30000000000000004. The common form is a string without exponent: money with two places
("0.30", "100.00"), other decimals without trailing zeros ("25", "1.5"). A value with more places than
MemberCare accepts keeps all of them, so validation can name it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """A JSON number (int, float, numeric string or Decimal) as an exact Decimal; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def decimal_text(value: object) -> str:
    """A decimal's common form: plain digits, no exponent, no trailing zeros ("25", "1.5", "-0.25")."""
    text = format(to_decimal(value).normalize(), "f")
    return "0" if text == "-0" else text


def money_text(value: object) -> str:
    """Money's common form: exactly two places when it has at most two ("0.30"), else every place it has."""
    number = to_decimal(value)
    if decimal_places(number) <= 2:
        number = number.quantize(CENT)
    text = format(number, "f")
    return "0.00" if text == "-0.00" else text


def json_number(text: str) -> int | float:
    """A common-form decimal as a JSON number. Integers stay ints; the float's repr is the same digits."""
    number = to_decimal(text)
    if number == number.to_integral_value():
        return int(number)
    return float(number)
