"""The lab's login code: what the printed address carries instead of the token, and why it stops working.

A browser keeps every address it opens in its history database (Chromium keeps `/#login=...`
even after the page removes it with `history.replaceState`). So the printed address does not
carry the lab's token but a login code, which the page exchanges for the token's cookie
(`POST /api/login`). The code works for anyone (a class of learners each open the address the
teacher's lab printed) until `window` seconds after it is first exchanged, then never again: the
copy left in each browser's history is dead within minutes. Whoever presents a code after that
gets a fresh one printed in the lab's terminal (`announce`), at most one at a time: a new code is
made only when the current one has expired, so replaying old codes cannot fill the terminal.

>>> now = [0.0]
>>> codes = LoginCodes(window=60, clock=lambda: now[0])
>>> first = codes.current
>>> codes.exchange(first), codes.exchange("wrong")
(True, False)
>>> now[0] = 61.0
>>> codes.exchange(first), codes.current != first
(False, True)
"""

from __future__ import annotations

import secrets
import threading
import time

LOGIN_SECONDS = 600  # a login code works until this long after its first use: time for a class to join


class LoginCodes:
    """The lab's current login code; `exchange` says whether a code given now may log in."""

    def __init__(self, window: float = LOGIN_SECONDS, announce=lambda code: None, clock=time.monotonic):
        self.window, self.announce, self.clock = window, announce, clock
        self._lock = threading.Lock()  # handlers run in threads
        self.current = secrets.token_urlsafe(16)
        self._first_used: float | None = None

    def exchange(self, given: str) -> bool:
        """True if `given` is the current code and still works; marks its first use. A code tried after the current
        one expired makes and announces a new one (the refused caller is told the terminal shows it)."""
        with self._lock:
            now = self.clock()
            expired = self._first_used is not None and now - self._first_used > self.window
            if not expired and secrets.compare_digest(given.encode(), self.current.encode()):
                if self._first_used is None:
                    self._first_used = now
                return True
            if expired:
                self.current, self._first_used = secrets.token_urlsafe(16), None
                fresh = self.current
            else:
                fresh = None
        if fresh is not None:
            self.announce(fresh)
        return False
