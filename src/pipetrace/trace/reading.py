"""Reading a trace file back, with a clear message for anything that is not a trace we can read."""

from __future__ import annotations

import json
from pathlib import Path

from pipetrace.errors import TraceFileError
from pipetrace.trace.model import SCHEMA_VERSION, Trace


def read_trace(path: str | Path) -> Trace:
    """Load `path` as a Trace, or raise TraceFileError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise TraceFileError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TraceFileError(f"{path}: not a trace (not valid JSON: {error})") from error
    if not isinstance(data, dict) or "schema_version" not in data:
        raise TraceFileError(f"{path}: not a pipetrace trace (no schema_version field)")
    version = data["schema_version"]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise TraceFileError(
            f"{path}: written by a newer pipetrace (schema version {version}; this one reads up to "
            f"{SCHEMA_VERSION}); upgrade pipetrace to read it"
        )
    try:
        return Trace.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise TraceFileError(f"{path}: a field is missing or has the wrong type ({error})") from error
