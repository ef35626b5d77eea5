"""The rules every MCP tool applies before it works, as the HTTP API applies them: who may read
(:func:`may_read`) and how much expensive work callers without a token may ask for
(:func:`limit_expensive`). What the server holds while it runs is the
:class:`~aimsgraph.runtime.Runtime` that ``aimsgraph serve`` also holds; like ``serve``, the MCP
server owns the store (RocksDB allows one process), so the two cannot run over the same data
directory at once.
"""

from __future__ import annotations

from aimsgraph.auth import Principal, require
from aimsgraph.errors import TooManyRequests
from aimsgraph.runtime import Runtime


def may_read(service: Runtime, principal: Principal | None) -> None:
    """Unauthorized unless the caller may read: anyone with AIMSGRAPH_OPEN_READS (the default),
    else a reader's token or better, as the API asks."""
    if not service.settings.open_reads:
        require(principal, "reader", "reading", service.tokens)


def limit_expensive(service: Runtime, principal: Principal | None, what: str) -> None:
    """Count expensive work (another day's findings, a what-if) of callers without a token
    against AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE, within the API's own budget (one runtime,
    one limiter)."""
    if principal is not None:
        return
    per_minute = service.settings.anonymous_expensive_per_minute
    wait = service.limiter("expensive", per_minute).take()
    if wait is not None:
        raise TooManyRequests(
            f"more than {per_minute} {what} a minute arrived without a token "
            f"(AIMSGRAPH_ANONYMOUS_EXPENSIVE_PER_MINUTE); try again in {wait} s, or send a token"
        )
