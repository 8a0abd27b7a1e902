"""A folder of images with one subfolder per class: the layout ``keras.utils.image_dataset_from_directory`` reads.

Class names are the subfolder names, sorted (as Keras sorts them). Every image is read with
Pillow, made grayscale or RGB and resized to one size (bilinear, like Keras), so the data
comes in as one uint8 array. Hidden files (``.DS_Store``, ...) are skipped; any other file that
is not an image Pillow can read is reported by name rather than silently dropped, because
a learner who put it there expects it to count. With no official split, the data gets a
seeded, stratified one.

The folder is input from anyone (the lab offers it to whoever holds the token): a symbolic
link that leads out of it is refused by name, never followed, and each image's decoded size
is budgeted from its header (a 329 KB PNG can decode to gigabytes) and converted to 8 bits in
integers or float32, one image at a time.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import numpy as np

from pipetrace.data.budgets import MAX_IMAGE_FILES, check_class_count, check_data_bytes, check_decoded_image
from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.names import check_class_name, readable
from pipetrace.data.split import describe_split, stratified_split
from pipetrace.errors import DataError, SettingsError
from pipetrace.interrupts import stop_if_asked

COLORS = ("grayscale", "rgb")
MAX_IMAGE_FILE_BYTES = 100 * 2**20  # one image file; larger is not a picture a first network reads


def load_image_folder(folder: str | Path, *, image_size: tuple[int, int] = (28, 28), color: str | None = None,
                      seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """Read every image under ``folder/<class>/``, resized to `image_size` (height, width).

    `color` is "grayscale", "rgb", or None: RGB if any image has colour, else grayscale.

    >>> import tempfile, pathlib, numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name, shade in (("dark", 20), ("light", 230)):
    ...     (root / name).mkdir()
    ...     for i in range(3):
    ...         Image.fromarray(np.full((5, 5), shade, np.uint8)).save(root / name / f"{i}.png")
    >>> d = load_image_folder(root, image_size=(4, 4))
    >>> d.class_names, d.x_train.shape, d.x_test.shape, int(d.x_test.max())
    (['dark', 'light'], (4, 4, 4), (2, 4, 4), 230)
    """
    folder = Path(folder)
    size = _check_size(image_size)
    if color not in (None, *COLORS):
        raise SettingsError(f"color {color!r}: must be 'grayscale', 'rgb' or None (decided from the images)")
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder" if not folder.exists() else f"{folder}: is a file, not a folder")
    root = folder.resolve()
    class_dirs = sorted((d for d in folder.iterdir() if not _hidden(d) and _inside(d, root) and d.is_dir()),
                        key=lambda d: d.name)
    if len(class_dirs) < 2:
        found = ", ".join(d.name for d in class_dirs) or "none"
        raise DataError(
            f"{folder}: needs one subfolder per class, at least 2 (found {len(class_dirs)}: {found})"
        )

    check_class_count(len(class_dirs), readable(folder))
    class_names = [readable(d.name) for d in class_dirs]  # a name that is not UTF-8 keeps its odd bytes as \xNN
    for name in class_names:
        check_class_name(name, f"{readable(folder)}: a class folder")
    found = [_image_paths(class_dir, root) for class_dir in class_dirs]
    for class_dir, paths in zip(class_dirs, found):
        if not paths:
            raise DataError(f"{readable(class_dir)}: the class folder holds no images")
    _check_budget(sum(len(paths) for paths in found), size, readable(folder))

    images, labels, files = [], [], []
    for label, (class_dir, paths) in enumerate(zip(class_dirs, found)):
        digest = hashlib.sha256()
        for path in paths:
            stop_if_asked()  # a lab's Stop, between two images (a large folder takes a while)
            raw = _read_bytes(path)
            digest.update(os.fsencode(path.relative_to(class_dir)) + b"\0" + raw)
            images.append(_decode(raw, path, size))
            labels.append(label)
        files.append(SourceFile(f"{class_names[label]}/ ({len(paths)} images)", digest.hexdigest(), verified=False))

    rgb = np.stack(images)  # N x H x W x 3, uint8
    del images
    has_colour = bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))
    mode = color or ("rgb" if has_colour else "grayscale")
    pixels = rgb if mode == "rgb" else _grayscale(rgb, has_colour)
    labels = np.array(labels, dtype=np.int64)
    train, test = stratified_split(labels, test_fraction, seed, readable(folder), class_names)
    chosen = "chosen" if color else "decided from the images"
    return Dataset(
        name=readable(folder.name),
        source=(f"{len(labels)} images in {readable(folder)}, one subfolder per class, read with Pillow as "
                f"{mode} ({chosen}), resized to {size[0]} x {size[1]}"),
        x_train=pixels[train], y_train=labels[train], x_test=pixels[test], y_test=labels[test],
        class_names=class_names, files=files, pixel_max=255.0,
        split=describe_split(test_fraction, seed),
    )


def _check_budget(count: int, size: tuple[int, int], where: str) -> None:
    """Before any image is opened: how many there are, and the bytes they make at `size` (decoded as RGB)."""
    if count > MAX_IMAGE_FILES:
        raise DataError(f"{where}: {count:,} files in the class folders, more than pipetrace reads ({MAX_IMAGE_FILES:,})")
    check_data_bytes(count * size[0] * size[1] * 3, f"{where}: {count:,} images at {size[0]} x {size[1]} in colour")


def _check_size(image_size) -> tuple[int, int]:
    try:
        height, width = (int(n) for n in image_size)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"image size {image_size!r}: must be two numbers, height and width") from error
    if not (1 <= height <= 1024 and 1 <= width <= 1024):
        raise SettingsError(f"image size {height} x {width}: each side must be 1 to 1024 pixels")
    return height, width


def _hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name.startswith("__")


def _inside(path: Path, root: Path) -> bool:
    """True unless `path` is a symbolic link leading out of `root` (then a DataError names it)."""
    if not path.is_symlink():
        return True
    target = path.resolve()
    if target == root or root in target.parents:
        return True
    raise DataError(f"{readable(path)}: a symbolic link out of the folder (to {readable(target)}); "
                    "pipetrace reads only what is inside the folder: copy the files in instead")


def _image_paths(class_dir: Path, root: Path) -> list[Path]:
    """Every non-hidden file under the class folder (its subfolders too, as Keras reads them), sorted.

    Walked without following links to folders; a link (to a file or a folder) that stays inside
    the folder counts as what it leads to, one that leads out is refused.
    """
    found = []
    for parent, folders, files in os.walk(class_dir, followlinks=False):
        parent = Path(parent)
        folders[:] = [name for name in folders if not _hidden(Path(name))]
        for name in folders:
            if (parent / name).is_symlink() and _inside(parent / name, root):
                found.extend(_image_paths(parent / name, root))  # a link within the folder: what it leads to
        for name in files:
            path = parent / name
            if not _hidden(path) and _inside(path, root) and path.is_file():
                found.append(path)
    return sorted(found)


def _read_bytes(path: Path) -> bytes:
    try:  # O_NONBLOCK: a FIFO put there in place of an image cannot hold the read; fstat then refuses it
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise DataError(f"{readable(path)}: not a regular file; remove it or replace it with an image file")
            raw = handle.read(min(info.st_size, MAX_IMAGE_FILE_BYTES) + 1)  # not a 100 MB buffer for every image
    except OSError as error:
        raise DataError(f"{readable(path)}: cannot be read ({error.strerror})") from error
    if len(raw) > MAX_IMAGE_FILE_BYTES:
        raise DataError(f"{readable(path)}: larger than {MAX_IMAGE_FILE_BYTES // 2**20} MB, too large for one image; "
                        f"remove it or make it smaller")
    return raw


def _decode(raw: bytes, path: Path, size: tuple[int, int]) -> np.ndarray:
    """One image as H x W x 3 uint8 at `size` (height, width)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.draft("RGB", (size[1], size[0]))  # JPEG decodes straight at a smaller scale: much faster
            check_decoded_image(*image.size, len(image.getbands()), _band_bytes(image.mode), readable(path))
            image = _to_8_bits(image).convert("RGB")
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except DataError:
        raise
    except Exception as error:  # Pillow raises UnidentifiedImageError, OSError, ValueError, SyntaxError, ...
        kind = type(error).__name__
        if kind == "DecompressionBombError":  # Pillow's guard: checked from the header, before decoding
            raise DataError(f"{readable(path)}: {error}; pipetrace keeps Pillow's limit, so make the image smaller") from error
        what = "not an image Pillow can read" if kind == "UnidentifiedImageError" else \
            f"a damaged or unreadable image ({str(error) or kind})"
        raise DataError(f"{readable(path)}: {what}; remove it or replace it with an image file") from error


def _band_bytes(mode: str) -> int:
    """Bytes a band of a decoded pixel takes in Pillow's `mode`."""
    if mode.startswith("I;16"):
        return 2
    return 4 if mode in ("I", "F") else 1


def _to_8_bits(image):
    """16-bit and float images scaled to 0..255 (Pillow's own convert would clip them to white).

    In integers (16-bit, 32-bit) or float32 (float images), a band of rows at a time: never a
    float64 copy of the whole image.
    """
    from PIL import Image

    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    values = np.asarray(image)
    out = np.empty(values.shape, np.uint8)
    floats = values.dtype.kind == "f"
    scale_16 = image.mode.startswith("I;16") or (not floats and int(values.max(initial=0)) > 255)
    scale_1 = floats and float(np.nanmax(values, initial=0)) <= 1
    for start in range(0, values.shape[0], 256):
        rows = values[start:start + 256]
        if floats:
            rows = np.nan_to_num(rows.astype(np.float32, copy=False) * (255.0 if scale_1 else 1.0))
            out[start:start + 256] = np.clip(np.round(rows), 0, 255)
        elif scale_16:  # 65535 -> 255, rounded half up: round(v / 257) exactly, in integers
            rows = np.clip(rows.astype(np.int64), 0, 65535)
            out[start:start + 256] = (rows * 2 + 257) // 514
        else:
            out[start:start + 256] = np.clip(rows, 0, 255)
    return Image.fromarray(out, "L")


def _grayscale(rgb: np.ndarray, has_colour: bool) -> np.ndarray:
    """N x H x W: exact where R = G = B; otherwise Pillow's own luma (L = 0.299 R + 0.587 G + 0.114 B)."""
    if not has_colour:
        return np.ascontiguousarray(rgb[..., 0])
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in rgb])
