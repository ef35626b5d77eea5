"""The IRIs aimsgraph mints or relies on: vocabularies, catalogue and the named-graph layout.

This is the one table of prefixes; ``.ttl`` and ``.rq`` files bind the same IRIs (a test checks).
"""

from __future__ import annotations

import re

import pyoxigraph as ox

AIMS = "https://w3id.org/aimsgraph/ontology#"
ISO = "https://w3id.org/aimsgraph/iso42001/"
RM = "https://w3id.org/aimsgraph/risk-matrix/"
GRAPH_BASE = "https://w3id.org/aimsgraph/graph/"
ASH = "https://w3id.org/aimsgraph/shapes#"
#: The evaluation date of a validation (shapes/groups.ttl); on the validation graph, the date
#: its stored findings were computed for.
REFERENCE_DATE = ASH + "referenceDate"
XSD_DATE = "http://www.w3.org/2001/XMLSchema#date"

#: Prefixes used when serialising results and in the SPARQL service description.
PREFIXES: dict[str, str] = {
    "aims": AIMS,
    "iso": ISO,
    "rm": RM,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "prov": "http://www.w3.org/ns/prov#",
    "sh": "http://www.w3.org/ns/shacl#",
    "airo": "https://w3id.org/airo#",
    "vair": "https://w3id.org/vair#",
    "dpv": "https://w3id.org/dpv#",
}


class Graphs:
    """The named-graph layout. The default graph of a query is the union of all of them."""

    ONTOLOGY = GRAPH_BASE + "ontology"  # aims.ttl and alignments.ttl
    CATALOGUE = GRAPH_BASE + "catalogue"  # ISO/IEC 42001 catalogue, risk scales and matrices
    DATA = GRAPH_BASE + "data"  # the organisation's own record (default target of loads)
    INFERRED = GRAPH_BASE + "inferred"  # materialised OWL-RL inferences
    ANALYSIS = GRAPH_BASE + "analysis"  # scores, propagated risk, impact analyses
    VALIDATION = GRAPH_BASE + "validation"  # SHACL findings
    CHANGES = GRAPH_BASE + "changes"  # the audit trail of writes (PROV)
    VOCABULARIES = GRAPH_BASE + "vocabularies"  # AIRO, VAIR, DPV as published (reference only)
    ATLAS = GRAPH_BASE + "atlas"  # MITRE ATLAS tactics, techniques, mitigations (aimsgraph import atlas)
    DATA_CATALOGS = GRAPH_BASE + "data-catalogs"  # enterprise data catalogue entries (aimsgraph import dcat)
    LINEAGE = GRAPH_BASE + "lineage"  # OpenLineage runs and the dataset changes they report

    ALL = (ONTOLOGY, CATALOGUE, DATA, INFERRED, ANALYSIS, VALIDATION, CHANGES, VOCABULARIES, ATLAS, DATA_CATALOGS, LINEAGE)
    #: Graphs that aimsgraph derives or keeps itself.
    DERIVED = (INFERRED, ANALYSIS, VALIDATION, CHANGES)
    #: Graphs that are not premises for reasoning: derived ones, the audit trail, published
    #: vocabularies (their domains and ranges would type our data; we align by our own axioms
    #: instead), and what others say of their data: catalogue entries and lineage events.
    NOT_PREMISES = (*DERIVED, VOCABULARIES, DATA_CATALOGS, LINEAGE)


_ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|^`\\]*$")


def is_absolute_iri(value: str) -> bool:
    """True for an absolute IRI: a scheme, no characters that IRIs forbid, and a shape the store
    accepts (pyoxigraph checks the authority too: ``http://[::1`` is no IRI)."""
    if not _ABSOLUTE_IRI.match(value):
        return False
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True
