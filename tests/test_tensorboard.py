"""The TensorBoard export, read back with TensorBoard's own reader: every number must be the trace's."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

from pipetrace.trace import Trace  # noqa: E402
from pipetrace.views.tensorboard import write_tensorboard  # noqa: E402

ALL = {event_accumulator.TENSORS: 0, event_accumulator.IMAGES: 0, event_accumulator.HISTOGRAMS: 0}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(trace, model, logdir) for a tiny real run: 2 epochs of ~30 batches, so 2 batch-loss entries an epoch."""
    import keras

    import pipetrace

    folder = tmp_path_factory.mktemp("tensorboard")
    trace = pipetrace.run(out=folder / "run", force=True, limit=1200, epochs=2, batch_size=32, seed=0)
    model = keras.models.load_model(folder / "run" / "model.keras")
    logdir = write_tensorboard(trace, model, folder / "tb")
    return trace, model, logdir


def read(logdir, run: str) -> event_accumulator.EventAccumulator:
    accumulator = event_accumulator.EventAccumulator(str(logdir / run), size_guidance=ALL)
    accumulator.Reload()
    return accumulator


def values(accumulator, tag: str) -> list[tuple[int, np.ndarray]]:
    return [(event.step, tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]


def plugin(accumulator, tag: str) -> str:
    return accumulator.SummaryMetadata(tag).plugin_data.plugin_name


def test_epoch_scalars_are_the_traces_numbers_in_train_and_test_runs(exported):
    trace, _, logdir = exported
    epochs = trace.training.epochs
    train, test = read(logdir, "train"), read(logdir, "test")
    for accumulator, loss_field, accuracy_field in ((train, "loss", "accuracy"), (test, "test_loss", "test_accuracy")):
        assert plugin(accumulator, "epoch_loss") == plugin(accumulator, "epoch_accuracy") == "scalars"
        losses, accuracies = values(accumulator, "epoch_loss"), values(accumulator, "epoch_accuracy")
        assert [step for step, _ in losses] == [e.epoch for e in epochs] == [1, 2]
        assert [float(v) for _, v in losses] == pytest.approx([getattr(e, loss_field) for e in epochs], rel=1e-6)
        assert [float(v) for _, v in accuracies] == pytest.approx([getattr(e, accuracy_field) for e in epochs], rel=1e-6)


def test_batch_losses_at_the_global_step_of_their_last_batch(exported):
    trace, _, logdir = exported
    steps, per_record = trace.training.steps_per_epoch, trace.training.steps_per_record
    assert steps > per_record  # the run was made so that an epoch holds more than one entry
    expected = []
    for epoch in trace.training.epochs:
        for j, loss in enumerate(epoch.batch_losses):
            last_batch = min((j + 1) * per_record, steps)  # the last entry of an epoch may cover fewer batches
            expected.append(((epoch.epoch - 1) * steps + last_batch, loss))
    got = values(read(logdir, "train"), "batch_loss")
    assert [step for step, _ in got] == [step for step, _ in expected]
    assert [float(v) for _, v in got] == pytest.approx([loss for _, loss in expected], rel=1e-6)
    assert got[-1][0] == len(trace.training.epochs) * steps  # the last point is the last batch trained
    assert "batch_loss" not in read(logdir, "test").Tags()["tensors"]


def test_weight_histograms_cover_every_weight_of_every_layer(exported):
    _, model, logdir = exported
    train = read(logdir, "train")
    weights = [(f"{layer.name}/{w.name}/histogram", w.numpy()) for layer in model.layers for w in layer.weights]
    assert len(weights) == 2 * len([layer for layer in model.layers if layer.weights])  # kernel and bias each
    for tag, weight in weights:
        assert plugin(train, tag) == "histograms"
        ((step, buckets),) = values(train, tag)  # columns: left edge, right edge, count
        assert step == 2
        assert buckets[:, 2].sum() == weight.size
        assert buckets[0, 0] == pytest.approx(weight.min(), rel=1e-5)
        assert buckets[-1, 1] == pytest.approx(weight.max(), rel=1e-5)


def test_sample_images_are_the_traced_pixels(exported):
    trace, _, logdir = exported
    train = read(logdir, "train")
    assert plugin(train, "sample") == plugin(train, "samples") == "images"
    ((_, sample),) = values(train, "sample")  # [width, height, png, ...] as bytes
    image = np.asarray(Image.open(io.BytesIO(sample[2])))
    assert image.shape[:2] == (28, 28) and int(sample[0]) == 28
    assert np.array_equal(image.reshape(28, 28), np.asarray(trace.prediction.image, dtype=np.uint8))
    ((_, samples),) = values(train, "samples")
    assert len(samples) - 2 == len(trace.samples) > 0
    for png, traced in zip(samples[2:], trace.samples):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))).reshape(28, 28), np.asarray(traced.image))
    description = train.SummaryMetadata("sample").summary_description
    assert f"test image {trace.prediction.sample}: label {trace.prediction.label}" in description


def test_graph_and_keras_model_config_are_written(exported):
    _, model, logdir = exported
    train = read(logdir, "train")
    graph = train.Graph()
    ops = [node.op for node in graph.node]
    dense_layers = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    assert ops.count("MatMul") == len(dense_layers) >= 2
    assert "Softmax" in ops and "Relu" in ops
    assert plugin(train, "keras") == "graph_keras_model"
    ((_, config),) = values(train, "keras")
    layers = json.loads(config.item())["config"]["layers"]
    assert [layer["config"]["name"] for layer in layers if layer["class_name"] == "Dense"] == \
        [layer.name for layer in dense_layers]


def test_losses_that_were_not_finite_are_left_out(exported, tmp_path):
    trace, model, _ = exported
    broken = Trace.from_dict(trace.to_dict())
    broken.training.epochs[1].loss = None
    broken.training.epochs[1].batch_losses[0] = None
    logdir = write_tensorboard(broken, model, tmp_path / "tb")
    train = read(logdir, "train")
    assert [step for step, _ in values(train, "epoch_loss")] == [1]
    steps = trace.training.steps_per_epoch
    assert steps + trace.training.steps_per_record not in [s for s, _ in values(train, "batch_loss")]
    assert [step for step, _ in values(read(logdir, "test"), "epoch_loss")] == [1, 2]


def test_importing_the_view_does_not_import_tensorflow():
    code = "import sys, pipetrace.views.tensorboard; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_tensorboard_finds_a_train_and_a_test_run_in_the_logdir(exported):
    """What `tensorboard --logdir` does on start: scan the folder for runs, as its server's multiplexer."""
    from tensorboard.backend.event_processing import plugin_event_multiplexer

    _, _, logdir = exported
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    assert set(multiplexer.Runs()) == {"train", "test"}
    by_run = multiplexer.PluginRunToTagToContent("scalars")
    assert set(by_run["train"]) == {"epoch_loss", "epoch_accuracy", "batch_loss"}
    assert set(by_run["test"]) == {"epoch_loss", "epoch_accuracy"}
