"""The one way a request writes: check the caller may write the graphs the change touches,
commit it (``changes.commit``, with the validation gate when configured), queue the refresh of
the derived graphs, and describe the result. Used by SPARQL Update, the Graph Store Protocol and
the import API."""

from __future__ import annotations

from flask import current_app, g, jsonify, request
from flask.wrappers import Response

from aimsgraph.auth import Principal, require_write
from aimsgraph.changes import Change, Delta, commit
from aimsgraph.errors import PayloadTooLarge
from aimsgraph.refresh import mark_stale
from aimsgraph.validation import ViolationGate

#: Names the audit-trail activity of a write in its response.
CHANGE_HEADER = "X-Aimsgraph-Change"


def upload_body(what: str, small: bool = False) -> bytes:
    """The request body of an upload (RDF, a spreadsheet, lineage events); PayloadTooLarge above
    AIMSGRAPH_MAX_UPLOAD_BYTES (AIMSGRAPH_MAX_BODY_BYTES when ``small``: a form-sized body),
    refused on the announced length before anything is read."""
    setting = "max_body_bytes" if small else "max_upload_bytes"
    limit = getattr(current_app.extensions["aimsgraph"].settings, setting)
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"the {what} is {request.content_length} bytes; the limit is {limit} (AIMSGRAPH_{setting.upper()})")
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"the {what} is larger than {limit} bytes (AIMSGRAPH_{setting.upper()})")
    return body


def commit_request(delta: Delta, operation: str, text: str | None = None, *, admitted_as: Principal | None = None,
                   day_only: bool = False) -> Change | None:
    """Commit ``delta`` for the caller of this request; None when it changes nothing.

    ``admitted_as``: the endpoint has admitted the caller by its own rule (a concern may come
    from anyone) and the trail records this agent; ``day_only`` as in :func:`changes.commit`."""
    state = current_app.extensions["aimsgraph"]
    principal = admitted_as or require_write(g.principal, delta.graphs(), state.tokens)
    store = state.store
    gate = ViolationGate(store) if state.settings.validation_gate else None
    with store.write_lock():
        change = commit(store, delta, operation, principal, text=text, gate=gate,
                        before_commit=lambda: mark_stale(store), day_only=day_only)
        if change is not None:
            state.refresher.submit(change.delta)
    return change


def change_response(change: Change | None, status: int = 200, **extra: object) -> Response:
    """The JSON answer to a write: the change's record in the audit trail, or that nothing changed."""
    if change is None:
        response = jsonify(changed=False, added=0, removed=0, **extra)
    else:
        response = jsonify(changed=True, **change.as_dict(), **extra)
        response.headers[CHANGE_HEADER] = change.iri
    response.status_code = status
    return response
