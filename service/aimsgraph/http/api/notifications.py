"""REST: ``GET /api/notifications``, the outbox of notifications (docs/notifications.md).

Counts of deliveries per state (pending, delivered, failed), and the newest notifications with
each destination's delivery: state, attempts, next attempt, last error. ``?state=`` keeps the
notifications with a delivery in that state (``failed`` is what monitoring should watch);
``?limit=`` (default 100, at most 1,000) caps the list. Webhooks are shown by scheme and host
only: their URLs may carry a token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from aimsgraph.errors import InvalidInput
from aimsgraph.http.openapi import Model, Param, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.records import notifications

bp = Blueprint("notifications", __name__)  # under api.bp: /api

#: The most notifications one answer lists.
MAX_LIMIT = 1000


class Outbox(Model):
    """Deliveries per state and the newest notifications with their deliveries."""

    enabled: bool
    destinations: list[str]
    counts: dict[str, int]
    notifications: list[dict[str, Any]]


@bp.get("/notifications")
@contract(
    "The outbox of notifications",
    params=[
        Param(
            "state", "only those with a delivery in this state", {"type": "string", "enum": list(notifications.STATES.values())}
        ),
        Param(
            "limit",
            f"notifications listed, 1 to {MAX_LIMIT} (default 100)",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        ),
    ],
    responses={200: Outbox, 400: Problem},
)
def outbox() -> Response:
    """The outbox (see the module docstring): failed deliveries are what monitoring should watch."""
    wanted = request.args.get("state") or None
    if wanted is not None and wanted not in notifications.STATES.values():
        raise InvalidInput(f"state must be one of {', '.join(notifications.STATES.values())}, not {wanted!r}")
    text = request.args.get("limit", "100")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    store = state().store
    notifier = notifications.notifier_of(store)
    return jsonify(notifications.listing(store, notifier.config if notifier else None, wanted, int(text)))
