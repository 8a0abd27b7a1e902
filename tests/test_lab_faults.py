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
import urllib.request

import pytest

pytest.importorskip("distributed")
pytest.importorskip("cryptography")
from pipetrace.trace.reading import read_trace  # noqa: E402

from conftest import ROOT  # noqa: E402

LONG = {"limit": 600, "epochs": 500, "batch_size": 16}  # never finishes: the lab is stopped after its first epoch
GUARD_SECONDS = 240


def _request(url, token, data=None):
    request = urllib.request.Request(url, data=data, headers={"Authorization": f"token {token}",
                                                             "Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=GUARD_SECONDS)


@pytest.mark.parametrize("number, whole_group", [(signal.SIGTERM, False), (signal.SIGHUP, True)],
                         ids=["SIGTERM to the lab (kill PID)", "SIGHUP to the process group (the terminal closed)"])
def test_sigterm_and_sighup_stop_the_lab_and_save_its_running_run(tmp_path, number, whole_group):
    token = "faults-token"
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": token, "NO_COLOR": "1"}
    lab = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--max-epochs", "1000",
                            "--runs", str(tmp_path / "runs")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                           start_new_session=True)
    try:
        lab.stdout.readline()
        base = lab.stdout.readline().strip().split("/?")[0]
        run = json.load(_request(f"{base}/api/runs", token, json.dumps(LONG).encode()))
        for line in _request(f"{base}/api/runs/{run['id']}/events", token):
            if line.startswith(b"event: epoch"):
                break
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


def _wait_for(run, predicate, what: str):
    import time

    deadline = time.monotonic() + GUARD_SECONDS
    while time.monotonic() < deadline:
        if predicate([e.kind for e in run.events.events]):
            return
        time.sleep(0.02)
    raise AssertionError(f"no {what} within {GUARD_SECONDS} s; events: {[e.kind for e in run.events.events]}")


def test_killing_a_worker_fails_only_its_run_and_the_queued_one_runs_after(tmp_path):
    from pipetrace.lab.runner import Runner
    from pipetrace.lab.worker import KILLED

    runner = Runner(tmp_path / "runs", workers=1)
    try:
        running = runner.submit(dict(LONG))
        _wait_for(running, lambda kinds: kinds.count("batch") >= 2, "batches")
        waiting = runner.submit(dict(TINY))  # one worker, busy: this one waits for it
        assert waiting.status == "queued"
        pids = runner.client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        _wait_for(running, lambda kinds: kinds[-1] in ("done", "stopped", "failed"), "the end of the killed run")
        assert running.events.last.kind == "failed" and running.events.last.data["reason"] == KILLED
        _wait_for(waiting, lambda kinds: kinds[-1] in ("done", "stopped", "failed"), "the end of the queued run")
        assert waiting.events.last.kind == "done", [(e.kind, e.data) for e in waiting.events.events]
        assert read_trace(waiting.folder / "trace.json").status == "completed"
    finally:
        runner.close(timeout=30)
