"""The scripts in examples/ run as a learner would run them (on small slices)."""

import json
import os
import subprocess
import sys

from conftest import ROOT

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100", "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_example(*command, timeout=600):
    return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=timeout)


def test_beginner_model_traced_by_the_callback():
    done = run_example(sys.executable, "examples/beginner_with_trace_callback.py", "--limit", "1200", "--epochs", "2")
    assert done.returncode == 0, done.stderr
    # the callback sees Keras' running mean, labelled so, and the first epoch against ln(10) and chance
    words = " ".join(done.stdout.split())  # wrapped lines joined
    assert "Loss (running)" in words and "running mean during the epoch" in words
    assert "Epoch 1: Loss" in words and "ln(10) = 2.303" in words and "(chance: 10.0%)" in words
    assert "Layer 4: Dropout(0.2)" in done.stdout and "Inactive at prediction time" in done.stdout
    assert "softmax, applied here" in done.stdout and "Prediction" in done.stdout


def test_small_cnn_through_run(tmp_path):
    done = run_example(sys.executable, "examples/small_cnn.py", "--limit", "1200", "--epochs", "1", "--out", str(tmp_path / "cnn"))
    assert done.returncode == 0, done.stderr
    assert "Conv2D(16, 3x3, relu)" in done.stdout and "feature maps" in done.stdout
    trace = json.loads((tmp_path / "cnn" / "trace.json").read_text())
    assert trace["settings"]["conv"] is True and (tmp_path / "cnn" / "report.html").is_file()


def test_digits_from_the_command_line(tmp_path):
    out = tmp_path / "digits"
    done = run_example("bash", "examples/digits_from_the_command_line.sh", "--epochs", "3", "--out", str(out), "--force",
                       "--quiet")
    assert done.returncode == 0, done.stderr
    trace = json.loads((out / "trace.json").read_text())
    assert trace["dataset"]["name"] == "digits" and trace["settings"]["hidden"] == [64]
    assert len(trace["training"]["epochs"]) == 3
