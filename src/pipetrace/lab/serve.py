"""`pipetrace lab`: start the cluster and the server, print the address with its login code, open the browser.

Ctrl-C, SIGTERM (`kill`, a service manager) and SIGHUP (the terminal closed) stop the server, then
every run (each saved with `status: interrupted`, the epochs finished so far kept), then the cluster,
within a few seconds and without a traceback; the exit status is 128 + the signal's number.

The token is never a command-line argument (anyone on the machine can read those with `ps`):
it comes from $PIPETRACE_LAB_TOKEN, a --token-file, or is made at random.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from pipetrace.errors import PipetraceError

TOKEN_ENV = "PIPETRACE_LAB_TOKEN"
MAX_TOKEN_FILE_BYTES = 4096


def serve(args) -> int:
    import uvicorn

    from pipetrace.lab.app import LabConfig, create_app
    from pipetrace.lab.limits import server_limits
    from pipetrace.lab.login import LoginCodes
    from pipetrace.lab.runner import Runner

    LabServer = _lab_server_class()
    data = {}
    for folder in args.data or []:
        path = Path(folder).expanduser().resolve()
        if not path.is_dir():
            raise PipetraceError(f"--data {folder}: not a folder")
        data[path.name] = path
    if args.workers < 1:
        raise PipetraceError(f"--workers must be at least 1 (got {args.workers})")
    token = _token_from_file(args.token_file) if args.token_file else os.environ.get(TOKEN_ENV) or None
    hosts = {"127.0.0.1", "localhost", "::1", args.host}  # Host names requests may carry (DNS rebinding: no other);
    if args.host in ("0.0.0.0", "::"):  # every interface: this machine's own names too (and, in the app, its addresses)
        hosts |= {socket.gethostname(), socket.getfqdn()}
    config = LabConfig(hosts=tuple(sorted(hosts)), runs_dir=Path(args.runs), data=data, max_epochs=args.max_epochs,
                       max_units=args.max_units, max_hours=args.max_hours, **({"token": token} if token else {}))
    security = _cluster_security(args)
    sock = _listening(args.host, args.port)
    port = sock.getsockname()[1]
    if hasattr(signal, "SIGHUP"):  # inherited by the worker processes and multiprocessing's resource tracker,
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # which a closed terminal would kill; the server handles it (LabServer)
    runner = Runner(config.runs_dir, workers=args.workers, address=args.cluster, security=security,
                    live=not args.no_live_events)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    shown = f"[{shown}]" if ":" in shown else shown

    def address(code: str) -> str:
        return f"http://{shown}:{port}/#login={code}"

    def announce(code: str) -> None:  # from a server thread, when an expired code was tried
        print(f"pipetrace lab: an expired login address was opened; open this one instead ({_login_rule(logins)}):",
              flush=True)
        print(address(code), flush=True)

    logins = LoginCodes(announce=announce)
    try:
        app = create_app(config, runner, closing=lambda: server.should_exit, logins=logins)  # asked once `server` serves
        server = LabServer(uvicorn.Config(app, timeout_graceful_shutdown=2, lifespan="off", access_log=False,
                                          **server_limits()))
        where = f"the cluster at {args.cluster}" if args.cluster else f"{args.workers} local worker(s)"
        print(f"pipetrace lab: training on {where}, runs saved under {config.runs_dir}/. Open this address "
              f"({_login_rule(logins)}); Ctrl-C stops the lab:", flush=True)
        print(address(logins.current), flush=True)
        if not args.no_open:
            import webbrowser

            with contextlib.suppress(Exception):
                webbrowser.open(address(logins.current))
        server.run(sockets=[sock])
    finally:
        print("pipetrace lab: stopping the runs (their epochs so far are saved) and the workers...", file=sys.stderr, flush=True)
        runner.close()
    return 128 + server.stopped_by if server.stopped_by else 0


def _login_rule(logins) -> str:
    """How the printed address's login code works, in the lab's message."""
    return (f"its login code works for anyone until {logins.window / 60:g} minutes after its first use; opened later, "
            "it makes the lab print a new one here; scripts send the token, see the README")


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _lab_server_class():
    import uvicorn

    class LabServer(uvicorn.Server):
        """uvicorn's server, stopped alike by SIGINT, SIGTERM and SIGHUP, which it does not raise again once stopped.

        uvicorn re-raises the signal it caught after shutting down: for SIGTERM (and SIGHUP, which it
        does not catch at all) that kills the process before the lab has saved its running runs.
        """

        stopped_by = 0

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = {number: signal.signal(number, self.handle_exit) for number in STOP_SIGNALS}
            try:
                yield
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)

        def handle_exit(self, sig, frame) -> None:
            self.stopped_by = self.stopped_by or sig
            if self.should_exit:
                self.force_exit = True  # a second signal: stop waiting for open connections
            self.should_exit = True

    return LabServer


def _cluster_security(args):
    """The TLS credentials for `--cluster`; a scheduler without TLS only with `--insecure-cluster`.

    Refused rather than warned: a plain `dask scheduler` runs any code any client sends, so whoever
    reaches its port runs code as the lab's user (and reads its token); a warning line scrolls away.
    """
    from pipetrace.lab.runner import cluster_security

    tls = (args.tls_ca_file, args.tls_cert, args.tls_key)
    if args.cluster is None:
        if any(tls) or args.insecure_cluster:
            raise PipetraceError("--tls-ca-file, --tls-cert, --tls-key and --insecure-cluster go with --cluster")
        return None
    security = cluster_security(*tls)
    plain = not args.cluster.startswith("tls://")
    if plain and not args.insecure_cluster:
        raise PipetraceError(f"--cluster {args.cluster}: not a TLS address (tls://...): without TLS anyone who reaches "
                             "that scheduler runs code as you; start it with TLS and give --tls-ca-file, --tls-cert "
                             "and --tls-key (see the README), or say --insecure-cluster")
    if not plain and security is None:
        raise PipetraceError(f"--cluster {args.cluster}: a TLS scheduler needs --tls-ca-file, --tls-cert and --tls-key")
    return security


def _token_from_file(name: str) -> str:
    """The first line of --token-file, stripped; one clear error if it cannot be read or is empty."""
    try:
        with open(name, "rb") as handle:
            raw = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as error:
        raise PipetraceError(f"--token-file {name}: cannot be read ({error.strerror or error})") from None
    lines = raw.decode("utf-8", "replace").splitlines()
    token = lines[0].strip() if lines else ""
    if len(raw) > MAX_TOKEN_FILE_BYTES or not token or not token.isascii() or not token.isprintable():
        raise PipetraceError(f"--token-file {name}: must hold one line of printable ASCII, the token")
    return token


def _listening(host: str, port: int) -> socket.socket:
    from pipetrace.lab.limits import BACKLOG

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PipetraceError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock
