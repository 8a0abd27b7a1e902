"""A NumPy ``.npz`` file with ``x_train``, ``y_train``, ``x_test``, ``y_test``: the layout Keras' loaders return.

Images may be uint8 (full ink = 255) or any other non-negative numbers (full ink = 1 when
they lie in 0..1, else their largest value, said in the source text); labels may be class
numbers or strings (strings become classes in sorted order). An optional ``class_names`` array
names the classes. Everything is checked, so a bad file gives one `DataError` that names it.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "toy.npz")
>>> np.savez(path, x_train=np.zeros((4, 3, 3), np.uint8), y_train=["b", "a", "b", "a"],
...          x_test=np.zeros((2, 3, 3), np.uint8), y_test=["a", "b"])
>>> d = load_npz(path)
>>> d.class_names, d.y_train.tolist(), d.pixel_max
(['a', 'b'], [1, 0, 1, 0], 255.0)
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from pipetrace.data.budgets import MAX_CLASSES, check_class_count, check_data_bytes, check_image_side
from pipetrace.data.dataset import Dataset, SourceFile, file_sha256
from pipetrace.data.names import check_class_name, readable
from pipetrace.errors import DataError

KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLIT = "the file's own split: x_train and y_train for training, x_test and y_test for testing"


def load_npz(path: str | Path) -> Dataset:
    """Load and check an ``.npz`` dataset; see the module docstring for what it accepts.

    >>> load_npz("no-such-file.npz")
    Traceback (most recent call last):
    pipetrace.errors.DataError: no-such-file.npz: file not found
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found" if not path.is_dir() else f"{path}: is a folder, not an .npz file")
    _check_headers(path)
    arrays = _read(path)
    x_train = _image_array(arrays["x_train"], "x_train", path)
    x_test = _image_array(arrays["x_test"], "x_test", path)
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(
            f"{path}: images of different sizes: x_train images are {_size(x_train.shape[1:])} but x_test "
            f"images are {_size(x_test.shape[1:])}"
        )
    (x_train, x_test), pixel_max, pixels = _scaled_storage(x_train, x_test, path)
    y_train = _label_array(arrays["y_train"], "y_train", path)
    y_test = _label_array(arrays["y_test"], "y_test", path)
    for images, labels, x_key, y_key in ((x_train, y_train, "x_train", "y_train"), (x_test, y_test, "x_test", "y_test")):
        if len(images) != len(labels):
            raise DataError(f"{path}: {x_key} holds {len(images)} images but {y_key} holds {len(labels)} labels")
    (y_train, y_test), class_names = _encode_labels(y_train, y_test, arrays.get("class_names"), path)
    present = np.unique(np.concatenate([y_train, y_test]))
    if len(present) < 2:
        raise DataError(
            f"{path}: every label is class {class_names[present[0]]!r}; a classifier needs at least 2 classes"
        )
    return Dataset(
        name=readable(path.stem),
        source=f"the arrays in {readable(path)} ({pixels})",
        x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
        class_names=class_names,
        files=[SourceFile(readable(path.name), file_sha256(path), verified=False)],
        pixel_max=pixel_max,
        split=SPLIT,
    )


def _check_headers(path: Path) -> None:
    """What each array's .npy header promises (shape, dtype), checked against the budgets before any array is read.

    NumPy allocates an array as its header says before it reads the values, so a small file can
    ask for gigabytes; reading the headers alone costs a few hundred bytes each. A file that is
    not a zip archive at all is left to `_read`, which says what it is.
    """
    check_data_bytes(path.stat().st_size, f"{path}: the file")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return
    total = 0
    with archive:
        for key in (*KEYS, "class_names"):
            names = [name for name in (key, f"{key}.npy") if name in archive.NameToInfo]  # NumPy's order
            if not names:
                continue
            info = archive.getinfo(names[0])
            try:
                with archive.open(info) as member:
                    shape, dtype = _npy_header(member)
            except Exception as error:  # zipfile.BadZipFile, zlib.error, EOFError, ValueError from a damaged header
                raise DataError(f"{path}: {key} cannot be read, the file is damaged ({_reason(error)})") from error
            if dtype.hasobject:
                raise DataError(f"{path}: {key} holds Python objects (pickled); save plain number or string arrays")
            if key.startswith("x_") and len(shape) >= 3:
                check_image_side(shape[1], shape[2], f"{path}: {key}")
            size = math.prod(shape) * dtype.itemsize
            check_data_bytes(size, f"{path}: {key} ({_size(shape)} values of {dtype})")
            total += size
    check_data_bytes(total, f"{path}: its arrays together")


def _npy_header(member) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version[0]}.{version[1]} is not one pipetrace reads")
    return tuple(int(n) for n in shape), np.dtype(dtype)


def _read(path: Path) -> dict[str, np.ndarray]:
    """The four arrays (and class_names, if present), read without ever unpickling anything."""
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as error:  # NumPy raises ValueError, OSError, EOFError or zipfile errors here
        raise DataError(f"{path}: not an .npz file NumPy can read ({_reason(error)})") from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(
            f"{path}: holds a single array (.npy), not an .npz archive with {', '.join(KEYS)}"
        )
    with archive:
        missing = [key for key in KEYS if key not in archive.files]
        if missing:
            has = ", ".join(archive.files) or "no arrays at all"
            raise DataError(
                f"{path}: no {' or '.join(repr(k) for k in missing)} array (an .npz dataset needs "
                f"{', '.join(KEYS)}; this one has {has})"
            )
        arrays = {}
        for key in (*KEYS, "class_names"):
            if key not in archive.files:
                continue
            try:
                arrays[key] = archive[key]
            except ValueError as error:
                if "pickle" in str(error):
                    raise DataError(
                        f"{path}: {key} holds Python objects (pickled); save plain number or string arrays"
                    ) from error
                raise DataError(f"{path}: {key} cannot be read ({_reason(error)})") from error
            except Exception as error:  # a damaged member: zipfile.BadZipFile, EOFError, zlib.error, ...
                raise DataError(f"{path}: {key} cannot be read, the file is damaged ({_reason(error)})") from error
    return arrays


def _image_array(images: np.ndarray, key: str, path: Path) -> np.ndarray:
    if images.dtype.kind not in "biuf":
        raise DataError(f"{path}: {key} holds {images.dtype} values; image pixels must be numbers")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise DataError(
            f"{path}: {key} has shape {_size(images.shape)}; expected images N x H x W (grayscale) "
            f"or N x H x W x C with C = 1 or 3"
        )
    if images.shape[0] == 0:
        raise DataError(f"{path}: {key} holds no images")
    if 0 in images.shape[1:]:
        raise DataError(f"{path}: {key} images are {_size(images.shape[1:])}, which holds no pixels")
    if images.dtype.kind == "f":
        finite = np.isfinite(images)
        if not finite.all():
            where = tuple(int(i) for i in np.argwhere(~finite)[0])
            value = images[where]
            what = "NaN" if np.isnan(value) else "infinite values"
            raise DataError(f"{path}: {key} image {where[0]} holds {what} (at pixel {where[1:]}); pixels must be numbers")
    if images.dtype.kind in "if" and images.min() < 0:
        where = np.unravel_index(int(np.argmin(images)), images.shape)
        raise DataError(
            f"{path}: {key} image {int(where[0])} holds a negative pixel value ({images[where]:g}); "
            f"pixels must be 0 or more (raw intensities, not standardized ones)"
        )
    return images


def _scaled_storage(x_train: np.ndarray, x_test: np.ndarray, path: Path):
    """(arrays as stored, pixel_max, a phrase for the source): uint8 wherever the values allow."""
    if x_train.dtype == np.uint8 and x_test.dtype == np.uint8:
        return (x_train, x_test), 255.0, "uint8 pixels, 255 = full ink"
    low = float(min(x_train.min(), x_test.min()))
    top = float(max(x_train.max(), x_test.max()))
    pixel_max = 1.0 if top <= 1 else top
    whole = all(x.dtype.kind in "biu" or bool(np.all(x == np.floor(x))) for x in (x_train, x_test))
    dtype = np.uint8 if whole and top <= 255 else np.float32
    kinds = " and ".join(sorted({str(x_train.dtype), str(x_test.dtype)}))
    phrase = f"{kinds} pixels {low:g}..{top:g}, {pixel_max:g} taken as full ink"
    if np.dtype(dtype) != x_train.dtype or np.dtype(dtype) != x_test.dtype:
        phrase += f", stored as {np.dtype(dtype)}"
    return (x_train.astype(dtype), x_test.astype(dtype)), pixel_max, phrase


def _label_array(labels: np.ndarray, key: str, path: Path) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]  # CIFAR-10's loader gives labels as N x 1
    if labels.ndim == 2 and labels.dtype.kind in "biuf":
        raise DataError(
            f"{path}: {key} has shape {_size(labels.shape)}, which looks one-hot; save one class number "
            f"per image instead (labels.argmax(axis=1))"
        )
    if labels.ndim != 1:
        raise DataError(f"{path}: {key} has shape {_size(labels.shape)}; expected one label per image (N,)")
    if labels.dtype.kind == "f":
        finite = np.isfinite(labels)
        whole = np.zeros_like(finite)
        whole[finite] = labels[finite] == np.floor(labels[finite])
        if not whole.all():
            bad = int(np.argmin(whole))
            raise DataError(
                f"{path}: label {float(labels[bad]):g} at {key}[{bad}] is not a whole number; labels must be "
                f"class numbers (0, 1, 2, ...) or strings"
            )
        if len(labels) and labels.min() < 0:
            bad = int(np.argmin(labels))
            raise DataError(
                f"{path}: label {float(labels[bad]):g} at {key}[{bad}] is negative; labels must be class numbers 0, 1, 2, ..."
            )
        if len(labels) and labels.max() >= MAX_CLASSES:  # checked as floats: 1e30 has no int64
            raise DataError(_too_large(path, labels, key))
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "biuUS":
        raise DataError(f"{path}: {key} holds {labels.dtype} values; labels must be integers or strings")
    if labels.dtype.kind in "bi" and len(labels) and labels.min() < 0:
        bad = int(np.argmin(labels))
        raise DataError(
            f"{path}: label {int(labels[bad])} at {key}[{bad}] is negative; labels must be class numbers 0, 1, 2, ..."
        )
    if labels.dtype.kind in "iu" and len(labels) and labels.max() >= MAX_CLASSES:
        raise DataError(_too_large(path, labels, key))
    return labels.astype(np.int64) if labels.dtype.kind == "u" else labels


def _too_large(path: Path, labels: np.ndarray, key: str) -> str:
    """The message for a label of MAX_CLASSES or more (an id, a pixel value, a typo), found before any conversion."""
    position = int(np.argmax(labels))
    value = labels[position]
    shown = f"{float(value):g}" if labels.dtype.kind == "f" else str(value)
    times = _times(int(np.count_nonzero(labels == value)))
    return (f"{path}: label {shown} appears {times} in {key} (first at {key}[{position}]); labels must be class "
            f"numbers 0..K-1 with every class present, and {shown} would mean {_classes_meant(shown)} classes "
            f"(pipetrace takes at most {MAX_CLASSES})")


def _classes_meant(shown: str) -> str:
    return str(int(shown) + 1) if shown.isdigit() else f"over {shown}"


def _encode_labels(y_train: np.ndarray, y_test: np.ndarray, names: np.ndarray | None, path: Path):
    """((train, test) as int64 class numbers 0..K-1, class names)."""
    strings = [y.dtype.kind in "US" for y in (y_train, y_test)]
    if strings[0] != strings[1]:
        kinds = ["strings" if s else "numbers" for s in strings]
        raise DataError(f"{path}: y_train holds {kinds[0]} but y_test holds {kinds[1]}; use one kind of label")
    given = _class_names(names, path) if names is not None else None
    if strings[0]:
        together = np.concatenate([_text(y_train), _text(y_test)])
        values, codes = np.unique(together, return_inverse=True)
        values = [str(v) for v in values]
        check_class_count(len(values), f"{path}: the labels name")
        for value in values:
            check_class_name(value, f"{path}: a label")
        if given is None:
            class_names = values
            order = np.arange(len(values))
        else:
            unknown = [v for v in values if v not in given]
            if unknown:
                raise DataError(f"{path}: label {unknown[0]!r} is not one of the {len(given)} names in class_names")
            class_names = given
            order = np.array([given.index(v) for v in values])
        encoded = order[codes.ravel()].astype(np.int64)
        return (encoded[: len(y_train)], encoded[len(y_train):]), class_names

    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    top = int(max(y_train.max(initial=0), y_test.max(initial=0)))
    count = len(given) if given is not None else top + 1
    if top >= count:
        key, labels = ("y_train", y_train) if y_train.max(initial=0) == top else ("y_test", y_test)
        bad = int(np.argmax(labels))
        raise DataError(
            f"{path}: label {top} at {key}[{bad}] is outside 0..{count - 1} (class_names has {count} names)"
        )
    counts = np.bincount(np.concatenate([y_train, y_test]), minlength=count)
    empty = np.flatnonzero(counts == 0)
    if given is None and len(empty):
        key, labels = ("y_train", y_train) if y_train.max(initial=0) == top else ("y_test", y_test)
        raise DataError(
            f"{path}: label {top} appears {_times(int(counts[top]))} (first at {key}[{int(np.argmax(labels))}]), "
            f"but no image has label {_listed(empty)}; labels must be class numbers 0..K-1 with every class "
            f"present (add class_names to name classes that have no images)"
        )
    return (y_train, y_test), given if given is not None else [str(n) for n in range(count)]


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")


def _listed(numbers: np.ndarray, shown: int = 3) -> str:
    head = ", ".join(str(int(n)) for n in numbers[:shown])
    return head if len(numbers) <= shown else f"{head} (and {len(numbers) - shown:,} more)"


def _class_names(names: np.ndarray, path: Path) -> list[str]:
    if names.ndim != 1 or names.dtype.kind not in "US":
        raise DataError(f"{path}: class_names must be a list of strings (it is {names.dtype}, shape {_size(names.shape)})")
    text = [str(n) for n in _text(names)]
    if len(text) < 2:
        raise DataError(f"{path}: class_names lists {len(text)} name(s); a classifier needs at least 2")
    if len(set(text)) != len(text) or any(not t.strip() for t in text):
        raise DataError(f"{path}: class_names must be distinct, non-empty names")
    check_class_count(len(text), f"{path}: class_names")
    for name in text:
        check_class_name(name, f"{path}: class_names")
    return text


def _text(values: np.ndarray) -> np.ndarray:
    """Bytes arrays (dtype S) decoded as UTF-8; unicode arrays as they are."""
    if values.dtype.kind == "S":
        return np.char.decode(values, "utf-8", errors="replace")
    return values


def _size(shape) -> str:
    return " x ".join(map(str, shape)) if len(shape) else "a single value"


def _reason(error: Exception) -> str:
    return str(error) or type(error).__name__
