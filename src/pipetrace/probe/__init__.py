"""The prediction probe: what the trained network does with test images, layer by layer."""

from pipetrace.probe.evaluation import evaluate, evaluation_from_probabilities, model_outputs, predict_all
from pipetrace.probe.prediction import trace_prediction, trace_predictions
from pipetrace.probe.samples import choose_samples

__all__ = ["choose_samples", "evaluate", "evaluation_from_probabilities", "model_outputs", "predict_all", "trace_prediction", "trace_predictions"]
