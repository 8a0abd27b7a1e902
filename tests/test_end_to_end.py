"""One end-to-end run of the default pipeline on the full MNIST data, as `make run` does it."""

import json

import pytest
from conftest import pipetrace_cli


@pytest.mark.slow
def test_default_run_on_the_full_data(tmp_path):
    out = tmp_path / "default"
    done = pipetrace_cli("run", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for section in ("Data Flow - 5 Stages", "1 Load", "2 Preprocessing", "3 Flatten", "4 Train/Test split",
                    "5 Model training", "Training Trace - Epoch by Epoch", "Prediction Trace - 4 Layers",
                    "Model Quiz - 3 Questions", "Answers", "Key Insights"):
        assert section in done.stdout
    trace = json.loads((out / "trace.json").read_text())
    shapes = [[o["shape"] for o in stage["outputs"]] for stage in trace["stages"][:4]]
    assert shapes == [[[70000, 28, 28], [70000]], [[70000, 28, 28]], [[70000, 784]], [[60000, 784], [10000, 784]]]
    assert trace["stages"][4]["details"]["total_params"] == 101_770
    assert "100,480 + 1,290 = 101,770" in done.stdout
    assert len(trace["training"]["epochs"]) == 5
    assert trace["evaluation"]["test_accuracy"] >= 0.97
    assert trace["prediction"]["label"] == 7
