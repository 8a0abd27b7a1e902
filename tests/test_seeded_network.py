"""The same seed builds the same network, whatever else the process draws from Python's `random`.

A lab or `learn experiment --workers` run trains on a Dask worker, whose comm draws from the
shared `random` module (to sample a large message before compressing it) in another thread, at any
moment, including between a run's seeding and its layers drawing their seeds: CI once saw a variant
trained on a worker give other numbers than the same variant trained in-process. The network's
seeds come from a generator of its own, so such a draw changes nothing; and they are the seeds
Keras itself draws after `keras.utils.set_random_seed`, so a `learn code` script that does only
that still builds the very same network.
"""

import random

import keras
import numpy as np
import pytest

from pipetrace.trace import Settings
from pipetrace.training.network import build_network

SETTINGS = [
    Settings(hidden=(16,)),
    Settings(hidden=(32, 16), dropout=0.2, activation="tanh"),
    Settings(conv=True, hidden=(16,), dropout=0.3, seed=7),
]


def weights(model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


def same(a, b) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def keras_own_way(settings: Settings, input_shape, classes):
    """What a script does: seed with Keras, then build the layers with no seeds of their own."""
    from keras import layers

    keras.utils.set_random_seed(settings.seed)
    stack = [keras.Input(shape=input_shape)]
    if settings.conv:
        stack += [layers.Conv2D(16, 3, padding="same", activation=settings.activation), layers.MaxPooling2D(2),
                  layers.Conv2D(32, 3, padding="same", activation=settings.activation), layers.MaxPooling2D(2),
                  layers.Flatten()]
    for units in settings.hidden:
        stack.append(layers.Dense(units, activation=settings.activation))
        if settings.dropout:
            stack.append(layers.Dropout(settings.dropout))
    stack.append(layers.Dense(10, activation="softmax"))
    return keras.Sequential(stack)


@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "tanh-dropout", "cnn"])
def test_a_draw_from_the_shared_random_changes_nothing(settings):
    shape = (28, 28, 1) if settings.conv else (784,)
    keras.utils.set_random_seed(settings.seed)
    undisturbed = weights(build_network(settings, shape, 10))
    keras.utils.set_random_seed(settings.seed)
    random.random()  # another thread's draw, between the seeding and the layers
    random.randint(0, 10**6)
    disturbed = weights(build_network(settings, shape, 10))
    assert same(undisturbed, disturbed)
    # and another seed does give other weights (the seed is really used)
    other = weights(build_network(Settings(**{**settings.__dict__, "seed": settings.seed + 1}), shape, 10))
    assert not same(undisturbed, other)


@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "tanh-dropout", "cnn"])
def test_the_seeds_are_the_ones_keras_draws_after_set_random_seed(settings):
    shape = (28, 28, 1) if settings.conv else (784,)
    ours = weights(build_network(settings, shape, 10))
    theirs = weights(keras_own_way(settings, shape, 10))
    assert same(ours, theirs)


def test_dropout_masks_follow_the_seed_too():
    """A Dropout layer's mask comes from its seed: the same seed, the same units dropped."""
    settings = Settings(hidden=(64,), dropout=0.5)
    masks = []
    for _ in range(2):
        model = build_network(settings, (784,), 10)
        random.random()
        dropout = next(layer for layer in model.layers if type(layer).__name__ == "Dropout")
        masks.append(np.asarray(dropout(np.ones((4, 64), "float32"), training=True)))
    assert np.array_equal(masks[0], masks[1])
    assert 0 < (masks[0] == 0).mean() < 1
