"""Shared fixtures: one small real run per test session (a slice of MNIST, 2 epochs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
