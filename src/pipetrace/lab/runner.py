"""The lab's Dask client: submits runs to the workers, stops them, and keeps every run's events.

By default an embedded `LocalCluster` (worker processes, one thread each: one run per worker at a
time); with `address`, an existing scheduler (`dask scheduler` and a `dask worker` per machine).
Workers publish events under one topic per lab (`Worker.log_event`); `Client.subscribe_topic`
hands them here, where they are numbered and kept for replay. How a run ends comes from the worker
(`done`, `stopped`, `failed`) or, when its worker died, from the task's `KilledWorker` error.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipetrace.errors import PipetraceError
from pipetrace.lab.events import RunEvents
from pipetrace.lab.pause import COMMANDS, bell_name, queue_name, send
from pipetrace.lab.worker import KILLED, WarmWorker, train

FINAL_EVENT_WAIT_SECONDS = 10.0  # after the task ends, how long its last event may still be on its way
EVENTS_KEPT_BY_CLUSTER = 10  # of each topic by the embedded scheduler, and messages by each stream (Dask: 1,000)
STOP_GRACE_SECONDS = 60.0  # after Stop, how long a running run may take to acknowledge it before its worker is restarted


def start_cluster(workers: int = 1, address: str | None = None, security=None):
    """A Dask client whose workers are warm (`WarmWorker`), and the embedded cluster it started (None with `address`).

    Without `address`, a `LocalCluster` of `workers` processes, one thread each (one run per worker
    at a time), its logs silenced below ERROR, on loopback over TLS with credentials made for this
    cluster alone (`Security.temporary()`: a certificate each side must present, kept in memory),
    so another user of the machine can neither connect a `distributed.Client` nor run code in it;
    and no HTTP server, ever (Dask starts one on the scheduler and every worker even with
    `dashboard_address=None`: `no_http.NoHttpCluster`'s nodes make none). With `address`, the
    scheduler there, with `security` (`cluster_security`) when it speaks TLS.
    Distributed's own loggers in this process are kept at WARNING: its INFO lines are not the user's.
    The embedded cluster keeps only the last `EVENTS_KEPT_BY_CLUSTER` events of a topic (and each of its streams as
    many sent messages): the lab takes its events as they are published (`subscribe_topic`) and keeps them itself,
    while Dask's default 1,000 would hold up to ~190 MB of `epoch` pictures on the scheduler.
    """
    import dask
    from distributed import Client
    from distributed.security import Security

    from pipetrace.lab.no_http import NoHttpCluster

    for name in ("distributed", "distributed.client", "distributed.scheduler", "distributed.nanny", "distributed.worker"):
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.level, logging.WARNING))
    cluster = None
    if address is None:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # the worker processes inherit these
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            security = Security.temporary()
        except ImportError:  # Security.temporary needs the cryptography package
            raise PipetraceError('the lab\'s cluster needs the cryptography package (for TLS): pip install "pipetrace[lab]"') from None
        # a task whose worker died is not retried: it ends `failed` with the reason (see worker.KILLED)
        with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                              "distributed.admin.low-level-log-length": EVENTS_KEPT_BY_CLUSTER}):
            cluster = NoHttpCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                    protocol="tls", security=security, dashboard_address=None,
                                    worker_dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster, security=security)
    else:
        try:
            client = Client(address, timeout="10s", **({"security": security} if security is not None else {}))
        except (OSError, ValueError, TypeError) as error:  # nothing listening there, or not an address
            raise PipetraceError(f"--cluster {address}: cannot reach a Dask scheduler there ({error})") from None
    client.register_plugin(WarmWorker(ignore_interrupts=address is None))
    return client, cluster


def cluster_security(ca_file: str | None, cert: str | None, key: str | None):
    """The TLS credentials for `--cluster` (the files `dask scheduler --tls-ca-file --tls-cert --tls-key` takes), or None.

    All three or none: a scheduler that checks certificates needs the CA and this client's own.
    """
    given = {"--tls-ca-file": ca_file, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise PipetraceError(f"give --tls-ca-file, --tls-cert and --tls-key together (missing {', '.join(missing)})")
    for name, value in given.items():
        if not os.path.isfile(value):
            raise PipetraceError(f"{name} {value}: no such file")
    from distributed.security import Security

    return Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


def restarted(client, worker: str) -> str:
    """Restart `worker` (its nanny starts a fresh process) and say what happened, as the end of a sentence."""
    try:
        outcome = client.restart_workers([worker], raise_for_error=False).get(worker)
    except ValueError:  # distributed: "Restarting workers requires a nanny"
        return "its worker could not be restarted (it has no nanny) and is still busy with it"
    except Exception as error:  # the scheduler did not answer
        return f"its worker could not be restarted ({type(error).__name__}: {str(error)[:200]}) and may still be busy with it"
    if outcome == "OK":
        return "its worker was restarted"
    if outcome in ("timed out", "removed"):
        return "its worker did not restart in time and was taken out of the cluster"
    return f"its worker could not be restarted ({str(outcome)[:200]}) and may still be busy with it"


@dataclass
class LabRun:
    """One run the lab was asked for, and everything that happened to it."""

    id: str
    settings: dict
    folder: Path
    created_at: str
    order: int = 0  # 1, 2, ...: the order runs were asked for
    events: RunEvents = field(default_factory=RunEvents)
    future: object = None
    attempt: int = 0  # tasks sent for it: more than one when a worker died with it still waiting, never started
    given_up: bool = False  # Stop was not acknowledged in time: the lab ends it and restarts its worker (Runner.stop)
    pause_asked: bool = False  # Pause was pressed and Resume not since (the worker says when it took effect: `paused`)
    commands: object = None  # its `distributed.Queue` of pause/resume/step, once one was sent

    @property
    def status(self) -> str:
        """queued, running, done, stopped or failed."""
        last = self.events.last
        if last is None or last.kind == "queued":
            return "queued"
        return last.kind if self.events.finished else "running"

    @property
    def paused(self) -> bool:
        """Held at a batch boundary now: its last `paused` came after its last `resumed`, and it has not ended."""
        kinds = [e.kind for e in self.events.events if e.kind in ("paused", "resumed")]
        return bool(kinds) and kinds[-1] == "paused" and not self.events.finished

    @property
    def result(self) -> dict:
        return self.events.last.data if self.events.finished else {}


class NotNow(PipetraceError):
    """A command the run cannot take in its state (the HTTP API answers 409 with these words)."""


class Runner:
    """Runs lab runs on a Dask cluster; thread-safe (the HTTP server calls it from several threads)."""

    def __init__(self, runs_dir: Path, *, workers: int = 1, address: str | None = None, security=None,
                 live: bool = True):
        self.runs_dir = Path(runs_dir)
        self.live = live  # False: workers publish only how runs end (to measure what live events cost)
        self.stop_grace = STOP_GRACE_SECONDS
        self.topic = f"pipetrace-lab-{secrets.token_hex(4)}"  # one lab's events, even on a shared cluster
        self._runs: dict[str, LabRun] = {}
        self._lock = threading.Lock()
        self.client, self.cluster = start_cluster(workers, address, security)
        self.client.subscribe_topic(self.topic, self._on_worker_event)

    # ---- asked by the HTTP API -------------------------------------------------------------
    def submit(self, settings: dict) -> LabRun:
        """Queue a run with these (validated) settings; its `queued` event says how many runs must end before it starts."""
        now = datetime.datetime.now()
        run_id = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        run = LabRun(run_id, settings, self.runs_dir / run_id, now.astimezone(datetime.timezone.utc).isoformat(timespec="seconds"))
        with self._lock:
            run.order = len(self._runs) + 1
            self._runs[run_id] = run
        run.events.add("queued", {"position": self.position(run), "settings": settings})
        self._send(run)
        threading.Thread(target=self._await, args=(run,), name=f"pipetrace-lab-{run_id}", daemon=True).start()
        return run

    def _send(self, run: LabRun) -> None:
        """Hand the run to the scheduler (again, after the worker it was waiting on died: a new task key)."""
        run.attempt += 1
        run.future = self.client.submit(train, run.id, run.settings, str(run.folder.resolve()), self.topic,
                                        self._stop_name(run.id), self.live,
                                        key=f"pipetrace-run-{run.id}-{run.attempt}", pure=False)

    def stop(self, run_id: str) -> None:
        """Ask a run to stop: queued, it never starts; training, it keeps the finished epochs and is saved."""
        from distributed import Event

        run = self._runs[run_id]
        if run.events.finished:
            return
        Event(self._stop_name(run_id), client=self.client).set()
        if run.status == "queued" and run.future is not None:
            run.future.cancel()  # not on a worker yet: it never starts (one that just started sees the Event)
        threading.Thread(target=self._give_up_unless_stopped, args=(run,), name=f"pipetrace-stop-{run_id}",
                         daemon=True).start()

    def command(self, run_id: str, command: str) -> None:
        """Pause (at the next batch boundary), resume, or step (one batch, then paused again) a run.

        A queued run takes them too: paused before it starts, it trains one batch and pauses. Raises
        NotNow, in words, for a run that cannot take it: one that has ended, one not paused (resume,
        step), or every run of a lab without live events; PipetraceError when the scheduler does not answer.
        """
        from distributed import Event, Queue

        if command not in COMMANDS:
            raise ValueError(f"unknown command {command!r}")
        run = self._runs[run_id]
        if run.events.finished:
            raise NotNow(f"run {run_id} has already ended ({run.status}): there is nothing to {command}")
        if not self.live:
            raise NotNow("this lab runs without live events (--no-live-events): its runs cannot be paused")
        if command != "pause" and not run.pause_asked:
            raise NotNow(f"run {run_id} is not paused: pause it first")
        try:
            with self._lock:
                if run.commands is None:
                    run.commands = Queue(queue_name(self.topic, run_id), client=self.client)
            send(run.commands, Event(bell_name(self.topic, run_id), client=self.client), command)
        except Exception as error:  # the scheduler is not answering
            raise PipetraceError(f"the cluster did not take the {command}: {type(error).__name__}: {error}") from None
        run.pause_asked = command != "resume"

    def _give_up_unless_stopped(self, run: LabRun) -> None:
        """A run that has not ended `stop_grace` seconds after Stop (its worker frozen, or stuck in a long call)
        ends `failed`, and its worker is restarted (by its nanny) so the next runs get a working one; the reason
        says whether that worked."""
        self._wait_final(run, self.stop_grace)
        if run.events.finished:
            return
        started = [e.data.get("worker") for e in run.events.events if e.kind == "started"]
        reason = f"it did not stop within {self.stop_grace:g} s of Stop: given up on"
        if started:
            run.given_up = True  # the restart ends its task: `_await` must not speak for the run meanwhile
            reason += "; " + restarted(self.client, started[-1])
        run.events.add("failed", {"reason": reason})

    def get(self, run_id: str) -> LabRun | None:
        return self._runs.get(run_id)

    def runs(self) -> list[LabRun]:
        with self._lock:
            return list(self._runs.values())

    def position(self, run: LabRun) -> int:
        """How many runs must end before this queued one starts (0: it starts at once, on a free worker)."""
        if run.status != "queued":
            return 0
        with self._lock:
            earlier = [r for r in self._runs.values() if r.order < run.order and not r.events.finished]
        return max(0, len(earlier) - self.slots() + 1)

    def slots(self) -> int:
        """Runs that can train at once: one per worker thread."""
        try:
            workers = self.client.scheduler_info()["workers"].values()
            return max(1, sum(w.get("nthreads", 1) for w in workers))
        except Exception:  # the scheduler is not answering just now: say at least one
            return 1

    def close(self, timeout: float = 20.0) -> None:
        """Stop every run (each saved as interrupted), wait for them up to `timeout` seconds, then shut the cluster."""
        unfinished = [r for r in self.runs() if not r.events.finished]
        for run in unfinished:
            try:
                self.stop(run.id)
            except Exception:
                pass
        from distributed import wait

        futures = [r.future for r in unfinished if r.future is not None]
        if futures:
            try:
                wait(futures, timeout=timeout)
            except Exception:
                pass
        for run in unfinished:
            run.events.add("stopped", {"saved": False, "reason": "the lab was stopped"})  # only if no end came
        try:
            self.client.close(timeout=5)
        finally:
            if self.cluster is not None:
                self.cluster.close(timeout=5)

    # ---- from the workers --------------------------------------------------------------------
    def _on_worker_event(self, event) -> None:
        _timestamp, message = event
        run = self._runs.get(message.get("run")) if isinstance(message, dict) else None
        if run is None:
            return
        run.events.add(message["kind"], json.loads(message["data"]))

    def _await(self, run: LabRun) -> None:
        """Waits for the run's task (`_follow_task`), then lets its command queue go."""
        from distributed import Event

        try:
            self._follow_task(run)
        finally:
            if run.commands is not None:  # the scheduler forgets the queue once the worker has closed it too,
                try:                      # and a bell no one waits on once it is cleared
                    run.commands.close()
                    Event(bell_name(self.topic, run.id), client=self.client).clear()
                except Exception:
                    pass

    def _follow_task(self, run: LabRun) -> None:
        """A task that ended without its last event (its worker died) ends `failed`."""
        from concurrent.futures import CancelledError

        from distributed.scheduler import KilledWorker

        reason = None
        while True:
            try:
                run.future.result()
            except CancelledError:
                self._wait_final(run, FINAL_EVENT_WAIT_SECONDS / 10)  # it may have started after all
                run.events.add("stopped", {"saved": False})
                return
            except KilledWorker:
                if self._never_started(run):  # it was only waiting on that worker: queue it again, nothing lost
                    self._send(run)
                    continue
                reason = KILLED
            except Exception as error:  # the cluster went away
                reason = f"the run could not finish: {type(error).__name__}: {error}"
            break
        if run.given_up:  # its worker is being restarted by `_give_up_unless_stopped`, which says how the run ended
            return
        if reason is None:
            self._wait_final(run)
        run.events.add("failed", {"reason": reason or "the worker ended the run without saying how"})

    def _never_started(self, run: LabRun) -> bool:
        """No worker said `started` for it, and no folder of it exists (a start whose event was lost still wrote one)."""
        return all(e.kind != "started" for e in run.events.events) and not run.folder.exists() and not run.events.finished

    def _wait_final(self, run: LabRun, seconds: float = FINAL_EVENT_WAIT_SECONDS) -> None:
        import time

        deadline = time.monotonic() + seconds
        while not run.events.finished and time.monotonic() < deadline:
            time.sleep(0.02)

    def _stop_name(self, run_id: str) -> str:
        return f"{self.topic}-stop-{run_id}"
