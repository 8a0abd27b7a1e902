"""Training that diverges or is interrupted: a clear record, a rendered trace, nothing lost."""

import json
import signal
import time

from conftest import pipetrace_cli, start_paused

from pipetrace import Trace


def test_a_learning_rate_that_blows_up_stops_training_with_a_plain_explanation(tmp_path):
    out = tmp_path / "diverged"
    done = pipetrace_cli("run", "--limit", "1200", "--epochs", "4", "--learning-rate", "1e20",
                         "--schedule", "constant", "--out", str(out))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    trace = Trace.load(out / "trace.json")
    assert trace.status == trace.training.status == "diverged"
    assert len(trace.training.epochs) == 1 < trace.training.epochs_planned
    assert trace.training.epochs[0].loss is None
    assert "NaN or infinite in epoch 1" in trace.training.epochs[0].observation
    assert "try a learning rate of about 0.001, typical for Adam" in trace.training.epochs[0].observation
    assert trace.training.restored_epoch == 0 and "untrained" in trace.insights[0].text
    assert trace.insights[0].text.startswith("Training diverged in epoch 1 of 4")
    assert "Run diverged" in done.stdout and "NaN" in done.stdout
    shown = pipetrace_cli("show", str(out / "trace.json"))
    assert shown.returncode == 0 and "diverged" in shown.stdout
    report = (out / "report.html").read_text()
    assert "NaN or infinite in epoch 1" in report and "</html>" in report


def start_run(out, point="epoch 3 batch 12"):
    """A long `pipetrace run` (400 epochs) paused at `point`; its stdout kept in a file beside `out`.

    With --limit 3000 an epoch is 12 batches, so "epoch 3 batch 12" is the last batch of epoch 3,
    before that epoch is recorded: two epochs are finished, whatever the machine's speed.
    """
    printed = open(out.parent / f"{out.name}.stdout", "w+")
    process = start_paused(point, "--limit", "3000", "--epochs", "400", "--out", str(out), stdout=printed)
    process.printed = printed
    return process


def finish(process) -> tuple[str, str]:
    """The run's stdout and stderr once it has ended."""
    _, stderr = process.communicate(timeout=120)
    process.printed.seek(0)
    return process.printed.read(), stderr


def test_ctrl_c_keeps_the_finished_epochs(tmp_path):
    out = tmp_path / "interrupted"
    process = start_run(out)
    process.send_signal(signal.SIGINT)
    stdout, stderr = finish(process)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    trace = Trace.load(out / "trace.json")
    assert trace.status == "interrupted"
    assert [e.epoch for e in trace.training.epochs] == [1, 2]
    assert trace.insights[0].text.startswith("Training was interrupted after 2 of 400 epochs")
    assert (out / "model.keras").is_file()
    assert "interrupted" in (out / "report.html").read_text()
    assert "Interrupted" in stdout and "Run interrupted" in stdout


def test_a_second_ctrl_c_exits_at_once_without_half_written_files(tmp_path):
    """The second Ctrl-C, right after the first, ends the process with 130 (saved whole, or nothing saved)."""
    out = tmp_path / "twice"
    process = start_run(out)
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = finish(process)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    for name in ("trace.json",):
        if (out / name).exists():  # written whole or not at all
            json.loads((out / name).read_text())
