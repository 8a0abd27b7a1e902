"""Mode `walk`: step through the pipeline one stage at a time, at the learner's pace.

Each step shows the stage's measured numbers, the lines of NumPy/Keras code that do it (the
same lines `pipetrace learn code --exact` writes), and one check-yourself question whose answer
is a number of this run. `steps(trace)` builds them as plain data (no rich, no HTML); the
terminal (views/learn.py: keys 1-4 answer, Enter goes on, b goes back, q quits; piped, one key
a line) and the report's walk panel (views/html/modes.py) render the same steps.

>>> [step.title for step in steps(trace)][:2]          # doctest: +SKIP
['Load', 'Preprocessing']
"""

from __future__ import annotations

from dataclasses import dataclass

from pipetrace.insights.quiz import _distinct
from pipetrace.modes.code import Block, blocks
from pipetrace.numbers import number, percent, probability
from pipetrace.stages.measure import shape_text
from pipetrace.trace import Question, Stage, Trace

LETTERS = "1234"  # answers are numbers here: b already means back


@dataclass
class Step:
    """One stop of the walk, as plain data: what to show, the code behind it, and the question to check yourself.

    `facts` are (label, text) rows every view shows; `picture` names the part of the trace a view
    may also draw if it can ("stage:N", "training", "prediction"), so no drawing lives here.
    """

    title: str
    facts: list[tuple[str, str]]
    code: list[str]
    question: Question
    picture: str = ""


def steps(trace: Trace) -> list[Step]:
    """The stages, then training and the prediction, each with its code and question."""
    code = {block.stage: block for block in _code_blocks(trace)}
    out = []
    building, one_step = _model_code(code["Model training"].lines if "Model training" in code else [])
    for index, stage in enumerate(trace.stages):
        lines = building if stage.number == 5 else code[stage.name].lines if stage.name in code else []
        out.append(Step(f"Stage {stage.number}: {stage.name}", stage_facts(stage), lines, QUESTIONS[stage.number](trace),
                        f"stage:{index}"))
    out.append(Step("Training, epoch by epoch", training_facts(trace), one_step, _epoch_question(trace), "training"))
    evaluation = code["Evaluation"].lines[:2] if "Evaluation" in code else []
    out.append(Step(f"One prediction, layer by layer (test image {trace.prediction.sample})", prediction_facts(trace),
                    ["probabilities = model.predict(x_test[[SAMPLE]], verbose=0)[0]", "predicted = probabilities.argmax()"]
                    if not evaluation else [f"SAMPLE = {trace.prediction.sample}",
                                            "probabilities = model.predict(x_test[[SAMPLE]], verbose=0)[0]",
                                            "predicted = int(probabilities.argmax())  # the class with the largest probability"],
                    _prediction_question(trace), "prediction"))
    return out


def _array(info) -> str:
    return f"{info.name} {shape_text(info.shape)} {info.dtype}, values {info.min:.4g}..{info.max:.4g}"


def stage_facts(stage: Stage) -> list[tuple[str, str]]:
    """in, out, did, example, time, and the stage's own counts (labels per class, parameters per layer)."""
    d = stage.details
    facts = [("in", "; ".join(_array(a) for a in stage.inputs) or f"{len(d.get('files', []))} files"),
             ("out", "; ".join(_array(a) for a in stage.outputs)), ("did", stage.did), ("example", stage.example),
             ("time", f"{stage.seconds:.2f} s")]
    if stage.name == "Train/Test split" and "class_names" in d:
        for part in ("train", "test"):
            counts = d[f"{part}_counts"]
            facts.append((part, ", ".join(f"'{name}' {count:,}" for name, count in zip(d["class_names"], counts))
                          + f"; {sum(counts):,} in all"))
    if stage.name == "Model training" and "parameters" in d:
        facts += [(p["layer"], f"{p['weights']:,} weights + {p['biases']:,} biases = {p['params']:,}") for p in d["parameters"]]
        facts.append(("total", f"{d['total_params']:,} parameters"))
    return facts


def training_facts(trace: Trace) -> list[tuple[str, str]]:
    """One row per epoch (epoch 0 first when the trace measured the untrained network)."""
    t = trace.training
    rows = [("epoch 0", f"before training: loss {number(t.start.loss)}, test loss {number(t.start.test_loss)}, "
                        f"test accuracy {percent(t.start.test_accuracy)}")] if getattr(t, "start", None) else []
    measured = "accuracy" if getattr(t, "train_measured_on", 0) else "running accuracy during the epoch"
    for e in t.epochs:
        rows.append((f"epoch {e.epoch}", f"loss {number(e.loss)}, {measured} {percent(e.accuracy)}, test loss "
                                         f"{number(e.test_loss)}, test accuracy {percent(e.test_accuracy)}, {e.seconds:.1f} s. "
                                         f"{e.observation}"))
    if t.status != "completed":
        rows.append(("status", f"training {t.status} after {len(t.epochs)} of {t.epochs_planned} epochs"))
    return rows


def prediction_facts(trace: Trace) -> list[tuple[str, str]]:
    """Each layer's summary, then the classes the network found most likely."""
    p, names = trace.prediction, trace.dataset["class_names"]
    rows = [(layer.name, layer.summary) for layer in p.layers]
    probabilities = p.output_layer.values
    if probabilities:
        ranked = sorted(range(len(probabilities)), key=lambda c: -probabilities[c])[:3]
        rows.append(("most likely", ", ".join(f"'{names[c]}' {probability(probabilities[c])}" for c in ranked)))
    return rows


def _model_code(lines: list[str]) -> tuple[list[str], list[str]]:
    """The model block split in two: building and compiling the network; one training step (tape to update)."""
    loop = next((i for i, line in enumerate(lines) if line.startswith("# The training loop")), len(lines))
    building = list(lines[:loop])
    while building and not building[-1].strip():
        building.pop()
    start = next((i for i, line in enumerate(lines) if "tf.GradientTape()" in line), None)
    stop = next((i for i, line in enumerate(lines) if "optimizer.apply(" in line), None)
    if start is None or stop is None or stop < start:
        return building, lines[-2:]
    indent = len(lines[start]) - len(lines[start].lstrip())
    step = [line[indent:] for line in lines[start:stop + 1]]
    return building, ["# one training step, for each batch:"] + step


def _code_blocks(trace: Trace) -> list[Block]:
    try:
        return blocks(trace)
    except Exception:  # a run `code` cannot rewrite (an image folder, a layer it cannot write): walk without code
        return []


# ---- one check-yourself question per step, every key a number of this run ----------------
def _question(text: str, correct: str, others: list[str], explanation: str) -> Question:
    options = _distinct(correct, others)
    return Question(text, options, 0, explanation, "measured")


def _load_question(trace: Trace) -> Question:
    d = trace.stages[0].details
    total = d["train_count"] + d["test_count"]
    return _question("How many labelled images did the Load stage read in all?", f"{total:,}",
                     [f"{d['train_count']:,}", f"{d['test_count']:,}", f"{total * 2:,}", f"{total - 1:,}"],
                     f"{d['train_count']:,} training + {d['test_count']:,} test = {total:,}")


def _scale_question(trace: Trace) -> Question:
    d = trace.stages[1].details
    e = d["examples"][-1]
    return _question(f"Pixel ({e['row']}, {e['col']}) was {e['before']}. What did preprocessing make of it?",
                     f"{e['after']:.4f}", [f"{e['before']:.4f}", f"{1 - e['after']:.4f}", f"{e['before'] / 100:.4f}", f"{e['after'] / 2:.4f}"],
                     f"{e['before']} / {d['scale']:g} = {e['after']:.4f}")


def _shape_question(trace: Trace) -> Question:
    stage = trace.stages[2]
    d = stage.details
    if stage.name == "Flatten" and d.get("channels", 1) == 1:
        w = d["width"]
        return _question(f"After Flatten, where is pixel (row {d['row']}, column {d['col']})?", str(d["index"]),
                         [str(w * d["col"] + d["row"]), str(d["row"] + d["col"]), str(d["index"] + 1), str(d["row"] * d["col"])],
                         f"{w} x {d['row']} + {d['col']} = {d['index']}: rows are laid end to end")
    out = shape_text(stage.outputs[0].shape[1:])
    return _question(f"What shape does each image have after {stage.name}?", out,
                     [shape_text(stage.inputs[0].shape[1:]), shape_text([stage.outputs[0].shape[0]]), "1 x 1", out + " x 1"],
                     stage.did)


def _split_question(trace: Trace) -> Question:
    d = trace.stages[3].details
    train, test = sum(d["train_counts"]), sum(d["test_counts"])
    return _question("How many images only test the network, never training it?", f"{test:,}",
                     [f"{train:,}", f"{train + test:,}", f"{test // 2:,}", f"{test * 6:,}"], trace.stages[3].did)


def _params_question(trace: Trace) -> Question:
    learning = [layer for layer in trace.network.layers if layer.params]
    first = learning[0]
    return _question(f"How many numbers does {first.label or first.name} learn?", f"{first.params:,}",
                     [f"{first.weights:,}", f"{first.units:,}", f"{trace.network.total_params:,}", f"{first.input_size:,}"],
                     f"{first.weights:,} weights + {first.biases:,} biases" + (f" + {first.other:,} other" if first.other else ""))


def _epoch_question(trace: Trace) -> Question:
    t = trace.training
    return _question(f"How many batches of {t.batch_size} make one epoch of {trace.dataset['train_count']:,} images?",
                     f"{t.steps_per_epoch:,}", [f"{t.batch_size:,}", f"{trace.dataset['train_count']:,}",
                                                f"{t.steps_per_epoch * len(t.epochs) + 1:,}", f"{t.steps_per_epoch + 1:,}"],
                     f"{trace.dataset['train_count']:,} / {t.batch_size}, rounded up")


def _prediction_question(trace: Trace) -> Question:
    p, names = trace.prediction, trace.dataset["class_names"]
    probs = p.output_layer.values
    ranked = sorted(range(len(probs)), key=lambda c: -probs[c])
    return _question(f"What probability did the network give its answer, '{names[p.predicted]}'?", probability(p.confidence),
                     [probability(probs[c]) for c in ranked[1:4]] + [probability(1 / len(probs)), probability(1 - p.confidence)],
                     f"softmax gave '{names[p.predicted]}' {probability(p.confidence)}; the true label is '{names[p.label]}'")


QUESTIONS = {1: _load_question, 2: _scale_question, 3: _shape_question, 4: _split_question, 5: _params_question}


def shuffled(question: Question, number: int) -> Question:
    """The key moved to a place that depends on the step, so it is not always A."""
    n = len(question.options)
    shift = (number * 3 + 1) % n
    options = question.options[-shift:] + question.options[:-shift] if shift else list(question.options)
    return Question(question.text, options, options.index(question.options[question.answer]), question.explanation,
                    question.kind, question.level)
