"""A `TraceCallback`'s record made into a whole `Trace`: saved, loaded, rendered, `pipetrace show`n.

The callback saw the epochs of your `model.fit`, not the data before them: the trace has no
data stages (the views say they were not recorded), and its dataset's training count is the
examples fit trained on per epoch, as Keras' loss tracker counted them (0 where a `train_step` of
yours does not feed that tracker: not counted). The evaluation, the
prediction trace and the sample galleries are measured, as `pipetrace run` measures them, on the
test images you pass (the inputs as the model takes them): without them there is nothing to
measure, and `to_trace` says so in one line rather than inventing a test set.

>>> trace = recorder.to_trace(model, x_test, y_test, name="my digits")   # doctest: +SKIP
>>> trace.save("trace.json")                                             # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import math

import numpy as np

from pipetrace.errors import PipetraceError
from pipetrace.trace import Settings, Trace, Training

SOURCE = "your own model.fit, recorded by pipetrace.TraceCallback (its data stages were not seen)"


def trace_from_fit(training: Training | None, model, x_test, y_test, *, name: str = "your data",
                   class_names: list[str] | None = None, sample: int = 0, examples_per_epoch: int = 0) -> Trace:
    """The Trace of a fit `TraceCallback` recorded, with `model` measured on (x_test, y_test) as a run measures it."""
    from pipetrace.insights import key_insights
    from pipetrace.pipeline import _environment, _weights
    from pipetrace.probe import choose_samples, evaluation_from_probabilities, predict_all, trace_predictions
    from pipetrace.training.backend import import_keras
    from pipetrace.training.network import describe_network

    if training is None:
        raise PipetraceError("to_trace: this TraceCallback has recorded no fit yet (pass it to model.fit(callbacks=[...]) first)")
    if not training.epochs:
        raise PipetraceError("to_trace: the recorded fit trained no epoch (initial_epoch >= epochs?)")
    x_test, y_test, classes = _checked_test_data(model, x_test, y_test)
    image_shape = _image_shape(x_test)
    class_names = _class_names(class_names, classes)
    if not 0 <= sample < len(x_test):
        raise PipetraceError(f"to_trace: sample {sample} is not one of the {len(x_test)} test images (0 to {len(x_test) - 1})")
    keras = import_keras()
    settings = _settings(model, training, name, sample)
    images = grey_levels(x_test.reshape((len(x_test), *image_shape)))
    probabilities = predict_all(model, x_test)
    evaluation = evaluation_from_probabilities(probabilities, y_test, classes, images)
    chosen = choose_samples(probabilities, y_test, sample)
    samples = trace_predictions(model, x_test[chosen], [int(y_test[i]) for i in chosen], chosen, images[chosen], class_names)
    trace = Trace(
        settings=settings,
        dataset={"name": name, "source": SOURCE, "class_names": class_names, "train_count": int(examples_per_epoch),
                 "test_count": len(x_test), "image_shape": list(image_shape), "pixel_max": 255.0,
                 "split": "the test images passed to to_trace"},
        stages=[],
        network=describe_network(model, settings),
        training=training,
        evaluation=evaluation,
        prediction=samples[0],
        quiz=[],  # the quiz asks about the data stages, which were not seen
        insights=[],
        environment=_environment(keras),
        timings={"Model training": training.seconds},
        created_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        status=training.status,
        weights=_weights(model),
        samples=samples,
    )
    trace.insights = key_insights(trace)
    trace.model = model
    return trace


def _checked_test_data(model, x_test, y_test) -> tuple[np.ndarray, np.ndarray, int]:
    """(x, y, classes): test inputs as the model takes them, integer labels, and the model's output units."""
    if x_test is None or y_test is None:
        raise PipetraceError("to_trace needs the test images and labels (x_test, y_test): the evaluation and the "
                             "prediction trace are measured on them, and the callback did not see any")
    try:
        x = np.asarray(x_test, dtype=np.float32)
        y = np.asarray(y_test)
    except (TypeError, ValueError) as error:
        raise PipetraceError(f"to_trace: x_test and y_test must be arrays of numbers ({error})") from None
    outputs = getattr(model, "outputs", None)
    if not outputs or len(outputs) != 1 or len(outputs[0].shape) != 2:
        raise PipetraceError("to_trace traces a classifier with one output of class scores (batch, classes); "
                             "this model's outputs are not that")
    classes = int(outputs[0].shape[-1])
    if classes < 2:
        raise PipetraceError(f"to_trace traces a classifier of 2 classes or more; this model has {classes} output unit")
    if y.ndim == 2 and y.shape[1] == classes:  # one-hot labels (categorical_crossentropy)
        y = y.argmax(axis=1)
    if y.ndim != 1 or len(y) != len(x) or not len(x):
        raise PipetraceError(f"to_trace: x_test holds {len(x)} inputs and y_test has shape {tuple(y.shape)}; "
                             "give one class number per input")
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)) or y.min() < 0 or y.max() >= classes:
        raise PipetraceError(f"to_trace: y_test must hold class numbers 0 to {classes - 1} (the model has {classes} outputs)")
    return x, y.astype(np.int64), classes


def _image_shape(x: np.ndarray) -> tuple[int, ...]:
    """Height, width (, channels) to draw each test input as: its own, or a square for a flattened image."""
    shape = x.shape[1:]
    if len(shape) == 3 and shape[-1] == 1:
        return shape[:2]
    if len(shape) in (2, 3):
        return shape
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0] and shape[0] >= 4:
        side = math.isqrt(shape[0])
        return side, side
    raise PipetraceError(f"to_trace draws each test input as an image; inputs of shape {shape} are not one "
                         "(height x width, with or without channels, or a flattened square image)")


def grey_levels(inputs: np.ndarray) -> np.ndarray:
    """The inputs as pictures: their range (0 to 1 for inputs in it, else their own lowest to highest) as 0..255."""
    finite = inputs[np.isfinite(inputs)]
    low = min(float(finite.min()), 0.0) if finite.size else 0.0
    high = max(float(finite.max()), 1.0) if finite.size else 1.0
    scaled = np.nan_to_num((inputs - low) / (high - low), nan=0.0, posinf=1.0, neginf=0.0)
    return np.rint(np.clip(scaled, 0.0, 1.0) * 255).astype(np.int64)


def _class_names(names, classes: int) -> list[str]:
    if names is None:
        return [str(c) for c in range(classes)]
    names = [str(n) for n in names]
    if len(names) != classes:
        raise PipetraceError(f"to_trace: {len(names)} class names for a model with {classes} outputs")
    return names


def _settings(model, training: Training, name: str, sample: int) -> Settings:
    """What the fit was asked to do, as far as it can be read off the model and the record."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # mixed precision's LossScaleOptimizer
    rates = [e.learning_rate for e in training.epochs if e.learning_rate is not None]
    changed = len(set(rates)) > 1
    return Settings(
        epochs=max(training.epochs_planned, 1),
        batch_size=training.batch_size,
        hidden=[],  # your model's layers are in trace.network
        learning_rate=rates[0] if rates else 0.0,
        schedule="changed by epoch" if changed else "constant",
        optimizer=type(optimizer).__name__.lower() if optimizer is not None else "unknown",
        model=f"{getattr(model, 'name', 'model')} (your model.fit)",
        dataset=name,
        sample=sample,
        questions=0,
    )
