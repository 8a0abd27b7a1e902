"""The lab's HTTP app (Starlette): the page, the JSON API, run events as server-sent events, and who may use them.

Access: a random token per start. The page's address carries it once (`/?token=...`): the lab
sets it as an HttpOnly, SameSite=Strict cookie and redirects to `/`, which serves the page with
the token in a `<meta name="pipetrace-token">` (rendered only for a request that holds the
cookie); the page's script sends it as `Authorization: token ...`, as API clients do. GET
requests may be authorized by the cookie alone (the report in its iframe, downloads); POST needs
the header (a cross-site form or script cannot set it) and, when the browser sends an Origin, the
lab's own. Requests whose Host is not the lab's are refused (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import math
import os
import re
import secrets
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from pipetrace.errors import PipetraceError
from pipetrace.trace import Settings

STATIC = Path(__file__).with_name("static")
STATIC_FILES = {"lab.js": "text/javascript; charset=utf-8", "lab.css": "text/css; charset=utf-8"}
RUN_FILES = {"trace.json": "application/json", "report.html": "text/html; charset=utf-8",
             "model.keras": "application/octet-stream"}
RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}(-[0-9a-z]{1,12})?$")  # the lab's ids and the command line's run folders
COOKIE = "pipetrace_lab_token"
MAX_BODY_BYTES = 64 * 1024
# the settings a request may give, named as pipetrace.run's keywords (no file paths: --data names the folders)
SETTINGS = ("dataset", "hidden", "activation", "dropout", "conv", "optimizer", "momentum", "learning_rate", "schedule",
            "batch_size", "epochs", "limit", "seed", "sample", "questions", "image_size")
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SSE_POLL_SECONDS = 0.05
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000  # the bundled MNIST
BUNDLED_SHAPES = {"mnist": ((28, 28), MNIST_TRAIN), "digits": ((8, 8), 1_797)}  # image shape, most training images


@dataclass
class LabConfig:
    """What whoever started the lab decided: its token, its own host names, where runs go, the limits."""

    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost")  # Host names (without port) that are the lab's own
    runs_dir: Path = Path("runs")
    data: dict[str, Path] = field(default_factory=dict)  # dataset name -> a folder allowed with --data
    max_epochs: int = 50
    max_units: int = 4096  # per hidden layer
    max_layers: int = 8
    max_batch_size: int = 8192
    max_waiting: int = 20  # runs queued or training at once
    max_hours: float = 4.0  # the estimated training time of one run (budgets.estimate)


class BadRequest(Exception):
    def __init__(self, message: str, setting: str | None = None, status: int = 400):
        super().__init__(message)
        self.setting, self.status = setting, status


def checked_settings(body, config: LabConfig) -> dict:
    """The settings of a POST /api/runs body, checked as `pipetrace run` checks its options, within the lab's limits."""
    from pipetrace.budgets import check_cost, estimate
    from pipetrace.options import check_against_data, check_settings, limited_test_count

    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object of settings, such as {\"epochs\": 2}")
    for key in body:
        if key not in SETTINGS:
            raise BadRequest(f"unknown setting {str(key)[:40]!r}: the lab takes {', '.join(SETTINGS)}", str(key)[:40])
    values = dict(body)
    dataset = values.get("dataset", "mnist")
    if dataset not in ("mnist", "digits") and dataset not in config.data:
        allowed = ", ".join(["mnist", "digits", *config.data])
        raise BadRequest(f"dataset must be one of {allowed} (got {str(dataset)[:40]!r})", "dataset")
    if "conv" in values and not isinstance(values["conv"], bool):
        raise BadRequest(f"conv must be true or false (got {values['conv']!r})", "conv")
    for key in ("activation", "optimizer", "schedule"):
        if key in values and not isinstance(values[key], str):
            raise BadRequest(f"{key} must be a name (got {values[key]!r})", key)
    try:
        settings = check_settings(Settings(**values))
    except PipetraceError as error:
        raise BadRequest(str(error), _setting_named(str(error))) from None
    if settings.epochs > config.max_epochs:
        raise BadRequest(f"--epochs {settings.epochs} is more than this lab allows (at most {config.max_epochs}; "
                         "whoever starts the lab can change that with --max-epochs)", "epochs")
    if len(settings.hidden) > config.max_layers:
        raise BadRequest(f"--hidden: at most {config.max_layers} hidden layers in this lab (got {len(settings.hidden)})", "hidden")
    if any(units > config.max_units for units in settings.hidden):
        raise BadRequest(f"--hidden: at most {config.max_units} units a layer in this lab "
                         "(whoever starts the lab can change that with --max-units)", "hidden")
    if settings.batch_size > config.max_batch_size:
        raise BadRequest(f"--batch-size {settings.batch_size} is more than this lab allows (at most {config.max_batch_size})", "batch_size")
    if settings.dataset == "mnist" and settings.data_dir is None:  # its size is known: refused now, not after queueing
        test = limited_test_count(settings.limit, MNIST_TRAIN, MNIST_TEST)  # as the pipeline's --limit cuts
        try:
            check_against_data(settings, MNIST_TRAIN, test)
        except PipetraceError as error:
            raise BadRequest(str(error), _setting_named(str(error))) from None
    if dataset in BUNDLED_SHAPES:  # the cost, as the pipeline will check it, plus this lab's time budget
        shape, train = BUNDLED_SHAPES[dataset]
        train = min(train, settings.limit or train)
        try:
            check_cost(estimate(settings.hidden, inputs=math.prod(shape), classes=10, train_images=train,
                                epochs=settings.epochs, batch_size=settings.batch_size, conv=settings.conv, shape=shape),
                       max_seconds=config.max_hours * 3600)
        except PipetraceError as error:
            raise BadRequest(str(error), _setting_named(str(error))) from None
    chosen = dataclasses.asdict(settings)
    if dataset in config.data:
        chosen["dataset"] = str(config.data[dataset])
    return {key: chosen[key] for key in (*SETTINGS, "data_dir", "model", "validation") if key in chosen}


def _setting_named(message: str) -> str | None:
    """'--batch-size must be ...' -> 'batch_size' (the command line's words name the option)."""
    found = re.match(r"--([a-z-]+)", message)
    return found.group(1).replace("-", "_") if found else None


def create_app(config: LabConfig, runner, closing=lambda: False) -> Starlette:
    """The lab's ASGI app; `runner` is a `pipetrace.lab.runner.Runner` (or anything with its methods).

    `closing()` is True once the server is shutting down: event streams then end, so the server
    stops at once instead of cancelling them.
    """
    listing = FolderRuns(config.runs_dir)
    admission, admitting = threading.Lock(), set()  # POSTs admitted whose run is not yet in runner.runs()

    def authorized(request: Request, changing: bool) -> bool:
        given = request.headers.get("authorization", "")
        if given.startswith("token ") and secrets.compare_digest(given[6:].encode(), config.token.encode()):
            origin = request.headers.get("origin")
            return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host')}"
        if changing:
            return False
        cookie = request.cookies.get(COOKIE, "")
        return secrets.compare_digest(cookie.encode(), config.token.encode())

    def guarded(changing: bool = False):
        def wrap(handler):
            async def endpoint(request: Request):
                if not authorized(request, changing):
                    return _error("forbidden: send the lab's token (Authorization: token ...)"
                                  + (", in a header" if changing else ""), 403)
                try:
                    return await handler(request)
                except BadRequest as error:
                    return _error(str(error), error.status, error.setting)
            return endpoint
        return wrap

    async def page(request: Request):
        given = request.query_params.get("token")
        if given is not None:
            if not secrets.compare_digest(given.encode(), config.token.encode()):
                return _error("forbidden: wrong token", 403)
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(COOKIE, config.token, httponly=True, samesite="strict", path="/")
            return response
        if not authorized(request, False):
            return Response("Open the address `pipetrace lab` printed (it carries the lab's token).\n", 403,
                            media_type="text/plain")
        text = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{token}}", html.escape(config.token))
        return Response(text, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store",
                                 "Referrer-Policy": "no-referrer"})

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return _error("no such file", 404)
        return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name])

    @guarded(changing=True)
    async def start(request: Request):
        body = await _json_body(request)
        settings = checked_settings(body, config)
        with admission:  # counted and reserved at once: simultaneous POSTs cannot all see room for one more
            waiting = sum(1 for r in runner.runs() if not r.events.finished) + len(admitting)
            if waiting >= config.max_waiting:
                raise BadRequest(f"{waiting} runs are already waiting or training (the lab takes {config.max_waiting} at most)",
                                 status=429)
            ticket = object()
            admitting.add(ticket)
        try:
            run = await asyncio.to_thread(runner.submit, settings)
        finally:
            with admission:  # the run itself now counts (runner.runs()); a run both listed and reserved is counted twice for a moment: never one too many
                admitting.discard(ticket)
        return JSONResponse({"id": run.id, "position": run.events.events[0].data["position"]}, 202)

    def described(run) -> dict:
        """A lab run as the lab saw it; once it has ended, what its folder holds now (its trace may have been
        replaced since, by `pipetrace run --force` into that folder: the folder's trace is the truth)."""
        summary = _lab_summary(run, runner)
        if run.events.finished:
            saved = listing.summary(run.id)
            if saved is not None and saved.get("status") != "unreadable":
                summary.update({key: saved.get(key) for key in ("settings", "test_accuracy", "epochs", "architecture")})
                summary["saved"] = True
        return summary

    @guarded()
    async def all_runs(request: Request):
        summaries = await asyncio.to_thread(lambda: [described(run) for run in runner.runs()])  # asks the scheduler
        lab = {summary["id"]: summary for summary in summaries}
        folder = await asyncio.to_thread(listing.summaries)
        merged = [*lab.values(), *(s for s in folder if s["id"] not in lab)]
        merged.sort(key=lambda s: s.get("created_at") or "", reverse=True)
        return JSONResponse({"runs": merged})

    @guarded()
    async def choices(request: Request):
        from pipetrace.training.network import ACTIVATIONS, OPTIMIZERS, SCHEDULES

        defaults = dataclasses.asdict(Settings())
        return JSONResponse({
            "defaults": {key: defaults[key] for key in SETTINGS},
            "choices": {"dataset": ["mnist", "digits", *config.data], "activation": list(ACTIVATIONS),
                        "optimizer": list(OPTIMIZERS), "schedule": list(SCHEDULES)},
            "limits": {"epochs": config.max_epochs, "units": config.max_units, "layers": config.max_layers,
                       "batch_size": config.max_batch_size, "hours": config.max_hours},
        })

    @guarded()
    async def one_run(request: Request):
        run_id = _run_id(request)
        run = runner.get(run_id)
        if run is not None:
            return JSONResponse(await asyncio.to_thread(described, run))
        summary = await asyncio.to_thread(listing.summary, run_id)
        if summary is None:
            return _error(f"no run {run_id}", 404)
        return JSONResponse(summary)

    @guarded()
    async def events(request: Request):
        run = runner.get(_run_id(request))
        if run is None:
            return _error("no lab run with that id (runs made with the command line have no events)", 404)
        after = request.headers.get("last-event-id", "0")
        after = int(after) if after.isdigit() and len(after) < 10 else 0

        async def stream():
            sent = after
            while True:
                for event in run.events.since(sent):
                    yield event.as_sse()
                    sent = event.number
                if closing() or run.events.finished and not run.events.since(sent):
                    return
                await asyncio.sleep(SSE_POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @guarded(changing=True)
    async def stop(request: Request):
        run = runner.get(_run_id(request))
        if run is None:
            return _error("no lab run with that id", 404)
        await asyncio.to_thread(runner.stop, run.id)
        return JSONResponse({"id": run.id, "status": run.status}, 202)

    @guarded()
    async def run_file(request: Request):
        run_id, name = _run_id(request), request.path_params["name"]
        if name not in RUN_FILES:
            return _error(f"a run has {', '.join(RUN_FILES)}", 404)
        data = await asyncio.to_thread(_read_run_file, config.runs_dir, run_id, name)
        if data is None:
            return _error(f"run {run_id} has no {name} (yet)", 404)
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        if name == "report.html":
            headers["Content-Security-Policy"] = "sandbox allow-scripts"  # even opened on its own: no lab cookie, no API
        if name == "model.keras":
            headers["Content-Disposition"] = f'attachment; filename="{run_id}.keras"'
        return Response(data, media_type=RUN_FILES[name], headers=headers)

    @guarded()
    async def compare(request: Request):
        a, b = (_valid_id(request.query_params.get(k, "")) for k in ("a", "b"))
        traces = await asyncio.to_thread(lambda: (listing.trace(a), listing.trace(b)))
        if None in traces:
            return _error("both runs must be finished and saved to compare them", 404)
        return JSONResponse(_comparison(*traces))

    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/runs", start, methods=["POST"]),
        Route("/api/runs", all_runs, methods=["GET"]),
        Route("/api/compare", compare),
        Route("/api/settings", choices),
        Route("/api/runs/{id}", one_run),
        Route("/api/runs/{id}/events", events),
        Route("/api/runs/{id}/stop", stop, methods=["POST"]),
        Route("/api/runs/{id}/{name}", run_file),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(config.hosts))])


def _error(message: str, status: int, setting: str | None = None) -> JSONResponse:
    body = {"error": message}
    if setting:
        body["setting"] = setting
    return JSONResponse(body, status)


async def _json_body(request: Request):
    import json

    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"the body must be at most {MAX_BODY_BYTES // 1024} KB of JSON", status=413)
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise BadRequest(f"the body must be at most {MAX_BODY_BYTES // 1024} KB of JSON", status=413)
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not JSON: {str(error)[:120]}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _valid_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise BadRequest("not a run id (runs are named like 20250101-120000 or 20250101-120000-a1b2c3)", status=404)
    return run_id


def _run_id(request: Request) -> str:
    return _valid_id(request.path_params["id"])


def _read_run_file(runs_dir: Path, run_id: str, name: str) -> bytes | None:
    """A file of a run folder, never through a symbolic link (neither the folder nor the file may be one)."""
    folder = Path(runs_dir) / run_id
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return None
        descriptor = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def _lab_summary(run, runner) -> dict:
    result = run.result
    return {
        "id": run.id, "source": "lab", "status": run.status, "created_at": run.created_at,
        "settings": {k: v for k, v in run.settings.items() if k in SETTINGS},
        "position": runner.position(run), "test_accuracy": result.get("test_accuracy"),
        "epochs": result.get("epochs"), "architecture": result.get("architecture"),
        "reason": result.get("reason"), "saved": bool(result.get("saved")), "events": len(run.events.events),
    }


def _comparison(a, b) -> dict:
    from pipetrace.modes import compare

    return {
        "settings": [list(row) for row in compare.setting_differences(a, b)],
        "metrics": [[name, value, compare.metrics(b).get(name, "")] for name, value in compare.metrics(a).items()],
        "accuracy_change": compare.accuracy_change(a, b),
        "per_class": [list(row) for row in compare.per_class(a, b)],
        "disagreements": compare.disagreement_lines(a, b),
    }


class FolderRuns:
    """The run folders under --runs (the lab's and the command line's), each trace read and validated once."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self._cache: dict[str, tuple[tuple, dict, object]] = {}

    def summaries(self) -> list[dict]:
        try:
            names = sorted(os.listdir(self.runs_dir))
        except OSError:
            return []
        found = (self.summary(name) for name in names if RUN_ID.match(name))
        return [s for s in found if s is not None]

    def summary(self, run_id: str) -> dict | None:
        entry = self._read(run_id)
        return entry[1] if entry else None

    def trace(self, run_id: str):
        entry = self._read(run_id)
        return entry[2] if entry else None

    def _unsaved(self, run_id: str, folder: Path):
        return _unsaved_summary(run_id, folder)

    def _read(self, run_id: str):
        from pipetrace.trace.reading import read_trace

        folder = self.runs_dir / run_id
        path = folder / "trace.json"
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return None
            info = os.lstat(path)
        except FileNotFoundError:  # a run folder without its trace: being written, or killed before it was saved
            return self._unsaved(run_id, folder)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):  # a symbolic link planted in a run folder is never followed
            return None
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        cached = self._cache.get(run_id)
        if cached and cached[0] == key:
            return cached
        try:
            trace = read_trace(path)
        except (PipetraceError, OSError) as error:
            entry = (key, {"id": run_id, "source": "folder", "status": "unreadable", "created_at": None,
                           "reason": str(error)[:300]}, None)
        else:
            entry = (key, _folder_summary(run_id, trace), trace)
        self._cache[run_id] = entry
        return entry


def _unsaved_summary(run_id: str, folder: Path) -> tuple | None:
    """A run folder with no trace.json: still being written (its lock is held), or left by a run killed
    outright (its lab or worker): listed as failed, its stale lock and temporary files removed (a folder
    created an instant before its run claims it is also listed failed, for that instant)."""
    from pipetrace.files import LOCK_NAME, clear_stale_claim

    cleared = clear_stale_claim(folder) if (folder / LOCK_NAME).exists() else None
    if cleared is False:
        summary = {"id": run_id, "source": "folder", "status": "running", "created_at": None,
                   "reason": "another pipetrace process is writing this run"}
    else:
        summary = {"id": run_id, "source": "folder", "status": "failed", "created_at": None, "saved": False,
                   "reason": "it was stopped outright (killed with its lab or worker) before it was saved"}
    return ((), summary, None)


def _folder_summary(run_id: str, trace) -> dict:
    from pipetrace.lab.worker import summarize

    settings = dataclasses.asdict(trace.settings)
    return {"id": run_id, "source": "folder", "created_at": trace.created_at, "saved": True,
            "settings": {k: v for k, v in settings.items() if k in SETTINGS}, **summarize(trace)}
