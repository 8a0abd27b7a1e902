"""`math`'s numbers, worked out with NumPy from the trace, agree with the saved model.keras (GradientTape)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import pipetrace_cli
from pipetrace.modes.arithmetic import arithmetic, input_values


@pytest.fixture(scope="module")
def keras_side(small_run):
    import keras
    import tensorflow as tf

    trace, folder = small_run
    model = keras.models.load_model(folder / "model.keras")
    x = input_values(trace, trace.prediction).astype(np.float32)[None]
    m = arithmetic(trace)
    first = next(layer for layer in model.layers if type(layer).__name__ == "Dense")
    last = model.layers[-1]
    with tf.GradientTape() as tape:
        hidden_sum = tf.matmul(x, first.kernel) + first.bias
        logits_model = keras.Model(model.inputs[0], last.input)
        features = logits_model(x)
        logits = tf.matmul(features, last.kernel) + last.bias
        probabilities = model(x, training=False)
        loss = keras.losses.SparseCategoricalCrossentropy()(np.array([trace.prediction.label]), probabilities)
    gradient = tape.gradient(loss, first.kernel)
    return m, {"z": hidden_sum.numpy()[0], "logits": logits.numpy()[0], "p": probabilities.numpy()[0],
               "loss": float(loss), "gradient": gradient.numpy()}


def test_neuron_logits_softmax_and_loss_agree_with_keras(keras_side):
    m, k = keras_side
    assert abs(m.z - k["z"][m.neuron]) < 1e-5
    assert abs(m.a - max(k["z"][m.neuron], 0)) < 1e-5
    assert abs(sum(t.product for t in m.terms) + m.rest + m.bias - m.z) < 1e-9
    assert np.max(np.abs(np.array(m.logits) - k["logits"])) < 1e-5
    assert np.max(np.abs(np.array(m.probabilities) - k["p"])) < 1e-5
    assert abs(m.loss - k["loss"]) < 1e-5


def test_the_gradient_of_the_followed_weight_agrees_with_gradient_tape(keras_side):
    m, k = keras_side
    i, j = m.weight
    assert abs(m.gradient - k["gradient"][i, j]) < 1e-6
    assert m.new_weight == pytest.approx(m.weight_value - m.learning_rate * m.gradient, abs=1e-12)
    assert m.terms[0].index == i and m.neuron == j


def test_math_agrees_with_the_trace_it_was_made_from(small_run):
    trace, _ = small_run
    m = arithmetic(trace)
    hidden = trace.prediction.first_hidden
    assert m.neuron == hidden.details["top"][0][0] and abs(m.z - hidden.details["top"][0][1]) < 1e-5
    assert np.allclose(m.logits, trace.prediction.output_layer.details["logits"], atol=1e-5)
    assert m.predicted == trace.prediction.predicted


def test_math_mode_prints_every_part_and_other_samples(small_run):
    trace, folder = small_run
    result = pipetrace_cli("learn", "math", str(folder))
    assert result.returncode == 0, result.stderr
    for title in ("weighted sum", "logits", "Softmax, step by step", "The loss", "gradient-descent step"):
        assert title in result.stdout
    wrong = next(p for p in trace.samples if not p.correct)
    other = pipetrace_cli("learn", "math", str(folder), "--sample", str(wrong.sample))
    assert other.returncode == 0 and "wrong, the image is" in other.stdout
    assert pipetrace_cli("learn", "math", str(folder), "--sample", "99999").returncode == 2
