"""The lab for real: runs on a real Dask LocalCluster, and `pipetrace lab` as a subprocess over HTTP.

Nothing here waits a fixed time: each test waits for events, with generous timeouts only as
guards against a hang. Runs are tiny (600 images); the long ones (many epochs) are stopped or
killed after their first events, so they never train to the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("distributed")
from pipetrace.lab.runner import EVENTS_KEPT_BY_CLUSTER, Runner  # noqa: E402
from pipetrace.lab.worker import KILLED  # noqa: E402
from pipetrace.trace.reading import read_trace  # noqa: E402

from conftest import ROOT, dask_scheduler_and_worker  # noqa: E402

TINY = {"limit": 600, "epochs": 1, "batch_size": 32}
LONG = {"limit": 600, "epochs": 500, "batch_size": 16}  # never finishes: stopped or killed in the tests
GUARD_SECONDS = 240


def wait_for(run, predicate, what: str):
    deadline = time.monotonic() + GUARD_SECONDS
    while time.monotonic() < deadline:
        if predicate([e.kind for e in run.events.events]):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {what} within {GUARD_SECONDS} s; events: {[e.kind for e in run.events.events]}")


def ended(run):
    wait_for(run, lambda kinds: kinds[-1] in ("done", "stopped", "failed"), "end")
    return run.events.last


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    lab = Runner(tmp_path_factory.mktemp("lab-runs"), workers=1)
    yield lab
    lab.close(timeout=30)


def test_a_run_sends_its_events_in_order_and_saves_a_valid_run_folder(runner):
    run = runner.submit(dict(TINY))
    last = ended(run)
    kinds = [e.kind for e in run.events.events]
    assert last.kind == "done", last.data
    assert kinds[:2] == ["queued", "started"] and kinds[2:7] == ["stage"] * 4 + ["test_images"]
    assert kinds.index("epoch") > kinds.index("batch") and kinds[-3:-1] == ["epoch", "test_layers"]
    assert [e.number for e in run.events.events] == list(range(1, len(kinds) + 1))
    losses = [v for e in run.events.events if e.kind == "batch" for v in e.data["losses"]]
    assert len(losses) == -(-600 // 32)  # every batch's loss, each once
    epoch = next(e.data for e in run.events.events if e.kind == "epoch")
    assert len(epoch["probabilities"]) == 10 and abs(sum(epoch["probabilities"]) - 1) < 1e-3
    assert len(epoch["hidden"]) == 128 and min(epoch["hidden"]) >= 0  # the ReLU layer's outputs
    trace = read_trace(run.folder / "trace.json")
    assert trace.status == "completed" and trace.training.epochs[0].batch_losses == losses
    assert last.data["test_accuracy"] == trace.evaluation.test_accuracy
    assert {p.name for p in run.folder.iterdir()} == {"trace.json", "model.keras", "report.html"}


def test_the_lab_keeps_the_pictures_of_the_newest_epoch_alone_and_the_scheduler_keeps_few_events(runner):
    run = runner.submit({"limit": 600, "epochs": 3, "batch_size": 100})
    assert ended(run).kind == "done"
    epochs = [e.data for e in run.events.events if e.kind == "epoch"]
    assert [d["epoch"] for d in epochs] == [1, 2, 3]
    assert all(len(d["probabilities"]) == 10 and d["test_accuracy"] is not None for d in epochs)  # every epoch's numbers
    assert ["inside" in d for d in epochs] == [False, False, True] and epochs[-1]["inside"]["units"]["drawn"] == 128
    retained = sum(len(e.as_sse()) for e in run.events.events if e.kind == "epoch")
    pictures = len(json.dumps(epochs[-1]["inside"]))
    assert pictures > 100_000 and retained < pictures + 3 * 10_000, (retained, pictures)  # `inside` held once
    published = len(run.events.events) - 1  # all but `queued` came through the scheduler
    topic = runner.topic
    kept = runner.client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.get_events(topic)))
    assert published > EVENTS_KEPT_BY_CLUSTER and kept <= EVENTS_KEPT_BY_CLUSTER, (published, kept)


def test_a_folder_of_images_posted_with_an_image_size_trains_at_that_size(runner, tmp_path):
    from PIL import Image

    from pipetrace.lab.app import LabConfig, checked_settings

    for shade, name in ((30, "dark"), (220, "light")):
        (tmp_path / "shapes" / name).mkdir(parents=True)
        for i in range(24):
            Image.new("L", (20, 16), shade + i).save(tmp_path / "shapes" / name / f"{i}.png")
    config = LabConfig(runs_dir=tmp_path / "runs", data={"shapes": tmp_path / "shapes"})
    settings = checked_settings({"dataset": "shapes", "image_size": [12, 10], "epochs": 1, "batch_size": 8}, config)
    run = runner.submit(settings)
    assert ended(run).kind == "done", run.events.last.data
    trace = read_trace(run.folder / "trace.json")
    assert trace.settings.image_size == [12, 10] and list(trace.dataset["image_shape"])[:2] == [12, 10]
    assert trace.network.layers[0].input_size == 12 * 10


def test_without_live_events_only_the_start_and_end_are_published(runner):
    runner.live = False  # what `pipetrace lab --no-live-events` does (to measure what live events cost)
    try:
        run = runner.submit(dict(TINY))
        assert ended(run).kind == "done"
    finally:
        runner.live = True
    assert [e.kind for e in run.events.events] == ["queued", "started", "done"]
    assert read_trace(run.folder / "trace.json").training.epochs[0].batch_losses  # recorded all the same


def test_stop_mid_run_keeps_the_finished_epochs_as_an_interrupted_trace_and_a_queued_run_never_starts(runner):
    run = runner.submit(dict(LONG))
    queued = runner.submit(dict(TINY))  # one worker: it waits behind the long run
    assert queued.events.events[0].data["position"] == 1 and runner.position(queued) == 1
    wait_for(run, lambda kinds: "epoch" in kinds, "first epoch")
    runner.stop(queued.id)
    assert ended(queued).kind == "stopped" and not queued.events.last.data["saved"]
    assert "started" not in [e.kind for e in queued.events.events] and not queued.folder.exists()
    runner.stop(run.id)
    last = ended(run)
    assert last.kind == "stopped" and last.data["saved"] and last.data["status"] == "interrupted"
    trace = read_trace(run.folder / "trace.json")
    assert trace.status == "interrupted" and 1 <= len(trace.training.epochs) < 500


def test_a_worker_killed_mid_run_fails_that_run_with_the_reason_and_the_queued_and_next_runs_work(runner):
    """Only the killed worker's run fails: the run queued behind it (never started) runs after, and so does a new one."""
    run = runner.submit(dict(LONG))
    wait_for(run, lambda kinds: "batch" in kinds[2:] and kinds.count("batch") >= 2, "batches")
    waiting = runner.submit(dict(TINY))  # one worker, busy: this one waits for it
    assert waiting.status == "queued"
    pids = runner.client.run(os.getpid)
    assert len(pids) == 1
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    last = ended(run)
    assert last.kind == "failed" and last.data["reason"] == KILLED
    assert ended(waiting).kind == "done", [(e.kind, e.data) for e in waiting.events.events]
    assert read_trace(waiting.folder / "trace.json").status == "completed"
    after = runner.submit(dict(TINY))
    assert ended(after).kind == "done"
    assert read_trace(after.folder / "trace.json").status == "completed"


def _request(url, token, data=None):
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"token {token}",
                                                             "Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=60)


def test_pipetrace_lab_serves_over_http_trains_and_stops_cleanly_on_ctrl_c(tmp_path):
    token = "lab-test-token"
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": token, "NO_COLOR": "1"}
    lab = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--max-epochs", "1000",
                            "--runs", str(tmp_path / "runs")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                           start_new_session=True)  # its own process group, as in a terminal
    try:
        lab.stdout.readline()  # what the lab is
        address = lab.stdout.readline().strip()  # the address, with its login code, on a line of its own
        assert address.startswith("http://127.0.0.1:") and "/#login=" in address and token not in address
        base = address.split("/#")[0]
        answer = json.load(_request(f"{base}/api/runs", token, json.dumps(TINY).encode()))
        assert answer["position"] == 0
        stream = _request(f"{base}/api/runs/{answer['id']}/events", token)
        kinds = [line.split(": ", 1)[1].strip() for line in stream if line.startswith(b"event:") for line in [line.decode()]]
        assert kinds[0] == "queued" and kinds[-1] == "done" and "epoch" in kinds
        runs = json.load(_request(f"{base}/api/runs", token))["runs"]
        assert runs[0]["id"] == answer["id"] and runs[0]["status"] == "done"
        report = _request(f"{base}/api/runs/{answer['id']}/report.html", token).read()
        assert report.startswith(b"<!DOCTYPE html>") or report.lower().startswith(b"<!doctype html>")
        long = json.load(_request(f"{base}/api/runs", token, json.dumps(LONG).encode()))
        stream = _request(f"{base}/api/runs/{long['id']}/events", token)
        for line in stream:
            if line.startswith(b"event: epoch"):
                break
        os.killpg(lab.pid, signal.SIGINT)  # Ctrl-C in a terminal: the lab and its worker processes all get it
        _out, err = lab.communicate(timeout=120)
    finally:
        if lab.poll() is None:
            lab.kill()
    assert "Traceback" not in err, err
    assert all(line.startswith("pipetrace") for line in err.splitlines() if line.strip()), err  # no library noise
    assert read_trace(tmp_path / "runs" / long["id"] / "trace.json").status == "interrupted"


def test_runs_go_to_an_existing_scheduler_and_worker_with_cluster(tmp_path):
    """`--cluster ADDRESS`: a real `dask scheduler` and `dask worker`, started as processes on loopback."""
    with dask_scheduler_and_worker(tmp_path, GUARD_SECONDS) as address:  # it also checks the scheduler still runs
        lab = Runner(tmp_path / "runs", address=address)
        try:
            lab.client.wait_for_workers(1, timeout=GUARD_SECONDS)
            run = lab.submit(dict(TINY))
            assert ended(run).kind == "done"
            assert read_trace(run.folder / "trace.json").status == "completed"
            assert run.events.events[1].data["worker"] in lab.client.scheduler_info()["workers"]
        finally:
            lab.close(timeout=30)  # the lab leaves a cluster it did not start running


@pytest.mark.parametrize("args, words", [
    (["--workers", "0"], "--workers must be at least 1 (got 0)"),
    (["--data", "/no/such/folder"], "--data /no/such/folder: not a folder"),
])
def test_bad_lab_options_get_one_clear_line_and_status_2(args, words):
    from conftest import pipetrace_cli

    done = pipetrace_cli("lab", "--no-open", *args, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == f"pipetrace lab: error: {words}"
