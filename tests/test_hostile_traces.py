"""Traces from someone else are validated as a whole before anything uses them.

A real small trace is mutated at every field (wrong types, missing or extra keys, NaN,
infinities, huge and negative numbers, huge lists, control characters, rich markup) and
handed to `pipetrace show` and to every learning mode. Each must succeed or exit 2 with one
line naming a field: never "unexpected error", never a traceback, never a terminal escape
sequence that came from the trace.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
from pathlib import Path
from unittest import mock

import pytest
from conftest import pipetrace_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipetrace.cli import main
from pipetrace.errors import TraceFileError
from pipetrace.trace.fields import MAX_TRACE_BYTES
from pipetrace.trace.reading import read_trace, trace_from_json

# Escape sequences rich writes itself when it colours (SGR: ESC [ ... m); anything else came from a trace.
FOREIGN_ESCAPE = re.compile(r"\x1b(?!\[[0-9;]*m)|[\x07\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x9b\x9d]")
READING_MODES = ["trace", "walk", "quiz", "code", "math", "explain", "cheatsheet", "compare"]  # experiment trains: below
NAN, INFINITY, HUGE = "__NaN__", "__Infinity__", "__1e400__"  # written into the JSON text as the bare literals
HOSTILE_STRINGS = [
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52: write the clipboard
    "\x1b]0;owned\x07",  # retitle the window
    "\x1b[2J\x1b[H",  # clear the screen
    "hidden\rshown", "bell\x07", "\u202egnp.exe", "nul\x00", "c1\x9b31m", "line\nbreak",
]
MARKUP_STRINGS = ["[/]", "[link=https://example.com]click[/link]", "[bold red]x", "\\", "x\\", ":thumbs_up:", "[/bold]"]
VALUES = [None, True, False, 0, -1, 1.5, -1e300, 2**63, 10**30, 7, "", "text", [], {}, [0], [[0]], {"a": 1},
          NAN, INFINITY, HUGE, *HOSTILE_STRINGS, *MARKUP_STRINGS]


@pytest.fixture(scope="module")
def base(small_run) -> dict:
    trace, _ = small_run
    return json.loads(trace.to_json())


def field_paths(data, where=()) -> list[tuple]:
    """Every field of a trace: each key, and the first and last item of each list."""
    paths = [where] if where else []
    if isinstance(data, dict):
        for key, value in data.items():
            paths += field_paths(value, (*where, key))
    elif isinstance(data, list) and data:
        for index in sorted({0, len(data) - 1}):
            paths += field_paths(data[index], (*where, index))
    return paths


def at(data, where):
    for part in where:
        data = data[part]
    return data


def to_text(data) -> str:
    text = json.dumps(data)
    return text.replace(f'"{NAN}"', "NaN").replace(f'"{INFINITY}"', "-Infinity").replace(f'"{HUGE}"', "1e400")


def run_cli(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    """`pipetrace ARGS` in this process, coloured as on a terminal (so escapes would show), input piped."""
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, {"FORCE_COLOR": "1", "COLUMNS": "100", "TERM": "xterm"}), \
            mock.patch.object(sys, "stdin", io.StringIO(stdin)), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(args)
        except SystemExit as stop:  # argparse
            status = stop.code
    return status, out.getvalue(), err.getvalue()


def assert_clean(status, out, err, args):
    assert "unexpected error" not in err and "Traceback" not in err + out, (args, err[-2000:])
    assert not FOREIGN_ESCAPE.search(out + err), (args, FOREIGN_ESCAPE.search(out + err))
    if status != 0:
        assert status == 2, (args, status, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"pipetrace {args[0]}: error: "), (args, err)


def mode_args(mode: str, path: Path, other: Path) -> list[str]:
    extra = {"code": ["--output", "-"], "quiz": ["--questions", "3"], "compare": [str(other)]}
    return ["learn", mode, str(path), *extra.get(mode, [])]


@settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_field_broken_any_way_ends_in_success_or_one_line(base, small_run, tmp_path_factory, data):
    paths = field_paths(base)
    where = data.draw(st.sampled_from(paths), label="field")
    how = data.draw(st.sampled_from(["replace", "replace", "replace", "delete", "extra key", "grow"]), label="how")
    hostile = copy.deepcopy(base)
    parent, key = at(hostile, where[:-1]), where[-1]
    if how == "replace":
        parent[key] = data.draw(st.sampled_from(VALUES), label="value")
    elif how == "delete":
        del parent[key]
    elif how == "extra key" and isinstance(parent[key], dict):
        parent[key]["unexpected"] = 1
    elif how == "grow" and isinstance(parent[key], list):
        parent[key] = parent[key] + parent[key][-1:] * data.draw(st.sampled_from([1, 9, 70_000]), label="more")
    path = tmp_path_factory.mktemp("hostile") / "trace.json"
    path.write_text(to_text(hostile))
    _, good = small_run
    mode = data.draw(st.sampled_from(READING_MODES), label="mode")
    for args in (["show", str(path)], mode_args(mode, path, good / "trace.json")):
        status, out, err = run_cli(args, stdin="1\n2\n\n\nb\n3\n\nq\n")
        assert_clean(status, out, err, args)


def test_markup_in_every_string_prints_as_text(base, small_run, tmp_path):
    """A trace whose strings are rich markup renders in every mode, the markup shown literally."""
    trace = copy.deepcopy(base)
    for field in ("name", "source", "split"):
        trace["dataset"][field] = "[link=https://example.com]click[/link] [/]"
    names = trace["dataset"]["class_names"]
    names[0] = names[0] + "[/]"
    trace["stages"][3]["details"]["class_names"] = names
    trace["stages"][0]["did"] = "[bold red]loud[/] \\"
    trace["training"]["epochs"][0]["observation"] = "[/] closing nothing"
    trace["prediction"]["layers"][1]["name"] = "Hidden [/]"
    trace["quiz"][0]["options"][0] = "[/i] option"
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    _, good = small_run
    status, out, err = run_cli(["show", str(path)])
    assert_clean(status, out, err, ["show"])
    assert status == 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    for text in ("[bold red]loud[/] \\", "[/] closing nothing", "Hidden [/]", "[/i] option", names[0]):
        assert text in plain, text
    assert "[link=https://example.com]click[/link] [/]" in plain
    for mode in READING_MODES:
        args = mode_args(mode, path, good / "trace.json")
        status, out, err = run_cli(args, stdin="1\n\nq\n")
        assert_clean(status, out, err, args)
        assert status == 0, (mode, err)


@pytest.mark.parametrize("text", HOSTILE_STRINGS)
def test_control_characters_anywhere_are_named_not_printed(base, tmp_path, text):
    for where in (("dataset", "class_names", 3), ("training", "epochs", 0, "observation"), ("environment", "python"),
                  ("quiz", 0, "options", 1), ("stages", 4, "details", "parameters", 0, "layer")):
        trace = copy.deepcopy(base)
        at(trace, where[:-1])[where[-1]] = text
        path = tmp_path / "trace.json"
        path.write_text(json.dumps(trace))
        status, out, err = run_cli(["show", str(path)])
        assert_clean(status, out, err, ["show"])
        field = ".".join(str(p) for p in where[:1]) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where[1:])
        assert status == 2 and f": {field}: control character U+" in err, err


def test_nan_and_infinity_are_refused_with_their_field(base, tmp_path):
    for literal, message in (("NaN", "NaN is not allowed"), ("Infinity", "Infinity is not allowed"),
                             ("1e400", "must be smaller than or equal to 1e+300")):
        trace = copy.deepcopy(base)
        trace["training"]["epochs"][1]["loss"] = "__here__"
        path = tmp_path / "trace.json"
        path.write_text(json.dumps(trace).replace('"__here__"', literal))
        status, out, err = run_cli(["show", str(path)])
        assert status == 2 and f"trace.json: training.epochs[1].loss: {message}" in err, err


@pytest.mark.parametrize(
    "mutate, field, says",
    [
        (lambda t: t["weights"][0]["kernel"].update(data=t["weights"][0]["kernel"]["data"][:-8]),
         "weights[0].kernel.data", "bytes; shape"),
        (lambda t: t["weights"][0]["kernel"].update(data="not base64!"), "weights[0].kernel.data", "is not base64"),
        (lambda t: t["weights"][1]["kernel"].update(shape=[64, 10]), "weights[1].kernel.data", "bytes; shape"),
        (lambda t: t["dataset"]["class_names"].pop(), "stages[3].details.train_counts", "has 10 counts for 9 classes"),
        (lambda t: t["evaluation"]["confusion"][2].pop(), "evaluation.confusion[2]", "columns for 10 classes"),
        (lambda t: t["prediction"]["layers"][-2]["values"].pop(), "prediction.layers[2].values", "has 9 values"),
        (lambda t: t["training"]["epochs"].reverse(), "training.epochs[0].epoch", "numbered 1, 2, 3"),
        (lambda t: t["evaluation"]["misclassified"].append(10**6), "evaluation.misclassified[", "outside the 500 test images"),
        (lambda t: t["prediction"].update(sample=500), "prediction.sample", "outside the 500 test images"),
        (lambda t: t["prediction"]["image"].pop(), "prediction.image", "has 27 rows"),
        (lambda t: t["quiz"][0].update(answer=7), "quiz[0].answer", "is not the index"),
        (lambda t: t["stages"].pop(2), "stages", "is not the data flow"),
        (lambda t: t["stages"][0]["details"].update(sample_label=10), "stages[0].details.sample_label", "not one of the 10"),
        (lambda t: t["stages"][1]["details"]["examples"][0].update(row=28), "stages[1].details.examples[0]", "outside the 28 x 28"),
        (lambda t: t["network"]["layers"][-1].update(units=11), "network.layers[1].units", "11 units for 10 classes"),
        (lambda t: t["prediction"].update(layers=t["prediction"]["layers"][:2]), "prediction.layers", "Input, the network's layers and Prediction"),
        (lambda t: t["stages"][0]["details"].update(sample_image=[[0] * 28] * 27), "stages[0].details.sample_image", "27 rows"),
        (lambda t: t["samples"][1]["image"][3].__setitem__(4, 300), "samples[1].image[3]", "has a pixel of 300, above"),
        (lambda t: t["dataset"].update(secret="x"), "dataset", "must not contain {'secret'}"),
        (lambda t: t["stages"][2]["details"].pop("index"), "stages[2].details", "must contain ['index']"),
        (lambda t: t["network"]["layers"][0]["config"].update(units="128); import os"), "network.layers[0].config.units", "must be integer"),
        (lambda t: t["evaluation"].update(misclassified=[0] * 5_000_000), "evaluation.misclassified", "less than or equal to 65536 items"),
        (lambda t: t["training"]["epochs"][0].update(accuracy=1.5), "training.epochs[0].accuracy", "smaller than or equal to 1"),
        (lambda t: t["settings"].update(sample=-1), "settings.sample", "bigger than or equal to 0"),
        (lambda t: t["settings"].update(momentum=1.0), "settings.momentum", "smaller than 1"),
        (lambda t: t["network"].update(momentum=-0.5), "network.momentum", "bigger than or equal to 0"),
        (lambda t: t["settings"].update(momentum=0.9), "settings.momentum", "0.9 is for optimizer sgd, not 'adam'"),
        (lambda t: t["network"].update(momentum=0.9), "network.momentum", "0.9 is SGD's momentum; this network trained with 'Adam'"),
        (lambda t: t["training"].update(steps_per_record=0), "training.steps_per_record", "at least 1 batch"),
        (lambda t: t["training"].update(epochs_planned=0), "training.epochs_planned", "at least one epoch"),
        (lambda t: t["training"].update(batch_size=0), "training.batch_size", "at least 1"),
        (lambda t: t["training"].update(restored_epoch=5), "training.restored_epoch", "only 2 epochs"),
    ],
)
def test_inconsistent_traces_name_the_field(base, tmp_path, mutate, field, says):
    trace = copy.deepcopy(base)
    assert trace["dataset"]["test_count"] == 500 and len(trace["dataset"]["class_names"]) == 10  # the fixture's run
    mutate(trace)
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    status, out, err = run_cli(["show", str(path)])
    assert_clean(status, out, err, ["show"])
    assert status == 2 and f"trace.json: {field}" in err and says in err, err


def test_whole_numbers_written_as_decimals_are_whole_numbers(base):
    trace = copy.deepcopy(base)
    trace["prediction"]["label"] = float(trace["prediction"]["label"])
    trace["evaluation"]["confusion"][0][0] = float(trace["evaluation"]["confusion"][0][0])
    trace["samples"][0]["image"][5][5] = 3.0
    read = trace_from_json(json.dumps(trace))
    assert read.prediction.label == base["prediction"]["label"] and type(read.prediction.label) is int
    assert type(read.evaluation.confusion[0][0]) is int and type(read.samples[0].image[5][5]) is int


def test_a_trace_too_large_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "trace.json"
    with path.open("wb") as handle:
        handle.truncate(MAX_TRACE_BYTES + 1)  # sparse: no 64 MB written
    with pytest.raises(TraceFileError, match="too large for a trace"):
        read_trace(path)


def test_deep_nesting_and_giant_numbers_are_one_line(tmp_path):
    for text in ("[" * 100_000 + "]" * 100_000, '{"schema_version": 1, "x": 1' + "0" * 5000 + "}"):
        with pytest.raises(TraceFileError, match="not a trace"):
            trace_from_json(text, "t.json")


def test_a_real_trace_passes_every_check(small_run):
    trace, folder = small_run
    assert read_trace(folder) == trace


def test_experiment_refuses_a_broken_trace_before_training(base, tmp_path):
    trace = copy.deepcopy(base)
    trace["settings"]["hidden"] = "[/]"
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    args = ["learn", "experiment", str(path), "--vary", "hidden=8,16", "--limit", "600", "--out", str(tmp_path / "x")]
    status, out, err = run_cli(args)
    assert status == 2 and "settings.hidden: must be array" in err
    assert not (tmp_path / "x").exists()


def test_error_lines_show_control_characters_in_paths_as_escapes(tmp_path):
    path = tmp_path / "evil\x1b]52;c;aGk=\x07.json"
    path.write_text("{}")
    done = pipetrace_cli("show", str(path))
    assert done.returncode == 2 and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "evil\\x1b]52;c;aGk=\\x07.json" in done.stderr


def test_a_hostile_trace_through_the_real_command(base, tmp_path):
    trace = copy.deepcopy(base)
    trace["dataset"]["class_names"][0] = "zero\x1b]0;owned\x07"
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(trace))
    for args in (["show", str(path)], ["learn", "walk", str(path)]):
        done = pipetrace_cli(*args)
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.strip() == (f"pipetrace {args[0]}: error: {path}: dataset.class_names[0]: "
                                       "control character U+001B is not allowed in text")


def test_library_warnings_print_escape_codes_visibly():
    code = ("import warnings; from pipetrace.cli import main; main(['learn']); "
            "warnings.warn('class \\x1b]52;c;aGk=\\x07 folder')")
    import subprocess

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and "\x1b" not in done.stderr and "\x07" not in done.stderr
    assert "pipetrace: warning: UserWarning: class \\x1b]52;c;aGk=\\x07 folder" in done.stderr
