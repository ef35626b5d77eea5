"""REST: operating the management system. ``POST /api/measurements`` (monitoring, 9.1),
``POST /api/incidents`` (A.8.4), ``POST /api/concerns`` (reporting concerns, A.3.3) and
``POST /api/concerns/triage`` (turning a concern into a finding or a risk). Each body is JSON,
checked completely (400 naming the item and field) and written as one change, or not at all.

Who may call: measurements, incidents and triage need an editor token. Concerns are a channel
for anyone: with ``AIMSGRAPH_OPEN_READS=true`` (the default) no token is needed, otherwise a
reader's; a service without any token configured stays read-only (401). A concern sent
``"anonymous": true`` is recorded without anything that identifies who sent it, the audit
trail included (it names the agent ``anonymous`` whoever called); the body is limited to
AIMSGRAPH_MAX_BODY_BYTES, and callers without a token to ``CONCERNS_PER_MINUTE`` together
(429 with Retry-After above it, ``ratelimit.limit_anonymous``). Every JSON body is read by
``api.writes.upload_body``: whole, and refused when it nests too deep.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, g

from aimsgraph.auth import require
from aimsgraph.http.api import ratelimit
from aimsgraph.http.api.writes import change_response, commit_request, require_json, upload_body, writes
from aimsgraph.http.openapi import Change, Model, Problem, contract
from aimsgraph.http.state import state
from aimsgraph.records import operations
from aimsgraph.records.payloads import parse_json

bp = Blueprint("operations", __name__)  # under api.bp: /api

#: Concerns accepted per minute from callers without a token, all together.
CONCERNS_PER_MINUTE = 30


class MeasurementReport(Model):
    """What a batch did (``records.operations.MeasurementReport``)."""

    stored: list[str]
    unchanged: list[str]
    breaches: list[dict[str, Any]]
    nonconformities: dict[str, list[str]]
    risksFlagged: list[str]
    metricsWithoutThreshold: list[str]


class MeasurementsChange(Change):
    report: MeasurementReport


class IncidentReport(Model):
    incident: str
    created: bool
    risksFlagged: list[str]
    communications: list[str]
    overdueCommunications: list[str]


class IncidentChange(Change):
    report: IncidentReport


class ConcernReport(Model):
    concern: str
    anonymous: bool


class ConcernChange(Change):
    report: ConcernReport


class TriageChange(Change):
    report: dict[str, Any]


@bp.post("/measurements")
@contract(
    "Record measurements (monitoring, 9.1)",
    body=operations.MeasurementBatch,
    responses={200: MeasurementsChange, 201: MeasurementsChange, 400: Problem, 415: Problem},
    role="editor",
)
@writes("editor", "recording measurements")
def measurements() -> Response:
    """A batch of measurements; breaches flagged and raised as nonconformities; all or nothing.
    201 when a measurement was recorded for the first time."""
    require_json("a list of measurements")
    batch = operations.read_measurements(parse_json(upload_body("measurements")))
    store = state().store
    with store.write_lock():
        delta, report = operations.measurement_delta(store, batch)
        new = [iri for iri in report.stored if not _exists(iri)]
        change = commit_request(delta, "measurements")
    return change_response(change, 201 if change is not None and new else 200, report=report.as_dict())


@bp.post("/incidents")
@contract(
    "Record an AI incident (A.8.4)",
    body=operations.Incident,
    responses={200: IncidentChange, 201: IncidentChange, 400: Problem, 415: Problem},
    role="editor",
)
@writes("editor", "recording incidents")
def incidents() -> Response:
    """An AI incident; 201 when it is recorded for the first time."""
    require_json("an incident")
    incident = operations.read_incident(parse_json(upload_body("incident")))
    store = state().store
    with store.write_lock():
        delta, report = operations.incident_delta(store, incident)
        change = commit_request(delta, "incident")
    return change_response(change, 201 if change is not None and report.created else 200, report=report.as_dict())


@bp.post("/concerns")
@contract(
    "Report a concern (A.3.3), anonymously if asked",
    body=operations.Concern,
    responses={201: ConcernChange, 400: Problem, 401: Problem, 415: Problem, 429: Problem},
)
def concerns() -> Response:
    """A concern about the AI systems or their use, from anyone (see the module docstring); 201."""
    service = state()
    caller = g.principal
    if not service.tokens.configured or not service.settings.open_reads:
        require(caller, "reader", "reporting a concern", service.tokens)
    ratelimit.limit_anonymous("concerns", CONCERNS_PER_MINUTE, "concerns")
    require_json("a concern")
    concern = operations.read_concern(parse_json(upload_body("concern", small=True)))
    # anonymous: nobody is named, neither in the record nor in the audit trail
    agent = operations.ANONYMOUS if concern.anonymous or caller is None else caller
    with service.store.write_lock():
        delta, report = operations.concern_delta(
            service.store, concern, None if concern.anonymous or caller is None else caller.name
        )
        change = commit_request(delta, "concern", admitted_as=agent, day_only=agent is operations.ANONYMOUS)
    return change_response(change, 201, report=report.as_dict())


@bp.post("/concerns/triage")
@contract(
    "Turn a concern into a finding or a risk",
    body=operations.Triage,
    responses={200: TriageChange, 201: TriageChange, 400: Problem, 415: Problem},
    role="editor",
)
@writes("editor", "triaging concerns")
def triage() -> Response:
    """Turn a concern into a finding or a risk; 201 when that is new."""
    require_json("a triage decision")
    decision = operations.read_triage(parse_json(upload_body("triage decision")))
    store = state().store
    with store.write_lock():
        delta, report = operations.triage_delta(store, decision)
        change = commit_request(delta, "concern-triage")
    return change_response(change, 201 if change is not None and report["created"] else 200, report=report)


def _exists(iri: str) -> bool:
    store = state().store
    return next(store.quads(ox.NamedNode(iri), None, None, None), None) is not None


class _ConcernAccessLines(logging.Filter):
    """The development server (``aimsgraph serve``) logs every request with the client's address
    and the time to the second; for concerns, both are blanked, so that the log does not say who
    reported one either. (`serve --production` keeps no access log; behind a proxy, configure its log likewise.)"""

    _PREFIX = re.compile(r"^\S+ - - \[[^\]]*\]")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if args and "/api/concerns" in str(args[0]) and isinstance(record.msg, str):
            record.msg = self._PREFIX.sub("- - - [-]", record.msg)
        return True


@bp.record_once
def _blank_concern_access_lines(_state: object) -> None:
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, _ConcernAccessLines) for f in logger.filters):
        logger.addFilter(_ConcernAccessLines())
