"""The IRIs aimsgraph mints or relies on: vocabularies, catalogue and the named-graph layout.

This is the one table of namespaces and prefixes: other modules import these constants and spell
out no namespace IRI of their own (tests/test_vocabulary.py checks); ``.ttl`` and ``.rq`` files
bind the same IRIs (a test checks). Terms used in several modules are here too, each once, by
the convention of their names: ``RDF_TYPE``, ``RDFS_LABEL``, ... (prefix and local name) are
IRI strings; ``TYPE``, ``LABEL``, ... (the local name alone) are the same terms as
``pyoxigraph.NamedNode`` s.
"""

from __future__ import annotations

import re

import pyoxigraph as ox

# -- Published vocabularies -------------------------------------------------------------------

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
PROV = "http://www.w3.org/ns/prov#"
FOAF = "http://xmlns.com/foaf/0.1/"
SH = "http://www.w3.org/ns/shacl#"
DASH = "http://datashapes.org/dash#"
AIRO = "https://w3id.org/airo#"
VAIR = "https://w3id.org/vair#"
DPV = "https://w3id.org/dpv#"
SSSOM = "https://w3id.org/sssom/"
SEMAPV = "https://w3id.org/semapv/vocab/"

# -- aimsgraph's own ---------------------------------------------------------------------------

AIMS = "https://w3id.org/aimsgraph/ontology#"
ISO = "https://w3id.org/aimsgraph/iso42001/"
#: The EU AI Act catalogue: provisions, categories, roles, obligations, rules (data/eu-ai-act/).
EUAIA = "https://w3id.org/aimsgraph/eu-ai-act/"
#: NIST AI RMF 1.0 functions, categories and subcategories (data/nist-ai-rmf/): ``NIST + "GV-1.2"``.
NIST = "https://w3id.org/aimsgraph/nist-ai-rmf/"
#: The risk suggestion rules (data/risk-identification/).
RISK_IDENTIFICATION = "https://w3id.org/aimsgraph/risk-identification/"
#: Where entries of imported risk taxonomies are minted: ``TAXONOMY_BASE + "<taxonomy>/<id>"``.
TAXONOMY_BASE = "https://w3id.org/aimsgraph/taxonomy/"
RM = "https://w3id.org/aimsgraph/risk-matrix/"
GRAPH_BASE = "https://w3id.org/aimsgraph/graph/"
ASH = "https://w3id.org/aimsgraph/shapes#"
#: Where the IRIs of SHACL findings (and of the report that lists them) are minted.
FINDING_BASE = "https://w3id.org/aimsgraph/finding/"
#: Where the IRIs of analysis results (inherited risks, dependency cycles) are minted.
ANALYSIS_BASE = "https://w3id.org/aimsgraph/analysis/"
#: Where the IRIs of derived classifications (and their premises) are minted.
APPLICABILITY_BASE = "https://w3id.org/aimsgraph/applicability/"
#: Where the IRIs of MITRE ATLAS entries are minted: ``ATLAS_BASE + <ATLAS id>``.
ATLAS_BASE = "https://w3id.org/aimsgraph/atlas/"
#: Where the records the REST writes create are minted (records.operations), and OpenLineage
#: runs, jobs and datasets (interop.importers.openlineage).
MEASUREMENT_BASE = "https://w3id.org/aimsgraph/measurement/"
NONCONFORMITY_BASE = "https://w3id.org/aimsgraph/nonconformity/metric-breach/"
INCIDENT_BASE = "https://w3id.org/aimsgraph/incident/"
COMMUNICATION_BASE = "https://w3id.org/aimsgraph/communication/"
CONCERN_BASE = "https://w3id.org/aimsgraph/concern/"
#: Entries created with the web interface's forms: RECORD_BASE + kind + "/" + a UUID.
RECORD_BASE = "https://w3id.org/aimsgraph/record/"
#: Approvals (records.approvals): APPROVAL_BASE + a UUID.
APPROVAL_BASE = "https://w3id.org/aimsgraph/approval/"
REPORTER_BASE = "https://w3id.org/aimsgraph/reporter/"
CONCERN_FINDING_BASE = FINDING_BASE + "concern-"
CONCERN_RISK_BASE = "https://w3id.org/aimsgraph/risk/concern-"
LINEAGE_BASE = "https://w3id.org/aimsgraph/lineage/"
#: Where the IRIs of tasks are minted (reporting.tasks): ``TASK_BASE + "<kind>-<hash>"``.
TASK_BASE = "https://w3id.org/aimsgraph/task/"
#: The SPARQL 1.1 Service Description vocabulary (the endpoint describes itself in it).
SD = "http://www.w3.org/ns/sparql-service-description#"
#: The evaluation date of a validation (shapes/groups.ttl); on the validation graph, the date
#: its stored findings were computed for.
REFERENCE_DATE = ASH + "referenceDate"

# -- Terms used in several modules: IRI strings ----------------------------------------------

RDF_TYPE = RDF + "type"
RDF_LANG_STRING = RDF + "langString"
RDFS_LABEL = RDFS + "label"
RDFS_COMMENT = RDFS + "comment"
RDFS_SUB_CLASS_OF = RDFS + "subClassOf"
XSD_STRING = XSD + "string"
XSD_BOOLEAN = XSD + "boolean"
XSD_DATE = XSD + "date"
XSD_DATETIME = XSD + "dateTime"
SKOS_NOTATION = SKOS + "notation"
DCT_IDENTIFIER = DCT + "identifier"
DCT_HAS_VERSION = DCT + "hasVersion"
PROV_GENERATED_AT = PROV + "generatedAtTime"
PROV_ENDED_AT = PROV + "endedAtTime"
FOAF_NAME = FOAF + "name"

# -- The same terms as pyoxigraph nodes ------------------------------------------------------

TYPE = ox.NamedNode(RDF_TYPE)
LABEL = ox.NamedNode(RDFS_LABEL)
IDENTIFIER = ox.NamedNode(DCT_IDENTIFIER)
HAS_VERSION = ox.NamedNode(DCT_HAS_VERSION)
GENERATED_AT = ox.NamedNode(PROV_GENERATED_AT)
ENDED_AT = ox.NamedNode(PROV_ENDED_AT)

#: Prefixes used when serialising results and in the SPARQL service description.
PREFIXES: dict[str, str] = {
    "aims": AIMS,
    "iso": ISO,
    "euaia": EUAIA,
    "nist": NIST,
    "ari": RISK_IDENTIFICATION,
    "tax": TAXONOMY_BASE,
    "rm": RM,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "skos": SKOS,
    "dct": DCT,
    "dcat": DCAT,
    "prov": PROV,
    "sh": SH,
    "airo": AIRO,
    "vair": VAIR,
    "dpv": DPV,
}


def sparql_prefixes(*names: str) -> str:
    """The SPARQL ``PREFIX`` lines of the named prefixes of :data:`PREFIXES`, one a line, for
    the head of a query text."""
    return "".join(f"PREFIX {name}: <{PREFIXES[name]}>\n" for name in names)


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
    APPLICABILITY = GRAPH_BASE + "applicability"  # EU AI Act classifications with their premises
    FRAMEWORKS = GRAPH_BASE + "frameworks"  # EU AI Act and NIST AI RMF catalogues, applicability and suggestion rules
    TAXONOMIES = GRAPH_BASE + "taxonomies"  # risk taxonomies imported from AI Atlas Nexus (aimsgraph import atlas-nexus)
    OUTBOX = GRAPH_BASE + "outbox"  # notifications to send and their delivery (records.notifications)

    ALL = (
        ONTOLOGY,
        CATALOGUE,
        FRAMEWORKS,
        DATA,
        INFERRED,
        APPLICABILITY,
        ANALYSIS,
        VALIDATION,
        CHANGES,
        VOCABULARIES,
        ATLAS,
        TAXONOMIES,
        DATA_CATALOGS,
        LINEAGE,
        OUTBOX,
    )
    #: Graphs that aimsgraph derives or keeps itself.
    DERIVED = (INFERRED, APPLICABILITY, ANALYSIS, VALIDATION, CHANGES, OUTBOX)
    #: Graphs that are not premises for reasoning: derived ones, the audit trail, published
    #: vocabularies (their domains and ranges would type our data; we align by our own axioms
    #: instead), other frameworks' catalogues and rules (read as they are, by the applicability
    #: engine and readiness: nothing in them needs OWL 2 RL, and reasoning over them on every
    #: full refresh and every uploaded record would cost a fifth more), and what others say of
    #: their data: catalogue entries and lineage events.
    NOT_PREMISES = (*DERIVED, VOCABULARIES, FRAMEWORKS, DATA_CATALOGS, LINEAGE)


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
