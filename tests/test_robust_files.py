"""Trace files that are not traces, from the future, or damaged; folders that cannot be written."""

import json
import os

import jsonschema
import pytest
from conftest import pipetrace_cli

from pipetrace.trace.schema import trace_schema


@pytest.fixture
def saved(small_run, tmp_path):
    trace, _ = small_run
    return json.loads(trace.to_json())


def write(tmp_path, data, name="trace.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_a_real_trace_follows_the_published_schema(saved):
    jsonschema.Draft202012Validator.check_schema(trace_schema())
    jsonschema.validate(saved, trace_schema())


def test_schema_command_prints_it():
    done = pipetrace_cli("schema")
    assert done.returncode == 0 and json.loads(done.stdout) == trace_schema()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("training"), "(top level): must contain ['training'] properties"),
        (lambda d: d["training"]["epochs"][0].update(loss="low"), "training.epochs[0].loss: must be number or null"),
        (lambda d: d["stages"][2].update(outputs="784"), "stages[2].outputs: must be array"),
        (lambda d: d["prediction"].update(sample=None), "prediction.sample: must be integer"),
        (lambda d: d.update(schema_version=99), "written by a newer pipetrace (schema version 99"),
        (lambda d: d.update(schema_version="1"), "schema_version must be a whole number"),
    ],
)
def test_damaged_traces_name_what_is_wrong(saved, tmp_path, mutate, message):
    mutate(saved)
    done = pipetrace_cli("show", str(write(tmp_path, saved)))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[1, 2, 3]", "not a pipetrace trace"),
        ('{"epochs": 5}', "not a pipetrace trace"),
    ],
)
def test_files_that_are_not_traces(tmp_path, content, message):
    done = pipetrace_cli("show", str(write(tmp_path, content)))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_binary_and_missing_files(tmp_path):
    binary = tmp_path / "model.keras"
    binary.write_bytes(bytes(range(256)))
    done = pipetrace_cli("show", str(binary))
    assert done.returncode == 2 and "not valid JSON" in done.stderr
    done = pipetrace_cli("show", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "no such file" in done.stderr


def test_out_folder_that_cannot_be_written(tmp_path):
    if os.geteuid() == 0:  # root writes through permissions; /proc takes no new folders from anyone
        out = "/proc/pipetrace-test/run"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        out = str(locked / "run")
    done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--out", out)
    assert done.returncode == 2, done.stderr
    assert f"--out {out}: cannot write there" in done.stderr and "Traceback" not in done.stderr


def test_out_path_blocked_by_a_file(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("keep me")
    for out in (blocker, blocker / "run"):
        done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--out", str(out))
        assert done.returncode == 2, done.stderr
        assert str(blocker) in done.stderr and "Traceback" not in done.stderr
    assert blocker.read_text() == "keep me"
