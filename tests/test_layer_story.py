"""What the prediction trace says of a layer, on numbers made to be awkward (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np

from pipetrace.probe.layer_story import _dense, describe_prediction


def test_huge_weighted_sums_are_written_in_scientific_form_and_only_firing_neurons_are_strongest():
    before = np.array([-3.9e8, 1.8e7, -1.0, -2.0], dtype=np.float32)
    out = np.maximum(before, 0)
    story = _dense(None, None, out, before, "relu")
    assert "-3.9e+08" in story.summary and "1.8e+07" in story.summary
    assert "390000000" not in story.summary.replace(",", "")
    strongest = story.summary.split("Strongest: ")[1]
    assert strongest == "#1 (1.8e+07)"  # the three neurons at 0 did not fire: none of them is 'strongest'
    assert "kept the 1 positive one (25%)" in story.summary


def test_a_confidence_just_below_one_is_not_called_100_percent():
    story = describe_prediction(3, 0.99996, 3, [str(c) for c in range(10)])
    assert "100.00%" not in story.summary and "> 99.99%" in story.summary
    exact = describe_prediction(3, 1.0, 3, [str(c) for c in range(10)])
    assert "100.00%" in exact.summary
