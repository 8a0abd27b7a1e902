"""Diagnoses from the health checks (`training.health`): what broke, with the evidence that shows it.

A closed table of sentences (`DIAGNOSES`, re-exported by insights.teaching), each filled only with numbers
the run recorded; a diagnosis whose evidence is missing (an older trace, a model pipetrace could not read)
says nothing. The epoch observations, the key insights, `learn explain` and the report all read these.

>>> from pipetrace.trace import LayerHealth
>>> dead_units([LayerHealth("dense", 128, dead=127)], 2000).figures["dead"]
127
"""

from __future__ import annotations

from dataclasses import dataclass

from pipetrace.numbers import percent, rate
from pipetrace.trace import LayerHealth

DEAD_SHARE = 0.25  # a quarter of a layer's ReLU units silent on every measured image is worth saying
SATURATED_SHARE = 0.5  # half of a layer's sigmoid/tanh outputs pinned near their limits
VANISHING_RATIO = 100.0  # the first layer's gradient this many times smaller than the output layer's
SCHEDULE_ENDED = 0.01  # a rate below 1% of the starting rate no longer moves the weights much

DIAGNOSES = {
    "dead_units": ("{dead} of {units} units of '{layer}' are dead: their ReLU output was 0 for every one of the "
                   "{images:,} measured training images, so they pass nothing on and their weights get no gradient "
                   "to recover"),
    "dead_killed": ("training killed {killed} of them ({before} were dead before it): a step that pushes a unit's "
                    "weighted sum below 0 for every image kills it, and the larger the steps the more often that happens"),
    "dead_from_start": ("they were dead before training began, so the inputs or the starting weights left them at 0, "
                        "not the steps"),
    "saturated": ("{share} of the {activation} outputs of '{layer}' sit within 0.01 of their limits, where the "
                  "{activation} curve is flat: the gradient through those units almost vanishes and they stop learning"),
    "vanishing": ("the gradient reaching the first layer ('{first}', {first_size}) is {ratio} times smaller than the "
                  "one at the output layer ('{last}', {last_size}): vanishing gradients, the first layers barely "
                  "learn"),
    "schedule_ended": ("the learning rate had decayed to {now} (from {start}) by the end of epoch {epoch}: steps "
                       "this small leave the loss where it is, so a flat loss here is the schedule's end, not the "
                       "network's limit"),
}


@dataclass(frozen=True)
class Diagnosis:
    """One finding: its kind (a key of DIAGNOSES), its sentence, and the figures it rests on."""

    kind: str
    text: str
    figures: dict[str, float]


def dead_units(layers: list[LayerHealth], images: int, start: list[LayerHealth] | None = None) -> Diagnosis | None:
    """The layer with the largest share of dead ReLU units, when at least DEAD_SHARE of it is dead.

    With the same layer measured before training (`start`), it says whether training killed them.
    """
    measured = [h for h in layers if h.dead is not None and h.units]
    if not measured:
        return None
    worst = max(measured, key=lambda h: h.dead / h.units)
    if worst.dead / worst.units < DEAD_SHARE or not worst.dead:
        return None
    text = DIAGNOSES["dead_units"].format(dead=worst.dead, units=worst.units, layer=worst.layer, images=images)
    figures = {"dead": worst.dead, "units": worst.units, "images": images}
    before = next((h.dead for h in start or [] if h.layer == worst.layer and h.dead is not None), None)
    if before is not None and before >= worst.dead:
        text += "; " + DIAGNOSES["dead_from_start"]
    elif before is not None:
        text += "; " + DIAGNOSES["dead_killed"].format(killed=worst.dead - before, before=before)
    if before is not None:
        figures["dead_before_training"] = before
    return Diagnosis("dead_units", text, figures)


def saturated_units(layers: list[LayerHealth]) -> Diagnosis | None:
    """The layer with the largest share of saturated sigmoid/tanh outputs, when at least SATURATED_SHARE."""
    measured = [h for h in layers if h.saturated is not None]
    if not measured:
        return None
    worst = max(measured, key=lambda h: h.saturated)
    if worst.saturated < SATURATED_SHARE:
        return None
    text = DIAGNOSES["saturated"].format(share=percent(worst.saturated), activation=worst.activation, layer=worst.layer)
    return Diagnosis("saturated", text, {"saturated": worst.saturated})


def vanishing_gradients(layers: list[LayerHealth]) -> Diagnosis | None:
    """First against last layer's gradient size, for networks of three or more measured layers."""
    measured = [h for h in layers if h.gradient is not None]
    if len(measured) < 3:
        return None
    first, last = measured[0], measured[-1]
    if not last.gradient or first.gradient * VANISHING_RATIO > last.gradient:
        return None
    ratio = last.gradient / first.gradient if first.gradient else float("inf")
    shown = f"{ratio:,.0f}" if ratio != float("inf") else "infinitely many"
    text = DIAGNOSES["vanishing"].format(first=first.layer, first_size=f"{first.gradient:.2g}", ratio=shown,
                                         last=last.layer, last_size=f"{last.gradient:.2g}")
    return Diagnosis("vanishing", text, {"first_gradient": first.gradient, "last_gradient": last.gradient})


def schedule_ended(applied: float | None, start: float | None, epoch: int) -> Diagnosis | None:
    """The rate applied at the epoch's end below SCHEDULE_ENDED of the starting rate."""
    if applied is None or not start or applied >= SCHEDULE_ENDED * start:
        return None
    text = DIAGNOSES["schedule_ended"].format(now=f"{applied:.2g}" if applied > 0 else "0", start=rate(start), epoch=epoch)
    return Diagnosis("schedule_ended", text, {"learning_rate": applied, "start": start})


def health_diagnoses(layers: list[LayerHealth], images: int, start: list[LayerHealth] | None = None) -> list[Diagnosis]:
    """Every diagnosis the layer measurements of one epoch support, in a fixed order (`start`: before training)."""
    found = (dead_units(layers, images, start), saturated_units(layers), vanishing_gradients(layers))
    return [d for d in found if d is not None]
