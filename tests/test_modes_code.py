"""`code` writes the script a learner would write (model.fit, model.evaluate) and, with --exact, one that
reproduces the run number for number; both run on their own."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from conftest import pipetrace_cli


def run_into(out, **settings):
    """The run a learner would start with `pipetrace run ... --out OUT`, trained in this process (no second TensorFlow import)."""
    import pipetrace

    return pipetrace.run(out=out, verbose=0, **settings)


def run_script(script):
    """Run a written script on its own, in its folder, as a learner would."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600,
                         cwd=script.parent)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


def calls_in(text: str) -> dict[str, ast.Call]:
    """The script's calls by their dotted names (model.fit, keras.layers.Dense, ...), the last of each name."""
    found = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call):
            found[ast.unparse(node.func)] = node
    return found


def keyword(call: ast.Call, name: str) -> str:
    return next(ast.unparse(k.value) for k in call.keywords if k.arg == name)


def test_the_default_script_is_model_fit_and_comes_close(tmp_path):
    out = tmp_path / "run"
    run_into(out, limit=600, epochs=1, hidden=[64], optimizer="rmsprop", learning_rate=0.002, batch_size=64,
            schedule="constant")
    from pipetrace.trace import Trace

    trace = Trace.load(out / "trace.json")
    result = pipetrace_cli("learn", "code", str(out))
    assert result.returncode == 0, result.stderr
    assert "model.fit" in result.stdout and "--exact" in result.stdout
    script = out / "reproduce.py"
    text = script.read_text()
    calls = calls_in(text)
    assert {"model.fit", "model.evaluate", "model.compile", "keras.Sequential"} <= set(calls)
    assert "load_data(" not in text and "keras.datasets" not in text  # offline: nothing downloads
    assert "keras.optimizers.RMSprop" in calls and "CosineDecay" not in text  # the run's optimizer and constant rate
    assert "keras.layers.Dense(64, activation='relu'" in text  # its hidden layer
    fit = calls["model.fit"]
    assert keyword(fit, "epochs") == "EPOCHS" and keyword(fit, "batch_size") == "BATCH_SIZE"
    assert keyword(fit, "validation_split") == "VALIDATION_SPLIT"
    assert "EPOCHS = 1\n" in text and "BATCH_SIZE = 64\n" in text and "LEARNING_RATE = 0.002\n" in text
    assert "LIMIT = 600  #" in text and "VALIDATION_SPLIT = 0.1  #" in text
    expected = re.search(r"# Expect a test accuracy near ([0-9.]+)%", text)
    assert abs(float(expected.group(1)) / 100 - trace.evaluation.test_accuracy) < 0.001  # the run's number
    assert "close, not equal" in text and "pipetrace learn code --exact" in text

    run = run_script(script)
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+) \(the trace says", run.stdout).group(1))
    assert "val_accuracy" in run.stdout  # model.fit reported on its held-out images
    # a different loop (model.fit's shuffles, 10% held out) on 600 images for one epoch: close, not equal
    assert abs(accuracy - trace.evaluation.test_accuracy) <= 0.15, (accuracy, trace.evaluation.test_accuracy)
    assert accuracy > 0.4  # chance is 0.1


def test_the_exact_script_reproduces_the_run(small_run, tmp_path):
    trace, folder = small_run
    script = tmp_path / "reproduce_exact.py"
    result = pipetrace_cli("learn", "code", str(folder), "--exact", "--output", str(script))
    assert result.returncode == 0, result.stderr
    text = script.read_text()
    assert "pipetrace" not in re.sub(r"#.*|\"\"\"[\s\S]*?\"\"\"|'[^']*'|\"[^\"]*\"", "", text)  # no import of pipetrace
    assert "import keras" in text and "LIMIT = 3000" in text and "model.fit(" not in text
    assert "learn code` writes that" in text  # it says how it differs from the default script
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


def test_the_exact_script_reproduces_a_cnn_with_dropout(tmp_path):
    out = tmp_path / "cnn"
    run_into(out, conv=True, dropout=0.25, limit=600, epochs=1)
    script = tmp_path / "reproduce.py"
    assert pipetrace_cli("learn", "code", str(out), "--exact", "--output", str(script)).returncode == 0
    run = run_script(script)
    assert "Stage 3, Reshape: 700 x 28 x 28 x 1 float32" in run.stdout
    match = re.search(r"Test accuracy: ([0-9.]+) \(the trace says ([0-9.]+)", run.stdout)
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.01, match.group(0)


def test_both_scripts_build_sgd_with_the_runs_momentum_and_the_exact_one_reproduces_it(tmp_path):
    """SGD with momentum 0.9: the optimizer call is written with the momentum as a literal; the run comes back.

    Batches of 32 make 19 steps, enough for the momentum to matter: the same script with momentum=0.0
    prints a loss of 2.29 and 20% test accuracy where this run has 2.08 and 64%.
    """
    out = tmp_path / "momentum"
    run_into(out, optimizer="sgd", momentum=0.9, learning_rate=0.01, batch_size=32, limit=600, epochs=1)
    for exact in (False, True):
        script = tmp_path / ("reproduce_exact.py" if exact else "reproduce.py")
        written = pipetrace_cli("learn", "code", str(out), *(["--exact"] if exact else []), "--output", str(script))
        assert written.returncode == 0, written.stderr
        sgd = calls_in(script.read_text())["keras.optimizers.SGD"]
        assert keyword(sgd, "momentum") == "0.9" and keyword(sgd, "learning_rate") in ("schedule", "rate")
    assert "sgd with momentum 0.9 at 0.01 (cosine)" in script.read_text()  # the exact script's header
    run = run_script(script)
    match = re.search(r"Test accuracy: ([0-9.]+) \(the trace says ([0-9.]+)", run.stdout)
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.01, match.group(0)
    epoch = re.search(r"epoch 1: loss ([0-9.]+)", run.stdout)
    from pipetrace.trace import Trace

    trained = Trace.load(out / "trace.json").training.epochs[0]
    assert abs(float(epoch.group(1)) - trained.running_loss) < 2e-4, (epoch.group(0), trained.running_loss)


def test_the_exact_script_holds_out_what_the_run_held_out(tmp_path):
    """A run with a validation part (as `experiment` makes) trained on fewer images: the script does the same."""
    trace = run_into(tmp_path / "run", limit=600, epochs=1, validation=0.1)
    assert trace.dataset["train_count"] == 540 and trace.evaluation.validation_count == 60
    script = tmp_path / "reproduce_exact.py"
    assert pipetrace_cli("learn", "code", str(tmp_path / "run"), "--exact", "-o", str(script)).returncode == 0
    run = run_script(script)
    assert "Stage 4, Train/Test split (training): 540 x 784" in run.stdout
    match = re.search(r"Test accuracy: ([0-9.]+) \(the trace says ([0-9.]+)", run.stdout)
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.01, match.group(0)
    assert "VALIDATION_SPLIT = 0.1  # the last 10.0% of the training images, held out by the run as well" in \
        pipetrace_cli("learn", "code", str(tmp_path / "run"), "-o", "-").stdout


def test_a_run_it_cannot_write_is_one_clear_line(small_run, tmp_path):
    import copy

    from pipetrace.errors import SettingsError
    from pipetrace.modes.code import fit_script

    trace = copy.deepcopy(small_run[0])
    trace.network.layers[0].kind = "LSTM"
    try:
        fit_script(trace)
    except SettingsError as error:
        assert "Dense, Conv2D, pooling, Dropout and Flatten" in str(error)
    else:
        raise AssertionError("an LSTM layer was written")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "trace.json").write_text("{}")
    result = pipetrace_cli("learn", "code", str(bad))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_the_exact_script_reproduces_a_digits_run(tmp_path):
    """The bundled 8 x 8 digits, their seeded stratified split rewritten in the script, 3 epochs."""
    out = tmp_path / "digits"
    run_into(out, dataset="digits", hidden=[32], epochs=3)
    assert pipetrace_cli("learn", "code", str(out), "--exact").returncode == 0
    run = run_script(out / "reproduce_exact.py")
    assert "Stage 4, Train/Test split (training): 1438 x 64 float32" in run.stdout
    match = re.search(r"Test accuracy: ([0-9.]+) \(the trace says ([0-9.]+)", run.stdout)
    assert abs(float(match.group(1)) - float(match.group(2))) <= 0.01, match.group(0)
