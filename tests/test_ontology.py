"""The ontology and its alignments: well-formed, documented, consistent with everything that uses it."""

from __future__ import annotations

import re

import owlrl
import pytest
import rdflib
from rdflib import OWL, RDF, RDFS, SKOS, URIRef

from aimsgraph import __version__, resources
from aimsgraph.namespaces import AIMS, PREFIXES

DCAT_DATASET = URIRef("http://www.w3.org/ns/dcat#Dataset")
EXTERNAL = ("https://w3id.org/airo#", "https://w3id.org/vair#", "https://w3id.org/dpv")


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    """aims.ttl and the other modules of the ontology (lineage, operations ...), not the alignments."""
    graph = rdflib.Graph()
    for path in resources.ontology_files():
        if path.name != "alignments.ttl":
            graph.parse(path, format="turtle")
    return graph


@pytest.fixture(scope="module")
def alignments() -> rdflib.Graph:
    return rdflib.Graph().parse(resources.path("ontology", "alignments.ttl"), format="turtle")


def declared_terms(graph: rdflib.Graph) -> set[URIRef]:
    return {s for s in graph.subjects() if isinstance(s, URIRef) and str(s).startswith(AIMS)}


def test_header_names_the_package_version(ontology: rdflib.Graph):
    header = URIRef("https://w3id.org/aimsgraph/ontology")
    assert (header, RDF.type, OWL.Ontology) in ontology
    assert str(ontology.value(header, OWL.versionInfo)) == __version__
    assert ontology.value(header, URIRef("http://purl.org/dc/terms/license")) is not None


def test_every_term_has_an_english_label_and_definition(ontology: rdflib.Graph):
    terms = declared_terms(ontology)
    assert len(terms) > 150
    missing = sorted(
        str(t)
        for t in terms
        if not any(getattr(o, "language", None) == "en" for o in ontology.objects(t, RDFS.label))
        or not any(getattr(o, "language", None) == "en" for o in ontology.objects(t, SKOS.definition))
    )
    assert missing == []


def test_every_aims_term_used_anywhere_is_declared(ontology: rdflib.Graph):
    declared = declared_terms(ontology)
    used: dict[str, set[str]] = {}
    files = [
        *resources.path("data").rglob("*.ttl"),
        *resources.path("shapes").rglob("*.ttl"),
        resources.path("ontology", "alignments.ttl"),
    ]
    for path in files:
        graph = rdflib.Graph().parse(path, format="turtle")
        for triple in graph:
            for term in triple:
                if isinstance(term, URIRef) and str(term).startswith(AIMS) and term not in declared:
                    used.setdefault(str(term), set()).add(path.name)
    for path in resources.path("queries").rglob("*.rq"):
        for local in re.findall(r"\baims:([A-Za-z][\w-]*)", path.read_text()):
            if URIRef(AIMS + local) not in declared:
                used.setdefault(AIMS + local, set()).add(path.name)
    assert used == {}


def test_typed_dependencies_sit_under_one_transitive_super_property(ontology: rdflib.Graph):
    depends_on = URIRef(AIMS + "dependsOn")
    transitive = URIRef(AIMS + "transitivelyDependsOn")
    assert (transitive, RDF.type, OWL.TransitiveProperty) in ontology
    assert (depends_on, RDFS.subPropertyOf, transitive) in ontology
    typed = set(ontology.subjects(RDFS.subPropertyOf, depends_on))
    for name in ("usesModel", "trainedOn", "consumesOutputOf", "hostedOn", "suppliedBy", "usesDataset"):
        assert URIRef(AIMS + name) in typed
    for name in ("couplingStrength", "isCritical", "dependencyTarget"):
        assert (URIRef(AIMS + name), RDF.type, None) in ontology


def test_known_upstream_defects_are_not_inherited(ontology: rdflib.Graph, alignments: rdflib.Graph):
    both = ontology + alignments
    assert (URIRef(AIMS + "Dataset"), RDFS.subClassOf, DCAT_DATASET) in both
    assert not any("vocab-dcat" in str(o) for o in both.objects())
    for name in ("trainedOn", "validatedOn", "testedOn"):
        assert both.value(URIRef(AIMS + name), RDFS.range) == URIRef(AIMS + "Dataset")
    rotated = {URIRef("https://w3id.org/dpv/ai#" + p) for p in ("hasTrainingData", "hasTestingData", "hasValidationData")}
    for s, p, o in both:
        if o in rotated:
            assert p not in (OWL.equivalentProperty, RDFS.subPropertyOf, OWL.inverseOf), (s, p, o)


def test_alignment_targets_exist_in_the_shipped_vocabularies(alignments: rdflib.Graph):
    vocabularies = rdflib.Graph()
    for path in resources.path("data", "vocabularies").rglob("*.ttl"):
        vocabularies.parse(path, format="turtle")
    known = set(vocabularies.subjects())
    external = {t for triple in alignments for t in triple if isinstance(t, URIRef) and str(t).startswith(EXTERNAL)}
    assert len(external) > 50
    assert sorted(str(t) for t in external - known) == []


def test_queries_in_airo_and_dpv_terms_return_our_data_after_owl_rl(ontology: rdflib.Graph, alignments: rdflib.Graph):
    aims = rdflib.Namespace(AIMS)
    ex = rdflib.Namespace("https://example.org/")
    graph = ontology + alignments
    graph.add((ex.scoring, RDF.type, aims.AISystem))
    graph.add((ex.scoring, aims.usesModel, ex.model))
    graph.add((ex.model, aims.trainedOn, ex.data))
    graph.add((ex.data, aims.hasRisk, ex.poisoning))
    graph.add((ex.poisoning, aims.hasConsequence, ex.wrongDecisions))
    graph.add((ex.poisoning, aims.hasRiskLevel, URIRef("https://w3id.org/aimsgraph/risk-matrix/High")))
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    airo = rdflib.Namespace("https://w3id.org/airo#")
    dpv = rdflib.Namespace("https://w3id.org/dpv#")
    assert (ex.scoring, RDF.type, airo.AISystem) in graph
    assert (ex.poisoning, airo.hasConsequence, ex.wrongDecisions) in graph
    assert (ex.poisoning, dpv.hasRiskLevel, URIRef("https://w3id.org/aimsgraph/risk-matrix/High")) in graph
    assert (ex.scoring, aims.transitivelyDependsOn, ex.data) in graph
    assert (ex.model, aims.exposedTo, ex.poisoning) in graph  # direct dependency only
    assert (ex.scoring, aims.exposedTo, ex.poisoning) not in graph


def test_prefixes_are_bound_the_same_way_everywhere():
    files = [*resources.root().rglob("*.ttl"), *resources.root().rglob("*.rq")]
    files = [f for f in files if "vocabularies" not in f.parts]
    pattern = re.compile(r"(?:@prefix|PREFIX)\s+([\w-]*):\s*<([^>]*)>", re.IGNORECASE)
    conflicts = []
    for path in files:
        for prefix, iri in pattern.findall(path.read_text()):
            if prefix in PREFIXES and PREFIXES[prefix] != iri:
                conflicts.append(f"{path.name}: {prefix}: <{iri}>")
    assert conflicts == []
