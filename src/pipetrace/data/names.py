"""Names that come from a dataset (class names, folder and file names) made safe to keep in a trace.

A folder name need not be UTF-8 on Linux: Python hands it over with lone surrogates, which no
UTF-8 file (trace.json, report.html) can hold, so such names are shown with the odd bytes
written as \\xNN. Control characters (escape sequences, newlines) in a class name would reach
terminals and reports, so a class name holding one is refused, before anything trains.

>>> import pathlib
>>> readable(pathlib.Path("caf" + b"\\xe9".decode("utf-8", "surrogateescape")))
'caf\\\\xe9'
>>> check_class_name("T-shirt/top", "classes.txt")
>>> check_class_name("red\\x1b[31m", "classes.txt")
Traceback (most recent call last):
...
pipetrace.errors.DataError: classes.txt: the class name 'red\\x1b[31m' holds a control character (\\x1b); class names must be plain text
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from pipetrace.errors import DataError

MAX_CLASS_NAME = 200  # characters in one class name
CONTROL = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # Unicode categories that are not plain text


def readable(path: str | Path) -> str:
    """`path` as valid text: bytes that are not UTF-8 written as \\xNN (same path, same text)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_class_name(name: str, where: str) -> None:
    """Raise DataError if `name` cannot be a class name in a trace: control characters, too long, empty."""
    if not name.strip():
        raise DataError(f"{where}: a class name is empty; every class needs a name")
    if len(name) > MAX_CLASS_NAME:
        raise DataError(f"{where}: the class name {name[:40]!r}... is {len(name)} characters long (at most {MAX_CLASS_NAME})")
    for character in name:
        if unicodedata.category(character) in CONTROL:
            raise DataError(
                f"{where}: the class name {name!r} holds a control character ({ascii(character)[1:-1]}); "
                f"class names must be plain text"
            )
