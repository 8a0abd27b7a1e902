"""Output closed by its reader (`pipetrace run | head`), and a command missing its extra: one clear line, nothing lost."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT
from pipetrace.trace import Trace


def closed_pipe_run(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """`python -m pipetrace ARGS` with stdout a pipe whose reading end is already closed: every write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = {**os.environ, "NO_COLOR": "1"}
        return subprocess.run([sys.executable, "-m", "pipetrace", *args], stdout=write_end, stderr=subprocess.PIPE,
                              text=True, env=env, cwd=ROOT, timeout=600)
    finally:
        os.close(write_end)


def test_schema_into_a_closed_pipe_ends_quietly(tmp_path):
    done = closed_pipe_run("schema", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_a_run_into_a_closed_pipe_still_trains_and_saves(tmp_path):
    out = tmp_path / "run"
    done = closed_pipe_run("run", "--limit", "600", "--epochs", "1", "--out", str(out), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr
    assert f"the run went on and was saved: {out / 'trace.json'}" in done.stderr
    trace = Trace.load(out / "trace.json")
    assert trace.status == "completed" and len(trace.training.epochs) == 1
    assert (out / "model.keras").is_file() and (out / "report.html").is_file()


def test_the_lab_without_its_extra_names_the_extra_before_starting_anything(monkeypatch, capsys):
    """`pip install "pipetrace[cpu]"` has no uvicorn: `pipetrace lab` says which extra to add, in one line."""
    import importlib.util

    from pipetrace import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    started = []
    monkeypatch.setattr("pipetrace.lab.serve.serve", lambda args: started.append(args) or 0)
    assert cli.main(["lab", "--no-open"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "uvicorn" in err[0] and 'pip install "pipetrace[cpu,lab]"' in err[0]
    assert started == []


def test_a_missing_tensorflow_or_model_file_is_said_before_any_data_is_read(monkeypatch, tmp_path):
    import importlib.util

    import pipetrace
    from pipetrace import pipeline
    from pipetrace.errors import SettingsError
    from pipetrace.training import backend

    read = []
    monkeypatch.setattr(pipeline, "_load_data", lambda settings: read.append(settings) or 1 / 0)
    with pytest.raises(SettingsError, match=r"--model .*nowhere\.keras: no such file"):
        pipetrace.run(model=tmp_path / "nowhere.keras", limit=600, epochs=1, verbose=0)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    monkeypatch.setattr(backend, "fully_imported", lambda name: False)  # as in a fresh process without TensorFlow
    with pytest.raises(backend.BackendError, match=r"tensorflow is not installed in this Python.*pipetrace\[cpu\]"):
        pipetrace.run(limit=600, epochs=1, verbose=0)
    assert read == []
