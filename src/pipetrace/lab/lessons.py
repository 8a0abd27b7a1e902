"""The lessons of `pipetrace learn lesson` as the lab serves them: each variant's settings as POST /api/runs
takes them, whether this lab refuses one (its limits), and the lesson's reading from the variants' saved traces.

The reading is the lesson's own (`modes/lesson.py`), computed here on the server from validated traces, so
the page shows the same sentences `pipetrace learn lesson` prints, for the runs the learner made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pipetrace.errors import PipetraceError
from pipetrace.modes.experiment import label, variant_settings
from pipetrace.modes.lesson import LESSONS, Lesson, lesson_named, lesson_settings


def lessons(settings_keys: tuple[str, ...], refusal: Callable[[dict], str | None], limit: int | None = None) -> list[dict]:
    """Every lesson: its question, what to look for, and each variant's settings (only `settings_keys`) with
    why this lab would refuse it (None when it would not). `limit` replaces the lessons' training images."""
    return [{"name": lesson.name, "question": lesson.question, "setting": lesson.setting, "look_for": lesson.look_for,
             "variants": variants(lesson, settings_keys, refusal, limit)} for lesson in LESSONS]


def variants(lesson: Lesson, settings_keys: tuple[str, ...], refusal, limit: int | None) -> list[dict]:
    base = lesson_settings(lesson, limit)
    found = []
    for value in lesson.values:
        chosen = dataclasses.asdict(variant_settings(base, lesson.setting, value))
        settings = {key: chosen[key] for key in settings_keys if key in chosen}
        found.append({"name": label(lesson.setting, value), "value": value, "settings": settings,
                      "refused": refusal(settings)})
    return found


def reading(name: str, traces: list) -> dict:
    """What the variants' runs showed (`lines`), in the lesson's order; `why` instead when it cannot be read.

    `traces` are the runs' validated traces, one a variant in the lesson's order: each must have the
    variant's value of the lesson's setting, else the sentences would name the wrong runs.
    """
    lesson = lesson_named(name)
    if len(traces) != len(lesson.values):
        return {"lines": [], "why": f"the lesson has {len(lesson.values)} variants; give one saved run for each"}
    runs = []
    for trace, value in zip(traces, lesson.values):
        had = getattr(trace.settings, lesson.setting)
        matches = list(had) == value if isinstance(value, list) else had == value
        if not matches:
            return {"lines": [], "why": f"a run has {lesson.setting} {had}, not the variant's {value}: "
                                        "give the lesson's variants in its order"}
        runs.append((label(lesson.setting, value), value, trace))
    try:
        return {"lines": lesson.read(runs), "why": None}
    except PipetraceError as error:  # capacity chooses on a validation split, which lab runs do not hold out
        return {"lines": [], "why": f"{error}; compare the variants instead (tick two runs, then Compare)"}
