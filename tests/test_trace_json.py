"""The Trace round-trips through JSON exactly, and `show` prints what `run` printed."""

import json
import sys

from conftest import pipetrace_cli

from pipetrace import Trace


def test_json_round_trip_is_exact(small_run, tmp_path):
    trace, _ = small_run
    path = trace.save(tmp_path / "trace.json")
    again = Trace.load(path)
    assert again == trace
    assert again.to_json() == trace.to_json()
    assert json.loads(path.read_text())["schema_version"] == 1


def test_a_trace_saved_before_momentum_existed_loads_with_momentum_0(small_run, tmp_path):
    """Traces written before Settings.momentum and Network.momentum lack both keys: they read as 0.0."""
    trace, _ = small_run
    data = json.loads(trace.to_json())
    del data["settings"]["momentum"], data["network"]["momentum"]
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(data))
    older = Trace.load(path)
    assert older.settings.momentum == 0.0 and older.network.momentum == 0.0
    assert older == trace  # nothing else changed
    for mode in ("math", "cheatsheet", "explain", "code"):
        done = pipetrace_cli("learn", mode, str(path), *(["-o", "-"] if mode == "code" else []))
        assert done.returncode == 0 and "momentum" not in done.stdout, (mode, done.stderr)


def test_saved_run_has_trace_and_model(small_run):
    _, folder = small_run
    assert (folder / "trace.json").is_file() and (folder / "model.keras").is_file()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary files left behind"


def test_show_prints_exactly_what_run_printed(tmp_path):
    out = tmp_path / "run"
    ran = pipetrace_cli("run", "--limit", "600", "--epochs", "2", "--out", str(out))
    assert ran.returncode == 0, ran.stderr
    shown = pipetrace_cli("show", str(out / "trace.json"))
    assert shown.returncode == 0, shown.stderr
    body = ran.stdout.split("\nRun completed")[0].rstrip()
    assert body == shown.stdout.rstrip()
    for section in ("Data Flow - 5 Stages", "Training Trace - Epoch by Epoch", "Prediction Trace - 4 Layers",
                    "Model Quiz - 3 Questions", "Key Insights"):
        assert section in shown.stdout
    assert "\x1b[" not in ran.stdout + shown.stdout, "NO_COLOR output must be plain text"


def test_show_does_not_import_tensorflow(small_run):
    _, folder = small_run
    code = (
        "import sys; from pipetrace.cli import main; "
        f"main(['show', {str(folder / 'trace.json')!r}]); "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported TF'"
    )
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
