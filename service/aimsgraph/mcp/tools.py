"""What each MCP tool answers, without the SDK: plain functions of the :class:`Runtime`, the
caller and the tool's arguments, each returning an :class:`Answer` (a one-line summary for the
assistant to read, and the JSON data). Each goes through the same domain functions as the
REST API's endpoint of the same subject, with the same checks: a bad argument raises the
AimsgraphError the API would answer with, and ``server`` turns it into a tool error.

Answers are bounded for a model's context: lists are cut at ``limit`` items (the totals say how
many there are), as the API pages them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from aimsgraph import clock
from aimsgraph.auth import Principal, require
from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.mcp.service import limit_expensive, may_read
from aimsgraph.namespaces import PREFIXES, is_absolute_iri
from aimsgraph.records import agenda, operations
from aimsgraph.reporting import frameworks, overview, reports
from aimsgraph.risk import impact as impacts
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.risk.propagation import InheritedRisk
from aimsgraph.runtime import Runtime
from aimsgraph.semantics import validation
from aimsgraph.sparql.executor import QueryJob
from aimsgraph.sparql.guard import check_text, query_form
from aimsgraph.sparql.update import UpdateRequest
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record

SOLUTIONS = "application/sparql-results+json"
GRAPHS = "text/turtle"
#: Items a list of an answer holds unless the call asks for fewer or more (up to MAX_ITEMS).
DEFAULT_ITEMS, MAX_ITEMS = 50, 1000
#: Modifications one what-if may propose (the API takes a body of AIMSGRAPH_MAX_BODY_BYTES).
MAX_MODIFICATIONS = 100


@dataclass(frozen=True)
class Answer:
    """What a tool returns: a short text for the assistant, and the structured data."""

    summary: str
    data: dict[str, Any]


def checked_limit(limit: int, most: int = MAX_ITEMS) -> int:
    """``limit`` when it is from 1 to ``most``; InvalidInput naming the range otherwise."""
    if not 1 <= limit <= most:
        raise InvalidInput(f"limit must be a whole number from 1 to {most}, not {limit}")
    return limit


def _as_of(text: str | None) -> date:
    return clock.as_of_argument(text, "as_of")


def _iri(value: str, name: str) -> str:
    if not is_absolute_iri(value):
        raise InvalidInput(f"{name} must be an absolute IRI, not {value!r}")
    return value


# -- SPARQL ----------------------------------------------------------------------------------


def sparql_query(service: Runtime, principal: Principal | None, query: str, limit: int) -> Answer:
    """A read-only SPARQL query, as /sparql runs it: the guard first (size, nesting, SERVICE
    allow-list), then a forked reader with the query timeout, cut at ``limit`` rows (at most
    AIMSGRAPH_RESULT_LIMIT, the cap of /sparql). Updates are refused."""
    may_read(service, principal)
    settings = service.settings
    if not query.strip():
        raise InvalidInput("the query is empty")
    if limit < 1:
        raise InvalidInput(f"limit must be a whole number from 1, not {limit}")
    limit = min(limit, settings.result_limit)  # cut as /sparql cuts, and said so
    check_text(query, settings)  # size, nesting, SERVICE: before anything parses it
    form = query_form(query)
    if form == "UPDATE":
        raise InvalidInput(
            "this is a SPARQL Update: sparql_query only reads (updates go to the sparql_update tool, when offered)"
        )
    job = QueryJob(query=query, solution_type=SOLUTIONS, graph_type=GRAPHS, limit=limit, prefixes=PREFIXES)
    outcome = service.readers.run(job)
    cut = f" (cut at {limit}: page with LIMIT/OFFSET)" if outcome.truncated else ""
    if outcome.media_type == GRAPHS:
        text = outcome.body.decode("utf-8")
        return Answer(
            f"{outcome.count} triples{cut}",
            {"form": form, "triples": outcome.count, "truncated": outcome.truncated, "turtle": text},
        )
    answer = json.loads(outcome.body)
    if "boolean" in answer:
        return Answer(f"ASK: {str(answer['boolean']).lower()}", {"form": "ASK", "boolean": answer["boolean"]})
    variables = answer["head"]["vars"]
    rows = [{name: cell["value"] for name, cell in row.items()} for row in answer["results"]["bindings"]]
    data = {"form": form or "SELECT", "variables": variables, "rows": rows, "truncated": outcome.truncated}
    return Answer(f"{len(rows)} rows of {', '.join('?' + v for v in variables)}{cut}", data)


def sparql_update(service: Runtime, principal: Principal | None, update: str) -> Answer:
    """A SPARQL Update, as /update runs it: the caller's role first, the guard (LOAD allow-list),
    evaluated to its exact change in the query readers, committed through the write path."""
    require(principal, "editor", "SPARQL Update", service.tokens)
    settings = service.settings
    if not update.strip():
        raise InvalidInput("the update is empty")
    check_text(update, settings)
    if query_form(update) in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
        raise InvalidInput("this is not a SPARQL Update; queries go to the sparql_query tool")
    request = UpdateRequest(
        update,
        fetch_timeout=settings.query_timeout,
        fetch_max_bytes=settings.max_upload_bytes,
        max_solutions=settings.result_limit,
    )
    return _change_answer(service.update(principal, request))


def _change_answer(change: Any, **extra: Any) -> Answer:
    if change is None:
        return Answer("nothing changed", {"changed": False, "added": 0, "removed": 0, **extra})
    data = {"changed": True, **change.as_dict(), **extra}
    return Answer(f"committed {change.iri}: {data.get('added', 0)} triples added, {data.get('removed', 0)} removed", data)


# -- impact, what-if, why ---------------------------------------------------------------------


def impact(service: Runtime, principal: Principal | None, node: str, change: str) -> Answer:
    """The impact analysis of changing ``node`` (``GET /api/impact``)."""
    may_read(service, principal)
    snapshot = service.models.get()
    return _impact_answer(impacts.analyse(snapshot.record, snapshot.model, node, change))


def what_if(service: Runtime, principal: Principal | None, node: str, change: str, modifications: list[dict[str, Any]]) -> Answer:
    """The impact analysis with proposed modifications evaluated on a copy of the risk model
    (``POST /api/impact`` with ``whatIf``); the store is never written."""
    may_read(service, principal)
    if not modifications:
        raise InvalidInput(f"modifications must list at least one modification ({', '.join(impacts.WHAT_IF_OPERATIONS)})")
    if len(modifications) > MAX_MODIFICATIONS:
        raise InvalidInput(f"modifications may list at most {MAX_MODIFICATIONS} modifications, not {len(modifications)}")
    limit_expensive(service, principal, "what-if impact analyses")  # a what-if copies and re-propagates the model
    snapshot = service.models.get()
    answer = _impact_answer(impacts.analyse(snapshot.record, snapshot.model, node, change, modifications))
    moved = answer.data["risk"]["risksChanged"]
    return Answer(f"{answer.summary}; {len(moved)} risk scores change under the proposal", answer.data)


def _impact_answer(answer: dict[str, Any]) -> Answer:
    node, counts = answer["node"], answer["summary"]
    summary = (
        f"{answer['change']['kind']} of {node['label']} ({node['kind']}): {counts['affectedAssets']} dependent assets "
        f"({counts['affectedSystems']} AI systems); {counts['risksToReassess']} risks to re-assess, "
        f"{counts['controlsToRetest']} controls to re-test, {counts['staleEvidence']} evidence items stale, "
        f"{counts['stakeholdersToInform']} stakeholders to inform, {counts['soaRowsTouched']} SoA rows touched"
    )
    return Answer(summary, answer)


def explain_risk(service: Runtime, principal: Principal | None, node: str, limit: int) -> Answer:
    """Why: for an asset (an AI system, model, dataset ...), the risks it inherits through its
    dependencies with their explanation paths, strongest first (``queries/why-risk.rq``, the
    system page's "inherited risks"); for a risk, its scores and every asset it reaches, with
    the paths. From the risk model of the current store generation."""
    may_read(service, principal)
    _iri(node, "node")
    checked_limit(limit)
    snapshot = service.models.get()
    record, model = snapshot.record, snapshot.model
    if model.asset_kind(node) is not None:
        return _asset_risks(record, model, node, limit)
    if node in model.risks:
        return _risk_reach(record, model, node, limit)
    if not record.exists(node):
        raise NotFound(f"unknown node <{node}>: nothing in the record describes it")
    raise InvalidInput(f"<{node}> is neither an asset (system, model, dataset, infrastructure service, supplier) nor a risk")


def _asset_risks(record: Record, model: RiskModel, node: str, limit: int) -> Answer:
    inherited = model.propagation.inherited.get(node, [])
    rows = [_inherited_dict(record, model, i) for i in inherited]
    rows.sort(key=lambda r: (-r["residualScore"], -r["inherentScore"], r["distance"], r["riskLabel"]))
    own = [_risk_dict(record, model.risks[r.iri]) for r in model.by_asset.get(node, [])]
    label = record.label(node)
    data = {
        "node": {"iri": node, "label": label, "kind": model.asset_kind(node)},
        "ownRisks": own,
        "inheritedRisks": rows[:limit],
        "inheritedTotal": len(rows),
    }
    top = f"; strongest: {rows[0]['riskLabel']} from {rows[0]['sourceAssetLabel']} via {rows[0]['paths'][0]}" if rows else ""
    return Answer(f"{label} has {len(own)} own scored risks and inherits {len(rows)} through its dependencies{top}", data)


def _risk_reach(record: Record, model: RiskModel, node: str, limit: int) -> Answer:
    reached = [i for i in model.propagation.all() if i.source_risk == node]
    rows = [_inherited_dict(record, model, i) for i in reached]
    rows.sort(key=lambda r: (-r["residualScore"], r["distance"], r["assetLabel"]))
    risk = _risk_dict(record, model.risks[node])
    data = {"risk": risk, "reaches": rows[:limit], "reachesTotal": len(rows)}
    level = f"{risk['level']} (residual {risk['residualLevel']})" if risk["scored"] else f"not scored: {risk['problem']}"
    return Answer(f"{risk['label']}: {level}; it reaches {len(rows)} dependent assets", data)


def _risk_dict(record: Record, risk: Any) -> dict[str, Any]:
    return {
        "iri": risk.iri,
        "label": record.label(risk.iri),
        "assets": list(risk.assets),
        "scored": risk.scored,
        "level": risk.inherent.label if risk.inherent else None,
        "residualLevel": risk.residual.label if risk.residual else None,
        "inherentScore": round(risk.inherent_score, 4),
        "residualScore": round(risk.residual_score, 4),
        "controls": [c.iri for c in risk.controls],
        "problem": risk.problem,
    }


def _inherited_dict(record: Record, model: RiskModel, item: InheritedRisk) -> dict[str, Any]:
    matrix = model.criteria.matrix
    return {
        "asset": item.asset,
        "assetLabel": record.label(item.asset),
        "risk": item.source_risk,
        "riskLabel": record.label(item.source_risk),
        "sourceAsset": item.source_asset,
        "sourceAssetLabel": record.label(item.source_asset),
        "distance": item.distance,
        "inherentScore": round(item.inherent_score, 4),
        "residualScore": round(item.residual_score, 4),
        "level": matrix.level_for_score(item.inherent_score).label,
        "residualLevel": matrix.level_for_score(item.residual_score).label,
        # from the asset back to the source, the way an owner reads "why", with labels
        "paths": [_path_text(record, path) for path in item.paths],
    }


def _path_text(record: Record, path: Any) -> str:
    parts = [record.label(path.steps[-1].dependent)] if path.steps else []
    for step in reversed(path.steps):
        parts.append(
            f"-{'|'.join(t.rsplit('#', 1)[-1].rsplit('/', 1)[-1] for t in step.types)}-> {record.label(step.dependency)}"
        )
    return " ".join(parts)


# -- findings, due items, readiness -----------------------------------------------------------


def validate(
    service: Runtime, principal: Principal | None, as_of: str | None, severity: str | None, system: str | None, limit: int
) -> Answer:
    """The findings of the completeness shapes (ISO/IEC 42001 clauses and Annex A) as of a day,
    with readiness per clause and per AI system, as ``GET /api/findings`` and ``POST
    /api/validate`` give them to a caller who may not store findings: today's stored findings
    (validated and stored first when none are stored for today), another day's computed and
    not kept (limited for callers without a token). Most severe first, cut at ``limit``."""
    may_read(service, principal)
    checked_limit(limit)
    day = _as_of(as_of)
    if severity is not None and severity.capitalize() not in validation.SEVERITIES:
        raise InvalidInput(f"severity must be one of {', '.join(validation.SEVERITIES)}, not {severity!r}")
    if system is not None:
        _iri(system, "system")
    if day != clock.today():
        limit_expensive(service, principal, "validations of another day")
    store = service.store
    index = overview.findings_index(store, day)
    wanted = overview.FindingFilter(None, severity and severity.capitalize(), system)
    page = overview.finding_page(store, index, wanted, None, limit)
    report = _report(store, index.findings, day)
    counts = report.counts
    systems = [_readiness_dict(r) for r in report.systems[:limit]]
    data = {
        "asOf": day.isoformat(),
        "conforms": report.conforms,
        "counts": counts,
        "readiness": {"clauses": [_readiness_dict(r) for r in report.clauses], "systems": systems},
        "readinessSystemsTotal": len(report.systems),
        "findings": [reports.finding_dict(f) for f in page.items],
        "findingsTotal": page.total,
    }
    summary = (
        f"as of {day.isoformat()}: {counts['Violation']} violations, {counts['Warning']} warnings, {counts['Info']} infos; "
        f"{page.total} findings match, {len(page.items)} listed"
    )
    return Answer(summary, data)


def _report(store: GraphStore, findings: list[validation.Finding], day: date) -> reports.Report:
    """Readiness per clause and AI system of today's findings, built once for the findings
    index of the store generation (22 s at 10,000 systems, on every call before); another
    day's, each time."""
    if day != clock.today():
        return reports.build(store, findings, day)
    kept: dict[date, tuple[list[validation.Finding], reports.Report]] = store.per_generation("mcp validate report", dict)
    if day not in kept or kept[day][0] is not findings:  # the same findings, not merely equal ones
        kept[day] = (findings, reports.build(store, findings, day))
    return kept[day][1]


def _readiness_dict(r: reports.Readiness) -> dict[str, Any]:
    ratio = None if r.ratio is None else round(r.ratio, 4)
    return {"id": r.key, "label": r.label, "checks": r.total, "failed": r.failed, "readiness": ratio}


def due_items(service: Runtime, principal: Principal | None, within: str, as_of: str | None, limit: int) -> Answer:
    """The review calendar (``GET /api/due``): what falls due within the window after the day,
    overdue items included, soonest first, cut at ``limit``."""
    may_read(service, principal)
    checked_limit(limit)
    day = _as_of(as_of)
    items = agenda.due_items(service.store, day, agenda.parse_within(within, day))
    data = agenda.as_dict(items[:limit], day, within)
    data.update({"overdue": sum(i.overdue for i in items), "total": len(items), "kinds": agenda.kind_counts(items)})
    summary = f"{len(items)} items due within {within} of {day.isoformat()}, {data['overdue']} of them overdue"
    return Answer(summary, data)


def readiness(
    service: Runtime, principal: Principal | None, framework: str | None, as_of: str | None, everything: bool, limit: int
) -> Answer:
    """Readiness of ISO/IEC 42001, the NIST AI RMF and the EU AI Act (``GET /api/readiness``):
    each framework's counts and its requirements that are not met (all of them with
    ``everything``), each with what decided it, at most ``limit`` a framework."""
    may_read(service, principal)
    checked_limit(limit)
    day = _as_of(as_of)
    if day != clock.today():
        limit_expensive(service, principal, "validations of another day")
    found = overview.framework_readiness(service.store, day)
    chosen = found if framework is None else [frameworks.named(found, framework)]
    listed = []
    for entry in (frameworks.as_json(f) for f in chosen):
        requirements = [r for r in _dicts(entry["requirements"]) if everything or r["status"] != "met"]
        listed.append({**entry, "requirements": requirements[:limit], "requirementsListed": len(requirements)})
    parts = [f"{f.title}: " + ", ".join(f"{n} {status}" for status, n in f.counts.items()) for f in chosen]
    return Answer("; ".join(parts), {"asOf": day.isoformat(), "frameworks": listed})


def _dicts(value: object) -> list[dict[str, Any]]:
    return value if isinstance(value, list) else []


# -- writes (only when AIMSGRAPH_MCP_WRITES is on) --------------------------------------------


def record_measurements(service: Runtime, principal: Principal | None, measurements: list[dict[str, Any]]) -> Answer:
    """Measurements of metrics, as ``POST /api/measurements`` records them: an editor's token,
    every item checked, breaches flagged and raised as nonconformities, one change or none."""
    require(principal, "editor", "recording measurements", service.tokens)
    batch = operations.read_measurements(measurements)
    store = service.store
    with store.write_lock():
        delta, report = operations.measurement_delta(store, batch)
        change = service.commit(principal, delta, "measurements")
    return _change_answer(change, report=report.as_dict())
