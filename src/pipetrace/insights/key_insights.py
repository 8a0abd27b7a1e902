"""Key insights: a few sentences this run showed, each tied to the numbers it rests on.

Every insight is a rule over the Trace; the figures it quotes are kept beside the text.

>>> [i.text for i in key_insights(trace)][0]      # doctest: +SKIP
'Training cut the loss from 2.361 at the untrained start to 0.047 after epoch 5; test accuracy reached 97.9%, against 10.0% for guessing'
"""

from __future__ import annotations

from pipetrace.numbers import number, percent, points, rate
from pipetrace.trace import Insight, Trace
from pipetrace.training.observations import (
    BARELY_MOVED, RISE, above_chance, chance, clearly_learned, gap_noise, rate_advice, rose_beyond_noise, typical_rates,
)

NOISE_SIGMAS = 2.0  # a train/test gap beyond this many standard errors is more than measurement noise


def key_insights(trace: Trace) -> list[Insight]:
    rules = [_stopped, _learning, _generalization, _test_loss_turned_up, _parameters, _sample, _hardest]
    return [insight for rule in rules if (insight := rule(trace)) is not None]


def learned(trace: Trace) -> bool:
    """The bar for any praise: the final network's test accuracy clearly above chance, its weights trained."""
    if trace.training.restored_epoch == 0:
        return False
    return clearly_learned(trace.evaluation.test_accuracy, len(trace.dataset["class_names"]), _test_count(trace))


def _test_count(trace: Trace) -> int:
    return int(trace.dataset.get("test_count") or sum(sum(row) for row in trace.evaluation.confusion))


def _optimizer(trace: Trace) -> str:
    return trace.network.optimizer.lower()


def _stopped(trace: Trace) -> Insight | None:
    t = trace.training
    if t.status == "diverged":
        lr = trace.settings.learning_rate
        advice = (rate_advice(_optimizer(trace), lr, "lower", trace.network.momentum)
                  or "a smaller learning rate keeps the steps stable")
        if t.restored_epoch == 0:
            kept = ("the untrained starting weights were put back, so the prediction trace, the test results and "
                    "model.keras show an untrained network whose answers are guesses")
        elif t.restored_epoch is not None:
            kept = (f"the weights from the end of epoch {t.restored_epoch} were put back; the prediction trace, the "
                    "test results and model.keras show that network")
        else:
            kept = "the figures below are from the epochs before it"
        return Insight(
            f"Training diverged in epoch {len(t.epochs)} of {t.epochs_planned}: with learning rate {rate(lr)} the "
            f"loss became NaN (not a number); {kept}; {advice}",
            {"epoch": len(t.epochs), "learning_rate": lr,
             "restored_epoch": -1 if t.restored_epoch is None else t.restored_epoch},
        )
    if t.status == "stopped early":  # a fit TraceCallback recorded: a callback (EarlyStopping, ...) ended it
        return Insight(
            f"Training stopped early, after {len(t.epochs)} of the {t.epochs_planned} planned epochs (the last, epoch "
            f"{t.epochs[-1].epoch}): a callback "
            "of the fit (such as EarlyStopping) ended it; the figures below are from the epochs that finished",
            {"epochs_finished": len(t.epochs), "epochs_planned": t.epochs_planned},
        )
    if t.status == "interrupted":
        return Insight(
            f"Training was interrupted after {len(t.epochs)} of {t.epochs_planned} epochs; the figures below are from the epochs that finished",
            {"epochs_finished": len(t.epochs), "epochs_planned": t.epochs_planned},
        )
    return None


def _learning(trace: Trace) -> Insight | None:
    """From the untrained start to the last finished epoch: learned, barely moved, or got worse."""
    t = trace.training
    finite = [e for e in t.epochs if e.loss is not None]
    if not finite or t.train_measured_on == 0 and t.start is None:
        return None
    classes = len(trace.dataset["class_names"])
    first = t.start if t.start is not None and t.start.loss is not None else finite[0]
    last = finite[-1]
    if last is first:
        return None
    test_accuracy = trace.evaluation.test_accuracy
    lr, optimizer, momentum = trace.settings.learning_rate, _optimizer(trace), trace.network.momentum
    where = "the untrained start" if first.epoch == 0 else f"epoch {first.epoch}"
    figures = {"first_loss": first.loss, "last_loss": last.loss, "test_accuracy": test_accuracy,
               "chance": chance(classes), "learning_rate": lr}
    if last.loss > first.loss * (1 + RISE):
        advice = rate_advice(optimizer, lr, "lower", momentum)
        return Insight(
            f"The training loss rose from {number(first.loss)} at {where} to {number(last.loss)} after epoch "
            f"{last.epoch}: learning rate {rate(lr)} is too high, the steps overshoot" + (f"; {advice}" if advice else ""),
            figures,
        )
    if first.epoch == 0 and first.loss > 0.5 * _ln(classes) and abs(last.loss / first.loss - 1) < BARELY_MOVED:
        text = (f"The loss barely moved from the untrained start ({number(first.loss)} -> {number(last.loss)} after "
                f"epoch {last.epoch}) and test accuracy is {percent(test_accuracy)} against {percent(chance(classes))} "
                f"for guessing")
        typical = typical_rates(optimizer, momentum)
        if typical is not None and lr < typical[0]:
            text += f": learning rate {rate(lr)} is too low, each step is tiny; " + rate_advice(optimizer, lr, "higher", momentum)
        return Insight(text, figures)
    if not above_chance(test_accuracy, classes, _test_count(trace)):
        return Insight(
            f"The loss fell from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}, but "
            f"test accuracy {percent(test_accuracy)} is not above chance ({percent(chance(classes))}) beyond the noise "
            f"of {_test_count(trace):,} test images: the network has not learned to tell the classes apart",
            figures,
        )
    if not learned(trace):
        return Insight(
            f"The loss fell from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}; test "
            f"accuracy {percent(test_accuracy)} is above the {percent(chance(classes))} of guessing, but "
            f"{percent(1 - test_accuracy)} of the test images are still wrong",
            figures,
        )
    return Insight(
        f"Training cut the loss from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}; "
        f"test accuracy reached {percent(test_accuracy)}, against {percent(chance(classes))} for guessing",
        figures,
    )


def _ln(classes: int) -> float:
    import math

    return math.log(classes)


def _generalization(trace: Trace) -> Insight | None:
    """Train against test accuracy, both measured after training in inference mode, against their noise."""
    t = trace.training
    if not t.epochs or t.train_measured_on == 0 or t.status == "diverged" or not learned(trace):
        return None  # a running mean is not comparable with test accuracy; a network at chance has no gap to judge
    last = t.epochs[-1]
    if last.accuracy is None or last.test_accuracy is None:
        return None
    n_test = _test_count(trace)
    gap = last.accuracy - last.test_accuracy
    noise = NOISE_SIGMAS * gap_noise(last.accuracy, t.train_measured_on, last.test_accuracy, n_test)
    measured = (f"Training accuracy {percent(last.accuracy)} ({t.train_measured_on:,} training images) against test "
                f"accuracy {percent(last.test_accuracy)} ({n_test:,} test images), both measured the same way after epoch "
                f"{last.epoch} (weights fixed, dropout off if any): a gap of {points(gap)}")
    if abs(gap) <= noise:
        verdict = (f"within the measuring noise (about {points(noise)} either way), so there is no sign of "
                   "memorizing: what it learned carries over to images it never saw")
    elif gap > 0 and _test_loss_turned_up(trace) is not None:
        verdict = (f"more than the measuring noise (about {points(noise)}), and the test loss has risen beyond its "
                   "noise: over-fitting; more training data, dropout, or stopping earlier (chosen on a validation "
                   "split) would help")
    elif gap > 0:
        verdict = (f"more than the measuring noise (about {points(noise)}): the network knows its training images "
                   "better than new ones (a generalization gap); its test loss has not risen beyond its noise, so "
                   "this is not clearly over-fitting yet; more training data or dropout usually narrow such a gap")
    else:
        verdict = (f"test accuracy is higher by more than the measuring noise (about {points(noise)}): the test "
                   "images may simply be easier than the training ones")
    return Insight(f"{measured}, {verdict}",
                   {"train_accuracy": last.accuracy, "test_accuracy": last.test_accuracy, "gap_points": 100 * gap,
                    "noise_points": 100 * noise})


def _test_loss_turned_up(trace: Trace) -> Insight | None:
    """The test loss's lowest epoch, when a rise beyond its noise followed while the training loss kept falling."""
    epochs = [e for e in trace.training.epochs if e.test_loss is not None and e.loss is not None]
    if len(epochs) < 2 or not learned(trace):
        return None
    best = min(epochs, key=lambda e: e.test_loss)
    last = epochs[-1]
    if best is last or not rose_beyond_noise(best.test_loss, last.test_loss, last.test_loss_noise) or last.loss >= best.loss:
        return None
    return Insight(
        f"The test loss was lowest after epoch {best.epoch} ({number(best.test_loss)}) and rose to "
        f"{number(last.test_loss)} by epoch {last.epoch} while the training loss kept falling ({number(best.loss)} -> "
        f"{number(last.loss)}): the network grows more sure of its training images than new images justify, "
        f"the sign of over-fitting (test accuracy {percent(best.test_accuracy)} then, {percent(last.test_accuracy)} "
        f"now). Choose when to stop on a validation split carved from the training images, never on the test set",
        {"best_epoch": best.epoch, "best_test_loss": best.test_loss, "last_test_loss": last.test_loss},
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
        f"{percent(share)} of the {total:,} parameters are {meaning}",
        {"largest_layer_weights": biggest.weights, "total_params": total, "share": share},
    )


def _sample(trace: Trace) -> Insight:
    p = trace.prediction
    names = trace.dataset["class_names"]
    outcome = "right" if p.correct else f"wrong: it is a '{names[p.label]}'"
    if trace.training.restored_epoch == 0:
        outcome += " (an untrained network: a guess)"
    elif not learned(trace):
        outcome += " (the network has not clearly learned yet, so one answer says little)"
    hidden = p.first_hidden
    if hidden is None:
        return Insight(
            f"For test image {p.sample}, softmax gave '{names[p.predicted]}' {percent(p.confidence)}: {outcome}",
            {"confidence": p.confidence},
        )
    fired, units = hidden.details["fired"], hidden.details["units"]
    activation = _first_hidden_activation(trace)
    if activation == "relu":
        what = f"{fired} of {units} neurons of the first hidden Dense layer fired (ReLU output above 0)"
    else:
        what = f"{fired} of {units} neurons of the first hidden Dense layer gave an output above 0 ({activation or 'its activation'})"
    return Insight(
        f"For test image {p.sample}, {what} and softmax gave '{names[p.predicted]}' {percent(p.confidence)}: {outcome}",
        {"fired": fired, "units": units, "confidence": p.confidence},
    )


def _first_hidden_activation(trace: Trace) -> str | None:
    for layer in trace.network.layers:
        if layer.kind == "Dense" and layer.activation:  # the layer Prediction.first_hidden follows
            return layer.activation
    return None


def _hardest(trace: Trace) -> Insight | None:
    """Hardest and easiest class: only for a network that clearly learned (at chance, 'easiest' is noise)."""
    if not learned(trace):
        return None
    ev = trace.evaluation
    names = trace.dataset["class_names"]
    accuracy = ev.per_class_accuracy
    hardest = min(range(len(accuracy)), key=lambda c: accuracy[c])
    easiest = max(range(len(accuracy)), key=lambda c: accuracy[c])
    row = list(ev.confusion[hardest])
    row[hardest] = -1
    confused_with = max(range(len(row)), key=lambda c: row[c])
    if row[confused_with] <= 0 or hardest == easiest:
        return None
    return Insight(
        f"'{names[hardest]}' was the hardest class ({percent(accuracy[hardest])} right), most often mistaken for "
        f"'{names[confused_with]}' ({row[confused_with]} times); '{names[easiest]}' was the easiest ({percent(accuracy[easiest])})",
        {"hardest": hardest, "hardest_accuracy": accuracy[hardest], "confused_with": confused_with,
         "confusions": row[confused_with], "easiest": easiest, "easiest_accuracy": accuracy[easiest]},
    )
