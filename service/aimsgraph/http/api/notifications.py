"""REST: ``GET /api/notifications``, the outbox of notifications (docs/notifications.md).

Counts of deliveries per state (pending, delivered, failed), and the newest notifications with
each destination's delivery: state, attempts, next attempt, last error. ``?state=`` keeps the
notifications with a delivery in that state (``failed`` is what monitoring should watch);
``?limit=`` (default 100, at most 1,000) caps the list. Webhooks are shown by scheme and host
only: their URLs may carry a token.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from aimsgraph.errors import InvalidInput
from aimsgraph.http.state import state
from aimsgraph.records import notifications

bp = Blueprint("notifications", __name__)  # under api.bp: /api

#: The most notifications one answer lists.
MAX_LIMIT = 1000


@bp.get("/notifications")
def outbox() -> Response:
    wanted = request.args.get("state") or None
    if wanted is not None and wanted not in notifications.STATES.values():
        raise InvalidInput(f"state must be one of {', '.join(notifications.STATES.values())}, not {wanted!r}")
    text = request.args.get("limit", "100")
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}, not {text!r}")
    store = state().store
    notifier = notifications.notifier_of(store)
    return jsonify(notifications.listing(store, notifier.config if notifier else None, wanted, int(text)))
