"""One entry point for every data source: a name ("mnist", "digits") or a path (.npz file, image folder, IDX folder).

The command line's ``--dataset`` and ``pipetrace.run(dataset=...)`` both come through here, so
every source is chosen, and every mistake is explained, the same way.
"""

from __future__ import annotations

from pathlib import Path

from pipetrace.data.dataset import Dataset
from pipetrace.data.digits import load_digits
from pipetrace.data.image_folder import load_image_folder
from pipetrace.data.mnist import FILES, load_mnist
from pipetrace.data.npz import load_npz
from pipetrace.data.split import check_test_fraction
from pipetrace.errors import DataError, SettingsError

NAMES = ("mnist", "digits")


def load_dataset(name_or_path: str | Path, *, data_dir: str | Path | None = None,
                 image_size: tuple[int, int] = (28, 28), color: str | None = None,
                 seed: int = 0, test_fraction: float = 0.2) -> Dataset:
    """Load a dataset by name or path; the result always has labels 0..K-1 and class names.

    - "mnist": the bundled copy, or the IDX files in `data_dir` (e.g. Fashion-MNIST);
    - "digits": scikit-learn's 8 x 8 digits, split by class with `seed` and `test_fraction`;
    - a ``.npz`` file with x_train, y_train, x_test, y_test;
    - a folder with one subfolder of images per class, read at `image_size` in `color`
      ("grayscale", "rgb", or None to decide from the images), split like the digits;
    - a folder with the four MNIST IDX files (the same as "mnist" with `data_dir`).

    >>> d = load_dataset("digits", seed=1)
    >>> d.name, d.image_shape, d.num_classes, d.pixel_max
    ('digits', (8, 8), 10, 16.0)
    """
    check_test_fraction(test_fraction)
    text = str(name_or_path)
    name = text.strip().lower()
    if data_dir is not None and name != "mnist":
        raise SettingsError(
            f"a data folder ({data_dir}) goes with the dataset 'mnist' (IDX files); "
            f"for {text!r}, give the file or folder as the dataset itself"
        )
    if name == "mnist":
        return load_mnist(data_dir)
    if name == "digits":
        return load_digits(seed=seed, test_fraction=test_fraction)

    path = Path(text).expanduser()
    if path.is_dir():
        if _holds_idx_files(path):
            return load_mnist(path)
        return load_image_folder(path, image_size=image_size, color=color, seed=seed, test_fraction=test_fraction)
    if path.suffix.lower() == ".npz" or path.is_file():
        return load_npz(path)
    raise DataError(
        f"{text}: no such file or folder, and not a dataset name pipetrace knows ({', '.join(NAMES)}); "
        f"give a name, an .npz file, or a folder with one subfolder of images per class"
    )


def _holds_idx_files(folder: Path) -> bool:
    """True when the folder has MNIST's training images file (plain or gzipped), i.e. is meant as IDX data."""
    first = FILES[0]
    return (folder / first).is_file() or (folder / first.removesuffix(".gz")).is_file()
