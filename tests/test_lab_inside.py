"""What the lab's `epoch` events show inside the network, checked against Keras on the run's saved model.

One small run (limit=600, 2 epochs) through `pipeline.run` with the lab's own observer (lab/worker.py
LabObserver), its events kept in a list instead of sent through Dask; the last epoch's numbers are then
compared with model.keras: the unit pictures with the first layer's weights (within the quantisation
step), the silent units and the grid's answers with Keras' outputs, the weighted sums term by term.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

pytest.importorskip("distributed")

from pipetrace.lab.worker import LabObserver, _followed  # noqa: E402
from pipetrace.lab.grid import TestImageGrid  # noqa: E402

SAMPLE = 3


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    """(events as (kind, data) in order, the saved Keras model, the dataset) of one small lab run."""
    import keras

    from pipetrace.data import load_dataset
    from pipetrace.pipeline import run
    from pipetrace.trace import Settings

    data = load_dataset("mnist")
    events = []
    observer = LabObserver(lambda kind, d: events.append((kind, json.loads(json.dumps(d, allow_nan=False)))),
                           lambda: False)
    observer.followed = _followed(data, SAMPLE)
    observer.grid = TestImageGrid.of(data, 600)
    folder = tmp_path_factory.mktemp("lab-inside")
    run(Settings(limit=600, epochs=2, sample=SAMPLE), data=data, out=folder, observer=observer, verbose=0)
    return events, keras.models.load_model(folder / "model.keras", compile=False), data


def last_epoch(events) -> dict:
    return [d for kind, d in events if kind == "epoch"][-1]


def test_the_test_images_travel_once_as_the_first_test_images_bytes(lab_run):
    events, _, data = lab_run
    sent = [d for kind, d in events if kind == "test_images"]
    assert len(sent) == 1
    grid = sent[0]
    assert grid["count"] == 100 and (grid["height"], grid["width"], grid["channels"]) == (28, 28, 1)
    assert base64.b64decode(grid["pixels"]) == data.x_test[:100].astype(np.uint8).tobytes()
    assert grid["labels"] == data.y_test[:100].tolist()
    kinds = [kind for kind, _ in events]
    assert kinds.index("test_images") < kinds.index("epoch")


def test_unit_pictures_are_the_first_layers_weights_within_the_quantisation_step(lab_run):
    events, model, _ = lab_run
    units = last_epoch(events)["inside"]["units"]
    kernel = model.layers[0].kernel.numpy().astype(np.float64)  # 784 x 128
    assert (units["units"], units["drawn"], units["height"], units["width"]) == (128, 128, 28, 28)
    q = np.frombuffer(base64.b64decode(units["weights"]), dtype=np.int8).reshape(128, 784).astype(np.float64)
    scales = np.array(units["scales"])
    np.testing.assert_allclose(scales, np.abs(kernel).max(axis=0), rtol=1e-4)
    dequantised = (q * scales[:, None] / 127).T
    step = scales / 127
    assert (np.abs(dequantised - kernel) <= step / 2 * 1.001 + 1e-9).all()


def test_silent_units_are_those_keras_says_gave_0_on_every_grid_image(lab_run):
    import keras

    events, model, data = lab_run
    units = last_epoch(events)["inside"]["units"]
    hidden = keras.Model(model.inputs[0], model.layers[0].output)
    x = (data.x_test[:100].astype("float32") / 255).reshape(100, 784)
    outputs = np.asarray(hidden(x, training=False))
    assert units["measured_on"] == 100 and units["activation"] == "relu"
    assert units["silent"] == np.flatnonzero((outputs <= 0).all(axis=0)).tolist()


def test_the_grids_answers_and_confusion_are_keras_predictions(lab_run):
    events, model, data = lab_run
    grid = last_epoch(events)["inside"]["grid"]
    x = (data.x_test[:100].astype("float32") / 255).reshape(100, 784)
    probabilities = model.predict(x, verbose=0)
    assert grid["predicted"] == probabilities.argmax(axis=1).tolist()
    np.testing.assert_allclose(grid["probabilities"], probabilities, rtol=1e-4, atol=1e-7)
    confusion = np.array(grid["confusion"])
    assert confusion.sum() == grid["counted"] == 100
    assert np.trace(confusion) == grid["right"] == int((probabilities.argmax(axis=1) == data.y_test[:100]).sum())
    assert confusion.sum(axis=1).tolist() == np.bincount(data.y_test[:100], minlength=10).tolist()


def test_each_units_weighted_sum_is_keras_term_by_term(lab_run):
    import keras

    events, model, data = lab_run
    network = last_epoch(events)["inside"]["network"]
    assert last_epoch(events)["inside"]["followed"] == SAMPLE
    x = data.x_test[SAMPLE].astype("float32").reshape(1, 784) / 255
    np.testing.assert_allclose(network["input"], x[0], rtol=1e-4)
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    outputs = keras.Model(model.inputs[0], [layer.output for layer in dense])(x, training=False)
    inputs = x[0].astype(np.float64)
    assert [layer["units"] for layer in network["layers"]] == [128, 10]
    for sent, layer, values in zip(network["layers"], dense, outputs):
        kernel, bias = layer.kernel.numpy().astype(np.float64), layer.bias.numpy().astype(np.float64)
        values = np.asarray(values)[0]
        terms = inputs[:, None] * kernel
        for j in range(kernel.shape[1]):
            top = sent["top"][j]
            assert sorted(np.abs(terms[:, j]))[-len(top):][::-1] == pytest.approx(np.abs(terms[top, j]).tolist())
            np.testing.assert_allclose(sent["w"][j], kernel[top, j], rtol=1e-4)
            np.testing.assert_allclose(sent["term"][j], terms[top, j], rtol=1e-4, atol=1e-12)
            assert sent["top_sum"][j] == pytest.approx(terms[top, j].sum(), rel=1e-4, abs=1e-9)
            rest = terms[:, j].sum() - terms[top, j].sum()
            assert sent["rest"][j] == pytest.approx(rest, rel=1e-4, abs=1e-9)
        np.testing.assert_allclose(sent["bias"], bias, rtol=1e-4)
        z = inputs @ kernel + bias
        np.testing.assert_allclose(sent["z"], z, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(sent["values"], values, rtol=1e-4, atol=1e-6)
        assert keras.ops.convert_to_numpy(layer.activation(keras.ops.convert_to_tensor(z[None].astype("float32"))))[0] == \
            pytest.approx(values, rel=1e-4, abs=1e-6)
        inputs = values.astype(np.float64)


def lab_events(folder, **settings) -> list:
    """The events of a lab run of these settings on 600 MNIST images, through the lab's observer."""
    from pipetrace.data import load_dataset
    from pipetrace.pipeline import run
    from pipetrace.trace import Settings

    data = load_dataset("mnist")
    events = []
    observer = LabObserver(lambda kind, d: events.append((kind, json.loads(json.dumps(d, allow_nan=False)))),
                           lambda: False)
    observer.followed, observer.grid = _followed(data, 0), TestImageGrid.of(data, 600)
    run(Settings(limit=600, **settings), data=data, out=folder, observer=observer, verbose=0)
    return events


def test_a_convolutional_network_has_its_filters_and_maps_but_no_unit_pictures_and_keeps_the_grid(tmp_path):
    import keras

    from pipetrace.data import load_dataset

    inside = last_epoch(lab_events(tmp_path, epochs=1, conv=True))["inside"]
    model = keras.models.load_model(tmp_path / "model.keras", compile=False)
    first = model.layers[0]
    kernel = first.kernel.numpy().reshape(9, 16).astype(np.float64)
    image = load_dataset("mnist").x_test[0].astype("float32").reshape(1, 28, 28, 1) / 255
    maps = np.asarray(keras.Model(model.inputs[0], first.output)(image, training=False))[0].reshape(784, 16)
    for sent, exact, size in ((inside["filters"], kernel, 9), (inside["filters"]["maps"], maps, 784)):
        q = np.frombuffer(base64.b64decode(sent.get("weights") or sent["values"]), np.int8).reshape(16, size)
        scales = np.array(sent["scales"])
        assert (np.abs(q.T * scales / 127 - exact) <= scales / 254 * 1.001 + 1e-9).all()
    assert inside["units"] is None and inside["network"] is None
    assert "Dense layers only" in inside["why"] and "Conv2D" in inside["why"]
    filters, maps = inside["filters"], inside["filters"]["maps"]
    assert (filters["filters"], filters["height"], filters["width"]) == (16, 3, 3)
    assert (maps["height"], maps["width"]) == (28, 28) and len(maps["scales"]) == 16
    assert len(inside["grid"]["predicted"]) == 100 and np.array(inside["grid"]["confusion"]).sum() == 100


def test_an_epoch_whose_loss_stopped_being_a_number_shows_nothing_of_the_weights_put_back(tmp_path):
    epochs = [d for kind, d in lab_events(tmp_path, epochs=2, learning_rate=1e20, schedule="constant") if kind == "epoch"]
    inside = epochs[-1]["inside"]
    assert epochs[-1]["test_accuracy"] is None
    assert inside["units"] is None and inside["network"] is None and inside["grid"] is None
    assert "stopped being a number" in inside["why"]


def test_tanh_units_are_never_called_silent_and_a_layer_too_wide_to_draw_says_so(tmp_path):
    inside = last_epoch(lab_events(tmp_path, epochs=1, hidden=[1100], activation="tanh"))["inside"]
    assert inside["units"]["silent"] is None and inside["units"]["drawn"] == 256 and inside["units"]["units"] == 1100
    assert inside["network"] is None and inside["network_why"] == "a layer has more than 1,024 units"


def test_when_training_ends_every_grid_image_goes_through_every_layer_as_keras_computes_it(lab_run):
    import keras

    events, model, data = lab_run
    kinds = [kind for kind, _ in events]
    assert kinds.count("test_layers") == 1 and kinds.index("test_layers") > max(i for i, k in enumerate(kinds) if k == "epoch")
    sent = next(d for kind, d in events if kind == "test_layers")
    assert [(layer["name"], layer["units"]) for layer in sent["layers"]] == [("hidden", 128), ("output", 10)]
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    x = (data.x_test[:100].astype("float32") / 255).reshape(100, 784)
    outputs = keras.Model(model.inputs[0], [layer.output for layer in dense])(x, training=False)
    assert len(sent["values"]) == 100
    for n, values in enumerate(outputs):
        np.testing.assert_allclose([image[n] for image in sent["values"]], np.asarray(values), rtol=1e-4, atol=1e-6)


def test_the_largest_terms_are_found_largest_first_also_in_rows_shorter_than_the_count():
    from pipetrace.lab.inside import largest

    rows = np.array([[0.1, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.5, 0.05]])
    assert largest(rows, 8).tolist() == [[1, 5, 3, 7, 8, 6, 2, 4]]
    assert largest(rows[:, :3], 8).tolist() == [[1, 2, 0]]
