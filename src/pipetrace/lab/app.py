"""The lab's HTTP app (Starlette): the page, the JSON API, run events as server-sent events, and who may use them.

Access: a random token per start. The printed address carries a login code, not the token
(`/#login=CODE`, see `login.LoginCodes`): a fragment is never sent to a server, and the code stops
working minutes after its first use, so the copy a browser keeps in its history is dead. The page
served without the cookie (`login.html`) removes the code from the address and the tab's history
at once and exchanges it (`POST /api/login`, `Authorization: login CODE`) for the token, set as an
HttpOnly, SameSite=Strict cookie; `/` then serves the page with the token in a
`<meta name="pipetrace-token">` (rendered only for a request that holds the cookie); the page's
script sends it as `Authorization: token ...`, as API clients do. The older `/?token=...` address
still sets the cookie and redirects to `/`. GET requests may be authorized by the cookie alone (the
report in its iframe, downloads); POST needs the header (a cross-site form or script cannot set it)
and, when the browser sends an Origin, the lab's own. The cookie's name carries the lab's port
(`pipetrace-lab-8000`): browsers send a cookie to every port of a host, so two labs on one machine
must not share one name. Requests whose Host is not the lab's are refused (DNS rebinding): a name
the lab was given, or the IP address the request arrived on, written as an IP address.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html
import ipaddress
import math
import os
import re
import secrets
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from pipetrace.errors import PipetraceError
from pipetrace.lab.login import LoginCodes
from pipetrace.trace import Settings

STATIC = Path(__file__).with_name("static")
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# the page's own files, named when the lab starts (a name a request gives is only looked up here)
STATIC_FILES = {p.name: STATIC_TYPES[p.suffix] for p in sorted(STATIC.iterdir()) if p.suffix in STATIC_TYPES}
RUN_FILES = {"trace.json": "application/json", "report.html": "text/html; charset=utf-8",
             "model.keras": "application/octet-stream"}
RUN_ID = re.compile(r"[0-9]{8}-[0-9]{6}(-[0-9a-z]{1,12})?")  # the lab's ids and the command line's run folders (fullmatch)
COOKIE_PREFIX = "pipetrace-lab-"  # + the lab's port
MAX_BODY_BYTES = 64 * 1024
BODY_SECONDS = 10  # a request body slower than this is refused (408): a slow client holds nothing for long
RUN_FILE_CHUNK = 1024 * 1024  # run files are streamed in pieces this size, never read whole
MAX_EVENT_STREAMS = 3  # open event streams a client; a browser has ~6 connections a host, so tabs never take them all
# the settings a request may give, named as pipetrace.run's keywords (no file paths: --data names the folders)
SETTINGS = ("dataset", "hidden", "activation", "dropout", "conv", "optimizer", "momentum", "learning_rate", "schedule",
            "batch_size", "epochs", "limit", "seed", "sample", "questions", "image_size")
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SSE_POLL_SECONDS = 0.05
MNIST_TRAIN, MNIST_TEST = 60_000, 10_000  # the bundled MNIST
BUNDLED_SHAPES = {"mnist": ((28, 28), MNIST_TRAIN), "digits": ((8, 8), 1_797)}  # image shape, most training images


def cookie_name(port: int | None) -> str:
    """The token cookie's name for the lab listening on `port`."""
    return f"{COOKIE_PREFIX}{port or 0}"


def report_policy() -> str:
    """The Content-Security-Policy of a served report.html: pipetrace's own report script and style only, sandboxed.

    A report.html planted in a run folder is anyone's HTML: no script but the report's own
    (by its hash) runs, nothing is loaded from any host, and the sandbox (an opaque origin,
    no top navigation, no popups, no forms) keeps it off the lab's tab and cookie.
    """
    from pipetrace.views.html.report import _static, content_security_policy

    return content_security_policy(_static("report.js"), _static("report.css")) + \
        "; sandbox allow-scripts; frame-ancestors 'self'"


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
    for key, value in values.items():  # JSON of the wrong shape is named, not passed on to fail somewhere else
        if isinstance(value, dict) or (isinstance(value, list) and key not in ("hidden", "image_size")):
            raise BadRequest(f"{key} must be a single value, not {'an object' if isinstance(value, dict) else 'a list'}",
                             key)
    if isinstance(values.get("hidden"), list) and not all(type(v) is int for v in values["hidden"]):
        raise BadRequest("hidden must be a list of whole numbers of units, such as [128, 64]", "hidden")
    if isinstance(values.get("image_size"), list) and not (len(values["image_size"]) == 2 and all(type(v) is int for v in values["image_size"])):
        raise BadRequest("image_size must be two whole numbers of pixels, height and width, such as [32, 32]", "image_size")
    dataset = values.get("dataset", "mnist")
    if not isinstance(dataset, str):
        raise BadRequest(f"dataset must be a name (got {str(dataset)[:40]})", "dataset")
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
    if dataset in BUNDLED_SHAPES and settings.image_size != Settings().image_size:  # the command line ignores it there
        height, width = BUNDLED_SHAPES[dataset][0]
        raise BadRequest(f"--image-size applies to a folder of images only: {dataset}'s images are {height} x {width}",
                         "image_size")
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


def create_app(config: LabConfig, runner, closing=lambda: False, logins: LoginCodes | None = None) -> Starlette:
    """The lab's ASGI app; `runner` is a `pipetrace.lab.runner.Runner` (or anything with its methods).

    `closing()` is True once the server is shutting down: event streams then end, so the server
    stops at once instead of cancelling them. `logins` holds the code the printed address carries.
    """
    logins = logins if logins is not None else LoginCodes()
    listing = FolderRuns(config.runs_dir)
    streams = EventStreams(MAX_EVENT_STREAMS)
    admission, admitting = threading.Lock(), set()  # POSTs admitted whose run is not yet in runner.runs()

    def authorized(request: Request, changing: bool) -> bool:
        given = request.headers.get("authorization", "")
        if given.startswith("token ") and secrets.compare_digest(given[6:].encode(), config.token.encode()):
            return _own_origin(request)
        if changing:
            return False
        cookie = request.cookies.get(_cookie(request), "")
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
            return with_cookie(request, RedirectResponse("/", status_code=303,  # the address without the token
                               headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}))
        headers = {"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        if not authorized(request, False):  # the login page (no token in it): it exchanges #login=CODE for the cookie
            return Response((STATIC / "login.html").read_text(encoding="utf-8"),  # 200: a 403 is a console error
                            media_type="text/html; charset=utf-8", headers=headers)
        text = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{token}}", html.escape(config.token))
        return Response(text, media_type="text/html; charset=utf-8", headers=headers)

    async def login(request: Request):
        given = request.headers.get("authorization", "")
        if not _own_origin(request) or not given.startswith("login "):
            return _error("forbidden: send the login code (Authorization: login CODE) from the lab's own page", 403)
        if not logins.exchange(given[6:]):
            return _error(f"this login address does not work (any more): each works until {logins.window / 60:g} "
                          "minutes after it is first used, so a copy kept in a browser's history cannot log in "
                          "later; open the address the lab's terminal shows now", 403)
        return with_cookie(request, Response(status_code=204, headers={"Cache-Control": "no-store"}))

    def with_cookie(request: Request, response: Response) -> Response:
        """The response, setting the token's cookie (HttpOnly: no script reads it; Strict: no other site sends it)."""
        response.set_cookie(_cookie(request), config.token, httponly=True, samesite="strict", path="/")
        return response

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
        after = request.headers.get("last-event-id", "0")  # any bytes a client sends (Latin-1): digits only count
        after = int(after) if re.fullmatch(r"[0-9]{1,9}", after) else 0

        async def stream():
            sent = after
            with streams.opened(request.client.host if request.client else "") as superseded:
                while True:
                    for event in run.events.since(sent):
                        yield event.as_sse()
                        sent = event.number
                    if closing() or run.events.finished and not run.events.since(sent):
                        return
                    if superseded.is_set():  # a newer stream (another tab) needs the connection: this page stops following
                        yield "event: superseded\ndata: {}\n\n"
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

    def commanded(command: str):
        @guarded(changing=True)
        async def endpoint(request: Request):
            from pipetrace.lab.runner import NotNow

            run = runner.get(_run_id(request))
            if run is None:
                return _error("no lab run with that id", 404)
            try:
                await asyncio.to_thread(runner.command, run.id, command)
            except NotNow as refused:
                return _error(str(refused), 409)
            except PipetraceError as error:  # the cluster did not answer: said, the lab goes on
                return _error(str(error), 503)
            return JSONResponse({"id": run.id, "status": run.status, "paused": run.paused}, 202)
        return endpoint

    @guarded()
    async def run_file(request: Request):
        run_id, name = _run_id(request), request.path_params["name"]
        if name not in RUN_FILES:
            return _error(f"a run has {', '.join(RUN_FILES)}", 404)
        handle = await asyncio.to_thread(open_run_file, config.runs_dir, run_id, name)
        if handle is None:
            return _error(f"run {run_id} has no {name} (yet)", 404)
        size = os.fstat(handle.fileno()).st_size
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Content-Length": str(size)}
        if name == "report.html":
            headers["Content-Security-Policy"] = report_policy()  # even opened on its own: no lab cookie, no API
        if name == "model.keras":
            headers["Content-Disposition"] = f'attachment; filename="{run_id}.keras"'
        return StreamingResponse(_pieces(handle, size), media_type=RUN_FILES[name], headers=headers)

    @guarded()
    async def compare(request: Request):
        a, b = (_valid_id(request.query_params.get(k, "")) for k in ("a", "b"))
        traces = await asyncio.to_thread(lambda: (listing.trace(a), listing.trace(b)))
        if None in traces:
            return _error("both runs must be finished and saved to compare them", 404)
        return JSONResponse(_comparison(*traces))

    def refusal(settings: dict) -> str | None:
        try:
            checked_settings(settings, config)
        except BadRequest as error:
            return str(error)
        return None

    @guarded()
    async def lesson_list(request: Request):
        from pipetrace.lab.lessons import lessons

        limit = _limit(request.query_params.get("limit", ""))
        # image_size (for folders of images) is left out: the lessons train on MNIST, which takes none
        keys = tuple(key for key in SETTINGS if key != "image_size")
        return JSONResponse({"lessons": await asyncio.to_thread(lessons, keys, refusal, limit)})

    @guarded()
    async def lesson_reading(request: Request):
        from pipetrace.lab.lessons import reading
        from pipetrace.modes.lesson import LESSONS

        name = request.path_params["name"]
        if name not in {lesson.name for lesson in LESSONS}:
            return _error(f"no lesson called {name[:40]!r}: the lessons are {', '.join(lesson.name for lesson in LESSONS)}", 404)
        ids = [_valid_id(run_id) for run_id in request.query_params.get("runs", "").split(",")[:16]]
        traces = await asyncio.to_thread(lambda: [listing.trace(run_id) for run_id in ids])
        if None in traces:
            return JSONResponse({"lines": [], "why": "not every variant's run is finished and saved yet"})
        return JSONResponse(await asyncio.to_thread(reading, name, traces))

    routes = [
        Route("/", page),
        Route("/api/lessons", lesson_list),
        Route("/api/lessons/{name}/reading", lesson_reading),
        Route("/static/{name}", static),
        Route("/api/login", login, methods=["POST"]),
        Route("/api/runs", start, methods=["POST"]),
        Route("/api/runs", all_runs, methods=["GET"]),
        Route("/api/compare", compare),
        Route("/api/settings", choices),
        Route("/api/runs/{id}", one_run),
        Route("/api/runs/{id}/events", events),
        Route("/api/runs/{id}/stop", stop, methods=["POST"]),
        *(Route(f"/api/runs/{{id}}/{command}", commanded(command), methods=["POST"]) for command in ("pause", "resume", "step")),
        Route("/api/runs/{id}/{name}", run_file),
    ]
    return Starlette(routes=routes, middleware=[Middleware(OwnHosts, hosts=config.hosts)])


class OwnHosts:
    """ASGI middleware: a request's Host must be one of the lab's names, or the IP address it arrived on.

    A DNS-rebinding page reaches the lab under the attacker's name, never under an IP literal,
    so the address the connection was accepted on (127.0.0.1, ::1, or the machine's address
    when the lab listens on every interface) is safe to accept; any other name is refused.
    """

    def __init__(self, app, hosts):
        self.app, self.hosts = app, {h.lower() for h in hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and not self.allowed(scope):
            await JSONResponse({"error": "not this lab's host name"}, 400)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def allowed(self, scope) -> bool:
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "").lower()
        found = re.fullmatch(r"\[([0-9a-f:.]+)\](?::[0-9]{1,5})?|([^:\[\]]*)(?::[0-9]{1,5})?", host)
        if not found:
            return False
        name = found.group(1) or found.group(2) or ""
        if name in self.hosts:
            return True
        try:
            literal = ipaddress.ip_address(name)
        except ValueError:
            return False  # a name that is not the lab's, even one that resolves here
        server = scope.get("server") or (None,)
        try:
            arrived = ipaddress.ip_address(server[0] or "")
        except ValueError:
            return False
        return literal == arrived or (arrived.version == 6 and arrived.ipv4_mapped == literal)


class EventStreams:
    """The open event streams of each client (its address): at most `limit`; one more tells its oldest to end.

    A browser opens about six connections to one host; six tabs following runs would hold them
    all, and the seventh page, or a Stop, would wait for ever. The oldest stream ends with a
    `superseded` event, on which the page stops following (and says so) rather than reconnect.
    The limit is per client address, so a class of learners, each on their own machine, each
    follow their own runs (learners sharing one machine share its limit).
    """

    def __init__(self, limit: int):
        self.limit, self._open = limit, {}

    @contextlib.contextmanager
    def opened(self, client: str = ""):
        mine, streams = asyncio.Event(), self._open.setdefault(client, [])
        streams.append(mine)
        for older in streams[:-self.limit]:
            older.set()
        try:
            yield mine
        finally:
            streams.remove(mine)
            if not streams:
                del self._open[client]


def _error(message: str, status: int, setting: str | None = None) -> JSONResponse:
    body = {"error": message}
    if setting:
        body["setting"] = setting
    return JSONResponse(body, status)


async def _json_body(request: Request):
    import json

    declared = request.headers.get("content-length", "0")
    if not re.fullmatch(r"[0-9]{1,9}", declared) or int(declared) > MAX_BODY_BYTES:
        raise BadRequest(f"the body must be at most {MAX_BODY_BYTES // 1024} KB of JSON", status=413)

    async def read() -> bytes:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise BadRequest(f"the body must be at most {MAX_BODY_BYTES // 1024} KB of JSON", status=413)
        return raw

    try:
        raw = await asyncio.wait_for(read(), BODY_SECONDS)
    except asyncio.TimeoutError:
        raise BadRequest(f"the body did not arrive within {BODY_SECONDS} s", status=408) from None
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise BadRequest(f"the body is not JSON: {str(error)[:120]}") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _own_origin(request: Request) -> bool:
    """No Origin (not a browser's cross-origin request), or the lab's own."""
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host')}"


def _cookie(request: Request) -> str:
    server = request.scope.get("server") or (None, None)
    return cookie_name(server[1])


def _valid_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise BadRequest("not a run id (runs are named like 20250101-120000 or 20250101-120000-a1b2c3)", status=404)
    return run_id


def _limit(text: str) -> int | None:
    """?limit=N of /api/lessons: the training images of every variant (blank: each lesson's own)."""
    if text == "":
        return None
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < 1:
        raise BadRequest(f"limit must be a whole number of training images, at least 1 (got {text[:40]!r})", "limit")
    return int(text)


def _run_id(request: Request) -> str:
    return _valid_id(request.path_params["id"])


def open_run_file(runs_dir: Path, run_id: str, name: str):
    """A run folder's file, open for reading, or None: a regular file with one name, never through a link.

    Neither the folder nor the file may be a symbolic link; O_NONBLOCK keeps a FIFO planted
    under the name from holding the thread, fstat then refuses anything but a regular file
    (a FIFO, a directory, a device) and a file with other hard links (it may be anyone's file).
    """
    folder = Path(runs_dir) / run_id
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return None
        descriptor = os.open(folder / name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        return None
    return os.fdopen(descriptor, "rb")


async def _pieces(handle, size: int):
    """The file's first `size` bytes (its size when opened) in RUN_FILE_CHUNK pieces; closes it."""
    try:
        left = size
        while left > 0:
            piece = await asyncio.to_thread(handle.read, min(RUN_FILE_CHUNK, left))
            if not piece:
                break
            left -= len(piece)
            yield piece
    finally:
        handle.close()


def _lab_summary(run, runner) -> dict:
    result = run.result
    return {
        "id": run.id, "source": "lab", "status": run.status, "created_at": run.created_at,
        "settings": {k: v for k, v in run.settings.items() if k in SETTINGS},
        "position": runner.position(run), "test_accuracy": result.get("test_accuracy"),
        "epochs": result.get("epochs"), "architecture": result.get("architecture"),
        "reason": result.get("reason"), "saved": bool(result.get("saved")), "events": len(run.events.events),
        "paused": run.paused,
    }


def _comparison(a, b) -> dict:
    from pipetrace.lab.series import epoch_series
    from pipetrace.modes import compare

    return {
        "settings": [list(row) for row in compare.setting_differences(a, b)],
        "metrics": [[name, value, compare.metrics(b).get(name, "")] for name, value in compare.metrics(a).items()],
        "accuracy_change": compare.accuracy_change(a, b),
        "per_class": [list(row) for row in compare.per_class(a, b)],
        "disagreements": compare.disagreement_lines(a, b),
        "epochs": {"a": epoch_series(a), "b": epoch_series(b)},  # each run's per-epoch numbers, for the overlaid charts
    }


UNSAVED = ("unsaved",)  # FolderRuns._identity of a run folder that holds no trace.json


class FolderRuns:
    """The run folders under --runs (the lab's and the command line's), each trace read and validated once.

    Summaries (a few hundred bytes a run) are kept for every folder; parsed traces, which can
    be tens of MB each, only for the few most recently used (TRACES_KEPT, TRACE_BYTES_KEPT of
    trace.json). Both are keyed by the file's identity and modification time, so a trace
    rewritten in place (`pipetrace run --force`) is read again.
    """

    TRACES_KEPT = 4
    TRACE_BYTES_KEPT = 128 * 2**20

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self._summaries: dict[str, tuple[tuple, dict]] = {}
        self._traces: OrderedDict[str, tuple[tuple, object]] = OrderedDict()
        self._lock = threading.Lock()  # handlers run in threads

    def summaries(self) -> list[dict]:
        try:
            names = sorted(os.listdir(self.runs_dir))
        except OSError:
            return []
        ids = [name for name in names if RUN_ID.fullmatch(name)]
        with self._lock:
            for gone in set(self._summaries) - set(ids):
                del self._summaries[gone]
        found = (self.summary(name) for name in ids)
        return [s for s in found if s is not None]

    def summary(self, run_id: str) -> dict | None:
        key = self._identity(run_id)
        if key is None:
            return None
        if key is UNSAVED:
            return self._unsaved(run_id, self.runs_dir / run_id)
        with self._lock:
            cached = self._summaries.get(run_id)
        if cached and cached[0] == key:
            return cached[1]
        return self._read(run_id, key)[0]

    def trace(self, run_id: str):
        key = self._identity(run_id)
        if key is None or key is UNSAVED:
            return None
        with self._lock:
            cached = self._traces.get(run_id)
            if cached and cached[0] == key:
                self._traces.move_to_end(run_id)
                return cached[1]
        return self._read(run_id, key)[1]

    def kept_traces(self) -> int:
        return len(self._traces)

    def _unsaved(self, run_id: str, folder: Path) -> dict | None:
        """A folder without trace.json (being written, or killed before it was saved): `_unsaved_summary`."""
        entry = _unsaved_summary(run_id, folder)
        return entry[1] if entry else None

    def _identity(self, run_id: str) -> tuple | None:
        """trace.json's (device, inode, mtime, size); UNSAVED when the folder has none; None when it is not a run."""
        folder = self.runs_dir / run_id
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                return None
            info = os.lstat(folder / "trace.json")
        except FileNotFoundError:  # a run folder without its trace: being written, or killed before it was saved
            return UNSAVED
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):  # a symbolic link planted in a run folder is never followed
            return None
        return (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)

    def _read(self, run_id: str, key: tuple) -> tuple[dict, object]:
        from pipetrace.trace.reading import read_trace

        try:
            trace = read_trace(self.runs_dir / run_id / "trace.json")
        except (PipetraceError, OSError) as error:
            summary, trace = {"id": run_id, "source": "folder", "status": "unreadable", "created_at": None,
                              "reason": str(error)[:300]}, None
        else:
            summary = _folder_summary(run_id, trace)
        with self._lock:
            self._summaries[run_id] = (key, summary)
            if trace is not None:
                self._traces[run_id] = (key, trace)
                self._traces.move_to_end(run_id)
                while len(self._traces) > self.TRACES_KEPT or (
                        len(self._traces) > 1 and sum(k[3] for k, _ in self._traces.values()) > self.TRACE_BYTES_KEPT):
                    self._traces.popitem(last=False)
        return summary, trace


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
