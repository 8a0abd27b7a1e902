"""Bad data through --data-dir (and a damaged bundled copy): one clear line naming the file, status 2."""

import gzip
import shutil

import numpy as np
import pytest
from conftest import pipetrace_cli

from pipetrace.cli import main
from pipetrace.data import mnist

NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def idx(array: np.ndarray, kind: int = 0x08) -> bytes:
    header = bytes([0, 0, kind, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_folder(folder, **raw_overrides):
    """A small, valid MNIST-format folder (120 train, 20 test images), with some files replaced."""
    rng = np.random.default_rng(0)
    parts = {
        "train_images": idx(rng.integers(0, 256, (120, 28, 28))),
        "train_labels": idx(np.arange(120) % 10),
        "test_images": idx(rng.integers(0, 256, (20, 28, 28))),
        "test_labels": idx(np.arange(20) % 10),
    }
    folder.mkdir(exist_ok=True)
    for key, name in NAMES.items():
        raw = raw_overrides.get(key, gzip.compress(parts[key]))
        if raw is not None:
            (folder / name).write_bytes(raw)
    return folder


@pytest.mark.parametrize(
    "override, file, message",
    [
        ({"train_labels": None}, "train-labels-idx1-ubyte.gz", "file not found"),
        ({"test_images": b"this is not gzip data at all"}, "t10k-images-idx3-ubyte.gz", "not a gzip file"),
        ({"train_images": gzip.compress(idx(np.random.default_rng(1).integers(0, 256, (120, 28, 28))))[:2000]},
         "train-images-idx3-ubyte.gz", "truncated or damaged"),
        ({"train_images": gzip.compress(idx(np.zeros(50)))}, "train-images-idx3-ubyte.gz", "wrong IDX magic number 2049"),
        ({"test_images": gzip.compress(idx(np.zeros((20, 28, 28)))[:-10])}, "t10k-images-idx3-ubyte.gz", "the header says 20 x 28 x 28 = 15680 values, but the file holds 15670"),
        ({"test_labels": gzip.compress(idx(np.zeros(19)))}, "t10k-labels-idx1-ubyte.gz", "19 test labels for 20 images"),
        ({"train_labels": gzip.compress(idx(np.full(120, 12)))}, "train-labels-idx1-ubyte.gz", "label 12 at position 0 is outside 0..9"),
        ({"test_labels": b""}, "t10k-labels-idx1-ubyte.gz", "the file is empty"),
        ({"test_images": gzip.compress(idx(np.zeros((20, 7, 7))))}, "training images are 28 x 28 but test images are 7 x 7", ""),
    ],
)
def test_bad_data_folder(tmp_path, override, file, message):
    folder = write_folder(tmp_path / "data", **override)
    done = pipetrace_cli("run", "--data-dir", str(folder), "--epochs", "1", "--out", str(tmp_path / "run"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert file in done.stderr and message in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_a_valid_small_folder_trains(tmp_path):
    folder = write_folder(tmp_path / "data")
    done = pipetrace_cli("run", "--data-dir", str(folder), "--epochs", "1", "--quiet", "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "trace.json").is_file()


def test_damaged_bundled_copy_is_caught_by_its_checksum(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "bundled"
    shutil.copytree(mnist.BUNDLED_DIR, copy)
    labels = copy / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(labels.read_bytes())
    raw[-20] ^= 0xFF
    labels.write_bytes(bytes(raw))
    monkeypatch.setattr(mnist, "BUNDLED_DIR", copy)
    status = main(["run", "--epochs", "1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2
    assert "t10k-labels-idx1-ubyte.gz: checksum mismatch" in err and "Traceback" not in err


def test_debug_shows_the_traceback(tmp_path):
    done = pipetrace_cli("run", "--data-dir", str(tmp_path / "nowhere"), "--debug")
    assert done.returncode != 0 and "Traceback" in done.stderr and "DataError" in done.stderr
