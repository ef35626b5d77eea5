"""Reasoning: materialising what our ontology implies into the inferred named graph.

This release materialises the RDFS entailments that queries over our own vocabulary need:
sub-property (rdfs7) and sub-class (rdfs9) closure towards ``aims:`` terms, and a qualified
dependency counting as a direct ``aims:dependsOn``. So ``?x aims:dependsOn+ ?y`` works over
typed edges (``usesModel``, ``trainedOn`` ...) and ``?x a aims:Asset`` finds every asset.
The rules are SPARQL updates run inside the store, in one transaction; asserted triples are
never copied. Full OWL 2 RL (owlrl as reference, a fast path proven equal) builds on this.
"""

from __future__ import annotations

from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.store import GraphStore

_ASSERTED = f"FILTER(?g != <{Graphs.INFERRED}>)"

RULES = f"""
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX aims: <{AIMS}>
DROP SILENT GRAPH <{Graphs.INFERRED}> ;

# rdfs7: a statement with a sub-property of one of our properties also holds for the super-property.
INSERT {{ GRAPH <{Graphs.INFERRED}> {{ ?s ?super ?o }} }} WHERE {{
  GRAPH <{Graphs.ONTOLOGY}> {{ ?p rdfs:subPropertyOf+ ?super }}
  FILTER(STRSTARTS(STR(?super), STR(aims:)))
  GRAPH ?g {{ ?s ?p ?o }} {_ASSERTED}
  FILTER NOT EXISTS {{ GRAPH ?h {{ ?s ?super ?o }} }}
}} ;

# A qualified dependency (hasDependency/dependencyTarget) is also a direct dependency.
INSERT {{ GRAPH <{Graphs.INFERRED}> {{ ?s aims:dependsOn ?t }} }} WHERE {{
  GRAPH ?g {{ ?s aims:hasDependency ?d . ?d aims:dependencyTarget ?t }} {_ASSERTED}
  FILTER NOT EXISTS {{ GRAPH ?h {{ ?s aims:dependsOn ?t }} }}
}} ;

# rdfs9: an instance of a sub-class of one of our classes is an instance of the super-class.
INSERT {{ GRAPH <{Graphs.INFERRED}> {{ ?x a ?super }} }} WHERE {{
  GRAPH <{Graphs.ONTOLOGY}> {{ ?c rdfs:subClassOf+ ?super }}
  FILTER(STRSTARTS(STR(?super), STR(aims:)))
  GRAPH ?g {{ ?x a ?c }} {_ASSERTED}
  FILTER NOT EXISTS {{ GRAPH ?h {{ ?x a ?super }} }}
}}
"""


def refresh_inferences(store: GraphStore) -> int:
    """Recompute the inferred graph from scratch; returns its size."""
    store.update(RULES)
    return store.graph_sizes()[Graphs.INFERRED]
