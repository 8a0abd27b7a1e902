"""The JSON Schema of trace.json, derived from the Trace dataclasses so the two never drift apart.

`pipetrace schema` prints it; `pipetrace show` validates every file against it before
rendering, so a damaged or hand-edited trace gets a message naming the bad field.

>>> schema = trace_schema()
>>> schema["properties"]["schema_version"]
{'type': 'integer'}
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pipetrace.trace.model import SCHEMA_VERSION, Trace

_SCALARS = {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"}, bool: {"type": "boolean"}}


def trace_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) for a trace.json of this schema version."""
    definitions: dict[str, Any] = {}
    root = _object(Trace, definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:pipetrace:trace:v{SCHEMA_VERSION}",
        "title": f"pipetrace trace, schema version {SCHEMA_VERSION}",
        **root,
        "$defs": definitions,
    }


def _object(cls: type, definitions: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    return {
        "type": "object",
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        "properties": {f.name: _type(hints[f.name], definitions) for f in fields},
        "required": required,
    }


def _type(kind: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    if kind is Any:
        return {}
    if dataclasses.is_dataclass(kind):
        if kind.__name__ not in definitions:
            definitions[kind.__name__] = {}  # placeholder while nested types are built
            definitions[kind.__name__] = _object(kind, definitions)
        return {"$ref": f"#/$defs/{kind.__name__}"}
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        return {"type": "array", "items": _type(args[0], definitions)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(args[1], definitions)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type(a, definitions) if a is not type(None) else {"type": "null"} for a in args]}
    raise TypeError(f"no JSON Schema for {kind!r}")
