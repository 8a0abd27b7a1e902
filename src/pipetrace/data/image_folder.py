"""A folder of images with one subfolder per class: the layout ``keras.utils.image_dataset_from_directory`` reads.

Class names are the subfolder names, sorted (as Keras sorts them). Every image is read with
Pillow, made grayscale or RGB and resized to one size (bilinear, like Keras), so the data
comes in as one uint8 array. Hidden files (``.DS_Store``, ...) are skipped; any other file that
is not an image Pillow can read is reported by name rather than silently dropped, because
a learner who put it there expects it to count. With no official split, the data gets a
seeded, stratified one.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.split import describe_split, stratified_split
from pipetrace.errors import DataError, SettingsError

COLORS = ("grayscale", "rgb")


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
    class_dirs = sorted((d for d in folder.iterdir() if d.is_dir() and not _hidden(d)), key=lambda d: d.name)
    if len(class_dirs) < 2:
        found = ", ".join(d.name for d in class_dirs) or "none"
        raise DataError(
            f"{folder}: needs one subfolder per class, at least 2 (found {len(class_dirs)}: {found})"
        )

    images, labels, files = [], [], []
    for label, class_dir in enumerate(class_dirs):
        paths = _image_paths(class_dir)
        if not paths:
            raise DataError(f"{class_dir}: the class folder holds no images")
        digest = hashlib.sha256()
        for path in paths:
            raw = _read_bytes(path)
            digest.update(str(path.relative_to(class_dir)).encode() + b"\0" + raw)
            images.append(_decode(raw, path, size))
            labels.append(label)
        files.append(SourceFile(f"{class_dir.name}/ ({len(paths)} images)", digest.hexdigest(), verified=False))

    rgb = np.stack(images)  # N x H x W x 3, uint8
    del images
    has_colour = bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))
    mode = color or ("rgb" if has_colour else "grayscale")
    pixels = rgb if mode == "rgb" else _grayscale(rgb, has_colour)
    labels = np.array(labels, dtype=np.int64)
    class_names = [d.name for d in class_dirs]
    train, test = stratified_split(labels, test_fraction, seed, str(folder), class_names)
    chosen = "chosen" if color else "decided from the images"
    return Dataset(
        name=folder.name,
        source=(f"{len(labels)} images in {folder}, one subfolder per class, read with Pillow as "
                f"{mode} ({chosen}), resized to {size[0]} x {size[1]}"),
        x_train=pixels[train], y_train=labels[train], x_test=pixels[test], y_test=labels[test],
        class_names=class_names, files=files, pixel_max=255.0,
        split=describe_split(test_fraction, seed),
    )


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


def _image_paths(class_dir: Path) -> list[Path]:
    """Every non-hidden file under the class folder (its subfolders too, as Keras reads them), sorted."""
    found = []
    for path in sorted(class_dir.rglob("*")):
        relative = path.relative_to(class_dir)
        if any(_hidden(Path(part)) for part in relative.parts) or not path.is_file():
            continue
        found.append(path)
    return found


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error.strerror})") from error


def _decode(raw: bytes, path: Path, size: tuple[int, int]) -> np.ndarray:
    """One image as H x W x 3 uint8 at `size` (height, width)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.draft("RGB", (size[1], size[0]))  # JPEG decodes straight at a smaller scale: much faster
            image = _to_8_bits(image).convert("RGB")
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except Exception as error:  # Pillow raises UnidentifiedImageError, OSError, ValueError, SyntaxError, ...
        what = "not an image Pillow can read" if type(error).__name__ == "UnidentifiedImageError" else \
            f"a damaged or unreadable image ({str(error) or type(error).__name__})"
        raise DataError(f"{path}: {what}; remove it or replace it with an image file") from error


def _to_8_bits(image):
    """16-bit and float images scaled to 0..255 (Pillow's own convert would clip them to white)."""
    from PIL import Image

    if not (image.mode.startswith("I") or image.mode == "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and values.max(initial=0) > 255):
        values = values / 257.0  # 65535 -> 255
    elif image.mode == "F" and values.max(initial=0) <= 1:
        values = values * 255.0
    return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")


def _grayscale(rgb: np.ndarray, has_colour: bool) -> np.ndarray:
    """N x H x W: exact where R = G = B; otherwise Pillow's own luma (L = 0.299 R + 0.587 G + 0.114 B)."""
    if not has_colour:
        return np.ascontiguousarray(rgb[..., 0])
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in rgb])
