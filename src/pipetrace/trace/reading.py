"""Reading a trace file back: the whole file is checked before anything uses it.

A trace may come from anyone, so, in order: the file is at most `MAX_TRACE_BYTES` (checked
before it is read); it is strict JSON (no NaN or Infinity, no control characters in any
string); it is a pipetrace trace of a schema version this pipetrace reads; it validates
against `trace_schema()` (every field typed and bounded, so 1e400, read as infinity, is out); its
parts agree with each other (`pipetrace.trace.consistency`). The first thing wrong is named
in one line, `trace.json: training.epochs[3].loss: NaN is not allowed`, as a TraceFileError.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from pipetrace.errors import TraceFileError
from pipetrace.trace.fields import MAX_TRACE_BYTES
from pipetrace.trace.model import SCHEMA_VERSION, Trace, _build

# Characters no trace string may hold: C0 and C1 controls (ESC, BEL, CR, newline, ...), DEL,
# and the invisible ones that reorder or hide text (bidirectional overrides, zero-width marks).
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
# The same characters as JSON escapes: a quick look at the whole file (json.dumps writes ASCII,
# so raw ones show in `isascii`), so that only a suspicious file is searched string by string.
_ESCAPED_FORBIDDEN = re.compile(r"\\(?:[bfnrt]|u(?:00[01]|007f|008|009|200[b-f]|202[89a-e]|206[6-9]|feff))", re.IGNORECASE)


def read_trace(path: str | Path) -> Trace:
    """Load `path` (a trace.json or a run folder) as a Trace, or raise TraceFileError saying what is wrong."""
    path = Path(path)
    if path.is_dir() and (path / "trace.json").is_file():
        path = path / "trace.json"
    if not path.is_file():
        raise TraceFileError(f"{path}: no such file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TRACE_BYTES + 1)
    except OSError as error:
        raise TraceFileError(f"{path}: cannot be read ({error.strerror})") from error
    if len(raw) > MAX_TRACE_BYTES:
        raise TraceFileError(f"{path}: too large for a trace (over {MAX_TRACE_BYTES // 2**20} MB)")
    return trace_from_json(raw, str(path))


def trace_from_json(raw: bytes | str, name: str = "trace") -> Trace:
    """A Trace from the text of a trace file, every check applied; `name` starts each error line."""
    data = parse_json(raw, name)
    if not isinstance(data, dict) or "schema_version" not in data:
        raise TraceFileError(f"{name}: not a pipetrace trace (it has no schema_version field)")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TraceFileError(f"{name}: schema_version must be a whole number of at least 1 (got {_short(repr(version), 40)})")
    if version > SCHEMA_VERSION:
        raise TraceFileError(
            f"{name}: written by a newer pipetrace (schema version {version}; this one reads up to "
            f"{SCHEMA_VERSION}); upgrade pipetrace to read it"
        )
    return trace_from_data(data, name, strings_checked=True)


def trace_from_data(data: Any, name: str = "trace", strings_checked: bool = False) -> Trace:
    """A Trace from parsed JSON values: NaN and control characters, the schema, then consistency.

    `strings_checked`: `parse_json` has already looked for NaN and control characters.
    """
    from pipetrace.trace.consistency import Inconsistent, check_consistency

    if not strings_checked:
        problem = _first_problem(data)
        if problem is not None:
            raise TraceFileError(f"{name}: {problem[0]}: {problem[1]}")
    validate(data, name)
    try:
        trace = _build(Trace, data)
        check_consistency(trace)
    except Inconsistent as error:
        raise TraceFileError(f"{name}: {error.field}: {error.message}") from error
    except (KeyError, TypeError, ValueError, IndexError) as error:  # the checks above should have caught it
        raise TraceFileError(f"{name}: a field is missing or has the wrong type ({error})") from error
    return trace


# ---- strict JSON ---------------------------------------------------------------------------
class _Refused:
    """A JSON value no trace may hold (NaN, an infinity, a huge number): kept aside until its field is known."""

    def __init__(self, why: str) -> None:
        self.why = why


def parse_json(raw: bytes | str, name: str = "trace") -> Any:
    """Parse strict JSON: NaN and Infinity are refused, and so is any string with a control character; both named with their field.

    A number too large for a float (1e400 parses as inf) is left to the schema, whose bounds
    on every number refuse infinities.
    """
    refused: list[_Refused] = []

    def constant(word: str) -> _Refused:
        refused.append(_Refused(f"{word} is not allowed"))
        return refused[-1]

    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data = json.loads(text, parse_constant=constant)
    except UnicodeDecodeError as error:
        raise TraceFileError(f"{name}: not a trace (not valid JSON: not UTF-8 text at byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise TraceFileError(f"{name}: not a trace (not valid JSON: {error})") from error
    except RecursionError as error:
        raise TraceFileError(f"{name}: not a trace (nested too deeply)") from error
    except ValueError as error:  # an integer of thousands of digits
        raise TraceFileError(f"{name}: not a trace (a number of more than 4300 digits)") from error
    if refused or "\x7f" in text or not text.isascii() or _ESCAPED_FORBIDDEN.search(text):
        problem = _first_problem(data)
        if problem is not None:
            raise TraceFileError(f"{name}: {problem[0]}: {problem[1]}")
    return data


def _first_problem(data: Any) -> tuple[str, str] | None:
    """(field, what is wrong) for the first refused value or string with a forbidden character, in file order."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, _Refused):
            return field_name(where), value.why
        if isinstance(value, float) and value != value:
            return field_name(where), "NaN is not allowed"
        if isinstance(value, str):
            found = FORBIDDEN_CHARACTERS.search(value)
            if found:
                return field_name(where), f"control character {_codepoint(found.group())} is not allowed in text"
        elif isinstance(value, dict):
            for key in value:
                found = FORBIDDEN_CHARACTERS.search(key)
                if found:
                    return field_name(where), f"control character {_codepoint(found.group())} is not allowed in a key"
            stack.extend(((*where, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*where, index), item) for index, item in reversed(list(enumerate(value))))
    return None


def _codepoint(character: str) -> str:
    return f"U+{ord(character):04X}"


def field_name(where: tuple | list) -> str:
    """('training', 'epochs', 3, 'loss') -> training.epochs[3].loss (the top level: '(top level)')."""
    text = ""
    for part in where:
        if isinstance(part, int) or (isinstance(part, str) and part.isdigit()):
            text += f"[{part}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z_][\w/ ]*", part) and len(part) <= 60 else json.dumps(part[:60])
            text += f".{shown}" if text else shown
    return text or "(top level)"


# ---- the schema ------------------------------------------------------------------------------
@functools.cache
def _compiled_schema(detailed: bool = False):
    """The schema compiled to Python: 80 ms once per process; the detailed one (each raise carries
    its part of the schema, 0.3 s to compile) only to name what is wrong."""
    import fastjsonschema

    from pipetrace.trace.schema import trace_schema

    return fastjsonschema.compile(trace_schema(), detailed_exceptions=detailed)


def validate(data: Any, name: str = "trace") -> None:
    """Check `data` against the schema; raise TraceFileError naming the first bad field.

    fastjsonschema compiles the schema to Python, checks a 1 MB trace in about 20 ms (jsonschema
    takes 1.5 s walking its 80,000 numbers) and stops at the first problem, so a list of
    millions of numbers is refused at once.
    """
    import fastjsonschema

    try:
        _compiled_schema()(data)
        return
    except fastjsonschema.JsonSchemaValueException:
        pass
    try:
        _compiled_schema(detailed=True)(data)
    except fastjsonschema.JsonSchemaValueException as error:
        where, message = list(error.path[1:]), error.message  # the path starts with "data"
        message = message.removeprefix(f"{error.name} ")
        if error.rule == "anyOf":
            message = "is none of the types allowed here (see `pipetrace schema`)"
        raise TraceFileError(f"{name}: {field_name(where)}: {_short(message)}") from None
    raise TraceFileError(f"{name}: does not follow the trace schema")  # both validators are one schema: not reached


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
