"""A trace's parts must agree with each other: the checks the schema cannot express.

The schema says each field has the right type and range; these say the fields fit together,
so a view may index one by another: class names count the network's outputs, the confusion
matrix is square of that count, probabilities number the classes, images have the dataset's
shape and pixels in its range, indices fall inside the test set, epochs are numbered in
order, packed weights hold exactly the bytes their shape needs and chain layer to layer,
the stages come in the order the views read them, momentum belongs to SGD.

>>> check_consistency(Trace.load("runs/example/trace.json"))   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import math

from pipetrace.trace.model import GALLERY, Example, LayerTrace, PackedArray, Prediction, Trace

STAGE_ORDER = (("Load",), ("Preprocessing",), ("Flatten", "Reshape"), ("Train/Test split",), ("Model training",))
STATUSES = ("completed", "diverged", "interrupted", "stopped early")  # stopped early: a fit TraceCallback recorded
RUN_OUTPUTS = ("softmax", "logits")  # the heads `pipetrace run` trains (pipetrace.training.output_kind): classifiers


class Inconsistent(ValueError):
    """Two parts of a trace disagree; `field` names the one found wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_consistency(trace: Trace) -> None:
    """Raise Inconsistent naming the first field that disagrees with the rest of the trace."""
    dataset = trace.dataset
    classes = len(dataset["class_names"])
    shape = list(dataset["image_shape"])
    _require(len(shape) == 2 or shape[2] in (1, 3, 4), "dataset.image_shape", f"{shape} has {shape[-1]} channels (1, 3 or 4)")
    _require(dataset["test_count"] >= 1, "dataset.test_count", "a run has at least one test image")
    _require(dataset["train_count"] >= (1 if trace.stages else 0), "dataset.train_count",  # a recorded fit: 0, not counted
             "a run has at least one training image")
    _require(len(set(dataset["class_names"])) == classes, "dataset.class_names", "two classes have the same name")
    images = _ImageCheck(shape, dataset["pixel_max"])
    for field, status in (("status", trace.status), ("training.status", trace.training.status)):
        _require(status in STATUSES, field, f"{status!r} is not one of {', '.join(STATUSES)}")
    _require(trace.settings.sample < dataset["test_count"], "settings.sample",
             f"{trace.settings.sample} is outside the {dataset['test_count']} test images")
    _require(not trace.settings.momentum or trace.settings.optimizer == "sgd", "settings.momentum",
             f"{trace.settings.momentum:g} is for optimizer sgd, not {trace.settings.optimizer!r}")
    for field, output in (("network.output", trace.network.output), ("prediction.output", trace.prediction.output),
                          *((f"samples[{i}].output", p.output) for i, p in enumerate(trace.samples))):
        _require(output in RUN_OUTPUTS, field, f"{output!r} is not a classifier's output ({', '.join(RUN_OUTPUTS)})")
    _stages(trace, classes, images)
    _network(trace, classes)
    _training(trace)
    _evaluation(trace, classes, images)
    _prediction(trace.prediction, "prediction", trace, classes, images)
    for i, sample in enumerate(trace.samples):
        _prediction(sample, f"samples[{i}]", trace, classes, images)
    _weights(trace, classes)
    for i, question in enumerate(trace.quiz):
        _require(question.answer < len(question.options), f"quiz[{i}].answer",
                 f"{question.answer} is not the index of one of its {len(question.options)} options")


def _require(condition: bool, field: str, message: str) -> None:
    if not condition:
        raise Inconsistent(field, message)


class _ImageCheck:
    """An image of the dataset's shape, pixels within 0..pixel_max."""

    def __init__(self, shape: list[int], pixel_max: float) -> None:
        self.height, self.width = shape[0], shape[1]
        self.channels = shape[2] if len(shape) == 3 else None
        self.pixel_max = pixel_max

    def __call__(self, image: list, field: str) -> None:
        _require(len(image) == self.height, field, f"has {len(image)} rows; the dataset's images have {self.height}")
        for r, row in enumerate(image):  # row by row at C speed: max() of a row mixing numbers and lists fails
            where = f"{field}[{r}]"
            _require(len(row) == self.width, where, f"has {len(row)} pixels; the dataset's images are {self.width} wide")
            try:
                if self.channels is None:
                    top = max(row)
                    _require(not isinstance(top, list), where, "a grey image's pixel is one number")
                else:
                    _require(all(len(pixel) == self.channels for pixel in row), where,
                             f"a colour pixel has {self.channels} channel values")
                    top = max(map(max, row))
            except TypeError:
                raise Inconsistent(where, "mixes grey and colour pixels" if self.channels is None else
                                   f"a colour pixel has {self.channels} channel values") from None
            _require(top <= self.pixel_max, where, f"has a pixel of {top}, above the dataset's full-ink value {self.pixel_max:g}")


def _stages(trace: Trace, classes: int, images: _ImageCheck) -> None:
    stages = trace.stages
    if not stages:  # a fit recorded by TraceCallback (TraceCallback.to_trace): the data stages were not seen
        return
    names = [s.name for s in stages]
    _require(len(stages) == len(STAGE_ORDER) and all(n in allowed for n, allowed in zip(names, STAGE_ORDER)), "stages",
             f"{names} is not the data flow (Load, Preprocessing, Flatten or Reshape, Train/Test split, Model training)")
    for i, stage in enumerate(stages):
        _require(stage.number == i + 1, f"stages[{i}].number", f"{stage.number}: stage {i + 1} is numbered {i + 1}")
    load, scale, shaping, split = (s.details for s in stages[:4])
    tests = trace.dataset["test_count"]
    _require(load["sample_position"] < load["train_count"] + load["test_count"], "stages[0].details.sample_position",
             f"{load['sample_position']} is outside the {load['train_count'] + load['test_count']} images loaded")
    _require(load["sample_label"] < classes, "stages[0].details.sample_label", f"{load['sample_label']} is not one of the {classes} classes")
    images(load["sample_image"], "stages[0].details.sample_image")
    for j, example in enumerate(scale["examples"]):
        _inside(example["row"], example["col"], images, f"stages[1].details.examples[{j}]")
    _require([shaping["height"], shaping["width"]] == [images.height, images.width], "stages[2].details",
             f"{shaping['height']} x {shaping['width']} is not the dataset's {images.height} x {images.width} images")
    _require(shaping["channels"] == (images.channels or 1), "stages[2].details.channels",
             f"{shaping['channels']} is not the dataset's {images.channels or 1}")
    _inside(shaping["row"], shaping["col"], images, "stages[2].details")
    if "index" in shaping:
        expected = (shaping["width"] * shaping["row"] + shaping["col"]) * shaping["channels"]
        _require(shaping["index"] == expected, "stages[2].details.index", f"{shaping['index']} is not (width x row + col) x channels = {expected}")
    for key in ("train_counts", "test_counts"):
        _require(len(split[key]) == classes, f"stages[3].details.{key}", f"has {len(split[key])} counts for {classes} classes")
    _require(sum(split["test_counts"]) == tests, "stages[3].details.test_counts",
             f"adds up to {sum(split['test_counts'])}, not the {tests} test images")
    _require(split["class_names"] == trace.dataset["class_names"], "stages[3].details.class_names", "differ from dataset.class_names")


def _inside(row: int, col: int, images: _ImageCheck, field: str) -> None:
    _require(row < images.height and col < images.width, field,
             f"pixel ({row}, {col}) is outside the {images.height} x {images.width} image")


def _network(trace: Trace, classes: int) -> None:
    layers = trace.network.layers
    _require(len(layers) >= 1, "network.layers", "a network has at least one layer")
    _require(layers[-1].units == classes, f"network.layers[{len(layers) - 1}].units",
             f"the output layer has {layers[-1].units} units for {classes} classes")
    _require(not trace.network.momentum or trace.network.optimizer == "SGD", "network.momentum",
             f"{trace.network.momentum:g} is SGD's momentum; this network trained with {trace.network.optimizer!r}")


def _training(trace: Trace) -> None:
    training = trace.training
    _require(training.epochs_planned >= 1, "training.epochs_planned", "a run plans at least one epoch")
    recorded_fit = not trace.stages  # TraceCallback.to_trace: someone else's fit, its batch size may be unknown (0)
    for key in ("batch_size", "steps_per_epoch"):  # 0 only in a TraceCallback's record, never in a whole run's trace
        _require(getattr(training, key) >= (0 if recorded_fit else 1), f"training.{key}", "a run's trace has at least 1")
    _require(len(training.epochs) <= training.epochs_planned, "training.epochs",
             f"{len(training.epochs)} epochs recorded of {training.epochs_planned} planned")
    restored = training.restored_epoch
    _require(restored is None or restored <= len(training.epochs), "training.restored_epoch",
             f"{restored}: only {len(training.epochs)} epochs were recorded")
    _require(training.steps_per_record >= 1 or not any(e.batch_losses for e in training.epochs), "training.steps_per_record",
             "batch losses are recorded, so at least 1 batch goes into each")
    first = training.epochs[0].epoch if recorded_fit and training.epochs else 1  # fit(initial_epoch=2) starts at 3
    _require(first >= 1, "training.epochs[0].epoch", f"{first}: epochs are numbered from 1")
    for i, epoch in enumerate(training.epochs):
        _require(epoch.epoch == first + i, f"training.epochs[{i}].epoch",
                 f"{epoch.epoch}: epochs are numbered {first}, {first + 1}, {first + 2}, ... in order")
        most = training.steps_per_epoch if training.steps_per_record <= 1 else math.ceil(training.steps_per_epoch / training.steps_per_record)
        _require(len(epoch.batch_losses) <= max(most, 0) or not epoch.batch_losses, f"training.epochs[{i}].batch_losses",
                 f"{len(epoch.batch_losses)} entries for {training.steps_per_epoch} batches")


def _evaluation(trace: Trace, classes: int, images: _ImageCheck) -> None:
    ev, tests = trace.evaluation, trace.dataset["test_count"]
    _require(len(ev.confusion) == classes, "evaluation.confusion", f"has {len(ev.confusion)} rows for {classes} classes")
    for i, row in enumerate(ev.confusion):
        _require(len(row) == classes, f"evaluation.confusion[{i}]", f"has {len(row)} columns for {classes} classes")
    _require(sum(map(sum, ev.confusion)) == tests, "evaluation.confusion", f"counts {sum(map(sum, ev.confusion))} images, not the {tests} test images")
    _require(len(ev.per_class_accuracy) == classes, "evaluation.per_class_accuracy", f"has {len(ev.per_class_accuracy)} entries for {classes} classes")
    for i, index in enumerate(ev.misclassified):
        _require(index < tests, f"evaluation.misclassified[{i}]", f"{index} is outside the {tests} test images")
    for i, example in enumerate(ev.mistakes):
        _example(example, f"evaluation.mistakes[{i}]", tests, classes, images)
    _require(len(ev.gallery) <= GALLERY, "evaluation.gallery", f"holds {len(ev.gallery)} images, more than {GALLERY}")
    for i, example in enumerate(ev.gallery):
        _require(example.index == i, f"evaluation.gallery[{i}].index", f"{example.index}: the gallery is test images 0, 1, 2, ...")
        _example(example, f"evaluation.gallery[{i}]", tests, classes, images)


def _example(example: Example, field: str, tests: int, classes: int, images: _ImageCheck) -> None:
    _require(example.index < tests, f"{field}.index", f"{example.index} is outside the {tests} test images")
    for key in ("label", "predicted"):
        value = getattr(example, key)
        _require(value < classes, f"{field}.{key}", f"{value} is not one of the {classes} classes")
    images(example.image, f"{field}.image")


def _prediction(p: Prediction, field: str, trace: Trace, classes: int, images: _ImageCheck) -> None:
    tests = trace.dataset["test_count"]
    _require(p.sample < tests, f"{field}.sample", f"{p.sample} is outside the {tests} test images")
    for key in ("label", "predicted"):
        _require(getattr(p, key) < classes, f"{field}.{key}", f"{getattr(p, key)} is not one of the {classes} classes")
    images(p.image, f"{field}.image")
    layers = p.layers
    _require(len(layers) >= 3, f"{field}.layers", "a prediction runs Input, the network's layers and Prediction")
    _require(layers[-1].name == "Prediction", f"{field}.layers[{len(layers) - 1}].name", "the last layer is the Prediction")
    for i, layer in enumerate(layers):
        _layer(layer, f"{field}.layers[{i}]")
    output = layers[-2]
    where = f"{field}.layers[{len(layers) - 2}].values"
    _require(len(output.values) == classes, where, f"has {len(output.values)} probabilities for {classes} classes")
    _require(all(0 <= v <= 1 for v in output.values), where, "probabilities are between 0 and 1")
    _require(p.predicted == max(range(classes), key=output.values.__getitem__), f"{field}.predicted",
             f"{p.predicted} is not the class with the highest probability")
    logits = output.details.get("logits")
    if logits is not None:
        _require(len(logits) == classes, f"{where[:-7]}.details.logits", f"has {len(logits)} scores for {classes} classes")
    last = layers[-1].details
    for key in ("predicted", "label"):
        if last.get(key) is not None:
            _require(last[key] < classes, f"{field}.layers[{len(layers) - 1}].details.{key}", f"{last[key]} is not one of the {classes} classes")


def _layer(layer: LayerTrace, field: str) -> None:
    size = math.prod(layer.shape) if layer.shape and min(layer.shape) > 0 else None
    _require(not layer.values or len(layer.values) == size, f"{field}.values",
             f"has {len(layer.values)} values; its shape {layer.shape} holds {size}")
    details = layer.details
    if "fired" in details:
        units = details["units"]
        _require(details["fired"] <= units, f"{field}.details.fired", f"{details['fired']} of only {units} units")
        for j, (unit, _) in enumerate(details["top"]):
            _require(float(unit).is_integer() and 0 <= unit < units, f"{field}.details.top[{j}]",
                     f"{unit} is not one of the layer's {units} units")
    for j, grid in enumerate(details.get("feature_maps", [])):
        _require(len(grid) >= 1 and len({len(row) for row in grid}) == 1 and len(grid[0]) >= 1,
                 f"{field}.details.feature_maps[{j}]", "a feature map is a rectangle of numbers")
    filters = details.get("filter_weights", [])
    for j, grid in enumerate(filters):
        _require(len(grid) >= 1 and [len(row) for row in grid] == [len(filters[0][0])] * len(filters[0]),
                 f"{field}.details.filter_weights[{j}]", "the filters are rectangles of numbers of one shape")


def _weights(trace: Trace, classes: int) -> None:
    previous = None
    for i, layer in enumerate(trace.weights):
        kernel = _packed(layer.kernel, f"weights[{i}].kernel", dims=2)
        bias = _packed(layer.bias, f"weights[{i}].bias", dims=1)
        _require(bias == [kernel[1]], f"weights[{i}].bias.shape", f"{bias} does not match the kernel's {kernel[1]} units")
        if previous is not None:
            _require(kernel[0] == previous, f"weights[{i}].kernel.shape", f"takes {kernel[0]} inputs; the layer before gives {previous}")
        previous = kernel[1]
    if previous is not None:
        _require(previous == classes, f"weights[{len(trace.weights) - 1}].kernel.shape", f"gives {previous} outputs for {classes} classes")


def _packed(array: PackedArray, field: str, dims: int) -> list[int]:
    shape = array.shape
    _require(len(shape) == dims and min(shape) >= 1, f"{field}.shape", f"{shape} is not {dims}-dimensional with sizes of at least 1")
    try:
        size = len(base64.b64decode(array.data, validate=True))
    except (binascii.Error, ValueError):
        raise Inconsistent(f"{field}.data", "is not base64") from None
    _require(size == 4 * math.prod(shape), f"{field}.data", f"holds {size} bytes; shape {shape} of float32 needs {4 * math.prod(shape)}")
    return shape
