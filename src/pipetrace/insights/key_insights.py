"""Key insights: a few sentences this run showed, each tied to the numbers it rests on.

Every insight is a rule over the Trace; the figures it quotes are kept beside the text.

>>> [i.text for i in key_insights(trace)][0]      # doctest: +SKIP
'Training cut the loss from 2.361 at the untrained start to 0.047 after epoch 5; test accuracy reached 97.9%, against 10.0% for guessing'
"""

from __future__ import annotations

from pipetrace.insights.baseline import above_baseline, baseline, learned, one_answer, images_tested
from pipetrace.numbers import number, percent, points, rate
from pipetrace.trace import Insight, Trace
from pipetrace.training.diagnoses import health_diagnoses, schedule_ended
from pipetrace.training.observations import (
    BARELY_MOVED, PLATEAU, RISE, accuracy_noise, gap_noise, overfitting_start, rate_advice, rose_beyond_noise,
    typical_rates,
)

NOISE_SIGMAS = 2.0  # a train/test gap beyond this many standard errors is more than measurement noise
TOO_NOISY = 0.05  # a gap's noise above 5 points cannot tell a small gap from none
MEMORIZED = 0.9  # training accuracy this high while test accuracy is at the baseline: memorized


def key_insights(trace: Trace) -> list[Insight]:
    rules = [_stopped, _one_answer, _learning, _memorized, _under_fitting, _generalization, _test_loss_turned_up,
             _unstable, _diagnoses, _schedule, _parameters, _sample, _hardest]
    return [insight for rule in rules if (insight := rule(trace)) is not None]


def _test_count(trace: Trace) -> int:
    return images_tested(trace)


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
    bar = baseline(trace)
    lr, optimizer, momentum = trace.settings.learning_rate, _optimizer(trace), trace.network.momentum
    where = "the untrained start" if first.epoch == 0 else f"epoch {first.epoch}"
    if first.epoch == 0 and trace.settings.model:
        where = "the start (the weights the model came with)"
    figures = {"first_loss": first.loss, "last_loss": last.loss, "test_accuracy": test_accuracy,
               "baseline": bar.accuracy, "chance": bar.chance, "learning_rate": lr}
    highest = max(finite, key=lambda e: e.loss)
    if last.loss > first.loss * (1 + RISE):
        advice = rate_advice(optimizer, lr, "lower", momentum)
        return Insight(
            f"The training loss rose from {number(first.loss)} at {where} to {number(last.loss)} after epoch "
            f"{last.epoch}: learning rate {rate(lr)} is too high, the steps overshoot" + (f"; {advice}" if advice else ""),
            figures,
        )
    if (first.epoch == 0 and first.loss > 0.5 * _ln(classes) and abs(last.loss / first.loss - 1) < BARELY_MOVED
            and highest.loss <= first.loss * (1 + BARELY_MOVED)):
        text = (f"The loss barely moved from {where} ({number(first.loss)} -> {number(last.loss)} after "
                f"epoch {last.epoch}) and test accuracy is {percent(test_accuracy)} against {bar.words}")
        typical = typical_rates(optimizer, momentum)
        if typical is not None and lr < typical[0]:
            text += f": learning rate {rate(lr)} is too low, each step is tiny; " + rate_advice(optimizer, lr, "higher", momentum)
        return Insight(text, figures)
    if highest.loss > first.loss * (1 + RISE) and highest is not last:
        figures["highest_loss"] = highest.loss
        advice = rate_advice(optimizer, lr, "lower", momentum)
        verdict = ("" if above_baseline(trace) else
                   f"; test accuracy {percent(test_accuracy)} is not above {bar.words} beyond the test set's noise")
        return Insight(
            f"The training loss jumped from {number(first.loss)} at {where} to {number(highest.loss)} after epoch "
            f"{highest.epoch} and ended at {number(last.loss)} after epoch {last.epoch}: steps that overshoot, the "
            f"learning rate's ({rate(lr)}) doing" + (f"; {advice}" if advice else "") + verdict,
            figures,
        )
    if not above_baseline(trace):
        start = t.start.test_accuracy if t.start is not None and not trace.settings.model else None
        since = (f", and no better than the untrained network's {percent(start)} beyond that noise"
                 if start is not None and test_accuracy > bar.accuracy else "")
        verb = "fell" if last.loss < first.loss * (1 - RISE) else "went"
        return Insight(
            f"The loss {verb} from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}, but "
            f"test accuracy {percent(test_accuracy)} is not above the baseline ({bar.words}) beyond the noise of "
            f"{_test_count(trace):,} test images{since}: the network has not learned to tell the classes apart",
            figures,
        )
    if not learned(trace):
        return Insight(
            f"The loss fell from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}; test "
            f"accuracy {percent(test_accuracy)} is above {bar.words}, but {percent(1 - test_accuracy)} of the test "
            "images are still wrong",
            figures,
        )
    return Insight(
        f"Training cut the loss from {number(first.loss)} at {where} to {number(last.loss)} after epoch {last.epoch}; "
        f"test accuracy reached {percent(test_accuracy)}, against {bar.words}",
        figures,
    )


def _one_answer(trace: Trace) -> Insight | None:
    """A network that gives one class for (nearly) every test image, with the class and the share."""
    found = one_answer(trace)
    if found is None:
        return None
    top, given, total = found
    name = trace.dataset["class_names"][top]
    share = given / total
    truly = sum(trace.evaluation.confusion[top]) / total
    return Insight(
        f"The network answers '{name}' for {given:,} of the {total:,} test images ({percent(share)}), whatever the "
        f"image: its test accuracy ({percent(trace.evaluation.test_accuracy)}) is about the share of '{name}' among "
        f"the test images ({percent(truly)}), not something it learned",
        {"class": top, "answered": given, "test_images": total, "share": share, "class_share": truly},
    )


def _memorized(trace: Trace) -> Insight | None:
    """Training images right, test images at the baseline: the training images were memorized."""
    t = trace.training
    last = t.epochs[-1] if t.epochs else None
    if last is None or t.train_measured_on == 0 or last.accuracy is None or t.status == "diverged":
        return None
    bar = baseline(trace)
    if last.accuracy < MEMORIZED or above_baseline(trace) or last.accuracy - bar.accuracy < 3 * accuracy_noise(
            bar.accuracy, t.train_measured_on) + 0.2:
        return None
    return Insight(
        f"Training accuracy reached {percent(last.accuracy)} on {t.train_measured_on:,} training images while test "
        f"accuracy is {percent(trace.evaluation.test_accuracy)}, no better than {bar.words}: the network memorized "
        "its training images (each one's label) instead of learning a pattern that holds for new images; labels that do "
        "not follow from the images (random labels) or too few images for this many weights give exactly this",
        {"train_accuracy": last.accuracy, "test_accuracy": trace.evaluation.test_accuracy, "baseline": bar.accuracy},
    )


TINY_LAYER = 4  # a hidden layer of this many units or fewer squeezes every image through a few numbers
HEAVY_DROPOUT = 0.5  # dropout silencing at least half of the units at every step


def _under_fitting(trace: Trace) -> Insight | None:
    """Not even the training images fitted (no gap to test), with a cause the run shows: a tiny layer, heavy dropout."""
    t = trace.training
    last = t.epochs[-1] if t.epochs else None
    if last is None or t.train_measured_on == 0 or last.accuracy is None or last.test_accuracy is None:
        return None
    if t.status == "diverged" or trace.settings.model or last.loss is None:
        return None
    bar = baseline(trace).accuracy
    if last.accuracy >= bar + 0.5 * (1 - bar):
        return None  # half-way from the baseline to every training image right: fitted enough to judge otherwise
    causes, figures = [], {"train_accuracy": last.accuracy, "test_accuracy": last.test_accuracy}
    hidden = [layer for layer in trace.network.dense_layers[:-1]]
    smallest = min(hidden, key=lambda layer: layer.units) if hidden else None
    if smallest is not None and smallest.units <= TINY_LAYER:
        causes.append(f"its hidden layer '{smallest.name}' has only {smallest.units} unit{'s' if smallest.units > 1 else ''}, "
                      f"so every image is squeezed through {smallest.units} number{'s' if smallest.units > 1 else ''}")
        figures["smallest_layer_units"] = smallest.units
    if trace.settings.dropout >= HEAVY_DROPOUT:
        causes.append(f"dropout {trace.settings.dropout:g} silences {percent(trace.settings.dropout, 0)} of the units "
                      "at every training step")
        figures["dropout"] = trace.settings.dropout
    if not causes:
        return None
    return Insight(
        f"Under-fitting: even on its own training images the network reaches only {percent(last.accuracy)} (test: "
        f"{percent(last.test_accuracy)}): {' and '.join(causes)}; a network that cannot fit the images it trains on "
        "needs more room (more units, less dropout) before more data or regularization can help",
        figures,
    )


def _unstable(trace: Trace) -> Insight | None:
    """The test loss rose, but the training loss rose too: the steps, not over-fitting."""
    epochs = [e for e in trace.training.epochs if e.test_loss is not None and e.loss is not None]
    if len(epochs) < 2 or trace.training.status == "diverged" or _learning_said_rise(trace):
        return None
    best_test = min(epochs, key=lambda e: e.test_loss)
    best_train = min(epochs, key=lambda e: e.loss)
    last = epochs[-1]
    if not (rose_beyond_noise(best_test.test_loss, last.test_loss, last.test_loss_noise)
            and last.loss > best_train.loss * (1 + RISE)):
        return None
    lr = trace.settings.learning_rate
    advice = rate_advice(_optimizer(trace), lr, "lower", trace.network.momentum)
    return Insight(
        f"The test loss rose ({number(best_test.test_loss)} after epoch {best_test.epoch} -> {number(last.test_loss)}) "
        f"and so did the training loss ({number(best_train.loss)} after epoch {best_train.epoch} -> {number(last.loss)}): "
        f"not over-fitting (that needs the training loss to keep falling) but unstable training, steps too large for "
        f"learning rate {rate(lr)}" + (f"; {advice}" if advice else ""),
        {"best_test_loss": best_test.test_loss, "last_test_loss": last.test_loss, "best_loss": best_train.loss,
         "last_loss": last.loss, "learning_rate": lr},
    )


def _learning_said_rise(trace: Trace) -> bool:
    insight = _learning(trace)
    return insight is not None and ("rose from" in insight.text or "jumped from" in insight.text)


def _diagnoses(trace: Trace) -> Insight | None:
    """What the last epoch's health checks show (dead units, saturation, vanishing gradients), with the epoch it began."""
    t = trace.training
    measured = [e for e in t.epochs if e.layers]
    if not measured:
        return None
    start = t.start.layers if t.start is not None else None
    found = health_diagnoses(measured[-1].layers, t.train_measured_on, start)
    if not found:
        return None
    began = {}
    for d in found:
        began[d.kind] = next(e.epoch for e in measured if d.kind in {x.kind for x in health_diagnoses(e.layers, t.train_measured_on)})
    texts = [d.text + (f" (since epoch {began[d.kind]})" if began[d.kind] != measured[-1].epoch else "") for d in found]
    figures = {f"{d.kind}_{key}": value for d in found for key, value in d.figures.items()}
    figures["epoch"] = measured[-1].epoch
    return Insight(f"After epoch {measured[-1].epoch}, " + "; ".join(texts), figures)


def _schedule(trace: Trace) -> Insight | None:
    """A flat loss at the end explained by the schedule: the rate had decayed to about 0."""
    epochs = [e for e in trace.training.epochs if e.loss is not None]
    if len(epochs) < 2:
        return None
    before, last = epochs[-2], epochs[-1]
    if abs(before.loss - last.loss) / before.loss >= PLATEAU:
        return None
    ended = schedule_ended(last.learning_rate, trace.settings.learning_rate, last.epoch)
    if ended is None:
        return None
    return Insight(f"The loss barely moved in the last epoch ({number(before.loss)} -> {number(last.loss)}): "
                   + ended.text, dict(ended.figures))


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
    if abs(gap) <= noise and noise > TOO_NOISY:
        verdict = (f"within the measuring noise, but that noise is about {points(noise)} either way ({n_test:,} test "
                   "images): too wide to tell a small gap from none, so this cannot say whether it memorizes; more "
                   "test images would")
    elif abs(gap) <= noise:
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
    """Where over-fitting started (training.observations.overfitting_start) and where the test loss ended."""
    epochs = [e for e in trace.training.epochs if e.test_loss is not None and e.loss is not None]
    if len(epochs) < 2 or not learned(trace):
        return None
    found = overfitting_start([_record(e) for e in epochs])
    if found is None:
        return None
    best, began, last = epochs[found[0]], epochs[found[1]], epochs[-1]
    if last.loss >= best.loss or not rose_beyond_noise(best.test_loss, last.test_loss, last.test_loss_noise):
        return None  # the test loss came back within its noise, or training stopped improving: not over-fitting now
    return Insight(
        f"The test loss was lowest after epoch {best.epoch} ({number(best.test_loss)}), rose beyond its noise from "
        f"epoch {began.epoch} and reached {number(last.test_loss)} by epoch {last.epoch} while the training loss kept "
        f"falling ({number(best.loss)} -> {number(last.loss)}): the network grows more sure of its training images "
        f"than new images justify, the sign of over-fitting (test accuracy {percent(best.test_accuracy)} then, "
        f"{percent(last.test_accuracy)} now). Choose when to stop on a validation split carved from the training "
        "images, never on the test set",
        {"best_epoch": best.epoch, "best_test_loss": best.test_loss, "last_test_loss": last.test_loss,
         "started_epoch": began.epoch},
    )


def _record(epoch) -> dict:
    return {"epoch": epoch.epoch, "loss": epoch.loss, "test_loss": epoch.test_loss, "test_loss_noise": epoch.test_loss_noise}


def _parameters(trace: Trace) -> Insight | None:
    total = trace.network.total_params
    if not total:
        return None
    biggest = max(trace.network.layers, key=lambda layer: layer.weights)
    share = biggest.weights / total
    if biggest is trace.network.layers[0] and biggest.kind == "Dense" and _inputs_all_zero(trace):
        meaning = (f"the {biggest.input_size} x {biggest.units} weights of the first Dense layer, but every training "
                   "input value is 0, so each of those weights gets a gradient of 0 and never changes: the network "
                   "can learn only from its biases and later layers")
    elif biggest is trace.network.layers[0] and biggest.kind == "Dense":
        meaning = (f"the {biggest.input_size} x {biggest.units} weights of the first Dense layer: most of what the "
                   f"network learns is how much each input value matters to each hidden neuron")
    else:
        meaning = f"the weights of {biggest.label or biggest.kind} ('{biggest.name}'), the layer with the most connections"
    return Insight(
        f"{percent(share)} of the {total:,} parameters are {meaning}",
        {"largest_layer_weights": biggest.weights, "total_params": total, "share": share},
    )


def _inputs_all_zero(trace: Trace) -> bool:
    """The training vectors that went into training were all 0 (the training stage's recorded range)."""
    stage = next((s for s in trace.stages if s.name == "Model training"), None)
    if stage is None or not stage.inputs:
        return False
    return stage.inputs[0].min == 0 and stage.inputs[0].max == 0


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
    tested = [c for c in range(len(accuracy)) if sum(ev.confusion[c])]  # a class with no test images has no accuracy
    if len(tested) < 2:
        return None
    hardest = min(tested, key=lambda c: accuracy[c])
    easiest = max(tested, key=lambda c: accuracy[c])
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
