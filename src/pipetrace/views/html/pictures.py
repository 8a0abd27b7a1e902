"""Digit images as tiny inline PNGs (data: URIs), so the page shows them with no JavaScript and no files.

A 28 x 28 grey PNG is about 300 bytes: the whole gallery costs less than one chart.
The encoder is the standard library's zlib plus the PNG chunk layout; nothing to install.
"""

from __future__ import annotations

import base64
import struct
import zlib

from collections.abc import Sequence

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_uri(pixels: Sequence[Sequence[int]]) -> str:
    """A data: URI of an 8-bit grey PNG of `pixels` (rows of 0..255 integers), white ink on black."""
    height, width = len(pixels), len(pixels[0]) if pixels else 0
    raw = b"".join(b"\x00" + bytes(max(0, min(255, int(v))) for v in row) for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale, no interlace
    data = PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def strip_uri(pixels: Sequence[Sequence[int]], start: int = 0, stop: int | None = None) -> str:
    """Values start..stop of the image read row by row into one line: what Flatten hands the network."""
    return png_uri([[v for row in pixels for v in row][start:stop]])


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
