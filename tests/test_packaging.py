"""What `pip install pipetrace` gets: the built wheel, installed into a fresh venv, runs a trace; the sdist holds its tests.

Built offline from a copy of the project with this venv's setuptools (PEP 517 hooks). The fresh
venv reuses this venv's installed libraries through a `.pth` path, so TensorFlow is not
installed again; pipetrace itself comes from the wheel (checked), not from `src/`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT

PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "BENCHMARKS.md", "Makefile")
PROJECT_FOLDERS = ("src", "tests", "examples", "benchmarks")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, sdist) built from a copy of the project, so nothing is written into the working tree."""
    copy = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, copy / name)
    for name in PROJECT_FOLDERS:
        shutil.copytree(ROOT / name, copy / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".pytest_cache"))
    dist = copy / "dist"
    built = []
    for hook in ("build_wheel", "build_sdist"):  # one process each, as a build frontend runs them
        code = (f"import sys, pathlib; from setuptools import build_meta as b; "  # setuptools logs to stdout
                f"pathlib.Path(sys.argv[2]).write_text(b.{hook}(sys.argv[1]))")
        done = subprocess.run([sys.executable, "-c", code, str(dist), str(copy / "built.txt")], cwd=copy,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        built.append(dist / (copy / "built.txt").read_text())
    return built[0], built[1]


def metadata(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(archive.read(name).decode()), archive.namelist()


def test_the_wheel_asks_for_keras_and_leaves_the_backend_to_the_user(built):
    meta, names = metadata(built[0])
    requirements = [Requirement(text) for text in meta.get_all("Requires-Dist")]

    def required(extra: str) -> set[str]:
        return {r.name.lower() for r in requirements
                if r.marker is None or r.marker.evaluate({"extra": extra, "platform_machine": "x86_64",
                                                          "sys_platform": "linux"})}

    plain = required("")
    # pip install pipetrace next to a `tensorflow` (Colab, a GPU box) adds no second TensorFlow
    assert "keras" in plain and not plain & {"tensorflow", "tensorflow-cpu", "scikit-learn"}
    assert required("cpu") - plain == {"tensorflow-cpu"}
    assert required("tensorflow") - plain == {"tensorflow"}
    assert meta["License-Expression"] == "MIT" and meta.get("License") is None
    assert "pipetrace-0.1.0.dist-info/licenses/LICENSE" in names
    assert {"pipetrace/data/digits/digits.csv.gz", "pipetrace/data/digits/SHA256SUMS",
            "pipetrace/data/mnist/SHA256SUMS"} <= set(names)


def test_the_sdist_holds_the_tests_and_what_they_need(built):
    with tarfile.open(built[1]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"tests/conftest.py", "tests/modes_helpers.py", "tests/test_packaging.py", "LICENSE", "README.md",
            "examples/small_cnn.py", "src/pipetrace/data/digits/digits.csv.gz"} <= names
    assert not any("__pycache__" in name for name in names)


def test_the_wheel_installed_in_a_fresh_venv_runs_a_trace(built, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "project-libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # TensorFlow & co.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "install", "--no-deps",
         "--no-index", "--ignore-installed", "--quiet", str(built[0])], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr

    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(NO_COLOR="1", TMPDIR=str(tmp_path))
    where = subprocess.run([str(python), "-c", "import pipetrace; print(pipetrace.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), where  # the wheel's copy, not src/

    out = tmp_path / "run"
    done = subprocess.run([str(venv / "bin" / "pipetrace"), "run", "--limit", "600", "--epochs", "1", "--quiet",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {"trace.json", "model.keras", "report.html"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "trace.json").read_text())["settings"]["limit"] == 600
    assert done.stdout.startswith("Run completed") and done.stderr == ""

    smoke = ("from pipetrace.data import load_dataset; from pipetrace.trace import Trace; import sys; "
             "d = load_dataset('digits'); t = Trace.load(sys.argv[1]); "
             "print(len(d.x_train) + len(d.x_test), t.training.epochs_planned, 'tensorflow' in sys.modules)")
    checked = subprocess.run([str(python), "-c", smoke, str(out / "trace.json")], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=120)
    assert checked.stdout.split() == ["1797", "1", "False"], checked.stderr
    shown = subprocess.run([str(venv / "bin" / "pipetrace"), "show", str(out / "trace.json")], cwd=tmp_path,
                           capture_output=True, text=True, env=env, timeout=120)
    assert shown.returncode == 0 and "Model Pipeline Trace" in shown.stdout, shown.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "venv"]  # nothing left in TMPDIR
