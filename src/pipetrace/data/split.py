"""A seeded, stratified train/test split, for data that comes without an official one.

Stratified means every class keeps its share in both parts, so a rare class is never left
out of the test set by chance; seeded means the same seed gives the same split every run.
"""

from __future__ import annotations

import numpy as np

from pipetrace.errors import DataError, SettingsError


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int, where: str,
                     class_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): `test_fraction` of each class, rounded, at least one image each side.

    Both parts are shuffled with the seed, so the first images of either part mix the classes
    (the pipeline's `limit` takes the first N). `where` names the data in error messages.

    >>> train, test = stratified_split(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1]), 0.25, 0, "toy")
    >>> sorted(np.bincount(np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])[test]).tolist()), len(train)
    ([1, 2], 7)
    """
    check_test_fraction(test_fraction)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            name = class_names[label] if class_names else str(label)
            raise DataError(
                f"{where}: class {name!r} has only {len(members)} image; a class needs at least 2 "
                f"to be in both the training and the test part"
            )
        n_test = min(max(int(round(len(members) * test_fraction)), 1), len(members) - 1)
        shuffled = rng.permutation(members)
        test_parts.append(shuffled[:n_test])
        train_parts.append(shuffled[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return train, test


def describe_split(test_fraction: float, seed: int) -> str:
    """The sentence a Dataset carries in `split` for a split made here.

    >>> describe_split(0.2, 0)
    'a seeded, stratified split: 80% train / 20% test per class, seed 0'
    """
    test_percent = round(test_fraction * 100, 1)
    train_percent = round(100 - test_percent, 1)
    return (f"a seeded, stratified split: {train_percent:g}% train / {test_percent:g}% test per class, "
            f"seed {seed}")


def check_test_fraction(test_fraction: float) -> None:
    """A test fraction must leave images on both sides."""
    if not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise SettingsError(f"test fraction {test_fraction!r}: must be a number between 0 and 1 (e.g. 0.2)")
