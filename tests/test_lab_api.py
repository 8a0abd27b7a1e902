"""The lab's HTTP API with Starlette's test client: access, hostile requests, settings, run files, events.

A fake runner stands in for Dask here (tests/test_lab_server.py trains for real): what is
tested is the app's own behaviour, the answers and refusals a browser or a script gets.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette")
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2, not on the package index this project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipetrace.lab.app import LabConfig, cookie_name, create_app  # noqa: E402
from pipetrace.lab.runner import LabRun  # noqa: E402

TOKEN = "test-token-123"
AUTH = {"Authorization": f"token {TOKEN}"}
FOLDER_RUN = "20250101-120000"


class FakeRunner:
    """Keeps runs in memory and ends each at once with the events a real one sends."""

    def __init__(self, runs_dir: Path):
        self.runs_dir, self._runs, self.stopped = runs_dir, {}, []

    def submit(self, settings):
        run_id = f"20260101-00000{len(self._runs)}-abc123"
        run = LabRun(run_id, settings, self.runs_dir / run_id, f"2099-01-01T00:00:0{len(self._runs)}+00:00")
        run.events.add("queued", {"position": 0, "settings": settings})
        self._runs[run_id] = run
        return run

    def finish(self, run_id):
        events = self._runs[run_id].events
        events.add("started", {"worker": "tcp://127.0.0.1:1"})
        events.add("batch", {"epoch": 1, "step": 2, "steps": 2, "losses": [2.3, 2.1]})
        events.add("done", {"status": "completed", "test_accuracy": 0.5, "epochs": 1, "saved": False})

    def stop(self, run_id):
        self.stopped.append(run_id)

    def get(self, run_id):
        return self._runs.get(run_id)

    def runs(self):
        return list(self._runs.values())

    def position(self, run):
        return 0


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, small_run):
    """A --runs folder with a run made by the command line, an unreadable one and planted links."""
    _trace, folder = small_run
    runs = tmp_path_factory.mktemp("lab-runs")
    shutil.copytree(folder, runs / FOLDER_RUN, ignore=shutil.ignore_patterns(".pipetrace.lock"))
    hostile = runs / "20250101-120001"
    hostile.mkdir()
    (hostile / "trace.json").write_text(json.dumps({"schema_version": 1, "settings": "<script>"}))
    linked = runs / "20250101-120002"
    linked.mkdir()
    (linked / "trace.json").symlink_to(runs / FOLDER_RUN / "trace.json")
    (linked / "report.html").symlink_to("/etc/passwd")
    (runs / "20250101-120003").symlink_to(runs / FOLDER_RUN)
    return runs


@pytest.fixture()
def lab(runs_dir):
    runner = FakeRunner(runs_dir)
    config = LabConfig(token=TOKEN, runs_dir=runs_dir, max_epochs=10)
    client = TestClient(create_app(config, runner), base_url="http://127.0.0.1:8000")
    return client, runner


def test_api_refuses_requests_without_the_token_or_with_a_wrong_one(lab):
    client, _ = lab
    assert client.get("/api/runs").status_code == 403
    assert client.get("/api/runs", headers={"Authorization": "token wrong"}).status_code == 403
    assert client.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 403
    refused = client.post("/api/runs", json={"epochs": 1}, headers={"Authorization": "token wrong"})
    assert refused.status_code == 403 and "token" in refused.json()["error"]
    assert TOKEN not in client.get("/").text  # the login page
    assert client.get("/?token=wrong").status_code == 403


def test_a_foreign_host_is_refused_whatever_the_token(lab):
    client, _ = lab
    response = client.get("/api/runs", headers={**AUTH, "Host": "attacker.example:8000"})
    assert response.status_code == 400
    assert client.get("/?token=" + TOKEN, headers={"Host": "rebound.example"}).status_code == 400


def test_the_address_with_the_token_sets_a_strict_httponly_cookie_and_the_page_carries_the_token(lab):
    client, _ = lab
    first = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")  # the cookie alone
    assert page.status_code == 200
    assert f'<meta name="pipetrace-token" content="{TOKEN}">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "<script>" not in page.text
    assert client.get("/api/runs").status_code == 200  # GET with the cookie


def test_a_post_with_the_cookie_alone_or_from_another_origin_is_refused(lab):
    client, runner = lab
    client.cookies.set(cookie_name(8000), TOKEN)
    assert client.post("/api/runs", json={"epochs": 1}).status_code == 403
    foreign = client.post("/api/runs", json={"epochs": 1}, headers={**AUTH, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert runner.runs() == []
    same = client.post("/api/runs", json={"epochs": 1}, headers={**AUTH, "Origin": "http://127.0.0.1:8000"})
    assert same.status_code == 202


def test_a_valid_post_queues_a_run_with_the_settings_named_as_run_keywords(lab):
    client, runner = lab
    response = client.post("/api/runs", json={"epochs": 2, "hidden": [64, 32], "limit": 600, "dataset": "digits"}, headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert body["position"] == 0 and runner.get(body["id"]).settings["hidden"] == [64, 32]
    assert runner.get(body["id"]).settings["dataset"] == "digits"
    one = client.get(f"/api/runs/{body['id']}", headers=AUTH).json()
    assert one["status"] == "queued" and one["settings"]["epochs"] == 2


def test_sgd_with_momentum_is_a_setting_with_a_control_on_the_page(lab):
    import re

    from pipetrace.lab.app import SETTINGS, STATIC

    client, runner = lab
    response = client.post("/api/runs", json={"momentum": 0.9, "optimizer": "sgd", "epochs": 1}, headers=AUTH)
    assert response.status_code == 202
    settings = runner.get(response.json()["id"]).settings
    assert settings["momentum"] == 0.9 and settings["optimizer"] == "sgd"
    assert client.get("/api/settings", headers=AUTH).json()["defaults"]["momentum"] == 0.0
    script, page = (STATIC / "lab.js").read_text(), (STATIC / "index.html").read_text()
    fields = re.findall(r'"([a-z_]+)"', re.search(r"const FIELDS = \[(.*?)\];", script, re.S).group(1))
    assert "momentum" in fields and set(fields) <= set(SETTINGS)
    for name in fields:  # each control the form reads, with the place its refusal is shown
        assert f'id="{name}"' in page and f'data-for="{name}"' in page, name


@pytest.mark.parametrize("settings, setting, words", [
    ({"epochs": 1_000_000}, "epochs", "at most 10"),
    ({"epochs": 0}, "epochs", "--epochs must be a whole number of at least 1"),
    ({"epochs": "3"}, "epochs", "--epochs must be a whole number"),
    ({"batch_size": -1}, "batch_size", "--batch-size must be a whole number of at least 1"),
    ({"learning_rate": 0}, "learning_rate", "--learning-rate must be a positive number"),
    ({"activation": "nope"}, "activation", "--activation must be one of relu"),
    ({"hidden": [100000]}, "hidden", "at most"),
    ({"hidden": "abc"}, "hidden", "--hidden must list at least one layer"),
    ({"dropout": 1.5}, "dropout", "--dropout must be a fraction"),
    ({"momentum": 0.9}, "momentum", "--momentum 0.9 applies to --optimizer sgd only"),
    ({"momentum": 1, "optimizer": "sgd"}, "momentum", "--momentum must be a fraction from 0 up to (not including) 1"),
    ({"momentum": "0.9", "optimizer": "sgd"}, "momentum", "--momentum must be a fraction"),
    ({"limit": 3}, "limit", "--limit must be at least 6"),
    ({"limit": 70_000}, "limit", "--limit 70000 is larger than the 60000 training images"),
    ({"limit": 600, "sample": 100}, "sample", "--sample 100 is outside the test set: it holds 100 images"),
    ({"dataset": "../../etc"}, "dataset", "dataset must be one of mnist, digits"),
    ({"conv": "yes"}, "conv", "conv must be true or false"),
    ({"image_size": [32, 32]}, "image_size", "--image-size applies to a folder of images only: mnist's images are 28 x 28"),
    ({"image_size": [16, 16], "dataset": "digits"}, "image_size", "digits's images are 8 x 8"),
    ({"model": "/tmp/x.keras"}, "model", "unknown setting 'model'"),
    ({"data_dir": "/etc"}, "data_dir", "unknown setting 'data_dir'"),
])
def test_bad_settings_get_400_naming_the_setting_in_the_command_lines_words(lab, settings, setting, words):
    client, runner = lab
    response = client.post("/api/runs", json=settings, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["setting"] == setting and words in response.json()["error"]
    assert runner.runs() == []


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b"[1, 2]", 400),
    (b'{"epochs": NaN}', 400),
    (b"[" * 100_000, 413),
    (b'{"seed": "' + b"x" * 70_000 + b'"}', 413),
])
def test_malformed_or_oversized_bodies_are_refused(lab, body, status):
    client, runner = lab
    response = client.post("/api/runs", content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status and "error" in response.json()
    assert runner.runs() == []


@pytest.mark.parametrize("path", [
    "/api/runs/..%2F..%2Fetc/trace.json",
    "/api/runs/../../etc/passwd",
    "/api/runs/%2e%2e/report.html",
    "/api/runs/20250101-120000/..%2F..%2Fsecret",
    "/api/runs/20250101-120000/secret.txt",
    "/api/runs/20250101-120002/report.html",  # a symbolic link planted in a run folder
    "/api/runs/20250101-120003/trace.json",  # a run folder that is a symbolic link
])
def test_path_traversal_and_planted_links_serve_nothing(lab, path):
    client, _ = lab
    response = client.get(path, headers=AUTH)
    assert response.status_code == 404
    assert "root:" not in response.text


def test_run_files_are_served_from_the_run_folder_and_the_report_is_sandboxed(lab, runs_dir):
    client, _ = lab
    trace = client.get(f"/api/runs/{FOLDER_RUN}/trace.json", headers=AUTH)
    assert trace.status_code == 200 and trace.content == (runs_dir / FOLDER_RUN / "trace.json").read_bytes()
    report = client.get(f"/api/runs/{FOLDER_RUN}/report.html", headers=AUTH)
    assert report.status_code == 200 and "sandbox allow-scripts;" in report.headers["content-security-policy"]
    model = client.get(f"/api/runs/{FOLDER_RUN}/model.keras", headers=AUTH)
    assert model.status_code == 200 and "attachment" in model.headers["content-disposition"]


def test_the_runs_list_includes_command_line_runs_newest_first_and_says_why_one_is_unreadable(lab):
    client, runner = lab
    client.post("/api/runs", json={"epochs": 1}, headers=AUTH)
    runs = client.get("/api/runs", headers=AUTH).json()["runs"]
    ids = [r["id"] for r in runs]
    assert ids[0].startswith("20260101")  # the lab's run, made now
    folder = next(r for r in runs if r["id"] == FOLDER_RUN)
    assert folder["source"] == "folder" and folder["status"] == "completed" and 0 < folder["test_accuracy"] <= 1
    assert folder["settings"]["epochs"] == 2 and folder["saved"]
    hostile = next(r for r in runs if r["id"] == "20250101-120001")
    assert hostile["status"] == "unreadable" and hostile["reason"]
    assert "20250101-120002" not in ids and "20250101-120003" not in ids  # links are not followed


def test_events_replay_from_the_start_and_resume_after_last_event_id(lab):
    client, runner = lab
    run_id = client.post("/api/runs", json={"epochs": 1}, headers=AUTH).json()["id"]
    runner.finish(run_id)
    response = client.get(f"/api/runs/{run_id}/events", headers=AUTH)
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b.strip()]
    assert [b.splitlines()[1] for b in blocks] == ["event: queued", "event: started", "event: batch", "event: done"]
    assert blocks[0].splitlines()[0] == "id: 1"
    assert json.loads(blocks[2].splitlines()[2][len("data: "):])["losses"] == [2.3, 2.1]
    resumed = client.get(f"/api/runs/{run_id}/events", headers={**AUTH, "Last-Event-ID": "2"})
    assert [line for line in resumed.text.splitlines() if line.startswith("event:")] == ["event: batch", "event: done"]


def test_stop_needs_the_header_and_reaches_the_runner(lab):
    client, runner = lab
    run_id = client.post("/api/runs", json={"epochs": 1}, headers=AUTH).json()["id"]
    client.cookies.set(cookie_name(8000), TOKEN)
    assert client.post(f"/api/runs/{run_id}/stop").status_code == 403
    assert client.post(f"/api/runs/{run_id}/stop", headers=AUTH).status_code == 202
    assert runner.stopped == [run_id]
    assert client.post("/api/runs/20990101-000000/stop", headers=AUTH).status_code == 404


def test_compare_gives_the_compare_modes_content_for_two_saved_runs(lab):
    client, _ = lab
    answer = client.get(f"/api/compare?a={FOLDER_RUN}&b={FOLDER_RUN}", headers=AUTH)
    assert answer.status_code == 200
    metrics = dict((row[0], row[1]) for row in answer.json()["metrics"])
    assert metrics["epochs"] == "2 of 2" and answer.json()["settings"] == []
    assert client.get(f"/api/compare?a={FOLDER_RUN}&b=..%2Fx", headers=AUTH).status_code == 404


def test_a_folder_allowed_with_data_is_offered_by_its_name_and_sent_as_its_path(runs_dir, tmp_path):
    runner = FakeRunner(runs_dir)
    config = LabConfig(token=TOKEN, runs_dir=runs_dir, data={"shapes": tmp_path})
    client = TestClient(create_app(config, runner), base_url="http://127.0.0.1:8000")
    assert client.get("/api/settings", headers=AUTH).json()["choices"]["dataset"] == ["mnist", "digits", "shapes"]
    run_id = client.post("/api/runs", json={"dataset": "shapes", "epochs": 1}, headers=AUTH).json()["id"]
    assert runner.get(run_id).settings["dataset"] == str(tmp_path)
    assert client.post("/api/runs", json={"dataset": str(tmp_path)}, headers=AUTH).status_code == 400



@pytest.mark.parametrize("size, words", [
    ([2, 2], "--image-size must be HEIGHTxWIDTH, each from 4 to 512, such as 28x28 (got [2, 2])"),
    ([32, 600], "each from 4 to 512"),
    ([32], "image_size must be two whole numbers of pixels, height and width, such as [32, 32]"),
    ([32, "32"], "image_size must be two whole numbers"),
    ([32, True], "image_size must be two whole numbers"),
    ([[32], 32], "image_size must be two whole numbers"),
    ("32x32", "--image-size must be HEIGHTxWIDTH"),
])
def test_image_size_is_taken_for_a_folder_of_images_in_the_command_lines_range(runs_dir, tmp_path, size, words):
    runner = FakeRunner(runs_dir)
    client = TestClient(create_app(LabConfig(token=TOKEN, runs_dir=runs_dir, data={"shapes": tmp_path}), runner),
                        base_url="http://127.0.0.1:8000")
    answer = client.post("/api/runs", json={"dataset": "shapes", "image_size": [32, 24]}, headers=AUTH)
    assert answer.status_code == 202 and runner.get(answer.json()["id"]).settings["image_size"] == [32, 24]
    answer = client.post("/api/runs", json={"dataset": "shapes", "image_size": size}, headers=AUTH)
    assert answer.status_code == 400 and answer.json()["setting"] == "image_size" and words in answer.json()["error"]
