"""Standard output that its reader closed early (`pipetrace run | head`): the command goes on, writing nowhere.

Python's default is a BrokenPipeError from the next print, which ends a run before it is saved
(`pipetrace run | head` used to end silently with nothing saved) and prints a traceback-like line
after `pipetrace schema | head`. With `GuardedOutput` in place of `sys.stdout`, the first write
that finds the pipe closed points the file descriptor at os.devnull: what nobody reads is dropped,
and the run trains, saves, and says where on stderr.

>>> import io
>>> out = GuardedOutput(io.StringIO())
>>> out.write("fine") and out.closed_early
False
"""

from __future__ import annotations

import os


class GuardedOutput:
    """A text stream's stand-in that turns a closed pipe into a quiet os.devnull (see the module's docstring)."""

    def __init__(self, stream):
        self._stream = stream
        self.closed_early = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._write_nowhere()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._write_nowhere()

    def _write_nowhere(self) -> None:
        """From now on the descriptor is os.devnull (what is still buffered goes there too)."""
        self.closed_early = True
        nowhere = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(nowhere, self._stream.fileno())
        finally:
            os.close(nowhere)

    def __getattr__(self, name):  # fileno, isatty, encoding, ...: the real stream's
        return getattr(self._stream, name)
