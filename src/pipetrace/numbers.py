"""The one way numbers are written for people: every view, insight, observation and quiz key uses these.

Two promises: a number is never shown as something it is not (no "100.0%" for 99.97%, no "0.000000"
for 3e-9, no "59433051684264.6" cut to fit), and the same value reads the same everywhere.

>>> percent(0.9791), percent(0.99996), percent(1.0), percent(0.00004), percent(None)
('97.9%', '> 99.99%', '100.0%', '< 0.01%', 'not measured')
>>> number(0.04712), number(5.9433e13), number(0.00002), number(float("nan"))
('0.047', '5.94e+13', '2e-05', 'NaN')
>>> probability(0.91234567), probability(3.2e-9)
('0.912346', '3.2e-09')
>>> rate(0.001), rate(1e6), points(0.0123), change(-0.9996), change(2.5)
('0.001', '1e+06', '1.2 points', '-99.96%', '+250%')
>>> count(1, "epoch"), count(5, "epoch"), count(60000, "image"), count(235, "batch", "batches")
('1 epoch', '5 epochs', '60,000 images', '235 batches')
"""

from __future__ import annotations

import math

LARGE = 1e4  # from here on, a number is written in scientific notation (5.94e+13)


def percent(fraction: float | None, decimals: int = 1) -> str:
    """A fraction as a percentage, never rounded to 100% or 0% unless it is exactly that.

    Near the ends it takes up to two decimals ("99.97%"), then says "> 99.99%" / "< 0.01%".
    """
    if fraction is None:
        return "not measured"
    if not math.isfinite(fraction):
        return "NaN" if math.isnan(fraction) else str(fraction)
    value = 100 * fraction
    if not 0 < fraction < 1:  # exactly 0% or 100%, or a change beyond them (+350%, -20%): nothing to round away
        return f"{value:.{decimals}f}%"
    for places in range(decimals, max(decimals, 2) + 1):
        text = f"{value:.{places}f}"
        if 0 < float(text) < 100:
            return f"{text}%"
    return "> 99.99%" if value > 50 else "< 0.01%"


def change(fraction: float, decimals: int = 0) -> str:
    """A relative change with its sign, never rounded to a change it is not: -0.9996 -> '-99.96%', 0.5 -> '+50%'."""
    return ("+" if fraction > 0 else "-" if fraction < 0 else "") + percent(abs(fraction), decimals)


def points(fraction: float, decimals: int = 1) -> str:
    """A difference of two fractions in percentage points: 0.0123 -> '1.2 points'."""
    return f"{100 * fraction:.{decimals}f} points"


def number(value: float | None, decimals: int = 3) -> str:
    """A loss or other measured number: fixed decimals in the usual range, scientific outside it.

    Outside it means at or above 10,000, or so small that the fixed form would print only zeros.
    """
    if value is None:
        return "not measured"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value == 0:
        return f"{0:.{decimals}f}"
    if abs(value) >= LARGE or abs(value) < 0.5 * 10 ** -decimals:
        return f"{value:.3g}"
    return f"{value:.{decimals}f}"


def probability(p: float | None) -> str:
    """A probability with six decimals, in scientific form when six decimals would show only zeros."""
    return number(p, 6)


def rate(value: float | None) -> str:
    """A learning rate as people write it: 0.001, 0.05, 1e-05, 1e+06."""
    return "not set" if value is None else f"{value:g}"


def axis_label(value: float) -> str:
    """A chart axis label: short, and scientific for large or tiny values (never '59433051684264.6')."""
    if value == 0 or not math.isfinite(value):
        return number(value, 2)
    if abs(value) >= LARGE or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.3g}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """A whole number of things, the noun plural unless there is exactly one: '1 epoch', '60,000 images'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
