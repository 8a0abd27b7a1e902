"""Every data source into one checked Dataset, and every bad input into one DataError naming the file."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from pipetrace.data import Dataset, load_dataset, load_digits, load_npz
from pipetrace.errors import DataError, SettingsError

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def check_valid(d: Dataset) -> None:
    """What every loader promises, whatever the source."""
    assert d.x_train.ndim in (3, 4) and d.x_train.shape[1:] == d.x_test.shape[1:]
    assert d.x_train.ndim == 3 or d.x_train.shape[-1] == 3
    assert len(d.x_train) == len(d.y_train) > 0 and len(d.x_test) == len(d.y_test) > 0
    for labels in (d.y_train, d.y_test):
        assert labels.dtype.kind in "iu" and labels.ndim == 1
        assert labels.min() >= 0 and labels.max() < d.num_classes
    assert d.num_classes >= 2 and len(set(d.class_names)) == d.num_classes
    assert d.pixel_max > 0
    for x in (d.x_train, d.x_test):
        assert x.dtype in (np.uint8, np.float32)
        assert 0 <= x.min() and x.max() <= d.pixel_max
    assert d.split and d.source and d.name


# ---- MNIST and IDX folders ----------------------------------------------------------------

def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_folder(folder, classes_txt: str | None = None, labels_top: int = 10):
    rng = np.random.default_rng(0)
    folder.mkdir()
    parts = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (40, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(40) % labels_top,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(10) % labels_top,
    }
    for name, array in parts.items():
        (folder / name).write_bytes(gzip.compress(idx(array)))
    if classes_txt is not None:
        (folder / "classes.txt").write_text(classes_txt)
    return folder


def test_mnist_by_name_is_the_bundled_copy():
    d = load_dataset("MNIST")
    assert (d.x_train.shape, d.x_test.shape, d.pixel_max) == ((60000, 28, 28), (10000, 28, 28), 255.0)
    assert d.class_names == [str(n) for n in range(10)]
    assert d.split.startswith("the official split") and all(f.verified for f in d.files)


def test_idx_folder_with_classes_txt_names_the_classes(tmp_path):
    folder = idx_folder(tmp_path / "fashion", "\n".join(FASHION) + "\n\n")
    for d in (load_dataset("mnist", data_dir=folder), load_dataset(folder)):
        check_valid(d)
        assert d.class_names == FASHION and d.name == "fashion" and len(d.x_train) == 40


def test_idx_folder_without_classes_txt_keeps_the_digits(tmp_path):
    assert load_dataset("mnist", data_dir=idx_folder(tmp_path / "f")).class_names == [str(n) for n in range(10)]


@pytest.mark.parametrize("text, message", [
    ("only one\n", r"lists 1 class name\(s\)"),
    ("a\n\nb\n", "line 2 is empty"),
    ("a\nb\na\n", "the class name 'a' appears twice"),
])
def test_bad_classes_txt(tmp_path, text, message):
    folder = idx_folder(tmp_path / "f", text)
    with pytest.raises(DataError, match=message) as caught:
        load_dataset("mnist", data_dir=folder)
    assert "classes.txt" in str(caught.value)


def test_classes_txt_with_fewer_names_than_labels(tmp_path):
    folder = idx_folder(tmp_path / "f", "a\nb\nc\n")
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: label 3 at position 3 is outside 0..2 "
                                        r"\(classes.txt names 3 classes\)"):
        load_dataset("mnist", data_dir=folder)


# ---- scikit-learn digits ------------------------------------------------------------------

def test_digits_facts():
    d = load_dataset("digits")
    check_valid(d)
    assert len(d.x_train) + len(d.x_test) == 1797
    assert d.image_shape == (8, 8) and d.x_train.dtype == np.uint8
    assert d.num_classes == 10 and d.pixel_max == 16.0 and int(d.x_train.max()) == 16
    assert d.split == "a seeded, stratified split: 80% train / 20% test per class, seed 0"
    together = np.concatenate([d.x_train, d.x_test]).reshape(1797, 64)
    # The same images as scikit-learn 1.9's own loader, each exactly once: the sha256 of its
    # `load_digits().data` rows as uint8 bytes, sorted and joined (computed with scikit-learn).
    digest = hashlib.sha256(b"".join(sorted(map(bytes, together)))).hexdigest()
    assert digest == "d34fb8ecae8dd76408eb4241f93dd5e31df5a84fe18291efd0ee1ae70b2122aa"
    labels = np.concatenate([d.y_train, d.y_test])  # UCI's published class counts
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_a_damaged_digits_copy_is_caught_by_its_checksum(tmp_path, monkeypatch):
    import shutil

    from pipetrace.data import digits

    copy = tmp_path / "digits"
    shutil.copytree(digits.BUNDLED_DIR, copy)
    raw = bytearray((copy / "digits.csv.gz").read_bytes())
    raw[-30] ^= 0xFF
    (copy / "digits.csv.gz").write_bytes(bytes(raw))
    monkeypatch.setattr(digits, "BUNDLED_DIR", copy)
    with pytest.raises(DataError, match=r"digits.csv.gz: checksum mismatch .* the bundled data is damaged; reinstall"):
        load_digits()
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match=r"SHA256SUMS: cannot be read .*reinstall pipetrace"):
        load_digits()


def test_digits_split_is_stratified():
    d = load_digits(seed=0, test_fraction=0.25)
    train_counts, test_counts = np.bincount(d.y_train, minlength=10), np.bincount(d.y_test, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all()
    totals = train_counts + test_counts
    assert np.abs(test_counts - totals * 0.25).max() <= 0.5  # each class rounded to its own share
    assert np.abs(train_counts / len(d.y_train) - test_counts / len(d.y_test)).max() < 0.01


def test_digits_same_seed_same_split_other_seed_other_split():
    a, b, c = load_digits(seed=0), load_digits(seed=0), load_digits(seed=1)
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert c.split.endswith("seed 1")


def test_test_fraction_must_leave_both_sides():
    with pytest.raises(SettingsError, match="between 0 and 1"):
        load_dataset("digits", test_fraction=1.0)


# ---- .npz files ---------------------------------------------------------------------------

def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def good_arrays(**overrides):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (12, 5, 5), dtype=np.uint8), y_train=np.arange(12) % 3,
                  x_test=rng.integers(0, 256, (6, 5, 5), dtype=np.uint8), y_test=np.arange(6) % 3)
    arrays.update(overrides)
    return {k: v for k, v in arrays.items() if v is not None}


def test_npz_uint8_with_class_names(tmp_path):
    path = npz(tmp_path / "toy.npz", **good_arrays(class_names=np.array(["cat", "dog", "emu"])))
    d = load_dataset(path)
    check_valid(d)
    assert d.class_names == ["cat", "dog", "emu"] and d.pixel_max == 255.0 and d.name == "toy"
    assert d.split.startswith("the file's own split")
    assert np.array_equal(d.x_train, good_arrays()["x_train"])
    assert d.files[0].name == "toy.npz" and len(d.files[0].sha256) == 64


def test_npz_string_labels_become_sorted_classes(tmp_path):
    y_train = np.array(["zebra", "ant", "moth"] * 4)
    path = npz(tmp_path / "s.npz", **good_arrays(y_train=y_train, y_test=np.array([b"ant", b"moth", b"zebra"] * 2)))
    d = load_npz(path)
    assert d.class_names == ["ant", "moth", "zebra"]
    assert d.y_train[:3].tolist() == [2, 0, 1] and d.y_test[:3].tolist() == [0, 1, 2]


def test_npz_float_images_in_0_1(tmp_path):
    x = np.random.default_rng(1).random((12, 4, 4)).astype(np.float64)
    d = load_npz(npz(tmp_path / "f.npz", **good_arrays(x_train=x, x_test=x[:6])))
    assert d.pixel_max == 1.0 and d.x_train.dtype == np.float32 and "1 taken as full ink" in d.source
    np.testing.assert_allclose(d.x_train, x, rtol=1e-6)


def test_npz_whole_number_images_keep_their_range_as_uint8(tmp_path):
    x = np.random.default_rng(1).integers(0, 17, (12, 8, 8)).astype(np.int64)
    d = load_npz(npz(tmp_path / "i.npz", **good_arrays(x_train=x, x_test=x[:6])))
    assert d.x_train.dtype == np.uint8 and d.pixel_max == float(x.max())
    assert f"{int(x.max())} taken as full ink" in d.source


def test_npz_colour_and_squeezed_channel(tmp_path):
    rng = np.random.default_rng(2)
    colour = load_npz(npz(tmp_path / "c.npz", **good_arrays(
        x_train=rng.integers(0, 256, (12, 4, 4, 3), dtype=np.uint8),
        x_test=rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8))))
    assert colour.image_shape == (4, 4, 3) and colour.channels == 3
    one = load_npz(npz(tmp_path / "g.npz", **good_arrays(
        x_train=np.zeros((12, 4, 4, 1), np.uint8), x_test=np.zeros((6, 4, 4, 1), np.uint8),
        y_train=(np.arange(12) % 3).reshape(12, 1))))  # CIFAR-style N x 1 labels
    assert one.image_shape == (4, 4) and one.channels == 1 and one.y_train.ndim == 1


NPZ_ERRORS = [
    (dict(y_test=None), "no 'y_test' array"),
    (dict(y_train=np.arange(11) % 3), "x_train holds 12 images but y_train holds 11 labels"),
    (dict(x_test=np.zeros((6, 6, 6), np.uint8)), "images of different sizes: x_train images are 5 x 5 but x_test"),
    (dict(x_train=np.full((12, 5, 5), np.nan)), "x_train image 0 holds NaN"),
    (dict(x_test=np.full((6, 5, 5), -1.5)), "x_test image 0 holds a negative pixel value"),
    (dict(y_train=np.arange(12) * 0.5), "is not a whole number"),
    (dict(y_train=np.ones(12, np.complex64)), "labels must be integers or strings"),
    (dict(y_train=np.arange(12) - 1), "label -1 at y_train\\[0\\] is negative"),
    (dict(y_train=np.zeros(12, int), y_test=np.zeros(6, int)), "a classifier needs at least 2 classes"),
    (dict(y_train=np.eye(3)[np.arange(12) % 3]), "looks one-hot"),
    (dict(x_train=np.zeros((12, 25), np.uint8)), "x_train has shape 12 x 25; expected images"),
    (dict(x_train=np.zeros((12, 5, 5, 4), np.uint8)), "C = 1 or 3"),
    (dict(x_test=np.zeros((0, 5, 5), np.uint8), y_test=np.zeros(0, int)), "x_test holds no images"),
    (dict(x_train=np.array(["a"] * 12)), "image pixels must be numbers"),
    (dict(y_test=np.array(["a"] * 6)), "y_train holds numbers but y_test holds strings"),
    (dict(class_names=np.array(["a", "b"])), "label 2 at y_train\\[2\\] is outside 0..1 \\(class_names has 2 names\\)"),
    (dict(y_train=np.full(12, 10**9)), "would mean 1000000001 classes"),
]


@pytest.mark.parametrize("overrides, message", NPZ_ERRORS)
def test_bad_npz(tmp_path, overrides, message):
    path = npz(tmp_path / "bad.npz", **good_arrays(**overrides))
    with pytest.raises(DataError, match=message) as caught:
        load_dataset(path)
    assert str(caught.value).startswith(str(path))


def test_npz_file_problems(tmp_path):
    missing = tmp_path / "missing.npz"
    with pytest.raises(DataError, match=f"^{missing}: file not found$"):
        load_dataset(missing)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match=f"^{junk}: not an .npz file NumPy can read"):
        load_dataset(junk)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(DataError, match="holds a single array"):
        load_dataset(single)
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, **good_arrays(y_train=np.array([object()] * 12, dtype=object)))
    with pytest.raises(DataError, match="y_train holds Python objects"):
        load_dataset(pickled)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(npz(tmp_path / "whole.npz", **good_arrays()).read_bytes()[:-200])
    with pytest.raises(DataError, match=str(truncated)):
        load_dataset(truncated)


MUTATIONS = ["empty part", "extra label", "other size", "flat", "nan", "inf", "negative pixel",
             "negative label", "half label", "mixed label kinds", "no x_train", "no y_test", "one class",
             "short class_names", "empty class_names", "4 channels"]


@st.composite
def npz_contents(draw):
    """A valid small dataset of a drawn type and layout, then none, one or two rules broken."""
    side = draw(st.integers(1, 4))
    layout = draw(st.sampled_from([(side, side), (side, side, 1), (side, side, 3)]))
    dtype = draw(st.sampled_from([np.uint8, np.int16, np.float32, np.float64, np.bool_]))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(0, draw(st.sampled_from([1, 16, 255])), width=np.dtype(dtype).itemsize * 8)
    else:
        elements = st.integers(0, 255) if dtype is not np.bool_ else st.booleans()
    label_kind = draw(st.sampled_from(["int", "column", "float", "str", "bytes"]))
    arrays = {}
    for part in ("train", "test"):
        n = draw(st.integers(1, 6))
        arrays[f"x_{part}"] = draw(hnp.arrays(dtype, (n, *layout), elements=elements))
        classes = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        labels = np.array(classes, dtype=np.int64)
        if label_kind == "column":
            labels = labels.reshape(-1, 1)
        elif label_kind == "float":
            labels = labels.astype(np.float64)
        elif label_kind in ("str", "bytes"):
            labels = np.array(["cat", "dog", "é", "emu"])[labels]
            labels = np.char.encode(labels, "utf-8") if label_kind == "bytes" else labels
        arrays[f"y_{part}"] = labels
    if label_kind in ("int", "column") and draw(st.booleans()):
        arrays["class_names"] = np.array(["a", "b", "c", "d"])
    mutations = draw(st.lists(st.sampled_from(MUTATIONS), max_size=2))
    for mutation in sorted(mutations, key=lambda m: m.startswith("no ")):  # drop keys last
        part = draw(st.sampled_from(["train", "test"]))
        x, y = f"x_{part}", f"y_{part}"
        if mutation in ("no x_train", "no y_test"):
            arrays.pop(mutation[3:], None)
            continue
        if x not in arrays or len(arrays[x]) == 0:
            continue  # already emptied or dropped: nothing left to break
        if mutation == "empty part":
            arrays[x], arrays[y] = arrays[x][:0], arrays[y][:0]
        elif mutation == "extra label":
            arrays[y] = np.concatenate([arrays[y], arrays[y][:1]])
        elif mutation == "other size":
            arrays[x] = np.zeros((len(arrays[x]), side + 1, side), np.uint8)
        elif mutation == "flat":
            arrays[x] = arrays[x].reshape(len(arrays[x]), -1)
        elif mutation in ("nan", "inf", "negative pixel"):
            arrays[x] = arrays[x].astype(np.float32)
            arrays[x].flat[-1] = {"nan": np.nan, "inf": np.inf, "negative pixel": -0.5}[mutation]
        elif mutation == "negative label":
            arrays[y] = np.full(len(arrays[y]), -1)
        elif mutation == "half label":
            arrays[y] = np.full(len(arrays[y]), 0.5)
        elif mutation == "mixed label kinds":
            arrays[y] = np.array(["a"] * len(arrays[y])) if arrays[y].dtype.kind not in "US" else np.ones(len(arrays[y]))
        elif mutation == "one class":
            for key in ("y_train", "y_test"):
                same = "cat" if arrays[key].dtype.kind in "US" else 0
                arrays[key] = np.full(arrays[key].shape, same)
        elif mutation == "short class_names":
            arrays["class_names"] = np.array(["a", "b"])
        elif mutation == "empty class_names":
            arrays["class_names"] = np.array([], dtype=str)
        elif mutation == "4 channels":
            arrays[x] = np.zeros((len(arrays[x]), side, side, 4), np.uint8)
    return arrays


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contents=npz_contents())
def test_random_npz_loads_or_says_why(tmp_path, contents):
    path = tmp_path / "random.npz"
    np.savez(path, **contents)
    try:
        d = load_npz(path)
    except DataError as error:
        assert str(error).startswith(str(path))
        return
    check_valid(d)
    for part in ("train", "test"):  # every label still means the class it meant in the file
        original, images = contents[f"y_{part}"].ravel(), contents[f"x_{part}"]
        got = getattr(d, f"y_{part}")
        if original.dtype.kind in "US":
            text = np.char.decode(original, "utf-8") if original.dtype.kind == "S" else original
            assert np.array(d.class_names)[got].tolist() == text.tolist()
        else:
            assert got.tolist() == original.astype(np.int64).tolist()
        assert np.array_equal(getattr(d, f"x_{part}").astype(np.float64),
                              images.reshape(getattr(d, f"x_{part}").shape).astype(np.float32).astype(np.float64))


# ---- image folders ------------------------------------------------------------------------

def image_folder(root, classes=("circle", "square"), per_class=5, colour=False, size=(10, 12)):
    """A few tiny PNGs per class: class i is drawn at brightness 40 + 80 i (and tinted red if `colour`)."""
    root.mkdir(exist_ok=True)
    rng = np.random.default_rng(3)
    for i, name in enumerate(classes):
        (root / name).mkdir()
        for j in range(per_class):
            gray = np.clip(40 + 80 * i + rng.integers(-5, 6, size), 0, 255).astype(np.uint8)
            if colour:
                pixels = np.stack([gray, gray // 2, gray // 3], axis=-1)
                Image.fromarray(pixels, "RGB").save(root / name / f"{j}.png")
            else:
                Image.fromarray(gray, "L").save(root / name / f"{j}.png")
    return root


def test_grayscale_image_folder(tmp_path):
    root = image_folder(tmp_path / "shapes")
    (root / "circle" / ".DS_Store").write_bytes(b"\0\1junk")  # hidden files are skipped
    d = load_dataset(root, image_size=(6, 7))
    check_valid(d)
    assert d.class_names == ["circle", "square"] and d.name == "shapes"
    assert d.image_shape == (6, 7) and d.x_train.dtype == np.uint8 and d.pixel_max == 255.0
    assert len(d.x_train) == 8 and len(d.x_test) == 2
    assert sorted(d.y_test.tolist()) == [0, 1]  # stratified: one of each class
    for x, y in zip(np.concatenate([d.x_train, d.x_test]), np.concatenate([d.y_train, d.y_test])):
        assert abs(float(x.mean()) - (40 + 80 * y)) < 6  # each image kept its class's brightness
    assert "grayscale (decided from the images)" in d.source and "resized to 6 x 7" in d.source
    assert d.split == "a seeded, stratified split: 80% train / 20% test per class, seed 0"
    assert [f.name for f in d.files] == ["circle/ (5 images)", "square/ (5 images)"]


def test_colour_image_folder_and_forced_grayscale(tmp_path):
    root = image_folder(tmp_path / "tinted", classes=("a", "b", "c"), colour=True)
    d = load_dataset(root, image_size=(10, 12), seed=4)
    check_valid(d)
    assert d.image_shape == (10, 12, 3) and d.num_classes == 3
    assert (d.x_train[..., 0] > d.x_train[..., 2]).any()  # the red tint survived
    gray = load_dataset(root, image_size=(10, 12), color="grayscale", seed=4)
    assert gray.image_shape == (10, 12)
    expected = np.asarray(Image.fromarray(d.x_train[0]).convert("L"))
    assert np.array_equal(gray.x_train[0], expected)  # Pillow's own luma
    rgb_of_gray = load_dataset(image_folder(tmp_path / "plain"), color="rgb")
    assert rgb_of_gray.image_shape == (28, 28, 3)


def test_image_folder_reads_jpeg_and_nested_folders(tmp_path):
    root = image_folder(tmp_path / "mixed")
    (root / "square" / "more").mkdir()
    Image.fromarray(np.full((30, 30), 200, np.uint8)).save(root / "square" / "more" / "big.jpg")
    d = load_dataset(root, image_size=(8, 8))
    assert len(d.y_train) + len(d.y_test) == 11


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    root = image_folder(tmp_path / "deep")
    deep = (np.arange(16).reshape(4, 4) * 4369).astype(np.uint16)  # 0 .. 65535
    Image.fromarray(deep).save(root / "circle" / "deep.png")
    d = load_dataset(root, image_size=(4, 4))
    images = np.concatenate([d.x_train, d.x_test])
    match = [x for x in images if x[0, 0] == 0 and x[3, 3] == 255]
    assert len(match) == 1 and match[0][0, 1] == 17  # 4369 / 257


def test_image_folder_errors(tmp_path):
    root = image_folder(tmp_path / "bad")
    (root / "square" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"notes.txt: not an image Pillow can read"):
        load_dataset(root)

    root = image_folder(tmp_path / "damaged")
    good = (root / "circle" / "0.png").read_bytes()
    (root / "circle" / "0.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"circle/0.png: a damaged or unreadable image"):
        load_dataset(root)

    root = image_folder(tmp_path / "one", classes=("only",))
    with pytest.raises(DataError, match=r"one: needs one subfolder per class, at least 2 \(found 1: only\)"):
        load_dataset(root)

    root = image_folder(tmp_path / "few", per_class=1)
    with pytest.raises(DataError, match=r"few: class 'circle' has only 1 image"):
        load_dataset(root)

    root = image_folder(tmp_path / "empty")
    (root / "ghost").mkdir()
    with pytest.raises(DataError, match=r"ghost: the class folder holds no images"):
        load_dataset(root)

    with pytest.raises(DataError, match=r"nowhere: no such file or folder, and not a dataset name"):
        load_dataset(str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match="image size"):
        load_dataset(image_folder(tmp_path / "ok"), image_size=(0, 5))
    with pytest.raises(SettingsError, match="color 'cmyk'"):
        load_dataset(tmp_path / "ok", color="cmyk")
    with pytest.raises(SettingsError, match="goes with the dataset 'mnist'"):
        load_dataset("digits", data_dir=tmp_path)
