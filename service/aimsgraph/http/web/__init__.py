"""The web interface: server-rendered pages for people who do not write SPARQL (dashboard, heat
map, system pages, Statement of Applicability, findings, impact, what is due, a SPARQL editor)
and the token login. Views only gather what :mod:`aimsgraph.reporting.overview` and :mod:`aimsgraph.risk.impact` compute and
render it with the templates in ``aimsgraph/reporting/templates/``; static assets (CSS, small scripts, YASGUI
and CodeMirror from the npm registry) ship in ``static/``, so nothing is fetched from elsewhere.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyoxigraph as ox
from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, session, url_for

from aimsgraph import clock, reporting
from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.http import oidc  # oidc imports this module too: each uses the other in functions only
from aimsgraph.http.state import state
from aimsgraph.namespaces import AIMS, PREFIXES, TYPE, is_absolute_iri, sparql_prefixes
from aimsgraph.records import agenda, queries, soa
from aimsgraph.reporting import charts, frameworks, overview
from aimsgraph.risk import impact
from aimsgraph.semantics import applicability, suggestions

#: The templates belong to reporting: the auditor report and review pack render them too.
bp = Blueprint(
    "web",
    __name__,
    template_folder=str(Path(reporting.__file__).parent / "templates"),
    static_folder="static",
    static_url_path="/static",
)

IRI_IN_TEXT = re.compile(r"<(https?://[^<>\s]+)>")


@bp.app_context_processor
def _page_globals() -> dict:
    """What every page's header needs: who is signed in, and whether a login exists."""
    return {
        "principal": g.get("principal"),
        "login_enabled": state().tokens.configured or oidc.configured(),
        "charts": charts,
        "asset_url": lambda iri: url_for("web.asset", iri=iri),
    }


#: The pages' policy: every script, stylesheet and fetch comes from this site (the pages have no
#: inline script, style element or style attribute; CodeMirror styles elements through the DOM,
#: which a policy does not govern); images are inline SVG and the empty ``data:`` favicon.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Other HTML the service sends (the review pack and the SoA table of the API, standalone
#: documents to save or print): an inline style element at most, and no script, fetch or form.
DOCUMENT_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    """Security headers for every HTML answer of the service, whichever blueprint sent it, so
    that a new page or HTML format is covered without anyone remembering to add them: a
    content security policy (an injected script does not run), no framing (clickjacking), no
    referrer to other sites (page URLs carry IRIs of the record). ``nosniff`` goes on every
    answer: a browser must not run a JSON or CSV body as a script or page."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype in ("text/html", "application/xhtml+xml"):
        policy = PAGE_POLICY if request.blueprint == "web" else DOCUMENT_POLICY
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.get("/")
def dashboard():
    if not _wants_html():  # API clients asking for JSON (or anything) at / get the service index
        return _service_index()
    service = state()
    as_of = clock.as_of_argument(request.args.get("asOf"))
    return render_template("dashboard.html", board=overview.dashboard(service.store, service.models, as_of), asked=as_of)


@bp.get("/heatmap")
def heat_map():
    view = request.args.get("view", "inherent")
    if view not in overview.VIEWS:
        raise InvalidInput(f"view must be one of {', '.join(overview.VIEWS)}")
    snapshot = state().models.get()
    selected = _selected_cell(snapshot.model.criteria.matrix.cells)
    data = overview.heat_map(snapshot.record, snapshot.model, view, listed=selected, unscored_shown=overview.PAGE_SIZE)
    cell = data.cell(*selected) if selected else None
    return render_template(
        "heatmap.html",
        data=data,
        selected=selected,
        cell=cell,
        page=overview.page_of(cell.risks, request.args.get("after"), lambda r: f"{r.iri} {r.asset}") if cell else None,
        chart=charts.heat_map(
            data,
            lambda likelihood, severity: (
                url_for("web.heat_map", view=view, likelihood=likelihood, severity=severity) + "#cell-risks"
            ),
            selected,
        ),
    )


@bp.get("/systems")
def systems():
    """AI systems riskiest first, or the assets of another kind by name, a page at a time."""
    snapshot = state().models.get()
    kind = request.args.get("kind") or "AISystem"
    if kind not in overview.ASSET_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(overview.ASSET_KINDS)}")
    after = request.args.get("after") or None
    if kind == "AISystem":
        rows = snapshot.kept("system rows", lambda: overview.system_rows(snapshot.record, snapshot.model))
        positions = snapshot.kept("system positions", lambda: {r.iri: i for i, r in enumerate(rows)}) if after else None
        page = overview.page_of(rows, after, lambda r: r.iri, positions=positions)
    else:
        items = snapshot.kept(("assets", kind), lambda: overview.assets_of_kind(snapshot.record, snapshot.model, kind))
        page = overview.page_of(items, after, lambda a: a[0])
    return render_template(
        "systems.html", kind=kind, page=page, counts=overview.asset_counts(snapshot.model), kinds=overview.KIND_LABELS
    )


@bp.get("/asset")
def asset():
    iri = _iri_argument("iri")
    service = state()
    snapshot = service.models.get()
    expand = request.args.get("expand") == "1"
    view = overview.asset_view(
        service.store, snapshot.record, snapshot.model, overview.findings_index(service.store, wait=False), iri, expand
    )
    if view is None:
        abort(404, description=f"<{iri}> is not a system, model, dataset, infrastructure service or supplier of the record")
    return render_template(
        "asset.html",
        view=view,
        kinds=overview.KIND_LABELS,
        label=snapshot.record.label,
        picture=charts.dependency_picture(view.picture, _picture_link("web.asset", iri=iri)),
    )


@bp.get("/eu-ai-act")
def eu_ai_act():
    """The EU AI Act category of every AI system and model, a page at a time; with ``?node=``,
    one node's classifications with their premises and the obligations that follow."""
    service = state()
    label = service.models.get().record.label
    if request.args.get("node") is not None:
        node = _iri_argument("node")
        found = applicability.stored_classifications(service.store, node)
        if not found:
            abort(404, description=f"<{node}> has no EU AI Act classification: it is no AI system or model of the record")
        owed = applicability.obligation_views(service.store, (o for c in found for o in c.obligations))
        return render_template("eu-ai-act.html", node=node, found=found, obligations=owed, label=label)
    rows = service.store.per_generation("eu-ai-act rows", lambda: applicability.summary(service.store))
    counts = service.store.per_generation(
        "eu-ai-act counts", lambda: Counter(c for r in rows for c in {c for c, _ in r.categories})
    )
    page = overview.page_of(rows, request.args.get("after") or None, lambda r: r.node)
    return render_template("eu-ai-act.html", node=None, page=page, counts=counts, label=label)


@bp.get("/suggestions")
def risk_suggestions():
    """The questionnaire of risk identification: for one AI system (``?system=``), each risk
    source the register's facts suggest, why, and whether it is addressed or dismissed, with
    what to record for an open one; without, the systems with open suggestions."""
    service = state()
    label = service.models.get().record.label
    query = queries.load_all()["risk-suggestions"]
    system = _iri_argument("system") if request.args.get("system") is not None else None

    def rows() -> list[dict[str, Any]]:
        found = service.store.query(query.text)
        names = [v.value for v in found.variables]
        return [{n: row[n] for n in names if row[n] is not None} for row in found]

    listed = service.store.per_generation("suggestion rows", rows)
    if system is None:
        open_per_system = Counter(r["system"].value for r in listed if r["status"].value == "open")
        every = Counter(r["system"].value for r in listed)
        systems = sorted(every, key=lambda s: (-open_per_system[s], label(s)))
        page = overview.page_of(systems, request.args.get("after") or None, lambda s: s)
        return render_template("suggestions.html", system=None, page=page, open=open_per_system, every=every, label=label)
    if "AISystem" not in service.models.get().record.types(system):
        abort(404, description=f"<{system}> is not an AI system of the record")
    found = [r for r in listed if r["system"].value == system]
    premises = suggestions.premises_of(service.store, system)
    return render_template("suggestions.html", system=system, found=found, premises=premises, label=label)


@bp.get("/readiness")
def readiness_page():
    """One framework's requirements with their status and the items that decided it."""
    found = overview.framework_readiness(state().store, clock.as_of_argument(request.args.get("asOf")))
    chosen = frameworks.named(found, request.args.get("framework") or found[0].key)
    status = request.args.get("status")
    rows = [r for r in chosen.requirements if status in (None, r.status)]
    page = overview.page_of(rows, request.args.get("after") or None, lambda r: r.iri)
    return render_template("readiness.html", frameworks=found, chosen=chosen, status=status, page=page)


@bp.get("/soa")
def statement_of_applicability():
    store = state().store
    columns, rows = soa.rows(store)
    quads = store.quads(None, TYPE, ox.NamedNode(AIMS + "StatementOfApplicability"), None)
    statements = [q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)]
    return render_template("soa.html", columns=columns, rows=rows, statement=min(statements, default=None))


@bp.get("/soa.csv")
def statement_of_applicability_csv():
    response = Response(soa.render(state().store, "csv"), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="statement-of-applicability.csv"'
    return response


@bp.get("/findings")
def findings():
    service = state()
    snapshot = service.models.get()
    index = overview.findings_index(service.store, wait=False)
    severity = request.args.get("severity") or None
    if severity and severity not in overview.validation.SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(overview.validation.SEVERITIES)}")
    system = request.args.get("system") or None
    if system and not is_absolute_iri(system):
        raise InvalidInput("system must be the IRI of an AI system")
    if system and snapshot.model.asset_kind(system) != "AISystem":
        abort(404, description=f"<{system}> is not an AI system of the record")
    wanted = overview.FindingFilter(request.args.get("clause") or None, severity, system)
    page = overview.finding_page(service.store, index, wanted, request.args.get("after") or None)
    return render_template(
        "findings.html",
        page=page,
        wanted=wanted,
        total=len(index.findings),
        as_of=index.as_of,
        today=clock.today(),
        clauses=index.view(("clause ids",), lambda: overview.clause_ids(index.findings)),
        system_label=snapshot.record.label(system) if system else None,
        severities=overview.validation.SEVERITIES,
        label=snapshot.record.label,
    )


@bp.get("/impact")
def impact_page():
    snapshot = state().models.get()
    node, change = request.args.get("node") or None, request.args.get("change") or "modify"
    answer = picture = None
    status = 200
    error = None
    if node:
        try:
            answer = impact.analyse(snapshot.record, snapshot.model, node, change)
        except (InvalidInput, NotFound) as exc:  # a node the record does not hold is 404
            error, status = exc.message, exc.status
        else:
            affected = {a["iri"] for a in answer["affected"]}
            picture = charts.dependency_picture(
                overview.picture(snapshot.record, snapshot.model, node, affected, affected, request.args.get("expand") == "1"),
                _picture_link("web.impact_page", node=node, change=change),
            )

    def readable(text: str) -> str:  # the analysis names things by IRI; people read labels
        return IRI_IN_TEXT.sub(lambda m: snapshot.record.label(m.group(1)), text)

    return render_template(
        "impact.html",
        node=node,
        change=change,
        answer=answer,
        picture=picture,
        error=error,
        readable=readable,
        kinds=impact.CHANGE_KINDS,
        assets=_picker(snapshot),
        limit=overview.LIST_LIMIT,
        kind_labels=overview.KIND_LABELS,
    ), status


WINDOWS = ("7d", "30d", "90d", "12m")


@bp.get("/due")
def due():
    """What is due (the review calendar) and how monitoring went (breaches and their follow-up)."""
    service = state()
    as_of = clock.as_of_argument(request.args.get("asOf"))
    within = request.args.get("within", agenda.DEFAULT_WITHIN)
    items = agenda.due_items(service.store, as_of, agenda.parse_within(within, as_of))
    page = overview.page_of(items, request.args.get("after") or None, agenda.item_key)
    snapshot = service.models.get()
    return render_template(
        "due.html",
        items=page.items,
        page=page,
        kinds=agenda.kind_counts(items),
        overdue=sum(i.overdue for i in items),
        as_of=as_of,
        within=within,
        windows=WINDOWS,
        breaches=service.store.per_generation("breaches", lambda: overview.breaches(service.store, snapshot.record)),
    )


@bp.get("/query")
def sparql_page():
    """YASGUI over this service's ``/sparql``, a tab per named query (``?name=`` opens that one).
    ``static/query.js`` reads the configuration from the page (the policy runs no inline script)."""
    named = queries.load_all()
    initial = request.args.get("name") or min(named)
    if initial not in named:
        raise NotFound(f"no query named '{initial}' in queries/")
    page = render_template(
        "query.html", named=sorted(named.values(), key=lambda q: q.summary), config=_yasgui_config(named, initial)
    )
    return page, {"Content-Security-Policy": QUERY_PAGE_POLICY}


#: The SPARQL page's policy: the pages' policy, and what YASGUI needs beyond it, allowed by
#: SHA-256 so that nothing else inline applies (tests/test_yasgui.py recomputes the hashes from the
#: vendored script). Two style sheets its result table adds as <style> elements (its
#: column-resizer package: the resizable columns' layout, without which the table is drawn
#: thousands of pixels wide, and the cursor while a column is dragged), and the one style
#: attribute of the editor's syntax-error tooltip (``text-decoration:underline``). Browsers
#: without the -elem and -attr directives fall back to ``style-src 'self'``, blocking all three.
QUERY_PAGE_POLICY = (
    PAGE_POLICY + "; style-src-elem 'self' 'sha256-zCK2EVMoPc04mRF/g5CotUvxbJPWS+8V0b+s9ptqQIk=' "
    "'sha256-c0O6TmFAkgpNbHxKAa1BrveWHHopjEtC47i0PzMudxg='; "
    "style-src-attr 'unsafe-hashes' 'sha256-EntWS0hFrz2vH7susM+dPUxvHlL6sBswmM8K80E5oUk='"
)


#: What a tab the user opens (YASGUI's +) starts with.
EXAMPLE_QUERY = sparql_prefixes("aims", "rdfs") + (
    "SELECT ?system ?label WHERE {\n  ?system a aims:AISystem ; rdfs:label ?label .\n}\nORDER BY ?label\n"
)


def _yasgui_config(named: dict[str, queries.NamedQuery], initial: str) -> dict[str, Any]:
    """The SPARQL page's YASGUI settings: the endpoint as a path (the browser resolves it against
    the page, so queries go to the site that served it), the prefixes the service knows
    (autocompletion, shortened IRIs in results), and the named queries in name order, a tab each."""
    return {
        "endpoint": url_for("sparql.sparql_endpoint"),
        "prefixes": PREFIXES,
        "example": EXAMPLE_QUERY,
        "initial": initial,
        "tabs": [
            {
                "name": q.name,
                "summary": q.summary,
                "description": q.metadata.get("description", ""),
                "parameters": [p.variable for p in q.parameters],
                "text": q.text,
            }
            for q in sorted(named.values(), key=lambda q: q.name)
        ],
    }


@bp.get("/favicon.ico")
def favicon() -> Response:
    """No icon: browsers ask for one on every page, the review pack and the API included."""
    return Response(status=204)


@bp.route("/login", methods=["GET", "POST"])
def login():
    tokens = state().tokens
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, token_login=tokens.configured)
    key = tokens.session_key(request.form.get("token", "")) if tokens.configured else None
    if key is None:
        error = "That token is not valid." if tokens.configured else "No tokens are configured: there is nothing to log in to."
        return render_template("login.html", next=target, error=error, token_login=tokens.configured), 401
    session.clear()
    session["token"] = key
    return redirect(target)


@bp.post("/logout")
def logout():
    """End the session; a single sign-on's ends at its provider too, where it offers that."""
    kept = session.get("oidc")
    session.clear()
    return oidc.logged_out(kept) or redirect(url_for("web.dashboard"))


def _wants_html() -> bool:
    return any(value in ("text/html", "application/xhtml+xml") for value, _ in request.accept_mimetypes)


def _service_index() -> Response:
    return jsonify(
        service="aimsgraph",
        sparql=request.host_url + "sparql",
        health=request.host_url + "api/health",
        graphs=request.host_url + "api/graphs",
        web=request.host_url,
    )


#: Above this many assets a picker is a field for an IRI: a list of 44,000 options is megabytes.
PICKER_LIMIT = 500


def _picker(snapshot) -> dict[str, list[tuple[str, str]]] | None:
    """Assets per kind for a picker, or None when there are too many to list."""
    if sum(overview.asset_counts(snapshot.model).values()) > PICKER_LIMIT:
        return None
    return snapshot.kept("picker", lambda: overview.assets_by_kind(snapshot.record, snapshot.model))


def _picture_link(endpoint: str, **here: str):
    """Where a node of a picture leads: a node to its own picture, a group of nodes ("12 more
    datasets") to this picture drawn whole."""
    node_argument = "iri" if endpoint == "web.asset" else "node"

    values: dict[str, Any] = dict(here)  # url_for's own keywords (_external ...) take other types

    def link(node: str) -> str:
        if node.startswith(overview.GROUP_PREFIX):
            return url_for(endpoint, **values, expand="1")
        return url_for(endpoint, **{**values, node_argument: node})

    return link


def _selected_cell(cells) -> tuple[int, int] | None:
    likelihood, severity = request.args.get("likelihood"), request.args.get("severity")
    if likelihood is None and severity is None:
        return None
    if (
        likelihood is None
        or severity is None
        or not likelihood.isdecimal()
        or not severity.isdecimal()
        or (int(likelihood), int(severity)) not in cells
    ):
        raise InvalidInput("likelihood and severity must be ranks of the matrix, both given")
    return int(likelihood), int(severity)


def _iri_argument(name: str) -> str:
    value = request.args.get(name, "")
    if not is_absolute_iri(value):
        raise InvalidInput(f"{name} must be an absolute IRI")
    return value


def _safe_next(target: str | None) -> str:
    """Only a path on this site: a login must not redirect elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("web.dashboard")
    return target


# Views in modules of their own register on ``bp`` when imported (after bp exists).
from aimsgraph.http.web import forms, work  # noqa: E402, F401
