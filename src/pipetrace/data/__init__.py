"""Data in: reading datasets from disk into NumPy arrays, checked."""

from pipetrace.data.dataset import Dataset
from pipetrace.data.idx import read_idx
from pipetrace.data.mnist import load_mnist

__all__ = ["Dataset", "load_mnist", "read_idx"]
