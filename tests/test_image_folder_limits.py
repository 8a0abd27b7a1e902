"""An image folder is input from anyone (the lab offers it to whoever has the token): no links out, no image that costs gigabytes.

A symbolic link in the folder that leads out of it is refused by name, never read. An image's
decoded size (width x height x bands x bytes, from its header) is budgeted before Pillow
decodes it: a 329 KB 16-bit PNG just under Pillow's pixel limit once cost 4.8 GB, converted to
float64 whole. What is within the budget is converted in integers, a band of rows at a time.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from PIL import Image

from pipetrace.data import budgets
from pipetrace.data.image_folder import load_image_folder
from pipetrace.errors import DataError


def _folder(root, shape=(6, 6), mode="L", count=3):
    for name, shade in (("dark", 20), ("light", 230)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            value = shade * 257 if mode == "I;16" else shade
            pixels = np.full(shape, value, np.uint16 if mode == "I;16" else np.uint8)
            image = Image.fromarray(pixels) if mode == "L" else Image.frombytes("I;16", shape[::-1], pixels.tobytes())
            image.save(root / name / f"{i}.png")
    return root


def test_a_link_to_a_file_outside_the_folder_is_refused_by_name(tmp_path):
    root = _folder(tmp_path / "data")
    outside = tmp_path / "elsewhere.png"
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(outside)
    (root / "dark" / "borrowed.png").symlink_to(outside)
    with pytest.raises(DataError, match="borrowed.png: a symbolic link out of the folder"):
        load_image_folder(root, image_size=(4, 4))


def test_a_class_folder_linked_from_outside_is_refused_by_name(tmp_path):
    root = _folder(tmp_path / "data")
    outside = tmp_path / "secrets"
    outside.mkdir()
    Image.fromarray(np.zeros((6, 6), np.uint8)).save(outside / "a.png")
    (root / "zz").symlink_to(outside)
    (root / "light" / "deeper").symlink_to(outside)
    with pytest.raises(DataError, match="a symbolic link out of the folder"):
        load_image_folder(root, image_size=(4, 4))


def test_a_link_that_stays_inside_the_folder_counts_as_its_file(tmp_path):
    root = _folder(tmp_path / "data")
    (root / "dark" / "again.png").symlink_to(root / "dark" / "0.png")
    data = load_image_folder(root, image_size=(4, 4))
    assert len(data.y_train) + len(data.y_test) == 7


def test_an_image_that_decodes_past_the_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    root = _folder(tmp_path / "data", shape=(1000, 1000), mode="I;16", count=1)  # 2 MB decoded each
    monkeypatch.setattr(budgets, "MAX_DECODED_IMAGE_BYTES", 2**20)
    with pytest.raises(DataError, match=r"1000 x 1000 pixels, 1 band\(s\) of 16 bits, decode to 0.002 GB"):
        load_image_folder(root, image_size=(4, 4))


def test_16_bit_images_are_scaled_exactly_without_a_float64_copy_of_the_whole_image(tmp_path):
    root = _folder(tmp_path / "data", shape=(2000, 2000), mode="I;16", count=2)  # 8 MB decoded each
    tracemalloc.start()
    try:
        data = load_image_folder(root, image_size=(4, 4))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sorted({int(v) for v in np.concatenate([data.x_train, data.x_test]).ravel()}) == [20, 230]
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB to read four 8 MB images"


def test_a_stop_asked_while_a_folder_is_read_ends_the_reading_between_images(tmp_path, monkeypatch):
    """The lab's Stop while a --data folder loads: the reading ends at the next image (interrupts.stop_when),
    and only a stop check that says so ends it."""
    from PIL import Image

    from pipetrace.data import image_folder
    from pipetrace.interrupts import stop_when

    for name in ("a", "b"):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(5):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / "data" / name / f"{i}.png")
    read = []
    real = image_folder._read_bytes
    monkeypatch.setattr(image_folder, "_read_bytes", lambda path: read.append(path) or real(path))
    with stop_when(lambda: len(read) >= 3):
        with pytest.raises(KeyboardInterrupt):
            image_folder.load_image_folder(tmp_path / "data")
    assert len(read) == 3
    read.clear()
    with stop_when(lambda: False):
        dataset = image_folder.load_image_folder(tmp_path / "data")
    assert len(read) == 10 and len(dataset.x_train) + len(dataset.x_test) == 10
