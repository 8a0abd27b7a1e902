"""`code` writes a plain Keras script that, run on its own, gives the trace's shapes and accuracy."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import pipetrace_cli


def run_script(script):
    """Run a written script on its own, in its folder, as a learner would."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600,
                         cwd=script.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def test_the_script_reproduces_the_run(small_run, tmp_path):
    trace, folder = small_run
    script = tmp_path / "reproduce.py"
    result = pipetrace_cli("learn", "code", str(folder), "--output", str(script))
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    assert "pipetrace" not in re.sub(r"#.*|\"\"\"[\s\S]*?\"\"\"|'[^']*'|\"[^\"]*\"", "", text)  # no import of pipetrace
    assert "import keras" in text and "LIMIT = 3000" in text
    run = run_script(script)
    out = run.stdout
    for stage in trace.stages[:3]:
        shape = " x ".join(map(str, stage.outputs[0].shape))
        assert f"Stage {stage.number}, {stage.name}: {shape} {stage.outputs[0].dtype}" in out
    train, test = trace.stages[3].outputs
    assert f"(training): {' x '.join(map(str, train.shape))}" in out and f"(test): {' x '.join(map(str, test.shape))}" in out
    assert f"{trace.network.total_params:,} parameters" in out
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert abs(accuracy - trace.evaluation.test_accuracy) <= 0.01, (accuracy, trace.evaluation.test_accuracy)


def test_the_script_reproduces_a_cnn_with_dropout(tmp_path):
    out = tmp_path / "cnn"
    ran = pipetrace_cli("run", "--conv", "--dropout", "0.25", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(out))
    assert ran.returncode == 0, ran.stderr
    script = tmp_path / "reproduce.py"
    assert pipetrace_cli("learn", "code", str(out), "--output", str(script)).returncode == 0
    run = run_script(script)
    assert "Stage 3, Reshape: 700 x 28 x 28 x 1 float32" in run.stdout
    match = re.search(r"Test accuracy: ([0-9.]+) \(the trace says ([0-9.]+)", run.stdout)
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.01, match.group(0)
