"""What one HTTP client may hold of the lab: time to send its request, connections, log lines.

uvicorn closes idle keep-alive connections but has no deadline for a request's headers: a
client that opens connections and never finishes a request line (slowloris) held them for
ever, until the lab ran out of file descriptors and logged an error for every accept. Here a
connection that has not sent a whole request head within HEADER_SECONDS is closed, and at most
MAX_WAITING_FOR_HEADERS connections may wait at once: a newer one closes the oldest, so a
client that sends its request at once (the page, a script) is always served.
"""

from __future__ import annotations

from collections import OrderedDict

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_SECONDS = 10  # from connecting (or the last response) to a whole request head
MAX_WAITING_FOR_HEADERS = 64  # connections still sending their request head, all clients together
MAX_HEAD_BYTES = 16 * 1024  # a request line and headers larger than this get 400 (h11's limit, said here)
KEEP_ALIVE_SECONDS = 5
MAX_CONCURRENCY = 200  # connections and requests at once; beyond, uvicorn answers 503
BACKLOG = 256  # connections the kernel queues before the lab accepts them


class DeadlinedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head and a bound on connections waiting for one."""

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._head_timer = None
        self._arm()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # a request head has arrived (or the connection is done)
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # the next request's head has the same deadline

    def _waiting(self) -> OrderedDict:
        waiting = getattr(self.server_state, "pipetrace_waiting_for_headers", None)
        if waiting is None:
            waiting = self.server_state.pipetrace_waiting_for_headers = OrderedDict()
        return waiting

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEADER_SECONDS, self._give_up)
        waiting = self._waiting()
        waiting[self] = None
        while len(waiting) > MAX_WAITING_FOR_HEADERS:
            next(iter(waiting))._give_up()

    def _disarm(self) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._waiting().pop(self, None)

    def _give_up(self) -> None:
        self._disarm()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def server_limits() -> dict:
    """uvicorn.Config keywords: the protocol above, the limits, and a log that says only errors."""
    return {"http": DeadlinedH11Protocol, "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
            "timeout_keep_alive": KEEP_ALIVE_SECONDS, "limit_concurrency": MAX_CONCURRENCY, "backlog": BACKLOG,
            "log_level": "error"}  # not a warning line per malformed request: a flood of them would fill the disk
