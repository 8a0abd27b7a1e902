"""Pause, resume and step a lab run: the lab's commands reach the worker through a `distributed.Queue`.

The lab puts "pause", "resume" or "step" in a queue named for the run (`queue_name`), also while
the run is still queued, and then sets the run's doorbell, a `distributed.Event` (`bell_name`);
on the worker, a `PauseSwitch` thread waits on the bell (a long poll that simply ends empty: a
timed-out `Queue.get` is logged by the scheduler as an error), takes the commands in order and
keeps a local state, so training never waits on the scheduler. The commands sent before training began
are all taken before its first batch (`ready`): a run paused while queued trains exactly one
batch and pauses. While paused, the training loop trains one batch a call
(`batches_next`), and the training thread waits at each batch boundary (`hold`) until Resume,
Step (exactly one more batch, then paused again) or Stop.

>>> switch = PauseSwitch(stop_requested=lambda: False)
>>> switch.apply("pause"); switch.apply("step"); switch.batches_next()
1
>>> switch.hold(on_paused=lambda: None)  # the step granted: one batch, then paused again
'step'
"""

from __future__ import annotations

import threading

COMMANDS = ("pause", "resume", "step")
COMMAND_WAIT_SECONDS = 0.5  # each wait on the queue (a long poll to the scheduler), and each check for Stop while paused
READY_GUARD_SECONDS = 30.0  # training waits at most this long for the commands sent before it began (a scheduler round trip)


def queue_name(topic: str, run_id: str) -> str:
    """The run's command queue, as the lab and the worker name it."""
    return f"{topic}-pause-{run_id}"


def bell_name(topic: str, run_id: str) -> str:
    """The run's doorbell: set after each command put in its queue."""
    return f"{topic}-pause-bell-{run_id}"


def send(queue, bell, command: str) -> None:
    """The lab's side: the command, then the bell (in that order: a bell never rings before its command is there)."""
    queue.put(command)
    bell.set()


class PauseSwitch:
    """Whether a run is paused and how many single steps it was granted; thread-safe."""

    def __init__(self, stop_requested):
        self.stop_requested = stop_requested
        self.paused, self.steps = False, 0
        self._changed = threading.Condition()
        self._done = False
        self._ready = threading.Event()  # the commands sent before the run started are applied

    def listen(self, queue: str, bell: str, client) -> None:
        """Take commands from the queue named `queue` when `bell` rings, in a thread of its own, until `close()`."""
        threading.Thread(target=self._listen, args=(queue, bell, client), name="pipetrace-pause", daemon=True).start()

    def _listen(self, queue_name: str, bell_name: str, client) -> None:
        from distributed import Event, Queue

        queue = None
        try:
            queue, bell = Queue(queue_name, client=client), Event(bell_name, client=client)
            self._take(queue)  # what was sent while the run was queued, in order
            self._ready.set()
            while not self._done:
                if bell.wait(timeout=COMMAND_WAIT_SECONDS):
                    bell.clear()  # before taking: a command put after this rings again
                    self._take(queue)
        except Exception:  # the scheduler went away: the run goes on, unpausable
            pass
        finally:
            self._ready.set()
            if queue is not None:
                try:
                    queue.close()
                except Exception:
                    pass

    def _take(self, queue) -> None:
        for command in queue.get(batch=True):
            self.apply(command)

    def apply(self, command) -> None:
        """One command: pause (at the next batch boundary), resume, or step (one batch, only while paused)."""
        with self._changed:
            if command == "pause":
                self.paused = True
            elif command == "resume":
                self.paused, self.steps = False, 0
            elif command == "step" and self.paused:
                self.steps += 1
            self._changed.notify_all()

    def ready(self) -> None:
        """Wait (before training) until the commands sent before the run started are applied."""
        self._ready.wait(READY_GUARD_SECONDS)

    def batches_next(self) -> int | None:
        """One batch a call while paused (or about to be); None (as many as is fast) otherwise."""
        return 1 if self.paused else None

    def hold(self, on_paused) -> str:
        """At a batch boundary: "running" when not paused; else `on_paused()`, then wait for what comes next:
        "step" (train one batch), "resumed" or "stop"."""
        with self._changed:
            if not self.paused:
                return "running"
        on_paused()
        with self._changed:
            while self.paused and not self.steps and not self.stop_requested():
                self._changed.wait(COMMAND_WAIT_SECONDS)  # wakes at once on a command; Stop is checked each time
            if self.stop_requested():
                return "stop"
            if not self.paused:
                return "resumed"
            self.steps -= 1
            return "step"

    def close(self) -> None:
        self._done = True
