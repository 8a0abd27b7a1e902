"""`pipetrace learn`: the list of modes, the default trace, clear errors, and no TensorFlow where none is needed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, pipetrace_cli
from pipetrace.modes import MODES
from pipetrace.numbers import percent


def test_learn_lists_the_ten_modes():
    result = pipetrace_cli("learn")
    assert result.returncode == 0, result.stderr
    for number, mode in enumerate(MODES, start=1):
        assert f"{number}. {mode.name}" in result.stdout
    assert len(MODES) == 10 and "10 modes" in result.stdout


NO_TF = """
import sys, io, contextlib
from pipetrace.cli import main
codes = []
for argv in {argvs!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        sys.stdin = io.StringIO("")
        codes.append(main(argv))
print({{"codes": codes, "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}})
"""


def test_reading_modes_never_import_tensorflow(small_run, tmp_path):
    folder = str(small_run[1])
    argvs = [["learn"]] + [["learn", mode, folder] for mode in ("trace", "walk", "quiz", "math", "explain", "cheatsheet")]
    argvs += [["learn", "code", folder, "-o", str(tmp_path / "r.py")], ["learn", "compare", folder, folder]]
    argvs += [["learn", "lesson"]]  # the list of lessons: nothing trains
    result = subprocess.run([sys.executable, "-c", NO_TF.format(argvs=argvs)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    seen = eval(result.stdout.strip().splitlines()[-1])  # a dict literal printed by the script above
    assert seen["codes"] == [0] * len(argvs)
    assert not seen["tensorflow"] and not seen["keras"]


def test_trace_defaults_to_the_latest_run(small_run, tmp_path):
    runs = tmp_path / "runs"
    (runs / "20200101-000000").mkdir(parents=True)
    (runs / "20200101-000000").joinpath("trace.json").write_bytes((small_run[1] / "trace.json").read_bytes())
    # wide enough that no temporary folder's path (their length varies by machine) is folded over two lines
    result = pipetrace_cli("learn", "cheatsheet", env={"PIPETRACE_RUNS": str(runs), "COLUMNS": "400"})
    assert result.returncode == 0, result.stderr
    assert f"{runs / '20200101-000000'}" in result.stdout


@pytest.mark.parametrize("mode", ["trace", "quiz", "math", "cheatsheet"])
def test_no_run_and_bad_files_are_clear_errors(mode, tmp_path):
    result = pipetrace_cli("learn", mode, env={"PIPETRACE_RUNS": str(tmp_path / "none")})
    assert result.returncode == 2
    assert "no saved run" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = pipetrace_cli("learn", mode, str(bad))
    assert result.returncode == 2 and "not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_trace_mode_prints_what_show_prints(small_run):
    trace_file = str(small_run[1] / "trace.json")
    assert pipetrace_cli("learn", "trace", trace_file).stdout == pipetrace_cli("show", trace_file).stdout


def test_cheatsheet_markdown_holds_this_runs_numbers(small_run, tmp_path):
    trace, folder = small_run
    out = tmp_path / "sheet.md"
    result = pipetrace_cli("learn", "cheatsheet", str(folder), "--markdown", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("# pipetrace cheatsheet")
    assert f"total: {trace.network.total_params:,}" in text
    assert " x ".join(map(str, trace.stages[2].outputs[0].shape)) in text
    assert "pipetrace run --epochs 2 --limit 3000" in text
    assert f"{percent(trace.evaluation.test_accuracy)} of {trace.dataset['test_count']:,} right" in text



def test_cheatsheet_markdown_replaces_a_planted_link_instead_of_writing_through_it(small_run, tmp_path):
    _, folder = small_run
    victim = tmp_path / "bashrc"
    victim.write_text("untouched\n")
    (tmp_path / "sheet.md").symlink_to(victim)
    result = pipetrace_cli("learn", "cheatsheet", str(folder), "--markdown", str(tmp_path / "sheet.md"))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "untouched\n"
    assert not (tmp_path / "sheet.md").is_symlink() and (tmp_path / "sheet.md").read_text().startswith("# pipetrace cheatsheet")

def test_explain_illustrates_claims_with_the_run(small_run):
    trace, folder = small_run
    result = pipetrace_cli("learn", "explain", str(folder))
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    for figure in (f"{trace.network.total_params:,}", percent(trace.evaluation.test_accuracy),
                   str(trace.prediction.first_hidden.details["fired"])):
        assert figure in out
    assert out.count("Common mistake:") >= 6


def test_compare_a_run_with_itself_finds_no_differences(small_run):
    folder = str(small_run[1])
    result = pipetrace_cli("learn", "compare", folder, folder)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "None: the same settings" in out and "they disagree on 0" in out and "+0.00 points" in out
