"""The five stages of the data flow. Each one does its work and returns a measured `Stage`.

Load -> Preprocessing -> Flatten (or Reshape, for a CNN) -> Train/Test split -> Model training
"""

from pipetrace.stages.flatten import flatten
from pipetrace.stages.shape_for_model import shape_for_model
from pipetrace.stages.load import load
from pipetrace.stages.preprocess import preprocess
from pipetrace.stages.split import split
from pipetrace.stages.train import training_stage

__all__ = ["flatten", "load", "preprocess", "shape_for_model", "split", "training_stage"]
