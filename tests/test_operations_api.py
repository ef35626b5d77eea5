"""Operating the management system over HTTP, against the service in this process (apps of their
own, over on-disk stores): measurements with threshold breaches raised as one nonconformity per
metric, incidents with their communications, concerns from anyone (anonymous ones without any
trace of who sent them, not even in the access log of the development server `aimsgraph serve`
runs, served here from a thread) and their triage; and `aimsgraph measure` on the command line."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from datetime import time as time_of_day
from pathlib import Path

import pytest
import requests
from click.testing import Result
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from aimsgraph.config import Settings
from conftest import AS_OF, FreshDataDir, aimsgraph, serving, settle
from conftest import select as select_rows

MB = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
DATA = "https://w3id.org/aimsgraph/graph/data"
GINI = MB + "metric/retail-pd-gini"  # lower threshold 0.55
CV_RATIO = MB + "metric/cv-selection-rate-ratio"  # lower threshold 0.8, watches cv-screening-gender-bias
NC_BASE = "https://w3id.org/aimsgraph/nonconformity/metric-breach/"
ASH = "https://w3id.org/aimsgraph/shapes#"
PREFIXES = f"PREFIX aims: <{AIMS}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
#: The reader's name appears nowhere but in the anonymous concern it sends.
TOKENS = {
    "reader": ("concerned-reader-7f3a", "reader-token-0123456789abcdef"),
    "editor": ("editor-user", "editor-token-0123456789abcdef"),
}


def settings(data_dir: Path, **overrides: object) -> Settings:
    """The settings of this module's services: the tokens above, a 200 kB upload limit, 10 s queries."""
    tokens = tuple(f"{role}:{name}:{token}" for role, (name, token) in TOKENS.items())
    return Settings(data_dir=data_dir, tokens=tokens, max_upload_bytes=200_000, query_timeout=10, **overrides)  # type: ignore[arg-type]


@contextmanager
def service(data_dir: Path, **overrides: object) -> Iterator[FlaskClient]:
    """The test client of a new app over ``data_dir``; its query readers stop afterwards."""
    with serving(settings(data_dir, **overrides)) as app:
        yield app.test_client()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[FlaskClient]:
    with service(fresh_data_dir(tmp_path_factory.mktemp("operations") / "db")) as client:
        # a validation report is stored, so that writes revalidate what they touch
        assert client.post("/api/validate").status_code == 200
        yield client


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][1]}"} if role else {}


def post(client: FlaskClient, path: str, body: object, role: str | None = "editor", **headers: str) -> TestResponse:
    return client.post(path, data=json.dumps(body), headers={"Content-Type": "application/json", **auth(role), **headers})


def dump(client: FlaskClient) -> str:
    """Every quad of every graph (the audit trail and its recorded triples included), as TSV."""
    settle(client)
    response = client.post(
        "/sparql",
        data={"query": "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "text/tab-separated-values"},
    )
    assert response.status_code == 200, response.text
    assert "X-Aimsgraph-Result-Truncated" not in response.headers
    return "\n".join(sorted(response.text.splitlines()[1:]))


def findings(client: FlaskClient) -> set[tuple[str, str]]:
    settle(client)
    return {(f["shape"], f["focus"]) for f in client.get("/api/findings").get_json()["findings"]}


def select(client: FlaskClient, query: str) -> list[dict[str, str]]:
    return select_rows(client, PREFIXES + query)


@contextmanager
def development_server(client: FlaskClient) -> Iterator[tuple[str, list[str]]]:
    """Serve the client's app with werkzeug's threaded server on loopback, as `aimsgraph serve`
    does (cli._development_server), from a thread of this process: its URL, and the lines of its
    access log (the "werkzeug" logger, with the filters the service put on it) as they come."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger, handler = logging.getLogger("werkzeug"), Collect()
    logger.addHandler(handler)
    server = make_server("127.0.0.1", 0, client.application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="development-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", lines
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        logger.removeHandler(handler)


#: The suite's evaluation date at noon: events are dated relative to it, so the findings judged
#: as of AS_OF see them in the past (and they are in the past of the wall clock too).
NOON = datetime.combine(AS_OF, time_of_day(12), tzinfo=UTC)


def ago(**delta: float) -> str:
    return (NOON - timedelta(**delta)).isoformat().replace("+00:00", "Z")


# -- measurements --------------------------------------------------------------------------------


def test_a_breach_opens_one_nonconformity_and_a_finding_and_a_second_breach_joins_it(live: FlaskClient):
    before = findings(live)
    first = post(
        live,
        "/api/measurements",
        [
            {"metric": CV_RATIO, "value": 0.71, "measuredAt": ago(days=2)},
            {"metric": CV_RATIO, "value": 0.69, "measuredAt": ago(days=1)},
        ],
    )
    assert first.status_code == 201, first.text
    report = first.get_json()["report"]
    assert len(report["breaches"]) == 2 and report["risksFlagged"] == [MB + "risk/cv-screening-gender-bias"]
    [nc] = report["nonconformities"]["opened"]  # two breaches in one batch: one nonconformity
    assert nc.startswith(NC_BASE) and nc.endswith((NOON - timedelta(days=2)).strftime("-%Y%m%d"))
    assert first.headers["X-Aimsgraph-Change"] == first.get_json()["change"]

    second = post(live, "/api/measurements", {"measurements": [{"metric": CV_RATIO, "value": 0.7, "measuredAt": ago(hours=1)}]})
    assert second.status_code == 201, second.text
    assert second.get_json()["report"]["nonconformities"] == {"opened": [], "updated": [nc]}

    rows = select(
        live,
        f"""SELECT ?nc ?m ?status WHERE {{ GRAPH <{DATA}> {{
        ?nc a aims:Nonconformity ; aims:concerns <{CV_RATIO}> ; aims:raisedBy ?m ; aims:status ?status .
        ?m aims:breachesThreshold true ; aims:flagsForReassessment <{MB}risk/cv-screening-gender-bias> . }} }}""",
    )
    assert {r["nc"] for r in rows} == {nc} and len({r["m"] for r in rows}) == 3
    assert {r["status"] for r in rows} == {AIMS + "StatusOpen"}
    assert select(
        live,
        f"""SELECT ?x WHERE {{ <{nc}> aims:relatesToClause <https://w3id.org/aimsgraph/iso42001/9.1> ;
        aims:concerns <{MB}system/cv-screening> , <{MB}risk/cv-screening-gender-bias> ; aims:openedOn ?d ;
        aims:hasOwner ?x ; rdfs:label "Threshold breach: CV screening selection-rate ratio"@en }}""",
    )

    # After the write the service revalidates what it touched (shapes/operations.ttl): the flagged
    # risk is to be re-assessed and the new nonconformity needs a corrective action. The breach
    # itself is no finding, because the service opened the nonconformity that
    # ash:MetricBreachShape asks for; nor does the nonconformity lack an owner or a status.
    risk = MB + "risk/cv-screening-gender-bias"
    after = findings(live)
    assert {(ASH + "RiskReassessmentShape", risk), (ASH + "OpenNonconformityShape", nc)} <= after - before
    assert (ASH + "MetricBreachShape", CV_RATIO) not in after
    assert not {shape for shape, focus in after if focus == nc} - {ASH + "OpenNonconformityShape"}

    # closing the nonconformity while the metric still breaches is a finding; the next breach
    # opens a new nonconformity, which ends it
    closed = live.post(
        "/sparql",
        headers=auth("editor"),
        data={
            "update": f"""PREFIX aims: <{AIMS}>
        DELETE {{ <{nc}> aims:status ?s }} INSERT {{ <{nc}> aims:status aims:StatusClosed }} WHERE {{ <{nc}> aims:status ?s }}"""
        },
    )
    assert closed.status_code == 200, closed.text
    assert (ASH + "MetricBreachShape", CV_RATIO) in findings(live)
    third = post(live, "/api/measurements", [{"metric": CV_RATIO, "value": 0.6, "measuredAt": ago(minutes=5)}])
    [reopened] = third.get_json()["report"]["nonconformities"]["opened"]
    assert reopened != nc and reopened.startswith(NC_BASE)
    assert (ASH + "MetricBreachShape", CV_RATIO) not in findings(live)


def test_the_same_batch_again_changes_nothing(live: FlaskClient):
    batch = [
        {"metric": GINI, "value": 0.52, "measuredAt": ago(days=3), "note": "Q4 early read"},
        {"metric": MB + "metric/retail-pd-psi", "value": 0.12, "measuredAt": ago(days=3)},
    ]
    first = post(live, "/api/measurements", batch)
    assert first.status_code == 201 and first.get_json()["changed"] is True
    # the demo records the nonconformity the service opened for the Gini breach of 2026-09-30,
    # still in progress: the new breach joins it
    nc = NC_BASE + "7cf5e02fa3c76073-20260930"
    assert first.get_json()["report"]["nonconformities"] == {"opened": [], "updated": [nc]}
    before = dump(live)
    again = post(live, "/api/measurements", batch)
    assert again.status_code == 200 and again.get_json()["changed"] is False
    assert again.get_json()["report"]["nonconformities"] == {"opened": [], "updated": []}
    assert sorted(again.get_json()["report"]["unchanged"]) == sorted(first.get_json()["report"]["stored"])
    assert dump(live) == before
    # the same instant written with another offset is the same measurement
    moment = datetime.fromisoformat(batch[0]["measuredAt"]).astimezone(timezone(timedelta(hours=2)))
    shifted = dict(batch[0], measuredAt=moment.isoformat())
    assert post(live, "/api/measurements", [shifted]).get_json()["changed"] is False
    ncs = select(
        live, f"SELECT ?nc WHERE {{ ?nc a aims:Nonconformity ; aims:concerns <{GINI}> FILTER STRSTARTS(STR(?nc), '{NC_BASE}') }}"
    )
    assert [r["nc"] for r in ncs] == [nc]


MALFORMED = [
    ([{"metric": GINI, "value": "0.4", "measuredAt": "2026-11-01T00:00:00Z"}], 400, r"measurements\[0\]\.value must be a number"),
    (
        [
            {"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z"},
            {"metric": GINI, "value": 0.4, "measuredAt": "2026-11-02"},
        ],
        400,
        r"measurements\[1\]\.measuredAt must be an ISO 8601 date-time with a time zone",
    ),
    (
        [
            {"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z"},
            {"metric": GINI, "value": 0.4, "measuredAt": "2099-01-01T00:00:00Z"},
        ],
        400,
        r"measurements\[1\]\.measuredAt lies in the future",
    ),
    (
        [
            {"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z"},
            {"metric": MB + "metric/no-such-metric", "value": 0.4, "measuredAt": "2026-11-01T00:00:00Z"},
        ],
        400,
        r"measurements\[1\]\.metric <https://data\.meridian\.example/aims/metric/no-such-metric> is not an aims:Metric",
    ),
    (
        [{"metric": MB + "risk/retail-credit-model-drift", "value": 1, "measuredAt": "2026-11-01T00:00:00Z"}],
        400,
        "is not an aims:Metric",
    ),
    (
        [{"metric": "not an iri", "value": 1, "measuredAt": "2026-11-01T00:00:00Z"}],
        400,
        r"measurements\[0\]\.metric must be an absolute IRI",
    ),
    ([{"metric": GINI, "value": True, "measuredAt": "2026-11-01T00:00:00Z"}], 400, "must be a number"),
    ([{"metric": GINI, "measuredAt": "2026-11-01T00:00:00Z"}], 400, r"measurements\[0\]\.value is missing"),
    (
        [{"metric": GINI, "value": 1, "measuredAt": "2026-11-01T00:00:00Z", "unit": "%"}],
        400,
        r"measurements\[0\]\.unit is not a field",
    ),
    ([{"metric": GINI, "value": 1e300, "measuredAt": "2026-11-01T00:00:00Z"}], 400, "out of range"),
    (
        [
            {"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z"},
            {"metric": GINI, "value": 0.7, "measuredAt": "2026-11-01T00:00:00Z"},
        ],
        400,
        "same measurement .* with different values",
    ),
    ([], 400, "no measurements"),
    ({"metric": GINI}, 400, "^metric is not a field of this request"),
    (
        [{"metric": GINI, "value": 1, "measuredAt": "2026-11-01T00:00:00Z", "id": MB + "risk/retail-credit-model-drift"}],
        400,
        r"measurements\[0\]\.id .* not an aims:Measurement",
    ),
]


def test_malformed_measurements_get_400_and_change_nothing(live: FlaskClient):
    """Each batch has one problem, often in its second item; the store is compared whole."""
    before = dump(live)
    for body, status, message in MALFORMED:
        response = post(live, "/api/measurements", body)
        assert response.status_code == status, (body, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert re.search(message, response.get_json()["detail"]), response.get_json()["detail"]
    assert dump(live) == before


def test_measurements_refuse_non_finite_numbers_other_media_types_big_bodies_and_non_editors(live: FlaskClient):
    before = dump(live)
    nan = live.post(
        "/api/measurements",
        headers={"Content-Type": "application/json", **auth("editor")},
        data=f'[{{"metric": "{GINI}", "value": NaN, "measuredAt": "2026-11-01T00:00:00Z"}}]',
    )
    assert nan.status_code == 400 and "NaN" in nan.get_json()["detail"]
    form = live.post("/api/measurements", data={"metric": GINI}, headers=auth("editor"))
    assert form.status_code == 415
    big = [{"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z", "note": "x" * 9000}] * 30
    assert post(live, "/api/measurements", big).status_code == 413
    too_many = live.post(
        "/api/measurements",
        headers={"Content-Type": "application/json", **auth("editor")},
        data="[" + ",".join(["{}"] * 10_001) + "]",
    )
    assert too_many.status_code == 400 and "at most 10000" in too_many.get_json()["detail"]
    good = [{"metric": GINI, "value": 0.6, "measuredAt": "2026-11-01T00:00:00Z"}]
    assert post(live, "/api/measurements", good, role=None).status_code == 401
    assert post(live, "/api/measurements", good, role="reader").status_code == 403
    assert dump(live) == before


# -- incidents -----------------------------------------------------------------------------------


def test_an_incident_is_recorded_with_its_communications_and_triggers_reassessment(live: FlaskClient):
    before = findings(live)
    incident = {
        "label": "Card fraud model declined a payroll batch",
        "description": "Salary payments of a corporate client were declined as fraud for two hours.",
        "occurredAt": ago(days=4),
        "systems": [MB + "system/card-fraud-detection"],
        "risks": [MB + "risk/card-fraud-false-declines"],
        "affectedStakeholders": [MB + "party/retail-customers"],
        "mustInform": [MB + "party/retail-customers", MB + "party/national-banking-supervisor"],
        "informBy": ago(days=2),
        "communications": [{"recipient": MB + "party/retail-customers", "at": ago(days=3)}],
        "owner": MB + "role/fraud-owner",
    }
    response = post(live, "/api/incidents", incident)
    assert response.status_code == 201, response.text
    report = response.get_json()["report"]
    iri = report["incident"]
    assert report["created"] is True and report["risksFlagged"] == [MB + "risk/card-fraud-false-declines"]
    assert report["overdueCommunications"] == [MB + "party/national-banking-supervisor"]
    [communication] = report["communications"]
    assert communication.startswith("https://")  # a node with an IRI, not a blank node

    rows = select(
        live,
        f"""SELECT ?status ?comm ?at WHERE {{ GRAPH <{DATA}> {{
        <{iri}> a aims:Incident ; aims:status ?status ; aims:openedOn ?opened ; aims:informBy ?by ;
            aims:concerns <{MB}system/card-fraud-detection> ; aims:realisesRisk <{MB}risk/card-fraud-false-declines> ;
            aims:flagsForReassessment <{MB}risk/card-fraud-false-declines> ;
            aims:affectsStakeholder <{MB}party/retail-customers> ; aims:mustInform <{MB}party/national-banking-supervisor> ;
            aims:informed <{MB}party/retail-customers> ; aims:hasOwner <{MB}role/fraud-owner> ; aims:hasCommunication ?comm .
        ?comm a aims:Communication ; aims:recipient <{MB}party/retail-customers> ; aims:communicatedAt ?at . }} }}""",
    )
    assert [(r["status"], r["comm"]) for r in rows] == [(AIMS + "StatusOpen", communication)]

    again = post(live, "/api/incidents", incident)
    assert again.status_code == 200 and again.get_json()["changed"] is False

    # the risk it realised is to be re-assessed, and the supervisor was not told in time
    risk = MB + "risk/card-fraud-false-declines"
    assert {
        (ASH + "IncidentRiskReassessmentShape", iri),
        (ASH + "RiskReassessmentShape", risk),
        (ASH + "IncidentCommunicationShape", iri),
    } <= findings(live) - before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"risks": [MB + "system/card-fraud-detection"]}, r"risks\[0\] <.*> is not an aims:Risk"),
        ({"systems": []}, "systems must be a non-empty list"),
        ({"systems": [MB + "party/board"]}, r"systems\[0\] <.*> is not an asset"),
        ({"mustInform": ["mailto x"]}, r"mustInform\[0\] must be an absolute IRI"),
        ({"communications": [{"recipient": MB + "party/board"}]}, r"communications\[0\]\.at is missing"),
        ({"occurredAt": "2099-01-01T00:00:00Z"}, "^occurredAt lies in the future"),
        ({"label": ""}, "label is empty"),
    ],
)
def test_malformed_incidents_get_400_naming_the_field(live: FlaskClient, change: dict, message: str):
    body = {"label": "Something", "occurredAt": ago(days=1), "systems": [MB + "system/card-fraud-detection"], **change}
    response = post(live, "/api/incidents", body)
    assert response.status_code == 400
    assert re.search(message, response.get_json()["detail"]), response.get_json()["detail"]


# -- concerns ------------------------------------------------------------------------------------


def test_anonymous_concerns_store_no_identity(live: FlaskClient):
    spy = {
        "User-Agent": "ConcernClient/9.9 (Jane Whistler's laptop)",
        "X-Forwarded-For": "203.0.113.77",
        "X-Real-IP": "203.0.113.78",
    }

    def send(url: str, body: dict) -> requests.Response:  # over a socket, for the access log
        headers = {"Content-Type": "application/json", **auth("reader"), **spy}
        return requests.post(url + "/api/concerns", data=json.dumps(body), headers=headers, timeout=60)

    with development_server(live) as (url, log):
        refused = send(url, {"description": "Model overrides go unreviewed.", "anonymous": True, "reporter": "Jane Whistler"})
        assert refused.status_code == 400 and "Jane" not in refused.text  # never echoed
        text = "Loan officers are told to override the credit model for friends and family without review."
        response = send(url, {"description": text, "anonymous": True, "concerns": MB + "system/retail-credit-scoring"})
        assert response.status_code == 201, response.text
        concern = response.json()["report"]["concern"]
        assert response.json()["agent"] == "anonymous" and "concerned-reader" not in response.text

    everything = dump(live)
    assert text in everything and concern in everything  # it is recorded ...
    for identifying in ("concerned-reader-7f3a", "Jane Whistler", "ConcernClient", "127.0.0.1", "203.0.113."):
        assert identifying not in everything  # ... with nothing that points at who sent it
    [row] = select(
        live,
        f"""SELECT ?at ?anonymous ?agent ?role ?started ?ended WHERE {{
        GRAPH <{DATA}> {{ <{concern}> a aims:Concern ; aims:reportedAt ?at ; aims:anonymous ?anonymous ;
            aims:status aims:StatusOpen ; aims:concerns <{MB}system/retail-credit-scoring> .
            FILTER NOT EXISTS {{ <{concern}> aims:reportedBy ?anyone }} }}
        GRAPH <https://w3id.org/aimsgraph/graph/changes> {{ ?change aims:changedResource <{concern}> ;
            aims:agentRole ?role ; <http://www.w3.org/ns/prov#wasAssociatedWith>/rdfs:label ?agent ;
            <http://www.w3.org/ns/prov#startedAtTime> ?started ; <http://www.w3.org/ns/prov#endedAtTime> ?ended .
            FILTER NOT EXISTS {{ ?change aims:requestText ?text }} }} }}""",
    )
    assert row["at"].endswith("T00:00:00Z")  # the day only
    assert all(row[t].startswith(row["at"][:10]) and "00:00:00" in row[t] for t in ("started", "ended"))  # in the trail too
    assert (row["anonymous"], row["agent"], row["role"]) == ("true", "anonymous", "reader")
    # nor does the server's access log say who sent a concern, or when to the second
    lines = [line for line in log if "/api/concerns" in line]
    assert lines and all(line.startswith("- - - [-]") for line in lines), lines


def test_concerns_are_open_to_anyone_and_name_their_reporter_when_not_anonymous(live: FlaskClient):
    without_token = post(
        live,
        "/api/concerns",
        {"description": "The chatbot gave me wrong fee information.", "anonymous": False, "reporter": "Pat Customer"},
        role=None,
    )
    assert without_token.status_code == 201, without_token.text
    concern = without_token.get_json()["report"]["concern"]
    [row] = select(live, f"SELECT ?name WHERE {{ <{concern}> aims:reportedBy ?who . ?who rdfs:label ?name }}")
    assert row["name"] == "Pat Customer"
    assert without_token.get_json()["agent"] == "anonymous"  # nobody authenticated
    nameless = post(live, "/api/concerns", {"description": "x", "anonymous": False}, role=None)
    assert nameless.status_code == 400 and "reporter" in nameless.get_json()["detail"]
    must_choose = post(live, "/api/concerns", {"description": "x"}, role=None)
    assert must_choose.status_code == 400 and "anonymous must be true or false" in must_choose.get_json()["detail"]
    too_long = post(live, "/api/concerns", {"description": "x" * 10_001, "anonymous": True}, role=None)
    assert too_long.status_code == 400 and "10000" in too_long.get_json()["detail"]
    unknown = post(live, "/api/concerns", {"description": "x", "anonymous": True, "concerns": MB + "system/nope"}, role=None)
    assert unknown.status_code == 400 and "not described in the record" in unknown.get_json()["detail"]
    huge = post(live, "/api/concerns", {"description": "x", "anonymous": True, "padding": "x" * 1_100_000}, role="reader")
    assert huge.status_code == 413 and "AIMSGRAPH_MAX_BODY_BYTES" in huge.get_json()["detail"]
    form = live.post("/api/concerns", data={"description": "x"}, headers=auth("reader"))
    assert form.status_code == 415


def test_triage_turns_a_concern_into_a_finding_or_a_risk(live: FlaskClient):
    concern = post(
        live,
        "/api/concerns",
        {
            "description": "CV screening seems to reject older applicants.",
            "anonymous": True,
            "concerns": MB + "system/cv-screening",
        },
    ).get_json()["report"]["concern"]
    decision = {
        "concern": concern,
        "into": "finding",
        "label": "Possible age bias in CV screening",
        "owner": MB + "role/talent-acquisition-owner",
    }
    assert post(live, "/api/concerns/triage", decision, role="reader").status_code == 403
    finding = post(live, "/api/concerns/triage", decision)
    assert finding.status_code == 201, finding.text
    iri = finding.get_json()["report"]["finding"]
    assert select(
        live,
        f"""SELECT * WHERE {{ <{iri}> a aims:Finding ; aims:raisedBy <{concern}> ; aims:status aims:StatusOpen ;
        aims:relatesToClause <https://w3id.org/aimsgraph/iso42001/A.3.3> ; aims:concerns <{MB}system/cv-screening> .
        <{concern}> aims:triagedInto <{iri}> ; aims:status aims:StatusInProgress . }}""",
    )
    assert post(live, "/api/concerns/triage", decision).get_json()["changed"] is False

    risk = post(
        live,
        "/api/concerns/triage",
        {"concern": concern, "into": "risk", "label": "Age discrimination in shortlisting", "status": "closed"},
    )
    assert risk.status_code == 201, risk.text
    risk_iri = risk.get_json()["report"]["risk"]
    assert select(
        live,
        f"""SELECT * WHERE {{ <{MB}system/cv-screening> aims:hasRisk <{risk_iri}> . <{risk_iri}> a aims:Risk .
        <{concern}> aims:triagedInto <{risk_iri}> , <{iri}> ; aims:status aims:StatusClosed ; aims:closedOn ?d .
        FILTER NOT EXISTS {{ <{concern}> aims:status aims:StatusInProgress }} }}""",
    )
    bad = post(live, "/api/concerns/triage", {"concern": MB + "system/cv-screening", "into": "finding", "label": "x"})
    assert bad.status_code == 400 and "not an aims:Concern" in bad.get_json()["detail"]


def test_concerns_without_a_token_are_rate_limited(live: FlaskClient):
    statuses = [
        post(live, "/api/concerns", {"description": f"concern {i}", "anonymous": True}, role=None).status_code for i in range(31)
    ]
    assert statuses[-1] == 429 and set(statuses) <= {201, 429}
    assert post(live, "/api/concerns", {"description": "with a token", "anonymous": True}, role="reader").status_code == 201


@pytest.fixture(scope="module")
def closed(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[FlaskClient]:
    with service(fresh_data_dir(tmp_path_factory.mktemp("closed") / "db"), open_reads=False) as client:
        yield client


def test_with_protected_reads_a_concern_needs_a_reader_token(closed: FlaskClient):
    body = {"description": "Where do I raise a concern?", "anonymous": True}
    assert post(closed, "/api/concerns", body, role=None).status_code == 401
    assert post(closed, "/api/concerns", body, role="reader").status_code == 201


def test_without_tokens_the_service_takes_no_concerns(client: FlaskClient):
    response = post(client, "/api/concerns", {"description": "x", "anonymous": True}, role=None)
    assert response.status_code == 401 and "read-only" in response.get_json()["detail"]


# -- the command line ----------------------------------------------------------------------------


def run(*args: str, data_dir: Path) -> Result:
    return aimsgraph(*args, "--data-dir", data_dir)


def test_measure_records_a_file_and_refuses_a_bad_one_with_exit_code_2(tmp_path: Path):
    store = tmp_path / "db"
    metric = tmp_path / "metric.ttl"
    metric.write_text(f"""@prefix aims: <{AIMS}> .
        <urn:test:metric> a aims:Metric ; <http://www.w3.org/2000/01/rdf-schema#label> "Uptime" ;
            aims:threshold 0.99 ; aims:thresholdDirection "lower" ; aims:watchesRisk <urn:test:risk> .
        <urn:test:risk> a aims:Risk .\n""")
    assert run("load", str(metric), data_dir=store).exit_code == 0

    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {"metric": "urn:test:metric", "value": 0.995, "measuredAt": "2026-11-01T00:00:00Z"},
                {"metric": "urn:test:metric", "value": "high", "measuredAt": "2026-11-02T00:00:00Z"},
            ]
        )
    )
    refused = run("measure", str(bad), data_dir=store)
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == ['aimsgraph: measurements[1].value must be a number, not "high"']
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps([{"metric": "urn:test:other", "value": 1, "measuredAt": "2026-11-01T00:00:00Z"}]))
    assert run("measure", str(unknown), data_dir=store).exit_code == 2
    assert run("measure", str(tmp_path / "missing.json"), data_dir=store).exit_code == 2
    count = "SELECT (COUNT(*) AS ?n) WHERE { ?m a <https://w3id.org/aimsgraph/ontology#Measurement> }"
    assert run("query", count, data_dir=store).stdout.splitlines() == ["n", "0"]

    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            [
                {"metric": "urn:test:metric", "value": 0.995, "measuredAt": "2026-11-01T00:00:00Z"},
                {"metric": "urn:test:metric", "value": 0.97, "measuredAt": "2026-11-02T00:00:00Z"},
            ]
        )
    )
    recorded = run("measure", str(good), "--report", "json", data_dir=store)
    assert recorded.exit_code == 0, recorded.stderr
    output = json.loads(recorded.stdout)
    assert output["changed"] is True and len(output["report"]["stored"]) == 2
    assert len(output["report"]["nonconformities"]["opened"]) == 1
    assert output["report"]["risksFlagged"] == ["urn:test:risk"]
    assert run("query", count, data_dir=store).stdout.splitlines() == ["n", "2"]
    again = run("measure", str(good), data_dir=store)
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    history = run("history", "--format", "json", data_dir=store)
    assert [c["operation"] for c in json.loads(history.stdout)].count("measurements") == 1


def test_the_validation_gate_never_refuses_a_breach_or_an_incident(tmp_path: Path, fresh_data_dir: FreshDataDir):
    """Recording what happened must not wait for the follow-up: the findings these writes add
    (re-assess, decide the corrective action) are Warnings, which the gate lets through."""
    with service(fresh_data_dir(tmp_path / "gated"), validation_gate=True) as gated:
        breach = post(gated, "/api/measurements", [{"metric": CV_RATIO, "value": 0.61, "measuredAt": "2026-11-20T12:00:00Z"}])
        assert breach.status_code == 201, breach.text
        incident = post(
            gated,
            "/api/incidents",
            {
                "label": "Shortlist skewed by age band",
                "occurredAt": "2026-11-21T08:00:00Z",
                "systems": [MB + "system/cv-screening"],
                "risks": [MB + "risk/cv-screening-gender-bias"],
            },
        )
        assert incident.status_code == 201, incident.text
