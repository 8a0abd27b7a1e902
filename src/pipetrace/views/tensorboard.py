"""The run as TensorBoard event files, so ``tensorboard --logdir DIR`` shows it beside a learner's other runs.

The layout follows Keras' own ``keras.callbacks.TensorBoard``: a ``train`` and a ``test`` run
folder whose scalars share tag names (``epoch_loss``, ``epoch_accuracy``), so TensorBoard draws
training and test on one chart; ``batch_loss`` against the global batch number; weight
histograms per layer (``dense/kernel/histogram``); the op graph of the forward pass and the
Keras model config (TensorBoard's "conceptual graph"). The sample images go in as images.

This is the one view that needs TensorFlow (to write the event files); it is imported inside
`write_tensorboard`, so the other views stay light. Every number comes from the Trace, except
the weights and the graph, which come from the trained model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_tensorboard(trace, model, logdir: str | Path) -> Path:
    """Write the trace (and the trained Keras `model`) as TensorBoard event files under `logdir`.

    Returns `logdir`; it then holds ``train/`` and ``test/`` run folders.

    >>> import pipetrace, keras                                            # doctest: +SKIP
    >>> trace = pipetrace.run(limit=1200, epochs=2, out="runs/small")      # doctest: +SKIP
    >>> model = keras.models.load_model("runs/small/model.keras")           # doctest: +SKIP
    >>> write_tensorboard(trace, model, "runs/small/tensorboard")          # doctest: +SKIP
    PosixPath('runs/small/tensorboard')
    """
    import tensorflow as tf

    logdir = Path(logdir)
    train_writer = tf.summary.create_file_writer(str(logdir / "train"))
    test_writer = tf.summary.create_file_writer(str(logdir / "test"))
    epochs = trace.training.epochs
    last_epoch = epochs[-1].epoch if epochs else 0
    try:
        with train_writer.as_default():
            measured = trace.training.train_measured_on  # >0: measured after the epoch like the test set
            how = (f"on {measured:,} training images after the epoch, measured like the test set" if measured
                   else "the running mean over the epoch")
            for epoch in epochs:
                _scalar(tf, "epoch_loss", epoch.loss, epoch.epoch, f"training loss {how}")
                _scalar(tf, "epoch_accuracy", epoch.accuracy, epoch.epoch, f"training accuracy {how}")
                for step, loss in batch_steps(trace.training, epoch):
                    _scalar(tf, "batch_loss", loss, step,
                            f"training loss, each point the mean of {trace.training.steps_per_record} batches")
            _weights(tf, model, last_epoch)
            _images(tf, trace)
            _graph(tf, model)
            _keras_config(tf, model)
        with test_writer.as_default():
            for epoch in epochs:
                _scalar(tf, "epoch_loss", epoch.test_loss, epoch.epoch, "loss on the test set after the epoch")
                _scalar(tf, "epoch_accuracy", epoch.test_accuracy, epoch.epoch,
                        "accuracy on the test set after the epoch")
    finally:
        train_writer.close()
        test_writer.close()
    return logdir


def batch_steps(training, epoch) -> list[tuple[int, float]]:
    """(global step, loss) for each recorded batch-loss entry of `epoch`; the step is the last batch it covers.

    Entry j of epoch e averages batches j*k+1 .. (j+1)*k of that epoch (k = steps_per_record;
    the last entry may cover fewer). Entries that were not finite (None) are left out.

    >>> from types import SimpleNamespace as NS
    >>> batch_steps(NS(steps_per_epoch=40, steps_per_record=16), NS(epoch=2, batch_losses=[0.5, None, 0.3]))
    [(56, 0.5), (80, 0.3)]
    """
    per_epoch, per_record = training.steps_per_epoch, max(training.steps_per_record, 1)
    offset = (epoch.epoch - 1) * per_epoch
    return [(offset + min((j + 1) * per_record, per_epoch), loss)
            for j, loss in enumerate(epoch.batch_losses) if loss is not None]


def _scalar(tf, tag: str, value: float | None, step: int, description: str) -> None:
    if value is not None:  # a loss that was NaN or inf is None in the trace: no point rather than a fake one
        tf.summary.scalar(tag, float(value), step=step, description=description)


def _weights(tf, model, step: int) -> None:
    """One histogram per weight, named like Keras' callback names them (layer/weight/histogram)."""
    for layer in model.layers:
        for weight in layer.weights:
            name = f"{layer.name}/{weight.name.replace(':', '_')}/histogram"
            tf.summary.histogram(name, np.asarray(weight.numpy(), dtype=np.float32), step=step)


def _images(tf, trace) -> None:
    """The probed test image, and the stored samples, as uint8 images (full ink = white)."""
    names = (trace.dataset or {}).get("class_names") or []
    pixel_max = float((trace.dataset or {}).get("pixel_max") or 255)

    def label(n: int) -> str:
        return names[n] if 0 <= n < len(names) else str(n)

    prediction = trace.prediction
    if prediction is not None and prediction.image:
        tf.summary.image(
            "sample", _as_image_batch([prediction.image], pixel_max), step=0,
            description=(f"test image {prediction.sample}: label {label(prediction.label)}, predicted "
                         f"{label(prediction.predicted)} ({prediction.confidence:.1%})"),
        )
    samples = [s for s in (trace.samples or []) if s.image]
    shapes = {np.asarray(s.image).shape for s in samples}
    if samples and len(shapes) == 1:
        described = "; ".join(f"test image {s.sample}: label {label(s.label)}, predicted {label(s.predicted)}"
                              for s in samples)
        tf.summary.image("samples", _as_image_batch([s.image for s in samples], pixel_max), step=0,
                         max_outputs=len(samples), description=described)


def _as_image_batch(images: list, pixel_max: float) -> np.ndarray:
    """k x H x W x C uint8, scaled so that `pixel_max` is 255."""
    batch = np.asarray(images, dtype=np.float64)
    if batch.ndim == 3:
        batch = batch[..., np.newaxis]
    return np.clip(np.round(batch * (255.0 / pixel_max)), 0, 255).astype(np.uint8)


def _graph(tf, model) -> None:
    """The forward pass as a TensorFlow op graph (TensorBoard's Graphs tab), from a traced tf.function."""
    shape = _input_shape(model)
    if shape is None:
        return
    forward = tf.function(lambda x: model(x, training=False))
    concrete = forward.get_concrete_function(tf.TensorSpec([None, *shape[1:]], tf.float32, name="images"))
    tf.summary.graph(concrete.graph)


def _input_shape(model) -> tuple | None:
    """The model's single input shape (batch first), or None for models without one known."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):
        return tuple(shape[0]) if len(shape) == 1 else None
    return tuple(shape) if shape else None


def _keras_config(tf, model) -> None:
    """The Keras model as JSON under the graph plugin, as Keras' callback writes it: the "conceptual graph"."""
    if type(model).__name__ not in ("Sequential", "Functional"):
        return
    try:
        config = model.to_json()
    except (TypeError, ValueError, NotImplementedError):
        return  # a model Keras cannot serialize still gets its op graph
    metadata = tf.compat.v1.SummaryMetadata()
    metadata.plugin_data.plugin_name = "graph_keras_model"
    metadata.plugin_data.content = b"1"
    tf.summary.write(tag="keras", tensor=tf.constant(config, dtype=tf.string), step=0, metadata=metadata)
