"""Text from a trace, a dataset or a path, made safe to print: never markup, never a terminal command.

Trace strings, class names, folder names and file paths come from whoever made them. Printed
as they are, `[link=...]` would become a live link, `[/]` would crash rich, and an escape
sequence would retitle the window, clear the screen or write the clipboard (OSC 52). So:

- `visible(s)`: control characters (C0, DEL, C1) and the invisible ones that reorder or hide
  text (bidirectional overrides, zero-width marks) become their escapes, `\\x1b`, `\\u202e`;
  for `print` and for `rich.text.Text`, which never parses markup.
- `literal(s, style)`: a rich `Text` of `visible(s)`, the first choice wherever rich takes a
  renderable (a table cell, a panel title, `console.print`): no markup, no emoji codes.
- `safe(s)`: `visible(s)` with rich markup escaped, for the rare string that must go inside a
  markup string (`console.print(f"[bold]{safe(name)}[/]", emoji=False)`; rich would still
  turn `:smile:` into an emoji unless told not to).

>>> visible("two\\x1b]52;c;bad\\x07 lines\\n")
'two\\\\x1b]52;c;bad\\\\x07 lines\\\\n'
>>> safe("[link=https://x]click[/link] [/]")
'\\\\[link=https://x]click\\\\[/link] \\\\[/]'
"""

from __future__ import annotations

import re

from rich.text import Text

# The same characters a trace may not hold (pipetrace.trace.reading.FORBIDDEN_CHARACTERS).
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: object) -> str:
    """`text` as a string whose control and invisible characters are written as escapes."""
    return _HIDDEN.sub(_escape, str(text))


def safe(text: object) -> str:
    """`visible(text)` with rich markup escaped: literal inside a markup string.

    rich's own `escape` leaves a `[` that starts no tag alone, but its renderer still eats one
    backslash before any `[` (`\\[` prints `[`), and three trailing backslashes escape the
    closing tag that follows; so every `[` and every trailing backslash is escaped here.
    """
    escaped = _BRACKET.sub(_escape_bracket, visible(text))
    trailing = len(escaped) - len(escaped.rstrip("\\"))
    return escaped + "\\" * trailing  # 2k backslashes before a tag print as k


_BRACKET = re.compile(r"(\\*)(\[(?:[a-z#/@][^\[]*?\])?)")  # backslashes, then a lone [ or a whole tag, as rich finds them


def _escape_bracket(match: re.Match) -> str:
    backslashes, bracket = match.groups()
    if len(bracket) > 1:  # a tag: rich reads 2k+1 backslashes before it as k and a literal tag
        return backslashes * 2 + "\\" + bracket
    return backslashes + "\\" + bracket  # a lone [: rich drops the one backslash just before it


def literal(text: object, style: str = "") -> Text:
    """A rich Text showing `text` exactly (markup not parsed, controls made visible)."""
    return Text(visible(text), style=style)


def _escape(match: re.Match) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
