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
        kernel, bias = layer.get_weights()
        outputs += [array_info(f"{layer.name} weights", kernel), array_info(f"{layer.name} biases", bias)]
    parts = [f"{layer.name} {layer.weights:,} weights + {layer.biases:,} biases = {layer.params:,}" for layer in network.layers]
    total = " + ".join(f"{layer.params:,}" for layer in network.layers)
    schedule = "cosine-decayed from " if network.schedule == "cosine" else ""
    return Stage(
        number=5,
        name="Model training",
        did=(
            f"Trained {network.architecture} with {network.optimizer} (learning rate {schedule}"
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
                for layer in network.layers
            ],
            "total_params": network.total_params,
            "status": training.status,
        },
    )
