"""Training that diverges or is interrupted: a clear record, a rendered trace, nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, pipetrace_cli

from pipetrace import Trace


def test_a_learning_rate_that_blows_up_stops_training_with_a_plain_explanation(tmp_path):
    out = tmp_path / "diverged"
    done = pipetrace_cli("run", "--limit", "1200", "--epochs", "4", "--learning-rate", "1e20",
                         "--schedule", "constant", "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    trace = Trace.load(out / "trace.json")
    assert trace.status == trace.training.status == "diverged"
    assert len(trace.training.epochs) == 1 < trace.training.epochs_planned
    assert trace.training.epochs[0].loss is None
    assert "NaN or infinite in epoch 1" in trace.training.epochs[0].observation
    assert "try a learning rate of about 0.001, typical for Adam" in trace.training.epochs[0].observation
    assert trace.training.restored_epoch == 0 and "untrained" in trace.insights[0].text
    assert trace.insights[0].text.startswith("Training diverged in epoch 1 of 4")
    assert "Run diverged" in done.stdout and "NaN" in done.stdout
    shown = pipetrace_cli("show", str(out / "trace.json"))
    assert shown.returncode == 0 and "diverged" in shown.stdout
    report = (out / "report.html").read_text()
    assert "NaN or infinite in epoch 1" in report and "</html>" in report


def start_run(out, epochs="400"):
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipetrace", "run", "--limit", "3000", "--epochs", epochs, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    for line in process.stdout:  # the stages print before training starts
        if "4 Train/Test split" in line:
            break
    return process


def wait_for_training(process):
    """Training starts once Keras is imported (a few seconds); then give it a few epochs."""
    time.sleep(8)
    assert process.poll() is None, "the run ended before it could be interrupted"


def test_ctrl_c_keeps_the_finished_epochs(tmp_path):
    out = tmp_path / "interrupted"
    process = start_run(out)
    wait_for_training(process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    trace = Trace.load(out / "trace.json")
    assert trace.status == "interrupted"
    assert 1 <= len(trace.training.epochs) < 400
    assert trace.insights[0].text.startswith(f"Training was interrupted after {len(trace.training.epochs)} of 400 epochs")
    assert (out / "model.keras").is_file()
    assert "interrupted" in (out / "report.html").read_text()
    assert "Interrupted" in stdout and "Run interrupted" in stdout


def test_a_second_ctrl_c_exits_at_once_without_half_written_files(tmp_path):
    out = tmp_path / "twice"
    process = start_run(out)
    wait_for_training(process)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    process.communicate(timeout=60)
    assert time.monotonic() - started < 10
    assert process.returncode == 130
    for name in ("trace.json",):
        if (out / name).exists():  # written whole or not at all
            json.loads((out / name).read_text())
