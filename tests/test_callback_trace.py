"""`TraceCallback.to_trace`: a fit of yours as a whole Trace that saves, loads, renders and `pipetrace show`s.

Its numbers are Keras' (`History` for the epochs, `evaluate` for the test set); what the callback did
not see (the data stages, a seed) is said to be unknown, never filled in.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import pipetrace_cli

keras = pytest.importorskip("keras")

import pipetrace  # noqa: E402
from pipetrace.data import load_dataset  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    return data.x_train[:600] / 16.0, data.y_train[:600], data.x_test[:200] / 16.0, data.y_test[:200]


def fitted(digits, callbacks_before=(), **options):
    x_train, y_train, x_test, y_test = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8)), keras.layers.Flatten(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    recorder = pipetrace.TraceCallback()
    history = model.fit(x_train, y_train, validation_data=(x_test, y_test), callbacks=[*callbacks_before, recorder], verbose=0,
                        **options)
    return model, recorder, history


def rendered(trace) -> str:
    from rich.console import Console

    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(trace)
    return out.getvalue()


def test_a_recorded_fit_saves_loads_and_renders_with_keras_numbers(digits, tmp_path):
    x_train, y_train, x_test, y_test = digits
    model, recorder, history = fitted(digits, epochs=2, batch_size=64)
    trace = recorder.to_trace(model, x_test, y_test, name="digits")
    path = trace.save(tmp_path / "trace.json")
    again = pipetrace.Trace.load(path)  # validated and checked for consistency as any trace file
    assert [e.test_loss for e in again.training.epochs] == pytest.approx(history.history["val_loss"], rel=1e-6)
    evaluated = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    assert again.evaluation.test_accuracy == pytest.approx(evaluated["accuracy"], abs=1e-6)
    assert again.evaluation.test_loss == pytest.approx(evaluated["loss"], rel=1e-4)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model(x_test[again.prediction.sample:][:1])))[0]
    assert again.prediction.output_layer.values == pytest.approx(probabilities.tolist(), abs=1e-5)
    assert again.stages == [] and again.dataset["train_count"] == len(x_train)
    text = rendered(again)
    assert "Data Flow - Not Recorded" in text and "seed" not in text and "Model Quiz" not in text
    assert "batch 64" in text
    html = again.save_html(tmp_path / "report.html").read_text()
    assert "Not recorded: this trace is a model.fit of yours" in html
    shown = pipetrace_cli("show", str(path))
    assert shown.returncode == 0 and "Data Flow - Not Recorded" in shown.stdout, shown.stderr
    refused = pipetrace_cli("learn", "quiz", str(path))
    assert refused.returncode != 0 and "which saw neither" in refused.stderr and "Traceback" not in refused.stderr


def test_a_fit_from_initial_epoch_keeps_keras_epoch_numbers_in_a_loadable_trace(digits, tmp_path):
    x_train, y_train, x_test, y_test = digits
    model, recorder, history = fitted(digits, epochs=3, initial_epoch=1, batch_size=100)
    trace = pipetrace.Trace.load(recorder.to_trace(model, x_test, y_test).save(tmp_path / "trace.json"))
    assert [e.epoch for e in trace.training.epochs] == [2, 3]
    assert trace.training.status == trace.status == "completed"
    assert [e.loss for e in trace.training.epochs] == pytest.approx(history.history["loss"], rel=1e-6)


def test_a_fit_stopped_early_by_a_callback_is_a_loadable_trace_that_says_so(digits, tmp_path):
    x_train, y_train, x_test, y_test = digits
    stopper = keras.callbacks.EarlyStopping(monitor="loss", min_delta=100.0, patience=0)  # no epoch improves by 100
    model, recorder, history = fitted(digits, epochs=6, initial_epoch=1, batch_size=100, callbacks_before=[stopper])
    assert len(history.history["loss"]) == 2
    trace = pipetrace.Trace.load(recorder.to_trace(model, x_test, y_test).save(tmp_path / "trace.json"))
    assert trace.status == "stopped early" and [e.epoch for e in trace.training.epochs] == [2, 3]
    assert trace.insights[0].text.startswith("Training stopped early, after 2 of the 5 planned epochs (the last, epoch 3)")


def test_what_cannot_be_measured_is_one_clear_line(digits):
    x_train, y_train, x_test, y_test = digits
    with pytest.raises(pipetrace.PipetraceError, match="recorded no fit yet"):
        pipetrace.TraceCallback().to_trace(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), x_test, y_test)
    model, recorder, _ = fitted(digits, epochs=1)
    with pytest.raises(pipetrace.PipetraceError, match="needs the test images"):
        recorder.to_trace(model)
    with pytest.raises(pipetrace.PipetraceError, match="class numbers 0 to 9"):
        recorder.to_trace(model, x_test, np.full(len(x_test), 12))
    with pytest.raises(pipetrace.PipetraceError, match="give one class number per input"):
        recorder.to_trace(model, x_test, y_test[:5])
    with pytest.raises(pipetrace.PipetraceError, match="sample 500"):
        recorder.to_trace(model, x_test, y_test, sample=500)
