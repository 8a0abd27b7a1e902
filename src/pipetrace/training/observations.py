"""One observation per epoch, computed from the run's numbers by rules you can test.

Every rule judges from evidence: the trend of the loss against the untrained network's start
(epoch 0) and against the previous epoch, accuracy against the baseline (the higher of chance,
1 / classes, and always answering the most common training label) with the test set's noise, and
the learning rate against what is typical for the optimizer. The health checks of each epoch
(training.health: dead and saturated units, gradient sizes, the rate applied) add their diagnoses
(training.diagnoses) in the epoch where each first shows. A rule that cannot speak correctly (a
number missing, no start measured) says nothing: `classes` is None for any model but a softmax
classifier (a regression, a sigmoid head, a model whose classes are not known), and then nothing
is said of ln(classes), chance or a baseline.

Checked in this order (the first that applies speaks, later ones may add):

1. the loss is not a finite number -> training blew up: the rate is far too high for the optimizer;
   which weights were put back
2. the loss rose (from the start in epoch 1, from the epoch before later), or is still above the
   untrained start (with no start measured: above 3 x ln(classes)) -> steps too large; a typical rate
   for the optimizer
3. the loss barely moved (within 10%) from the untrained start -> steps too small (when the rate is below the
   optimizer's typical range) or the network is not learning
4. first epoch -> from the start to now, accuracy against chance
5. the test loss rose beyond its noise while the training loss kept falling -> the first sign of over-fitting
   (said once, in the epoch where it starts; a training loss that rose too is the learning rate's: rule 2)
6. the loss fell by less than 2% -> a plateau
7. otherwise -> the size of the drop, and whether gains are growing or shrinking

>>> start = {"loss": 2.36, "accuracy": 0.09, "test_loss": 2.35, "test_accuracy": 0.10}
>>> observe([{"loss": 0.30, "accuracy": 0.91, "test_loss": 0.29, "test_accuracy": 0.905}], classes=10,
...         start=start, test_count=10000, comparable=True)[0]
'From the untrained start (loss 2.360, accuracy 9.0%) to loss 0.300 and accuracy 91.0% on training images; test accuracy 90.5% (chance: 10.0%)'
"""

from __future__ import annotations

import math

from pipetrace.numbers import change, number, percent, rate

PLATEAU = 0.02  # a relative loss drop below this, epoch to epoch, counts as no real progress
BARELY_MOVED = 0.10  # a loss within 10% of the untrained start after training has barely moved
RISE = 0.02  # a loss more than 2% above the one before it went up (not measurement wobble)
FAR_ABOVE_GUESS = 3  # with no start measured, a loss above 3 x ln(classes) is worse than any untrained network
LEARNED_SHARE = 0.5  # "learned": at least half of the way from chance to 100% accuracy (55% for 10 classes)

# Learning rates typical for each optimizer on networks like these: (low, high, a good first try); SGD's are
# plain SGD's (with momentum: `typical_rates`).
TYPICAL_RATES = {
    "adam": (1e-4, 1e-2, 1e-3),
    "adamw": (1e-4, 1e-2, 1e-3),
    "nadam": (1e-4, 1e-2, 1e-3),
    "adamax": (1e-4, 1e-2, 2e-3),
    "rmsprop": (1e-4, 1e-2, 1e-3),
    "sgd": (1e-2, 1e-1, 5e-2),
    "adagrad": (1e-3, 1e-1, 1e-2),
}
OPTIMIZER_NAMES = {"adam": "Adam", "adamw": "AdamW", "nadam": "Nadam", "adamax": "Adamax", "rmsprop": "RMSprop",
                   "sgd": "SGD", "adagrad": "Adagrad"}


def chance(classes: int) -> float:
    """The accuracy of guessing one class for every image (balanced classes)."""
    return 1 / classes


def accuracy_noise(accuracy: float, count: int) -> float:
    """The standard error of an accuracy measured on `count` images: sqrt(p(1-p)/n)."""
    p = min(max(accuracy, 1 / (count + 1)), 1 - 1 / (count + 1))  # never 0, even at 0% or 100%
    return math.sqrt(p * (1 - p) / count)


def gap_noise(train_accuracy: float, train_count: int, test_accuracy: float, test_count: int) -> float:
    """The standard error of (train accuracy - test accuracy), both measured on independent images."""
    return math.hypot(accuracy_noise(train_accuracy, train_count), accuracy_noise(test_accuracy, test_count))


def baseline(classes: int, majority_share: float | None = None) -> float:
    """The accuracy to beat without learning anything: the higher of guessing (1 / classes) and always
    answering the most common training label (its share of the training images)."""
    return max(chance(classes), majority_share or 0.0)


def baseline_words(classes: int, majority_share: float | None = None, majority_name: str | None = None) -> str:
    """'95.0% for always answering 'a', the most common training label' or '10.0% for guessing'."""
    if majority_share is not None and majority_share > chance(classes):
        who = f"'{majority_name}'" if majority_name is not None else "the most common class"
        return f"{percent(majority_share)} for always answering {who}, the most common training label"
    return f"{percent(chance(classes))} for guessing"


def above_chance(accuracy: float | None, classes: int, count: int | None, bar: float | None = None) -> bool:
    """True when `accuracy`, measured on `count` images, is more than 3 standard errors above the bar
    (chance, 1 / classes, unless a higher `bar` is given: see `baseline`)."""
    if accuracy is None or not count:
        return False
    p = max(chance(classes), bar or 0.0)
    if p >= 1:
        return False
    return accuracy - p > 3 * math.sqrt(p * (1 - p) / count)


def clearly_learned(accuracy: float | None, classes: int, count: int | None, bar: float | None = None) -> bool:
    """Above the bar beyond noise *and* at least half of the way from the bar to 100%: the bar for any praise."""
    if not above_chance(accuracy, classes, count, bar):
        return False
    p = max(chance(classes), bar or 0.0)
    return accuracy >= p + LEARNED_SHARE * (1 - p)


def better_than_start(accuracy: float | None, start_accuracy: float | None, count: int | None) -> bool:
    """Test accuracy above the untrained network's (epoch 0) by more than 3 standard errors (True when no start)."""
    if start_accuracy is None:
        return True
    if accuracy is None or not count:
        return False
    return accuracy - start_accuracy > 3 * accuracy_noise(start_accuracy, count)


def overfitting_start(epochs: list[dict]) -> tuple[int, int] | None:
    """(the index of the lowest test loss before it, the index of the first epoch where over-fitting shows), or None.

    Over-fitting shows where the test loss has risen above its lowest so far beyond its noise while the
    training loss is below where it stood at that lowest (training still improving). A training loss that rose
    too is instability (the learning rate's), not over-fitting.
    """
    for i in range(1, len(epochs)):
        now = epochs[i]
        earlier = [j for j in range(i) if epochs[j].get("test_loss") is not None and epochs[j].get("loss") is not None]
        if now.get("test_loss") is None or now.get("loss") is None or not earlier:
            continue
        best = min(earlier, key=lambda j: epochs[j]["test_loss"])
        lowest = epochs[best]
        if rose_beyond_noise(lowest["test_loss"], now["test_loss"], now.get("test_loss_noise")) and now["loss"] < lowest["loss"]:
            return best, i
    return None


def typical_rates(optimizer: str | None, momentum: float = 0.0) -> tuple[float, float, float] | None:
    """(low, high, a good first try) for the optimizer; SGD with momentum m gets plain SGD's range times (1 - m).

    With momentum m the steps along a steady slope build up to 1 / (1 - m) times the plain step, so the
    same steps take a rate (1 - m) times as large. The first try is the top of that range: the velocity
    takes about 1 / (1 - m) steps to build up, so a short run gets only part of the factor. Measured
    (MNIST, batch 256, seed 0): over 141 steps (12,000 images, 3 epochs, cosine) SGD with momentum 0.9
    reached 56.2%, 78.5% and 83.5% test accuracy at rates 0.001, 0.005 and 0.01, plain SGD 56.8%, 79.1%
    and 83.5% at 0.01, 0.05 and 0.1; over 10 steps (1,200 images, 2 epochs, constant) momentum 0.9 at
    0.01 reached 46.5%, plain SGD at its first try 0.05 50.5%.
    """
    typical = TYPICAL_RATES.get((optimizer or "").lower())
    if typical is None or not momentum or (optimizer or "").lower() != "sgd":
        return typical
    low, high = (float(f"{value * (1 - momentum):.6g}") for value in typical[:2])  # 0.001, not 0.0010000000000000002
    return low, high, high


def optimizer_name(optimizer: str | None, momentum: float = 0.0) -> str:
    """'Adam', 'SGD', 'SGD with momentum 0.9' (for an optimizer of TYPICAL_RATES)."""
    name = OPTIMIZER_NAMES[(optimizer or "").lower()]
    return f"{name} with momentum {momentum:g}" if momentum and name == "SGD" else name


def rate_advice(optimizer: str | None, learning_rate: float | None, direction: str, momentum: float = 0.0) -> str:
    """'try about 0.001, typical for Adam (0.0001 to 0.01)', when that is smaller ('lower') or larger ('higher').

    Empty when the optimizer is unknown or its typical rate would not move in that direction.
    `momentum`: SGD's (its typical rates are smaller, see `typical_rates`).
    """
    typical = typical_rates(optimizer, momentum)
    if typical is None:
        return ""
    low, high, suggested = typical
    name = optimizer_name(optimizer, momentum)
    if learning_rate is not None:
        if direction == "lower" and not suggested < learning_rate:
            suggested = low if low < learning_rate else None
        elif direction == "higher" and not suggested > learning_rate:
            suggested = high if high > learning_rate else None
    if suggested is None:
        return ""
    return f"try a learning rate of about {rate(suggested)}, typical for {name} ({rate(low)} to {rate(high)})"


def describe_start(start: dict, classes: int, given_weights: bool = False, bar_words: str | None = None) -> str:
    """Epoch 0's lesson: an untrained network's loss is about ln(classes), its accuracy about chance.

    `given_weights`: the model came with weights of its own (a --model file), so epoch 0 is not random weights;
    `bar_words`: the baseline to name instead of chance (see `baseline_words`).
    """
    guess = math.log(classes)
    loss = start.get("loss")
    bar = f"the baseline is {bar_words}" if bar_words and "guessing" not in bar_words else f"chance is {percent(chance(classes))}"
    if given_weights:
        if loss is None:
            return "Before training (the weights the model came with): the loss was not a finite number"
        return (f"Before training (the weights the model came with, not random ones): loss {number(loss)}, accuracy "
                f"{percent(start.get('accuracy'))} on training images and {percent(start.get('test_accuracy'))} on test "
                f"images; {bar}")
    if loss is None:
        return "Before training: the untrained network's loss was not a finite number"
    closeness = abs(loss - guess) / guess
    if closeness < 0.15:
        relation = f"close to ln({classes}) = {guess:.3f}, the loss of a uniform guess over {classes} classes"
    else:
        side = "above" if loss > guess else "below"
        relation = f"{side} ln({classes}) = {guess:.3f}, the loss of a uniform guess over {classes} classes"
    return (f"Before training (random weights): loss {number(loss)}, {relation}; accuracy "
            f"{percent(start.get('accuracy'))} on training images and {percent(start.get('test_accuracy'))} on "
            f"test images, where {bar}")


def observe(epochs: list[dict], classes: int | None, learning_rate: float | None = None, *, optimizer: str | None = None,
            start: dict | None = None, restored_epoch: int | None = None, test_count: int | None = None,
            comparable: bool = False, momentum: float = 0.0, majority: tuple[str, float] | None = None,
            measured: int = 0) -> list[str]:
    """An observation for each epoch (dicts with loss, accuracy, test_loss, test_accuracy).

    `majority`: (name, share) of the most common training label; accuracy is then judged against the
    higher of its share and chance (`baseline`). `measured`: the training images the epochs' health checks
    (an epoch's "layers" and "learning_rate", see training.health) were measured on.

    `start` is epoch 0 (the untrained network); `comparable` says training accuracy was measured
    like test accuracy (inference mode, after the epoch), so the two may be set side by side;
    `momentum` is SGD's (its typical learning rates are smaller).
    """
    context = {"classes": classes, "learning_rate": learning_rate, "optimizer": optimizer, "start": start,
               "restored_epoch": restored_epoch, "test_count": test_count, "comparable": comparable,
               "momentum": momentum,
               "bar": baseline(classes, majority[1] if majority else None) if classes else None,  # None: not a classifier
               "bar_words": baseline_words(classes, *(reversed(majority) if majority else ())) if classes else "",
               "measured": measured}
    return ["; ".join([_observe_one(epochs, i, context), *_health_notes(epochs, i, context)]) for i in range(len(epochs))]


def _health_notes(epochs: list[dict], i: int, c: dict) -> list[str]:
    """Diagnoses from the epoch's health checks, each said in the epoch it first shows (training.diagnoses)."""
    from pipetrace.training.diagnoses import health_diagnoses, schedule_ended

    now = epochs[i]
    if now.get("loss") is None:
        return []
    start = (c["start"] or {}).get("layers")
    found = health_diagnoses(now.get("layers") or [], c["measured"], start)
    before = {d.kind for d in health_diagnoses(epochs[i - 1].get("layers") or [], c["measured"])} if i else set()
    notes = [d.text for d in found if d.kind not in before]
    previous = epochs[i - 1].get("loss") if i else None
    if previous and abs(previous - now["loss"]) / previous < PLATEAU:
        ended = schedule_ended(now.get("learning_rate"), c["learning_rate"], now.get("epoch", i + 1))
        if ended is not None:
            notes.append(ended.text)
    return notes


def _observe_one(epochs: list[dict], i: int, c: dict) -> str:
    now = epochs[i]
    if now.get("learning_rate") is not None:  # the rate this epoch trained at (a schedule or callback changes it)
        c = {**c, "learning_rate": now["learning_rate"]}
    loss = now["loss"]
    if loss is None or not math.isfinite(loss):
        return _diverged(now.get("epoch", i + 1), c)
    before = c["start"] if i == 0 else epochs[i - 1]
    before_loss = before.get("loss") if before else None
    start_loss = c["start"].get("loss") if c["start"] else None
    if before_loss is not None and loss > before_loss * (1 + RISE):
        return _rising(now, before, i, c)
    if start_loss is None and c["classes"] and loss > FAR_ABOVE_GUESS * math.log(c["classes"]):
        return _above_start(now, None, c)  # no start measured, but untrained networks start near ln(classes)
    if i > 0 and start_loss is not None and loss > start_loss * (1 + RISE):
        return _above_start(now, start_loss, c)
    jumped = any(e["loss"] is not None and e["loss"] > start_loss * (1 + BARELY_MOVED) for e in epochs[:i]) if start_loss else False
    if (start_loss is not None and c["classes"] and start_loss > 0.5 * math.log(c["classes"])
            and abs(loss / start_loss - 1) < BARELY_MOVED and not jumped):  # a loss that jumped and came back did not "barely move"
        return _barely_moved(now, start_loss, i, c)
    if i == 0:
        return _first(now, c)
    notes = []
    overfit = _test_loss_turned_up(epochs, i, c)
    if overfit:
        notes.append(overfit)
    if not notes:
        notes.append(_progress(epochs, i, c))
    return "; ".join(notes)


def _diverged(epoch: int, c: dict) -> str:
    restored = c["restored_epoch"]
    if restored == 0:
        kept = ("the untrained starting weights were put back, so the prediction trace and the saved model "
                "show an untrained network (its answers are guesses)")
    elif restored is not None:
        kept = f"the weights from the end of epoch {restored} were put back"
    else:
        kept = "training stopped here"
    advice = rate_advice(c["optimizer"], c["learning_rate"], "lower", c["momentum"]) or "try a smaller learning rate"
    setting = f"learning rate {rate(c['learning_rate'])} is far too high" if c["learning_rate"] else "the steps were far too large"
    return (f"The loss became NaN or infinite in epoch {epoch}: the weight updates grew so large the numbers "
            f"overflowed ({setting}); {kept}; {advice}")


def _rising(now: dict, before: dict, i: int, c: dict) -> str:
    what = "the untrained start" if i == 0 and c["start"] is not None else f"epoch {before.get('epoch', i)}"
    factor = now["loss"] / before["loss"] if before["loss"] else math.inf
    if factor < 10:
        text = (f"The training loss went up from {number(before['loss'])} ({what}) to {number(now['loss'])} "
                f"({change(factor - 1)}")
    else:
        text = (f"The training loss exploded from {number(before['loss'])} ({what}) to {number(now['loss'])} "
                f"({number(factor, 0)} times as large")
    text += f"){_accuracy_text(now)}: the steps overshoot"
    advice = rate_advice(c["optimizer"], c["learning_rate"], "lower", c["momentum"])
    if c["learning_rate"] is not None:
        text += f"; learning rate {rate(c['learning_rate'])} is too high"
        if advice:
            text += f"; {advice}"
    return text


def _above_start(now: dict, start_loss: float | None, c: dict) -> str:
    if start_loss is None:
        guess = math.log(c["classes"])
        where = f"far above ln({c['classes']}) = {guess:.3f}, near where an untrained network starts"
    else:
        where = f"still above the untrained start's {number(start_loss)}"
    text = f"The training loss is {number(now['loss'])}, {where}{_accuracy_text(now)}: the steps overshoot"
    if c["learning_rate"] is not None:
        text += f"; learning rate {rate(c['learning_rate'])} is too high"
        advice = rate_advice(c["optimizer"], c["learning_rate"], "lower", c["momentum"])
        if advice:
            text += f"; {advice}"
    return text


def _barely_moved(now: dict, start_loss: float, i: int, c: dict) -> str:
    relative = now["loss"] / start_loss - 1
    text = (f"The loss barely moved from the untrained start ({number(start_loss)} -> {number(now['loss'])}, "
            f"{change(relative, 1)} after {i + 1} epoch{'s' if i else ''}); test accuracy {percent(now.get('test_accuracy'))} "
            f"{_bar_text(c)}")
    typical = typical_rates(c["optimizer"], c["momentum"])
    if c["learning_rate"] is not None and typical is not None and c["learning_rate"] < typical[0]:
        text += f": learning rate {rate(c['learning_rate'])} is too low, the steps are tiny; " + rate_advice(
            c["optimizer"], c["learning_rate"], "higher", c["momentum"])
    return text


def _accuracy_text(now: dict) -> str:
    """', accuracy 91.0%', or nothing for a model that reports no accuracy (a regression)."""
    return f", accuracy {percent(now['accuracy'])}" if now.get("accuracy") is not None else ""


def _test_text(now: dict) -> str:
    """'test accuracy 90.5%', else 'test loss 0.310', else 'no test data'."""
    if now.get("test_accuracy") is not None:
        return f"test accuracy {percent(now['test_accuracy'])}"
    return f"test loss {number(now['test_loss'])}" if now.get("test_loss") is not None else "no test data measured"


def _first_without_classes(now: dict, c: dict) -> str:
    """Epoch 1 of a model that is not a softmax classifier: its numbers, with no ln(classes) and no chance."""
    start = c["start"]
    where = " on training images" if c["comparable"] else " (running mean during the epoch)"
    if start is not None:
        text = f"From the untrained start (loss {number(start['loss'])}) to loss {number(now['loss'])}"
    else:
        text = f"Loss {number(now['loss'])} after epoch 1"
    return text + f"{_accuracy_text(now)}{where}; {_test_text(now)}"


def _first(now: dict, c: dict) -> str:
    classes, start = c["classes"], c["start"]
    if not classes:
        return _first_without_classes(now, c)
    where = " on training images" if c["comparable"] else " (running mean during the epoch)"
    if start is not None:
        text = (f"From the untrained start (loss {number(start['loss'])}, accuracy {percent(start.get('accuracy'))}) "
                f"to loss {number(now['loss'])} and accuracy {percent(now.get('accuracy'))}{where}")
    else:
        text = (f"Loss {number(now['loss'])} after epoch {now.get('epoch', 1)} (ln({classes}) = {math.log(classes):.3f} is the loss of a uniform guess), "
                f"accuracy {percent(now.get('accuracy'))}{where}")
    text += f"; test accuracy {percent(now.get('test_accuracy'))} {_bar_text(c)}"
    if now.get("test_accuracy") is not None and c["test_count"] and not above_chance(now["test_accuracy"], classes, c["test_count"], c["bar"]):
        text += ", not above " + ("chance" if c["bar"] <= chance(classes) else "that baseline") + " beyond the test set's noise"
    return text


def _bar_text(c: dict) -> str:
    """'(chance: 10.0%)', or the majority baseline when it is higher: '(baseline: 95.0% for always answering ...)'."""
    if (c.get("bar") or 0) > chance(c["classes"]):
        return f"(baseline: {c['bar_words']})"
    return f"(chance: {percent(chance(c['classes']))})"


def _test_loss_turned_up(epochs: list[dict], i: int, c: dict) -> str:
    """Said once, in the epoch where over-fitting starts (see `overfitting_start`); later epochs say nothing here."""
    found = overfitting_start(epochs[: i + 1])
    if found is None or found[1] != i:
        return ""
    best, now = epochs[found[0]], epochs[i]
    return (f"The test loss turned up ({number(best['test_loss'])} at epoch {best.get('epoch', found[0] + 1)} -> "
            f"{number(now['test_loss'])}) beyond its measuring noise while the training loss kept falling ({number(best['loss'])} -> "
            f"{number(now['loss'])}): the first sign of over-fitting, the network fits its training images more than new ones")


def rose_beyond_noise(lowest: float, now: float, noise: float | None) -> bool:
    """Above its lowest by more than 2% and, where its noise was measured, by more than 2 standard errors."""
    return now > lowest * (1 + RISE) and (noise is None or now - lowest > 2 * noise)


def _progress(epochs: list[dict], i: int, c: dict) -> str:
    now, before = epochs[i], epochs[i - 1]
    loss = now["loss"]
    drop = before["loss"] - loss
    relative = drop / before["loss"] if before["loss"] else 0.0
    accuracy = _test_text(now) if not c["classes"] else f"test accuracy {percent(now.get('test_accuracy'))}"
    if relative < PLATEAU:
        return f"The loss barely moved ({number(before['loss'])} -> {number(loss)}, {change(-relative, 1)}): a plateau; {accuracy}"
    text = f"The loss fell {percent(relative, 0)} ({number(before['loss'])} -> {number(loss)}), {accuracy}"
    earlier = c["start"] if i == 1 else epochs[i - 2]
    if earlier is not None and earlier.get("loss") is not None:
        previous_drop = earlier["loss"] - before["loss"]
        if previous_drop > 0:
            if drop > previous_drop:
                text += f"; a bigger drop than the {number(previous_drop)} before it"
            else:
                text += f"; gains are shrinking ({number(previous_drop)} before, {number(drop)} now)"
    return text
