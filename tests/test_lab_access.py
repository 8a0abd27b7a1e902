"""Who can open the lab, and what it leaves open: the login code, and ports that speak nothing but TLS.

The printed address must leave no working token in the browser (its address bar, the tab's Back
list, the profile's History database, which Chromium writes even for a fragment the page removed),
while a class can each open it; and the lab's processes must never listen with an HTTP server but
the lab's own (Dask starts one on its scheduler and every worker unless told not to).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from starlette.testclient import TestClient

pytest.importorskip("distributed")
from conftest import ROOT  # noqa: E402
from test_report_browser import CHROMIUM_FLAGS, browser, find_chromium  # noqa: E402,F401 (the module's Chromium)

from pipetrace.lab.app import LabConfig, cookie_name, create_app  # noqa: E402
from pipetrace.lab.login import LoginCodes  # noqa: E402

TOKEN = "access-test-token-7c1f"
GUARD_SECONDS = 240


class ListeningWatch:
    """Every TCP port a process tree listens on, seen as it appears (polled without pause), each asked at once,
    in a thread of its own, what it answers to an HTTP request; and whether it was still listening after."""

    def __init__(self, pid: int):
        self.pid, self.answers = pid, {}  # port -> what it answered (b"HTTP/1.1 ..." from an HTTP server)
        self.gone: set[int] = set()  # ports that stopped listening while the lab ran
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def ports(self) -> set[int]:
        import psutil

        found = set()
        try:
            tree = [psutil.Process(self.pid), *psutil.Process(self.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return found
        for process in tree:
            try:
                found |= {c.laddr.port for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        return found

    def seen(self) -> set[int]:
        return set(self.answers)

    def _watch(self) -> None:
        listening: set[int] = set()
        while not self._done.is_set():
            now = self.ports()
            self.gone |= listening - now
            for port in now - listening - self.seen():
                self.answers[port] = b"(not answered yet)"
                threading.Thread(target=self._ask, args=(port,), daemon=True).start()
            listening = now
            self._done.wait(0.01)  # a poll every 10 ms: Dask's HTTP servers, when they ran, listened for 100s of ms

    def _ask(self, port: int) -> None:
        self.answers[port] = http_answer(port)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(GUARD_SECONDS)


def http_answer(port: int) -> bytes:
    """What the port answers to a plain HTTP request: b'HTTP/1.1 ...' from an HTTP server; a TLS port hangs up."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS) as connection:
            connection.sendall(b"GET /info/main/workers.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return connection.recv(64)
    except OSError as error:
        return f"<{type(error).__name__}>".encode()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A real `pipetrace lab`, its listening ports watched from its first instant: (address, watch)."""
    folder = tmp_path_factory.mktemp("lab-access")
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": TOKEN, "NO_COLOR": "1"}
    with open(folder / "stderr", "w") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--runs", str(folder / "runs")],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, cwd=ROOT)
    watch = ListeningWatch(process.pid)
    try:
        process.stdout.readline()
        address = process.stdout.readline().strip()
        yield address, watch
    finally:
        watch.stop()
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_lab_processes_never_listen_with_an_http_server_but_the_labs_own(lab):
    address, watch = lab
    own = int(re.match(r"http://127\.0\.0\.1:([0-9]+)/", address).group(1))
    deadline = time.monotonic() + GUARD_SECONDS  # the lab, the scheduler, a nanny and a worker are up once it prints
    while (len(watch.seen()) < 4 or b"(not answered yet)" in watch.answers.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    answers = dict(watch.answers)
    assert own in answers and http_answer(own).startswith(b"HTTP/")  # the lab's own: the one HTTP server
    assert {port: answer for port, answer in answers.items() if port != own and answer.startswith(b"HTTP/")} == {}
    assert watch.gone == set()  # nothing listened for a moment (an HTTP server opened, then closed)
    assert len(answers) >= 4, answers


def test_the_printed_address_leaves_no_working_token_in_the_browser_and_a_class_can_each_open_it(
        lab, browser, tmp_path):  # noqa: F811
    address, _ = lab
    base = re.match(r"(http://[^/]+)/", address).group(1)
    code = (re.findall(r"login=([A-Za-z0-9_-]+)", address) or ["(no login code)"])[0]
    profile = tmp_path / "profile"
    context = browser.browser_type.launch_persistent_context(str(profile), executable_path=find_chromium(),
                                                             args=CHROMIUM_FLAGS)
    try:
        page = context.new_page()
        page.goto(address)
        page.wait_for_selector("#dataset option", state="attached", timeout=GUARD_SECONDS * 1000)  # the page works
        assert page.url.startswith(base + "/") and "login=" not in page.url  # the fragment keeps the form's settings only
        assert page.evaluate("history.length") <= 2  # the tab's first blank page and the lab: no entry with the code
        page.go_back()
        assert code not in page.url and TOKEN not in page.url
        page.goto(address)  # opened again, the cookie already set: the page, and the code gone from the address at once
        page.wait_for_selector("#dataset option", state="attached", timeout=GUARD_SECONDS * 1000)
        page.wait_for_function("!location.hash.includes('login=')", timeout=GUARD_SECONDS * 1000)
        page.goto(address)  # pasted into the tab showing the page: only the fragment changes, nothing loads
        page.wait_for_function("!location.hash.includes('login=')", timeout=GUARD_SECONDS * 1000)
        assert page.url.startswith(base + "/") and "login=" not in page.url
        entries = [page.url]
        for _ in range(page.evaluate("history.length") - 1):  # every entry of the tab's Back list
            page.go_back()
            entries.append(page.url)
        assert [url for url in entries if code in url or TOKEN in url] == [], entries
    finally:
        context.close()
    learner = browser.new_context()  # another learner, after the first: the same printed address still opens the lab
    try:
        other = learner.new_page()
        other.goto(address)
        other.wait_for_selector("#dataset option", state="attached", timeout=GUARD_SECONDS * 1000)
    finally:
        learner.close()
    history = sqlite3.connect(profile / "Default" / "History")
    try:
        visited = [url for (url,) in history.execute("SELECT url FROM urls")]
    finally:
        history.close()
    assert base + "/" in visited
    assert [url for url in visited if TOKEN in url] == []
    # what the history keeps is the login code alone, which stops working minutes after its first use (below)
    assert {m for url in visited for m in re.findall(r"login=([A-Za-z0-9_-]+)", url)} <= {code}
    assert TOKEN not in address and f"/#login={code}" in address, address


class NoRuns:
    def runs(self):
        return []

    def get(self, run_id):
        return None


def _lab(clock, announced):
    logins = LoginCodes(window=600, announce=announced.append, clock=clock)
    client = TestClient(create_app(LabConfig(token=TOKEN, runs_dir="runs"), NoRuns(), logins=logins),
                        base_url="http://127.0.0.1:8000")
    return client, logins


def test_a_login_code_works_for_anyone_until_ten_minutes_after_its_first_use_then_a_new_one_is_printed():
    now, announced = [0.0], []
    client, logins = _lab(lambda: now[0], announced)
    code = logins.current
    refused = client.get("/")  # the login page, without the token
    assert TOKEN not in refused.text and 'src="/static/login.js"' in refused.text and "pipetrace-token" not in refused.text
    assert "script-src 'self'" in refused.headers["content-security-policy"]
    now[0] = 3600.0  # unused for an hour: still works (the window starts at its first use)
    first = client.post("/api/login", headers={"Authorization": f"login {code}"})
    assert first.status_code == 204
    cookie = first.headers["set-cookie"].lower()
    assert cookie.startswith(cookie_name(8000)) and "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and f'<meta name="pipetrace-token" content="{TOKEN}">' in page.text
    now[0] += 600.0  # another learner, within ten minutes of the first use, in another browser
    learner = TestClient(client.app, base_url="http://127.0.0.1:8000")
    assert learner.post("/api/login", headers={"Authorization": f"login {code}"}).status_code == 204
    assert announced == []
    now[0] += 1.0  # the copy in every browser's history is dead now
    late = TestClient(client.app, base_url="http://127.0.0.1:8000")
    for _ in range(3):  # replayed again and again: one new code is printed, not one a try
        expired = late.post("/api/login", headers={"Authorization": f"login {code}"})
        assert expired.status_code == 403 and "set-cookie" not in expired.headers
        assert "10 minutes after it is first used" in expired.json()["error"]
    assert announced == [logins.current] and logins.current != code
    assert late.post("/api/login", headers={"Authorization": f"login {announced[0]}"}).status_code == 204


def test_a_login_from_another_origin_or_with_a_wrong_code_is_refused_and_uses_nothing():
    now, announced = [0.0], []
    client, logins = _lab(lambda: now[0], announced)
    foreign = client.post("/api/login", headers={"Authorization": f"login {logins.current}",
                                                 "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "set-cookie" not in foreign.headers
    assert client.post("/api/login", headers={"Authorization": "login wrong"}).status_code == 403
    assert client.post("/api/login", headers={"Authorization": f"token {TOKEN}"}).status_code == 403
    now[0] = 10_000.0  # none of those was a first use: the code still works
    assert client.post("/api/login", headers={"Authorization": f"login {logins.current}"}).status_code == 204
    assert announced == []


class RestartingClient:
    """A Dask client whose restart_workers answers as distributed does: a status a worker, or an error."""

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def restart_workers(self, workers, raise_for_error=True):
        self.asked.append(list(workers))
        if isinstance(self.answer, Exception):
            raise self.answer
        return {worker: self.answer for worker in workers}


def _frozen_run(tmp_path):
    from pipetrace.lab.runner import LabRun

    run = LabRun("20260101-000000-a1b2c3", {}, tmp_path / "run", "2026-01-01T00:00:00+00:00")
    run.events.add("queued", {"position": 0, "settings": {}})
    run.events.add("started", {"worker": "tls://127.0.0.1:40000"})
    return run


@pytest.mark.parametrize("answer, said", [
    ("OK", "given up on; its worker was restarted"),
    (ValueError("Restarting workers requires a nanny to be used."),
     "given up on; its worker could not be restarted (it has no nanny) and is still busy with it"),
    ("timed out", "given up on; its worker did not restart in time and was taken out of the cluster"),
    (OSError("Timed out trying to connect"), "given up on; its worker could not be restarted (OSError: Timed out "
                                            "trying to connect) and may still be busy with it"),
])
def test_a_run_given_up_on_after_stop_says_whether_its_worker_was_restarted(tmp_path, answer, said):
    from pipetrace.lab.runner import Runner

    runner = Runner.__new__(Runner)  # no cluster: only the give-up path, with a client that answers as told
    runner.stop_grace, runner.client = 0.0, RestartingClient(answer)
    run = _frozen_run(tmp_path)
    runner._give_up_unless_stopped(run)
    assert runner.client.asked == [["tls://127.0.0.1:40000"]]
    assert run.events.last.kind == "failed"
    assert run.events.last.data["reason"] == f"it did not stop within 0 s of Stop: {said}"
