"""Browser writes done safely: the forms of the web interface write as the signed-in person
(``g.session_principal``), within that person's role, and only when the request proves it comes
from one of this service's own pages.

A session cookie goes with every request to this site, cross-site form posts included, so the
cookie alone never writes: each form carries a per-session secret (the synchronizer token
pattern, as Flask-WTF and Django do it) that another site cannot read, and a request that says
it comes from another origin (``Origin``, or the browser's ``Sec-Fetch-Site``) is refused even
with it. SPARQL Update, the Graph Store and the JSON API take no cookie writes at all.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import g, request, session

from aimsgraph.auth import Principal, require
from aimsgraph.errors import Forbidden
from aimsgraph.http.state import state

#: The form field (and the session key) of the token.
FIELD = "csrf_token"


def token() -> str:
    """The session's CSRF token, made on first use; the forms put it in a hidden field."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return str(session[FIELD])


def form_writer(role: str, action: str) -> Principal:
    """Who a form post writes as: the signed-in person, if the post is from this site and
    carries the session's token, and the person holds ``role``; or the caller of a bearer token
    (a client such as the benchmark harness: only cookies ride along uninvited). Forbidden
    otherwise (401 when nobody is signed in)."""
    if request.headers.get("Authorization"):  # a client's own credential: no browser adds it by itself
        return require(g.principal, role, action, state().tokens)
    _check_same_site()
    expected, given = session.get(FIELD), request.form.get(FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden(f"{action} needs the form's CSRF token: reload the page and send the form again")
    return require(g.get("session_principal"), role, action, state().tokens)


def _check_same_site() -> None:
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Forbidden("a form of another site cannot write here")
    origin = request.headers.get("Origin")
    if origin and origin != "null" and _origin(origin) != _origin(request.host_url):
        raise Forbidden(f"a form of {origin} cannot write here")
    if origin == "null":
        raise Forbidden("a form of an opaque origin cannot write here")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
