"""Rate limits of callers without a token: they have no name, and an address may be a proxy's,
so calls are counted over all of them together, one budget a minute per kind of call: concerns
(``api.operations``) and expensive work (:func:`limit_expensive`: validating a posted record,
the store as of another day, the review pack, a what-if impact analysis)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from flask import current_app, g
from flask.wrappers import Response

from aimsgraph.errors import TooManyRequests
from aimsgraph.http.state import state


class Limiter:
    """At most ``per_minute`` calls in any 60 s (a sliding window)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """Count a call; None when admitted, else the seconds until one more would be."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= 60:
                self._times.popleft()
            if len(self._times) >= self.per_minute:
                return max(1, math.ceil(60 - (now - self._times[0])))
            self._times.append(now)
            return None


def limit_anonymous(name: str, per_minute: int, what: str, setting: str = "") -> None:
    """Count a call of kind ``name`` if the caller has no token: TooManyRequests (429, with
    Retry-After, see :func:`retry_after`) when more than ``per_minute`` arrived in the last
    minute. One limiter per kind and application."""
    if g.get("principal") is not None:
        return
    limiters = current_app.extensions.setdefault("aimsgraph-limiters", {})
    wait = limiters.setdefault(name, Limiter(per_minute)).take()
    if wait is not None:
        g.retry_after = wait
        named = f" ({setting})" if setting else ""
        raise TooManyRequests(
            f"more than {per_minute} {what} a minute arrived without a token{named}; try again in {wait} s, or send a token"
        )


def limit_expensive(what: str) -> None:
    """:func:`limit_anonymous` for work that costs the service much whoever asks (validating a
    posted record, or the store as of another day), within
    AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE together."""
    per_minute = state().settings.anonymous_expensive_per_minute
    limit_anonymous("expensive", per_minute, what, "AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE")


def retry_after(response: Response) -> Response:
    """Add Retry-After to a 429 of :func:`limit_anonymous` (the application renders errors
    without headers of their own): registered as ``after_request`` by the blueprints that limit."""
    if response.status_code == 429 and g.get("retry_after"):
        response.headers["Retry-After"] = str(g.retry_after)
    return response
