"""`pipetrace lab`: start the cluster and the server, print the address with its token, open the browser.

Ctrl-C (or SIGTERM) stops the server, then every run (each saved with `status: interrupted`, the
epochs finished so far kept), then the cluster, within a few seconds and without a traceback.

The token is never a command-line argument (anyone on the machine can read those with `ps`):
it comes from $PIPETRACE_LAB_TOKEN, a --token-file, or is made at random.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path

from pipetrace.errors import PipetraceError

TOKEN_ENV = "PIPETRACE_LAB_TOKEN"
MAX_TOKEN_FILE_BYTES = 4096


def serve(args) -> int:
    import uvicorn

    from pipetrace.lab.app import LabConfig, create_app
    from pipetrace.lab.limits import server_limits
    from pipetrace.lab.runner import Runner

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
                       max_units=args.max_units, **({"token": token} if token else {}))
    sock = _listening(args.host, args.port)
    port = sock.getsockname()[1]
    runner = Runner(config.runs_dir, workers=args.workers, address=args.cluster, live=not args.no_live_events)
    try:
        app = create_app(config, runner, closing=lambda: server.should_exit)  # asked only once `server` serves
        server = uvicorn.Server(uvicorn.Config(app, timeout_graceful_shutdown=2, lifespan="off", access_log=False,
                                               **server_limits()))
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        shown = f"[{shown}]" if ":" in shown else shown
        address = f"http://{shown}:{port}/?token={config.token}"
        where = f"the cluster at {args.cluster}" if args.cluster else f"{args.workers} local worker(s)"
        print(f"pipetrace lab: training on {where}, runs saved under {config.runs_dir}/. Open this address "
              "(it carries the lab's token); Ctrl-C stops the lab:", flush=True)
        print(address, flush=True)
        if not args.no_open:
            import webbrowser

            with contextlib.suppress(Exception):
                webbrowser.open(address)
        server.run(sockets=[sock])
    finally:
        print("pipetrace lab: stopping the runs (their epochs so far are saved) and the workers...", file=sys.stderr, flush=True)
        runner.close()
    return 0


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
