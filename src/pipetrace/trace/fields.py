"""The types of a trace's fields: bounded numbers and the shapes of its once free-form parts.

A trace can come from anyone (a classmate's file, a download), so every field has a type a
view can trust. Each alias below is a Python type with JSON Schema bounds attached
(`Annotated[int, Bounds(minimum=1)]`); `trace_schema()` reads them, Python sees plain int/float/str.
The TypedDicts give the parts that stay dicts (the dataset, each stage's `details`, a
layer's `config`, a prediction layer's `details`) named, typed keys; their readers keep
writing `trace.dataset["name"]`.

>>> from pipetrace.trace.schema import trace_schema
>>> trace_schema()["$defs"]["Epoch"]["properties"]["accuracy"]
{'type': ['number', 'null'], 'minimum': 0, 'maximum': 1}
"""

from __future__ import annotations

from typing import Annotated, TypedDict

class Bounds(dict):
    """JSON Schema keywords attached to a type: `Annotated[int, Bounds(minimum=1)]` (hashable, as typing needs)."""

    def __hash__(self) -> int:
        return hash(tuple(sorted((key, repr(value)) for key, value in self.items())))


# ---- bounds shared by every field --------------------------------------------------------
MAX_TRACE_BYTES = 64 * 1024 * 1024  # a trace.json larger than this is refused before it is parsed
MAX_ITEMS = 65_536  # the longest list a trace holds (a layer's values stop at 4096; 60000 / 1 batch losses)
MAX_TEXT = 4_000  # characters in one string (base64 weights excepted)
MAX_WHOLE = 2**53  # whole numbers stay exact in JavaScript (the report reads them too)
MAX_CLASSES = 1_000  # classes a trace may name
MAX_SIDE = 1_024  # height or width of an image kept in a trace (--image-size stops at 512)
MAX_CHANNELS = 4

# ---- numbers -----------------------------------------------------------------------------
Count = Annotated[int, Bounds(minimum=0, maximum=MAX_WHOLE)]  # sizes, indices, counts, seconds as steps
Fraction = Annotated[float, Bounds(minimum=0, maximum=1)]  # accuracies, probabilities, shares
Seconds = Annotated[float, Bounds(minimum=0, maximum=1e9)]
Pixel = Annotated[int, Bounds(minimum=0, maximum=65_535)]
Side = Annotated[int, Bounds(minimum=1, maximum=MAX_SIDE)]
Number = float  # any finite number (the reader refuses NaN and infinities)
Momentum = Annotated[float, Bounds(minimum=0, exclusiveMaximum=1)]  # SGD's share of the previous step kept (0: plain SGD)

# ---- lists ---------------------------------------------------------------------------------
Shape = Annotated[list[Annotated[int, Bounds(minimum=-1, maximum=MAX_WHOLE)]], Bounds(maxItems=8)]  # -1: unknown
Image = Annotated[
    list[Annotated[list[Pixel | Annotated[list[Pixel], Bounds(minItems=1, maxItems=MAX_CHANNELS)]], Bounds(minItems=1, maxItems=MAX_SIDE)]],
    Bounds(minItems=1, maxItems=MAX_SIDE),
]  # rows of grey values, or of [r, g, b] for colour
ClassNames = Annotated[list[str], Bounds(minItems=1, maxItems=MAX_CLASSES)]
Base64 = Annotated[str, Bounds(maxLength=48 * 1024 * 1024)]  # its alphabet and length: checked against the shape


# ---- the dataset ---------------------------------------------------------------------------
class DatasetInfo(TypedDict):
    """The data the run read: its name, where from, its classes and sizes."""

    name: str
    source: str
    class_names: ClassNames
    train_count: Count
    test_count: Count
    image_shape: Annotated[list[Side], Bounds(minItems=2, maxItems=3)]  # height, width (, channels)
    pixel_max: Annotated[float, Bounds(exclusiveMinimum=0, maximum=65_535)]
    split: str


# ---- each stage's details, by stage name -----------------------------------------------------
class SourceFileInfo(TypedDict):
    """One file the data came from, with the checksum it was verified against."""

    name: str
    sha256: str
    verified: bool


class LoadDetails(TypedDict):
    """Load: the files read, the sizes of both parts, and the image the run follows."""

    files: Annotated[list[SourceFileInfo], Bounds(maxItems=64)]
    file_names: str
    train_count: Count
    test_count: Count
    sample_position: Count
    sample_label: Count
    sample_image: Image
    pixel_max: Annotated[float, Bounds(exclusiveMinimum=0, maximum=65_535)]


class PixelExample(TypedDict):
    """One pixel of the followed image, before and after scaling."""

    row: Count
    col: Count
    before: Annotated[float, Bounds(minimum=0, maximum=65_535)]
    after: Number


class PreprocessingDetails(TypedDict):
    """Preprocessing: the scale and a few real pixels before and after it."""

    scale: Annotated[float, Bounds(exclusiveMinimum=0, maximum=65_535)]
    examples: Annotated[list[PixelExample], Bounds(minItems=1, maxItems=8)]


class ReshapeDetails(TypedDict):
    """Reshape: the image's sides and the pixel followed into the channel axis."""

    height: Side
    width: Side
    channels: Annotated[int, Bounds(minimum=1, maximum=MAX_CHANNELS)]
    row: Count
    col: Count
    value: Number
    shares_memory: bool


class FlattenDetails(ReshapeDetails):
    """Flatten: the same, and the index where the followed pixel landed in the row."""

    index: Count


class SplitDetails(TypedDict):
    """Train/Test split: how many of each class on each side, and how the split was made."""

    train_counts: Annotated[list[Count], Bounds(maxItems=MAX_CLASSES)]
    test_counts: Annotated[list[Count], Bounds(maxItems=MAX_CLASSES)]
    class_names: ClassNames
    how: str


class LayerParameters(TypedDict):
    """The parameter count of one learning layer."""

    layer: str
    weights: Count
    biases: Count
    params: Count


class TrainingDetails(TypedDict):
    """Model training: the parameters of each learning layer and how training ended."""

    parameters: Annotated[list[LayerParameters], Bounds(maxItems=1024)]
    total_params: Count
    status: str


STAGE_DETAILS = {  # stage name -> the details it records; a stage of any other name is not a trace's
    "Load": LoadDetails,
    "Preprocessing": PreprocessingDetails,
    "Flatten": FlattenDetails,
    "Reshape": ReshapeDetails,
    "Train/Test split": SplitDetails,
    "Model training": TrainingDetails,
}


# ---- a layer's configuration and its prediction-trace details ----------------------------------------
Sizes = Annotated[list[Annotated[int, Bounds(minimum=1, maximum=4096)]], Bounds(minItems=1, maxItems=3)]


class LayerConfig(TypedDict, total=False):
    """The settings of a layer that the views and `learn code` read (Keras' own names)."""

    units: Annotated[int, Bounds(minimum=1, maximum=1_000_000)]
    filters: Annotated[int, Bounds(minimum=1, maximum=1_000_000)]
    kernel_size: Sizes
    strides: Sizes
    padding: Annotated[str, Bounds(enum=["valid", "same", "causal"])]
    pool_size: Sizes
    rate: Annotated[float, Bounds(minimum=0, exclusiveMaximum=1)]
    target_shape: Annotated[list[Annotated[int, Bounds(minimum=-1, maximum=MAX_WHOLE)]], Bounds(maxItems=8)]
    scale: bool | Number | Annotated[list[Number], Bounds(maxItems=4096)]  # Rescaling's factor; BatchNormalization's on/off
    offset: bool | Number | Annotated[list[Number], Bounds(maxItems=4096)]
    epsilon: Annotated[float, Bounds(minimum=0, maximum=1e6)]
    momentum: Annotated[float, Bounds(minimum=0, maximum=1)]


Matrix = Annotated[list[Annotated[list[Number], Bounds(maxItems=MAX_SIDE)]], Bounds(maxItems=MAX_SIDE)]


class LayerDetails(TypedDict, total=False):
    """What one layer of the prediction trace measured; which keys a layer has depends on its kind.

    Input: min, max, mean, nonzero. Dense: units, fired, top (and pre_activation_min/max).
    Conv2D: filters, kernel, positive_share, strongest_filter, feature_maps, map_min, map_max (and
    filter_weights: each filter's weights when it reads one channel).
    Pooling: window. Flatten: unchanged. Dropout: rate, inactive. BatchNormalization: in_min,
    in_max. Rescaling: scale, offset. Output: sum, logits. Prediction: predicted, label,
    confidence, correct.
    """

    min: Number
    max: Number
    mean: Number
    nonzero: Count
    units: Annotated[int, Bounds(minimum=1, maximum=MAX_WHOLE)]
    fired: Count
    top: Annotated[list[Annotated[list[Number], Bounds(minItems=2, maxItems=2)]], Bounds(maxItems=64)]  # [unit, value]
    pre_activation_min: Number
    pre_activation_max: Number
    filters: Annotated[int, Bounds(minimum=1, maximum=MAX_WHOLE)]
    kernel: str
    positive_share: Fraction
    strongest_filter: Count
    feature_maps: Annotated[list[Matrix], Bounds(maxItems=64)]
    map_min: Number
    map_max: Number
    filter_weights: Annotated[list[Matrix], Bounds(maxItems=64)]  # filter f's kh x kw weights (one input channel)
    window: str
    unchanged: bool
    rate: Annotated[float, Bounds(minimum=0, exclusiveMaximum=1)]
    inactive: bool
    in_min: Number
    in_max: Number
    scale: Number
    offset: Number
    sum: Number
    logits: Annotated[list[Number], Bounds(maxItems=MAX_CLASSES)]
    predicted: Count
    label: Count | None
    confidence: Fraction
    correct: bool


LAYER_DETAILS_TOGETHER = {  # a key that a view reads implies the keys it reads beside it
    "fired": ["units", "top"],
    "feature_maps": ["filters", "map_min", "map_max"],
}


StageDetails = LoadDetails | PreprocessingDetails | FlattenDetails | ReshapeDetails | SplitDetails | TrainingDetails

Loss = Annotated[float, Bounds(minimum=0)]
Values = Annotated[list[Number], Bounds(maxItems=4096)]  # a layer's output, kept up to 4096 numbers
Options = Annotated[list[str], Bounds(minItems=2, maxItems=8)]
