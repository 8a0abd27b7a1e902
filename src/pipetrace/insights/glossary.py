"""A short glossary: each term explained once, where a text first uses it.

One data module, rendered by every view (the terminal trace, `learn explain`, the report): a view
hands `first_uses` the texts it is about to show, in order, with the set of terms already
explained, and shows the entries it gets back beside those texts.

>>> seen = set()
>>> [entry.term for entry in first_uses(["The loss fell in epoch 1."], seen)]
['epoch', 'loss']
>>> first_uses(["Epoch 2: the loss fell again."], seen)
[]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One term and what it means, in a sentence a beginner can use."""

    term: str
    meaning: str
    pattern: str  # a regular expression that finds the term in a text (case-insensitive unless it has capitals)


GLOSSARY = [
    Entry("epoch", "one pass of training over every training image", r"\bepochs?\b"),
    Entry("batch", "a group of images whose average gradient makes one weight update", r"\bbatch(es)?\b"),
    Entry("loss", "how wrong the network's probabilities are: the mean of -ln(probability given to the true class); "
          "training lowers it", r"\bloss(es)?\b"),
    Entry("logit", "a raw output score of the last layer, before softmax turns the scores into probabilities",
          r"\blogits?\b"),
    Entry("softmax", "turns scores into probabilities that sum to 1: p_c = e^(z_c) / sum_k e^(z_k)", r"\bsoftmax\b"),
    Entry("ReLU", "the activation max(0, z): a negative weighted sum becomes 0", r"\bReLU\b"),
    Entry("tanh", "the activation tanh(z): squeezes a weighted sum into -1..1, keeping its sign", r"\btanh\b"),
    Entry("sigmoid", "the activation 1 / (1 + e^-z): squeezes a weighted sum into 0..1", r"\bsigmoid\b"),
    Entry("Adam", "an optimizer that divides each weight's running mean gradient by the gradient's running size",
          r"\bAdam\b"),
    Entry("SGD", "stochastic gradient descent: each batch moves every weight by the learning rate times its gradient",
          r"\bSGD\b"),
    Entry("momentum", "in SGD, the share of the previous step kept in each step: along a steady slope the steps build "
          "up speed, to 1 / (1 - momentum) times the plain step", r"\bmomentum\b"),
    Entry("RMSprop", "an optimizer that divides each gradient by its running size (root mean square)", r"\bRMSprop\b"),
    Entry("learning rate", "the size of each training step: how far a weight moves per unit of gradient",
          r"\blearning[ -]rates?\b"),
    Entry("over-fitting", "learning the training images themselves rather than the classes: training keeps improving "
          "while the test loss turns up", r"\bover-?fit(ting|s|ted)?\b|\bmemori[sz]"),
]


def _matches(entry: Entry, text: str) -> bool:
    flags = 0 if any(c.isupper() for c in entry.term) else re.IGNORECASE
    return re.search(entry.pattern, text, flags) is not None


def first_uses(texts: Iterable[str], seen: set[str]) -> list[Entry]:
    """The entries whose term appears in `texts` and is not in `seen` yet (added to `seen`), in glossary order."""
    joined = "\n".join(texts)
    found = [entry for entry in GLOSSARY if entry.term not in seen and _matches(entry, joined)]
    seen.update(entry.term for entry in found)
    return found


def line(entries: list[Entry]) -> str:
    """The entries as one plain line: 'epoch: one pass ...; loss: how wrong ...'."""
    return "; ".join(f"{entry.term}: {entry.meaning}" for entry in entries)
