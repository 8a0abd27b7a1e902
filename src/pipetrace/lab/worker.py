"""What runs on a Dask worker: one lab run, with TensorFlow and the bundled data kept warm between runs.

`WarmWorker` (a Dask worker plugin) imports Keras and loads the bundled MNIST once per worker,
in the background, when the worker starts; `train` then runs `pipeline.run` with a `LabObserver`,
which publishes the run's events with the engine's own mechanism, `Worker.log_event(topic, ...)`
(the lab subscribes to the topic with `Client.subscribe_topic`), and checks a `distributed.Event`
for Stop: when it is set, the next batch raises KeyboardInterrupt, which the training loop takes as
Ctrl-C: it keeps the finished epochs, and the run is saved with `status: interrupted`. Pause, Resume
and Step arrive through the run's command queue (`lab/pause.py`): while paused, the training thread
waits at a batch boundary, and Stop still ends the run there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
from pathlib import Path

from distributed import Event, get_worker

from pipetrace.interrupts import stop_when
from distributed.diagnostics.plugin import WorkerPlugin

from pipetrace.errors import PipetraceError
from pipetrace.lab.events import BatchCoalescer
from pipetrace.lab.pause import PauseSwitch, bell_name, queue_name
from pipetrace.lab.grid import TestImageGrid, rounded
from pipetrace.pipeline import Observer

STOP_WAIT_SECONDS = 0.5  # each wait on the Stop event (a long poll to the scheduler), before the next
KILLED = "the worker running it stopped (killed or out of memory)"

_warm_lock = threading.Lock()
_datasets: dict[tuple, object] = {}  # (name, seed) -> Dataset: loaded once per worker process


def warm() -> None:
    """Import Keras (TensorFlow) and matplotlib and load the bundled MNIST, once per process."""
    with _warm_lock:
        if ("mnist", None) in _datasets:
            return
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from pipetrace.data import load_dataset
        from pipetrace.pipeline import _import_report_libraries
        from pipetrace.training.backend import import_keras

        import_keras()
        _import_report_libraries()
        _datasets[("mnist", None)] = load_dataset("mnist")


def bundled(name: str, seed: int):
    """The bundled dataset `name` ("mnist" or "digits"), loaded once per worker (digits' split depends on the seed)."""
    from pipetrace.data import load_dataset

    warm()
    key = ("mnist", None) if name == "mnist" else (name, seed)
    with _warm_lock:
        if key not in _datasets:
            _datasets[key] = load_dataset(name, seed=seed)
        return _datasets[key]


class WarmWorker(WorkerPlugin):
    """Warms every worker as it starts (in a thread: the worker answers the scheduler meanwhile).

    The lab's own worker processes ignore Ctrl-C and SIGHUP: the terminal sends them to the whole process
    group, and the lab, not the worker, decides how its runs end (stopped and saved).
    """

    name = "pipetrace-lab-warm"

    def __init__(self, ignore_interrupts: bool = False):
        self.ignore_interrupts = ignore_interrupts

    def setup(self, worker) -> None:
        if self.ignore_interrupts and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if hasattr(signal, "SIGHUP"):  # the terminal closed: the lab stops its runs and saves them
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
        threading.Thread(target=warm, name="pipetrace-warm", daemon=True).start()


FREEZE_ENV = "PIPETRACE_TEST_FREEZE_AT"  # test hook: a worker that stops answering Stop at this point


def freeze_point(name: str) -> None:
    """Test hook: when PIPETRACE_TEST_FREEZE_AT is `name`, this worker thread hangs here, deaf to Stop
    (as a worker stuck in a native call would), until its process ends or a guard of 10 minutes passes."""
    if os.environ.get(FREEZE_ENV) != name:
        return
    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.05)


class StopWatch:
    """Whether Stop was pressed, learned by a thread that waits on the run's `distributed.Event`.

    Training reads a local flag, so no batch waits for a round trip to the scheduler.
    """

    def __init__(self, event):
        self.event, self.requested, self._done = event, False, False
        self._thread = threading.Thread(target=self._watch, name="pipetrace-stop-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done:
            try:
                if self.event.wait(timeout=STOP_WAIT_SECONDS):
                    self.requested = True
                    return
            except Exception:  # the scheduler went away: the run goes on, its worker decides
                return

    def __call__(self) -> bool:
        return self.requested

    def close(self) -> None:
        self._done = True


class Stopped(Exception):
    """Stop was pressed before training began: nothing to keep."""


class LabObserver(Observer):
    """Publishes a run's stages, batch losses (coalesced), epochs and the followed image's prediction, with what
    lab/inside.py measures inside the network after each epoch and the grid's test images (lab/grid.py); with a
    `PauseSwitch`, holds training at a batch boundary while paused and says so (`paused`, `resumed`)."""

    def __init__(self, publish, stop_requested, pause: PauseSwitch | None = None):
        self.publish, self.stop_requested, self.pause = publish, stop_requested, pause
        self.coalescer = BatchCoalescer()
        self._pending: list[float] = []
        self.trained = 0  # batches trained so far, over every epoch
        self.last_loss: float | None = None  # the loss of the last batch trained
        self.model = self.hidden_model = None
        self.followed = None  # the followed test image, prepared as the network takes it
        self.grid = None  # the grid's fixed test images (lab/grid.py), when the data is the lab's own
        self.inside = None  # measures inside the network after each epoch (lab/inside.py)
        self.steps = 0
        self.epoch = 1
        self.sample = None

    def on_start(self, settings, dataset) -> None:
        self.class_names = dataset["class_names"]
        self.sample = settings.sample

    def on_stage(self, stage) -> None:
        self.publish("stage", _plain(dataclasses.asdict(stage)))
        if self.stop_requested():
            raise Stopped

    def on_model(self, model) -> None:
        self.model = model
        self.hidden_model = self.first_hidden_layer(model)
        from pipetrace.lab.inside import Inside

        self.inside = Inside(model, self.grid, self.followed, self.sample)

    @staticmethod
    def first_hidden_layer(model):
        """A model giving the first hidden Dense layer's outputs (None for other networks: nothing to say)."""
        first = model.layers[0] if model.layers else None
        if type(first).__name__ != "Dense" or len(model.layers) < 2:
            return None
        from pipetrace.training.backend import import_keras

        keras = import_keras()
        try:
            return keras.Model(inputs=model.inputs[0], outputs=first.output)
        except (ValueError, AttributeError):  # a network Keras cannot cut there
            return None

    def on_training_start(self, epochs: int, steps_per_epoch: int) -> None:
        self.steps = steps_per_epoch
        if self.grid is not None:
            self.publish("test_images", self.grid.event())
        if self.pause is not None:
            self.pause.ready()  # a run paused while queued pauses after its first batch
        self.publish("batch", {"epoch": 1, "step": 0, "steps": steps_per_epoch, "epochs": epochs, "losses": []})

    def on_batch_losses(self, losses: list[float]) -> None:
        self._pending = losses
        self.trained += len(losses)
        if losses:
            self.last_loss = losses[-1]

    def batches_next(self) -> int | None:
        return self.pause.batches_next() if self.pause is not None else None

    def on_batch(self, step: int) -> None:
        freeze_point("lab batch")  # any batch: how many a step covers depends on the machine
        losses = self.coalescer.add(self._pending)
        self._pending = []
        if losses is not None:
            self.publish("batch", {"epoch": self.epoch, "step": step, "steps": self.steps, "losses": losses})
        if self.stop_requested():
            raise KeyboardInterrupt  # the training loop keeps the finished epochs (as with Ctrl-C)
        if self.pause is None:
            return
        held = self.pause.hold(lambda: self.publish_paused(step))
        if held == "stop":
            raise KeyboardInterrupt
        if held == "resumed":
            self.publish("resumed", {"epoch": self.epoch, "step": step, "batches": self.trained})

    def publish_paused(self, step: int) -> None:
        """`paused` with this batch's numbers, after a batch event holding every loss up to this batch."""
        losses = self.coalescer.take()
        if losses:
            self.publish("batch", {"epoch": self.epoch, "step": step, "steps": self.steps, "losses": losses})
        probabilities, hidden = self.probe()
        self.publish("paused", _plain({"epoch": self.epoch, "step": step, "steps": self.steps, "batches": self.trained,
                                       "loss": self.last_loss, "probabilities": probabilities, "hidden": hidden}))

    def on_epoch(self, epoch) -> None:
        losses = self.coalescer.take()
        if losses:
            self.publish("batch", {"epoch": epoch.epoch, "step": self.steps, "steps": self.steps, "losses": losses})
        data = {k: v for k, v in dataclasses.asdict(epoch).items() if k != "batch_losses"}
        data["probabilities"], data["hidden"] = self.probe()
        diverged = epoch.accuracy is None and epoch.test_accuracy is None  # its weights were put back (training/fit.py)
        data["inside"] = self.inside.measure(diverged) if self.inside is not None else None
        self.publish("epoch", _plain(data))
        self.epoch = epoch.epoch + 1

    def on_training_end(self, training) -> None:
        layers = self.inside.grid_layers() if self.inside is not None else None
        if layers is not None:
            self.publish("test_layers", layers)

    def probe(self) -> tuple[list[float] | None, list[float] | None]:
        """The followed test image after this epoch, measured here: the output probabilities, the first hidden layer's outputs."""
        if self.model is None or self.followed is None:
            return None, None
        import numpy as np

        shape = tuple(self.model.inputs[0].shape[1:])
        x = np.asarray(self.followed, dtype="float32").reshape((1, *shape))
        hidden = rounded(self.hidden_model(x, training=False)) if self.hidden_model is not None else None
        return rounded(self.model(x, training=False)), hidden


class QuietObserver(Observer):
    """Follows nothing live, only Stop (`pipetrace lab --no-live-events`: to measure what live events cost)."""

    def __init__(self, stop_requested):
        self.stop_requested = stop_requested

    def on_batch(self, step: int) -> None:
        if self.stop_requested():
            raise KeyboardInterrupt


def train(run_id: str, settings: dict, run_dir: str, topic: str, stop_name: str, live: bool = True) -> dict:
    """One lab run on this worker: pipeline.run into `run_dir`; its events go to `topic`; returns how it ended.

    With `live` False only `started` and how the run ended are published (no stages, batches, epochs,
    and no pausing). Pause, Resume and Step come through the run's queue (`lab/pause.py`).
    """
    from pipetrace.pipeline import run
    from pipetrace.trace import Settings

    worker = get_worker()

    def publish(kind: str, data: dict) -> None:
        worker.log_event(topic, {"run": run_id, "kind": kind, "data": json.dumps(data, allow_nan=False)})

    if Path(run_dir).exists():  # a first attempt began here, on a worker that died: Dask is retrying it
        return _ended(publish, "failed", {"reason": f"{KILLED}; not retried"})
    stop = Event(stop_name)
    if stop.is_set():
        return _ended(publish, "stopped", {"saved": False})
    publish("started", {"worker": worker.address})
    chosen = Settings(**settings)
    watch = StopWatch(stop)
    pause = PauseSwitch(watch) if live else None
    if pause is not None:
        pause.listen(queue_name(topic, run_id), bell_name(topic, run_id), stop.client)
    observer = LabObserver(publish, watch, pause) if live else QuietObserver(watch)
    try:
        data = bundled(chosen.dataset, chosen.seed) if chosen.dataset in ("mnist", "digits") else None
        if data is not None and live:
            observer.followed = _followed(data, chosen.sample)
            observer.grid = TestImageGrid.of(data, chosen.limit)
        with stop_when(watch):  # Stop also while a --data folder is read, before any stage
            trace = run(chosen, data=data, out=run_dir, observer=observer, verbose=0)
    except (Stopped, KeyboardInterrupt):
        return _ended(publish, "stopped", {"saved": False})
    except PipetraceError as error:
        return _ended(publish, "failed", {"reason": str(error)})
    except Exception as error:  # a bug: said in one line, the lab goes on
        return _ended(publish, "failed", {"reason": f"unexpected error: {type(error).__name__}: {error}"})
    finally:
        watch.close()
        if pause is not None:
            pause.close()
    summary = summarize(trace)
    summary["stage"] = _plain(dataclasses.asdict(trace.stages[-1]))
    summary["saved"] = True
    return _ended(publish, "stopped" if trace.status == "interrupted" else "done", summary)


def summarize(trace) -> dict:
    """What the runs list shows of a finished run."""
    epochs = trace.training.epochs
    return {
        "status": trace.status,
        "epochs": len(epochs),
        "test_accuracy": trace.evaluation.test_accuracy if epochs else None,
        "architecture": trace.network.architecture,
        "seconds": trace.timings.get("total"),
    }


def _ended(publish, kind: str, data: dict) -> dict:
    publish(kind, data)
    return {"kind": kind, **data}


def _followed(data, sample: int):
    """The followed test image as the stages prepare it (scaled to 0..1), or None when `sample` is outside."""
    if not 0 <= sample < len(data.x_test):
        return None
    return data.x_test[sample].astype("float32") / float(data.pixel_max)


def _plain(value):
    """JSON-safe: numbers that are not finite become None (as in trace.json)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return value


def train_variant(settings: dict, run_dir: str):
    """One variant of `learn experiment` on this worker: `pipetrace.run` into `run_dir`, silently; returns its Trace.

    The same call as the in-process experiment makes (seeded the same way, the data loaded by name so
    the saved settings say `mnist` as they do here), on a worker whose Keras is already imported.
    The Trace travels back pickled, without its Keras model (a ClassVar).
    """
    import pipetrace
    from pipetrace.trace import Settings

    warm()
    return pipetrace.run(Settings(**settings), out=run_dir, force=True, verbose=0)
