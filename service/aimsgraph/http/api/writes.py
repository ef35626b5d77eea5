"""The one way a request writes: check the caller may write the graphs the change touches,
commit it (``changes.commit``, with the validation gate when configured), queue the refresh of
the derived graphs, and describe the result. Used by SPARQL Update, the Graph Store Protocol and
the import API. A handler that writes opens with :func:`writes`: the caller's role is checked
before anything else is done.

Also the one way a request body is read (:func:`upload_body`, :func:`uploaded_files`,
:func:`json_body`): whole or refused, and scanned as ``limits`` says before any parser sees it."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, ParamSpec, TypeVar

from flask import g, jsonify, request
from flask.wrappers import Response
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from aimsgraph import limits
from aimsgraph.auth import Principal, require
from aimsgraph.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from aimsgraph.http.state import state
from aimsgraph.store.changes import Change, Delta

#: Names the audit-trail activity of a write in its response.
CHANGE_HEADER = "X-Aimsgraph-Change"

P = ParamSpec("P")
R = TypeVar("R")


def writes(role: str, what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a handler that writes: the caller must hold ``role`` (401 without a token or
    when no token is configured, 403 with a lesser role; ``what`` names the work in the
    message, ``{method}`` in it the request's method) before the handler reads the body or
    takes the write lock. The graphs a change touches are checked again when it is committed
    (:func:`commit_request`)."""

    def decorate(handler: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(handler)
        def admitted(*args: P.args, **kwargs: P.kwargs) -> R:
            require(g.principal, role, what.replace("{method}", request.method), state().tokens)
            return handler(*args, **kwargs)

        return admitted

    return decorate


def require_json(what: str) -> None:
    """UnsupportedMediaType (415) unless the request says its body is JSON; ``what`` says what
    the body holds (``a list of measurements``)."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"{request.method} {request.path} takes application/json ({what}), not {request.mimetype or 'an untyped body'}"
        )


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart/form-data upload."""

    data: bytes
    filename: str
    mimetype: str  # the part's own Content-Type; "" when it has none


def upload_body(what: str, small: bool = False) -> bytes:
    """The request body of an upload (RDF, a spreadsheet, lineage events, a JSON request), whole:
    PayloadTooLarge above AIMSGRAPH_MAX_UPLOAD_BYTES (AIMSGRAPH_MAX_BODY_BYTES when ``small``: a
    form-sized body), refused on the announced length before anything is read. Scanned as its
    media type says (``limits.check_document``: JSON nesting, XML declarations)."""
    body = _whole_body(what, small)
    limits.check_document(body, request.mimetype, what=f"the {what}")
    return body


def json_body(what: str) -> object:
    """The request body as JSON, within AIMSGRAPH_MAX_BODY_BYTES and the nesting limit,
    whatever its Content-Type says; None when it is empty. InvalidInput when it is not JSON."""
    body = _whole_body(what, small=True)
    if not body.strip():
        return None
    limits.check_json(body, f"the {what}")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInput(f"the {what} is not JSON: {exc}") from None


def uploaded_files(what: str) -> list[UploadedFile]:
    """The file parts of a multipart/form-data upload (an HTML form, ``curl -F file=@data.ttl``,
    Fuseki's upload page), within AIMSGRAPH_MAX_UPLOAD_BYTES together, as :func:`upload_body`,
    each scanned as its Content-Type or file name says. Text fields are not files; an empty file
    input (a form sent without a file) is skipped."""
    limit, setting = _upload_limit(what, small=False)
    files, total = [], 0
    try:
        parts = [part for field in request.files for part in request.files.getlist(field)]  # several a field, too
    except RequestEntityTooLarge:  # a chunked upload longer than the service takes at all
        raise _too_large(what, limit, setting) from None
    for part in parts:
        data = part.stream.read(limit - total + 1)  # a byte more than may come: enough to tell
        total += len(data)
        if total > limit:
            raise _too_large(what, limit, setting)
        if part.filename or data:
            limits.check_document(data, part.mimetype, part.filename or "", f"the file {part.filename or ''!r}")
            files.append(UploadedFile(data, part.filename or "", part.mimetype))
    return files


def _whole_body(what: str, small: bool) -> bytes:
    """The body, read whole or refused. A chunked body announces no length, and Werkzeug's
    request stream ends quietly at its cap (MAX_CONTENT_LENGTH), so a longer body came cut at
    exactly the cap, and passed a ``len(body) > limit`` check. Read from a stream capped a byte
    above the limit instead: that byte tells a body of the limit from a longer one, whose rest is
    never read."""
    limit, setting = _upload_limit(what, small)
    body = _read(get_input_stream(request.environ, max_content_length=limit + 1), limit + 1)
    if len(body) > limit:
        raise _too_large(what, limit, setting)
    return body


def _read(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes: a read may return fewer than asked before the end."""
    chunks, count = [], 0
    while count < size:
        chunk = stream.read(min(size - count, 1_048_576))
        if not chunk:
            break
        chunks.append(chunk)
        count += len(chunk)
    return b"".join(chunks)


def _upload_limit(what: str, small: bool) -> tuple[int, str]:
    """The size limit of an upload and its setting; PayloadTooLarge when the request announces
    more, before any of it is read."""
    setting = "max_body_bytes" if small else "max_upload_bytes"
    limit = getattr(state().settings, setting)
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge(f"the {what} is {request.content_length} bytes; the limit is {limit} (AIMSGRAPH_{setting.upper()})")
    return limit, setting


def _too_large(what: str, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"the {what} is larger than {limit} bytes (AIMSGRAPH_{setting.upper()})")


def commit_request(
    delta: Delta,
    operation: str,
    text: str | None = None,
    *,
    admitted_as: Principal | None = None,
    day_only: bool = False,
    announce: Callable[[], object] | None = None,
) -> Change | None:
    """Commit ``delta`` for the caller of this request; None when it changes nothing.

    ``admitted_as``: the endpoint has admitted the caller by its own rule (a concern may come
    from anyone) and the trail records this agent; ``day_only`` as in :func:`changes.commit`;
    ``announce`` keeps the notifications of the change (``records.notifications.emit``), held
    until it is committed and dropped if it is undone."""
    principal = admitted_as or g.principal
    return state().commit(
        principal, delta, operation, text, admitted=admitted_as is not None, day_only=day_only, announce=announce
    )


def change_response(change: Change | None, status: int = 200, **extra: object) -> Response:
    """The JSON answer to a write: the change's record in the audit trail, or that nothing changed."""
    if change is None:
        response = jsonify(changed=False, added=0, removed=0, **extra)
    else:
        response = jsonify(changed=True, **change.as_dict(), **extra)
        response.headers[CHANGE_HEADER] = change.iri
    response.status_code = status
    return response
