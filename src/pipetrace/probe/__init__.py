"""The prediction probe: what the trained network does with test images, layer by layer."""

from pipetrace.probe.evaluation import evaluate
from pipetrace.probe.prediction import trace_prediction

__all__ = ["evaluate", "trace_prediction"]
