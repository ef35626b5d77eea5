"""Rate limits of callers without a token: they have no name, and an address may be a proxy's,
so calls are counted over all of them together, one budget a minute per kind of call: concerns
(``api.operations``) and expensive work (:func:`limit_expensive`: validating a posted record,
the store as of another day, the review pack, a what-if impact analysis)."""

from __future__ import annotations

from flask import g
from flask.wrappers import Response

from aimsgraph.errors import TooManyRequests
from aimsgraph.http.state import state


def limit_anonymous(name: str, per_minute: int, what: str, setting: str = "") -> None:
    """Count a call of kind ``name`` if the caller has no token: TooManyRequests (429, with
    Retry-After, see :func:`retry_after`) when more than ``per_minute`` arrived in the last
    minute. One limiter per kind and application."""
    if g.get("principal") is not None:
        return
    wait = state().limiter(name, per_minute).take()
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
