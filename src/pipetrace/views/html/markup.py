"""The one way a value from a trace enters the report's HTML.

A trace may come from anyone (a classmate's file, a mail), so every value it holds is
text to escape, even where the schema says "number": `e()` escapes any value for HTML text
or a quoted attribute; `fmt()` writes a number with a format spec and, when the value is
not a number after all, falls back to `e()`, so a string where a number belongs shows as
that string, never as markup. Both return HTML that is safe to place in a page as it is.

>>> e('<img src=x onerror="alert(1)">')
'&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
>>> fmt(60000, ","), fmt(0.12345, ".2f"), fmt("<b>7</b>", ",")
('60,000', '0.12', '&lt;b&gt;7&lt;/b&gt;')
"""

from __future__ import annotations

import math
from html import escape
from numbers import Integral, Real


def e(value) -> str:
    """Any value as text, made safe to place in HTML (element text or a quoted attribute)."""
    return escape(str(value), quote=True)


def is_number(value) -> bool:
    """A real, finite number (not a bool, not a string that looks like one)."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value, spec: str = "") -> str:
    """A number written with `spec` (',', '.4f', 'g', ...), escaped; anything else escaped as it is."""
    if is_number(value):
        try:
            return e(format(value, spec))
        except (ValueError, TypeError):  # a spec for integers (',d') given a float: write it plainly
            return e(value)
    return e(value)


def index(value, size: int) -> int | None:
    """`value` when it is a whole number in 0..size-1 (a class, an answer), else None."""
    if isinstance(value, Integral) and not isinstance(value, bool) and 0 <= value < size:
        return int(value)
    return None


def pick(items, value, missing: str = "?"):
    """items[value] for a valid index, else `missing`: a label that points nowhere reads as '?'."""
    at = index(value, len(items))
    return missing if at is None else items[at]
