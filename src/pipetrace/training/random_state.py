"""The caller's random generators, kept: `pipetrace.run` seeds them all for its own run, then puts them back.

A run seeds Python's `random`, NumPy's global generator and TensorFlow's global seed (with
`keras.utils.set_random_seed`) so the same seed gives the same trace. A library call must not
change its caller's state, so `kept_random_state()` records those generators before the run and
restores them after it, whether the run ends or raises: the caller's next `random.random()`,
`np.random.rand()` or `tf.random.uniform(...)` is the number it would have been without the run.
TensorFlow's state is its global seed and the generator that derives each op's seed from it,
`tf.random.get_global_generator()` if it exists, and Keras' global seed and seed generator.

>>> import random
>>> with kept_random_state():
...     random.seed(0)
>>> before = random.getstate()
>>> with kept_random_state():
...     random.seed(1); _ = random.random()
>>> random.getstate() == before
True
"""

from __future__ import annotations

import contextlib
import random

import numpy as np

from pipetrace.training.backend import fully_imported


@contextlib.contextmanager
def kept_random_state():
    python, numpy = random.getstate(), np.random.get_state()
    tensorflow = _tensorflow_state()
    try:
        yield
    finally:
        random.setstate(python)
        np.random.set_state(numpy)
        _restore_tensorflow(tensorflow)


def _tensorflow_state() -> dict | None:
    """TensorFlow's and Keras' global random state, or None when TensorFlow is not imported yet (its defaults)."""
    if not fully_imported("tensorflow"):
        return None
    from tensorflow.python.eager import context
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import stateful_random_ops

    eager = context.context()
    state = {
        "seed": eager._seed,
        "rng": eager._rng.getstate() if getattr(eager, "_rng", None) is not None else None,
        "graph_seed": ops.get_default_graph().seed,
        "generator": None,
    }
    generator = getattr(stateful_random_ops, "global_generator", None)
    if generator is not None:
        state["generator"] = generator.state.numpy().copy()
    if fully_imported("keras"):
        from keras.src.backend.common import global_state

        state["keras"] = {name: global_state.get_global_attribute(name) for name in _KERAS_SEED_ATTRIBUTES}
    return state


_KERAS_SEED_ATTRIBUTES = ("global_random_seed", "global_seed_generator")


def _restore_tensorflow(state: dict | None) -> None:
    if not fully_imported("tensorflow"):
        return  # not imported, or still importing (a run that stopped early): the run has not seeded it
    from tensorflow.python.eager import context
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import stateful_random_ops

    state = state or {"seed": None, "rng": None, "graph_seed": None, "generator": None}
    eager = context.context()
    if state["seed"] is None:
        eager._seed, eager._rng = None, None  # as a fresh TensorFlow: op seeds from the operating system
    else:
        eager._set_global_seed(state["seed"])  # also clears the kernel cache, as tf.random.set_seed does
        if state["rng"] is not None:
            eager._rng.setstate(state["rng"])
    ops.get_default_graph().seed = state["graph_seed"]
    generator = getattr(stateful_random_ops, "global_generator", None)
    if generator is not None and state["generator"] is not None:
        generator.reset(state["generator"])
    if fully_imported("keras"):
        from keras.src.backend.common import global_state

        for name in _KERAS_SEED_ATTRIBUTES:
            global_state.set_global_attribute(name, state.get("keras", {}).get(name))
