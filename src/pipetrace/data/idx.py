"""A small, strict reader for the IDX format that MNIST (and Fashion-MNIST) ship in.

The layout: two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of
dimensions, one big-endian 4-byte size per dimension, then the values, row-major.
Everything is checked, so a damaged file gives a `DataError` that names it, never an
arbitrary exception.

>>> import gzip, io, numpy as np
>>> raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 5, 0, 4])
>>> read_idx_bytes(raw, "labels").tolist()
[5, 0, 4]
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from pipetrace.errors import DataError

UNSIGNED_BYTE = 0x08
MAX_DIMENSIONS = 4


def read_idx(path: str | Path, expect_dims: int | None = None) -> np.ndarray:
    """Read a gzip-compressed (``.gz``) or plain IDX file into a uint8 array."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from error
    if path.suffix == ".gz":
        raw = _gunzip(raw, path)
    return read_idx_bytes(raw, str(path), expect_dims)


def _gunzip(raw: bytes, path: Path) -> bytes:
    if not raw:
        raise DataError(f"{path}: the file is empty")
    if raw[:2] != b"\x1f\x8b":
        raise DataError(f"{path}: not a gzip file (it does not start with the gzip signature)")
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise DataError(f"{path}: the gzip data is truncated or damaged ({error})") from error


def read_idx_bytes(raw: bytes, name: str, expect_dims: int | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes; `name` is only used in error messages."""
    if len(raw) == 0:
        raise DataError(f"{name}: the file is empty")
    if len(raw) < 4:
        raise DataError(f"{name}: only {len(raw)} bytes, too short for an IDX header")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{name}: not an IDX file (the magic number must start with two zero bytes)")
    if raw[2] != UNSIGNED_BYTE:
        raise DataError(
            f"{name}: IDX value type 0x{raw[2]:02x} is not supported (only 0x08, unsigned bytes)"
        )
    ndim = raw[3]
    if not 1 <= ndim <= MAX_DIMENSIONS:
        raise DataError(f"{name}: IDX magic number says {ndim} dimensions, expected 1 to {MAX_DIMENSIONS}")
    if expect_dims is not None and ndim != expect_dims:
        magic = 2048 + expect_dims
        raise DataError(
            f"{name}: wrong IDX magic number {2048 + ndim} ({ndim} dimensions), expected {magic}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: the header is cut short ({len(raw)} of {header} bytes)")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(raw) - header
    if actual != expected:
        shape = " x ".join(map(str, dims))
        raise DataError(
            f"{name}: the header says {shape} = {expected} values, but the file holds {actual}"
        )
    return np.frombuffer(raw, dtype=np.uint8, count=expected, offset=header).reshape(dims)
