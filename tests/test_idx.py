"""The IDX reader against the published facts about MNIST, and against damaged files."""

import gzip
import hashlib
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipetrace.data.idx import read_idx, read_idx_bytes
from pipetrace.data.mnist import BUNDLED_DIR
from pipetrace.errors import DataError

PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_MD5))
def test_bundled_files_match_the_published_md5(name):
    raw = gzip.decompress((BUNDLED_DIR / f"{name}.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == PUBLISHED_MD5[name]


def test_known_facts():
    train_labels = read_idx(BUNDLED_DIR / "train-labels-idx1-ubyte.gz", expect_dims=1)
    test_labels = read_idx(BUNDLED_DIR / "t10k-labels-idx1-ubyte.gz", expect_dims=1)
    images = read_idx(BUNDLED_DIR / "t10k-images-idx3-ubyte.gz", expect_dims=3)
    assert train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert (train_labels == 0).sum() == 5923 and (train_labels == 1).sum() == 6742
    assert (test_labels == 0).sum() == 980 and (test_labels == 1).sum() == 1135
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8


def header(ndim, dims, kind=0x08):
    return bytes([0, 0, kind, ndim]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize(
    "raw, expect_dims, message",
    [
        (b"", None, "empty"),
        (b"\x00\x00", None, "too short"),
        (b"\x01\x02\x08\x01" + bytes(4), None, "not an IDX file"),
        (header(1, [3], kind=0x0D) + bytes(12), None, "not supported"),
        (header(1, [3]) + bytes(3), 3, "wrong IDX magic number 2049"),
        (header(3, [2, 2, 2]) + bytes(7), 3, "holds 7"),
        (header(2, [2]) , None, "header is cut short"),
    ],
)
def test_damaged_headers_name_the_problem(raw, expect_dims, message):
    with pytest.raises(DataError, match=message):
        read_idx_bytes(raw, "x.idx", expect_dims)


def test_not_gzip_and_truncated_gzip(tmp_path):
    plain = tmp_path / "labels.gz"
    plain.write_bytes(header(1, [3]) + bytes(3))
    with pytest.raises(DataError, match="not a gzip file"):
        read_idx(plain)
    good = gzip.compress(header(1, [300]) + bytes(300))
    cut = tmp_path / "cut.gz"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated or damaged"):
        read_idx(cut)
    with pytest.raises(DataError, match="file not found"):
        read_idx(tmp_path / "missing.gz")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_an_array_or_a_data_error(raw):
    try:
        array = read_idx_bytes(raw, "fuzz")
    except DataError:
        return
    assert array.dtype == np.uint8 and array.size == len(raw) - 4 - 4 * raw[3]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_valid_files_give_an_array_or_a_data_error(data):
    valid = bytearray(header(3, [2, 3, 4]) + bytes(range(24)))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(valid) - 1))
        valid[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(valid)))
    try:
        array = read_idx_bytes(bytes(valid[:cut]), "fuzz", expect_dims=3)
    except DataError:
        return
    assert array.ndim == 3


def test_gzip_is_undone_in_bounded_reads_across_members_with_its_checksum_checked():
    import gzip as _gzip

    from pipetrace.data.idx import Gunzipped

    first, second = bytes(range(256)) * 40, b"the second member"
    stream = Gunzipped(_gzip.compress(first) + _gzip.compress(second))
    assert stream.read(10) == first[:10]
    assert stream.read(len(first) - 10 + len(second)) == first[10:] + second
    assert stream.read(1) == b""
    damaged = bytearray(_gzip.compress(first))
    damaged[-6] ^= 0xFF  # the CRC of the member
    with pytest.raises(zlib.error):
        Gunzipped(bytes(damaged)).read(len(first) + 1)
    with pytest.raises(EOFError):
        Gunzipped(_gzip.compress(first)[:-12]).read(len(first) + 1)
