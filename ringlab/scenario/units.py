"""Times with units: ``"1us"``, ``"67.5us"``, ``"2ms"`` in, integer nanoseconds out. A bare whole
number, in a file, a ``--set`` or an option (``5037000``, ``"5037000"``), is nanoseconds, everywhere."""

import math
import re

from ringlab.errors import InputError

MAX_TIME_NS = 10**15  # any one time a scenario gives: 11.6 days, far within the engines' 64-bit clocks

NS_PER_UNIT = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_TIME = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([a-zµ]+)\s*$")
_BARE_NS = re.compile(r"^\s*([0-9]+)\s*$")


def parse_time_ns(value, field: str, *, allow_zero: bool = True) -> int:
    """Return ``value`` (a string with a unit, or a whole number of ns, bare or as a string) as
    integer nanoseconds.

    Raises InputError naming ``field`` for a bad unit, a negative time, a fraction of a
    nanosecond, zero where ``allow_zero`` is false, or a time beyond MAX_TIME_NS.
    """
    if isinstance(value, bool):
        raise InputError(field, f"expected a time such as '1us', got {value!r}")
    if isinstance(value, int):
        ns = value
    elif isinstance(value, str) and _BARE_NS.match(value):
        ns = int(value)
    elif isinstance(value, str):
        match = _TIME.match(value)
        if value.strip().startswith("-"):
            raise InputError(field, f"time must not be negative, got {value!r}")
        if not match:
            raise InputError(field, f"expected a number with a unit (ns, us, ms, s) or whole nanoseconds, got {value!r}")
        number, unit = match.groups()
        if unit not in NS_PER_UNIT:
            raise InputError(field, f"unknown time unit {unit!r} in {value!r} (use ns, us, ms, s)")
        exact = float(number) * NS_PER_UNIT[unit]
        if not math.isfinite(exact) or exact > MAX_TIME_NS:
            raise InputError(field, f"{value!r} is too long (at most {MAX_TIME_NS // 10**9}s)")
        ns = round(exact)
        if abs(exact - ns) > 1e-6 * max(1.0, exact):
            raise InputError(field, f"{value!r} is not a whole number of nanoseconds")
    else:
        raise InputError(field, f"expected a time such as '1us', got {value!r}")
    if ns < 0:
        raise InputError(field, f"time must not be negative, got {value!r}")
    if ns > MAX_TIME_NS:
        raise InputError(field, f"{value!r} ns is too long (at most {MAX_TIME_NS} ns, {MAX_TIME_NS // 10**9}s)")
    if ns == 0 and not allow_zero:
        raise InputError(field, f"time must be positive, got {value!r}")
    return ns


def format_time_ns(ns: float, digits: int = 6) -> str:
    """Render nanoseconds with the largest unit that keeps the number readable (``1.5ms``),
    to ``digits`` significant digits."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.{digits}g}{unit}"
    return f"{ns:.{digits}g}ns"
