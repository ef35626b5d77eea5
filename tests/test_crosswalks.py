"""Crosswalks as data (data/crosswalks/*.ttl, SSSOM-style records plus SKOS triples) and their
SHACL checks (shapes/crosswalks.ttl): shipped mappings resolve and validate clean, dangling or
malformed mappings are reported, and plain SPARQL follows the SKOS triples into the vocabularies.

The crosswalks between frameworks (ISO/IEC 42001 -> NIST AI RMF, ISO/IEC 42001 -> EU AI Act,
NIST AI RMF -> EU AI Act) join requirements of the catalogue: they carry a NIST OLIR relationship
that agrees with their SKOS predicate, are reviewed, and never point at a requirement the
catalogue lacks. The NIST AI RMF catalogue itself (data/nist-ai-rmf/) has the framework's shape:
4 functions, 19 categories, 72 subcategories, and every subcategory that an AI Atlas Nexus action
id names."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import rdflib
import yaml
from rdflib import RDF, URIRef

from aimsgraph import resources
from aimsgraph.namespaces import AIMS, EUAIA, ISO, NIST, Graphs
from aimsgraph.semantics import validation
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.semantics.shacl_sparql import compile_shapes
from aimsgraph.store import GraphStore
from conftest import AS_OF

SSSOM = "https://w3id.org/sssom/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
VAIR = "https://w3id.org/vair#"
CROSSWALK = "https://w3id.org/aimsgraph/crosswalk/"
PREFIX = f"""PREFIX sssom: <{SSSOM}>
PREFIX skos: <{SKOS}>
PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
"""
#: Mappings per file and per SKOS predicate. No exactMatch: nothing shipped is truly equivalent.
EXPECTED = {
    "annex-c-vair": {"relatedMatch": 14, "narrowMatch": 2, "closeMatch": 1, "broadMatch": 1},
    "annex-a-dpv": {"broadMatch": 13, "relatedMatch": 3, "closeMatch": 1, "narrowMatch": 1},
    "iso42001-nist-ai-rmf": {"relatedMatch": 89, "broadMatch": 2, "narrowMatch": 2},
    "iso42001-eu-ai-act": {"relatedMatch": 76, "broadMatch": 2},
    "nist-ai-rmf-eu-ai-act": {"relatedMatch": 22},
}
#: Crosswalks from the catalogue into the published vocabularies (AIRO, VAIR, DPV) ...
TO_VOCABULARIES = ("annex-c-vair", "annex-a-dpv")
#: ... and between frameworks of the catalogue: subject and object namespaces.
BETWEEN_FRAMEWORKS = {
    "iso42001-nist-ai-rmf": (ISO, NIST),
    "iso42001-eu-ai-act": (ISO, EUAIA),
    "nist-ai-rmf-eu-ai-act": (NIST, EUAIA),
}
#: Annex C risk sources with a mapping; the other three are unmapped on purpose (file header).
MAPPED_RISK_SOURCES = {
    "C.3-lack-of-transparency-and-explainability",
    "C.3-level-of-automation",
    "C.3-machine-learning",
    "C.3-system-hardware-issues",
}
#: Namespaces each file maps into.
OBJECT_NAMESPACES = {
    "annex-c-vair": (VAIR, "https://w3id.org/airo#", "https://w3id.org/dpv/risk#", "https://w3id.org/dpv/ai#"),
    "annex-a-dpv": ("https://w3id.org/dpv#", "https://w3id.org/dpv/risk#", "https://w3id.org/dpv/ai#"),
    **{name: (objects,) for name, (_, objects) in BETWEEN_FRAMEWORKS.items()},
}
OLIR = "https://w3id.org/aimsgraph/ontology#Olir"
MAINTAINERS = "https://w3id.org/aimsgraph/ontology"
MANUAL = "https://w3id.org/semapv/vocab/ManualMappingCuration"
#: NIST AI RMF 1.0: subcategories per function (NIST AI 100-1, Tables 1 to 4).
NIST_FUNCTIONS = {"GOVERN": ("GV", 6, 19), "MAP": ("MP", 5, 18), "MEASURE": ("MS", 4, 22), "MANAGE": ("MG", 4, 13)}
#: Subcategories that no ISO/IEC 42001 clause or control sensibly maps to (iso42001-nist-ai-rmf.ttl header).
UNMAPPED_SUBCATEGORIES = {"GV-1.7", "GV-3.1", "GV-6.2", "MS-2.2", "MS-3.2", "MG-2.4"}
#: The subcategories that the NIST AI 600-1 action ids of AI Atlas Nexus 1.2.5 name (GV-1.2-002 is
#: an action of GV-1.2); checked again against the YAML wherever a copy of it is found.
ACTION_SUBCATEGORIES = {
    *("GV-1.1", "GV-1.2", "GV-1.3", "GV-1.4", "GV-1.5", "GV-1.6", "GV-1.7", "GV-2.1", "GV-3.2", "GV-4.1"),
    *("GV-4.2", "GV-4.3", "GV-5.1", "GV-6.1", "GV-6.2", "MP-1.1", "MP-1.2", "MP-2.1", "MP-2.2", "MP-2.3"),
    *("MP-3.4", "MP-4.1", "MP-5.1", "MP-5.2", "MS-1.1", "MS-1.3", "MS-2.2", "MS-2.3", "MS-2.5", "MS-2.6"),
    *("MS-2.7", "MS-2.8", "MS-2.9", "MS-2.10", "MS-2.11", "MS-2.12", "MS-2.13", "MS-3.2", "MS-3.3", "MS-4.2"),
    *("MG-1.3", "MG-2.2", "MG-2.3", "MG-2.4", "MG-3.1", "MG-3.2", "MG-4.1", "MG-4.2", "MG-4.3"),
}
ACTIONS_FILE = resources.path("data", "atlas-nexus", "nist_ai_rmf_actions_data.yaml")


def select(store: GraphStore, query: str) -> list[dict[str, str]]:
    solutions = store.query(PREFIX + query)
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def crosswalk_files() -> dict[str, rdflib.Graph]:
    return {
        path.stem: rdflib.Graph().parse(path, format="turtle")
        for path in sorted(resources.path("data", "crosswalks").glob("*.ttl"))
    }


def olir(graph: rdflib.Graph, mapping: str) -> list[str]:
    return [str(o) for o in graph.objects(URIRef(mapping), URIRef(AIMS + "olirRelationship"))]


def slot(graph: rdflib.Graph, mapping: str, name: str) -> list[str]:
    return [str(o) for o in graph.objects(URIRef(mapping), URIRef(SSSOM + name))]


#: The reference graphs of catalogue concepts: ISO/IEC 42001 in the catalogue, the other
#: frameworks in their own graph.
REFERENCE = f"VALUES ?reference {{ <{Graphs.CATALOGUE}> <{Graphs.FRAMEWORKS}> }}"


def catalogue_concepts(store: GraphStore, namespace: str) -> dict[str, set[str]]:
    """Every concept of the catalogue graph in ``namespace``: IRI -> its aims: classes."""
    found: dict[str, set[str]] = {}
    for row in select(
        store,
        f"""SELECT ?c ?kind WHERE {{ {REFERENCE} GRAPH ?reference {{ ?c a skos:Concept ; a ?kind }}
        FILTER (STRSTARTS(STR(?c), "{namespace}")) }}""",
    ):
        found.setdefault(row["c"], set())
        if row["kind"].startswith(AIMS):
            found[row["c"]].add(row["kind"].removeprefix(AIMS))
    return found


def records(graph: rdflib.Graph) -> dict[str, tuple[str, str, str]]:
    """Each mapping record of a file: IRI -> (subject, predicate, object)."""

    def value(m, slot: str) -> str:
        return str(graph.value(m, URIRef(SSSOM + slot)))

    return {
        str(m): (value(m, "subject_id"), value(m, "predicate_id"), value(m, "object_id"))
        for m in graph.subjects(RDF.type, URIRef(SSSOM + "Mapping"))
    }


def crosswalk_findings(findings: list[validation.Finding]) -> list[validation.Finding]:
    return [f for f in findings if f.shape.rsplit("#", 1)[1].startswith("Crosswalk")]


# -- the shipped crosswalks ---------------------------------------------------------------------


def test_mapping_counts_per_file_and_predicate():
    files = crosswalk_files()
    assert set(files) == set(EXPECTED)
    for name, graph in files.items():
        mappings = records(graph)
        assert Counter(p.removeprefix(SKOS) for _, p, _ in mappings.values()) == EXPECTED[name], name
        assert all(iri.startswith(f"{CROSSWALK}{name}/") for iri in mappings), name  # stable IRIs, no blank nodes
        [mapping_set] = graph.subjects(RDF.type, URIRef(SSSOM + "MappingSet"))
        assert str(mapping_set) == CROSSWALK + name
        assert {str(m) for m in graph.objects(mapping_set, URIRef(SSSOM + "mappings"))} == set(mappings), name
        assert all(o.startswith(OBJECT_NAMESPACES[name]) for _, _, o in mappings.values()), name
        assert len(set(mappings.values())) == len(mappings), name  # one record per subject, predicate, object


def test_every_mapping_links_a_catalogue_entry_to_a_vocabulary_term(demo_store: GraphStore):
    kinds = {"annex-c-vair": {"AnnexCRiskSource", "AnnexCObjective"}, "annex-a-dpv": {"ReferenceControl"}}
    for name, graph in crosswalk_files().items():
        if name not in TO_VOCABULARIES:
            continue
        for iri, (subject, _, obj) in records(graph).items():
            subject_kinds = {
                row["kind"].rsplit("#", 1)[1]
                for row in select(
                    demo_store,
                    f"""SELECT ?kind WHERE {{
                GRAPH <{Graphs.CATALOGUE}> {{ <{subject}> a ?kind }} FILTER(STRSTARTS(STR(?kind), STR(aims:))) }}""",
                )
            }
            assert subject.startswith(ISO) and subject_kinds & kinds[name], iri
            assert demo_store.query(f"ASK {{ GRAPH <{Graphs.VOCABULARIES}> {{ <{obj}> ?p ?o }} }}"), iri


def test_every_record_has_its_skos_triple_and_every_catalogue_skos_triple_its_record(demo_store: GraphStore):
    catalogue = f"<{Graphs.CATALOGUE}>"
    without_triple = select(
        demo_store,
        f"""SELECT ?m WHERE {{ GRAPH {catalogue} {{
        ?m a sssom:Mapping ; sssom:subject_id ?s ; sssom:predicate_id ?p ; sssom:object_id ?o .
        FILTER NOT EXISTS {{ ?s ?p ?o }} }} }}""",
    )
    assert without_triple == []
    without_record = select(
        demo_store,
        f"""SELECT ?s ?p ?o WHERE {{ GRAPH {catalogue} {{
        VALUES ?p {{ skos:exactMatch skos:closeMatch skos:broadMatch skos:narrowMatch skos:relatedMatch }}
        ?s ?p ?o .
        FILTER (STRSTARTS(STR(?s), "{ISO}") || STRSTARTS(STR(?s), "{NIST}"))  # not the risk matrices' and
        # the EU AI Act catalogue's own SKOS links to DPV
        FILTER NOT EXISTS {{ ?m sssom:subject_id ?s ; sssom:predicate_id ?p ; sssom:object_id ?o }} }} }}""",
    )
    assert without_record == []
    counted = select(demo_store, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {catalogue} {{ ?m a sssom:Mapping }} }}")
    assert int(counted[0]["n"]) == sum(sum(c.values()) for c in EXPECTED.values())


def test_annex_c_risk_sources_mapped_and_left_unmapped_on_purpose():
    mapped = {s.removeprefix(ISO) for s, _, _ in records(crosswalk_files()["annex-c-vair"]).values()}
    assert {s for s in mapped if s.startswith("C.3-")} == MAPPED_RISK_SOURCES


def test_the_shipped_crosswalks_validate_clean(demo_store: GraphStore):
    checked = {c.shape.rsplit("#", 1)[1] for c in compile_shapes(validation.shapes_graph())}
    assert {
        "CrosswalkMappingShape-subject",
        "CrosswalkMappingShape-confidence",
        "CrosswalkConfidenceShape",
        "CrosswalkSkosTripleShape",
        "CrosswalkResolvesShape",
        "CrosswalkRequirementExistsShape",
        "CrosswalkBetweenFrameworksShape-olir",
        "CrosswalkOlirConsistencyShape",
        "CrosswalkReviewedShape-reviewer",
    } <= checked
    assert crosswalk_findings(validation.validate_store(demo_store, AS_OF)) == []


def test_sparql_follows_annex_c_risk_sources_to_vair_terms_and_their_labels(demo_store: GraphStore):
    rows = select(
        demo_store,
        f"""SELECT ?source ?term ?label WHERE {{
        GRAPH <{Graphs.CATALOGUE}> {{ ?source a aims:AnnexCRiskSource ; skos:closeMatch|skos:broadMatch ?term }}
        GRAPH <{Graphs.VOCABULARIES}> {{ ?term rdfs:label ?label }}
        FILTER (STRSTARTS(STR(?term), "{VAIR}")) }}""",
    )
    reached = {(row["source"].removeprefix(ISO), row["term"].removeprefix(VAIR), row["label"]) for row in rows}
    assert reached == {
        ("C.3-machine-learning", "DataRiskSource", "Data Risk Source"),
        ("C.3-system-hardware-issues", "SystemRiskSource", "System Risk Source"),
    }


# -- the NIST AI RMF catalogue -------------------------------------------------------------------


def test_nist_ai_rmf_has_4_functions_19_categories_and_72_subcategories(demo_store: GraphStore):
    concepts = catalogue_concepts(demo_store, NIST)
    assert all(kinds == {"LegalProvision"} for kinds in concepts.values())
    rows = select(
        demo_store,
        f"""SELECT ?c ?notation ?title ?label ?definition ?broader WHERE {{ GRAPH <{Graphs.FRAMEWORKS}> {{
        ?c skos:inScheme <{NIST}AIRMF> ; skos:notation ?notation ; skos:prefLabel ?title ; rdfs:label ?label ;
            skos:definition ?definition .
        OPTIONAL {{ ?c skos:broader ?broader }} }} }}""",
    )
    assert len(rows) == len({r["c"] for r in rows}) == len(concepts) == 4 + 19 + 72  # one of each, no more
    by_iri = {r["c"].removeprefix(NIST): r for r in rows}
    for ident, row in by_iri.items():
        assert row["label"] == f"{row['notation']} {row['title']}", ident
        assert row["definition"].endswith(".") and row["definition"].count(". ") == 0, ident  # one sentence
    assert len({r["title"] for r in rows}) == len(rows)  # short titles tell concepts apart
    tops = select(demo_store, f"SELECT ?c WHERE {{ <{NIST}AIRMF> skos:hasTopConcept ?c }}")
    assert {r["c"].removeprefix(NIST) for r in tops} == set(NIST_FUNCTIONS)
    for function, (abbr, categories, subcategories) in NIST_FUNCTIONS.items():
        assert by_iri[function]["notation"] == function and "broader" not in by_iri[function]
        cats = {i for i, r in by_iri.items() if r.get("broader") == NIST + function}
        assert cats == {f"{abbr}-{n}" for n in range(1, categories + 1)}, function
        subs = {i for i, r in by_iri.items() if r.get("broader", "").removeprefix(NIST) in cats}
        assert len(subs) == subcategories, function
        for sub in subs:
            category, number = sub.rsplit(".", 1)
            assert by_iri[sub]["broader"] == NIST + category
            assert by_iri[sub]["notation"] == f"{function} {category.split('-')[1]}.{number}"
            assert re.fullmatch(rf"{abbr}-[1-9]\.[1-9][0-9]?", sub)


def test_every_subcategory_an_atlas_nexus_action_names_exists(demo_store: GraphStore):
    subcategories = {c.removeprefix(NIST) for c in catalogue_concepts(demo_store, NIST) if "." in c.removeprefix(NIST)}
    assert len(subcategories) == 72
    assert ACTION_SUBCATEGORIES <= subcategories
    actions = yaml.safe_load(ACTIONS_FILE.read_text(encoding="utf-8"))["actions"]
    named = {a["id"].rsplit("-", 1)[0] for a in actions}
    assert all(re.fullmatch(r"(GV|MP|MS|MG)-[0-9]+\.[0-9]+-[0-9]{3}", a["id"]) for a in actions)
    assert sorted(named - subcategories) == []
    assert named == ACTION_SUBCATEGORIES  # the constant above is the YAML's list


# -- crosswalks between frameworks ---------------------------------------------------------------


def test_framework_crosswalks_join_requirements_of_the_catalogue(demo_store: GraphStore):
    concepts = {ns: catalogue_concepts(demo_store, ns) for ns in (ISO, EUAIA, NIST)}
    kinds = {
        ISO: {"Clause", "ControlGroup", "ReferenceControl"},  # not Annex C objectives or risk sources
        EUAIA: {"LegalProvision"},  # provisions, not obligations, categories or roles
        NIST: {"LegalProvision"},
    }
    files = crosswalk_files()
    for name, (subjects, objects) in BETWEEN_FRAMEWORKS.items():
        mappings = records(files[name])
        assert mappings, name
        for iri, (subject, _, obj) in mappings.items():
            for value, namespace in ((subject, subjects), (obj, objects)):
                assert value.startswith(namespace) and value in concepts[namespace], (iri, value)
                assert concepts[namespace][value] & kinds[namespace], (iri, value)
            if objects == NIST:  # mapped to subcategories, not to functions or categories
                assert "." in obj.removeprefix(NIST), iri
            if subjects == NIST:
                assert "." in subject.removeprefix(NIST), iri


def test_olir_relationship_agrees_with_the_skos_predicate(demo_store: GraphStore):
    paired = {
        row["olir"]: row["predicate"]
        for row in select(
            demo_store,
            f"""SELECT ?olir ?predicate WHERE {{ GRAPH <{Graphs.ONTOLOGY}> {{
            ?olir a aims:OlirRelationshipType ; skos:closeMatch ?predicate }} }}""",
        )
    }
    assert paired == {
        OLIR + "Equal": SKOS + "exactMatch",
        OLIR + "SubsetOf": SKOS + "broadMatch",
        OLIR + "SupersetOf": SKOS + "narrowMatch",
        OLIR + "IntersectsWith": SKOS + "relatedMatch",
    }
    files = crosswalk_files()
    for name in BETWEEN_FRAMEWORKS:
        graph = files[name]
        for iri, (_, predicate, _) in records(graph).items():
            [relationship] = olir(graph, iri)
            assert paired[relationship] == predicate, iri
            # curated and reviewed by the maintainers, with a reason and a confidence in 0..1
            assert slot(graph, iri, "mapping_justification") == [MANUAL], iri
            assert slot(graph, iri, "author_id") == slot(graph, iri, "reviewer_id") == [MAINTAINERS], iri
            assert slot(graph, iri, "author_label") == ["aimsgraph maintainers"], iri
            [confidence] = slot(graph, iri, "confidence")
            assert 0 < float(confidence) <= 1, iri
            [comment] = slot(graph, iri, "comment")
            assert len(comment) > 40, iri
        [mapping_set] = graph.subjects(RDF.type, URIRef(SSSOM + "MappingSet"))
        assert str(graph.value(mapping_set, URIRef(SSSOM + "license"))) == "https://www.apache.org/licenses/LICENSE-2.0"
    for name in TO_VOCABULARIES:  # mappings into vocabularies carry no OLIR relationship
        assert not any(olir(files[name], iri) for iri in records(files[name])), name


def test_nist_subcategories_mapped_from_iso_except_those_listed_with_a_reason(demo_store: GraphStore):
    subcategories = {c.removeprefix(NIST) for c in catalogue_concepts(demo_store, NIST) if "." in c.removeprefix(NIST)}
    mapped = {o.removeprefix(NIST) for _, _, o in records(crosswalk_files()["iso42001-nist-ai-rmf"]).values()}
    assert UNMAPPED_SUBCATEGORIES <= subcategories  # real subcategories, left out on purpose
    assert mapped == subcategories - UNMAPPED_SUBCATEGORIES  # every other one has an ISO clause or control
    path = resources.path("data", "crosswalks", "iso42001-nist-ai-rmf.ttl")
    header = [line for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    listed = {m.group(1) for line in header if (m := re.match(r"# - ((?:GV|MP|MS|MG)-[0-9.]+) \(", line))}
    assert listed == UNMAPPED_SUBCATEGORIES  # each with its reason


def test_iso_to_eu_ai_act_mappings_agree_with_the_obligations_evidence(demo_store: GraphStore):
    rows = select(
        demo_store,
        f"""SELECT ?obligation ?basis ?evidence WHERE {{ GRAPH <{Graphs.FRAMEWORKS}> {{
        ?obligation a aims:Obligation ; aims:basis ?basis ; aims:evidencedBy ?evidence }} }}""",
    )
    evidenced = {(r["evidence"], r["basis"]) for r in rows}
    mapped = {(s, o) for s, _, o in records(crosswalk_files()["iso42001-eu-ai-act"]).values()}
    assert sorted(mapped - evidenced) == []  # every mapping is a pair an obligation states
    provisions = {o for _, o in mapped}
    assert {p.removeprefix(EUAIA) for p in provisions} >= {"Art9", "Art10", "Art11", "Art12", "Art13", "Art14", "Art15"}
    for obligation in {r["obligation"] for r in rows if r["basis"] in provisions}:
        pairs = {(r["evidence"], r["basis"]) for r in rows if r["obligation"] == obligation}
        assert pairs & mapped, obligation  # each obligation on a mapped provision has its evidence mapped


def test_sparql_follows_a_control_to_nist_subcategories_and_eu_ai_act_provisions(demo_store: GraphStore):
    rows = select(
        demo_store,
        f"""SELECT ?target ?label ?olir WHERE {{ GRAPH <{Graphs.CATALOGUE}> {{
        <{ISO}A.6.2.8> skos:broadMatch|skos:relatedMatch ?target .
        ?m sssom:subject_id <{ISO}A.6.2.8> ; sssom:object_id ?target ; aims:olirRelationship ?olir }}
        GRAPH <{Graphs.FRAMEWORKS}> {{ ?target rdfs:label ?label }} }}""",
    )
    reached = {(r["target"].removeprefix(EUAIA), r["olir"].removeprefix(OLIR)) for r in rows}
    assert reached == {("Art12", "SubsetOf"), ("Art19", "IntersectsWith"), ("Art26", "IntersectsWith")}
    assert {r["label"] for r in rows} >= {"Art. 12 Record-keeping"}
    chained = select(
        demo_store,
        f"""SELECT DISTINCT ?provision WHERE {{
        <{ISO}A.6.2.6> skos:relatedMatch ?subcategory . ?subcategory skos:inScheme <{NIST}AIRMF> ;
            skos:relatedMatch ?provision . FILTER (STRSTARTS(STR(?provision), "{EUAIA}")) }}""",
    )
    assert {r["provision"].removeprefix(EUAIA) for r in chained} == {"Art72"}  # via MEASURE 2.4 and MANAGE 4.1


# -- dangling and malformed mappings in the data graph -------------------------------------------

BAD = "https://data.meridian.example/aims/crosswalk/"
DANGLING_OBJECT = VAIR + "DataRiskSourc"  # misspelt VAIR term
DANGLING_SUBJECT = ISO + "C.3-no-such-risk-source"  # not in the catalogue
DANGLING_SUBCATEGORY = NIST + "MS-2.14"  # MEASURE 2 has 13 subcategories
LEAD = "https://data.meridian.example/aims/role/ai-governance-lead"
#: The shape each bad mapping trips, and nothing else.
BAD_FINDINGS = {
    ("dangling-object", "CrosswalkResolvesShape"),
    ("dangling-subject", "CrosswalkRequirementExistsShape"),
    ("malformed", "CrosswalkMappingShape-predicate"),
    ("malformed", "CrosswalkMappingShape-justification"),
    ("malformed", "CrosswalkConfidenceShape"),
    ("nist-dangling", "CrosswalkRequirementExistsShape"),
    ("no-olir", "CrosswalkBetweenFrameworksShape-olir"),
    ("two-olir", "CrosswalkBetweenFrameworksShape-olir"),
    ("two-olir", "CrosswalkOlirConsistencyShape"),  # SubsetOf, one of the two, contradicts relatedMatch
    ("olir-not-a-type", "CrosswalkBetweenFrameworksShape-olir"),
    ("olir-contradicts", "CrosswalkOlirConsistencyShape"),
    ("unreviewed", "CrosswalkReviewedShape-reviewer"),
}
BAD_MAPPINGS = sorted({BAD + name for name, _ in BAD_FINDINGS} | {BAD + "third-party"})


def mapping(
    iri: str,
    subject: str,
    predicate: str,
    obj: str,
    *,
    justification: str,
    confidence: str,
    olir: tuple[str, ...] = (),
    reviewer: str | None = None,
    author: str = LEAD,
) -> str:
    extra = "".join(f" aims:olirRelationship <{o}> ;" for o in olir) + (f" sssom:reviewer_id <{reviewer}> ;" if reviewer else "")
    return f"""<{iri}> a sssom:Mapping ; sssom:subject_id <{subject}> ; sssom:predicate_id <{predicate}> ;
        sssom:object_id <{obj}> ; sssom:mapping_justification <{justification}> ;{extra}
        sssom:confidence "{confidence}"^^<http://www.w3.org/2001/XMLSchema#double> ;
        sssom:author_id <{author}> .
        <{subject}> <{predicate}> <{obj}> ."""


@pytest.fixture(scope="module")
def bad_store() -> GraphStore:
    """The demo (prepared as the demo_store fixture is) plus, in the data graph:
    - a mapping to a misspelt VAIR term, one from a non-existent catalogue entry, and one with a
      predicate that is not one of the five SKOS mapping relations, a made-up justification and a
      confidence above 1;
    - mappings between frameworks: to a NIST AI RMF subcategory that does not exist, without an
      OLIR relationship, with two, with one that is not an OLIR type, with one that contradicts
      the SKOS predicate, one curated by hand that names no reviewer, and one from a third party
      (another author, unspecified matching, no reviewer), which is fine.
    Each comes with its SKOS triple, as a user would write it: that triple must not make a
    misspelt subject exist."""
    from aimsgraph.risk.analysis import refresh_analysis
    from aimsgraph.semantics.applicability import refresh_applicability

    reviewer = LEAD
    store = GraphStore(None)
    store.initialise(demo=True)
    store.update(
        PREFIX
        + f"INSERT DATA {{ GRAPH <{Graphs.DATA}> {{ "
        + "\n".join(
            [
                mapping(
                    BAD + "dangling-object",
                    ISO + "C.3-machine-learning",
                    SKOS + "closeMatch",
                    DANGLING_OBJECT,
                    justification=MANUAL,
                    confidence="0.7",
                ),
                mapping(
                    BAD + "dangling-subject",
                    DANGLING_SUBJECT,
                    SKOS + "closeMatch",
                    VAIR + "DataRiskSource",
                    justification=MANUAL,
                    confidence="0.7",
                ),
                mapping(
                    BAD + "malformed",
                    ISO + "C.2-fairness",
                    SKOS + "mappingRelation",
                    VAIR + "Bias",
                    justification="https://example.org/gut-feeling",
                    confidence="1.5",
                ),
                mapping(
                    BAD + "nist-dangling",
                    ISO + "A.6.2.4",
                    SKOS + "relatedMatch",
                    DANGLING_SUBCATEGORY,
                    justification=MANUAL,
                    confidence="0.6",
                    olir=(OLIR + "IntersectsWith",),
                    reviewer=reviewer,
                ),
                mapping(
                    BAD + "no-olir",
                    ISO + "A.6.2.4",
                    SKOS + "relatedMatch",
                    NIST + "MS-2.5",
                    justification=MANUAL,
                    confidence="0.6",
                    reviewer=reviewer,
                ),
                mapping(
                    BAD + "two-olir",
                    NIST + "MS-2.7",
                    SKOS + "relatedMatch",
                    EUAIA + "Art15",
                    justification=MANUAL,
                    confidence="0.6",
                    olir=(OLIR + "IntersectsWith", OLIR + "SubsetOf"),
                    reviewer=reviewer,
                ),
                mapping(
                    BAD + "olir-not-a-type",
                    ISO + "A.8.2",
                    SKOS + "relatedMatch",
                    EUAIA + "Art13",
                    justification=MANUAL,
                    confidence="0.6",
                    olir=(SKOS + "relatedMatch",),
                    reviewer=reviewer,
                ),
                mapping(
                    BAD + "olir-contradicts",
                    ISO + "A.6.2.8",
                    SKOS + "exactMatch",
                    EUAIA + "Art12",
                    justification=MANUAL,
                    confidence="0.6",
                    olir=(OLIR + "IntersectsWith",),
                    reviewer=reviewer,
                ),
                mapping(
                    BAD + "unreviewed",
                    ISO + "9.1",
                    SKOS + "relatedMatch",
                    NIST + "MS-1.1",
                    justification=MANUAL,
                    confidence="0.6",
                    olir=(OLIR + "IntersectsWith",),
                ),
                mapping(
                    BAD + "third-party",
                    ISO + "9.1",
                    SKOS + "relatedMatch",
                    NIST + "MS-2.4",
                    justification="https://w3id.org/semapv/vocab/UnspecifiedMatching",
                    confidence="0.5",
                    olir=(OLIR + "IntersectsWith",),
                    author="https://example.org/some-mapping-model",
                ),
            ]
        )
        + " } }"
    )
    refresh_inferences(store)
    refresh_applicability(store)
    refresh_analysis(store)
    return store


def test_dangling_subject_and_object_are_reported(bad_store: GraphStore):
    findings = validation.validate_store(bad_store, AS_OF)
    resolves = {(f.focus.removeprefix(BAD), f.path, f.value) for f in findings if f.shape.endswith("#CrosswalkResolvesShape")}
    assert resolves == {("dangling-object", SSSOM + "object_id", DANGLING_OBJECT)}
    # catalogue requirements are checked once, by the stricter shape: they must be skos:Concepts
    exists = {
        (f.focus.removeprefix(BAD), f.path, f.value) for f in findings if f.shape.endswith("#CrosswalkRequirementExistsShape")
    }
    assert exists == {
        ("dangling-subject", SSSOM + "subject_id", DANGLING_SUBJECT),
        ("nist-dangling", SSSOM + "object_id", DANGLING_SUBCATEGORY),
    }


def test_malformed_mapping_is_reported_and_nothing_else(bad_store: GraphStore):
    findings = crosswalk_findings(validation.validate_store(bad_store, AS_OF))
    assert {(f.focus.removeprefix(BAD), f.shape.rsplit("#", 1)[1]) for f in findings} == BAD_FINDINGS
    assert all(f.clauses and "{" not in f.message for f in findings)
    assert {f.focus.removeprefix(BAD) for f in findings if f.severity != "Violation"} == {"unreviewed"}


def test_mappings_between_frameworks_need_one_olir_relationship_that_agrees(bad_store: GraphStore):
    findings = crosswalk_findings(validation.validate_store(bad_store, AS_OF))
    olir = {
        (f.focus.removeprefix(BAD), f.component.rsplit("#", 1)[1], f.value)
        for f in findings
        if f.shape.endswith("#CrosswalkBetweenFrameworksShape-olir")
    }
    assert olir == {
        ("no-olir", "MinCountConstraintComponent", None),
        ("two-olir", "MaxCountConstraintComponent", None),
        ("olir-not-a-type", "InConstraintComponent", SKOS + "relatedMatch"),
    }
    contradictions = {f.focus.removeprefix(BAD): f for f in findings if f.shape.endswith("#CrosswalkOlirConsistencyShape")}
    assert {name: f.value for name, f in contradictions.items()} == {
        "olir-contradicts": OLIR + "IntersectsWith",
        "two-olir": OLIR + "SubsetOf",
    }
    assert SKOS + "exactMatch" in contradictions["olir-contradicts"].message
    [unreviewed] = [f for f in findings if f.shape.endswith("#CrosswalkReviewedShape-reviewer")]
    assert (unreviewed.severity, unreviewed.clauses) == ("Warning", (ISO + "7.5.2",)) and "unreviewed" in unreviewed.message
    assert not [f for f in findings if f.focus == BAD + "third-party"]  # not curated, so not asked for a reviewer


def test_bad_mappings_leave_the_demo_findings_alone(bad_store: GraphStore, demo_store: GraphStore):
    others = [f for f in validation.validate_store(bad_store, AS_OF) if f not in crosswalk_findings([f])]
    assert others == validation.validate_store(demo_store, AS_OF)


def test_incremental_validation_of_a_changed_mapping_reports_it(bad_store: GraphStore):
    full = crosswalk_findings(validation.validate_store(bad_store, AS_OF))
    assert crosswalk_findings(validation.validate_store(bad_store, AS_OF, BAD_MAPPINGS)) == full


@pytest.mark.oracle
def test_pyshacl_agrees_when_it_sees_the_vocabularies(bad_store: GraphStore):
    """pyshacl runs the crosswalk shapes only (with the prefixes and groups they use): the
    comparison is of their findings, and the other shapes over 50,000 triples cost it 10 s."""
    shapes = rdflib.Graph()
    for name in ("groups.ttl", "crosswalks.ttl"):
        shapes.parse(resources.path("shapes", name))
    fast = crosswalk_findings(validation.validate_store(bad_store, AS_OF))
    with_vocabularies = validation.validate_graph(
        bad_store.extract((*validation.VALIDATED_GRAPHS, Graphs.VOCABULARIES)), AS_OF, shapes
    )
    assert crosswalk_findings(with_vocabularies) == fast
    # Over the record graphs alone (the reference extraction) a VAIR IRI cannot be told from an
    # unloaded one, so only that finding is missing; catalogue requirements are still checked.
    record_only = crosswalk_findings(validation.validate_graph(bad_store.extract(validation.VALIDATED_GRAPHS), AS_OF, shapes))
    assert [f for f in fast if f.value != DANGLING_OBJECT] == record_only
