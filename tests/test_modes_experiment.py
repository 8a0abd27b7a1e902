"""`experiment` trains two tiny variants, saves both, chooses on a validation split carved from the
training images, and reports (never chooses on) the test accuracy."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from conftest import pipetrace_cli
from pipetrace.errors import SettingsError
from pipetrace.modes.experiment import VALIDATION, chosen, observation, parse_vary
from pipetrace.numbers import percent
from pipetrace.trace import Trace


def test_two_tiny_variants_chosen_on_validation(small_run, tmp_path):
    _, folder = small_run
    out = tmp_path / "exp"
    result = pipetrace_cli("learn", "experiment", str(folder), "--vary", "hidden=8,32", "--limit", "600", "--out", str(out))
    assert result.returncode == 0, result.stderr
    traces = {name: Trace.load(out / name / "trace.json") for name in ("hidden=8", "hidden=32")}
    assert [t.settings.hidden for t in traces.values()] == [[8], [32]]
    assert all(t.settings.limit == 600 and t.settings.epochs == 2 and t.settings.validation == VALIDATION
               for t in traces.values())
    # the last 60 of the 600 training images were held out: never trained on
    assert all(t.dataset["train_count"] == 540 and t.evaluation.validation_count == 60 for t in traces.values())
    assert all((out / name / "model.keras").is_file() for name in traces)

    text = " ".join(result.stdout.split())
    best = max(traces, key=lambda name: traces[name].evaluation.validation_accuracy)
    assert f"{best.split('=')[1]} *" in text  # the chosen value marked in the table (the setting named in its header)
    assert f"Chosen on validation accuracy (the last 10% of the training images, 60 images, held out from training): {best}" in text
    assert f"Test accuracy of the chosen one, reported, not used to choose: {percent(traces[best].evaluation.test_accuracy)}" in text
    assert "(test accuracy: reported, not used to choose)" in text
    for t in traces.values():
        assert percent(t.evaluation.validation_accuracy) in text and percent(t.evaluation.test_accuracy) in text
        assert f"{t.network.total_params:,}" in text
    ratio = traces["hidden=32"].network.total_params / traces["hidden=8"].network.total_params
    assert f"{ratio:.1f} times the parameters" in text
    for noise in ("oneDNN", "absl", "cuda", "TensorFlow binary"):  # no TensorFlow start-up lines between variants
        assert noise not in result.stdout and noise not in result.stderr
    compared = pipetrace_cli("learn", "compare", str(out / "hidden=8"), str(out / "hidden=32"))
    assert compared.returncode == 0 and "hidden" in compared.stdout


def test_the_validation_numbers_are_the_held_out_images(tmp_path):
    """Recomputed from model.keras on the last 60 of MNIST's first 600 training images."""
    import keras

    import pipetrace
    from pipetrace.data import load_dataset

    trace = pipetrace.run(limit=600, epochs=1, validation=0.1, hidden=[16], out=tmp_path / "run")
    mnist = load_dataset("mnist")
    held = mnist.x_train[540:600].reshape(60, -1).astype("float32") / 255
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    probabilities = np.asarray(model(held, training=False))
    accuracy = float((probabilities.argmax(axis=1) == mnist.y_train[540:600]).mean())
    assert trace.evaluation.validation_accuracy == pytest.approx(accuracy, abs=1e-9)
    loss = float(-np.log(np.clip(probabilities[np.arange(60), mnist.y_train[540:600]], 1e-7, 1)).mean())
    assert trace.evaluation.validation_loss == pytest.approx(loss, rel=1e-4)
    assert "60 training images held out for validation" in trace.dataset["split"]


def test_the_test_set_plays_no_part_in_the_choice(small_run):
    """A variant better on the test set but worse on validation is not chosen, and the words say so."""
    base = small_run[0]
    runs = []
    for name, val, test in (("hidden=8", 0.90, 0.70), ("hidden=32", 0.80, 0.95)):
        trace = copy.deepcopy(base)
        trace.evaluation.validation_accuracy, trace.evaluation.test_accuracy = val, test
        trace.evaluation.validation_count, trace.evaluation.validation_loss = 600, 0.3
        runs.append((name, None, trace))
    assert chosen(runs) == "hidden=8"
    said = " ".join(observation("hidden", runs))
    assert "Chosen on validation accuracy" in said and "hidden=8 with 90.0%" in said
    assert "reported, not used to choose: 70.0%" in said
    assert "within the noise" not in said  # 10 points apart, on 600 images (noise about 2.4 points)
    runs[1][2].evaluation.validation_accuracy = 0.895
    assert "within the noise" in " ".join(observation("hidden", runs))


def test_vary_is_checked():
    assert parse_vary("batch-size=32,256") == ("batch_size", [32, 256])
    assert parse_vary("hidden=256-128,64") == ("hidden", [[256, 128], [64]])
    for bad in ("hidden", "colour=1,2", "epochs=1", "learning-rate=fast,slow"):
        with pytest.raises(SettingsError):
            parse_vary(bad)


def test_variants_on_two_workers_match_the_in_process_run(tmp_path):
    """`--workers 2` trains on the lab's warm Dask workers: same seeds, same numbers, same choice, quiet terminal.

    Same machine, same seed, same TensorFlow: the numbers agree exactly (the worker runs the same
    `pipetrace.run`, seeded the same way), so exact equality is asserted.
    """
    import pipetrace

    pipetrace.run(limit=600, epochs=1, out=tmp_path / "base", verbose=0)
    results = {}
    for how, extra in (("here", ()), ("workers", ("--workers", "2"))):
        result = pipetrace_cli("learn", "experiment", str(tmp_path / "base"), "--vary", "hidden=8,16", "--limit", "600",
                               "--out", str(tmp_path / how), *extra)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # no TensorFlow start-up lines, no Dask logs
        for noise in ("distributed", "oneDNN", "absl", "INFO"):
            assert noise not in result.stdout
        results[how] = result.stdout
    assert "in parallel on 2 local worker processes" in results["workers"]
    for name in ("hidden=8", "hidden=16"):
        here, there = (Trace.load(tmp_path / how / name / "trace.json") for how in ("here", "workers"))
        assert there.settings == here.settings and there.settings.epochs == 1
        assert there.evaluation.validation_accuracy == here.evaluation.validation_accuracy
        assert there.evaluation.validation_loss == here.evaluation.validation_loss
        assert there.evaluation.test_accuracy == here.evaluation.test_accuracy
        assert [(e.loss, e.test_loss) for e in there.training.epochs] == [(e.loss, e.test_loss) for e in here.training.epochs]
        assert (tmp_path / "workers" / name / "model.keras").is_file()
    chosen_line = [line for line in results["here"].splitlines() if line.startswith("Chosen on validation accuracy")]
    assert chosen_line and chosen_line[0] in results["workers"]  # the same choice, in the same words


def test_a_bad_cluster_address_is_one_line(tmp_path, small_run):
    _, folder = small_run
    for address in ("not-an-address", "tcp://127.0.0.1:9"):  # no port; nothing listening there
        result = pipetrace_cli("learn", "experiment", str(folder), "--vary", "hidden=8,16", "--limit", "600",
                               "--out", str(tmp_path / "exp"), "--cluster", address)
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0 and f"--cluster {address}: cannot reach a Dask scheduler" in result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "exp").exists()


def test_variants_go_to_an_existing_scheduler_with_cluster(tmp_path, small_run):
    """`--cluster ADDRESS`: a real `dask scheduler` and one `dask worker`, processes on loopback; both variants
    train there and are saved where the command asked, and the scheduler is left running."""
    from conftest import dask_scheduler_and_worker

    _, folder = small_run
    with dask_scheduler_and_worker(tmp_path) as address:  # it also checks the scheduler still runs at the end
        result = pipetrace_cli("learn", "experiment", str(folder), "--vary", "hidden=8,16", "--limit", "600",
                               "--out", str(tmp_path / "exp"), "--cluster", address)
        assert result.returncode == 0, result.stderr
        assert result.stderr == "" and f"in parallel on the Dask cluster at {address}" in result.stdout
        for name, units in (("hidden=8", [8]), ("hidden=16", [16])):
            trace = Trace.load(tmp_path / "exp" / name / "trace.json")
            assert trace.settings.hidden == units and trace.evaluation.validation_count == 60


def test_the_table_fits_80_columns_whole(small_run):
    """Every header word, value and the caption whole at 80 columns (the setting named once, in the header)."""
    import io

    from rich.console import Console

    from pipetrace.modes.experiment import label, render

    runs = []
    for value in ([512, 256], [4], [128]):
        t = copy.deepcopy(small_run[0])
        t.evaluation.validation_accuracy, t.evaluation.validation_loss, t.evaluation.validation_count = 0.9, 0.31, 500
        runs.append((label("hidden", value), value, t))
    console = Console(file=io.StringIO(), width=80, force_terminal=False)
    console.print(render("hidden", runs, None))
    table = console.file.getvalue().split("Training loss per epoch")[0]
    assert "…" not in table and max(map(len, table.splitlines())) <= 80
    for word in ("hidden", "validation", "accuracy", "parameters", "training", "512-256 *", "4", "128", "0.3100"):
        assert word in table, word
    assert "(test accuracy: reported, not used to choose)" in " ".join(table.split())
