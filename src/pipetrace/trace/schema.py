"""The JSON Schema of trace.json, derived from the Trace dataclasses so the two never drift apart.

`pipetrace schema` prints it; every reader of a trace file validates it first, so a damaged,
hand-edited or hostile trace gets a message naming the bad field. Every field is typed: the
parts that are dicts in Python (the dataset, a stage's `details`, a layer's `config`) are
TypedDicts from `pipetrace.trace.fields`, closed to keys they do not name, and numbers,
strings and lists carry bounds (`Annotated` there; defaults here).

>>> schema = trace_schema()
>>> schema["properties"]["schema_version"]
{'type': 'integer', 'minimum': 0, 'maximum': 9007199254740992}
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

from pipetrace.trace.fields import LAYER_DETAILS_TOGETHER, MAX_ITEMS, MAX_TEXT, MAX_WHOLE, STAGE_DETAILS
from pipetrace.trace.model import SCHEMA_VERSION, LayerTrace, Stage, Trace

# Each Python scalar's schema, with the bounds a field gets unless its type says otherwise.
_SCALARS = {
    bool: {"type": "boolean"},
    int: {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE},  # every whole number in a trace counts something
    float: {"type": "number", "minimum": -1e300, "maximum": 1e300},  # finite (the reader refuses NaN itself)
    str: {"type": "string", "maxLength": MAX_TEXT},  # control characters: refused by the reader too
}
MAX_KEYS = 256  # entries in a dict with free keys (environment, timings, an insight's figures)


@functools.cache
def trace_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12, using only keywords draft 7 shares) for a trace.json of this version.

    Cached: treat the returned dict as read-only.
    """
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
    """A dataclass or TypedDict as a closed JSON object: its fields, typed, and no others."""
    hints = typing.get_type_hints(cls, include_extras=True)
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(cls)
        names = [f.name for f in fields]
        required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    else:  # a TypedDict
        names = list(hints)
        required = [name for name in names if name in cls.__required_keys__]
    schema = {
        "type": "object",
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        "properties": {name: _type(hints[name], definitions) for name in names},
        "required": required,
        "additionalProperties": False,
    }
    if cls is Stage:  # what `details` holds depends on the stage's name
        schema["properties"]["name"] = {"enum": list(STAGE_DETAILS)}
        schema["properties"]["details"] = {"type": "object"}
        schema["allOf"] = [
            {"if": {"properties": {"name": {"enum": [name]}}},
             "then": {"properties": {"details": _type(details, definitions)}, "required": ["details"]}}
            for name, details in STAGE_DETAILS.items()
        ]
    if cls is LayerTrace:  # a key a view reads brings the keys it reads beside it
        schema["properties"]["details"] = {"allOf": [schema["properties"]["details"]] + [
            {"if": {"required": [key]}, "then": {"required": together}} for key, together in LAYER_DETAILS_TOGETHER.items()
        ]}
    return schema


def _type(kind: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    if kind in _SCALARS:
        return dict(_SCALARS[kind])
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Annotated:  # a type with bounds: Annotated[int, {"minimum": 1}]
        return {**_type(args[0], definitions), **args[1]}
    if dataclasses.is_dataclass(kind) or typing.is_typeddict(kind):
        if kind.__name__ not in definitions:
            definitions[kind.__name__] = {}  # placeholder while nested types are built
            definitions[kind.__name__] = _object(kind, definitions)
        return {"$ref": f"#/$defs/{kind.__name__}"}
    if origin is list:
        return {"type": "array", "items": _type(args[0], definitions), "maxItems": MAX_ITEMS}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(args[1], definitions),
                "propertyNames": {"maxLength": 200}, "maxProperties": MAX_KEYS}
    if origin in (typing.Union, types.UnionType):
        options = [_type(a, definitions) for a in args if a is not type(None)]
        nullable = type(None) in args
        if len(options) == 1 and nullable and isinstance(options[0].get("type"), str):
            return {**options[0], "type": [options[0]["type"], "null"]}  # bounds apply to numbers only
        return {"anyOf": options + ([{"type": "null"}] if nullable else [])}
    raise TypeError(f"no JSON Schema for {kind!r}")
