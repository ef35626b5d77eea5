"""Data catalogue linking (DCAT import and matching) and the register exported as DCAT + PROV."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.exporters import dcat as export
from aimsgraph.interop.importers import dcat
from aimsgraph.interop.importers.dcat import Ambiguity, Match, Side
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore

DATA_DIR = Path(__file__).parent / "data"
LAKEHOUSE, LAKEHOUSE_V2, HR = (
    DATA_DIR / name for name in ("catalog-lakehouse.ttl", "catalog-lakehouse-v2.ttl", "catalog-hr.ttl")
)
FORMATS = {".ttl": ox.RdfFormat.TURTLE, ".jsonld": ox.RdfFormat.JSON_LD, ".rdf": ox.RdfFormat.RDF_XML}

DS = "https://data.meridian.example/aims/dataset/"
MDL = "https://data.meridian.example/aims/model/"
SYS = "https://data.meridian.example/aims/system/"
CDS = "https://catalog.meridian.example/dataset/"
BUREAU_URN = "urn:li:dataset:(urn:li:dataPlatform:databricks,lakehouse.silver.bureau_reports,PROD)"
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"
TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
ENTRY = AIMS + "catalogueEntry"
DATA = ox.NamedNode(Graphs.DATA)
CATALOGS = ox.NamedNode(Graphs.DATA_CATALOGS)

#: Identifiers the demo does not record, as a team would after looking its tables up.
EXTRA_IDENTIFIERS = (
    (DS + "bureau-data", "lakehouse.silver.bureau_reports"),  # a DataHub dataset name
    (DS + "loan-applications", "lending.public.loan_applications"),  # database.schema.table
    (DS + "sme-credit-history", "postgres_sme.lending.public.sme_credit"),  # an OpenMetadata FQN
    (DS + "fraud-labels", "urn:li:dataset:(urn:li:dataPlatform:snowflake,RISK.FRAUD.LABELS,PROD)"),
    (MDL + "retail-pd-model", "MDL-RETAIL-PD"),
)

EXPECTED_MATCHES = {
    Match(DS + "knowledge-base", DS + "knowledge-base", "iri"),
    Match(DS + "customer-transactions", CDS + "core-transactions", "identifier"),
    Match(MDL + "retail-pd-model", "https://catalog.meridian.example/model/retail-pd", "identifier"),
    Match(DS + "bureau-data", BUREAU_URN, "urn"),  # URN on the entry, its name our identifier
    Match(DS + "credit-performance-history", CDS + "credit-performance", "urn"),  # URN naming "ds-006"
    Match(DS + "fraud-labels", CDS + "fraud-labels", "urn"),  # URN on our side
    Match(DS + "loan-applications", CDS + "loan-apps", "fqn"),  # FQN on the entry, less its service
    Match(DS + "sme-credit-history", CDS + "sme-credit", "fqn"),  # FQN on our side, other case
}


def demo_store() -> GraphStore:
    store = GraphStore(None)
    store.initialise(demo=True)
    identifier = ox.NamedNode(DCT + "identifier")
    store.backend.extend(ox.Quad(ox.NamedNode(s), identifier, ox.Literal(v), DATA) for s, v in EXTRA_IDENTIFIERS)
    return store


def read(path: Path) -> list[ox.Quad]:
    return dcat.read_catalog(path.read_bytes(), FORMATS[path.suffix])


def apply(store: GraphStore, path: Path):
    delta, report = dcat.link(store, read(path))
    store.replace_quads(delta.removed, delta.added)
    return delta, report


def links(store: GraphStore) -> set[tuple[str, str]]:
    return {(q.subject.value, q.object.value) for q in store.backend.quads_for_pattern(None, ox.NamedNode(ENTRY), None, DATA)}


def described(store: GraphStore, iri: str) -> bool:
    return next(store.backend.quads_for_pattern(ox.NamedNode(iri), None, None, CATALOGS), None) is not None


@pytest.fixture(scope="module")
def linked() -> tuple[GraphStore, object, dcat.LinkReport, set[ox.Quad]]:
    """The demo with the lakehouse catalogue imported once."""
    store = demo_store()
    data_before = set(store.backend.quads_for_pattern(None, None, None, DATA))
    delta, report = apply(store, LAKEHOUSE)
    return store, delta, report, data_before


# -- reading ------------------------------------------------------------------------------------


def test_only_dcat_descriptions_are_kept_in_the_data_catalogs_graph():
    quads = read(LAKEHOUSE)
    assert {q.graph_name for q in quads} == {CATALOGS}
    subjects = {q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)}
    assert "https://catalog.meridian.example/org/data-office" not in subjects  # a publisher, not DCAT
    assert "https://catalog.meridian.example/note" not in subjects  # unrelated
    assert {CDS + "web-analytics", BUREAU_URN, DS + "knowledge-base"} <= subjects
    predicates = {q.predicate.value for q in quads}
    assert "https://catalog.meridian.example/vocab#internalNote" in predicates  # about a DCAT resource
    # blank-node descriptions hanging off the resources: distributions, the period of time
    blank_subjects = {q.subject for q in quads if isinstance(q.subject, ox.BlankNode)}
    assert len(blank_subjects) == 5
    formats = {q.object.value for q in quads if q.predicate.value == DCT + "format"}
    assert formats == {"JSON", "Delta", "Parquet"}


def test_turtle_json_ld_and_rdf_xml_give_the_same_quads():
    # The JSON-LD file is a named graph (top-level @id and @graph): merged. Blank nodes are
    # labelled from their content, so even they come out the same from three parsers.
    turtle = read(LAKEHOUSE)
    assert read(DATA_DIR / "catalog-lakehouse.jsonld") == turtle
    assert read(DATA_DIR / "catalog-lakehouse.rdf") == turtle
    assert read(LAKEHOUSE) == turtle  # and twice from the same file


@pytest.mark.parametrize(
    "data, fmt, message",
    [
        (b"<https://x.example/c> a <http://www.w3.org/ns/dcat#Catalog> ;", ox.RdfFormat.TURTLE, "not valid Turtle"),
        (
            b'{"@context": "https://www.w3.org/ns/dcat3.jsonld", "@id": "https://x.example/d", "@type": "Dataset"}',
            ox.RdfFormat.JSON_LD,
            "remote JSON-LD @context",
        ),
        (
            b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description>",
            ox.RdfFormat.RDF_XML,
            "not valid RDF/XML",
        ),
        (b"<https://x.example/a> <https://x.example/b> 'c' .", ox.RdfFormat.TURTLE, "no DCAT"),
        (b"", ox.RdfFormat.TURTLE, "no DCAT"),
    ],
)
def test_a_malformed_file_or_one_without_dcat_is_invalid_input(data, fmt, message):
    with pytest.raises(InvalidInput, match=message):
        dcat.read_catalog(data, fmt)


def test_statements_in_our_vocabulary_are_not_taken_from_a_catalogue():
    data = f"""@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix aims: <{AIMS}> .
    <{DS}bureau-data> a dcat:Dataset, aims:AISystem ; aims:hasRisk <https://x.example/r> ;
        <http://purl.org/dc/terms/type> aims:Dataset .""".encode()
    quads = dcat.read_catalog(data, ox.RdfFormat.TURTLE)
    assert {(q.predicate.value, q.object.value) for q in quads} == {(TYPE, DCAT + "Dataset"), (DCT + "type", AIMS + "Dataset")}


def test_relative_iris_resolve_against_the_base():
    data = b"<c> a <http://www.w3.org/ns/dcat#Catalog> ; <http://www.w3.org/ns/dcat#dataset> <d> ."
    with pytest.raises(InvalidInput):
        dcat.read_catalog(data, ox.RdfFormat.TURTLE)
    quads = dcat.read_catalog(data, ox.RdfFormat.TURTLE, base_iri="https://x.example/")
    assert {q.subject.value for q in quads} == {"https://x.example/c"}


def test_untyped_resources_are_recognised_by_the_dcat_property_linking_them():
    data = b"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
    <https://x.example/c> dcat:dataset <https://x.example/d> ; dcat:service <https://x.example/s> .
    <https://x.example/d> dcat:distribution <https://x.example/d.csv> .
    <https://x.example/d.csv> dcat:downloadURL <https://x.example/files/d.csv> ."""
    kinds = dcat.resource_kinds([(q.subject, q.predicate, q.object) for q in dcat.read_catalog(data, ox.RdfFormat.TURTLE)])
    assert {n.value: dcat.primary_kind(k) for n, k in kinds.items() if isinstance(n, ox.NamedNode)} == {
        "https://x.example/c": "catalog",
        "https://x.example/d": "dataset",
        "https://x.example/s": "service",
        "https://x.example/d.csv": "distribution",
    }


# -- keys and rules -----------------------------------------------------------------------------


def test_datahub_urns_and_openmetadata_fqns_are_parsed_precisely():
    assert dcat.datahub_urn("urn:li:dataset:(urn:li:dataPlatform:hive,Sales.Orders,PROD)") == ("hive", "sales.orders", "prod")
    assert dcat.datahub_urn("urn:li:dataset:%28urn:li:dataPlatform:hive,a.b,DEV%29") == ("hive", "a.b", "dev")
    assert dcat.datahub_urn("urn:li:dataJob:(urn:li:dataFlow:(airflow,x,prod),y)") is None
    assert dcat.openmetadata_fqn("pg.Shop.public.Orders") == ("pg", "shop", "public", "orders")
    assert dcat.openmetadata_fqn('pg."shop.eu".public.orders') == ("pg", "shop.eu", "public", "orders")
    for not_an_fqn in ("DS-001", "shop.public.orders", "1.2.3.4", "www.example.org/a.b.c", "a.b.c.d.e", "a b.c.d.e"):
        assert dcat.openmetadata_fqn(not_an_fqn) is None, not_an_fqn


def test_rules_in_order_with_ambiguity_on_either_side():
    ours = {
        "o:a": Side("o:a", {"dataset"}, {"A-1"}),
        "o:b": Side("o:b", {"dataset"}, {"svc1.db.sch.orders"}),
        "o:c": Side("o:c", {"dataset"}, {"C-1"}),
        "o:d": Side("o:d", {"dataset"}, {"C-1"}),
        "o:m": Side("o:m", {"model"}, {"M-1"}),
    }
    entries = {
        "e:a": Side("e:a", {"dataset"}, {"A-1"}),
        "e:a2": Side("e:a2", {"dataset"}, {"urn:li:dataset:(urn:li:dataPlatform:x,a-1,PROD)"}),
        "e:b": Side("e:b", {"dataset"}, {"svc2.db.sch.orders"}),  # another service's table
        "e:c": Side("e:c", {"dataset"}, {"C-1"}),
        "e:m": Side("e:m", {"service"}, {"M-1"}),  # a model behind a data service
        "e:x": Side("e:x", {"service"}, {"A-1"}),  # a dataset of ours never matches a service
    }
    matched, ambiguous = dcat.match(ours, entries)
    # e:a2 would match o:a by URN, but o:a is taken by the earlier identifier rule
    assert matched == [Match("o:a", "e:a", "identifier"), Match("o:m", "e:m", "identifier")]
    assert ambiguous == [Ambiguity("e:c", "entry", "identifier", ("o:c", "o:d"))]


def test_an_identifier_may_be_the_other_sides_iri():
    # a catalogue that ingested our export keeps a model's IRI as its identifier
    ours = {MDL + "aurora-llm": Side(MDL + "aurora-llm", {"model"})}
    entries = {"urn:li:mlModel:aurora": Side("urn:li:mlModel:aurora", {"resource"}, {MDL + "aurora-llm"})}
    assert dcat.match(ours, entries) == ([Match(MDL + "aurora-llm", "urn:li:mlModel:aurora", "identifier")], [])


def test_an_ambiguous_node_is_not_resolved_by_a_weaker_rule():
    ours = {"o:a": Side("o:a", {"dataset"}, {"X"})}
    entries = {
        "e:1": Side("e:1", {"dataset"}, {"X"}),
        "e:2": Side("e:2", {"dataset"}, {"X"}),
        "e:3": Side("e:3", {"dataset"}, {"urn:li:dataset:(urn:li:dataPlatform:p,x,PROD)"}),
    }
    matched, ambiguous = dcat.match(ours, entries)
    assert matched == [] and ambiguous == [Ambiguity("o:a", "ours", "identifier", ("e:1", "e:2"))]


# -- linking ------------------------------------------------------------------------------------


def test_datasets_and_models_are_matched_by_iri_identifier_urn_and_fqn(linked):
    _, _, report, _ = linked
    assert set(report.matched) == EXPECTED_MATCHES
    assert report.catalogues == ["https://catalog.meridian.example/catalog/lakehouse"]
    assert report.entries == {"datasets": 13, "distributions": 3, "services": 1, "resources": 0}
    assert report.without_iri == 1  # the blank-node dataset with "DS-002" is never linked
    assert DS + "kyc-customer-profile" in report.unmatched_ours


def test_unmatched_and_ambiguous_are_reported(linked):
    _, _, report, _ = linked
    assert report.ambiguous == [
        Ambiguity(CDS + "marketing-mart", "entry", "identifier", (DS + "campaign-responses", DS + "marketing-consents")),
        Ambiguity(DS + "claims-history", "ours", "identifier", (CDS + "claims-archive", CDS + "claims-history-v2")),
    ]
    assert report.unmatched_entries == [CDS + "web-analytics", "https://catalog.meridian.example/service/lakehouse-sql"]
    involved = {m.ours for m in report.matched} | {DS + "claims-history", DS + "campaign-responses", DS + "marketing-consents"}
    assert not involved & set(report.unmatched_ours)
    as_dict = report.as_dict()
    assert as_dict["ambiguous"][1]["side"] == "ours" and len(as_dict["matched"]) == 8
    summary = report.summary()
    assert "matched    by fqn" in summary and "ambiguous  by identifier" in summary
    assert "links      +7 -0" in summary


def test_links_go_to_the_data_graph_and_the_catalogue_never_does(linked):
    store, delta, _, data_before = linked
    assert links(store) == {(m.ours, m.entry) for m in EXPECTED_MATCHES if m.how != "iri"}
    added_to_data = {q for q in delta.added if q.graph_name == DATA}
    assert {q.predicate.value for q in added_to_data} == {ENTRY}
    assert set(store.backend.quads_for_pattern(None, None, None, DATA)) == data_before | added_to_data
    assert {q.graph_name for q in delta.added} == {DATA, CATALOGS}
    # what the catalogue says of our own dataset (same IRI) is stored nowhere: validation reads
    # every graph, and a catalogue must not stand in for the record (test_catalogs.py)
    title = ox.NamedNode(DCT + "title")
    kb = ox.NamedNode(DS + "knowledge-base")
    assert not any(
        q.object.value == "Customer service knowledge articles" for q in store.backend.quads_for_pattern(kb, title, None, None)
    )


def test_reimporting_the_same_catalogue_changes_nothing(linked):
    store, _, report, _ = linked
    for path in (LAKEHOUSE, DATA_DIR / "catalog-lakehouse.jsonld", DATA_DIR / "catalog-lakehouse.rdf"):
        delta, again = dcat.link(store, read(path))
        assert not delta, path
        assert again.matched == report.matched


def test_a_changed_catalogue_removes_stale_links_and_keeps_other_catalogues():
    store = demo_store()
    apply(store, LAKEHOUSE)
    apply(store, HR)
    hr_quads = set(store.backend.quads_for_pattern(None, None, None, CATALOGS)) - set(read(LAKEHOUSE))
    assert (DS + "applicant-cvs", "https://hr-catalog.meridian.example/dataset/candidates") in links(store)

    delta, report = apply(store, LAKEHOUSE_V2)
    entry = ox.NamedNode(ENTRY)
    assert {(q.subject.value, q.object.value) for q in delta.removed if q.predicate == entry} == {
        (DS + "customer-transactions", CDS + "core-transactions"),
        (DS + "loan-applications", CDS + "loan-apps"),
    }
    assert {(q.subject.value, q.object.value) for q in delta.added if q.predicate == entry} == {
        (DS + "collections-contact-history", CDS + "collections-contacts")
    }
    assert (report.links_added, report.links_removed) == (1, 2)
    assert not described(store, CDS + "loan-apps")  # no longer catalogued
    assert described(store, CDS + "web-analytics")  # the HR catalogue still lists it
    assert hr_quads <= set(store.backend.quads_for_pattern(None, None, None, CATALOGS))
    assert (DS + "applicant-cvs", "https://hr-catalog.meridian.example/dataset/candidates") in links(store)
    identifiers = {
        q.object.value
        for q in store.backend.quads_for_pattern(
            ox.NamedNode(CDS + "core-transactions"), ox.NamedNode(DCT + "identifier"), None, CATALOGS
        )
    }
    assert identifiers == {"TXN-GOLD"}
    assert not dcat.link(store, read(LAKEHOUSE_V2))[0]


def test_links_are_dct_relations_after_reasoning(linked):
    store, _, _, _ = linked
    refresh_inferences(store)
    rows = store.query(f"SELECT ?e WHERE {{ GRAPH <{Graphs.INFERRED}> {{ <{DS}customer-transactions> <{DCT}relation> ?e }} }}")
    assert [row["e"].value for row in rows] == [CDS + "core-transactions"]


def test_an_empty_catalogue_is_invalid_input():
    with pytest.raises(InvalidInput):
        dcat.link(GraphStore(None), [])


# -- export -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(linked) -> list[ox.Triple]:
    store, _, _, _ = linked
    return export.export_register(store)


def objects(triples: list[ox.Triple], subject: str, predicate: str) -> set[str]:
    return {t.object.value for t in triples if t.subject.value == subject and t.predicate.value == predicate}


def test_the_export_passes_its_shapes(exported):
    assert export.validate_export(exported) == []


def test_the_export_is_a_dcat_catalogue_with_provenance(exported):
    catalog = "https://data.meridian.example/aims/aims/register"
    assert objects(exported, catalog, TYPE) == {DCAT + "Catalog"}
    assert objects(exported, catalog, DCT + "publisher") == {"https://data.meridian.example/aims/org/meridian-bank"}
    assert len(objects(exported, catalog, DCAT + "dataset")) == 20
    assert objects(exported, catalog, DCAT + "service") == {
        SYS + s for s in ("document-extraction", "card-fraud-detection", "customer-segmentation", "retail-credit-scoring")
    }
    assert objects(exported, SYS + "cv-screening", TYPE) == {DCAT + "Resource"}
    assert objects(exported, MDL + "aurora-llm", TYPE) == {DCAT + "Resource"}
    assert objects(exported, MDL + "aurora-llm", DCT + "identifier") == {MDL + "aurora-llm"}  # none recorded
    assert objects(exported, DS + "customer-transactions", DCT + "identifier") == {"DS-001"}
    assert objects(exported, DS + "customer-transactions", DCT + "title") == {"Core customer transactions"}
    # provenance: training data, models and inputs of a system, fine-tuning, dataset lineage, acquisition
    assert DS + "credit-performance-history" in objects(exported, MDL + "retail-pd-model", PROV + "wasDerivedFrom")
    assert {MDL + "retail-pd-model", DS + "loan-applications", SYS + "document-extraction"} <= objects(
        exported, SYS + "retail-credit-scoring", PROV + "wasDerivedFrom"
    )
    assert MDL + "scriptura-ocr" in objects(exported, MDL + "doc-extractor", PROV + "wasDerivedFrom")
    assert DS + "customer-transactions" in objects(exported, DS + "feature-store", PROV + "wasDerivedFrom")
    activity = "https://data.meridian.example/aims/acquisition/core-banking-ingestion"
    assert objects(exported, DS + "customer-transactions", PROV + "wasGeneratedBy") == {activity}
    assert objects(exported, activity, TYPE) == {PROV + "Activity"}


def test_the_export_links_catalogue_entries_but_does_not_copy_them(exported):
    assert objects(exported, DS + "customer-transactions", DCT + "relation") == {CDS + "core-transactions"}
    assert "Customer service knowledge articles" not in objects(exported, DS + "knowledge-base", DCT + "title")
    assert not any(t.subject.value.startswith("https://catalog.meridian.example/") for t in exported)


def test_test_data_is_not_a_derivation():
    store = demo_store()
    store.backend.add(
        ox.Quad(
            ox.NamedNode(MDL + "intent-classifier"),
            ox.NamedNode(AIMS + "testedOn"),
            ox.NamedNode(DS + "marketing-consents"),
            DATA,
        )
    )
    triples = export.export_register(store)
    assert DS + "marketing-consents" not in objects(triples, MDL + "intent-classifier", PROV + "wasDerivedFrom")


def test_a_broken_export_fails_its_shapes(exported):
    catalog = "https://data.meridian.example/aims/aims/register"
    broken = [
        t
        for t in exported
        if not (
            (t.subject.value == DS + "bureau-data" and t.predicate.value == DCT + "title")
            or (t.subject.value == catalog and t.predicate.value == DCT + "publisher")
            or (t.subject.value == MDL + "aurora-llm" and t.predicate.value == DCT + "identifier")
            or (t.subject.value == catalog and t.object.value == DS + "fraud-labels")
        )
    ]
    outside = ox.NamedNode("https://elsewhere.example/thing")
    broken += [
        ox.Triple(ox.NamedNode(MDL + "aurora-llm"), ox.NamedNode(PROV + "wasDerivedFrom"), outside),
        ox.Triple(ox.NamedNode(DS + "bureau-data"), ox.NamedNode(PROV + "wasGeneratedBy"), outside),
        ox.Triple(ox.NamedNode(DS + "bureau-data"), ox.NamedNode(DCT + "relation"), ox.Literal("core-transactions")),
        ox.Triple(ox.NamedNode(MDL + "aurora-llm"), ox.NamedNode(DCT + "creator"), outside),
    ]
    findings = export.validate_export(broken)
    shape = "https://w3id.org/aimsgraph/shapes#Export"
    assert {(f.focus, f.shape.removeprefix(shape)) for f in findings} == {
        (DS + "bureau-data", "DatasetShape-title"),
        (catalog, "CatalogShape-publisher"),
        (MDL + "aurora-llm", "ResourceShape-identifier"),
        (DS + "fraud-labels", "DatasetShape-listed"),
        (MDL + "aurora-llm", "DerivationShape-source"),
        (DS + "bureau-data", "GenerationShape-activity"),
        (DS + "bureau-data", "RelationShape-iri"),
        (outside.value, "PublisherShape-name"),
    }
    assert all(f.severity == "Violation" and f.message for f in findings)


def test_every_export_shape_has_a_message_and_a_severity():
    shapes = rdflib.Graph().parse(resources.path("shapes", "export", "dcat.ttl"), format="turtle")
    named = {s for s in shapes.subjects() if isinstance(s, rdflib.URIRef) and "#Export" in str(s)}
    assert len(named) > 20
    assert [
        str(s) for s in sorted(named) if shapes.value(s, rdflib.SH.message) is None or shapes.value(s, rdflib.SH.severity) is None
    ] == []
    # the record's completeness shapes do not include them
    assert not any(
        "Export" in str(s)
        for path in resources.path("shapes").glob("*.ttl")
        for s in rdflib.Graph().parse(path, format="turtle").subjects()
    )


def test_the_export_reimports_cleanly(linked, exported):
    store, _, _, _ = linked
    turtle = export.serialize_export(exported)
    delta, report = dcat.link(store, dcat.read_catalog(turtle, ox.RdfFormat.TURTLE))
    by_iri = {m.ours for m in report.matched if m.how == "iri" and m.ours == m.entry}
    datasets = objects(exported, "https://data.meridian.example/aims/aims/register", DCAT + "dataset")
    assert datasets <= by_iri and len(datasets) == 20
    assert {m.how for m in report.matched} == {"iri"}  # models too, nothing else
    assert not {q for q in delta.added | delta.removed if q.graph_name == DATA}
    assert not delta.removed  # the lakehouse's description of ds:knowledge-base, which it lists too, stays
    store.replace_quads(delta.removed, delta.added)
    assert not dcat.link(store, dcat.read_catalog(turtle, ox.RdfFormat.TURTLE))[0]
    # the re-imported export does not leak back into the next export
    assert export.export_register(store) == exported


def test_catalogue_entry_is_declared_in_its_ontology_module():
    module = rdflib.Graph().parse(resources.path("ontology", "catalog-links.ttl"), format="turtle")
    term = rdflib.URIRef(ENTRY)
    assert module.value(term, rdflib.RDFS.subPropertyOf) == rdflib.URIRef(DCT + "relation")
    assert module.value(term, rdflib.RDFS.isDefinedBy) == rdflib.URIRef("https://w3id.org/aimsgraph/ontology")
    assert {o.language for o in module.objects(term, rdflib.RDFS.label)} == {"en"}
    assert {o.language for o in module.objects(term, rdflib.SKOS.definition)} == {"en"}
    assert resources.path("ontology", "catalog-links.ttl") in resources.ontology_files()


def test_a_record_without_a_management_system_is_refused_with_the_reason():
    """The register is a management system's catalogue. A record that names none (a generated
    organisation, an AIRO file) used to export derivations between untyped resources and fail
    its own shapes with a message about derivations; now the reason comes first (HTTP 422)."""
    from aimsgraph.config import Settings
    from aimsgraph.errors import ExportInvalid
    from benchmarks.generate import generate
    from conftest import serving

    store = GraphStore(None)
    store.initialise(demo=False)
    parsed = ox.parse(generate(3, seed=5).encode(), format=ox.RdfFormat.N_TRIPLES)
    store.backend.extend(ox.Quad(q.subject, q.predicate, q.object, DATA) for q in parsed)
    refresh_inferences(store)
    with pytest.raises(ExportInvalid, match="aims:AIManagementSystem"):
        export.export_register(store)

    with serving(Settings(data_dir=None, demo=False)) as app:
        app.extensions["aimsgraph"].store.backend.extend(
            ox.Quad(q.subject, q.predicate, q.object, DATA) for q in store.backend.quads_for_pattern(None, None, None, DATA)
        )
        answer = app.test_client().get("/api/export/dcat")
    assert answer.status_code == 422 and "aims:AIManagementSystem" in answer.get_json()["detail"]
