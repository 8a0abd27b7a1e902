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


def run(settings=None, **kwargs):
    """Run the whole pipeline and return its Trace (see `pipetrace.pipeline.run`)."""
    from pipetrace.pipeline import run as _run

    return _run(settings, **kwargs)


__all__ = ["DataError", "PipetraceError", "Settings", "SettingsError", "Trace", "TraceFileError", "run"]
