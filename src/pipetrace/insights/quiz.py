"""Quiz questions built from a Trace: answer keys are numbers the run measured.

The first three questions mirror the seed page: what a stage does (distractors are what
the other stages did), a shape, and an accuracy. More come from the same run on request.

>>> quiz = build_quiz(trace, count=3, seed=0)            # doctest: +SKIP
>>> quiz[0].options[quiz[0].answer]                       # doctest: +SKIP
'Laid each 28 x 28 image out as one row of 784 values'
"""

from __future__ import annotations

import random

from pipetrace.stages.measure import shape_text
from pipetrace.trace import Question, Trace


def build_quiz(trace: Trace, count: int, seed: int = 0) -> list[Question]:
    """The first `count` questions of the pool, each with its options shuffled by `seed`."""
    pool = quiz_pool(trace)
    if count > len(pool):
        from pipetrace.errors import SettingsError

        raise SettingsError(f"--questions {count}: this run yields {len(pool)} questions at most")
    return [_shuffled(q, random.Random(seed * 1000 + i)) for i, q in enumerate(pool[:count])]


def quiz_pool(trace: Trace) -> list[Question]:
    """Every question this trace can answer, in the order they are asked."""
    questions = []
    for make in QUESTION_MAKERS:
        question = make(trace)
        if question is not None and len(set(question.options)) == len(question.options) >= 2:
            questions.append(question)
    return questions


def _makers():
    return [
        _stage_purpose,
        _flatten_shape,
        _final_accuracy,
        _hidden_params,
        _fired_neurons,
        _pixel_index,
        _train_count,
        _prediction,
        _loss_drop,
        _hardest_class,
        _preprocessed_value,
    ]


def _shuffled(question: Question, rng: random.Random) -> Question:
    order = list(range(len(question.options)))
    rng.shuffle(order)
    options = [question.options[i] for i in order]
    return Question(
        question.text, options, order.index(question.answer), question.explanation, question.kind, question.level
    )


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _distinct(correct: str, candidates: list[str], want: int = 3) -> list[str]:
    options = [correct]
    for option in candidates:
        if option not in options:
            options.append(option)
        if len(options) == want + 1:
            break
    return options


def _stage(trace: Trace, name: str):
    return next(s for s in trace.stages if s.name == name)


# ---- the questions ----------------------------------------------------------------------


def _stage_purpose(trace: Trace) -> Question:
    shaping = trace.stages[2]  # Flatten (or Reshape, for a network that reads images)
    others = [s.did for s in trace.stages if s is not shaping]
    return Question(
        text=f"What does the '{shaping.name}' step do to the data?",
        options=_distinct(shaping.did, [others[1], others[2], others[0], others[3]]),
        answer=0,
        explanation=f"{shaping.name} only rearranges: {shape_text(shaping.inputs[0].shape)} -> {shape_text(shaping.outputs[0].shape)}, the same values, nothing computed",
        kind="concept",
    )


def _flatten_shape(trace: Trace) -> Question:
    shaping = trace.stages[2]
    shape = shaping.outputs[0].shape
    correct = shape_text(shape)
    shapes = [shape_text(a.shape) for s in trace.stages[:4] for a in s.outputs + s.inputs if len(a.shape) > 1]
    shapes.append(shape_text([shape[0], *reversed(shape[1:])]))
    return Question(
        text=f"What shape does the data have after the {shaping.name} stage?",
        options=_distinct(correct, shapes),
        answer=0,
        explanation=f"{shape[0]} images, each now {shape_text(shape[1:])} ({shaping.details['height']} x {shaping.details['width']} pixels)",
        kind="measured",
    )


def _final_accuracy(trace: Trace) -> Question | None:
    epochs = trace.training.epochs
    if not epochs:
        return None
    last, first = epochs[-1], epochs[0]
    classes = len(trace.dataset["class_names"])
    correct = _pct(last.test_accuracy)
    return Question(
        text=f"What accuracy did the network reach on the {trace.dataset['test_count']} test images after epoch {last.epoch}?",
        options=_distinct(correct, [_pct(last.accuracy), _pct(first.test_accuracy), _pct(1 / classes), _pct(min(1.0, last.test_accuracy + 0.02))]),
        answer=0,
        explanation=(
            f"Measured on images it never trained on: {correct} (training accuracy was {_pct(last.accuracy)}, "
            f"chance is {_pct(1 / classes)})"
        ),
        kind="measured",
        level="medium",
    )


def _hidden_params(trace: Trace) -> Question | None:
    learning = [layer for layer in trace.network.layers if layer.params]
    if len(learning) < 2:
        return None
    first, last = learning[0], learning[-1]
    correct = f"{first.params:,}"
    if first.kind == "Dense":
        how = f"{first.input_size} inputs x {first.units} units = {first.weights:,} weights, plus {first.biases} biases"
    else:
        how = f"{first.weights:,} weights in its kernels plus {first.biases} biases" + (f" plus {first.other} other numbers" if first.other else "")
    return Question(
        text=f"How many numbers (weights + biases) does the first learning layer, {first.label or first.kind}, learn?",
        options=_distinct(correct, [f"{first.weights:,}", f"{last.params:,}", f"{trace.network.total_params:,}", f"{first.units:,}", f"{first.params + first.units:,}"]),
        answer=0,
        explanation=how,
        kind="measured",
        level="medium",
    )


def _fired_neurons(trace: Trace) -> Question | None:
    layer = trace.prediction.first_hidden
    if layer is None:
        return None
    fired, units = layer.details["fired"], layer.details["units"]
    return Question(
        text=f"For test image {trace.prediction.sample}, how many of the {units} hidden neurons fired (output > 0)?",
        options=_distinct(str(fired), [str(units - fired), str(units), str(len(trace.prediction.output_layer.values)), str(fired // 2), str(fired + 1)]),
        answer=0,
        explanation=f"ReLU passed {fired} positive weighted sums and set the other {units - fired} to 0",
        kind="measured",
        level="hard",
    )


def _pixel_index(trace: Trace) -> Question | None:
    if trace.stages[2].name != "Flatten" or trace.stages[2].details.get("channels", 1) != 1:
        return None
    d = trace.stages[2].details
    row, col, width = d["row"], d["col"], d["width"]
    correct = str(d["index"])
    return Question(
        text=f"After Flatten, at which index of the {d['height'] * width}-value row is pixel (row {row}, column {col})?",
        options=_distinct(correct, [str(width * col + row), str(row + col), str(width * row + col + 1), str(row * col)]),
        answer=0,
        explanation=f"Rows are laid end to end: {width} x {row} + {col} = {d['index']} (counting from 0)",
        kind="measured",
        level="medium",
    )


def _train_count(trace: Trace) -> Question:
    d = _stage(trace, "Train/Test split").details
    names = d["class_names"]
    label = trace.prediction.label
    train, test = d["train_counts"], d["test_counts"]
    other = (label + 1) % len(train)
    correct = f"{train[label]:,}"
    return Question(
        text=f"How many training images of '{names[label]}' did the split stage count?",
        options=_distinct(correct, [f"{test[label]:,}", f"{train[other]:,}", f"{sum(train) // len(train):,}", f"{train[label] + test[label]:,}"]),
        answer=0,
        explanation=f"The training part holds {train[label]:,} '{names[label]}'s and the test part {test[label]:,}; classes are not exactly balanced",
        kind="measured",
    )


def _prediction(trace: Trace) -> Question:
    p = trace.prediction
    names = trace.dataset["class_names"]
    probabilities = trace.prediction.output_layer.values
    ranked = sorted(range(len(probabilities)), key=lambda c: -probabilities[c])
    options = [f"'{names[c]}' with {_pct(probabilities[c])}" for c in ranked[:4]]
    if len(set(options)) < len(options):
        return None
    return Question(
        text=f"What did the network predict for test image {p.sample} (a '{names[p.label]}'), and how sure was it?",
        options=options,
        answer=0,
        explanation=f"Softmax gave '{names[p.predicted]}' the largest probability, {_pct(p.confidence)}: {'right' if p.correct else 'wrong'}",
        kind="measured",
        level="medium",
    )


def _loss_drop(trace: Trace) -> Question | None:
    epochs = trace.training.epochs
    if len(epochs) < 2 or epochs[0].loss is None or epochs[-1].loss is None:
        return None
    first, last = epochs[0].loss, epochs[-1].loss
    drop = (first - last) / first
    correct = f"{drop:.0%}"
    return Question(
        text=f"By how much did the training loss fall from epoch 1 ({first:.3f}) to epoch {len(epochs)}?",
        options=_distinct(correct, [f"{drop / 2:.0%}", f"{min(drop * 1.5, 0.99):.0%}", f"{1 - drop:.0%}", f"{drop / 3:.0%}"]),
        answer=0,
        explanation=f"{first:.3f} -> {last:.3f} is a fall of {correct}",
        kind="measured",
        level="hard",
    )


def _hardest_class(trace: Trace) -> Question:
    accuracy = trace.evaluation.per_class_accuracy
    names = trace.dataset["class_names"]
    ranked = sorted(range(len(accuracy)), key=lambda c: accuracy[c])
    options = [f"'{names[c]}'" for c in (ranked[0], ranked[-1], ranked[len(ranked) // 2], ranked[1])]
    return Question(
        text="Which class did the trained network get right least often on the test set?",
        options=options,
        answer=0,
        explanation=f"'{names[ranked[0]]}' was right {_pct(accuracy[ranked[0]])} of the time; '{names[ranked[-1]]}' {_pct(accuracy[ranked[-1]])}",
        kind="measured",
        level="hard",
    )


def _preprocessed_value(trace: Trace) -> Question | None:
    examples = _stage(trace, "Preprocessing").details["examples"]
    if len(examples) < 3:
        return None
    e = examples[2]
    correct = f"{e['after']:.4f}"
    return Question(
        text=f"Pixel (row {e['row']}, column {e['col']}) of the sample image is {e['before']}. What is it after preprocessing?",
        options=_distinct(correct, [f"{e['before']:.4f}", f"{e['before'] / 100:.4f}", f"{1 - e['after']:.4f}", f"{e['before'] / 128:.4f}"]),
        answer=0,
        explanation=f"{e['before']} / 255 = {e['after']:.4f}",
        kind="measured",
    )


QUESTION_MAKERS = _makers()
MAX_QUESTIONS = len(QUESTION_MAKERS)  # checked before a run starts, so a bad --questions trains nothing
