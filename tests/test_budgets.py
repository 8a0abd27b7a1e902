"""Datasets built to exhaust memory or time, and names that break things: refused from their headers, clearly.

Each hostile file is small on disk. Where memory is the point, the run's peak resident memory is
measured (a memory bound, not a timing): the files below would take gigabytes if read first.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from conftest import ROOT, pipetrace_cli
from PIL import Image

from pipetrace import Trace
from pipetrace.data import load_dataset, load_image_folder, load_npz, read_idx
from pipetrace.data.budgets import DATA_BUDGET_ENV, MAX_CLASSES
from pipetrace.errors import DataError

MEMORY_BOUND = 1.5e9  # bytes of peak RSS for a run refused from its headers (importing TensorFlow included)


def run_measured(*args: str, env: dict | None = None) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in bytes) of `pipetrace run ARGS`, measured as the only child of a small process."""
    measure = ("import json, resource, subprocess, sys\n"
               "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
               "print(json.dumps([done.returncode, done.stderr, peak]))")
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    done = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "pipetrace", "run", *args],
                          capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=600)
    code, stderr, peak = json.loads(done.stdout)
    return code, stderr, peak


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def hostile_npz(path, x_train_shape, filler: int = 1 << 20):
    """An .npz whose x_train header claims `x_train_shape` but holds `filler` random bytes (about that size on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x_train.npy", npy_header(x_train_shape) + np.random.default_rng(0).bytes(filler))
        archive.writestr("y_train.npy", npy_bytes(np.arange(3) % 2))
        archive.writestr("x_test.npy", npy_bytes(np.zeros((2, 8, 8), np.uint8)))
        archive.writestr("y_test.npy", npy_bytes(np.array([0, 1])))
    return path


def small_npz(path, y_train, **extra):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (len(y_train), 8, 8), dtype=np.uint8), y_train=y_train,
             x_test=rng.integers(0, 256, (6, 8, 8), dtype=np.uint8), y_test=np.arange(6) % 2, **extra)
    return path


# ---- sizes from headers -----------------------------------------------------------------------

def test_a_small_npz_claiming_three_huge_images_is_refused_from_its_header(tmp_path):
    path = hostile_npz(tmp_path / "huge.npz", (3, 20000, 20000))
    assert path.stat().st_size < 1.1e6
    code, stderr, peak = run_measured("--dataset", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 2 and "Traceback" not in stderr
    assert f"{path}: x_train: images of 20000 x 20000 pixels are larger than pipetrace takes" in stderr
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e9:.2f} GB"


def test_an_npz_over_the_data_budget_says_how_to_raise_it(tmp_path):
    path = hostile_npz(tmp_path / "many.npz", (200_000, 64, 64, 3))  # 2.5 GB of uint8 claimed, 1 MB on disk
    code, stderr, peak = run_measured("--dataset", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 2 and "Traceback" not in stderr
    assert "x_train (200000 x 64 x 64 x 3 values of uint8) holds 2.46 GB" in stderr
    assert f"over pipetrace's data budget of 1.07 GB; if you mean it, raise the budget: {DATA_BUDGET_ENV}=3" in stderr
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e9:.2f} GB"


def test_a_small_idx_gz_with_a_huge_header_is_refused_before_it_is_decompressed(tmp_path):
    from test_robust_data import write_folder

    folder = write_folder(tmp_path / "data")
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = [compressor.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 1_000_000, 1000, 1000))]
    zeros = bytes(1 << 24)
    for _ in range(32):  # 512 MB of zeros, about 500 KB compressed
        body.append(compressor.compress(zeros))
    body.append(compressor.flush())
    hostile = folder / "train-images-idx3-ubyte.gz"
    hostile.write_bytes(b"".join(body))
    assert hostile.stat().st_size < 1e6
    code, stderr, peak = run_measured("--data-dir", str(folder), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert code == 2 and "Traceback" not in stderr
    assert f"{folder}: the four IDX files together holds 1e+03 GB" in stderr
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e9:.2f} GB"
    with pytest.raises(DataError, match="the header says 1000000 x 1000 x 1000 values, so it holds 1e\\+03 GB"):
        read_idx(hostile, expect_dims=3)


def test_idx_images_larger_than_a_network_input_are_refused(tmp_path):
    path = tmp_path / "big-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 1, 5000, 5000) + bytes(25_000_000)))
    with pytest.raises(DataError, match="images of 5000 x 5000 pixels are larger than pipetrace takes"):
        read_idx(path, expect_dims=3)


def test_the_data_budget_can_be_raised_and_must_be_a_number(tmp_path, monkeypatch):
    folder = tmp_path / "shapes"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((6, 6), 40 * i, np.uint8)).save(folder / name / f"{i}.png")
    monkeypatch.setenv(DATA_BUDGET_ENV, "0.000001")  # 1000 bytes; six 28 x 28 colour images need 14,112
    with pytest.raises(DataError, match=f"6 images at 28 x 28 in colour holds .*{DATA_BUDGET_ENV}=2"):
        load_image_folder(folder)
    monkeypatch.setenv(DATA_BUDGET_ENV, "0.0001")
    assert load_image_folder(folder).num_classes == 2
    monkeypatch.setenv(DATA_BUDGET_ENV, "lots")
    done = pipetrace_cli("run", "--dataset", str(folder), "--epochs", "1", "--out", str(tmp_path / "run"),
                         env={DATA_BUDGET_ENV: "lots"})
    assert done.returncode == 2 and f"{DATA_BUDGET_ENV}='lots': must be a positive number of gigabytes" in done.stderr


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height grey pixels, with almost no data behind it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def test_pillows_decompression_bomb_guard_still_holds(tmp_path):
    folder = tmp_path / "bomb"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / name / "fine.png")
    (folder / "b" / "bomb.png").write_bytes(png_claiming(40_000, 40_000))
    with pytest.raises(DataError, match=r"bomb.png: Image size \(1600000000 pixels\) exceeds limit .*make the image smaller"):
        load_image_folder(folder)


# ---- labels and classes -------------------------------------------------------------------------

def test_one_stray_label_is_named_instead_of_making_ten_thousand_classes(tmp_path):
    labels = np.arange(60) % 2
    labels[17] = 9999
    path = small_npz(tmp_path / "stray.npz", labels)
    done = pipetrace_cli("run", "--dataset", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (f"{path}: label 9999 appears once in y_train (first at y_train[17]); labels must be class numbers "
            f"0..K-1 with every class present") in done.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1] * 29 + [1, 2**63], dtype=np.uint64),
     re.escape("label 9223372036854775808 appears once in y_train (first at y_train[59]); labels must be class numbers")),
    (np.array([0.0, 1.0] * 29 + [1.0, 1e30]), "label 1e\\+30 appears once in y_train .* would mean over 1e\\+30 classes"),
    (np.array([0, 1] * 29 + [1, 5]), "label 5 appears once \\(first at y_train\\[59\\]\\), but no image has label 2, 3, 4;"),
    (np.array([0, 1] * 29 + [-3, 1]), "label -3 at y_train\\[58\\] is negative"),
    (np.array([0.0, 1.0] * 29 + [-1e30, 1.0]), "label -1e\\+30 at y_train\\[58\\] is negative"),
])
def test_label_values_get_a_message_about_what_is_wrong_with_them(tmp_path, labels, message):
    with pytest.raises(DataError, match=message) as caught:
        load_npz(small_npz(tmp_path / "labels.npz", labels))
    if "negative" not in message:
        assert "negative" not in str(caught.value)


def test_classes_are_capped(tmp_path):
    names = np.array([f"class {i}" for i in range(MAX_CLASSES + 1)])
    path = small_npz(tmp_path / "many.npz", np.arange(MAX_CLASSES + 1) % 2, class_names=names)
    with pytest.raises(DataError, match="class_names: 1,001 classes, more than pipetrace takes \\(1000 at most\\)"):
        load_npz(path)
    path = small_npz(tmp_path / "strings.npz", names)
    np.savez(path, **{**dict(np.load(path)), "y_test": names[:6]})
    with pytest.raises(DataError, match="the labels name: 1,001 classes"):
        load_npz(path)


@pytest.mark.parametrize("name", ["red\x1b[31m", "two\nlines", "bell\x07", "right-to-left\u202e"])
def test_class_names_with_control_characters_are_refused_before_training(tmp_path, name):
    path = small_npz(tmp_path / "names.npz", np.arange(60) % 2, class_names=np.array(["fine", name]))
    done = pipetrace_cli("run", "--dataset", str(path), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "holds a control character" in done.stderr and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "Data Flow" not in done.stdout


def test_folder_names_that_are_not_utf8_or_read_as_math_make_a_whole_run(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for raw_name in (b"caf\xe9", b"$1_to_$5", b"a^b_c$"):
        class_dir = os.path.join(os.fsencode(folder), raw_name)
        os.mkdir(class_dir)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(os.path.join(class_dir, b"%d.png" % i))
    out = tmp_path / "run"
    done = pipetrace_cli("run", "--dataset", str(folder), "--epochs", "1", "--image-size", "8x8", "--out", str(out))
    assert done.returncode == 0, done.stderr
    trace = Trace.load(out / "trace.json")
    assert trace.dataset["class_names"] == ["$1_to_$5", "a^b_c$", "caf\\xe9"]
    report = (out / "report.html").read_text(encoding="utf-8")
    chart_text = re.findall(r"<text[^>]*>([^<]*)</text>", "".join(report.split("<svg")[1:]))
    assert {"$1_to_$5", "a^b_c$", "caf\\xe9"} <= set(chart_text), "class names drawn as they are, not as math"
    shown = pipetrace_cli("show", str(out / "trace.json"))
    assert shown.returncode == 0 and "$1_to_$5" in shown.stdout, shown.stderr


def test_a_dataset_by_name_still_loads_within_the_budget():
    mnist = load_dataset("mnist")
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.num_classes == 10


def test_members_named_without_npy_are_checked_too(tmp_path):
    """NumPy also reads a member named plain `x_train`: its header is checked the same way, its bytes too."""
    for name, content, message in (
        ("huge.npz", npy_header((3, 20000, 20000)) + bytes(100), "x_train: images of 20000 x 20000 pixels"),
        ("junk.npz", b"hello", "x_train cannot be read, the file is damaged"),
    ):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x_train", content)
            archive.writestr("y_train.npy", npy_bytes(np.arange(3) % 2))
            archive.writestr("x_test.npy", npy_bytes(np.zeros((2, 8, 8), np.uint8)))
            archive.writestr("y_test.npy", npy_bytes(np.array([0, 1])))
        with pytest.raises(DataError, match=message):
            load_npz(path)
