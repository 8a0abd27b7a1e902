"""The trace model: one versioned, JSON-serializable record of everything a run measured.

Every view (terminal, HTML report, quiz, ...) renders a `Trace`; none recomputes it.
"""

from pipetrace.trace.model import (
    SCHEMA_VERSION,
    ArrayInfo,
    Epoch,
    Evaluation,
    Example,
    Insight,
    LayerHealth,
    LayerInfo,
    LayerTrace,
    LayerWeights,
    Network,
    PackedArray,
    Prediction,
    Question,
    Settings,
    Stage,
    Trace,
    Training,
)

__all__ = [
    "SCHEMA_VERSION",
    "ArrayInfo",
    "Epoch",
    "Evaluation",
    "Example",
    "Insight",
    "LayerHealth",
    "LayerInfo",
    "LayerTrace",
    "LayerWeights",
    "Network",
    "PackedArray",
    "Prediction",
    "Question",
    "Settings",
    "Stage",
    "Trace",
    "Training",
]
