"""A record posted for validation, in whatever vocabulary it is written, brought into our terms.

``POST /api/validate`` with an RDF body validates that record without storing it. A record in
AIRO terms is mapped as ``aimsgraph import airo`` maps it (the same code); one in aimsgraph's own
terms is taken as it is. A record in neither (DPV or VAIR alone, our namespace misspelt, no
known vocabulary at all) is refused with :class:`NothingRecognised`, naming what was found and
how to bring it in: the shapes look for aimsgraph terms, and validating such a record would
answer a silent "conforms".
"""

from __future__ import annotations

import pyoxigraph as ox

from aimsgraph.interop.importers import NothingRecognised, near_misses, read_rdf
from aimsgraph.interop.importers.airo import import_quads, terms_used
from aimsgraph.namespaces import AIMS, AIRO, DPV, VAIR
from aimsgraph.store import GraphStore

#: Published vocabularies a record may be written in that no importer maps on its own (DPV's
#: namespace without its ``#``: its extensions, ``dpv/ai#`` ..., count too).
UNMAPPED_VOCABULARIES = {"DPV": DPV.removesuffix("#"), "VAIR": VAIR}
HOW_TO = (
    f"describe AI systems with aimsgraph terms ({AIMS}) or AIRO terms ({AIRO}); DPV and VAIR "
    "concepts are welcome as values (purposes, risks, roles) of those properties"
)


def load_record(store: GraphStore, body: bytes, fmt: ox.RdfFormat) -> str:
    """Put the record in ``body`` into ``store``'s data graph in our terms; returns the vocabulary
    it was written in ("aimsgraph" or "AIRO"). InvalidInput if it does not parse,
    NothingRecognised if it is in no vocabulary the shapes can judge."""
    quads = read_rdf(body, fmt)
    used = terms_used(quads)
    if any(term.startswith(AIRO) for term in used):
        import_quads(store, quads, write=lambda delta: store.extend(delta.added))
        return "AIRO"
    if any(term.startswith(AIMS) for term in used):
        store.extend(quads)
        return "aimsgraph"
    raise NothingRecognised(
        f"the record uses no aimsgraph or AIRO term, so validating it would find nothing; {_what_it_uses(used)}; {HOW_TO}"
    )


def _what_it_uses(used: set[str]) -> str:
    misses = {**near_misses(used, AIMS), **near_misses(used, AIRO)}
    if misses:
        return "; ".join(
            f"it uses <{namespace}>, which differs from a known namespace by {how}" for namespace, how in sorted(misses.items())
        )
    found = sorted(name for name, namespace in UNMAPPED_VOCABULARIES.items() if any(term.startswith(namespace) for term in used))
    if found:
        return f"it is written in {' and '.join(found)}, which aimsgraph reads as values but maps no record from"
    return "it uses none of the vocabularies aimsgraph knows"
