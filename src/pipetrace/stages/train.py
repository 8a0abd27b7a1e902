"""Stage 5, Model training: the training vectors in, a trained model (weights and biases) out.

The training itself runs in `pipetrace.training`; this stage records what went in, the
learned arrays that came out, and the parameter count of every layer.
"""

from __future__ import annotations

import numpy as np

from pipetrace.stages.measure import array_info
from pipetrace.trace import Network, Stage, Training


def training_stage(x_train: np.ndarray, model, network: Network, training: Training) -> Stage:
    """Describe the training stage from the model Keras trained."""
    outputs = []
    for layer in model.layers:
        for variable in layer.weights:
            role = variable.path.rsplit("/", 1)[-1]
            role = {"kernel": "weights", "bias": "biases"}.get(role, role)
            outputs.append(array_info(f"{layer.name} {role}", np.asarray(variable.numpy())))
    learning = [layer for layer in network.layers if layer.params]
    parts = [
        f"{layer.name} {layer.weights:,} weights + {layer.biases:,} biases"
        + (f" + {layer.other:,} other" if layer.other else "") + f" = {layer.params:,}"
        for layer in learning
    ]
    total = " + ".join(f"{layer.params:,}" for layer in learning)
    schedule = "cosine-decayed from " if network.schedule == "cosine" else ""
    return Stage(
        number=5,
        name="Model training",
        did=(
            f"Trained {network.architecture} with {network.optimizer_label} (learning rate {schedule}"
            f"{network.learning_rate:g}) for {len(training.epochs)} of {training.epochs_planned} epochs, "
            f"{training.steps_per_epoch} batches of {training.batch_size} images each"
        ),
        inputs=[array_info("training", x_train)],
        outputs=outputs,
        example=f"{'; '.join(parts)}; total {total} = {network.total_params:,} parameters",
        seconds=training.seconds,
        details={
            "parameters": [
                {"layer": layer.name, "weights": layer.weights, "biases": layer.biases, "params": layer.params}
                for layer in learning
            ],
            "total_params": network.total_params,
            "status": training.status,
        },
    )
