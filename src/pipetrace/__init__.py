"""pipetrace: watch a first neural network learn, with every number measured in your run.

>>> import pipetrace
>>> trace = pipetrace.run(epochs=1, limit=600)   # doctest: +SKIP
>>> trace.save("trace.json")                     # doctest: +SKIP
>>> pipetrace.Trace.load("trace.json").training.epochs[0].test_accuracy   # doctest: +SKIP

Nothing heavy is imported here: `Trace` and the views load without TensorFlow.
"""

__version__ = "0.1.0"

from pipetrace.errors import DataError, PipetraceError, SettingsError, TraceFileError  # noqa: E402
from pipetrace.trace import Settings, Trace  # noqa: E402


def run(settings=None, *, verbose="auto", **kwargs):
    """Run the whole pipeline and return its Trace (see `pipetrace.pipeline.run`).

    Progress shows while it trains, as `model.fit(verbose=...)` shows it: "auto" or 1 a bar and a
    line per epoch (in a terminal or a notebook), 2 one line per epoch, 0 nothing.

    `trace.model` is the trained Keras model (as keras' `History.model`; not saved in trace.json).
    The caller's state is left as it was: Python's `random`, NumPy's and TensorFlow's global
    random generators are seeded for the run and put back after it, and no environment
    variable is set.
    """
    from pipetrace.training.random_state import kept_random_state

    with kept_random_state():  # from the first line: even importing rich draws from `random`
        from pipetrace.pipeline import run as _run

        return _run(settings, verbose=verbose, **kwargs)


def trace_prediction(model, x, label=None, class_names=None, image=None):
    """Follow one input through any Keras model, layer by layer (see `pipetrace.probe.prediction`).

    `x` is one input (`x_test[0]`) or a batch of one (`x_test[:1]`, as `model.predict` takes).
    Sequential and functional models with one input and one output; each kind of head is shown in
    its own words (`prediction.output`: "softmax", "logits", "sigmoid", "sigmoid logits", "value";
    see `pipetrace.training.output_kind`). `label` is a class index (a true value for a regression).
    A model or label it cannot trace truly raises `PipetraceError` in one line.
    """
    from pipetrace.probe.prediction import trace_prediction as _trace_prediction

    return _trace_prediction(model, x, label=label, image=image, class_names=class_names)


def __getattr__(name):
    if name == "TraceCallback":  # a Keras callback: importing it imports Keras, so only on first use
        from pipetrace.training.callback import TraceCallback

        return TraceCallback
    raise AttributeError(f"module 'pipetrace' has no attribute {name!r}")


__all__ = [
    "DataError", "PipetraceError", "Settings", "SettingsError", "Trace", "TraceCallback", "TraceFileError",
    "run", "trace_prediction",
]
