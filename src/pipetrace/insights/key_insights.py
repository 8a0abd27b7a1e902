"""Key insights: a few sentences this run showed, each tied to the numbers it rests on.

Every insight is a rule over the Trace; the figures it quotes are kept beside the text.

>>> [i.text for i in key_insights(trace)][0]      # doctest: +SKIP
'Training cut the loss from 0.262 to 0.047 in 5 epochs; test accuracy reached 97.9% (chance: 10.0%)'
"""

from __future__ import annotations

from pipetrace.trace import Insight, Trace

GAP_POINTS = 2.0  # a train/test accuracy gap above this many points counts as memorizing


def key_insights(trace: Trace) -> list[Insight]:
    rules = [_stopped, _learning, _generalization, _parameters, _sample, _hardest]
    return [insight for rule in rules if (insight := rule(trace)) is not None]


def _stopped(trace: Trace) -> Insight | None:
    t = trace.training
    if t.status == "diverged":
        return Insight(
            f"Training diverged in epoch {len(t.epochs)} of {t.epochs_planned}: with learning rate "
            f"{trace.settings.learning_rate:g} the loss stopped being a number; a smaller rate keeps the steps stable",
            {"epoch": len(t.epochs), "learning_rate": trace.settings.learning_rate},
        )
    if t.status == "interrupted":
        return Insight(
            f"Training was interrupted after {len(t.epochs)} of {t.epochs_planned} epochs; the figures below are from the epochs that finished",
            {"epochs_finished": len(t.epochs), "epochs_planned": t.epochs_planned},
        )
    return None


def _learning(trace: Trace) -> Insight | None:
    finite = [e for e in trace.training.epochs if e.loss is not None]
    if not finite:
        return None
    first, last = finite[0], finite[-1]
    chance = 1 / len(trace.dataset["class_names"])
    return Insight(
        f"Training cut the loss from {first.loss:.3f} after epoch 1 to {last.loss:.3f} after epoch {last.epoch}; "
        f"test accuracy reached {last.test_accuracy:.1%}, against {chance:.1%} for guessing",
        {"first_loss": first.loss, "last_loss": last.loss, "test_accuracy": last.test_accuracy, "chance": chance},
    )


def _generalization(trace: Trace) -> Insight | None:
    if not trace.training.epochs:
        return None
    last = trace.training.epochs[-1]
    gap = 100 * (last.accuracy - last.test_accuracy)
    if gap > GAP_POINTS:
        verdict = "it is starting to memorize its training images; more data or dropout would help"
    elif gap < 0:
        verdict = "test accuracy is even higher, so the network has not begun to memorize"
    else:
        verdict = "what it learned carries over to digits it never saw"
    return Insight(
        f"Training accuracy {last.accuracy:.1%} against test accuracy {last.test_accuracy:.1%}, "
        f"a gap of {gap:.1f} points: {verdict}",
        {"train_accuracy": last.accuracy, "test_accuracy": last.test_accuracy, "gap_points": gap},
    )


def _parameters(trace: Trace) -> Insight | None:
    total = trace.network.total_params
    if not total:
        return None
    biggest = max(trace.network.layers, key=lambda layer: layer.weights)
    share = biggest.weights / total
    if biggest is trace.network.layers[0] and biggest.kind == "Dense":
        meaning = (f"the {biggest.input_size} x {biggest.units} weights of the first Dense layer: most of what the "
                   f"network learns is how much each input value matters to each hidden neuron")
    else:
        meaning = f"the weights of {biggest.label or biggest.kind} ('{biggest.name}'), the layer with the most connections"
    return Insight(
        f"{share:.1%} of the {total:,} parameters are {meaning}",
        {"largest_layer_weights": biggest.weights, "total_params": total, "share": share},
    )


def _sample(trace: Trace) -> Insight:
    p = trace.prediction
    names = trace.dataset["class_names"]
    outcome = "right" if p.correct else f"wrong: it is a '{names[p.label]}'"
    hidden = p.first_hidden
    if hidden is None:
        return Insight(
            f"For test image {p.sample}, softmax gave '{names[p.predicted]}' {p.confidence:.1%}: {outcome}",
            {"confidence": p.confidence},
        )
    fired, units = hidden.details["fired"], hidden.details["units"]
    return Insight(
        f"For test image {p.sample}, {fired} of {units} neurons of the first hidden layer fired (output above 0) "
        f"and softmax gave '{names[p.predicted]}' {p.confidence:.1%}: {outcome}",
        {"fired": fired, "units": units, "confidence": p.confidence},
    )


def _hardest(trace: Trace) -> Insight | None:
    ev = trace.evaluation
    names = trace.dataset["class_names"]
    accuracy = ev.per_class_accuracy
    hardest = min(range(len(accuracy)), key=lambda c: accuracy[c])
    easiest = max(range(len(accuracy)), key=lambda c: accuracy[c])
    row = list(ev.confusion[hardest])
    row[hardest] = -1
    confused_with = max(range(len(row)), key=lambda c: row[c])
    if row[confused_with] <= 0:
        return None
    return Insight(
        f"'{names[hardest]}' was the hardest class ({accuracy[hardest]:.1%} right), most often mistaken for "
        f"'{names[confused_with]}' ({row[confused_with]} times); '{names[easiest]}' was the easiest ({accuracy[easiest]:.1%})",
        {"hardest": hardest, "hardest_accuracy": accuracy[hardest], "confused_with": confused_with,
         "confusions": row[confused_with], "easiest": easiest, "easiest_accuracy": accuracy[easiest]},
    )
