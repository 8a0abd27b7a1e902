"""Files in the lab's run folders are anyone's files: only regular files with one name, streamed, never blocking.

The runs folder is shared with the command line and any process of the user: a FIFO, a
directory or a hard link may sit where a run file should be, a file may be gigabytes, a trace
may be tens of MB. The lab serves none of the odd ones, streams the rest in pieces, and keeps
only a few parsed traces in memory. Starlette's test client stands in for the browser; memory
and streaming are checked by calling the ASGI app directly, piece by piece.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import threading
import tracemalloc
import warnings
import weakref

import pytest

pytest.importorskip("starlette")
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2, not on the package index this project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipetrace.lab.app import RUN_FILE_CHUNK, FolderRuns, LabConfig, create_app  # noqa: E402

from test_lab_api import AUTH, TOKEN, FakeRunner  # noqa: E402
from test_lab_http_limits import _request_then_stay, _scope  # noqa: E402

GUARD_SECONDS = 60


@pytest.fixture()
def runs(tmp_path):
    return tmp_path / "runs"


def _client(runs):
    runs.mkdir(exist_ok=True)
    app = create_app(LabConfig(token=TOKEN, runs_dir=runs), FakeRunner(runs))
    return TestClient(app, base_url="http://127.0.0.1:8000"), app


def _get_within_guard(client, path):
    """The response, from a thread: a request that blocks (the old code on a FIFO) fails the test, not hangs it."""
    answer = {}
    worker = threading.Thread(target=lambda: answer.update(response=client.get(path, headers=AUTH)), daemon=True)
    worker.start()
    worker.join(GUARD_SECONDS)
    return answer.get("response")


def test_a_fifo_named_like_a_run_file_is_refused_without_blocking(runs):
    client, _ = _client(runs)
    folder = runs / "20250101-120000"
    folder.mkdir()
    for name in ("model.keras", "report.html"):
        os.mkfifo(folder / name)
    try:
        for name in ("model.keras", "report.html"):
            response = _get_within_guard(client, f"/api/runs/20250101-120000/{name}")
            assert response is not None, f"GET {name} (a FIFO) blocked"
            assert response.status_code == 404
    finally:
        for name in ("model.keras", "report.html"):  # release a reader the old code left blocked in open()
            try:
                os.close(os.open(folder / name, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass


def test_a_directory_or_a_hard_link_named_like_a_run_file_gets_404(runs, tmp_path):
    client, _ = _client(runs)
    folder = runs / "20250101-120000"
    folder.mkdir()
    (folder / "model.keras").mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("someone else's file")
    os.link(secret, folder / "trace.json")
    assert client.get("/api/runs/20250101-120000/model.keras", headers=AUTH).status_code == 404
    assert client.get("/api/runs/20250101-120000/trace.json", headers=AUTH).status_code == 404
    (folder / "report.html").write_text("<p>a report</p>")  # a file with one name is served
    assert client.get("/api/runs/20250101-120000/report.html", headers=AUTH).text == "<p>a report</p>"


@pytest.mark.parametrize("run_id", ["20250101-120000%0A", "20250101-120000%0a", "20250101-120000%0D%0A"])
def test_a_run_id_ending_in_a_newline_is_not_a_run(runs, run_id):
    client, _ = _client(runs)
    planted = runs / "20250101-120000\n"
    planted.mkdir()
    (planted / "model.keras").write_bytes(b"model")
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/model.keras", f"/api/runs/{run_id}/events"):
        response = client.get(path, headers=AUTH)
        assert response.status_code == 404, (path, response.status_code)
    assert client.get("/api/runs", headers=AUTH).json()["runs"] == []


def test_a_large_sparse_model_is_streamed_in_pieces_not_read_whole(runs):
    _, app = _client(runs)
    folder = runs / "20250101-120000"
    folder.mkdir()
    size = 256 * 2**20
    with open(folder / "model.keras", "wb") as handle:
        handle.truncate(size)  # sparse: no disk used
    pieces, total = [], 0

    async def fetch():
        scope = _scope("/api/runs/20250101-120000/model.keras")
        receive = _request_then_stay()

        async def send(message):
            nonlocal total
            if message["type"] == "http.response.start":
                pieces.append(message["status"])
            elif message["type"] == "http.response.body":
                total += len(message.get("body", b""))
                pieces.append(len(message.get("body", b"")))

        await app(scope, receive, send)

    tracemalloc.start()
    try:
        asyncio.run(fetch())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pieces[0] == 200 and total == size
    assert max(pieces[1:]) <= RUN_FILE_CHUNK and len(pieces) > 2
    assert peak < 32 * 2**20, f"{peak / 2**20:.0f} MB held to serve a {size / 2**20:.0f} MB file"


def test_the_runs_list_keeps_only_a_few_parsed_traces_and_reads_a_rewritten_one_again(small_run, tmp_path):
    _trace, made = small_run
    runs = tmp_path / "runs"
    ids = [f"20250101-1200{n:02d}" for n in range(10)]
    for run_id in ids:
        (runs / run_id).mkdir(parents=True)
        shutil.copyfile(made / "trace.json", runs / run_id / "trace.json")
    listing = FolderRuns(runs)
    assert [s["id"] for s in listing.summaries()] == ids
    kept = [weakref.ref(listing.trace(run_id)) for run_id in ids]
    gc.collect()
    alive = sum(ref() is not None for ref in kept)
    assert 1 <= alive <= FolderRuns.TRACES_KEPT, f"{alive} of {len(ids)} parsed traces kept"
    assert len(listing.summaries()) == len(ids)  # summaries of all, from memory

    first = listing.trace(ids[-1])
    path = runs / ids[-1] / "trace.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f'"created_at": "{first.created_at}"', '"created_at": "2031-01-01T00:00:00+00:00"'),
                    encoding="utf-8")
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    assert listing.trace(ids[-1]).created_at == "2031-01-01T00:00:00+00:00"
    assert listing.summary(ids[-1])["created_at"] == "2031-01-01T00:00:00+00:00"


def test_a_served_report_is_sandboxed_and_runs_only_pipetraces_own_report_script(small_run, runs):
    import re

    _trace, made = small_run
    client, _ = _client(runs)
    (runs / "20250101-120000").mkdir()
    shutil.copyfile(made / "report.html", runs / "20250101-120000" / "report.html")
    response = client.get("/api/runs/20250101-120000/report.html", headers=AUTH)
    header = {d.split()[0]: d.split()[1:] for d in response.headers["content-security-policy"].split("; ")}
    own = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', response.text).group(1)
    own = {d.split()[0]: d.split()[1:] for d in own.split("; ")}
    assert header["sandbox"] == ["allow-scripts"] and header["default-src"] == ["'none'"]
    assert "allow-top-navigation" not in header["sandbox"] and "connect-src" not in header  # nothing but itself
    assert header["script-src"] == own["script-src"] and header["style-src"] == own["style-src"]  # it keeps working
    assert all("unsafe-inline" not in v for v in header["script-src"])  # a planted report's own script never runs
    assert response.headers["x-content-type-options"] == "nosniff"
