"""The named queries are plain SPARQL 1.1, so that they run on any SPARQL 1.1 engine (Virtuoso 7,
rdflib, the tools of a governance architect), not only on Oxigraph and Jena.

No query uses ``LATERAL`` (SEP-0006, a SPARQL 1.2 draft feature: Virtuoso 7 and rdflib answer it
with a syntax error), and every query parses with rdflib's SPARQL 1.1 parser both as shipped (its
parameters are plain variables) and as aimsgraph sends it to an external store: parameters bound
by a ``VALUES`` block (``remote.bind_values``), a page's ``LIMIT``/``OFFSET`` appended. The answers
of the rewritten queries are checked in tests/test_queries.py; docs/external-engines.md says what
still differs on Virtuoso.
"""

from __future__ import annotations

import re

import pytest
from pyparsing import ParseException
from rdflib.plugins.sparql import prepareQuery

from aimsgraph.records import queries
from aimsgraph.store import GraphStore
from aimsgraph.store.remote import bind_values

NAMED = queries.load_all()
DEMO = "https://data.meridian.example/aims/"
#: A value of each parameter kind (``Parameter.kind``): enough for the parser, and answered on the demo.
SAMPLE = {"iri": DEMO + "system/cv-screening", "date": "2026-11-26", "integer": "3", "decimal": "1.5", "literal": "x"}


def without_comments(text: str) -> str:
    """The query text without ``#`` comments (a ``#`` inside an IRI, as in ``XMLSchema#>``, stays)."""
    return "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in text.splitlines())


def sample_values(query: queries.NamedQuery, optional: bool) -> dict[str, str]:
    return {p.name: SAMPLE.get(p.kind, "x") for p in query.parameters if p.required or optional}


def test_the_parser_refuses_lateral():
    """The check below means something only while rdflib's parser is a SPARQL 1.1 parser."""
    with pytest.raises(ParseException):
        prepareQuery("SELECT * WHERE { ?s ?p ?o LATERAL { ?o ?q ?r } }")


@pytest.mark.parametrize("name", sorted(NAMED))
def test_no_query_uses_lateral(name: str):
    assert not re.search(r"\bLATERAL\b", without_comments(NAMED[name].text), re.IGNORECASE)
    assert "LATERAL" not in " ".join(NAMED[name].metadata.values()).upper(), f"{name}: the header mentions LATERAL"


@pytest.mark.parametrize("name", sorted(NAMED))
def test_every_query_parses_as_sparql_1_1(name: str):
    query = NAMED[name]
    texts = {query.text}  # as shipped: the parameters are plain variables
    for optional in (False, True):  # as sent to an external store, optional parameters unbound or bound
        substitutions = query.substitutions(sample_values(query, optional))
        for page in (None, queries.Page(2, 10)):
            text = query.paged_text(page)
            texts.add(bind_values(text, substitutions) if substitutions else text)
    for text in texts:  # each distinct text once: rdflib's parser takes ~40 ms a query
        prepareQuery(text)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_parameters_bound_by_values_give_the_same_answer(demo_store: GraphStore, name: str):
    """An external store gets the parameters as a VALUES block at the start of the query (SPARQL
    1.1 evaluates each group bottom-up, so a nested group does not see them); the embedded store
    gets pyoxigraph substitutions. Both must give the same rows, in the same order (the items of a
    space-separated GROUP_CONCAT list may come in another order: the engine's evaluation order)."""
    query = NAMED[name]
    for optional in (False, True):
        substitutions = query.substitutions(sample_values(query, optional))
        if not substitutions:
            continue
        embedded = [_sorted_lists(row) for row in demo_store.query(query.text, substitutions=substitutions)]
        external = [_sorted_lists(row) for row in demo_store.query(bind_values(query.text, substitutions))]
        assert external == embedded, f"{name} with {', '.join(sorted(v.value for v in substitutions))}"


def _sorted_lists(row) -> tuple:
    return tuple(None if t is None else " ".join(sorted(t.value.split(" "))) if " " in t.value else t.value for t in row)


SMALL_RECORD = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> . @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix ex: <http://example.org/> .
ex:system aims:hasRisk ex:risk . ex:risk a aims:Risk ; rdfs:label "A risk of the system" .
ex:orphan a aims:Risk ; rdfs:label "A risk of no asset" .
ex:soon aims:nextReviewDate "2027-01-10"^^xsd:date . ex:later aims:nextReviewDate "2027-06-10"^^xsd:date .
"""


@pytest.mark.parametrize(
    ("name", "values", "rows"),
    [
        ("risk-profile", {"asset": "http://example.org/system"}, 1),
        ("affected-stakeholders-and-areas", {"asset": "http://example.org/system"}, 1),
        ("risk-profile", {}, 2),
        ("due-items", {"asOf": "2026-11-26", "until": "2027-01-31"}, 1),
        ("due-items", {"asOf": "2026-11-26"}, 2),
    ],
)
def test_optional_parameters_cut_the_answer_however_they_are_bound(name: str, values: dict[str, str], rows: int):
    """A query's optional parameter is tested inside a UNION branch, which a SPARQL 1.1 engine
    evaluates without the VALUES block around it: the query tests it again at its top level, so
    that a risk of no asset, or an item due after ?until, is not answered there."""
    import pyoxigraph as ox

    store = ox.Store()
    store.load(SMALL_RECORD.encode(), ox.RdfFormat.TURTLE, to_graph=ox.NamedNode("http://example.org/graph"))
    query = NAMED[name]
    substitutions = query.substitutions(values)
    embedded = [tuple(r) for r in store.query(query.text, substitutions=substitutions, use_default_graph_as_union=True)]
    external = [tuple(r) for r in store.query(bind_values(query.text, substitutions), use_default_graph_as_union=True)]
    assert len(embedded) == rows and external == embedded
