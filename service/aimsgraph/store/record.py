"""Memoised index lookups on the store, for one store generation; and the one place where
terms of the store become text.

Impact analysis makes a few hundred small lookups per answer (a risk's controls, a control's
evidence, labels). On the on-disk store one lookup costs about 30 us, so answers are kept until
the store changes: the service builds one :class:`Record` per store generation. Lookups read
the live store, not a snapshot: an answer computed while a write lands may mix both states
(the next request, in the next generation, does not).

RDF 1.2 gives a reader four kinds of term: IRIs, blank nodes, literals and triple terms (a
triple as the object of another, ``<<( s p o )>>``). Only the first three have a ``.value``, and
only IRIs can be written into SPARQL text. Readers go through :func:`term_parts`,
:func:`node_text`, :func:`iri_of` and :func:`number` instead of ``.value``, so that an editor's
triple term or blank node cannot stop a derived graph (issue 17). Blank nodes read as ``_:id``,
the label the store keeps, so that :func:`node` finds the same node again; no IRI starts with
``_:`` (a scheme starts with a letter).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyoxigraph as ox

from aimsgraph.namespaces import AIMS, RDF_TYPE, RDFS_LABEL

if TYPE_CHECKING:
    from aimsgraph.store import GraphStore

#: Memoised lookups kept before the memo starts again (bounds memory on large records).
MAX_MEMO = 200_000

#: Any term of a quad's object: an IRI, a blank node, a literal or a triple term.
Term = ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple


def local_name(iri: str) -> str:
    """The part after the last ``#`` or ``/``: the fallback label of an unlabelled node; the
    whole IRI when that part is empty (``https://example.org/acme/``)."""
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


def term_parts(term: object) -> tuple[str, str]:
    """(text, kind) of any term the store gives: an IRI ("iri"); a blank node as ``_:id``
    ("bnode"); a literal's lexical form ("@lang", "@lang--dir" or its datatype IRI); a triple
    term in N-Triples, ``<<( s p o )>>`` ("triple"). :func:`term_of` turns them back."""
    if isinstance(term, ox.NamedNode):
        return term.value, "iri"
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}", "bnode"
    if isinstance(term, ox.Literal):
        if term.language:
            return term.value, f"@{term.language}" + (f"--{term.direction.value}" if term.direction else "")
        return term.value, term.datatype.value
    return _n_triples(term), "triple"


def _n_triples(term: object) -> str:
    if isinstance(term, ox.Triple):
        return "<<( " + " ".join(_n_triples(t) for t in (term.subject, term.predicate, term.object)) + " )>>"
    return str(term)


def term_of(text: str, kind: str) -> Term:
    """The term :func:`term_parts` gave (text, kind) for."""
    if kind == "iri":
        return ox.NamedNode(text)
    if kind == "bnode":
        return ox.BlankNode(text.removeprefix("_:"))
    if kind == "triple":
        return next(iter(ox.parse(f"<urn:x> <urn:x> {text} .".encode(), format=ox.RdfFormat.N_TRIPLES))).object
    if kind.startswith("@"):
        language, _, direction = kind[1:].partition("--")
        return ox.Literal(text, language=language, direction=ox.BaseDirection(direction) if direction else None)
    return ox.Literal(text, datatype=ox.NamedNode(kind))


def term_text(term: object) -> str:
    """A term as a reader shows it (see :func:`term_parts`)."""
    return term_parts(term)[0]


def node_text(term: object) -> str | None:
    """A term that can be a node of the record, an IRI or a blank node (``_:id``); None for a
    literal or a triple term, which readers of nodes skip."""
    if isinstance(term, ox.NamedNode | ox.BlankNode):
        return term_text(term)
    return None


def iri_of(term: object) -> str | None:
    """The IRI of a named node; None for any other term. For readers whose nodes are named:
    the risk model, which writes them into the analysis graph, and SPARQL text built from them."""
    return term.value if isinstance(term, ox.NamedNode) else None


def node(text: str) -> ox.NamedNode | ox.BlankNode | None:
    """The node :func:`node_text` gave ``text`` for; None for text that names no node (a triple
    term's or a literal's, as a finding's focus can be)."""
    if text.startswith("_:"):
        return ox.BlankNode(text[2:])
    try:
        return ox.NamedNode(text)
    except ValueError:
        return None


def number(term: object) -> float | None:
    """A literal's numeric value; None for anything else, an ill-typed literal ("high"^^xsd:decimal)
    included: the shapes report it, and readers of numbers skip it."""
    if not isinstance(term, ox.Literal):
        return None
    try:
        value = float(term.value)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def graph_of(quad: ox.Quad) -> str:
    """The name of a quad's graph (an IRI, or a blank node's id): aimsgraph keeps its data in
    named graphs, never in the default graph."""
    graph = quad.graph_name
    assert not isinstance(graph, ox.DefaultGraph), "aimsgraph keeps all its data in named graphs"
    return graph.value


def pairs(store: GraphStore, prop: str) -> list[tuple[str, object]]:
    """(subject IRI, object term) of one property over the union of graphs, without duplicates
    or blank-node subjects; each caller reads the object as it needs (:func:`iri_of`,
    :func:`number`, :func:`term_text`). One property at a time: on disk, a join of optional
    patterns costs about twice as much as single-pattern scans joined in Python."""
    rows = store.select(f"SELECT ?s ?o WHERE {{ ?s <{prop}> ?o }}", use_default_graph_as_union=True)
    assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
    return list(dict.fromkeys((row[0].value, row[1]) for row in rows if isinstance(row[0], ox.NamedNode)))


class Record:
    """Index lookups over the union of the store's graphs, duplicates across graphs removed."""

    def __init__(self, store: GraphStore, memo: dict[tuple[str, str, str], list[str]] | None = None) -> None:
        """``memo``: the lookups to reuse and add to (one store generation's: see records.agenda)."""
        self.store = store
        self._memo: dict[tuple[str, str, str], list[str]] = {} if memo is None else memo

    def objects(self, subject: str, predicate: str) -> list[str]:
        """Sorted objects (IRIs, or the lexical values of literals) of one subject (an IRI or
        ``_:id``) and predicate; blank nodes and triple terms are no link or label, and are left out."""
        return self._lookup("o", subject, predicate)

    def subjects(self, predicate: str, obj: str) -> list[str]:
        return self._lookup("s", obj, predicate)

    def label(self, iri: str) -> str:
        """The smallest rdfs:label; else the local name of an IRI, or the text that names no node
        (a triple term's, as a finding's value can be)."""
        return min(self.objects(iri, RDFS_LABEL), default=local_name(iri) if node(iri) is not None else iri)

    def types(self, iri: str) -> set[str]:
        """Local names of the ``aims:`` classes of a node."""
        return {local_name(t) for t in self.objects(iri, RDF_TYPE) if t.startswith(AIMS)}

    def exists(self, iri: str) -> bool:
        term = node(iri)
        return term is not None and (
            any(True for _ in self.store.quads(term, None, None, None))
            or any(True for _ in self.store.quads(None, None, term, None))
        )

    def _lookup(self, direction: str, name: str, predicate: str) -> list[str]:
        key = (direction, name, predicate)
        found = self._memo.get(key)
        if found is None:
            term = node(name)
            if term is None:
                found = []
            elif direction == "o":
                quads = self.store.quads(term, ox.NamedNode(predicate), None, None)
                found = sorted({q.object.value for q in quads if isinstance(q.object, ox.NamedNode | ox.Literal)})
            else:
                quads = self.store.quads(None, ox.NamedNode(predicate), term, None)
                found = sorted({q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)})
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found


def person_of_account(store: GraphStore, name: str) -> str | None:
    """The person whose ``aims:accountName`` is ``name`` (case does not matter); the smallest IRI
    when several are."""
    wanted = name.casefold()
    found = [
        q.subject.value
        for q in store.quads(None, ox.NamedNode(AIMS + "accountName"), None, None)
        if isinstance(q.subject, ox.NamedNode) and isinstance(q.object, ox.Literal) and q.object.value.casefold() == wanted
    ]
    return min(found, default=None)
