"""The web interface's forms: approvals, and creating and editing record entries (AI systems, models, datasets,
suppliers, risks, controls, evidence, measurements, incidents, nonconformities) in the browser.

The fields come from the shapes (:mod:`aimsgraph.records.forms`); a post is checked as
:mod:`.csrf` says and written as the signed-in person through the one write path
(``commit_request``: journalled, audited, the validation gate applied). "Check" shows the
findings the change would fix or create before anything is saved.
"""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from aimsgraph.errors import InvalidInput, ValidationRejected
from aimsgraph.http.api.writes import commit_request
from aimsgraph.http.state import state
from aimsgraph.http.web import _iri_argument, bp, csrf
from aimsgraph.records import approvals, forms
from aimsgraph.reporting import overview
from aimsgraph.store.record import Record

#: The kinds whose saved entries the asset page shows; others come back to their form.
ASSET_KINDS = set(overview.ASSET_KINDS)


@bp.get("/records/new")
def new_entry():
    """The kinds one can create; with ``?kind=``, that kind's empty form."""
    kind = request.args.get("kind")
    if kind is None:
        return render_template("record-kinds.html", kinds=forms.KINDS)
    return _render(forms.entry(state().store, _kind(kind), None))


@bp.get("/records/edit")
def edit_entry():
    iri = _iri_argument("iri")
    store = state().store
    return _render(forms.entry(store, forms.kind_of(store, iri), iri), saved=request.args.get("saved") == "1")


@bp.post("/records/save")
def save_entry() -> BaseResponse | str | tuple[str, int]:
    """Check (``action=check``) or save the posted form as the signed-in person."""
    principal = csrf.form_writer("editor", "saving a form")
    store = state().store
    kind, iri = _kind(request.form.get("kind", "")), request.form.get("iri") or None
    if iri is not None:
        forms.kind_of(store, iri)  # an existing entry of an editable kind
    filled = forms.submitted(store, kind, iri, request.form.to_dict(flat=False))
    try:
        saved_iri, change = forms.delta(store, filled)
    except InvalidInput as error:
        return _render(filled, error=error.message), 400
    if request.form.get("action") == "check":
        return _render(filled, preview=forms.preview(store, change, principal))
    try:
        commit_request(change, "form", f"{kind} form", admitted_as=principal)
    except ValidationRejected as rejected:
        return _render(filled, error=rejected.message, rejected=rejected.findings), 422
    if kind in ASSET_KINDS:
        return redirect(url_for("web.asset", iri=saved_iri))
    return redirect(url_for("web.edit_entry", iri=saved_iri, saved="1"))


def _kind(kind: str) -> str:
    if kind not in forms.KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(forms.KINDS)}")
    return kind


def _render(filled: forms.Entry, **extra: object) -> str:
    return render_template("record-form.html", entry=filled, csrf_token=csrf.token(), **extra)


@bp.get("/approvals")
def approvals_page():
    """The approvals of a risk, the SoA, the AI policy or a planned change, whether the latest
    still stands, what blocks a new one, and the form to approve."""
    about = _iri_argument("about")
    return _render_approvals(about, approvals.kind_for(state().store, about))


@bp.post("/approvals")
def approve() -> BaseResponse | tuple[str, int]:
    about = request.form.get("about", "")
    store = state().store
    kind = approvals.kind_for(store, about)
    principal = csrf.form_writer(kind.role, f"recording a {kind.label}")
    try:
        delta = approvals.approval_delta(store, kind, about, principal)
        commit_request(
            delta, "approve", admitted_as=principal, announce=lambda: approvals.announce(store, kind, about, principal)
        )
    except ValidationRejected as rejected:
        return _render_approvals(about, kind, error=rejected.message), 422
    return redirect(url_for("web.approvals_page", about=about, approved="1"))


def _render_approvals(about: str, kind: approvals.Kind, **extra: object) -> str:
    store = state().store
    return render_template(
        "approvals.html",
        about=about,
        kind=kind,
        label=Record(store).label(about),
        history=approvals.approvals(store, about),
        blocking=approvals.blocking(store, about),
        approved=request.args.get("approved") == "1",
        csrf_token=csrf.token(),
        **extra,
    )
