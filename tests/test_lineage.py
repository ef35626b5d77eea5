"""OpenLineage events: checked on input, recorded as PROV in the lineage graph, matched to the
register's datasets, and the assessments and evidence they make stale reported by validation
(both engines) and recorded; the lineage ontology module and shapes follow the conventions."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import RDFS, SKOS, URIRef
from rdflib.namespace import DCTERMS

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers import openlineage
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.semantics import validation
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta
from conftest import AS_OF

DATA_DIR = Path(__file__).parent / "data"
MB = "https://data.meridian.example/aims/"
TRANSACTIONS = MB + "dataset/customer-transactions"
#: The OpenLineage name of the transactions table, as the fixtures' pipeline writes it.
TRANSACTIONS_URI = "postgres://lakehouse.meridian.example:5432/silver.core.transactions"
RUN = "urn:uuid:0190a3b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b"
STALE_SHAPES = {"https://w3id.org/aimsgraph/shapes#StaleAssessmentShape", "https://w3id.org/aimsgraph/shapes#StaleEvidenceShape"}
PREFIXES = f"PREFIX aims: <{AIMS}>\nPREFIX prov: <http://www.w3.org/ns/prov#>\n"


def fixture(name: str) -> object:
    return json.loads((DATA_DIR / f"openlineage-{name}.json").read_text())


@pytest.fixture(scope="module")
def base() -> GraphStore:
    store = GraphStore(None)
    store.initialise(demo=True)
    refresh_inferences(store)
    return store


@pytest.fixture()
def store(base: GraphStore) -> GraphStore:
    """A fresh copy of the demo, with the transactions table's OpenLineage URI as an identifier."""
    copied = GraphStore(None)
    copied.backend.extend(base.backend)
    add(copied, Graphs.DATA, f'<{TRANSACTIONS}> <http://purl.org/dc/terms/identifier> "{TRANSACTIONS_URI}" .')
    return copied


def add(store: GraphStore, graph: str, triples: str) -> None:
    store.update(f"INSERT DATA {{ GRAPH <{graph}> {{ {triples} }} }}")


def apply(store: GraphStore, payload: object) -> tuple[Delta, openlineage.LineageReport]:
    delta, report = openlineage.lineage_delta(store, openlineage.read_events(payload))
    store.replace_quads(delta.removed, delta.added)
    refresh_inferences(store)
    return delta, report


def stale_findings(store: GraphStore, focus: object = None) -> list[validation.Finding]:
    return [f for f in validation.validate_store(store, AS_OF, focus) if f.shape in STALE_SHAPES]


def values(store: GraphStore, subject: str, prop: str) -> set[str]:
    return {
        q.object.value
        for q in store.backend.quads_for_pattern(ox.NamedNode(subject), ox.NamedNode(prop), None, ox.NamedNode(Graphs.LINEAGE))
    }


def event_at(payload: dict, time: str, run_id: str) -> dict:
    changed = copy.deepcopy(payload)
    changed["eventTime"], changed["run"]["runId"] = time, run_id
    return changed


# -- reading events ---------------------------------------------------------------------------


def test_a_run_event_is_read_with_its_datasets_and_a_utc_time():
    event = openlineage.read_event(fixture("complete"))
    assert (event.event_type, event.run_iri) == ("COMPLETE", RUN)
    assert event.event_time.isoformat() == "2026-10-20T08:15:42.123000+00:00"
    assert (event.job_namespace, event.job_name) == ("airflow-prod", "core_banking_ingestion.load_transactions")
    assert [(d.namespace, d.name) for d in event.outputs] == [
        ("postgres://lakehouse.meridian.example:5432", "silver.core.transactions")
    ]
    assert event.outputs[0].uri == TRANSACTIONS_URI
    batch = openlineage.read_events(fixture("unknown"))
    assert [e.event_type for e in batch] == ["START", "COMPLETE"]
    assert batch[1].run_id == "7d1c4e2a-5b3f-4a6d-8e9c-0f1a2b3c4d5e"  # UUIDs compare case-insensitively
    assert batch[1].event_time.isoformat() == "2026-10-21T00:04:51+00:00"
    assert openlineage.read_event(fixture("start")).outputs[0].version == "1842"


def _without(path: str):
    def change(event: dict) -> None:
        *parents, last = path.split(".")
        target = event
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


def _set(path: str, value: object):
    def change(event: dict) -> None:
        *parents, last = path.split(".")
        target = event
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def _two_outputs(second: dict):
    def change(event: dict) -> None:
        event["outputs"].append(second)

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_without("run.runId"), "run.runId is missing"),
        (_set("run.runId", "run-42"), 'run.runId must be a UUID, not "run-42"'),
        (_without("run"), "run is missing"),
        (_set("eventTime", "yesterday"), 'eventTime must be an ISO 8601 date-time with a time zone, .* not "yesterday"'),
        (
            _set("eventTime", "2026-10-20T08:15:42"),
            'eventTime must be an ISO 8601 date-time with a time zone, .* not "2026-10-20T08:15:42"',
        ),
        (_set("eventTime", "2026-02-30T08:00:00Z"), "eventTime is not a valid date-time"),
        (_set("eventType", "DONE"), 'eventType must be one of START, RUNNING, COMPLETE, .* not "DONE"'),
        (_without("job.namespace"), "job.namespace is missing"),
        (_set("job.name", ""), "job.name is empty"),
        (_set("outputs", {"namespace": "x", "name": "y"}), "outputs must be a list"),
        (_set("inputs", "kafka://broker/topic"), "inputs must be a list"),
        (_two_outputs({"namespace": "s3://bucket"}), r"outputs\[1\]\.name is missing"),
        (_two_outputs({"namespace": "s3://bucket", "name": 42}), r"outputs\[1\]\.name must be a string"),
        (_two_outputs("s3://bucket/key"), r"outputs\[1\] must be an object"),
        (
            _set("outputs.0.facets", {"version": {"datasetVersion": 7}}),
            r"outputs\[0\]\.facets\.version\.datasetVersion must be a string",
        ),
        (_set("producer", 1), "producer must be a string"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(change, message: str):
    event = fixture("complete")
    change(event)
    with pytest.raises(InvalidInput, match=message):
        openlineage.read_event(event)


def test_a_batch_is_refused_as_a_whole_and_must_hold_events():
    good, bad = fixture("complete"), fixture("complete")
    del bad["run"]["runId"]
    with pytest.raises(InvalidInput, match=r"^\[1\]\.run\.runId is missing"):
        openlineage.read_events([good, bad])
    with pytest.raises(InvalidInput, match="no OpenLineage events"):
        openlineage.read_events([])
    with pytest.raises(InvalidInput, match=r"^the event must be a JSON object"):
        openlineage.read_events("COMPLETE")


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-10-20T08:15:42.5+02:00", "2026-10-20T06:15:42.500000+00:00"),
        ("2026-10-20 08:15:42Z", "2026-10-20T08:15:42+00:00"),  # RFC 3339 allows a space
        ("2026-10-20t08:15z", "2026-10-20T08:15:00+00:00"),  # seconds may be left out, either case
        ("2026-10-20T08:15:42", None),  # no time zone
        ("2026-10-20", None),
        ("0999-12-31T00:00:00Z", None),
        ("2026-02-30T08:00:00Z", None),
    ],
)
def test_events_and_measurements_read_date_times_alike(written: str, utc: str | None):
    """One date-time type for every JSON body: an event time is read as a measurement's time is."""
    from aimsgraph.records import operations

    event = fixture("complete")
    event["eventTime"] = written
    measurement = [{"metric": "urn:test:metric", "value": 1, "measuredAt": written}]
    if utc is None:
        with pytest.raises(InvalidInput, match=r"^eventTime "):
            openlineage.read_event(event)
        with pytest.raises(InvalidInput, match=r"^measurements\[0\]\.measuredAt "):
            operations.read_measurements(measurement)
    else:
        assert openlineage.read_event(event).event_time.isoformat() == utc
        assert operations.read_measurements(measurement)[0].measured_at.isoformat() == utc


# -- recording and staleness ------------------------------------------------------------------


def test_a_complete_write_to_our_dataset_makes_what_covered_it_stale(store: GraphStore):
    assert stale_findings(store) == []
    delta, report = apply(store, fixture("complete"))
    assert delta.graphs() == {Graphs.LINEAGE}
    assert [(m.dataset, m.rule) for m in report.matched] == [(TRANSACTIONS, "identifier")]
    assert [c.as_dict() for c in report.changes] == [
        {"dataset": TRANSACTIONS, "changedAt": "2026-10-20T08:15:42.123Z", "run": RUN, "recordedAsLastChange": True}
    ]

    # The change, with PROV: run -> generated version -> specialisation of the pipeline's dataset,
    # which is matched to ours; ours carries its last change and the run that made it.
    assert values(store, TRANSACTIONS, AIMS + "lastChangedAt") == {"2026-10-20T08:15:42.123Z"}
    assert values(store, TRANSACTIONS, AIMS + "lastChangedBy") == {RUN}
    rows = store.query(
        PREFIXES
        + f"""SELECT ?job ?ended ?generatedAt WHERE {{ GRAPH <{Graphs.LINEAGE}> {{
        <{RUN}> a aims:LineageRun ; prov:wasAssociatedWith ?job ; prov:endedAtTime ?ended ; prov:generated ?version .
        ?version prov:wasGeneratedBy <{RUN}> ; prov:generatedAtTime ?generatedAt ; prov:specializationOf ?theirs .
        ?theirs aims:lineageNamespace "postgres://lakehouse.meridian.example:5432" ;
            aims:lineageName "silver.core.transactions" ; aims:matchedDataset <{TRANSACTIONS}> .
        <{RUN}> prov:used ?input . ?input aims:lineageName "corebanking.public.transactions" . }} }}"""
    )
    assert [(r["ended"].value, r["generatedAt"].value) for r in rows] == [("2026-10-20T08:15:42.123Z",) * 2]

    # Covered: the data-quality assessment of the dataset, the shared-assets risk assessment that
    # assesses it, the V&V of a system using it, and evidence of a control applying to it.
    stale = {(s.item.removeprefix(MB), s.kind) for s in report.stale}
    for expected in [
        ("data-quality/customer-transactions-2026", "assessment"),
        ("assessment/ra-shared-assets-2026", "assessment"),
        ("assessment/vv-retail-credit-scoring-2026", "assessment"),
        ("evidence/dq-dashboard-2026-09", "evidence"),
    ]:
        assert expected in stale
    assert ("data-quality/kyc-customer-profile-2026", "assessment") not in stale  # not covered
    assert all(s.new and s.dataset == TRANSACTIONS and s.run == RUN for s in report.stale)
    dqa = MB + "data-quality/customer-transactions-2026"
    assert values(store, dqa, AIMS + "madeStaleBy") == {RUN}
    assert values(store, dqa, AIMS + "staleSince") == {"2026-10-20T08:15:42.123Z"}

    # Validation reports the same items, naming the dataset and the day, as Warnings.
    findings = stale_findings(store)
    assert {f.focus for f in findings} == {s.item for s in report.stale}
    finding = next(f for f in findings if f.focus == dqa)
    assert finding.severity == "Warning" and finding.value == TRANSACTIONS
    assert TRANSACTIONS in finding.message and "2026-10-20" in finding.message and "2026-09-15" in finding.message
    assert finding.clauses == ("https://w3id.org/aimsgraph/iso42001/8.2",)
    # Incremental validation of the delta's subjects finds them all (stale items are subjects).
    assert stale_findings(store, validation.affected_nodes(store, delta.subjects())) == findings
    json.dumps(report.as_dict())  # the report is plain JSON


def test_the_same_event_twice_changes_nothing_the_second_time(store: GraphStore):
    first, _ = apply(store, fixture("complete"))
    assert first
    again, report = openlineage.lineage_delta(store, openlineage.read_events(fixture("complete")))
    assert not again and again.added == set() and again.removed == set()
    assert report.stale and not any(s.new for s in report.stale)
    assert not any(c.latest for c in report.changes)


def test_an_older_event_does_not_move_the_last_change_back(store: GraphStore):
    apply(store, fixture("complete"))
    older = event_at(fixture("complete"), "2026-10-01T06:00:00Z", "11111111-2222-4333-8444-555555555555")
    _, report = apply(store, older)
    assert [c.latest for c in report.changes] == [False]
    assert values(store, TRANSACTIONS, AIMS + "lastChangedAt") == {"2026-10-20T08:15:42.123Z"}
    assert values(store, TRANSACTIONS, AIMS + "lastChangedBy") == {RUN}
    # ...but it is history all the same: what it made stale was stale since then.
    dqa = MB + "data-quality/customer-transactions-2026"
    assert values(store, dqa, AIMS + "staleSince") == {"2026-10-01T06:00:00Z"}
    assert values(store, dqa, AIMS + "madeStaleBy") == {RUN, "urn:uuid:11111111-2222-4333-8444-555555555555"}
    newer = event_at(fixture("complete"), "2026-11-02T06:00:00+01:00", "66666666-7777-4888-8999-000000000000")
    _, report = apply(store, newer)
    assert values(store, TRANSACTIONS, AIMS + "lastChangedAt") == {"2026-11-02T05:00:00Z"}
    assert values(store, TRANSACTIONS, AIMS + "lastChangedBy") == {"urn:uuid:66666666-7777-4888-8999-000000000000"}
    assert all("2026-11-02" in f.message for f in stale_findings(store))


def test_start_events_and_failed_runs_make_nothing_stale(store: GraphStore):
    _, report = apply(store, fixture("start"))  # its output even reports a version
    assert report.matched and report.changes == [] and report.stale == []
    assert values(store, TRANSACTIONS, AIMS + "lastChangedAt") == set()
    assert values(store, RUN, "http://www.w3.org/ns/prov#startedAtTime") == {"2026-10-20T08:01:03Z"}
    assert values(store, RUN, "http://www.w3.org/ns/prov#generated") == set()
    failed = dict(fixture("complete"), eventType="FAIL")
    _, report = apply(store, failed)
    assert report.changes == [] and report.stale == [] and stale_findings(store) == []
    assert values(store, RUN, AIMS + "runEventType") == {"START", "FAIL"}


def test_a_running_event_that_reports_a_dataset_version_is_a_change(store: GraphStore):
    streaming = dict(fixture("start"), eventType="RUNNING", eventTime="2026-10-22T10:00:00Z")
    _, report = apply(store, streaming)
    assert [(c.dataset, c.latest) for c in report.changes] == [(TRANSACTIONS, True)]
    versions = values(store, RUN, "http://www.w3.org/ns/prov#generated")
    assert len(versions) == 1 and values(store, versions.pop(), AIMS + "version") == {"1842"}
    assert stale_findings(store)


def test_unknown_datasets_are_kept_and_reported(store: GraphStore):
    _, report = apply(store, fixture("unknown"))
    assert report.matched == [] and report.changes == [] and report.stale == []
    assert [(u.namespace, u.name) for u in report.unknown] == [
        ("s3://meridian-marketing-exports", "segments/2026-10-20/part-0000.parquet")
    ]
    theirs = report.unknown[0].iri
    assert values(store, theirs, AIMS + "lineageName") == {"segments/2026-10-20/part-0000.parquet"}
    assert values(store, theirs, AIMS + "lineageNamespace") == {"s3://meridian-marketing-exports"}
    run = "urn:uuid:7d1c4e2a-5b3f-4a6d-8e9c-0f1a2b3c4d5e"
    assert values(store, run, AIMS + "lineageOutput") == {theirs}
    assert len(values(store, run, "http://www.w3.org/ns/prov#generated")) == 1  # the COMPLETE write
    assert values(store, run, "http://www.w3.org/ns/prov#endedAtTime") == {"2026-10-21T00:04:51Z"}
    assert report.as_dict()["unknown"][0]["lineageDataset"] == theirs


def test_matching_rules(store: GraphStore):
    catalogs = Graphs.DATA_CATALOGS
    add(
        store,
        Graphs.DATA,
        f"""
        <{MB}dataset/kyc-customer-profile> <http://purl.org/dc/terms/identifier> "postgres://crm-db:5432/crm.public.customers" .
        <{MB}dataset/bureau-data> <http://purl.org/dc/terms/identifier> "bigquery:meridian-risk.bureau.reports" .
        <{MB}dataset/feature-store> <{AIMS}catalogueEntry> <urn:test:entry> .
        <{MB}dataset/loan-applications> <http://www.w3.org/ns/dcat#distribution> <urn:test:distribution> .
        <urn:test:distribution> <http://www.w3.org/ns/dcat#accessURL> <s3://meridian-lending/applications> .
        <{MB}dataset/labelled-documents> <http://purl.org/dc/terms/identifier> "gs://meridian-docs/labelled/corpus" .
        <{MB}dataset/fraud-labels> <http://purl.org/dc/terms/identifier> "fraud.labels" .
        <{MB}dataset/chat-transcripts> <http://purl.org/dc/terms/identifier> "chat.transcripts" .
        <{MB}dataset/knowledge-base> <http://purl.org/dc/terms/identifier> "postgres://kb:5432/chat.transcripts" .""",
    )
    add(store, catalogs, '<urn:test:entry> <http://purl.org/dc/terms/identifier> "hive://ml-platform:10000/features.customer" .')
    inputs = [
        ("postgres://crm-db:5432", "crm.public.customers"),
        ("bigquery", "meridian-risk.bureau.reports"),
        ("hive://ml-platform:10000", "features.customer"),
        ("s3://meridian-lending", "applications"),
        ("gs://meridian-docs", "/labelled/corpus"),
        ("postgres://elsewhere:5432", "fraud.labels"),
        ("postgres://kb:5432", "chat.transcripts"),
        ("POSTGRES://CRM-DB:5432", "crm.public.customers"),
        ("postgres://crm-db:5432", "crm.public.Customers"),
    ]
    event = dict(fixture("start"), outputs=[], inputs=[{"namespace": n, "name": m} for n, m in inputs])
    _, report = openlineage.lineage_delta(store, openlineage.read_events(event))
    matched = {(m.lineage.namespace, m.lineage.name): (m.dataset.removeprefix(MB + "dataset/"), m.rule) for m in report.matched}
    assert matched == {
        inputs[0]: ("kyc-customer-profile", "identifier"),  # namespace/name
        inputs[1]: ("bureau-data", "identifier"),  # namespace:name
        inputs[2]: ("feature-store", "catalogue entry identifier"),
        inputs[3]: ("loan-applications", "access URL"),
        inputs[4]: ("labelled-documents", "identifier"),  # a path with its leading slash
        inputs[5]: ("fraud-labels", "identifier (name only)"),
        inputs[6]: ("knowledge-base", "identifier"),  # the qualified identifier wins over the bare name
    }
    assert {(u.namespace, u.name) for u in report.unknown} == set(inputs[7:])  # case counts


def test_a_newer_assessment_of_the_same_kind_supersedes_a_stale_one(store: GraphStore):
    apply(store, fixture("complete"))
    dqa = MB + "data-quality/customer-transactions-2026"
    assert dqa in {f.focus for f in stale_findings(store)}
    add(
        store,
        Graphs.DATA,
        f"""<{MB}assessment/ra-transactions-2026-10> a <{AIMS}RiskAssessment> ;
        <{AIMS}assesses> <{TRANSACTIONS}> ; <{AIMS}assessmentDate> "2026-10-21"^^<http://www.w3.org/2001/XMLSchema#date> .""",
    )
    refresh_inferences(store)
    assert dqa in {f.focus for f in stale_findings(store)}  # a risk assessment is not a data-quality assessment
    add(
        store,
        Graphs.DATA,
        f"""<{MB}data-quality/customer-transactions-2026-10> a <{AIMS}DataQualityAssessment> ;
        <{AIMS}assesses> <{TRANSACTIONS}> ; <{AIMS}assessmentDate> "2026-10-20"^^<http://www.w3.org/2001/XMLSchema#date> .""",
    )
    refresh_inferences(store)
    assert dqa not in {f.focus for f in stale_findings(store)}


def test_both_engines_agree_on_stale_findings(store: GraphStore):
    add(
        store,
        Graphs.DATA,
        f'<{MB}dataset/collections-contact-history> <http://purl.org/dc/terms/identifier> "collections.contacts" .',
    )
    event = dict(
        fixture("complete"), outputs=[{"namespace": "postgres://lakehouse.meridian.example:5432", "name": "collections.contacts"}]
    )
    _, report = apply(store, event)
    fast = validation.validate_store(store, AS_OF)
    assert {f.focus for f in fast if f.shape in STALE_SHAPES} == {s.item for s in report.stale} != set()
    assert Graphs.LINEAGE in validation.VALIDATED_GRAPHS  # the reference engine reads the lineage graph too
    assert validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF) == fast


def test_without_lineage_the_demo_has_no_stale_findings(base: GraphStore):
    checked = {c.shape for c in validation.compiled_checks()[1]}
    assert STALE_SHAPES <= checked
    assert stale_findings(base) == []


# -- ontology module and shapes ---------------------------------------------------------------


def test_lineage_terms_are_documented_and_every_aims_term_used_is_declared():
    module = rdflib.Graph().parse(resources.path("ontology", "lineage.ttl"), format="turtle")
    core = rdflib.Graph().parse(resources.path("ontology", "aims.ttl"), format="turtle")
    terms = {s for s in module.subjects() if isinstance(s, URIRef) and str(s).startswith(AIMS)}
    assert len(terms) == 13
    for term in terms:
        assert any(getattr(o, "language", None) == "en" for o in module.objects(term, RDFS.label)), term
        assert any(getattr(o, "language", None) == "en" for o in module.objects(term, SKOS.definition)), term
        assert module.value(term, DCTERMS.source) is not None, term
        assert module.value(term, RDFS.isDefinedBy) == URIRef("https://w3id.org/aimsgraph/ontology"), term
    assert not terms & {s for s in core.subjects() if isinstance(s, URIRef)}  # no term defined twice
    declared = {str(t) for t in terms} | {str(s) for s in core.subjects() if isinstance(s, URIRef)}
    used = set(re.findall(r"\baims:(\w+)", resources.path("shapes", "lineage.ttl").read_text()))
    code = Path(openlineage.__file__).read_text()
    used |= set(re.findall(r"\baims:(\w+)", code)) | set(re.findall(r'AIMS \+ "(\w+)"', code))
    used -= {"catalogueEntry"}  # declared by the data catalogue module
    assert {AIMS + local for local in used} - declared == set()
