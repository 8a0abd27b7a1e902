"""The Trace: plain dataclasses holding only JSON values, so `save` and `load` round-trip exactly.

A trace is built once, by the pipeline, from numbers measured in that run. Views read it;
nothing here imports TensorFlow, so a saved trace re-renders anywhere.

>>> t = Trace.load("runs/example/trace.json")          # doctest: +SKIP
>>> t.training.epochs[-1].test_accuracy               # doctest: +SKIP
0.9771
"""

from __future__ import annotations

import functools
import json
import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from pipetrace.trace.fields import (
    Base64, Count, DatasetInfo, Fraction, Image, LayerConfig, LayerDetails, Loss, Momentum, Number, Options, Seconds,
    Shape, StageDetails, Values,
)

SCHEMA_VERSION = 1
GALLERY = 100  # how many of the first test images Evaluation.gallery keeps at most
GALLERY_VALUES = GALLERY * 28 * 28 * 3  # and the pixel values it may hold in all (fewer images when they are large)


@dataclass
class Settings:
    """What the run was asked to do (the command-line options, validated)."""

    epochs: int = 5
    batch_size: int = 256
    hidden: list[int] = field(default_factory=lambda: [128])  # units of each hidden Dense layer
    learning_rate: float = 0.008
    schedule: str = "cosine"
    activation: str = "relu"
    dropout: float = 0.0  # a Dropout layer after each hidden layer when above 0
    optimizer: str = "adam"
    momentum: Momentum = 0.0  # SGD only: the share of the previous step kept in each step (older traces: 0.0)
    conv: bool = False  # a small convolutional network instead of the dense one
    model: str | None = None  # a .keras file to trace instead of the built-in network
    dataset: str = "mnist"  # mnist, digits, a .npz file or a folder of class folders
    image_size: list[int] = field(default_factory=lambda: [28, 28])  # for folders of images
    seed: int = 0
    sample: int = 0
    limit: int | None = None
    data_dir: str | None = None
    questions: int = 3
    validation: float = 0.0  # the last fraction of the training images held out (never trained on), to choose between runs


@dataclass
class ArrayInfo:
    """Shape, type and value range of one array as it left (or entered) a stage."""

    name: str
    shape: Shape
    dtype: str
    min: Number
    max: Number


@dataclass
class Stage:
    """One step of the data flow, with what it did, measured.

    `details` holds the stage's own structured numbers for the views (the sample image,
    label counts, parameter counts, ...); `example` is the same evidence in one line.
    """

    number: int
    name: str
    did: str
    inputs: list[ArrayInfo]
    outputs: list[ArrayInfo]
    example: str
    seconds: Seconds
    details: StageDetails = field(default_factory=dict)  # typed by stage name: see trace.fields.STAGE_DETAILS

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import stage_repr  # one line: never the sample image and counts it keeps

        return stage_repr(self)


@dataclass
class LayerInfo:
    """One layer of the network and how many numbers it learns.

    `weights` counts kernel entries, `biases` bias entries, `other` everything else a
    layer keeps (BatchNormalization's scale, offset and moving statistics).
    """

    name: str
    kind: str
    units: int  # the size of the last output axis (units, filters, ...)
    activation: str
    input_size: int  # how many numbers flow in, per example
    weights: int
    biases: int
    other: int = 0
    label: str = ""  # Dense(128, relu), Conv2D(16, 3x3, relu), Dropout(0.2), ...
    input_shape: Shape = field(default_factory=list)
    output_shape: Shape = field(default_factory=list)
    config: LayerConfig = field(default_factory=dict)

    @property
    def params(self) -> int:
        return self.weights + self.biases + self.other

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import layer_info_repr  # one line: never the Keras config

        return layer_info_repr(self)


@dataclass
class Network:
    """The model that was trained: its layers, optimizer and loss."""

    layers: list[LayerInfo]
    optimizer: str
    learning_rate: float
    schedule: str
    loss: str
    momentum: Momentum = 0.0  # read off the optimizer that trained (SGD's; 0.0 for the others and in older traces)
    # What the model's output is (pipetrace.training.output_kind): "softmax" (probabilities) or "logits" for the
    # networks `pipetrace run` trains; views ask this, never the last layer's activation. Older traces: "softmax".
    output: str = "softmax"

    @property
    def optimizer_label(self) -> str:
        """The optimizer as the texts name it: 'Adam', 'SGD', 'SGD with momentum 0.9'."""
        return f"{self.optimizer} with momentum {self.momentum:g}" if self.momentum else self.optimizer

    @property
    def total_params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def architecture(self) -> str:
        """Input(784) -> Dense(128, relu) -> Dense(10, softmax)."""
        if not self.layers:
            return ""
        first = self.layers[0]
        shape = " x ".join(map(str, first.input_shape)) if first.input_shape else str(first.input_size)
        parts = [f"Input({shape})"]
        parts += [layer.label or f"{layer.kind}({layer.units}, {layer.activation})" for layer in self.layers]
        return " -> ".join(parts)

    @property
    def dense_layers(self) -> list[LayerInfo]:
        return [layer for layer in self.layers if layer.kind == "Dense"]

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import network_repr  # one line: the architecture and its size

        return network_repr(self)


@dataclass
class LayerHealth:
    """One Dense or Conv2D layer after an epoch, measured on the measured training images.

    `dead`: units (filters) whose output was never above 0 on any of those images (ReLU only, else None);
    `saturated`: the share of sigmoid/tanh outputs within 0.01 of their limits (None for other activations);
    `gradient`: the root mean square of the loss's gradient over the layer's kernel (None when not measured).
    """

    layer: str
    units: Count
    activation: str = ""  # the layer's activation as Keras names it ("relu", "sigmoid", ...)
    dead: Count | None = None
    saturated: Fraction | None = None
    gradient: Loss | None = None


@dataclass
class Epoch:
    """One epoch of training. Losses are None when they were not finite numbers (NaN or inf)."""

    epoch: int
    loss: Loss | None
    accuracy: Fraction | None  # None when the model reported no accuracy
    test_loss: Loss | None  # the test-set numbers are None when fit had no validation data
    test_accuracy: Fraction | None
    seconds: Seconds
    observation: str
    batch_losses: list[Loss | None] = field(default_factory=list)
    # The running mean during the epoch's pass (dropout on, weights changing batch to batch). Since
    # Training.train_measured_on > 0, `loss`/`accuracy` above are measured after the epoch in inference
    # mode, like the test numbers; the running mean is never to be compared with test accuracy.
    running_loss: float | None = None
    running_accuracy: float | None = None
    test_loss_noise: float | None = None  # standard error of test_loss over the test images (its measuring noise)
    # The learning rate the optimizer applied in the epoch's last step (a schedule or a callback may change it
    # epoch by epoch); None when not recorded (older traces).
    learning_rate: float | None = None
    # Cheap health checks after the epoch, on the measured training images (Training.train_measured_on): one
    # entry per Dense/Conv2D layer; empty when not measured (older traces, TraceCallback, a model it cannot read).
    layers: list[LayerHealth] = field(default_factory=list)

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import epoch_repr  # one line: never the per-batch losses

        return epoch_repr(self)


@dataclass
class Training:
    """The training trace: every finished epoch, and how training ended."""

    epochs_planned: int
    batch_size: int  # 0 when not known (a TraceCallback inside someone else's fit)
    steps_per_epoch: int
    steps_per_record: int  # batches averaged into each entry of Epoch.batch_losses
    epochs: list[Epoch]
    status: str  # "completed", "diverged" or "interrupted"
    seconds: Seconds
    start: Epoch | None = None  # epoch 0: the untrained network on both sets (None in older traces)
    # Training images measured in inference mode after each epoch (Epoch.loss/accuracy); 0: those are
    # the running mean during the epoch (older traces, TraceCallback) and not comparable with test.
    train_measured_on: int = 0
    restored_epoch: int | None = None  # after a NaN loss: the epoch whose weights were put back (0: untrained)
    # The most common training label and its share of the training images: always answering it is the
    # baseline to beat when it is above 1 / classes (None in older traces and where the labels were not seen).
    majority_class: int | None = None
    majority_share: Fraction | None = None

    def __rich__(self):
        from pipetrace.views.terminal import render_training

        return render_training(self)

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import training_repr  # one line; the table is __rich__ / _repr_html_

        return training_repr(self)

    def _repr_html_(self) -> str:
        """A notebook shows the same table as `rich.print` in a terminal."""
        from pipetrace.views.rich_html import as_html

        return as_html(self)


@dataclass
class Example:
    """One test image and what the trained network said about it (for galleries)."""

    index: int  # position in the test set
    label: int
    predicted: int
    confidence: Fraction  # the probability the network gave to `predicted`
    image: Image  # the raw pixels: grey values, or [r, g, b] for colour

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import example_repr  # one line: never the image

        return example_repr(self)


@dataclass
class Evaluation:
    """The trained model on the whole test set: overall, per class, and what it confused."""

    test_loss: Loss | None
    test_accuracy: Fraction
    confusion: list[list[Count]]  # confusion[true][predicted]
    per_class_accuracy: list[Fraction]
    misclassified: list[int]  # test indices, a few, for views to show
    mistakes: list[Example] = field(default_factory=list)  # the images behind `misclassified`
    # The first GALLERY test images, right or wrong, with what the network said: the same
    # images in every run on the same data, so runs compare image for image. Empty in older traces.
    gallery: list[Example] = field(default_factory=list)
    validation_loss: float | None = None  # on the held-out training images (Settings.validation); None when none
    validation_accuracy: float | None = None
    validation_count: int = 0  # how many training images were held out
    predicted_counts: list[Count] = field(default_factory=list)  # test images given each class (empty in older traces)

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import evaluation_repr  # one line: never the confusion matrix and images

        return evaluation_repr(self)


@dataclass
class PackedArray:
    """A float32 array kept compact in JSON: base64 of its little-endian bytes, plus its shape.

    101,770 weights take 530 KB this way instead of about 2 MB as JSON numbers, and the
    values are exactly the float32 numbers Keras computed with (no decimal rounding).
    """

    shape: Shape
    data: Base64  # base64 of the little-endian float32 bytes, row-major

    @classmethod
    def pack(cls, array) -> PackedArray:
        import base64

        import numpy as np

        values = np.ascontiguousarray(array, dtype="<f4")
        return cls([int(n) for n in values.shape], base64.b64encode(values.tobytes()).decode("ascii"))

    def unpack(self):
        """The numpy float32 array (numpy only; no TensorFlow)."""
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(self.data), dtype="<f4").reshape(self.shape)

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import packed_array_repr  # shape and size: never the base64

        return packed_array_repr(self)


@dataclass
class LayerWeights:
    """The learned numbers of one Dense layer, so a view can run the network without Keras."""

    name: str
    activation: str  # "relu", "softmax", ...
    kernel: PackedArray  # inputs x units
    bias: PackedArray  # units


@dataclass
class LayerTrace:
    """One layer of the prediction trace: what came out of it for the sample image."""

    name: str
    shape: Shape
    summary: str
    values: Values  # the layer's output (empty when it holds more than 4096 numbers)
    details: LayerDetails = field(default_factory=dict)
    kind: str = ""  # Input, Dense, Conv2D, ..., Prediction
    layer: str = ""  # the Keras layer's name

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import layer_trace_repr  # one line: never the layer's values

        return layer_trace_repr(self)


@dataclass
class Prediction:
    """One test image followed through every layer of the network."""

    sample: int
    label: int
    image: Image  # rows of grey values, or of [r, g, b] for colour
    layers: list[LayerTrace]
    predicted: int
    confidence: Fraction
    # What the model's output is (pipetrace.training.output_kind): "softmax"/"logits" (predicted = the most probable
    # class), "sigmoid"/"sigmoid logits" (1 unit: predicted = 1 when the probability of class 1 is at least 0.5;
    # several: the most probable label), "value" (regression: predicted and confidence are 0, the value and its
    # error are in layers[-1].details). Older traces: "softmax".
    output: str = "softmax"

    @property
    def correct(self) -> bool:
        return self.predicted == self.label

    def __rich__(self):
        from pipetrace.views.terminal import render_prediction

        return render_prediction(self, [str(c) for c in range(len(self.output_layer.values))])

    def __repr__(self) -> str:
        from pipetrace.trace.reprs import prediction_repr  # one line; the table is __rich__ / _repr_html_

        return prediction_repr(self)

    def _repr_html_(self) -> str:
        """A notebook shows the same table as `rich.print` in a terminal."""
        from pipetrace.views.rich_html import as_html

        return as_html(self)

    @property
    def output_layer(self) -> LayerTrace:
        """The last layer of the network: its values are the probabilities."""
        return self.layers[-2]

    @property
    def first_hidden(self) -> LayerTrace | None:
        """The first hidden Dense layer (the one whose neurons 'fire'), if the network has one."""
        return next((layer for layer in self.layers[1:-2] if "fired" in layer.details), None)


@dataclass
class Question:
    """A multiple-choice question whose answer key comes from the run (or the stages it ran)."""

    text: str
    options: Options
    answer: int
    explanation: str
    kind: str  # "measured" (a number from this run) or "concept"
    level: str = "easy"


@dataclass
class Insight:
    """A sentence this run showed, with the figures it rests on."""

    text: str
    figures: dict[str, float]


@dataclass
class Trace:
    """Everything one `pipetrace run` measured, in the order it happened."""

    settings: Settings
    dataset: DatasetInfo  # a dict with typed keys: trace.dataset["class_names"]
    stages: list[Stage]
    network: Network
    training: Training
    evaluation: Evaluation
    prediction: Prediction
    quiz: list[Question]
    insights: list[Insight]
    environment: dict[str, str]
    timings: dict[str, Seconds]
    created_at: str
    status: str = "completed"
    schema_version: int = SCHEMA_VERSION
    # Added for the HTML report; empty in traces written before it.
    weights: list[LayerWeights] = field(default_factory=list)  # the trained layers, in order
    samples: list[Prediction] = field(default_factory=list)  # test images traced layer by layer, right and wrong
    # Not a field: the trained Keras model of a run made in this process (as keras' History.model),
    # never saved, pickled or compared; None for a trace read from a file.
    model: typing.ClassVar[Any] = None

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if key != "model"}

    # ---- JSON round trip -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The trace as dicts, lists and plain values (what `dataclasses.asdict` gives, without its deep copy of
        every list: 0.3 to 0.6 s for a default trace here, most of the time it took to save one)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trace:
        """A Trace from parsed JSON, checked as a trace file is (TraceFileError names the first bad field)."""
        from pipetrace.trace.reading import trace_from_data

        return trace_from_data(data)

    def to_json(self) -> str:
        """One top-level field a line, each value compact: readable by section (`jq` for more), and written by
        json's C encoder (indented JSON goes through its Python one: 0.3 s and twice the bytes for a default run,
        whose images and values are mostly numbers)."""
        data = self.to_dict()
        fields = (f" {json.dumps(key)}: {json.dumps(value, allow_nan=False, separators=(',', ':'))}"
                  for key, value in data.items())
        return "{\n" + ",\n".join(fields) + "\n}\n"

    def save(self, path: str | Path) -> Path:
        """Write the trace as JSON, atomically (a temporary file renamed into place)."""
        path = Path(path)
        write_atomic(path, self.to_json().encode())
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        from pipetrace.trace.reading import read_trace  # validation lives beside the schema

        return read_trace(path)

    # ---- shown in notebooks and by rich ------------------------------------------------
    def __repr__(self) -> str:
        """Trace(mnist, Input(784) -> Dense(128, relu) -> Dense(10, softmax), 5 epochs, test accuracy 98.1%)."""
        from pipetrace.trace.reprs import trace_repr

        return trace_repr(self)

    def __rich_console__(self, console, options):
        from pipetrace.views.terminal import render_trace

        yield from render_trace(self)

    def _repr_html_(self) -> str:
        """Jupyter and Colab draw the HTML report inline (in an iframe, so its styles stay its own)."""
        from pipetrace.views.html import notebook_html

        return notebook_html(self)

    def save_html(self, path: str | Path) -> Path:
        """Write the HTML report (one self-contained page, works offline) to `path`; returns the path."""
        from pipetrace.views.html import write_report

        return write_report(self, path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a crash never leaves a half-written file behind (see pipetrace.files)."""
    from pipetrace.files import write_atomic as write_safely

    write_safely(path, data)


@functools.cache
def _needs_building(kind: Any) -> bool:
    """Whether values of this type need more than taking the JSON as it is: dataclasses, or whole numbers
    (JSON may write 7 as 7.0, and a view indexing a list with 7.0 would fail)."""
    if is_dataclass(kind) or kind is int:
        return True
    return any(_needs_building(arg) for arg in typing.get_args(kind))


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    """A dataclass's field types, evaluated once (a trace builds thousands of instances of a few classes)."""
    return typing.get_type_hints(kind)


def _build(kind: Any, value: Any) -> Any:
    """Rebuild typed dataclasses from plain JSON values, following the type hints."""
    if is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{f.name: _build(hints[f.name], value[f.name]) for f in fields(kind) if f.name in value})
    if kind is int:
        return int(value) if isinstance(value, float) else value
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        if not _needs_building(item):
            return value  # plain JSON values (numbers, strings, nested lists) are already what we want
        return [v if type(v) is int else _build(item, v) for v in value]
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        lists = [a for a in options if typing.get_origin(a) is list]
        return _build(lists[0] if isinstance(value, list) and lists else options[0], value)
    return value


_SCALARS = (int, float, str, bool, type(None))


def _plain(value):
    """Dataclasses as dicts of their fields, lists and tuples as lists, recursively; numbers and text as they are."""
    if isinstance(value, (list, tuple)):
        if all(type(item) in _SCALARS for item in value):  # rows of pixels, values: copied in one step
            return list(value)
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value
