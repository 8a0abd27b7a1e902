"""The events of one lab run, in order and numbered, so a page that connects late (or reconnects) gets them all.

A run's events, as the page and the HTTP API name them: `queued`, `started`, `stage`, `test_images`,
`batch`, `epoch`, `paused`, `resumed`, `test_layers`, `done`, `stopped`, `failed`. The last three end a run;
exactly one of them is sent. Only the newest `epoch` event keeps its `inside` (the pictures, ~190 KB for the
default network): a page that connects late draws the current pictures and every epoch's numbers.

>>> log = RunEvents()
>>> log.add("queued", {"position": 0}).number, log.add("started", {}).number
(1, 2)
>>> [e.kind for e in log.since(1)]
['started']
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass, field

KINDS = ("queued", "started", "stage", "test_images", "batch", "epoch", "paused", "resumed", "test_layers", "done",
         "stopped", "failed")
FINAL = ("done", "stopped", "failed")
BATCH_INTERVAL_SECONDS = 0.1  # at most ~10 batch events a second: the page never falls behind


@dataclass(frozen=True)
class RunEvent:
    number: int  # 1, 2, ...: the SSE `id:`, for Last-Event-ID
    kind: str
    data: dict

    def as_sse(self) -> str:
        """The event as server-sent-events text (one JSON `data:` line)."""
        return f"id: {self.number}\nevent: {self.kind}\ndata: {json.dumps(self.data, allow_nan=False)}\n\n"


@dataclass
class RunEvents:
    """Every event of one run so far; safe to add from one thread and read from others."""

    events: list[RunEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, data: dict) -> RunEvent | None:
        """Append an event; nothing after a final one (a late message from a worker that was given up on)."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        with self._lock:
            if self.finished:
                return None
            if kind == "epoch":
                self._forget_older_pictures()
            event = RunEvent(len(self.events) + 1, kind, data)
            self.events.append(event)
            return event

    def _forget_older_pictures(self) -> None:
        """The last epoch event so far, without its `inside`: a page draws only the newest pictures, and a run's
        events are kept for the lab's life (a 50-epoch run would otherwise hold ~9 MB of them)."""
        for at in range(len(self.events) - 1, -1, -1):
            older = self.events[at]
            if older.kind == "epoch":
                if "inside" in older.data:
                    self.events[at] = RunEvent(older.number, older.kind,
                                               {key: value for key, value in older.data.items() if key != "inside"})
                return

    def since(self, number: int) -> list[RunEvent]:
        """The events after event `number` (0: all of them)."""
        with self._lock:
            return self.events[max(0, number):]

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].kind in FINAL

    @property
    def last(self) -> RunEvent | None:
        return self.events[-1] if self.events else None


class BatchCoalescer:
    """Collects the loss of every batch and hands them out at most every `interval` seconds.

    >>> c = BatchCoalescer(interval=60.0, clock=lambda: 0.0)
    >>> c.add([2.3, 2.1]), c.add([float("nan")]), c.take()
    (None, None, [2.3, 2.1, None])
    """

    def __init__(self, interval: float = BATCH_INTERVAL_SECONDS, clock=time.monotonic):
        self.interval, self.clock = interval, clock
        self._losses: list[float | None] = []
        self._last = clock()

    def add(self, losses: list[float]) -> list[float | None] | None:
        """Note these batches' losses; all the losses since the last batch event when it is time for one."""
        self._losses.extend(float(f"{v:.5g}") if math.isfinite(v) else None for v in losses)
        if self.clock() - self._last < self.interval:
            return None
        return self.take()

    def take(self) -> list[float | None] | None:
        """Whatever is waiting (at the end of an epoch), or None."""
        if not self._losses:
            return None
        losses, self._losses, self._last = self._losses, [], self.clock()
        return losses
