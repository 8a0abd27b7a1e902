"""Ctrl-C and SIGTERM while a run is being finished and saved: held until the run is saved whole.

Training may be interrupted at any moment (the training loop keeps the finished epochs and puts
back the weights of the last one). From the end of training until the run is saved, an interrupt
would leave a half-saved folder, so it is held: the signal is noted, the run is finished and saved,
and then the signal is raised again and acts as it would have (in the `pipetrace` command: the
run ends with status 130).

A caller that is not a terminal (a lab worker, whose Stop arrives as an event, not a signal) asks long
loops outside training to end early with `stop_when(check)`: `stop_if_asked()`, called by such a loop
(reading a folder of images, one image at a time), raises KeyboardInterrupt once `check()` is true.

`pause_point` is a test hook: with ``PIPETRACE_TEST_PAUSE_AT`` naming a point, a run stops there,
says so on stderr, and waits for a signal, so tests interrupt at an exact moment without timing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

SIGNALS = (signal.SIGINT, signal.SIGTERM)
PAUSE_ENV = "PIPETRACE_TEST_PAUSE_AT"
PAUSE_LIMIT_SECONDS = 120  # a paused run that no test interrupts goes on after this

_held: list[int] = []  # signals noted while held, in order
_asked = threading.local()  # this thread's stop check (stop_when)


class stop_when:
    """In this thread, for the `with` block: `stop_if_asked()` raises KeyboardInterrupt once `check()` is true."""

    def __init__(self, check):
        self.check = check

    def __enter__(self):
        self.previous, _asked.check = getattr(_asked, "check", None), self.check
        return self

    def __exit__(self, *exc) -> None:
        _asked.check = self.previous


def stop_if_asked() -> None:
    """KeyboardInterrupt when this thread's stop check (`stop_when`) says so; nothing without one."""
    check = getattr(_asked, "check", None)
    if check is not None and check():
        raise KeyboardInterrupt


class InterruptHold:
    """`start()` holds SIGINT and SIGTERM; `release()` restores their handlers and raises a held one again.

    Only the main thread can set signal handlers; elsewhere (a worker thread) both do nothing.
    """

    def __init__(self):
        self._previous: dict[int, object] | None = None

    def start(self) -> None:
        if self._previous is not None or threading.current_thread() is not threading.main_thread():
            return
        _held.clear()
        self._previous = {number: signal.signal(number, _note) for number in SIGNALS}

    def release(self) -> None:
        if self._previous is None:
            return
        for number, handler in self._previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        self._previous = None
        if _held:
            number = _held[0]
            _held.clear()
            signal.raise_signal(number)  # now handled as it would have been


def _note(signum, frame) -> None:
    _held.append(signum)


def pause_point(name: str) -> None:
    """Test hook: when PIPETRACE_TEST_PAUSE_AT is `name`, print a marker and wait for a signal."""
    if os.environ.get(PAUSE_ENV) != name:
        return
    print(f"pipetrace-test: paused at {name}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
    while not _held and time.monotonic() < deadline:
        time.sleep(0.01)  # a handler that raises (KeyboardInterrupt) ends the wait from inside


def with_pause_points(prefix: str, callback):
    """`callback(done)` that first passes `pause_point(f"{prefix} batch {done}")`; `callback` itself when no test asks."""
    if PAUSE_ENV not in os.environ:
        return callback

    def paused(done: int) -> None:
        pause_point(f"{prefix} batch {done}")
        if callback is not None:
            callback(done)

    return paused
