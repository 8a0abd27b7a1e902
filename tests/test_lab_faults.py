"""The lab under faults: stopped by SIGTERM or SIGHUP as by Ctrl-C, its running runs saved as interrupted.

`pipetrace lab` runs as a real process in its own process group (as in a terminal); nothing waits a
fixed time: each step waits for the lab's own output or events, with a guard against a hang.
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
pytest.importorskip("cryptography")
from pipetrace.trace.reading import read_trace  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_lab_server import wait_for as _wait_for  # noqa: E402

LONG = {"limit": 600, "epochs": 500, "batch_size": 16}  # never finishes: the lab is stopped after its first epoch
GUARD_SECONDS = 240


def _request(url, token, data=None):
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"token {token}",
                                                             "Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=GUARD_SECONDS)


TOKEN = "faults-token"


def _lab_training(tmp_path) -> tuple[subprocess.Popen, dict]:
    """`pipetrace lab` in its own process group (as in a terminal), with a long run past its first epoch."""
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": TOKEN, "NO_COLOR": "1"}
    lab = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--max-epochs", "1000",
                            "--runs", str(tmp_path / "runs")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                           start_new_session=True)
    try:
        lab.stdout.readline()
        base = lab.stdout.readline().strip().split("/#")[0]
        run = json.load(_request(f"{base}/api/runs", TOKEN, json.dumps(LONG).encode()))
        for line in _request(f"{base}/api/runs/{run['id']}/events", TOKEN):
            if line.startswith(b"event: epoch"):
                break
    except BaseException:
        os.killpg(lab.pid, signal.SIGKILL)
        lab.wait()
        raise
    return lab, run


@pytest.mark.parametrize("number, whole_group", [(signal.SIGTERM, False), (signal.SIGHUP, True)],
                         ids=["SIGTERM to the lab (kill PID)", "SIGHUP to the process group (the terminal closed)"])
def test_sigterm_and_sighup_stop_the_lab_and_save_its_running_run(tmp_path, number, whole_group):
    lab, run = _lab_training(tmp_path)
    try:
        if whole_group:
            os.killpg(lab.pid, number)
        else:
            os.kill(lab.pid, number)
        _out, err = lab.communicate(timeout=GUARD_SECONDS)
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    assert lab.returncode == 128 + number, (lab.returncode, err)
    assert "Traceback" not in err, err
    trace = read_trace(tmp_path / "runs" / run["id"] / "trace.json")
    assert trace.status == "interrupted" and len(trace.training.epochs) >= 1


TINY = {"limit": 600, "epochs": 1, "batch_size": 32}
# a killed worker (its run fails, the queued one runs after): test_lab_server, on its module's warm runner


def test_a_worker_frozen_past_stop_is_given_up_on_and_restarted(tmp_path):
    """The worker hangs at its first batches (a test hook: deaf to Stop); Stop then fails the run within the lab's
    bound and its worker is restarted, so the next run trains."""
    from pipetrace.lab.runner import Runner
    from pipetrace.lab.worker import FREEZE_ENV

    runner = Runner(tmp_path / "runs", workers=1)
    runner.stop_grace = 1.0  # the frozen worker never acknowledges: any bound gives the same outcome
    try:
        runner.client.wait_for_workers(1, timeout=GUARD_SECONDS)
        runner.client.run(lambda: os.environ.update({FREEZE_ENV: "lab batch"}))  # in this worker process only
        frozen = runner.submit(dict(LONG))
        _wait_for(frozen, lambda kinds: "batch" in kinds, "training to start")  # nothing checks Stop from there to the frozen point
        before = set(runner.client.run(os.getpid).values())
        runner.stop(frozen.id)
        _wait_for(frozen, lambda kinds: kinds[-1] in ("done", "stopped", "failed"), "the end of the frozen run")
        assert frozen.events.last.kind == "failed"
        assert frozen.events.last.data["reason"] == "it did not stop within 1 s of Stop: given up on; its worker was restarted"
        deadline = time.monotonic() + GUARD_SECONDS
        while True:  # a new worker process replaces the frozen one
            runner.client.wait_for_workers(1, timeout=GUARD_SECONDS)
            try:
                if set(runner.client.run(os.getpid).values()).isdisjoint(before):
                    break
            except Exception:  # the worker left between the two calls
                pass
            assert time.monotonic() < deadline, "the frozen worker was not restarted"
            time.sleep(0.05)
        after = runner.submit(dict(TINY))
        _wait_for(after, lambda kinds: kinds[-1] in ("done", "stopped", "failed"), "the end of the next run")
        assert after.events.last.kind == "done", [(e.kind, e.data) for e in after.events.events]
    finally:
        runner.close(timeout=30)


def test_after_a_sigkill_of_the_lab_mid_run_a_restarted_lab_lists_the_run_and_clears_its_stale_lock(tmp_path):
    import warnings

    from pipetrace.files import LOCK_NAME, _flock_inodes
    from pipetrace.lab.app import LabConfig, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    lab, run = _lab_training(tmp_path)
    os.killpg(lab.pid, signal.SIGKILL)  # the lab and its workers, outright
    lab.wait()
    folder = tmp_path / "runs" / run["id"]
    assert (folder / LOCK_NAME).exists() and not (folder / "trace.json").exists()  # what a killed run leaves
    info = os.stat(folder / LOCK_NAME)
    lock = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    deadline = time.monotonic() + GUARD_SECONDS
    while lock in _flock_inodes():  # the killed worker process is gone once the kernel has released its lock
        assert time.monotonic() < deadline, "the killed worker still holds its run's lock"
        time.sleep(0.02)

    class NoRuns:  # the restarted lab's runner: none of its own runs yet
        def runs(self):
            return []

        def get(self, run_id):
            return None

    client = TestClient(create_app(LabConfig(token=TOKEN, runs_dir=tmp_path / "runs"), NoRuns()),
                        base_url="http://127.0.0.1:8000")
    listed = client.get("/api/runs", headers={"Authorization": f"token {TOKEN}"}).json()["runs"]
    assert [(r["id"], r["status"]) for r in listed] == [(run["id"], "failed")]
    assert "before it was saved" in listed[0]["reason"]
    assert not (folder / LOCK_NAME).exists()  # the stale lock is cleared
    one = client.get(f"/api/runs/{run['id']}", headers={"Authorization": f"token {TOKEN}"})
    assert one.status_code == 200 and one.json()["status"] == "failed"
