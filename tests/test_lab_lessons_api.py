"""The lab's lessons (GET /api/lessons, a lesson's reading) and /api/compare's per-epoch series, through the
HTTP API with the fake runner of test_lab_api (the browser side is tests/test_lab_charts.py)."""

from __future__ import annotations

import dataclasses
import math

import pytest

pytest.importorskip("starlette")
from test_lab_api import AUTH, FOLDER_RUN, lab, runs_dir  # noqa: E402,F401 (the API's fixtures)

from pipetrace.lab.app import SETTINGS  # noqa: E402
from pipetrace.modes.experiment import variant_settings  # noqa: E402
from pipetrace.modes.lesson import LESSONS, lesson_settings  # noqa: E402
from pipetrace.trace.reading import read_trace  # noqa: E402


def test_lessons_are_the_learn_lesson_ones_with_each_variants_full_settings(lab):  # noqa: F811
    client, _ = lab
    answer = client.get("/api/lessons", headers=AUTH)
    assert answer.status_code == 200
    served = answer.json()["lessons"]
    assert [s["name"] for s in served] == [lesson.name for lesson in LESSONS]
    for lesson, shown in zip(LESSONS, served):
        assert (shown["question"], shown["look_for"], shown["setting"]) == (lesson.question, lesson.look_for, lesson.setting)
        assert [v["value"] for v in shown["variants"]] == lesson.values
        for value, variant in zip(lesson.values, shown["variants"]):
            expected = dataclasses.asdict(variant_settings(lesson_settings(lesson, None), lesson.setting, value))
            assert variant["settings"] == {key: expected[key] for key in SETTINGS if key != "image_size"}


def test_a_limit_applies_to_every_variant_and_a_variant_past_the_labs_limits_says_why(lab):  # noqa: F811
    client, runner = lab  # this lab allows at most 10 epochs: memorizing's 40-epoch variant is refused
    served = {s["name"]: s for s in client.get("/api/lessons?limit=600", headers=AUTH).json()["lessons"]}
    assert all(v["settings"]["limit"] == 600 for s in served.values() for v in s["variants"])
    memorizing = served["memorizing"]["variants"]
    assert memorizing[0]["refused"] is None
    assert "--epochs 40 is more than this lab allows (at most 10" in memorizing[1]["refused"]
    assert client.post("/api/runs", json=memorizing[1]["settings"], headers=AUTH).status_code == 400  # as POST says
    assert client.post("/api/runs", json=memorizing[0]["settings"], headers=AUTH).status_code == 202  # as POST takes them
    for bad in ("0", "-1", "x", "1e3"):
        refused = client.get(f"/api/lessons?limit={bad}", headers=AUTH)
        assert refused.status_code == 400 and "limit must be a whole number" in refused.json()["error"]


def test_a_reading_needs_one_saved_run_a_variant_with_the_variants_value(lab, runs_dir):  # noqa: F811
    client, _ = lab  # the folder run has the default learning rate: not the rate-too-high variants'
    answer = client.get(f"/api/lessons/rate-too-high/reading?runs={FOLDER_RUN},{FOLDER_RUN}", headers=AUTH).json()
    assert answer["lines"] == [] and "not the variant's 0.001" in answer["why"]
    answer = client.get(f"/api/lessons/rate-too-high/reading?runs={FOLDER_RUN}", headers=AUTH).json()
    assert answer["lines"] == [] and "give one saved run for each" in answer["why"]
    answer = client.get("/api/lessons/rate-too-high/reading?runs=20990101-000000,20990101-000001", headers=AUTH).json()
    assert "not every variant's run is finished and saved" in answer["why"]
    assert client.get("/api/lessons/nope/reading?runs=x", headers=AUTH).status_code == 404
    assert client.get("/api/lessons/rate-too-high/reading?runs=..%2Fx", headers=AUTH).status_code == 404
    assert client.get("/api/lessons", headers={"Authorization": "token wrong"}).status_code == 403


def test_compare_gives_each_runs_epoch_series_from_its_trace(lab, runs_dir):  # noqa: F811
    client, _ = lab
    trace = read_trace(runs_dir / FOLDER_RUN / "trace.json")
    epochs = client.get(f"/api/compare?a={FOLDER_RUN}&b={FOLDER_RUN}", headers=AUTH).json()["epochs"]
    rows = [trace.training.start, *trace.training.epochs]
    for side in ("a", "b"):
        assert epochs[side]["epoch"] == [row.epoch for row in rows] == [0, 1, 2]
        for measure in ("loss", "accuracy", "test_loss", "test_accuracy"):
            assert epochs[side][measure] == [getattr(row, measure) for row in rows]
            assert all(math.isfinite(v) for v in epochs[side][measure])


def test_a_reading_that_needs_a_validation_split_says_so_instead_of_failing(small_run):
    from pipetrace.lab.lessons import reading

    trace, _ = small_run  # a run without a validation split, as every lab run is
    capacity = next(lesson for lesson in LESSONS if lesson.name == "capacity")
    traces = [dataclasses.replace(trace, settings=dataclasses.replace(trace.settings, hidden=list(value)))
              for value in capacity.values]
    answer = reading("capacity", traces)
    assert answer["lines"] == [] and "held no training images out" in answer["why"]
    assert "compare the variants instead" in answer["why"]
