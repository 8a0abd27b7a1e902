"""`experiment` trains two tiny variants, saves both, and compares them with numbers from their traces."""

from __future__ import annotations

import pytest

from conftest import pipetrace_cli
from pipetrace.errors import SettingsError
from pipetrace.modes.experiment import parse_vary
from pipetrace.trace import Trace


def test_two_tiny_variants_side_by_side(small_run, tmp_path):
    _, folder = small_run
    out = tmp_path / "exp"
    result = pipetrace_cli("learn", "experiment", str(folder), "--vary", "hidden=8,32", "--limit", "600", "--out", str(out))
    assert result.returncode == 0, result.stderr
    traces = {name: Trace.load(out / name / "trace.json") for name in ("hidden=8", "hidden=32")}
    assert [t.settings.hidden for t in traces.values()] == [[8], [32]]
    assert all(t.settings.limit == 600 and t.settings.epochs == 2 for t in traces.values())
    assert all((out / name / "model.keras").is_file() for name in traces)
    text = " ".join(result.stdout.split())
    for t in traces.values():
        assert f"{100 * t.evaluation.test_accuracy:.2f}%" in text and f"{t.network.total_params:,}" in text
    ratio = traces["hidden=32"].network.total_params / traces["hidden=8"].network.total_params
    assert f"{ratio:.1f} times the parameters" in text
    compared = pipetrace_cli("learn", "compare", str(out / "hidden=8"), str(out / "hidden=32"))
    assert compared.returncode == 0 and "hidden" in compared.stdout


def test_vary_is_checked():
    assert parse_vary("batch-size=32,256") == ("batch_size", [32, 256])
    assert parse_vary("hidden=256-128,64") == ("hidden", [[256, 128], [64]])
    for bad in ("hidden", "colour=1,2", "epochs=1", "learning-rate=fast,slow"):
        with pytest.raises(SettingsError):
            parse_vary(bad)
