"""Memoised index lookups on the store, for one store generation.

Impact analysis makes a few hundred small lookups per answer (a risk's controls, a control's
evidence, labels). On the on-disk store one lookup costs about 30 us, so answers are kept until
the store changes: the service builds one :class:`Record` per store generation. Lookups read
the live store, not a snapshot: an answer computed while a write lands may mix both states
(the next request, in the next generation, does not).
"""

from __future__ import annotations

import pyoxigraph as ox

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
AIMS = "https://w3id.org/aimsgraph/ontology#"

#: Memoised lookups kept before the memo starts again (bounds memory on large records).
MAX_MEMO = 200_000


def local_name(iri: str) -> str:
    """The part after the last ``#`` or ``/``: the fallback label of an unlabelled node; the
    whole IRI when that part is empty (``https://example.org/acme/``)."""
    return iri.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or iri


class Record:
    """Index lookups over the union of the store's graphs, duplicates across graphs removed."""

    def __init__(self, raw: ox.Store) -> None:
        self.raw = raw
        self._memo: dict[tuple[str, str, str], list[str]] = {}

    def objects(self, subject: str, predicate: str) -> list[str]:
        """Sorted objects (IRIs, or the lexical values of literals) of one subject and predicate."""
        return self._lookup("o", subject, predicate)

    def subjects(self, predicate: str, obj: str) -> list[str]:
        return self._lookup("s", obj, predicate)

    def label(self, iri: str) -> str:
        return min(self.objects(iri, RDFS_LABEL), default=local_name(iri))

    def types(self, iri: str) -> set[str]:
        """Local names of the ``aims:`` classes of a node."""
        return {local_name(t) for t in self.objects(iri, RDF_TYPE) if t.startswith(AIMS)}

    def exists(self, iri: str) -> bool:
        node = ox.NamedNode(iri)
        return any(True for _ in self.raw.quads_for_pattern(node, None, None, None)) or any(
            True for _ in self.raw.quads_for_pattern(None, None, node, None)
        )

    def _lookup(self, direction: str, node: str, predicate: str) -> list[str]:
        key = (direction, node, predicate)
        found = self._memo.get(key)
        if found is None:
            if direction == "o":
                quads = self.raw.quads_for_pattern(ox.NamedNode(node), ox.NamedNode(predicate), None, None)
                found = sorted({q.object.value for q in quads if not isinstance(q.object, ox.BlankNode)})
            else:
                quads = self.raw.quads_for_pattern(None, ox.NamedNode(predicate), ox.NamedNode(node), None)
                found = sorted({q.subject.value for q in quads if isinstance(q.subject, ox.NamedNode)})
            if len(self._memo) >= MAX_MEMO:
                self._memo.clear()
            self._memo[key] = found
        return found
