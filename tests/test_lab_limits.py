"""The lab's limits hold under pressure: the queue bound is atomic, and settings a run cannot use are refused at POST.

A runner that stands in for Dask holds each submitted run at a gate until every request has been
admitted or refused, so the race between counting the waiting runs and queueing one is wide open:
no timing is assumed (the gate opens on counts, polled with a guard deadline).
"""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("starlette")
import httpx  # noqa: E402

with warnings.catch_warnings():  # Starlette 1.x suggests httpx2, not on the package index this project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipetrace.lab.app import LabConfig, create_app  # noqa: E402
from pipetrace.lab.runner import LabRun  # noqa: E402

from conftest import pipetrace_cli  # noqa: E402

TOKEN = "limits-token"
AUTH = {"Authorization": f"token {TOKEN}"}
GUARD_SECONDS = 120
SIMULTANEOUS = 150


class GatedRunner:
    """Registers each run only once `gate` opens (as a slow scheduler would), counting the submits that reached it."""

    def __init__(self, runs_dir):
        self.runs_dir, self._runs, self.entered = runs_dir, {}, 0
        self.gate, self._lock = threading.Event(), threading.Lock()

    def submit(self, settings):
        with self._lock:
            self.entered += 1
            number = self.entered
        assert self.gate.wait(GUARD_SECONDS), "the gate never opened"
        run_id = f"20260101-000000-{number:06x}"
        run = LabRun(run_id, settings, self.runs_dir / run_id, "2099-01-01T00:00:00+00:00")
        run.events.add("queued", {"position": 0, "settings": settings})
        with self._lock:
            self._runs[run_id] = run
        return run

    def runs(self):
        with self._lock:
            return list(self._runs.values())

    def get(self, run_id):
        return self._runs.get(run_id)

    def position(self, run):
        return 0


def test_simultaneous_posts_admit_at_most_the_queue_bound_and_the_rest_get_429(tmp_path):
    runner = GatedRunner(tmp_path)
    config = LabConfig(token=TOKEN, runs_dir=tmp_path)
    app = create_app(config, runner)

    async def storm():
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(SIMULTANEOUS + 10))  # every submit may run at once
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            answered = []

            async def post():
                response = await client.post("/api/runs", json={"epochs": 1, "limit": 600}, headers=AUTH)
                answered.append(response.status_code)
                return response

            async def open_gate():  # once every request has reached a submit or been refused
                deadline = time.monotonic() + GUARD_SECONDS
                while runner.entered + answered.count(429) < SIMULTANEOUS and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                runner.gate.set()

            responses = await asyncio.gather(*(post() for _ in range(SIMULTANEOUS)), open_gate())
            return responses[:-1]

    responses = asyncio.run(storm())
    codes = [r.status_code for r in responses]
    assert codes.count(202) == config.max_waiting, codes
    assert codes.count(429) == SIMULTANEOUS - config.max_waiting
    assert len(runner.runs()) == config.max_waiting
    refused = next(r for r in responses if r.status_code == 429).json()
    assert "the lab takes 20 at most" in refused["error"]


@pytest.mark.parametrize("seed", [2**32, 2**64])
def test_a_seed_numpy_cannot_take_is_refused_at_post(tmp_path, seed):
    runner = GatedRunner(tmp_path)
    runner.gate.set()
    client = TestClient(create_app(LabConfig(token=TOKEN, runs_dir=tmp_path), runner), base_url="http://127.0.0.1:8000")
    answer = client.post("/api/runs", json={"seed": seed, "epochs": 1, "limit": 600}, headers=AUTH)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": f"--seed must be a whole number from 0 to 4294967295 (got {seed})", "setting": "seed"}
    assert runner.entered == 0
    assert client.post("/api/runs", json={"seed": 2**32 - 1, "epochs": 1, "limit": 600}, headers=AUTH).status_code == 202


def test_the_command_line_refuses_the_same_seed_before_loading_anything():
    done = pipetrace_cli("run", "--seed", str(2**32), "--limit", "600", "--epochs", "1", timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == "pipetrace run: error: --seed must be a whole number from 0 to 4294967295 (got 4294967296)"


EIGHT_WIDE = [4096] * 8  # 120,725,514 parameters: a 648 MB trace.json, over the 64 MB any trace may be


def _lab_client(tmp_path, **limits):
    runner = GatedRunner(tmp_path)
    runner.gate.set()
    config = LabConfig(token=TOKEN, runs_dir=tmp_path, **limits)
    return TestClient(create_app(config, runner), base_url="http://127.0.0.1:8000"), runner


def test_a_network_whose_trace_would_be_over_the_read_cap_is_refused_at_post_with_its_estimate(tmp_path):
    client, runner = _lab_client(tmp_path)
    answer = client.post("/api/runs", json={"hidden": EIGHT_WIDE, "epochs": 1, "limit": 600}, headers=AUTH)
    assert answer.status_code == 400 and answer.json()["setting"] == "hidden", answer.text
    error = answer.json()["error"]
    assert error.startswith("--hidden: this network has 120,725,514 parameters: trace.json about 648 MB")
    assert "over the 64 MB a trace may be" in error and runner.entered == 0


def test_a_run_over_the_labs_time_budget_is_refused_at_post(tmp_path):
    client, runner = _lab_client(tmp_path, max_hours=0.01)
    answer = client.post("/api/runs", json={"hidden": [1024], "epochs": 5}, headers=AUTH)
    assert answer.status_code == 400 and answer.json()["setting"] == "epochs", answer.text
    assert "over this lab's 36 s" in answer.json()["error"] and runner.entered == 0
    assert client.post("/api/runs", json={"hidden": [16], "epochs": 1, "limit": 600}, headers=AUTH).status_code == 202


def test_the_command_line_refuses_the_same_network_before_training(tmp_path):
    hidden = ",".join(map(str, EIGHT_WIDE))
    done = pipetrace_cli("run", "--hidden", hidden, "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "run"),
                         timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().startswith("pipetrace run: error: --hidden: this network has 120,725,514 parameters")
    assert not (tmp_path / "run" / "trace.json").exists()


def test_after_a_forced_run_into_a_lab_runs_folder_the_lab_describes_the_new_run(tmp_path, small_run):
    """A lab run ended (its worker said 50%); then `pipetrace run --force --out` that folder wrote another trace."""
    import shutil

    trace, folder = small_run
    client, runner = _lab_client(tmp_path)
    assert client.post("/api/runs", json={"epochs": 1, "limit": 600, "hidden": [16]}, headers=AUTH).status_code == 202
    run = runner.runs()[0]
    run.events.add("done", {"status": "completed", "test_accuracy": 0.5, "epochs": 1, "saved": True,
                            "architecture": "Input(784) -> Dense(16, relu) -> Dense(10, softmax)"})
    before = client.get(f"/api/runs/{run.id}", headers=AUTH).json()
    assert before["test_accuracy"] == 0.5 or before["test_accuracy"] is None
    run.folder.mkdir()
    shutil.copy(folder / "trace.json", run.folder / "trace.json")  # as `pipetrace run --force --out` leaves it
    for answer in (client.get(f"/api/runs/{run.id}", headers=AUTH).json(),
                   next(r for r in client.get("/api/runs", headers=AUTH).json()["runs"] if r["id"] == run.id)):
        assert answer["test_accuracy"] == trace.evaluation.test_accuracy
        assert answer["epochs"] == len(trace.training.epochs) == 2
        assert answer["settings"]["hidden"] == trace.settings.hidden != [16]
