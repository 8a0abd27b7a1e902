"""Data in: reading datasets from disk into NumPy arrays, checked."""

from pipetrace.data.choose import load_dataset
from pipetrace.data.dataset import Dataset, SourceFile
from pipetrace.data.digits import load_digits
from pipetrace.data.idx import read_idx
from pipetrace.data.image_folder import load_image_folder
from pipetrace.data.mnist import load_mnist
from pipetrace.data.npz import load_npz
from pipetrace.data.split import stratified_split

__all__ = [
    "Dataset", "SourceFile", "load_dataset", "load_digits", "load_image_folder", "load_mnist", "load_npz",
    "read_idx", "stratified_split",
]
