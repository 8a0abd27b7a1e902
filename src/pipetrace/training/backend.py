"""Keras on TensorFlow, imported quietly: the one place pipetrace imports the backend.

While TensorFlow initialises, its C++ code writes start-up lines straight to file descriptor 2
(absl's "All log messages before absl::InitializeLog() is called...", oneDNN's notice, the CPU
feature guard), whatever `TF_CPP_MIN_LOG_LEVEL` says. So for the length of the import, fd 2
points at an unnamed temporary file (`QuietStderr`), and Python's `sys.stderr`, if it wrote to
fd 2, writes meanwhile to a duplicate of the real stderr: the program's own messages, from any
thread, still reach the user, however long the import takes. If the import fails, what
TensorFlow wrote is replayed and the error becomes one `BackendError` line; if it succeeds it is
dropped (a later `fit` prints nothing more on a CPU).

Nothing else of the caller's changes: no environment variable is set here (the `pipetrace`
command sets its own defaults, see `cli.console_main`), and a Keras already imported is used as
it is (it must run on TensorFlow).

>>> keras = import_keras()                     # doctest: +SKIP
>>> keras.backend.backend()                    # doctest: +SKIP
'tensorflow'
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import sys
import tempfile
import threading

from pipetrace.errors import PipetraceError

# Keras imports scikit-learn and matplotlib whenever they are installed, for integrations
# pipetrace never uses (its scikit-learn wrappers, its image-gallery plots): about 0.7 s and
# 60 MB for scikit-learn (no longer installed with pipetrace), 0.3 s and 25 MB for matplotlib (2 cores).
# The `pipetrace` command owns its process, so it sets LEAN_IMPORT and Keras is imported
# without them; from Python nothing changes, since a notebook may want those integrations later.
LEAN_IMPORT = False
KERAS_EXTRAS_NOT_USED = ("sklearn", "matplotlib")

INSTALL_HINT = ('pip install "pipetrace[cpu]" (the CPU build), or pip install tensorflow '
                "(with a GPU: pip install \"tensorflow[and-cuda]\" on Linux)")


class BackendError(PipetraceError):
    """Keras or TensorFlow is missing or cannot be imported: one line that says what to run."""


class QuietStderr:
    """File descriptor 2 into an unnamed temporary file until `restore()`, which returns what was written there.

    Python's `sys.stderr`, when it writes to fd 2, is replaced meanwhile by a line-buffered
    stream on a duplicate of the real stderr, so `print(..., file=sys.stderr)` from any thread
    is not captured; so are the logging handlers that hold it (a server's log lines). A stream
    that is not fd 2 (a notebook's, pytest's) is left alone.
    """

    def __init__(self):
        _flush(sys.stderr)
        self._captured = tempfile.TemporaryFile()  # unnamed on Linux: nothing to clean up
        self._real = os.dup(2)
        self._original_stream, self._stand_in = sys.stderr, None
        if _writes_to_fd2(sys.stderr):
            self._stand_in = os.fdopen(os.dup(self._real), "w", buffering=1,
                                       encoding=sys.stderr.encoding, errors=sys.stderr.errors)
            sys.stderr = self._stand_in
        self._handlers = [h for h in _stream_handlers() if h.stream is self._original_stream] if self._stand_in else []
        for handler in self._handlers:
            handler.setStream(self._stand_in)
        os.dup2(self._captured.fileno(), 2)

    def restore(self) -> bytes:
        os.dup2(self._real, 2)
        os.close(self._real)
        if self._stand_in is not None and sys.stderr is self._stand_in:
            sys.stderr = self._original_stream
        for handler in self._handlers:
            if handler.stream is self._stand_in:
                handler.setStream(self._original_stream)
        if self._stand_in is not None:
            _flush(self._stand_in)  # left open: a thread may still hold it; closed when no one does
        self._captured.seek(0)
        written = self._captured.read()
        self._captured.close()
        return written


_lock = threading.Lock()
_pending: concurrent.futures.Future | None = None


def import_keras(without: tuple[str, ...] = ()):
    """Import Keras on the TensorFlow backend, quietly, and return the module.

    Modules named in `without` look absent to Keras while it imports (it only *tries*
    them); they import normally afterwards. Raises `BackendError` (one line) when Keras or
    TensorFlow is missing or broken.
    """
    return _start(without).result()


def import_keras_in_background() -> concurrent.futures.Future:
    """Start importing Keras (and TensorFlow) in a thread; `.result()` returns the module.

    Reading and decompressing MNIST releases the GIL, so the two overlap on two cores.
    """
    return _start(KERAS_EXTRAS_NOT_USED if LEAN_IMPORT else ())


def _start(without: tuple[str, ...]) -> concurrent.futures.Future:
    """One quiet import at a time: a second caller shares the import already under way."""
    global _pending
    with _lock:
        if _pending is not None and not (_pending.done() and _pending.exception() is not None):
            return _pending
        if fully_imported("keras") and fully_imported("tensorflow"):
            _pending = concurrent.futures.Future()
            try:
                _pending.set_result(_on_tensorflow(sys.modules["keras"]))
            except BackendError as error:
                _pending.set_exception(error)
            return _pending
        quiet = QuietStderr()  # here, in the caller's thread, before the import can write anything
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-keras")
        _pending = executor.submit(_import_quietly, without, quiet)
        executor.shutdown(wait=False)
        return _pending


def _import_quietly(without: tuple[str, ...], quiet: QuietStderr):
    hidden = [name for name in without if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # `import name` now raises ImportError, which Keras expects
    try:
        import keras
    except BaseException as error:
        written = quiet.restore()
        if written:  # TensorFlow's own account of what went wrong comes first
            os.write(2, written if written.endswith(b"\n") else written + b"\n")
        raise _backend_error(error) from error
    else:
        quiet.restore()
    finally:
        for name in hidden:
            sys.modules.pop(name, None)
    return _on_tensorflow(keras)


def require_installed() -> None:
    """Keras and TensorFlow are installed (found, not imported: milliseconds), else the BackendError that
    names the command to install them, before any data is read."""
    import importlib.util

    for name in ("keras", "tensorflow"):
        if not fully_imported(name) and importlib.util.find_spec(name) is None:
            raise _backend_error(ModuleNotFoundError(f"No module named {name!r}", name=name))


def _backend_error(error: BaseException) -> BaseException:
    if not isinstance(error, Exception):
        return error  # KeyboardInterrupt, SystemExit: not ours to rename
    missing = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
    if missing and missing.split(".")[0] in ("keras", "tensorflow"):
        return BackendError(f"pipetrace trains with Keras on TensorFlow, and {missing.split('.')[0]} is not "
                            f"installed in this Python ({sys.executable}): {INSTALL_HINT}")
    return BackendError(f"TensorFlow could not be imported: {type(error).__name__}: {error}".rstrip()
                        + " (TensorFlow's own messages, if any, are above)")


def _on_tensorflow(keras):
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise BackendError(f"pipetrace trains with Keras on TensorFlow, but this Keras runs on {backend} "
                           "(KERAS_BACKEND or ~/.keras/keras.json): set KERAS_BACKEND=tensorflow before Keras is imported")
    return keras


def fully_imported(name: str) -> bool:
    """`name` is imported and done: not absent, and not half-way through an import in another thread.

    Touching a module another thread is still importing (TensorFlow takes seconds) fails with
    "partially initialized module"; this says when it is safe. While pipetrace's own background
    import is under way nothing of TensorFlow or Keras counts as done: `tensorflow` itself may be
    initialised while Keras, in that thread, still holds the locks of TensorFlow's submodules.
    """
    if name.split(".")[0] in ("tensorflow", "keras") and import_under_way():
        return False
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def import_under_way() -> bool:
    """pipetrace's background import of Keras and TensorFlow has started and not finished."""
    pending = _pending
    return pending is not None and not pending.done()


def _stream_handlers() -> list:
    """Every logging.StreamHandler configured in this process (none if logging was never imported)."""
    if "logging" not in sys.modules:
        return []
    import logging

    loggers = [logging.getLogger()] + [logger for logger in list(logging.Logger.manager.loggerDict.values())
                                       if isinstance(logger, logging.Logger)]
    return [handler for logger in loggers for handler in logger.handlers
            if isinstance(handler, logging.StreamHandler)]


def _writes_to_fd2(stream) -> bool:
    try:
        return stream is not None and stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


def _flush(stream) -> None:
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass
