"""Checking run settings before anything is loaded or trained, with messages a learner can act on."""

from __future__ import annotations

import dataclasses
import math

from pipetrace.errors import SettingsError
from pipetrace.trace import Settings
from pipetrace.training.network import ACTIVATIONS, OPTIMIZERS, SCHEDULES

MAX_HIDDEN = 65536
MAX_SEED = 2**32 - 1  # NumPy's global seed (np.random.seed, set by keras.utils.set_random_seed) takes no more


def check_settings(settings: Settings) -> Settings:
    """Raise `SettingsError` naming the option if a setting cannot work; return the settings.

    >>> check_settings(Settings(epochs=0))
    Traceback (most recent call last):
    ...
    pipetrace.errors.SettingsError: --epochs must be a whole number of at least 1 (got 0)
    """
    if isinstance(settings.hidden, int) and not isinstance(settings.hidden, bool):
        settings = dataclasses.replace(settings, hidden=[settings.hidden])  # run(hidden=64) means one layer
    if isinstance(settings.image_size, int) and not isinstance(settings.image_size, bool):
        settings = dataclasses.replace(settings, image_size=[settings.image_size, settings.image_size])
    for option, value in (("--epochs", settings.epochs), ("--batch-size", settings.batch_size)):
        _positive_int(option, value)
    if not isinstance(settings.hidden, list) or not settings.hidden and not settings.conv and not settings.model:
        raise SettingsError(f"--hidden must list at least one layer size, such as 128 or 256,128 (got {settings.hidden!r})")
    for units in settings.hidden:
        _positive_int("--hidden", units)
        if units > MAX_HIDDEN:
            raise SettingsError(f"--hidden {units} is too large for a first network (at most {MAX_HIDDEN})")
    if settings.activation not in ACTIVATIONS:
        raise SettingsError(f"--activation must be one of {', '.join(ACTIVATIONS)} (got {settings.activation!r})")
    if settings.optimizer not in OPTIMIZERS:
        raise SettingsError(f"--optimizer must be one of {', '.join(OPTIMIZERS)} (got {settings.optimizer!r})")
    momentum = settings.momentum
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1:
        raise SettingsError(f"--momentum must be a fraction from 0 up to (not including) 1, such as 0.9 (got {momentum!r})")
    if momentum and settings.optimizer != "sgd":  # SGD's momentum only (Keras' RMSprop has one too, in another update)
        raise SettingsError(f"--momentum {momentum:g} applies to --optimizer sgd only (this run uses {settings.optimizer})")
    dropout = settings.dropout
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise SettingsError(f"--dropout must be a fraction from 0 up to (not including) 1, such as 0.2 (got {dropout!r})")
    size = settings.image_size
    if not isinstance(size, list) or len(size) != 2 or not all(isinstance(n, int) and 4 <= n <= 512 for n in size):
        raise SettingsError(f"--image-size must be HEIGHTxWIDTH, each from 4 to 512, such as 28x28 (got {size!r})")
    rate = settings.learning_rate
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
        raise SettingsError(f"--learning-rate must be a positive number such as 0.001 (got {rate!r})")
    if settings.schedule not in SCHEDULES:
        raise SettingsError(f"--schedule must be one of {', '.join(SCHEDULES)} (got {settings.schedule!r})")
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or not 0 <= settings.seed <= MAX_SEED:
        raise SettingsError(f"--seed must be a whole number from 0 to {MAX_SEED} (got {settings.seed!r})")
    if isinstance(settings.sample, bool) or not isinstance(settings.sample, int) or settings.sample < 0:
        raise SettingsError(f"--sample must be a test image index of at least 0 (got {settings.sample!r})")
    if settings.limit is not None:
        _positive_int("--limit", settings.limit)
        if settings.limit < 6:
            raise SettingsError(f"--limit must be at least 6, so the test part (limit / 6) holds an image (got {settings.limit})")
    _positive_int("--questions", settings.questions)
    from pipetrace.insights.quiz import MAX_QUESTIONS

    if settings.questions > MAX_QUESTIONS:
        raise SettingsError(f"--questions {settings.questions}: a run yields {MAX_QUESTIONS} questions at most")
    return settings


def limited_test_count(limit: int | None, train_count: int, test_count: int) -> int:
    """How many test images a run keeps: `limit // 6` (at least 1) under `--limit`; all of them without it,
    or when the limit is more than the training images (an error check_against_data reports)."""
    if limit is None or limit > train_count:
        return test_count
    return max(1, limit // 6)


def check_against_data(settings: Settings, train_count: int, test_count: int) -> None:
    """Settings that depend on the data: the limit and the sample index must fit in it."""
    if settings.limit is not None and settings.limit > train_count:
        raise SettingsError(f"--limit {settings.limit} is larger than the {train_count} training images")
    if settings.sample >= test_count:
        raise SettingsError(
            f"--sample {settings.sample} is outside the test set: it holds {test_count} images (0 to {test_count - 1})"
        )


def _positive_int(option: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{option} must be a whole number of at least 1 (got {value!r})")
