"""Shared fixtures: one small real run per test session (a slice of MNIST, 2 epochs)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis gives the same verdict on every run and every machine: derandomized, with no example database
# replaying what one machine once found (each example that once failed is kept as an @example instead).
# HYPOTHESIS_PROFILE=explore searches with fresh random examples, to find new ones.
settings.register_profile("repeatable", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
MNIST_README = ROOT / "src" / "pipetrace" / "data" / "mnist" / "README.md"
SMALL = dict(limit=3000, epochs=2, seed=0)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """(trace, folder) of `pipetrace.run(limit=3000, epochs=2)`, saved with its model."""
    import pipetrace

    folder = tmp_path_factory.mktemp("small-run")
    trace = pipetrace.run(out=folder, force=True, **SMALL)
    return trace, folder


def pipetrace_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real command as a user would (`python -m pipetrace ...`), output captured, no colour."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "pipetrace", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT,
    )


def start_paused(point: str, *args: str, stdout=subprocess.DEVNULL) -> subprocess.Popen:
    """A `pipetrace run ARGS` that stops at the pause point `point` (PIPETRACE_TEST_PAUSE_AT), returned once it says so.

    Tests interrupt it there: an exact moment, whatever the machine's speed. Its stderr is read up
    to the pause marker; its stdout goes to `stdout` (a pipe nobody reads meanwhile could fill and stall it).
    """
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", "PIPETRACE_TEST_PAUSE_AT": point}
    process = subprocess.Popen([sys.executable, "-m", "pipetrace", "run", *args],
                               stdout=stdout, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    seen = []
    for line in process.stderr:
        seen.append(line)
        if line.strip() == f"pipetrace-test: paused at {point}":
            return process
    process.wait(timeout=60)
    raise AssertionError(f"the run ended (status {process.returncode}) without pausing at {point!r}: {''.join(seen)}")


@contextlib.contextmanager
def dask_scheduler_and_worker(folder: Path, guard_seconds: float = 120, tls: list[str] | None = None):
    """A real `dask scheduler` and one `dask worker`, as processes on loopback; yields the scheduler's address.

    The scheduler writes its address to a file once it listens (waited for, with a guard, not a sleep);
    both are ended afterwards. Each test checks for itself that a cluster it did not start is left running.
    `tls`: the options `--tls-ca-file CA --tls-cert CERT --tls-key KEY` both are started with (tls://).
    """
    scheduler_file = folder / "scheduler.json"
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=folder)
    tls = list(tls or [])
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  *(["--protocol", "tls"] if tls else []), *tls,
                                  "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet)
    worker = None
    try:
        deadline = time.monotonic() + guard_seconds
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline and scheduler.poll() is None, "the scheduler did not start"
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard", "--host", "127.0.0.1", *tls], **quiet)
        yield address
        assert scheduler.poll() is None, "the scheduler ended while in use"
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
