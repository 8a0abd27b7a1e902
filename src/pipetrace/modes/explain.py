"""Mode `explain`: a narrative deep dive, every claim shown with this run's numbers.

For learners who read to understand: for each part of the pipeline, what it is, why it
matters, a mental model, and the common mistakes, each illustrated with a figure this run
measured (never a made-up example). `chapters` returns the text as plain data, for the terminal
(views/learn.py) and the page (views/html/modes.py); wording about the network comes from
insights.teaching, keyed by the activation, optimizer and layers this run used.

>>> [c.title for c in chapters(trace)][:2]            # doctest: +SKIP
['The data', 'Scaling the pixels']
"""

from __future__ import annotations

from dataclasses import dataclass

from pipetrace.insights.baseline import above_baseline, baseline, learned, one_answer
from pipetrace.insights.teaching import (SHAPING, ActivationWords, activation_words, all_hidden_activations,
                                         health_diagnoses, hidden_activation, layer_role, run_optimizer, shaping_key,
                                         untrained_loss)
from pipetrace.numbers import count, number, percent
from pipetrace.stages.measure import shape_text
from pipetrace.training.observations import RISE, accuracy_noise, overfitting_start, rate_advice, rose_beyond_noise
from pipetrace.trace import Trace


CONFIDENT = 0.5  # a mistake is called confident only when the network gave its wrong answer at least this much


@dataclass
class Chapter:
    title: str
    what: str
    why: str
    model: str  # the mental model
    mistakes: str


def chapters(trace: Trace) -> list[Chapter]:
    """The deep dive, chapter by chapter, written around this run's numbers."""
    d, s, net, t, ev, p = trace.dataset, trace.stages, trace.network, trace.training, trace.evaluation, trace.prediction
    names = d["class_names"]
    load, scale, shape, split = s[0], s[1], s[2], s[3]
    ex = scale.details["examples"][-1]
    top = scale.details.get("scale", 255.0)
    out = [Chapter(
        "The data",
        f"{d['train_count'] + d['test_count']:,} labelled images of {shape_text(d['image_shape'])} pixels ({d['name']}), "
        f"each a grid of whole numbers: {load.example}.",
        _bar_to_beat(trace),
        "Think of each image as a point in a space with one axis per pixel; images of the same class lie near each other.",
        "Forgetting that the labels are just as important as the images: the split below keeps both together.",
    ), Chapter(
        "Scaling the pixels",
        f"{scale.did}. Pixel ({ex['row']}, {ex['col']}) of the followed image was {ex['before']} and became {ex['after']:.4f}.",
        "Weighted sums of numbers up to 1 stay small, so the first training steps are gentle and the optimizer's "
        "default step sizes fit.",
        "A change of units, not of content: the picture looks the same, only the scale of its numbers moved.",
        (f"Scaling training data but not new inputs (a new image must be divided by {top:g} too), or scaling twice."
         if top > 1 else "Scaling twice: these values already lay in 0..1, and dividing them again would only shrink them."),
    )]
    shaping = SHAPING.get(shaping_key(shape))
    if shaping is not None:
        out.append(Chapter(
            f"{shape.name}",
            f"{shape.did}. {shape.example}.",
            shaping.why,
            shaping.model,
            ("Believing flattening loses information: no value changes, only their arrangement "
             f"(the same {shape_text(shape.outputs[0].shape[1:])} values) - but a Dense layer no longer knows which "
             "pixels were neighbours." if shape.name == "Flatten" else
             "Adding a channel axis the model does not read: this model takes height x width, so "
             f"{shape_text(shape.outputs[0].shape[1:])} images fit it as they are." if shaping_key(shape) == "Reshape (kept)" else
             "Forgetting the channel axis: a Conv2D layer needs height x width x channels even for grey images "
             f"({shape_text(shape.inputs[0].shape[1:])} -> {shape_text(shape.outputs[0].shape[1:])}); the values "
             "themselves do not change."),
        ))
    out.append(Chapter(
        "Training and test data",
        f"{split.did}.",
        f"Accuracy on images the network trained on says little; the {sum(split.details['test_counts']):,} test images "
        "measure what it learned about the classes themselves.",
        "An exam with questions the student has not seen before.",
        "Choosing settings by looking at test accuracy again and again: the test set then slowly becomes training data.",
    ))
    learning = [layer for layer in net.layers if layer.params]
    biggest = max(learning, key=lambda layer: layer.params) if learning else None
    if biggest is not None:
        out.append(Chapter(
            "The network",
            f"{net.architecture}: {net.total_params:,} numbers to learn. The largest layer, {biggest.label or biggest.name}, "
            f"holds {biggest.params:,} of them ({100 * biggest.params / net.total_params:.1f}%).",
            "Every parameter is one knob training can turn; more knobs can fit more patterns, and more noise.",
            _neuron_model(trace),
            "Counting only the weights and forgetting the biases: "
            + (f"{learning[0].weights:,} + {learning[0].biases:,} = {learning[0].params:,} for the first layer." if learning else ""),
        ))
    roles = [(layer, layer_role(layer)) for layer in net.layers]
    if any(layer.kind not in ("Dense",) for layer in net.layers) and all(role for _, role in roles):
        dropout = next((layer for layer in net.layers if layer.kind == "Dropout"), None)
        out.append(Chapter(
            "Layer by layer",
            " ".join(f"{layer.label or layer.kind}: {role}." for layer, role in roles),
            "Only layers with weights learn; the others reshape, shrink or disturb what flows through, and each changes "
            "what the next layer sees.",
            "An assembly line: each station hands the next a new arrangement of numbers; the image turns step by step "
            "into 'how much it looks like each class'.",
            (f"Thinking {dropout.label} is active when predicting: it only acts during training, so the prediction trace "
             "shows it passing every value through." if dropout is not None else
             f"Counting {', '.join(sorted({layer.kind for layer in net.layers if not layer.params}))} as learning: "
             "they have no weights; only the layers with parameters change during training."),
        ))
    if t.epochs:
        out.append(_training_chapter(trace))
    hidden = p.first_hidden
    logits = p.output_layer.details.get("logits")
    what = f"Test image {p.sample}, a '{names[p.label]}', went through every layer"
    words = _first_hidden_words(trace)
    if hidden is not None and words is not None:
        what += (f": {hidden.details['fired']} of {hidden.details['units']} hidden neurons fired (ReLU silenced the rest)"
                 if words.zero_below else
                 f": {hidden.details['fired']} of {hidden.details['units']} first-layer neurons gave {words.nice} outputs above 0")
    if logits:
        what += f"; the output scores ranged from {number(min(logits), 2)} to {number(max(logits), 2)}"
    worst = max(ev.mistakes, key=lambda m: m.confidence) if ev.mistakes else None
    if worst is not None and worst.confidence < CONFIDENT:
        worst = None  # an 11% answer is no confident mistake: say nothing about one
    out.append(Chapter(
        "One prediction",
        what + f", and softmax gave '{names[p.predicted]}' {percent(p.confidence, 2)} ({'right' if p.correct else 'wrong'}).",
        "Softmax turns any scores into probabilities that sum to 1, so the network's answer comes with a confidence.",
        "The largest score wins, and the gaps between scores decide how sure the network is.",
        "Taking a confident answer for a right one: the confidence is what the network believes, not what is true"
        + (f" (the most confident of this run's first {count(len(ev.mistakes), 'mistake')}: test image {worst.index}, "
           f"'{names[worst.predicted]}' at {percent(worst.confidence)}, really a '{names[worst.label]}')." if worst is not None else "."),
    ))
    noise = 100 * accuracy_noise(ev.test_accuracy, max(d["test_count"], 1))
    out.append(Chapter(
        "Evaluation",
        f"{percent(ev.test_accuracy)} of {d['test_count']:,} test images right (baseline: {baseline(trace).words})"
        + _class_spread(trace),
        "One accuracy hides which classes fail; the confusion matrix shows what is mistaken for what.",
        "A table of true class against predicted class: the diagonal is right, everything else a kind of mistake.",
        "Comparing accuracies of runs on different test sets, or on a few hundred images, where one image is "
        f"{100 / max(d['test_count'], 1):.2f} points and the noise of the accuracy is about {noise:.1f} points.",
    ))
    return out


def _first_hidden_words(trace: Trace) -> ActivationWords | None:
    hidden = trace.prediction.first_hidden
    if hidden is None:
        return None
    recorded = {layer.name: layer.activation or "linear" for layer in trace.network.layers}
    return activation_words(recorded.get(hidden.layer) or hidden_activation(trace) or "")


def _neuron_model(trace: Trace) -> str:
    """What one hidden unit does, in the words of the activation this network used."""
    kinds = sorted(all_hidden_activations(trace))
    if len(kinds) == 1 and activation_words(kinds[0]) is not None:
        return "Each hidden neuron is " + activation_words(kinds[0]).passes + "."
    return "Each hidden neuron computes a weighted sum of its inputs plus a bias, then its layer's activation."


def _class_spread(trace: Trace) -> str:
    """The hardest and easiest class, named only once the network has clearly learned (the bar key_insights sets)."""
    per, names = trace.evaluation.per_class_accuracy, trace.dataset["class_names"]
    hard, easy = min(range(len(per)), key=per.__getitem__), max(range(len(per)), key=per.__getitem__)
    tested = [c for c in range(len(per)) if sum(trace.evaluation.confusion[c])]  # a class with no test images has no accuracy
    if tested:
        hard, easy = min(tested, key=per.__getitem__), max(tested, key=per.__getitem__)
    found = one_answer(trace)
    if found is not None:
        return (f"; the network answered '{names[found[0]]}' for {found[1]:,} of {found[2]:,} test images, whatever the "
                "image, so its accuracy is that class's share, not something it learned.")
    if learned(trace):
        if per[hard] != per[easy]:
            return f"; '{names[hard]}' was hardest ({percent(per[hard])}), '{names[easy]}' easiest ({percent(per[easy])})."
        return "."
    if not _clearly_above_chance(trace):
        return f"; no class stands out: the network is not clearly better than {baseline(trace).words}."
    return ("; the network has not clearly learned yet (less than half-way from the baseline to 100%), so which classes "
            "it gets right says more about its bias than about the classes.")


def _clearly_above_chance(trace: Trace) -> bool:
    """Test accuracy more than three noise widths above the baseline and the untrained start (insights.baseline)."""
    return above_baseline(trace)


def _bar_to_beat(trace: Trace) -> str:
    """The baseline, named from the training labels: guessing, or always answering the most common class."""
    names, bar = trace.dataset["class_names"], baseline(trace)
    text = ("The network only ever sees these numbers; everything it learns is a pattern in them. "
            f"With {len(names)} classes, guessing would be right {100 / len(names):.1f}% of the time")
    if bar.is_majority:
        return (text + f"; but '{names[bar.majority_class]}' makes up {percent(bar.majority_share)} of the training "
                "images, so always answering it scores that much without looking at a single pixel: that is the bar to beat.")
    return text + ": the bar to beat."


def _test_loss_trend(epochs) -> str:
    """How the test loss went, in words true for these epochs (a rise within its noise is not over-fitting)."""
    tests = [e.test_loss for e in epochs]
    if len(tests) < 2:
        return "was measured once"
    if None in tests:
        return "was not measured after every epoch"
    if all(after < before for before, after in zip(tests, tests[1:])):
        return "fell in every epoch"
    lowest = min(tests)
    if tests[-1] == lowest:
        return f"did not fall in every epoch but ended at its lowest ({number(lowest, 4)})"
    best = epochs[tests.index(lowest)].epoch
    return (f"ended at {number(tests[-1], 4)}, above its lowest ({number(lowest, 4)} after epoch {best}) by too little "
            "to tell from its measuring noise")


def _record(epoch) -> dict:
    return {"epoch": epoch.epoch, "loss": epoch.loss, "test_loss": epoch.test_loss, "test_loss_noise": epoch.test_loss_noise}


def _rose_with_training(t) -> tuple[float, float] | None:
    """(lowest, last) training loss when both losses rose beyond their noise from their lowest: instability."""
    epochs = [e for e in t.epochs if e.loss is not None and e.test_loss is not None]
    if len(epochs) < 2:
        return None
    lowest_test = min(e.test_loss for e in epochs)
    lowest = min(e.loss for e in epochs)
    last = epochs[-1]
    if rose_beyond_noise(lowest_test, last.test_loss, last.test_loss_noise) and last.loss > lowest * (1 + RISE):
        return lowest, last.loss
    return None


def _diagnosed(trace: Trace) -> str:
    """What the last epoch's health checks show (training.diagnoses), as sentences."""
    measured = [e for e in trace.training.epochs if e.layers]
    if not measured:
        return ""
    start = trace.training.start.layers if trace.training.start is not None else None
    found = health_diagnoses(measured[-1].layers, trace.training.train_measured_on, start)
    return "".join(f" After epoch {measured[-1].epoch}, {d.text}." for d in found)


def _training_chapter(trace: Trace) -> Chapter:
    """What training did, judged against chance and the test loss's trend; no praise without evidence."""
    t, net = trace.training, trace.network
    first, last = t.epochs[0], t.epochs[-1]
    loss_text = ("" if first.loss is None or last.loss is None else
                 f"the training loss went from {number(first.loss)} in epoch 1 to {number(last.loss)} in epoch {last.epoch}, ")
    optimizer = run_optimizer(trace)
    step = (f"{optimizer.name} at learning rate {net.learning_rate:g}"
            + (", cosine-decayed to 0" if net.schedule == "cosine" else "") + f": {optimizer.step}"
            if optimizer else f"{net.optimizer} at learning rate {net.learning_rate:g}")
    tests = [e.test_loss for e in t.epochs]
    classes = len(trace.dataset["class_names"])
    start = t.start.loss if getattr(t, "start", None) is not None and t.start.loss is not None else untrained_loss(classes)
    lower = rate_advice(trace.settings.optimizer if not trace.settings.model else None, net.learning_rate, "lower",
                        net.momentum)
    if last.loss is None or t.status == "diverged":
        mistake = ("Trusting numbers after the loss stopped being a number: training diverged, the sign of steps far "
                   f"too large for learning rate {net.learning_rate:g}" + (f"; {lower}." if lower else "."))
    elif last.loss > start:
        mistake = (f"Trusting an accuracy while the training loss ({number(last.loss)}) is above the untrained network's "
                   f"({number(start)}): training made the probabilities worse, the sign of steps that overshoot"
                   + (f"; {lower}." if lower else "."))
    elif (unstable := _rose_with_training(t)) is not None:
        mistake = (f"Calling a rising test loss over-fitting when the training loss rose too: here the training loss went "
                   f"from {number(unstable[0])} up to {number(unstable[1])} and the test loss with it; that is unstable "
                   f"training, steps too large for learning rate {net.learning_rate:g}, and more data or dropout would "
                   "not help" + (f"; {lower}." if lower else "."))
    elif not _clearly_above_chance(trace):
        mistake = (f"Taking a finished training run for a trained network: here test accuracy ({percent(last.test_accuracy)}) is not "
                   f"clearly above {baseline(trace).words}, so the network has not learned the classes yet.")
    elif (found := overfitting_start([_record(e) for e in t.epochs])) is not None and last.loss is not None and (
            last.loss < t.epochs[found[0]].loss and rose_beyond_noise(t.epochs[found[0]].test_loss, tests[-1], last.test_loss_noise)):
        best = t.epochs[found[0]]
        mistake = (f"Training longer and reading only the training loss: here the test loss was lowest after epoch {best.epoch} "
                   f"({number(best.test_loss, 4)}) and rose to {number(tests[-1], 4)}, more than its measuring noise, while "
                   "the training loss kept falling: the pattern of over-fitting.")
    else:
        bar = baseline(trace)
        mistake = ("Reading a falling training loss as success: judge by the test set. Here the test loss "
                   + _test_loss_trend(t.epochs)
                   + f" and test accuracy is {percent(last.test_accuracy)} against {bar.words}"
                   + ("." if learned(trace) else ": above that, but less than half-way from it to every image right."))
    diagnosed = _diagnosed(trace)
    return Chapter(
        "Training",
        f"{count(len(t.epochs), 'epoch')} of {count(t.steps_per_epoch, 'batch', 'batches')} of {t.batch_size}: {loss_text}"
        f"test accuracy reached {percent(last.test_accuracy)}." + diagnosed,
        "The loss is what training lowers; accuracy is what we care about. They usually move together, not always.",
        "Walking downhill in fog: each batch's gradient says which way is down from here, the learning rate how far to step ("
        + step + ").",
        mistake,
    )
