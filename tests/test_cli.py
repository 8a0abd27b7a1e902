"""The command line as a user meets it: help, option checks, plain output, same seed same numbers."""

import json
import shutil
import subprocess

import pytest
from conftest import pipetrace_cli


def test_help_explains_the_options():
    done = pipetrace_cli("run", "--help")
    assert done.returncode == 0
    for option in ("--epochs", "--batch-size", "--hidden", "--learning-rate", "--momentum", "--seed", "--sample", "--limit",
                   "--data-dir", "--out", "--quiet", "--questions", "--no-answers"):
        assert option in done.stdout
    top = pipetrace_cli("--help")
    assert top.returncode == 0 and "run" in top.stdout and "show" in top.stdout
    text = " ".join(done.stdout.split())
    assert "the optimizer's step size at the start" in text and "Adam's" not in text
    assert "SGD's momentum: the share of the previous step kept in each step (0 = plain SGD; 0.9 is typical" in text
    assert "where to save trace.json, model.keras and report.html" in text and "$PIPETRACE_RUNS" in text


def test_bare_command_shows_help_and_exits_2():
    done = pipetrace_cli()
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: pipetrace") and "run" in done.stderr and "completion" in done.stderr


def test_shell_completion_scripts(tmp_path):
    bash = pipetrace_cli("completion", "bash")
    assert bash.returncode == 0, bash.stderr
    script = tmp_path / "pipetrace.bash"
    script.write_text(bash.stdout)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    # what bash does on Tab: the command's words so far -> the completions offered
    ask = (f"source {script}; COMP_WORDS=(pipetrace \"$1\" \"$2\"); COMP_CWORD=$3; _shtab_pipetrace; "
           'printf "%s\\n" "${COMPREPLY[@]}"')
    offered = lambda *words: subprocess.run(["bash", "-c", ask, "bash", *words], capture_output=True,  # noqa: E731
                                            text=True).stdout.split()
    assert offered("r", "", "1") == ["run"]
    assert offered("run", "--learning", "2") == ["--learning-rate"]
    assert {"walk", "quiz", "experiment"} <= set(offered("learn", "", "2"))
    zsh = pipetrace_cli("completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef pipetrace") and "--learning-rate" in zsh.stdout
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=zsh.stdout, text=True).returncode == 0
    wrong = pipetrace_cli("completion", "fish")
    assert wrong.returncode == 2 and "invalid choice: 'fish'" in wrong.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be a whole number of at least 1 (got 0)"),
        (["--batch-size", "-5"], "--batch-size must be a whole number of at least 1 (got -5)"),
        (["--hidden", "0"], "--hidden must be a whole number of at least 1"),
        (["--learning-rate", "-0.1"], "--learning-rate must be a positive number"),
        (["--learning-rate", "nan"], "--learning-rate must be a positive number"),
        (["--learning-rate", "fast"], "invalid float value: 'fast'"),
        (["--momentum", "0.9"], "--momentum 0.9 applies to --optimizer sgd only (this run uses adam)"),
        (["--optimizer", "sgd", "--momentum", "1"], "--momentum must be a fraction from 0 up to (not including) 1"),
        (["--sample", "10000"], "--sample 10000 is outside the test set: it holds 10000 images (0 to 9999)"),
        (["--limit", "600", "--sample", "100"], "--sample 100 is outside the test set: it holds 100 images"),
        (["--limit", "70000"], "--limit 70000 is larger than the 60000 training images"),
        (["--questions", "99"], "--questions 99: a run yields"),
        (["--data-dir", "/nonexistent"], "/nonexistent: no such data folder"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_options_get_one_clear_line_and_status_2(args, message, tmp_path):
    done = pipetrace_cli("run", "--out", str(tmp_path / "run"), *args)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run" / "model.keras").exists(), "nothing is trained on bad options"


def test_show_of_something_that_is_not_a_trace(tmp_path):
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    done = pipetrace_cli("show", str(bad))
    assert done.returncode == 2 and "not a pipetrace trace" in done.stderr and "Traceback" not in done.stderr


def test_same_seed_same_numbers(tmp_path):
    def numbers(folder):
        data = json.loads((folder / "trace.json").read_text())
        drop = {"seconds", "timings", "created_at"}

        def clean(value):
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if k not in drop}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        return clean(data)

    for name in ("a", "b"):
        done = pipetrace_cli("run", "--limit", "1200", "--epochs", "2", "--seed", "7", "--quiet", "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    assert numbers(tmp_path / "a") == numbers(tmp_path / "b")


def test_quiet_no_answers_and_python_dash_m(tmp_path):
    out = tmp_path / ("a-folder-name-long-enough-that-the-saved-line-is-wider-than-the-terminal-" * 2) / "q"
    done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Run completed: test accuracy ")  # no blank line first
    # piped output does not wrap: each path whole, on the line that names it (COLUMNS is 100 here)
    assert lines[0].endswith(f"Saved {out / 'trace.json'} and {out / 'model.keras'}")
    assert lines[1] == f"See it again with: pipetrace show {out / 'trace.json'}"
    assert lines[2] == f"Open the report in a browser: {(out / 'report.html').as_uri()}" and len(lines) == 3
    out = tmp_path / "q"
    out.parent.mkdir(exist_ok=True)
    done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Data Flow" not in done.stdout and "Saved" in done.stdout and "trace.json" in done.stdout
    shown = pipetrace_cli("show", str(tmp_path / "q" / "trace.json"), "--no-answers")
    assert "Answers" not in shown.stdout and "Model Quiz" in shown.stdout


def test_existing_run_is_not_overwritten(tmp_path):
    out = tmp_path / "run"
    first = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(out))
    assert first.returncode == 0
    before = (out / "trace.json").read_bytes()
    again = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--quiet", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    assert (out / "trace.json").read_bytes() == before
