"""Completeness validation: the demo's documented gaps and nothing else, the store engine equal
to pyshacl, incremental re-validation after a fix, reports and shape conventions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pyshacl
import pytest
import rdflib
from click.testing import Result
from rdflib import RDF, SH, URIRef
from rdflib.namespace import DCTERMS

from aimsgraph.namespaces import Graphs
from aimsgraph.reporting import reports
from aimsgraph.semantics import validation
from aimsgraph.semantics.applicability import refresh_applicability
from aimsgraph.semantics.shacl_sparql import UnsupportedShape, compile_shapes
from aimsgraph.store import GraphStore
from conftest import AS_OF, aimsgraph

DEMO = "https://data.meridian.example/aims/"
#: data/demo/README.md lists 12 deliberate gaps; these are the findings they produce.
DOCUMENTED_GAPS = {
    ("system/code-assistant", "AISystemShape-scope"),  # gap 1: not in scope (4.3)
    ("system/code-assistant", "AISystemShape-riskAssessment"),  # gap 1: ...so never assessed (6.1.2)
    ("dataset/collections-contact-history", "DatasetShape-qualityAssessment"),  # gap 2 (A.7.4)
    ("system/claims-triage", "AISystemRiskAssessmentAgeShape"),  # gap 3: assessment older than 12 months
    ("risk/claims-triage-catastrophe-surge", "RiskReviewOverdueShape"),  # gap 3: its risks' reviews are overdue
    ("risk/claims-triage-unfair-routing", "RiskReviewOverdueShape"),
    ("risk/claims-triage-vulnerable-delay", "RiskReviewOverdueShape"),
    ("system/collections-prioritisation", "AISystemWithSubjectsShape-impactAssessment"),  # gap 4 (6.1.4)
    ("control/fraud-champion-challenger", "ImplementedControlEvidenceExpiryShape"),  # gap 5: expired evidence
    ("control/supplier-ai-due-diligence", "ImplementedControlEvidenceExpiryShape"),
    ("control/chatbot-guardrails", "ControlInPlaceShape-evidence"),  # gap 6: implemented, no evidence
    ("risk/next-best-offer-vulnerable-targeting", "RiskAppetiteShape"),  # gap 7: high risk, no control
    ("risk/next-best-offer-vulnerable-targeting", "RiskTreatmentControlShape"),  # gap 7: to be mitigated, no control
    ("soa/A.8.3", "ExcludedEntryShape-justification"),  # gap 8: exclusion without justification
    ("soa/A.9.4", "ImplementedEntryShape-implementingControl"),  # gap 9: "implemented" without control
    ("system/next-best-offer", "AISystemShape-technicalDocumentation"),  # gap 10 (A.6.2.7)
    ("system/cv-screening", "AISystemShape-eventLogging"),  # gap 11 (A.6.2.8)
    ("system/customer-segmentation", "AISystemShape-verificationValidation"),  # gap 12 (A.6.2.4)
    ("model/segment-model", "ModelShape-verificationValidation"),  # gap 12: its model too
    ("system/retail-credit-scoring", "EUHighRiskProviderShape-registration"),  # gap 13: EU AI Act Art. 49
    ("system/code-assistant", "RiskSuggestionShape"),  # gap 1: never assessed, so the suggested sources are open
    ("system/retail-credit-scoring", "RiskSuggestionShape"),  # gap 14: data privacy suggested, not addressed
}


def key(finding: validation.Finding) -> tuple[str, str]:
    return finding.focus.removeprefix(DEMO), finding.shape.rsplit("#", 1)[1]


@pytest.fixture()
def store(tmp_path: Path) -> GraphStore:
    store = GraphStore(tmp_path / "db")
    store.initialise(demo=True)
    refresh_applicability(store)  # as the service does at start: the EU AI Act shapes read it
    return store


def test_the_demo_reports_its_documented_gaps_and_nothing_else(demo_store: GraphStore):
    findings = validation.validate_store(demo_store, AS_OF)
    assert {key(f) for f in findings} == DOCUMENTED_GAPS
    assert all(f.clauses and f.message for f in findings)


@pytest.mark.oracle
def test_store_engine_equals_pyshacl_on_the_demo(demo_store: GraphStore):
    reference = validation.validate_graph(demo_store.extract(validation.VALIDATED_GRAPHS), AS_OF)
    assert validation.validate_store(demo_store, AS_OF) == reference


@pytest.mark.oracle
def test_store_engine_equals_pyshacl_on_a_generated_organisation(tmp_path: Path):
    from benchmarks.generate import generate

    data = tmp_path / "org.nt"
    data.write_text(generate(25, seed=7))
    store = GraphStore(None)
    store.initialise(demo=False)
    store.load_files([data])
    fast = validation.validate_store(store, AS_OF)
    assert len(fast) > 100  # a generated record misses a lot: a real comparison
    assert fast == validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF)


@pytest.mark.oracle
def test_store_engine_equals_pyshacl_on_an_off_scale_risk():
    store = GraphStore(None)
    store.initialise(demo=True)
    store.update("""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        INSERT DATA { GRAPH <https://w3id.org/aimsgraph/graph/data> {
          <https://data.meridian.example/aims/risk/aurora-lock-in> aims:hasLikelihood <https://w3id.org/aimsgraph/risk-matrix/L3-3> } }""")
    fast = validation.validate_store(store, AS_OF)
    assert any("L3-3" in (f.value or "") for f in fast)
    assert fast == validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF)


def test_store_engine_equals_pyshacl_on_a_risk_matrix_whose_levels_decrease():
    """A level that falls as the likelihood grows is a finding of ash:RiskMatrixMonotonicityShape,
    in both engines (its query pairs the cells' ranks in sub-selects)."""
    store = GraphStore(None)
    store.initialise(demo=True)
    matrix = "https://data.meridian.example/aims/matrix/falling"
    store.update(f"""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        PREFIX rm: <https://w3id.org/aimsgraph/risk-matrix/>
        INSERT DATA {{ GRAPH <{Graphs.DATA}> {{
          <{matrix}> a aims:RiskMatrix ; aims:hasCell <{matrix}/L1S1>, <{matrix}/L2S1> .
          <{matrix}/L1S1> a aims:RiskMatrixCell ; aims:cellLikelihood rm:L3-1 ; aims:cellSeverity rm:S3-1 ;
            aims:cellRiskLevel rm:High .
          <{matrix}/L2S1> a aims:RiskMatrixCell ; aims:cellLikelihood rm:L3-2 ; aims:cellSeverity rm:S3-1 ;
            aims:cellRiskLevel rm:Low . }} }}""")
    fast = validation.validate_store(store, AS_OF)
    falling = [f for f in fast if f.focus == matrix and f.shape.endswith("#RiskMatrixMonotonicityShape")]
    assert [f.value for f in falling] == [f"{matrix}/L1S1"] and f"{matrix}/L2S1" in falling[0].message
    assert fast == validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF)


def test_fixing_a_gap_and_revalidating_the_change_removes_its_finding(store: GraphStore):
    validation.validate_full(store)
    assert ("system/cv-screening", "AISystemShape-eventLogging") in {key(f) for f in validation.stored_findings(store)}
    store.update(f"""PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
        INSERT DATA {{ GRAPH <{Graphs.DATA}> {{
          <{DEMO}system/cv-screening> aims:hasEventLogging <{DEMO}document/cv-screening-event-logging> .
          <{DEMO}document/cv-screening-event-logging> a aims:EventLogging ;
            <http://www.w3.org/2000/01/rdf-schema#label> "CV screening decision log" . }} }}""")
    changed = validation.validate_changed(store, [f"{DEMO}system/cv-screening"])
    assert ("system/cv-screening", "AISystemShape-eventLogging") not in {key(f) for f in changed}
    stored = validation.stored_findings(store)
    assert {key(f) for f in stored} == DOCUMENTED_GAPS - {("system/cv-screening", "AISystemShape-eventLogging")}
    assert stored == validation.validate_store(store, AS_OF)  # the merged report equals a fresh full one


def test_the_focus_nodes_among_given_nodes_are_those_of_all_focus_nodes(demo_store: GraphStore):
    """Among given nodes, class-targeted shapes are answered from the nodes' classes and the
    others by their target queries: both as the targets of the whole record, restricted."""
    import random

    everything = validation.targets_per_shape(demo_store, AS_OF)
    subjects = sorted({row["s"].value for row in demo_store.query("SELECT DISTINCT ?s WHERE { ?s ?p ?o FILTER(isIRI(?s)) }")})
    rng = random.Random(3)
    for size in (1, 7, 69, len(subjects)):
        nodes = sorted(rng.sample(subjects, size))
        expected = {shape: found & set(nodes) for shape, found in everything.items()}
        assert validation.targets_per_shape(demo_store, AS_OF, nodes) == expected, size


def test_the_classes_of_nodes_are_their_types_and_every_super_class():
    """Types and super-classes are read in two steps; a blank node class (a restriction as a
    type) cannot be named in a query, and then the nodes' classes come from one path query."""
    import pyoxigraph as ox

    store = GraphStore(None)
    turtle = """@prefix ex: <https://example.org/> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
        ex:C rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:A . ex:A rdfs:subClassOf ex:C .
        ex:a a ex:C . ex:b a ex:D , ex:B . ex:c a "not a class" . ex:untyped ex:p 1 ."""
    store.backend.load(turtle.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(Graphs.DATA))
    ex = "https://example.org/"
    nodes = [ex + n for n in ("a", "b", "c", "untyped")]
    expected = {ex + "a": {ex + "A", ex + "B", ex + "C"}, ex + "b": {ex + "A", ex + "B", ex + "C", ex + "D"}}
    assert validation._classes_of(store, nodes) == expected
    store.backend.load(
        b"<https://example.org/e> a _:r . _:r <http://www.w3.org/2000/01/rdf-schema#subClassOf> <https://example.org/A> .",
        format=ox.RdfFormat.TURTLE,
        to_graph=ox.NamedNode(Graphs.DATA),
    )
    assert validation._classes_of(store, [*nodes, ex + "e"]) == {**expected, ex + "e": {ex + "A", ex + "B", ex + "C"}}


def test_incremental_validation_equals_full_validation_on_the_affected_nodes(demo_store: GraphStore):
    full = validation.validate_store(demo_store, AS_OF)
    subjects = sorted(
        {
            row["s"].value
            for row in demo_store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{Graphs.DATA}> {{ ?s ?p ?o }} FILTER(isIRI(?s)) }}")
        }
    )
    for subject in subjects[::11]:
        affected = set(validation.affected_nodes(demo_store, [subject]))
        assert validation.validate_store(demo_store, AS_OF, affected) == [f for f in full if f.focus in affected], subject


def test_every_shape_documents_itself_and_cites_a_catalogue_clause(demo_store: GraphStore):
    shapes = validation.shapes_graph()
    catalogue = {
        row["c"].value
        for row in demo_store.query(
            "SELECT ?c WHERE { GRAPH <https://w3id.org/aimsgraph/graph/catalogue> { ?c <http://www.w3.org/2004/02/skos/core#notation> ?n } }"
        )
    }
    checked = {URIRef(c.shape) for c in compile_shapes(shapes)}
    assert len(checked) >= 40
    for shape in checked:
        assert shapes.value(shape, SH.message) is not None or shapes.value(shapes.value(shape, SH.sparql), SH.message), shape
        assert shapes.value(shape, SH.severity) is not None, shape
        sources = {str(s) for s in shapes.objects(shape, DCTERMS.source)}
        assert sources and sources <= catalogue, shape


def test_shapes_pass_shacl_shacl():
    conforms, _, text = pyshacl.validate(rdflib.Graph(), shacl_graph=validation.shapes_graph(), meta_shacl=True, advanced=True)
    assert conforms, text


def test_the_compiler_refuses_what_it_cannot_translate():
    shapes = rdflib.Graph().parse(
        data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:uniqueLang true ] .""",
        format="turtle",
    )
    with pytest.raises(UnsupportedShape, match="uniqueLang"):
        compile_shapes(shapes)


def test_reports_give_readiness_and_every_format(demo_store: GraphStore):
    report = reports.build(demo_store, validation.validate_store(demo_store, AS_OF), AS_OF)
    by_clause = {r.key.rsplit("/", 1)[1]: r for r in report.clauses}
    logging = by_clause["A.6.2.8"]
    assert (logging.total, logging.failed) == (12, 1)  # 12 AI systems, one without event logging
    systems = {r.label: r for r in report.systems}
    assert systems["SME credit scoring"].failed == 0 and systems["CV screening"].failed == 1
    assert systems["Retail credit scoring"].failed == 2  # gaps 13 and 14: not in the EU database, privacy open

    junit = ET.fromstring(reports.render(report, "junit"))
    failures = [case for case in junit.iter("testcase") if case.find("failure") is not None]
    assert int(junit.get("failures")) == len(failures) > 0
    turtle = rdflib.Graph().parse(data=reports.render(report, "turtle"), format="turtle")
    [node] = turtle.subjects(RDF.type, SH.ValidationReport)
    assert turtle.value(node, SH.conforms).toPython() is False
    assert len(list(turtle.objects(node, SH.result))) == len(report.findings)
    table = reports.render(report, "table")
    assert table.startswith(f"{report.counts['Violation']} violations") and "A.6.2.8" in table


def test_cli_validate_exit_codes_and_junit(tmp_path: Path):
    data_dir = tmp_path / "db"
    GraphStore(data_dir).initialise()  # and let go of it: RocksDB locks a store while it is open

    def run(*args: str) -> Result:
        return aimsgraph("validate", "--data-dir", data_dir, *args)

    failing = run("--format", "junit", "-o", str(tmp_path / "report.xml"))
    assert failing.exit_code == 1
    assert ET.parse(tmp_path / "report.xml").getroot().tag == "testsuites"
    assert run("--fail-on", "none").exit_code == 0
    bad = run("--changed", "not an iri")
    assert bad.exit_code == 2 and "absolute IRI" in bad.stderr


def test_incremental_validation_misses_nothing_after_random_edits(tmp_path: Path):
    """Remove random triples one at a time, re-validate only the touched nodes, and compare
    the merged report with a fresh full validation; then put each triple back and do it again."""
    import random

    import pyoxigraph as ox

    store = GraphStore(None)
    store.initialise(demo=True)
    validation.validate_full(store)
    quads = list(store.backend.quads_for_pattern(None, None, None, ox.NamedNode(Graphs.DATA)))
    for quad in random.Random(11).sample(quads, 40):
        touched = [t.value for t in (quad.subject, quad.object) if isinstance(t, ox.NamedNode)]
        for edit in (store.backend.remove, store.backend.add):
            edit(quad)
            validation.validate_changed(store, touched)
            assert validation.stored_findings(store) == validation.validate_store(store, AS_OF), (edit.__name__, str(quad))


def test_the_stored_report_is_a_conformant_shacl_report():
    """One result per failing constraint component (never merged), each with its
    sh:sourceConstraintComponent, and sh:value the term it was: an IRI stays an IRI. The same
    results as pyshacl's own report on the same shapes and data."""
    store = GraphStore(None)
    store.initialise(demo=True, on=AS_OF)
    data, criteria = Graphs.DATA, URIRef(DEMO + "risk-criteria")
    wrong_class = URIRef("https://example.org/not-a-likelihood")
    store.update(f"""INSERT DATA {{ GRAPH <{data}> {{
        <{criteria}> <https://w3id.org/aimsgraph/ontology#reviewInterval> "two weeks" .
        <{DEMO}risk/retail-credit-proxy-discrimination> <https://w3id.org/aimsgraph/ontology#hasLikelihood> <{wrong_class}> }} }}""")
    findings = validation.validate_store(store, AS_OF)
    assert findings == validation.validate_graph(store.extract(validation.VALIDATED_GRAPHS), AS_OF)
    on_interval = {
        (f.component.rsplit("#", 1)[1], f.value, f.value_type)
        for f in findings
        if f.shape.endswith("#RiskCriteriaShape-reviewInterval")
    }
    string = "http://www.w3.org/2001/XMLSchema#string"
    assert on_interval == {
        ("MaxCountConstraintComponent", None, None),
        ("DatatypeConstraintComponent", "two weeks", string),
        ("PatternConstraintComponent", "two weeks", string),
    }

    validation.validate_full(store, AS_OF)
    report = rdflib.Graph().parse(
        data=reports.render(reports.build(store, validation.stored_findings(store), AS_OF), "turtle"), format="turtle"
    )
    results = set(report.subjects(RDF.type, SH.ValidationResult))
    assert len(results) == len(findings)
    assert all((r, SH.sourceConstraintComponent, None) in report for r in results)
    assert (None, SH.value, wrong_class) in report  # an IRI, not a literal holding its text
    assert (None, SH.value, rdflib.Literal("two weeks")) in report


def test_findings_sort_by_every_field_in_order():
    """The sort key is written out for speed: it must name every field, in declaration order."""
    from dataclasses import fields

    finding = validation.Finding("Warning", "urn:f", "urn:s", None, "v", "m", ("urn:c",), "urn:k", "iri")
    key = finding._sort_key()
    assert len(key) == len(fields(validation.Finding))
    assert key == tuple("" if getattr(finding, f.name) is None else getattr(finding, f.name) for f in fields(validation.Finding))
    assert sorted([finding, validation.Finding("Warning", "urn:f", "urn:s", "urn:p", None, "m")])[0] == finding
