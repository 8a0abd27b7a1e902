"""Files a run writes: never through a planted link, one run per folder, and whole whatever the interrupt.

Interrupts are sent at exact moments without timing: with PIPETRACE_TEST_PAUSE_AT naming a point
(pipetrace.interrupts.pause_point), the run stops there, says so on stderr and waits for a signal.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, pipetrace_cli
from conftest import start_paused as start_paused_run

import pipetrace
from pipetrace import Trace
from pipetrace.files import LOCK_NAME, TEMP_PREFIX, claimed_folder, write_atomic
from pipetrace.errors import PipetraceError

QUICK = ("--limit", "600", "--epochs", "1", "--quiet")
# small batches so an epoch has several calls into TensorFlow, and a constant rate so that the
# first epoch of a longer run is the same as a one-epoch run
MID_EPOCH = ("--limit", "600", "--batch-size", "32", "--schedule", "constant", "--seed", "3", "--quiet")


# ---- one way to write: exclusive temporary file, then rename ---------------------------------

def test_write_atomic_replaces_a_planted_link_never_its_target(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out" / "trace.json"
    target.parent.mkdir()
    target.symlink_to(victim)
    write_atomic(target, b"new")
    assert victim.read_text() == "keep me"
    assert not target.is_symlink() and target.read_bytes() == b"new"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask  # as readable as any new file, not 0600
    assert [p.name for p in target.parent.iterdir()] == ["trace.json"], "no temporary file left behind"


def test_write_atomic_leaves_nothing_behind_when_the_write_fails(tmp_path):
    with pytest.raises(TypeError):
        write_atomic(tmp_path / "x.json", "not bytes")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_force_never_writes_through_planted_links(tmp_path):
    out = tmp_path / "run"
    done = pipetrace_cli("run", *QUICK, "--out", str(out))
    assert done.returncode == 0, done.stderr
    victims = {}
    for name in ("trace.json", "model.keras", "report.html", ".pipetrace-write-test", ".model.tmp.keras",
                 ".trace.json.tmp", f"{TEMP_PREFIX}model.keras"):
        victim = tmp_path / f"victim-{name.strip('.')}"
        victim.write_text("keep me")
        victims[victim] = name
        (out / name).unlink(missing_ok=True)
        (out / name).symlink_to(victim)
    done = pipetrace_cli("run", *QUICK, "--seed", "1", "--force", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for victim in victims:
        assert victim.read_text() == "keep me", f"written through the link {victims[victim]}"
    for name in ("trace.json", "model.keras", "report.html"):
        assert (out / name).is_file() and not (out / name).is_symlink()
    assert not any(p.name.startswith(TEMP_PREFIX) for p in out.iterdir())
    assert Trace.load(out / "trace.json").settings.seed == 1


def test_a_lock_file_planted_as_a_link_is_refused(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (out / LOCK_NAME).symlink_to(victim)
    done = pipetrace_cli("run", *QUICK, "--out", str(out))
    assert done.returncode == 2 and f"{LOCK_NAME} there is a symbolic link" in done.stderr, done.stderr
    assert victim.read_text() == "keep me" and not (out / "trace.json").exists()


# ---- one run per folder ---------------------------------------------------------------------

def test_a_folder_held_by_another_run_is_refused_before_anything_loads(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with claimed_folder(out, "the other run"):  # this test process plays the run that got there first
        done = pipetrace_cli("run", "--limit", "600", "--epochs", "1", "--out", str(out), "--force")
        with pytest.raises(PipetraceError, match="another pipetrace run is writing to this folder"):
            with claimed_folder(out, "a third"):
                pass
    assert done.returncode == 2, done.stderr
    assert f"--out {out}: another pipetrace run is writing to this folder right now" in done.stderr
    assert "Traceback" not in done.stderr and "Data Flow" not in done.stdout  # told before loading or training
    assert not (out / "trace.json").exists() and not (out / LOCK_NAME).exists()
    done = pipetrace_cli("run", *QUICK, "--out", str(out))  # released: the folder is free again
    assert done.returncode == 0, done.stderr


def test_two_runs_started_at_once_into_one_folder_end_with_one_whole_run(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "NO_COLOR": "1"}
    runs = [subprocess.Popen([sys.executable, "-m", "pipetrace", "run", *QUICK, "--seed", str(seed), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
            for seed in (1, 2)]
    results = [(run.returncode, *run.communicate(timeout=300)) for run in runs]
    results = [(run.returncode, out_, err) for run, (_, out_, err) in zip(runs, results)]
    assert sorted(code for code, _, _ in results) == [0, 2], results
    loser = next(err for code, _, err in results if code == 2)
    assert "another pipetrace run is writing to this folder" in loser or "already holds a run" in loser
    winner_seed = next(seed for seed, (code, _, _) in zip((1, 2), results) if code == 0)
    assert_one_run(out, seed=winner_seed)


def assert_one_run(out: Path, seed: int | None = None) -> Trace:
    """trace.json, model.keras and report.html in `out` all come from the same run."""
    trace = Trace.load(out / "trace.json")
    if seed is not None:
        assert trace.settings.seed == seed
    report = (out / "report.html").read_text()
    assert trace.created_at in report
    for layer in trace.weights:  # the report's network is the trace's
        assert layer.kernel.data in report and layer.bias.data in report
    saved = saved_weights(out / "model.keras")
    assert len(saved) == 2 * len(trace.weights)
    for layer, (kernel, bias) in zip(trace.weights, zip(saved[::2], saved[1::2])):
        assert np.array_equal(layer.kernel.unpack(), kernel) and np.array_equal(layer.bias.unpack(), bias)
    assert not any(p.name.startswith(TEMP_PREFIX) or p.name == LOCK_NAME for p in out.iterdir())
    return trace


def saved_weights(path: Path) -> list[np.ndarray]:
    from pipetrace.training.fit import import_keras

    keras = import_keras()
    return [np.asarray(w) for w in keras.saving.load_model(path, compile=False).get_weights()]


# ---- interrupts at exact moments ------------------------------------------------------------

def start_paused(out: Path, point: str, *args: str) -> subprocess.Popen:
    """A `pipetrace run ARGS --out OUT` that stops at `point` (returned once it says it has)."""
    return start_paused_run(point, *args, "--out", str(out))


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=300)
    assert "Traceback" not in stderr, stderr
    return process.returncode, stderr


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory) -> Path:
    """The mid-epoch runs' settings, stopped by --epochs after epoch 1: what an interrupt in epoch 2 must keep."""
    out = tmp_path_factory.mktemp("one-epoch") / "run"
    done = pipetrace_cli("run", *MID_EPOCH, "--epochs", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_mid_epoch_saves_the_model_of_the_last_recorded_epoch(tmp_path, one_epoch, signum):
    out = tmp_path / "interrupted"
    process = start_paused(out, "epoch 2 batch 16", *MID_EPOCH, "--epochs", "5")
    process.send_signal(signum)
    code, _ = finish(process)
    assert code == 130
    trace = assert_one_run(out)
    assert trace.status == trace.training.status == "interrupted"
    assert [e.epoch for e in trace.training.epochs] == [1]
    for kept, expected in zip(saved_weights(out / "model.keras"), saved_weights(one_epoch / "model.keras")):
        np.testing.assert_allclose(kept, expected, rtol=0, atol=1e-6)  # 16 more batches would move them far more
    assert pipetrace_cli("show", str(out / "trace.json")).returncode == 0


def test_interrupts_while_saving_finish_the_save_and_a_kill_leaves_no_mismatched_trace(tmp_path):
    out = tmp_path / "run"
    pipetrace.run(limit=600, epochs=1, out=out, verbose=0)  # an earlier run there (QUICK, in this process), replaced by --force
    for seed, point, signals in ((5, "saving: files written", [signal.SIGINT, signal.SIGINT]),  # the second waits too
                                 (6, "saving: model in place", [signal.SIGTERM])):
        process = start_paused(out, point, *QUICK, "--seed", str(seed), "--force")
        for signum in signals:
            process.send_signal(signum)
        code, stderr = finish(process)
        assert code == 130 and f"interrupted; the run was saved whole first: {out / 'trace.json'}" in stderr
        trace = assert_one_run(out, seed=seed)
        assert trace.status == "completed"
        shown = pipetrace_cli("show", str(out / "trace.json"))
        assert shown.returncode == 0, shown.stderr

    process = start_paused(out, "saving: model in place", *QUICK, "--seed", "7", "--force")
    process.kill()  # nothing can hold SIGKILL: the order of the renames is what protects the folder
    process.communicate(timeout=60)
    assert not (out / "trace.json").exists(), "the earlier trace must not describe the new model"
    shown = pipetrace_cli("show", str(out / "trace.json"))
    assert shown.returncode == 2 and "Traceback" not in shown.stderr
    done = pipetrace_cli("run", *QUICK, "--seed", "8", "--out", str(out))  # no trace.json: the folder is free
    assert done.returncode == 0, done.stderr
    assert_one_run(out, seed=8)  # and the killed run's temporary folder is gone


def test_show_html_replaces_a_planted_link_instead_of_writing_through_it(small_run, tmp_path):
    _, folder = small_run
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    page = tmp_path / "report.html"
    page.symlink_to(victim)
    done = pipetrace_cli("show", str(folder / "trace.json"), "--html", str(page))
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "keep me"
    assert not page.is_symlink() and "</html>" in page.read_text()
