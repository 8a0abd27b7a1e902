"""The lab's Dask cluster on a shared machine: nobody but the lab can connect to it or run code in it.

The embedded `LocalCluster` speaks TLS with certificates made for it alone (`Security.temporary()`),
on loopback, and serves no HTTP (no dashboard, /info, /json or /health): checked with real sockets
and a real `distributed.Client`, as another user of the machine would try. `--cluster` takes the
TLS files `dask scheduler` takes, and refuses a plain tcp:// scheduler unless told `--insecure-cluster`.
Nothing here waits a fixed time.
"""

from __future__ import annotations

import socket
import ssl

import pytest

pytest.importorskip("distributed")
pytest.importorskip("cryptography")
import psutil  # noqa: E402  (a dependency of distributed)
from distributed import Client  # noqa: E402
from distributed.security import Security  # noqa: E402

from pipetrace.lab.runner import Runner, cluster_security  # noqa: E402
from pipetrace.trace.reading import read_trace  # noqa: E402

from conftest import dask_scheduler_and_worker, pipetrace_cli  # noqa: E402

TINY = {"limit": 600, "epochs": 1, "batch_size": 32}
GUARD_SECONDS = 240


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    runner = Runner(tmp_path_factory.mktemp("security") / "runs", workers=1)
    try:
        runner.client.wait_for_workers(1, timeout=GUARD_SECONDS)
        yield runner
    finally:
        runner.close(timeout=30)


def _listening_ports() -> set[int]:
    """The TCP ports this process and its children (the cluster's nanny and worker processes) listen on."""
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    ports = set()
    for process in processes:
        try:
            ports |= {c.laddr.port for c in process.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            pass
    return ports


def _answers_plain_http(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS) as connection:
        connection.sendall(b"GET /info/main/workers.html HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            return connection.recv(16).startswith(b"HTTP/")
        except OSError:  # reset by a TLS server that read garbage
            return False


def _tls_handshake_without_a_certificate(port: int) -> bool:
    """Whether a TLS client that presents no certificate gets to exchange data (a server that checks refuses it)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=GUARD_SECONDS) as raw:
            with context.wrap_socket(raw) as connection:
                connection.sendall(b"\x00" * 8)
                return connection.recv(1) != b""
    except (ssl.SSLError, OSError):
        return False


def test_the_embedded_cluster_listens_only_with_tls_on_loopback_and_serves_no_http(lab):
    address = lab.client.scheduler.address
    assert address.startswith("tls://127.0.0.1:")
    info = lab.client.scheduler_info()
    comms = {address, *info["workers"], *(w.get("nanny") for w in info["workers"].values() if w.get("nanny"))}
    assert all(a.startswith("tls://127.0.0.1:") for a in comms), comms
    ports = _listening_ports()
    assert ports == {int(a.rsplit(":", 1)[1]) for a in comms}, (ports, comms)  # no HTTP server (8787 or other) left
    for port in ports:
        assert not _answers_plain_http(port), port
        assert not _tls_handshake_without_a_certificate(port), port


def test_a_client_without_the_lab_credentials_cannot_connect_or_run_code(lab):
    address = lab.client.scheduler.address
    secret_seen = []
    with pytest.raises((OSError, TimeoutError)):  # TLS with certificates of its own: the cluster's CA refuses them
        with Client(address, security=Security.temporary(), timeout="5s") as other:
            secret_seen.append(other.run_on_scheduler(lambda: "ran"))
    host_port = address.split("://", 1)[1]
    with pytest.raises((OSError, TimeoutError)):  # plain TCP to the TLS port
        with Client(f"tcp://{host_port}", timeout="5s") as other:
            secret_seen.append(other.run_on_scheduler(lambda: "ran"))
    assert secret_seen == []
    assert lab.client.submit(sum, [1, 2], pure=False).result(timeout=GUARD_SECONDS) == 3  # the lab's own still can


def test_a_worker_restarted_by_its_nanny_serves_no_http_either(lab):
    lab.client.restart(timeout=GUARD_SECONDS)
    lab.client.wait_for_workers(1, timeout=GUARD_SECONDS)
    for port in _listening_ports():
        assert not _answers_plain_http(port), port


def test_the_lab_refuses_a_plain_scheduler_without_insecure_cluster():
    done = pipetrace_cli("lab", "--no-open", "--cluster", "tcp://127.0.0.1:1", timeout=120)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("pipetrace lab: error: --cluster tcp://127.0.0.1:1: not a TLS address")
    assert "--insecure-cluster" in line


@pytest.mark.parametrize("args, words", [
    (["--cluster", "tls://127.0.0.1:1"], "a TLS scheduler needs --tls-ca-file, --tls-cert and --tls-key"),
    (["--cluster", "tls://127.0.0.1:1", "--tls-cert", "c.pem"], "give --tls-ca-file, --tls-cert and --tls-key together"),
    (["--tls-key", "k.pem"], "go with --cluster"),
])
def test_tls_options_that_cannot_work_get_one_line(args, words):
    done = pipetrace_cli("lab", "--no-open", *args, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and words in done.stderr, done.stderr


def test_runs_go_to_a_tls_scheduler_given_its_files_as_in_the_readme(tmp_path):
    """The README's recipe: `dask scheduler --protocol tls --tls-ca-file ... --tls-cert ... --tls-key ...`, a worker
    with the same files, and the lab with `--cluster tls://... --tls-ca-file ... --tls-cert ... --tls-key ...`."""
    credentials = Security.temporary()  # one self-signed certificate, its own CA: written out as files
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.write_text(credentials.tls_ca_file)
    cert.write_text(credentials.tls_client_cert)
    key.write_text(credentials.tls_client_key)
    key.chmod(0o600)
    tls = ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]
    with dask_scheduler_and_worker(tmp_path, GUARD_SECONDS, tls=tls) as address:
        assert address.startswith("tls://")
        with pytest.raises((OSError, TimeoutError)):
            Client(address, security=Security.temporary(), timeout="5s")  # other credentials: refused
        lab = Runner(tmp_path / "runs", address=address, security=cluster_security(str(ca), str(cert), str(key)))
        try:
            lab.client.wait_for_workers(1, timeout=GUARD_SECONDS)
            run = lab.submit(dict(TINY))
            lab._wait_final(run, GUARD_SECONDS)
            assert run.events.last.kind == "done", [(e.kind, e.data) for e in run.events.events]
            assert read_trace(run.folder / "trace.json").status == "completed"
        finally:
            lab.close(timeout=30)
