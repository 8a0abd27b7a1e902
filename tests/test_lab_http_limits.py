"""What an HTTP client can make the lab do: the shapes it accepts, the hosts, the cookie, the time and connections it holds.

The first tests call the app (Starlette's test client, or the ASGI app directly for streams
that stay open); the last start `pipetrace lab` itself and attack it over TCP as a process of
another user on the machine would: half-open connections, requests by IP address. Nothing
waits a fixed time: each waits for an answer, with a generous guard against a hang.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
import warnings

import pytest

pytest.importorskip("starlette")
with warnings.catch_warnings():  # Starlette 1.x suggests httpx2, not on the package index this project uses
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from pipetrace.lab import app as lab_app  # noqa: E402
from pipetrace.lab.app import LabConfig, cookie_name, create_app  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_lab_api import AUTH, TOKEN, FakeRunner  # noqa: E402

GUARD_SECONDS = 120


def _lab(tmp_path, base_url="http://127.0.0.1:8000", token=TOKEN):
    runner = FakeRunner(tmp_path)
    app = create_app(LabConfig(token=token, runs_dir=tmp_path), runner)
    return TestClient(app, base_url=base_url), runner, app


@pytest.mark.parametrize("body, setting", [
    ({"dataset": []}, "dataset"), ({"dataset": {"a": 1}}, "dataset"), ({"dataset": 3}, "dataset"),
    ({"epochs": {"nested": {"deeper": 1}}}, "epochs"), ({"seed": [1, 2]}, "seed"), ({"hidden": [[128]]}, "hidden"),
    ({"hidden": [{"units": 8}]}, "hidden"), ({"activation": ["relu"]}, "activation"), ({"dropout": {}}, "dropout"),
])
def test_a_body_of_the_wrong_shape_gets_400_naming_the_setting(tmp_path, body, setting):
    client, runner, _ = _lab(tmp_path)
    response = client.post("/api/runs", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["setting"] == setting and setting in response.json()["error"]
    assert runner.runs() == []


@pytest.mark.parametrize("value", [b"\xb2", b"\xb9\xb2", b"1\xbd", b"\xff", b"-1", b"1e3", b" 1", b"\xd9\xa3"])
def test_a_last_event_id_that_is_not_ascii_digits_is_ignored(tmp_path, value):
    """Sent as raw bytes (the test client would re-encode them): '\\xb2' is '²' in Latin-1, which str.isdigit takes."""
    _, runner, app = _lab(tmp_path)
    run = runner.submit({"epochs": 1})
    runner.finish(run.id)
    answer = {"body": b""}
    receive = _request_then_stay()

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    asyncio.run(app(_scope(f"/api/runs/{run.id}/events", headers=[(b"last-event-id", value)]), receive, send))
    assert answer["status"] == 200
    assert answer["body"].startswith(b"id: 1\nevent: queued")  # replayed from the start


def test_the_token_cookie_is_named_for_the_port_so_two_labs_on_one_host_keep_their_own(tmp_path):
    first, _, _ = _lab(tmp_path / "a", "http://127.0.0.1:8001", "first-token")
    second, _, _ = _lab(tmp_path / "b", "http://127.0.0.1:8002", "second-token")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    answer = first.get("/?token=first-token", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"  # the address without the token
    assert answer.headers["set-cookie"].startswith(f"{cookie_name(8001)}=first-token;")
    assert answer.headers["cache-control"] == "no-store"
    second.get("/?token=second-token", follow_redirects=False)
    second.cookies.set(cookie_name(8001), "first-token")  # the browser sends every cookie of 127.0.0.1 to both
    first.cookies.set(cookie_name(8002), "second-token")
    assert first.get("/api/runs").status_code == 200 and second.get("/api/runs").status_code == 200
    assert "first-token" not in second.get("/").text and "second-token" in second.get("/").text


@pytest.mark.parametrize("base_url, host, allowed", [
    ("http://[::1]:8000", "[::1]:8000", True),  # pipetrace lab --host ::1
    ("http://[::1]:8000", "[::1]", True),
    ("http://192.0.2.2:8000", "192.0.2.2:8000", True),  # --host 0.0.0.0, asked by the machine's address
    ("http://192.0.2.2:8000", "127.0.0.1:8000", True),
    ("http://192.0.2.2:8000", "192.0.2.3:8000", False),  # an address the request did not arrive on
    ("http://192.0.2.2:8000", "rebound.example:8000", False),  # DNS rebinding: a name, however it resolves
    ("http://192.0.2.2:8000", "192.0.2.2.nip.io:8000", False),
    ("http://[::1]:8000", "[::2]:8000", False),
    ("http://[::1]:8000", "[::1", False),
    ("http://127.0.0.1:8000", "127.0.0.1:8000:1", False),
])
def test_the_host_may_be_the_address_the_request_arrived_on_never_another_name(tmp_path, base_url, host, allowed):
    client, _, _ = _lab(tmp_path, base_url)
    status = client.get("/api/settings", headers={**AUTH, "Host": host}).status_code
    assert status == (200 if allowed else 400)


def _end(process) -> None:
    """A lab started by a test: asked to end, killed if it does not within a minute."""
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def _request_then_stay():
    """An ASGI `receive`: the request, without a body, then a client that stays connected."""
    asked = []

    async def receive():
        if not asked:
            asked.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()

    return receive


def _scope(path: str, method: str = "GET", headers=(), client: str = "127.0.0.1") -> dict:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "root_path": "", "headers": [(b"host", b"127.0.0.1:8000"), (b"authorization", f"token {TOKEN}".encode()),
                                         *headers],
            "server": ("127.0.0.1", 8000), "client": (client, 5000), "scheme": "http", "http_version": "1.1",
            "asgi": {"version": "3.0"}}


def test_opening_more_event_streams_than_the_lab_keeps_ends_the_oldest_with_superseded(tmp_path):
    _, runner, app = _lab(tmp_path)
    run = runner.submit({"epochs": 1})  # never finishes: its streams stay open
    bodies: list[list[bytes]] = [[] for _ in range(lab_app.MAX_EVENT_STREAMS + 1)]

    async def follow(number: int, done: asyncio.Event, gone: asyncio.Event):
        async def receive():
            await gone.wait()  # the browser disconnects when the test is over
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body":
                bodies[number].append(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        await app(_scope(f"/api/runs/{run.id}/events"), receive, send)

    async def main():
        gone = asyncio.Event()
        done = [asyncio.Event() for _ in bodies]
        tasks = []
        for number in range(len(bodies)):
            tasks.append(asyncio.create_task(follow(number, done[number], gone)))
            while not bodies[number]:  # opened, in order: the first is the oldest
                await asyncio.sleep(0.01)
        await asyncio.wait_for(done[0].wait(), GUARD_SECONDS)
        still_open = [not d.is_set() for d in done[1:]]
        gone.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), GUARD_SECONDS)
        return still_open

    still_open = asyncio.run(main())
    assert b"event: superseded" in b"".join(bodies[0])
    assert all(still_open)  # the newer streams go on


def test_the_stream_limit_is_each_clients_so_a_class_never_ends_each_others_streams():
    """Learners on machines of their own (a class on --host 0.0.0.0) each keep MAX_EVENT_STREAMS open; only a
    client's own newer stream ends its oldest."""
    import contextlib

    streams = lab_app.EventStreams(3)
    with contextlib.ExitStack() as stack:
        learners = [stack.enter_context(streams.opened(f"192.0.2.{n}")) for n in range(30)]
        assert not any(told.is_set() for told in learners)
        own = [stack.enter_context(streams.opened("192.0.2.0")) for _ in range(3)]
        assert learners[0].is_set() and not any(told.is_set() for told in learners[1:] + own)


def test_a_body_that_never_arrives_gets_408(tmp_path, monkeypatch):
    monkeypatch.setattr(lab_app, "BODY_SECONDS", 0.2)
    _, _, app = _lab(tmp_path)
    answer = {}

    async def main():
        never = asyncio.Event()

        async def receive():
            await never.wait()

        async def send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]

        await asyncio.wait_for(app(_scope("/api/runs", "POST", [(b"content-length", b"20"),
                                                                 (b"content-type", b"application/json")]),
                                   receive, send), GUARD_SECONDS)

    asyncio.run(main())
    assert answer["status"] == 408


def test_the_token_is_no_longer_a_command_line_argument():
    from conftest import pipetrace_cli

    result = pipetrace_cli("lab", "--no-open", "--token", "visible-in-ps", timeout=GUARD_SECONDS)  # the old lab started
    assert result.returncode == 2 and "--token" in result.stderr


# --- the real lab, over TCP --------------------------------------------------------------------

def _machine_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (from its name, else from `hostname -I`)."""
    found = set()
    try:
        found |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    try:
        found |= set(subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=30).stdout.split())
    except (OSError, subprocess.SubprocessError):
        pass
    return next((a for a in sorted(found) if "." in a and not a.startswith("127.")), None)


@pytest.fixture(scope="module")
def real_lab(tmp_path_factory):
    """`pipetrace lab --host 0.0.0.0 --token-file F`, with 1024 file descriptors as on many machines."""
    folder = tmp_path_factory.mktemp("lab-limits")
    token = "real-lab-token-5d1e"
    (folder / "token").write_text(token + "\n")
    env = {key: value for key, value in os.environ.items() if key != "PIPETRACE_LAB_TOKEN"}
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = 1024 if hard == resource.RLIM_INFINITY else min(1024, hard)
    process = subprocess.Popen(
        [sys.executable, "-m", "pipetrace", "lab", "--no-open", "--host", "0.0.0.0", "--token-file",
         str(folder / "token"), "--runs", str(folder / "runs")],
        stdout=subprocess.PIPE, stderr=open(folder / "stderr", "wb"), text=True, env={**env, "NO_COLOR": "1"},
        cwd=ROOT, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard)))
    try:
        process.stdout.readline()
        address = process.stdout.readline().strip()
        assert "/#login=" in address and token not in address, address
        port = int(address.split("/#")[0].rsplit(":", 1)[1])
        yield process, port, token, folder / "stderr"
    finally:
        _end(process)


def _get(url: str, token: str, host: str | None = None):
    headers = {"Authorization": f"token {token}", **({"Host": host} if host else {})}
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=GUARD_SECONDS)


def test_the_token_read_from_a_file_is_not_in_the_process_arguments(real_lab):
    process, port, token, _ = real_lab
    arguments = open(f"/proc/{process.pid}/cmdline", "rb").read()
    assert token.encode() not in arguments
    assert _get(f"http://127.0.0.1:{port}/api/settings", token).status == 200


def test_listening_on_every_interface_answers_requests_made_by_the_machines_address(real_lab):
    _, port, token, _ = real_lab
    address = _machine_address()
    if address is None:
        pytest.skip("this machine's name resolves to no address but loopback")
    assert _get(f"http://{address}:{port}/api/settings", token).status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(f"http://{address}:{port}/api/settings", token, host=f"rebound.example:{port}")
    assert refused.value.code == 400


def test_a_thousand_half_open_connections_neither_lock_out_the_page_nor_flood_the_log(real_lab):
    _, port, token, stderr = real_lab
    before = stderr.stat().st_size
    held = []
    try:
        for _ in range(1000):  # a slowloris client: a request head it never finishes
            conn = socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS)
            conn.sendall(b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            held.append(conn)
        assert _get(f"http://127.0.0.1:{port}/api/settings", token).status == 200
        closed = 0
        deadline = time.monotonic() + GUARD_SECONDS
        held[-1].settimeout(GUARD_SECONDS)
        while time.monotonic() < deadline and closed == 0:  # the lab gives up on a head that never ends
            try:
                closed += held[-1].recv(1) == b""
            except (ConnectionResetError, socket.timeout):
                closed += 1
    finally:
        for conn in held:
            conn.close()
    assert closed == 1
    assert _get(f"http://127.0.0.1:{port}/api/settings", token).status == 200
    assert stderr.stat().st_size - before < 10_000, stderr.read_text(errors="replace")[-2000:]
    assert json.load(_get(f"http://127.0.0.1:{port}/api/runs", token))["runs"] == []


def test_a_lab_on_ipv6_loopback_prints_a_usable_address_and_answers_it(tmp_path):
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    token = "ipv6-lab-token"
    env = {**os.environ, "PIPETRACE_LAB_TOKEN": token, "NO_COLOR": "1"}
    process = subprocess.Popen([sys.executable, "-m", "pipetrace", "lab", "--no-open", "--host", "::1",
                                "--runs", str(tmp_path / "runs")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env, cwd=ROOT)
    try:
        process.stdout.readline()
        address = process.stdout.readline().strip()
        assert address.startswith("http://[::1]:") and "/#login=" in address, address
        base = address.split("/#")[0]
        assert _get(f"{base}/api/settings", token).status == 200  # urllib sends Host: [::1]:PORT
        import http.client

        connection = http.client.HTTPConnection("::1", int(base.rsplit(":", 1)[1]), timeout=GUARD_SECONDS)
        connection.request("POST", "/api/login", headers={"Authorization": "login " + address.split("#login=", 1)[1]})
        answer = connection.getresponse()  # the address printed: its login code, exchanged for the cookie
        assert answer.status == 204
        assert answer.getheader("set-cookie").startswith(f"pipetrace-lab-{base.rsplit(':', 1)[1]}={token};")
    finally:
        _end(process)
