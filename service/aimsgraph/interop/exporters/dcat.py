"""The AI system register as a DCAT 3 catalogue with PROV provenance, for data catalogues.

This module owns what the export contains (:func:`export_register`), its serialisation
(:func:`serialize_export`) and its check against ``shapes/export/dcat.ttl``
(:func:`validate_export`). It reads the record (the data graph with its inferences), never the
data-catalogs graph: a catalogue's own description of an entry is not ours to publish.

What is exported, for each AI management system (one catalogue each, usually one):

- a ``dcat:Catalog`` named ``<management system IRI>/register``, titled from the management
  system's label, published (``dct:publisher``) by the organisation that operates it;
- each dataset (``aims:Dataset``) as a ``dcat:Dataset``, listed with ``dcat:dataset``;
- each model as a ``dcat:Resource``, listed with ``dcat:resource``: DCAT 3 has no class for a
  model, and ``dcat:Resource`` is the parent its profiles extend;
- each AI system as a ``dcat:DataService`` (listed with ``dcat:service``) when another AI system
  of the register consumes its outputs: it then demonstrably gives access to a data processing
  function through an interface, which is what DCAT 3 calls a data service. Other AI systems are
  ``dcat:Resource``: nothing in the record says they serve anything;
- on each: ``dct:title`` (its ``dct:title``, else its labels), ``dct:description``,
  ``dct:identifier`` (its identifiers, else its IRI, so every entry has one), ``dcat:version``,
  ``dcat:keyword``, ``dct:type`` (our class, so a catalogue can tell models from systems),
  ``dct:publisher`` (``aims:providedBy``, else ``aims:suppliedBy``), ``dct:creator``
  (``aims:developedBy``), and ``dct:relation`` to the data-catalogue entries it is linked to
  (``aims:catalogueEntry``, itself a sub-property of ``dct:relation``); the agents named, as
  ``foaf:Agent`` with ``foaf:name``;
- provenance: ``prov:wasDerivedFrom`` from a system to the models, datasets and systems whose
  outputs it uses (``usesModel``, ``usesDataset``, ``consumesOutputOf``), from a model to the
  data it was trained or validated on and the model it was fine-tuned from (``trainedOn``,
  ``validatedOn``, ``fineTunedFrom``), from a dataset to its sources (``derivedFrom``,
  ``prov:wasDerivedFrom``), stated or given by a qualified dependency, only between exported
  resources. ``testedOn`` is left out: held-out test data must not shape a model, and hosting
  and supply are not derivations. ``prov:wasGeneratedBy`` names the recorded activity (a data
  acquisition), exported as a ``prov:Activity`` with its label and description.

Nothing time-dependent is written, so exporting an unchanged record gives the same triples.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import pyoxigraph as ox
import rdflib
from rdflib import RDF, SH

from aimsgraph import resources
from aimsgraph.errors import ExportInvalid
from aimsgraph.namespaces import FOAF, PREFIXES, Graphs
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore
from aimsgraph.store.remote import n_triples

#: The record as the export reads it: asserted data and its inferences (types from ranges ...).
RECORD_GRAPHS = (Graphs.DATA, Graphs.INFERRED)
CATALOG_SUFFIX = "/register"
EXPORT_PREFIXES = {name: PREFIXES[name] for name in ("aims", "dcat", "dct", "prov", "rdfs", "xsd")} | {"foaf": FOAF}

_PROLOGUE = "".join(f"PREFIX {name}: <{iri}>\n" for name, iri in EXPORT_PREFIXES.items())
_EXPORTED = "VALUES ?class { aims:AISystem aims:Model aims:Dataset } ?r a ?class . FILTER(isIRI(?r))"
_CATALOG = f'?aims a aims:AIManagementSystem . FILTER(isIRI(?aims)) BIND(IRI(CONCAT(STR(?aims), "{CATALOG_SUFFIX}")) AS ?catalog)'

# The catalogue: title and description from the management system's labels (in their language).
CATALOG_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{
  ?catalog a dcat:Catalog ; dct:title ?title ; dct:description ?description ; dct:publisher ?organisation .
}} WHERE {{
  {_CATALOG}
  {{ ?aims rdfs:label ?label
     BIND(IF(LANG(?label) = "", CONCAT(STR(?label), ": AI system register"),
             STRLANG(CONCAT(STR(?label), ": AI system register"), LANG(?label))) AS ?title)
     BIND(IF(LANG(?label) = "",
             CONCAT("The AI systems, models and datasets recorded in ", STR(?label), ", with their provenance."),
             STRLANG(CONCAT("The AI systems, models and datasets recorded in ", STR(?label), ", with their provenance."),
                     LANG(?label))) AS ?description) }}
  UNION {{ ?aims aims:operatedBy ?organisation }}
}}"""
)

# What each catalogue lists, and as which DCAT class (see the module docstring).
MEMBERS_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{ ?catalog ?listing ?r . ?r a ?dcatClass ; dct:type ?class . }} WHERE {{
  {_CATALOG}
  {_EXPORTED}
  BIND(EXISTS {{ ?consumer aims:consumesOutputOf ?r }} AS ?serves)
  BIND(IF(?class = aims:Dataset, dcat:Dataset, IF(?class = aims:AISystem && ?serves, dcat:DataService, dcat:Resource)) AS ?dcatClass)
  BIND(IF(?dcatClass = dcat:Dataset, dcat:dataset, IF(?dcatClass = dcat:DataService, dcat:service, dcat:resource)) AS ?listing)
}}"""
)

# Descriptions: one UNION branch per property, so that several values never multiply. (Each
# branch is evaluated on its own before the join, so one that only filters must bind ?r itself.)
DESCRIPTION_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{
  ?r dct:title ?title ; dct:description ?description ; dct:identifier ?identifier ; dcat:version ?version ;
     dcat:keyword ?keyword ; dct:publisher ?publisher ; dct:creator ?creator ; dct:relation ?entry .
}} WHERE {{
  {_EXPORTED}
  {{ ?r dct:title ?title }} UNION {{ ?r rdfs:label ?title FILTER NOT EXISTS {{ ?r dct:title ?anyTitle }} }}
  UNION {{ ?r dct:description ?description }}
  UNION {{ ?r dct:identifier ?identifier }}
  UNION {{ ?r a ?class FILTER NOT EXISTS {{ ?r dct:identifier ?anyIdentifier }} BIND(STR(?r) AS ?identifier) }}
  UNION {{ ?r aims:version ?recordedVersion BIND(STR(?recordedVersion) AS ?version) }}
  UNION {{ ?r dcat:keyword ?keyword }}
  UNION {{ ?r aims:providedBy ?publisher }}
  UNION {{ ?r aims:suppliedBy ?publisher FILTER NOT EXISTS {{ ?r aims:providedBy ?provider }} }}
  UNION {{ ?r aims:developedBy ?creator }}
  UNION {{ ?r aims:catalogueEntry ?entry FILTER(isIRI(?entry)) }}
}}"""
)

# The agents named as publishers and creators, by foaf:name, else their labels.
AGENTS_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{ ?agent a foaf:Agent ; foaf:name ?name . }} WHERE {{
  {{ {_EXPORTED} {{ ?r aims:providedBy|aims:developedBy ?agent }}
      UNION {{ ?r aims:suppliedBy ?agent FILTER NOT EXISTS {{ ?r aims:providedBy ?provider }} }} }}
  UNION {{ ?aims a aims:AIManagementSystem ; aims:operatedBy ?agent }}
  FILTER(isIRI(?agent))
  OPTIONAL {{ {{ ?agent foaf:name ?name }} UNION {{ ?agent rdfs:label ?name FILTER NOT EXISTS {{ ?agent foaf:name ?anyName }} }} }}
}}"""
)

# Derivations between exported resources, stated or qualified (aims:Dependency).
DERIVATION_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{ ?r prov:wasDerivedFrom ?source }} WHERE {{
  VALUES ?derivation {{ aims:usesModel aims:usesDataset aims:consumesOutputOf aims:trainedOn aims:validatedOn
                       aims:fineTunedFrom aims:derivedFrom prov:wasDerivedFrom }}
  {{ ?r ?derivation ?source }}
  UNION {{ ?r aims:hasDependency ?dependency . ?dependency aims:dependencyTarget ?source ; aims:dependencyType ?derivation }}
  {_EXPORTED}
  VALUES ?sourceClass {{ aims:AISystem aims:Model aims:Dataset }} ?source a ?sourceClass .
  FILTER(isIRI(?source) && ?source != ?r)
}}"""
)

GENERATION_QUERY = (
    _PROLOGUE
    + f"""CONSTRUCT {{
  ?r prov:wasGeneratedBy ?activity . ?activity a prov:Activity ; rdfs:label ?label ; dct:description ?description .
}} WHERE {{
  {_EXPORTED}
  ?r prov:wasGeneratedBy ?activity . FILTER(isIRI(?activity))
  OPTIONAL {{ ?activity rdfs:label ?label }}
  OPTIONAL {{ ?activity dct:description ?description }}
}}"""
)

QUERIES = (CATALOG_QUERY, MEMBERS_QUERY, DESCRIPTION_QUERY, AGENTS_QUERY, DERIVATION_QUERY, GENERATION_QUERY)


def export_register(store: GraphStore) -> list[ox.Triple]:
    """The register as a DCAT catalogue with provenance (module docstring), sorted. DCAT 3 is
    RDF 1.1: a statement whose value is an RDF 1.2 triple term is left out."""
    record = [ox.NamedNode(graph) for graph in RECORD_GRAPHS]
    if not store.query(f"{_PROLOGUE} ASK {{ {_CATALOG} }}", use_default_graph_as_union=False, default_graph=record):
        raise ExportInvalid(
            "the record names no aims:AIManagementSystem: the register is published as that management "
            "system's catalogue (dcat:Catalog), so add one with a label and aims:operatedBy"
        )
    triples: set[ox.Triple] = set()
    for query in QUERIES:
        triples.update(
            t
            for t in store.query(query, use_default_graph_as_union=False, default_graph=record)
            if not isinstance(t.object, ox.Triple)
        )
    return sorted(triples, key=str)


def serialize_export(triples: Iterable[ox.Triple], fmt: ox.RdfFormat = ox.RdfFormat.TURTLE) -> bytes:
    """The export in ``fmt`` (Turtle by default), with the usual prefixes."""
    data = ox.serialize(triples, format=fmt, prefixes=EXPORT_PREFIXES)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    return data


@cache
def export_shapes() -> rdflib.Graph:
    """``shapes/export/dcat.ttl``, parsed once per process."""
    return rdflib.Graph().parse(resources.path("shapes", "export", "dcat.ttl"), format="turtle")


def validate_export(triples: Iterable[ox.Triple]) -> list[Finding]:
    """The findings of the export shapes on ``triples`` (pyshacl over an in-memory rdflib graph);
    an empty list when the export is fit to ingest."""
    import pyshacl  # only here: importing it costs each process start ~0.15 s

    data = rdflib.Graph().parse(data=n_triples(triples), format="nt")
    _, results, text = pyshacl.validate(data, shacl_graph=export_shapes(), inference="none")
    if isinstance(results, rdflib.Graph):
        return sorted({_finding(results, result) for result in results.subjects(RDF.type, SH.ValidationResult)})
    raise RuntimeError(f"pyshacl could not validate the export: {text}")  # a shape it cannot run


def _finding(results: rdflib.Graph, result: rdflib.term.Node) -> Finding:
    path, value = results.value(result, SH.resultPath), results.value(result, SH.value)
    return Finding(
        severity=str(results.value(result, SH.resultSeverity)).rsplit("#", 1)[1],
        focus=str(results.value(result, SH.focusNode)),
        shape=str(results.value(result, SH.sourceShape)),
        path=str(path) if isinstance(path, rdflib.URIRef) else None,
        value=str(value) if value is not None else None,
        message=str(results.value(result, SH.resultMessage) or ""),
    )
