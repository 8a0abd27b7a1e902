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

import contextlib
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy as np

from pipetrace.data.budgets import check_data_bytes, check_image_side
from pipetrace.data.names import readable
from pipetrace.errors import DataError

UNSIGNED_BYTE = 0x08
MAX_DIMENSIONS = 4
CHUNK = 1 << 20  # bytes read at a time when counting what follows the values


def read_idx(path: str | Path, expect_dims: int | None = None) -> np.ndarray:
    """Read a gzip-compressed (``.gz``) or plain IDX file into a uint8 array.

    The header is read first and the size it promises checked against the data budget, so a
    small file that claims gigabytes is refused before anything else is decompressed.
    """
    with _opened(path) as (stream, name, size):
        return _read(stream, name, expect_dims, size)


def idx_shape(path: str | Path, expect_dims: int | None = None) -> list[int]:
    """The dimensions an IDX file's header promises, read without reading (or decompressing) the values."""
    with _opened(path, whole=False) as (stream, name, _):
        return _header(stream, name, expect_dims)


@contextlib.contextmanager
def _opened(path: str | Path, whole: bool = True):
    """(stream of the IDX bytes, the name for messages, their length if known): gzip undone as it is read.

    `whole`: the values will be read, so the compressed file is read at once (see `Gunzipped`);
    otherwise only as much of it as the reads need.
    """
    path = Path(path)
    name = readable(path)
    if not path.is_file():
        raise DataError(f"{name}: file not found")
    gz = path.suffix == ".gz"
    try:
        with path.open("rb") as handle:
            if not gz:
                yield handle, name, path.stat().st_size
                return
            signature = handle.read(2)
            if not signature:
                raise DataError(f"{name}: the file is empty")
            if signature != b"\x1f\x8b":
                raise DataError(f"{name}: not a gzip file (it does not start with the gzip signature)")
            size = path.stat().st_size
            check_data_bytes(size, f"{name}: the compressed file")  # read whole below: bounded first
            handle.seek(0)
            yield (Gunzipped(handle.read()) if whole else gzip.GzipFile(fileobj=handle, mode="rb")), name, None
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise DataError(f"{name}: the gzip data is truncated or damaged ({error})") from error
    except OSError as error:
        what = "the gzip data is truncated or damaged" if gz else "cannot be read"
        raise DataError(f"{name}: {what} ({error.strerror or error})") from error


class Gunzipped:
    """The gzip data in `compressed`, undone as it is read, each `read(n)` in one call into zlib.

    Python's `gzip.GzipFile` decompresses in small pieces, taking the interpreter lock between
    them; while Keras imports in another thread that made reading MNIST ten times slower. Here a
    read of the values is one call that releases the lock, and `n` still bounds what it makes,
    so a small file that promises gigabytes makes no more than the header allowed.
    """

    def __init__(self, compressed: bytes):
        self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing, its CRC checked
        self._pending = compressed

    def read(self, n: int) -> bytes:
        parts = []
        while n > 0:
            if not self._pending:
                if not self._inflate.eof:
                    raise EOFError("compressed file ended before the end-of-stream marker was reached")
                break
            before = self._pending
            part = self._inflate.decompress(before, n)
            self._pending = self._inflate.unconsumed_tail
            if not part and not self._inflate.eof and self._pending == before:
                raise EOFError("the compressed data makes no progress")
            if self._inflate.eof:  # the member ended: what follows is another member (or nothing)
                self._pending = self._inflate.unused_data
                if self._pending:
                    self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            parts.append(part)
            n -= len(part)
        return b"".join(parts)


def read_idx_bytes(raw: bytes, name: str, expect_dims: int | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes; `name` is only used in error messages."""
    return _read(io.BytesIO(raw), name, expect_dims, size=len(raw))


def _header(stream, name: str, expect_dims: int | None) -> list[int]:
    head = stream.read(4)
    if len(head) == 0:
        raise DataError(f"{name}: the file is empty")
    if len(head) < 4:
        raise DataError(f"{name}: only {len(head)} bytes, too short for an IDX header")
    if head[0] != 0 or head[1] != 0:
        raise DataError(f"{name}: not an IDX file (the magic number must start with two zero bytes)")
    if head[2] != UNSIGNED_BYTE:
        raise DataError(
            f"{name}: IDX value type 0x{head[2]:02x} is not supported (only 0x08, unsigned bytes)"
        )
    ndim = head[3]
    if not 1 <= ndim <= MAX_DIMENSIONS:
        raise DataError(f"{name}: IDX magic number says {ndim} dimensions, expected 1 to {MAX_DIMENSIONS}")
    if expect_dims is not None and ndim != expect_dims:
        magic = 2048 + expect_dims
        raise DataError(
            f"{name}: wrong IDX magic number {2048 + ndim} ({ndim} dimensions), expected {magic}"
        )
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{name}: the header is cut short ({4 + len(sizes)} of {4 + 4 * ndim} bytes)")
    return [int.from_bytes(sizes[4 * i : 4 + 4 * i], "big") for i in range(ndim)]


def _read(stream, name: str, expect_dims: int | None, size: int | None = None) -> np.ndarray:
    """Header, budget, then exactly the values the header promises; `size`: the whole length, when known."""
    dims = _header(stream, name, expect_dims)
    header = 4 + 4 * len(dims)
    expected = math.prod(dims)
    shape = " x ".join(map(str, dims))
    if size is not None and size - header != expected:
        raise DataError(f"{name}: the header says {shape} = {expected} values, but the file holds {size - header}")
    check_data_bytes(expected, f"{name}: the header says {shape} values, so it")
    if len(dims) == 3:
        check_image_side(dims[1], dims[2], name)
    values = stream.read(expected)
    if len(values) < expected:
        raise DataError(f"{name}: the header says {shape} = {expected} values, but the file holds {len(values)}")
    if size is None and stream.read(1):
        raise DataError(f"{name}: the header says {shape} = {expected} values, but the file holds {_more(stream, expected)}")
    return np.frombuffer(values, dtype=np.uint8).reshape(dims)


def _more(stream, expected: int) -> str:
    """How many values a stream held past `expected` (counted without keeping them, up to the data budget)."""
    total = expected + 1
    limit = expected + (1 << 30)
    while total < limit:
        chunk = stream.read(CHUNK)
        if not chunk:
            return str(total)
        total += len(chunk)
    return f"more than {expected} (at least {total})"
