"""Numbers and property names as ECMAScript writes them: the one piece both the YAML 1.2 loader
(a mapping key becomes a JavaScript property name) and the canonical serialisation (JSON.stringify's
number form) need, kept here so neither imports the other."""

from __future__ import annotations

import math
from decimal import Decimal

MAX_SAFE = 2**53  # the largest integer a double holds exactly


class CanonicalError(ValueError):
    pass


def js_number(value: int | float) -> str:
    """A number as ECMAScript's Number::toString prints it (the form JSON.stringify uses)."""
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, int):
        if -MAX_SAFE <= value <= MAX_SAFE:
            return str(value)
        value = float(value)  # JavaScript holds every number as a double
    if not math.isfinite(value):
        raise CanonicalError(f"{value!r} has no JSON form")
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digits that round-trip, which is what ECMAScript requires too.
    _, digits_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digits_tuple)).rstrip("0")
    exponent += len("".join(map(str, digits_tuple))) - len(digits)
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text
