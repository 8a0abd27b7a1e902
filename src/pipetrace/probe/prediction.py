"""Follow one input through the network: Input -> Dense + ReLU -> Dense + Softmax -> Prediction.

The hidden layer's weighted sums (before ReLU) and the output logits (before softmax) are
computed from the layer's own weights, so the trace shows both sides of each activation;
the activations themselves come from calling the Keras layers, so they are exactly what
`model.predict` computes.

>>> p = trace_prediction(model, x_test[0], label=7, sample=0, image=raw[0])  # doctest: +SKIP
>>> p.layers[2].values                                # the 10 probabilities  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from pipetrace.trace import LayerTrace, Prediction

TOP_NEURONS = 5


def trace_prediction(model, x: np.ndarray, label: int, sample: int, image: np.ndarray, class_names: list[str]) -> Prediction:
    """Run `x` (one flattened, scaled input) through `model` one layer at a time."""
    import keras

    hidden_layer, output_layer = model.layers
    batch = x.reshape(1, -1).astype(np.float32)
    kernel, bias = hidden_layer.get_weights()
    pre_activation = (batch @ kernel + bias)[0]
    hidden = keras.ops.convert_to_numpy(hidden_layer(batch))
    out_kernel, out_bias = output_layer.get_weights()
    logits = (hidden @ out_kernel + out_bias)[0]
    probabilities = keras.ops.convert_to_numpy(output_layer(hidden))[0].astype(np.float64)
    hidden = hidden[0]
    predicted = int(np.argmax(probabilities))

    layers = [
        _input_layer(batch[0]),
        _hidden_layer(pre_activation, hidden),
        _output_layer(logits, probabilities, class_names),
        _prediction_layer(predicted, float(probabilities[predicted]), label, class_names),
    ]
    return Prediction(
        sample=sample,
        label=label,
        image=image.tolist(),
        layers=layers,
        predicted=predicted,
        confidence=float(probabilities[predicted]),
    )


def _input_layer(x: np.ndarray) -> LayerTrace:
    ink = int(np.count_nonzero(x))
    return LayerTrace(
        name="Input",
        shape=[len(x)],
        summary=(
            f"{len(x)} values from {x.min():.3f} to {x.max():.3f}, mean {x.mean():.3f}; "
            f"{ink} are ink (> 0), {len(x) - ink} are blank (0)"
        ),
        values=[float(v) for v in x],
        details={"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean()), "nonzero": ink},
    )


def _hidden_layer(pre: np.ndarray, post: np.ndarray) -> LayerTrace:
    fired = int(np.count_nonzero(post > 0))
    order = np.argsort(-post, kind="stable")[:TOP_NEURONS]
    top = [[int(i), float(post[i])] for i in order]
    strongest = ", ".join(f"#{i} ({v:.2f})" for i, v in top)
    return LayerTrace(
        name="Hidden: Dense + ReLU",
        shape=[len(post)],
        summary=(
            f"Weighted sums ranged from {pre.min():.2f} to {pre.max():.2f}; ReLU kept the {fired} positive "
            f"ones ({fired / len(post):.0%}) and set {len(post) - fired} to 0. Strongest: {strongest}"
        ),
        values=[float(v) for v in post],
        details={
            "pre_activation_min": float(pre.min()),
            "pre_activation_max": float(pre.max()),
            "fired": fired,
            "units": len(post),
            "top": top,
        },
    )


def _output_layer(logits: np.ndarray, probabilities: np.ndarray, class_names: list[str]) -> LayerTrace:
    best = int(np.argmax(probabilities))
    return LayerTrace(
        name="Output: Dense + Softmax",
        shape=[len(probabilities)],
        summary=(
            f"Softmax turned {len(logits)} scores (from {logits.min():.2f} to {logits.max():.2f}) into "
            f"probabilities that sum to {probabilities.sum():.6f}; the largest, {probabilities[best]:.4f}, "
            f"is for '{class_names[best]}'"
        ),
        values=[float(v) for v in probabilities],
        details={"logits": [float(v) for v in logits], "sum": float(probabilities.sum())},
    )


def _prediction_layer(predicted: int, confidence: float, label: int, class_names: list[str]) -> LayerTrace:
    verdict = "right" if predicted == label else "wrong"
    return LayerTrace(
        name="Prediction",
        shape=[1],
        summary=(
            f"Predicted '{class_names[predicted]}' with {confidence:.2%} confidence; "
            f"the true label is '{class_names[label]}': {verdict}"
        ),
        values=[float(predicted)],
        details={"predicted": predicted, "label": label, "confidence": confidence, "correct": predicted == label},
    )
