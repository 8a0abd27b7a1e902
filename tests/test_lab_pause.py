"""Pause, step and resume lab runs on a real Dask LocalCluster (one worker for the module).

Steps are proven by counting the losses the batch events hold (every loss up to the paused
batch is published before `paused`), never by timing: a run paused while it waits in the queue
trains exactly one batch and pauses, and each Step adds exactly one loss. Waits are on events,
with generous guards only against a hang.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")
from pipetrace.lab.pause import PauseSwitch  # noqa: E402
from pipetrace.lab.runner import NotNow, Runner  # noqa: E402
from pipetrace.trace.reading import read_trace  # noqa: E402

from test_lab_server import LONG, ended, wait_for  # noqa: E402

SHORT = {"limit": 600, "epochs": 2, "batch_size": 100}  # 6 batches an epoch


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    lab = Runner(tmp_path_factory.mktemp("lab-pause-runs"), workers=1)
    yield lab
    lab.close(timeout=30)


def losses_sent(run) -> list:
    return [v for e in run.events.events if e.kind == "batch" for v in e.data["losses"]]


def nth_paused(run, n: int) -> dict:
    wait_for(run, lambda kinds: kinds.count("paused") >= n or kinds[-1] in ("done", "stopped", "failed"), f"paused #{n}")
    pauses = [e.data for e in run.events.events if e.kind == "paused"]
    assert len(pauses) >= n, [e.kind for e in run.events.events]
    return pauses[n - 1]


def paused_while_queued(runner, settings: dict):
    """A run paused before it starts: it waits behind a long run (one worker), which is then stopped."""
    blocker = runner.submit(dict(LONG))
    run = runner.submit(dict(settings))
    runner.command(run.id, "pause")
    assert run.status == "queued"  # still: the long run holds the only worker until it is stopped
    wait_for(blocker, lambda kinds: "started" in kinds, "the long run's start")
    runner.stop(blocker.id)
    assert ended(blocker).kind == "stopped"
    return run


def test_pause_then_each_step_trains_exactly_one_batch_and_resume_finishes_every_epoch(runner):
    run = paused_while_queued(runner, SHORT)
    first = nth_paused(run, 1)
    assert first["batches"] == 1 and len(losses_sent(run)) == 1  # one batch, then paused
    assert first["epoch"] == 1 and first["step"] == 1 and first["steps"] == 6
    assert first["loss"] == pytest.approx(losses_sent(run)[-1], rel=1e-4)
    assert len(first["probabilities"]) == 10 and abs(sum(first["probabilities"]) - 1) < 1e-3
    assert run.paused
    for n in (2, 3):
        runner.command(run.id, "step")
        paused = nth_paused(run, n)
        assert paused["batches"] == n and len(losses_sent(run)) == n  # exactly one more
        assert paused["step"] == n and paused["loss"] == pytest.approx(losses_sent(run)[-1], rel=1e-4)
    assert first["probabilities"] != paused["probabilities"]  # measured at each pause: two batches changed it
    runner.command(run.id, "resume")
    last = ended(run)
    kinds = [e.kind for e in run.events.events]
    assert last.kind == "done", last.data
    assert kinds.count("paused") == 3 and kinds.count("resumed") == 1 and kinds.index("resumed") > kinds.index("paused")
    assert not run.paused
    trace = read_trace(run.folder / "trace.json")
    assert trace.status == "completed" and len(trace.training.epochs) == 2
    assert [v for e in trace.training.epochs for v in e.batch_losses] == losses_sent(run)
    with pytest.raises(NotNow, match="has already ended"):
        runner.command(run.id, "pause")


def test_a_step_over_the_end_of_an_epoch_sends_that_epoch_and_pauses_in_the_next(runner):
    run = paused_while_queued(runner, {"limit": 600, "epochs": 3, "batch_size": 300})  # 2 batches an epoch
    assert nth_paused(run, 1)["step"] == 1
    runner.command(run.id, "step")
    assert nth_paused(run, 2)["step"] == 2 and "epoch" not in [e.kind for e in run.events.events]
    runner.command(run.id, "step")
    third = nth_paused(run, 3)
    assert (third["epoch"], third["step"], third["batches"]) == (2, 1, 3)
    assert [e.kind for e in run.events.events].count("epoch") == 1
    runner.stop(run.id)  # while paused: stopped and saved, the finished epoch kept
    last = ended(run)
    assert last.kind == "stopped" and last.data["saved"] and last.data["status"] == "interrupted"
    trace = read_trace(run.folder / "trace.json")
    assert trace.status == "interrupted" and len(trace.training.epochs) == 1


def test_commands_a_run_cannot_take_are_refused_in_words(runner):
    run = runner.submit(dict(SHORT))
    with pytest.raises(NotNow, match="not paused: pause it first"):
        runner.command(run.id, "step")
    with pytest.raises(NotNow, match="not paused"):
        runner.command(run.id, "resume")
    assert ended(run).kind == "done"
    for command in ("pause", "resume", "step"):
        with pytest.raises(NotNow, match=f"has already ended \\(done\\): there is nothing to {command}"):
            runner.command(run.id, command)


def test_the_switch_steps_once_per_step_and_wakes_for_stop():
    stop = []
    switch = PauseSwitch(stop_requested=lambda: bool(stop))
    assert switch.batches_next() is None and switch.hold(on_paused=lambda: None) == "running"
    switch.apply("step")  # not paused: nothing to step
    switch.apply("pause")
    switch.apply("step")
    switch.apply("step")
    told = []
    assert switch.hold(on_paused=lambda: told.append(1)) == "step" and switch.batches_next() == 1
    assert switch.hold(on_paused=lambda: told.append(1)) == "step" and told == [1, 1]
    stop.append(True)
    assert switch.hold(on_paused=lambda: None) == "stop"
    stop.clear()
    switch.apply("resume")
    assert switch.hold(on_paused=lambda: None) == "running" and switch.batches_next() is None


def test_the_loop_trains_the_same_batches_to_the_same_numbers_one_call_a_batch():
    """What Step relies on: one batch a call changes nothing but how often Python is called back."""
    from pipetrace.training.backend import import_keras
    from pipetrace.training.loop import TrainingLoop

    keras = import_keras()
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 6), dtype=np.float32), rng.integers(0, 3, 200)
    results, calls = [], []
    start = [rng.normal(0, 0.5, (6, 3)).astype("float32"), np.zeros(3, "float32")]  # both models begin alike
    for batches_next in (None, lambda: 1):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
        model.set_weights(start)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.SparseCategoricalCrossentropy())
        loop = TrainingLoop(model, batch_size=16, seed=0)
        seen = []
        results.append(loop.epoch(x, y, on_batches=seen.append, batches_next=batches_next))
        calls.append(seen)
    assert results[0].batch_losses == results[1].batch_losses  # the same batches, the same updates
    assert results[0].loss == pytest.approx(results[1].loss, rel=1e-6)  # their mean, summed in other float32 pieces
    assert len(results[0].batch_losses) == 13
    assert calls == [[12, 13], list(range(1, 14))]  # 12 full batches in one call, then the last alone; or one by one


def http_client(runner):
    """The lab's app on `runner`, through Starlette's test client."""
    import warnings

    with warnings.catch_warnings():  # Starlette 1.x suggests httpx2, not on the package index this project uses
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from pipetrace.lab.app import LabConfig, create_app

    config = LabConfig(token="t0ken", runs_dir=runner.runs_dir)
    return TestClient(create_app(config, runner), base_url="http://127.0.0.1:8000")


AUTH = {"Authorization": "token t0ken"}


def test_the_http_commands_need_the_token_header_and_answer_404_409_and_202(runner):
    client, auth = http_client(runner), AUTH
    assert client.post("/api/runs/20990101-000000-abc/pause", headers=auth).status_code == 404
    run = paused_while_queued(runner, SHORT)
    assert client.post(f"/api/runs/{run.id}/step").status_code == 403  # no header: refused, nothing sent
    nth_paused(run, 1)
    answer = client.post(f"/api/runs/{run.id}/step", headers=auth)
    assert answer.status_code == 202 and answer.json()["status"] == "running"
    assert nth_paused(run, 2)["batches"] == 2 and len(losses_sent(run)) == 2
    assert client.get(f"/api/runs/{run.id}", headers=auth).json()["paused"] is True
    assert client.post(f"/api/runs/{run.id}/resume", headers=auth).status_code == 202
    assert ended(run).kind == "done"
    refused = client.post(f"/api/runs/{run.id}/pause", headers=auth)
    assert refused.status_code == 409 and "has already ended (done)" in refused.json()["error"]
    assert client.get(f"/api/runs/{run.id}", headers=auth).json()["paused"] is False


def test_closing_the_lab_while_a_run_is_paused_stops_it_and_saves_it(tmp_path):
    """What Ctrl-C or SIGTERM of `pipetrace lab` does (Runner.close): a paused run is not left waiting."""
    lab = Runner(tmp_path, workers=1)
    try:
        run = lab.submit(dict(LONG))
        wait_for(run, lambda kinds: "batch" in kinds, "training")
        lab.command(run.id, "pause")  # a long run: it is still training when the pause takes effect
        nth_paused(run, 1)
    finally:
        lab.close(timeout=60)
    last = run.events.last
    assert last.kind == "stopped" and last.data["saved"] and last.data["status"] == "interrupted", last.data
    assert read_trace(run.folder / "trace.json").status == "interrupted"


def test_a_scheduler_that_does_not_take_the_command_is_a_503_in_words(tmp_path):
    from pipetrace.errors import PipetraceError
    from pipetrace.lab.runner import LabRun

    class Unreachable:
        runs_dir = tmp_path
        run = LabRun("20260101-000000-abc123", {}, tmp_path / "r", "2026-01-01T00:00:00+00:00")

        def get(self, run_id):
            return self.run if run_id == self.run.id else None

        def command(self, run_id, command):
            raise PipetraceError(f"the cluster did not take the {command}: OSError: gone")

    answer = http_client(Unreachable()).post("/api/runs/20260101-000000-abc123/pause", headers=AUTH)
    assert answer.status_code == 503 and answer.json() == {"error": "the cluster did not take the pause: OSError: gone"}


def test_several_observers_train_as_few_batches_a_call_as_any_of_them_asks():
    from pipetrace.pipeline import Observer
    from pipetrace.views.progress import Observers

    class Asks(Observer):
        def __init__(self, n):
            self.n = n

        def batches_next(self):
            return self.n

    assert Observers(Observer(), Asks(None)).batches_next() is None  # nobody asks: the loop's own 16
    assert Observers(Asks(4), Observer(), Asks(1)).batches_next() == 1
