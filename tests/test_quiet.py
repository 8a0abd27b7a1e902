"""TensorFlow's start-up lines never reach the user; a TensorFlow that fails to import still says why; no files left behind.

Each test runs the real command in a fresh process (the start-up lines come once per process),
without TF_CPP_MIN_LOG_LEVEL (it does not silence them anyway), and with its own empty TMPDIR.
None of them depends on how fast the background import runs: the outcome is the same whether
the data error, the main thread's message or TensorFlow's lines come first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import ROOT

TENSORFLOW_NOISE = ("absl", "oneDNN", "I0000", "cpu_feature_guard", "port.cc", "rebuild TensorFlow")


def run_python(args: list[str], tmp_path: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """`python ARGS` as a user's shell runs it: no TF_CPP_MIN_LOG_LEVEL, no colour, a TMPDIR of its own."""
    env = {key: value for key, value in os.environ.items() if key not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH")}
    temp = tmp_path / "tmpdir"
    temp.mkdir(exist_ok=True)
    env.update(NO_COLOR="1", COLUMNS="100", TMPDIR=str(temp))
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(word in line for word in TENSORFLOW_NOISE)]


def test_run_and_experiment_print_no_tensorflow_lines_and_leave_no_temporary_files(tmp_path):
    done = run_python(["-m", "pipetrace", "run", "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "run")],
                      tmp_path)
    assert done.returncode == 0, done.stderr
    assert noise(done.stdout + done.stderr) == [] and done.stderr == ""
    assert (tmp_path / "run" / "trace.json").is_file()
    assert list((tmp_path / "tmpdir").iterdir()) == []  # no __autograph_generated_file*.py, no folder of ours

    varied = run_python(["-m", "pipetrace", "learn", "experiment", str(tmp_path / "run"), "--vary", "hidden=8,16",
                         "--limit", "600", "--out", str(tmp_path / "exp")], tmp_path)
    assert varied.returncode == 0, varied.stderr
    assert noise(varied.stdout + varied.stderr) == []
    assert "Variant 1 of 2" in varied.stdout or "hidden=8" in varied.stdout
    assert list((tmp_path / "tmpdir").iterdir()) == []


def fake_tensorflow(folder: Path, error: str) -> Path:
    """A `tensorflow` package that writes to file descriptor 2, as TensorFlow's C++ does, and raises `error`."""
    package = folder / "fake" / "tensorflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(f"""\
        import os
        os.write(2, b"E0000 00:00:1 loader.cc:42] Could not load dynamic library 'libfake_cuda.so.1'\\n")
        raise {error}
        """))
    return folder / "fake"


def test_a_tensorflow_that_fails_to_import_shows_its_own_lines_then_one_clear_line(tmp_path):
    fake = fake_tensorflow(tmp_path, 'ImportError("libfake_cuda.so.1: cannot open shared object file")')
    done = run_python(["-m", "pipetrace", "run", "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "run")],
                      tmp_path, pythonpath=fake)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "E0000 00:00:1 loader.cc:42] Could not load dynamic library 'libfake_cuda.so.1'"
    assert lines[1:] == ["pipetrace run: error: TensorFlow could not be imported: ImportError: libfake_cuda.so.1: "
                         "cannot open shared object file (TensorFlow's own messages, if any, are above)"]
    assert not (tmp_path / "run" / "trace.json").exists()


def test_no_tensorflow_says_what_to_install(tmp_path):
    fake = fake_tensorflow(tmp_path, 'ModuleNotFoundError("No module named \'tensorflow\'", name="tensorflow")')
    done = run_python(["-m", "pipetrace", "run", "--limit", "600", "--epochs", "1", "--out", str(tmp_path / "run")],
                      tmp_path, pythonpath=fake)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("pipetrace run: error: pipetrace trains with Keras on TensorFlow, and tensorflow is not "
                           "installed in this Python")
    assert 'pip install "pipetrace[cpu]"' in last and "Traceback" not in done.stderr


def test_python_stderr_during_the_import_reaches_the_user_once(tmp_path):
    """The main thread writes to sys.stderr while the import is held open until it has written: never captured."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text(textwrap.dedent("""\
        import os, time
        os.write(2, b"E0000 tensorflow start-up line\\n")
        flag = os.environ["MAIN_WROTE"]
        while not os.path.exists(flag):  # the import goes on only once the main thread has written
            time.sleep(0.01)
        raise ImportError("stopped on purpose")
        """))
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""\
        import sys, pathlib
        from pipetrace.training import backend
        future = backend.import_keras_in_background()
        print("from the main thread, during the import", file=sys.stderr, flush=True)
        pathlib.Path({str(tmp_path / "wrote")!r}).touch()
        try:
            future.result()
        except backend.BackendError as error:
            print("error:", error, file=sys.stderr)
        print("after the import", file=sys.stderr)
        """))
    os.environ["MAIN_WROTE"] = str(tmp_path / "wrote")
    try:
        done = run_python([str(script)], tmp_path, pythonpath=fake)
    finally:
        del os.environ["MAIN_WROTE"]
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "from the main thread, during the import",
        "E0000 tensorflow start-up line",  # replayed, since the import failed
        "error: TensorFlow could not be imported: ImportError: stopped on purpose "
        "(TensorFlow's own messages, if any, are above)",
        "after the import",
    ]


def test_real_import_with_the_main_thread_writing_meanwhile(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""\
        import sys
        from pipetrace.training import backend
        future = backend.import_keras_in_background()
        print("main thread", file=sys.stderr)
        keras = future.result()
        print("imported", keras.backend.backend(), file=sys.stderr)
        import os; os.write(2, b"fd 2 is the terminal again\\n")
        """))
    done = run_python([str(script)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["main thread", "imported tensorflow", "fd 2 is the terminal again"]


def test_a_run_that_stops_while_tensorflow_is_still_importing_raises_its_own_error(tmp_path):
    """The run's error, not "partially initialized module": nothing touches a TensorFlow another thread imports."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text(textwrap.dedent(f"""\
        import os, time
        while not os.path.exists({str(tmp_path / "done")!r}):  # importing until the run has ended
            time.sleep(0.01)
        raise ImportError("stopped on purpose")
        """))
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""\
        import pathlib, random
        import pipetrace
        random.seed(7); expected = random.random(); random.seed(7)
        try:
            pipetrace.run(limit=600, sample=5000, verbose=0)
        except pipetrace.SettingsError as error:
            print("SettingsError:", error)
        print("random kept:", random.random() == expected)
        pathlib.Path({str(tmp_path / "done")!r}).touch()
        """))
    done = run_python([str(script)], tmp_path, pythonpath=fake)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "SettingsError: --sample 5000 is outside the test set: it holds 100 images (0 to 99)",
        "random kept: True",
    ], done.stdout + done.stderr


def test_log_lines_written_during_the_import_reach_the_user(tmp_path):
    """A handler set up before the import (a server's logging) keeps writing to the real stderr meanwhile."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""\
        import logging, sys
        logging.basicConfig(format="%(message)s", level=logging.INFO)  # a StreamHandler on sys.stderr
        from pipetrace.training import backend
        future = backend.import_keras_in_background()
        logging.info("logged during the import")
        future.result()
        logging.info("logged after it")
        """))
    done = run_python([str(script)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["logged during the import", "logged after it"]
