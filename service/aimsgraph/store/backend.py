"""What :class:`aimsgraph.store.GraphStore` needs from its backend: the part of
``pyoxigraph.Store`` it calls, which :class:`aimsgraph.store.remote.RemoteStore` imitates over
the SPARQL 1.1 Protocol. Both implement :class:`Backend` structurally (checked by mypy below).

Only the store package and the SPARQL executor reach the backend (``GraphStore.backend``);
every other module uses the methods of ``GraphStore`` (``tests/test_layers.py`` enforces it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pyoxigraph as ox

if TYPE_CHECKING:
    from aimsgraph.store.remote import RemoteStore

#: What a query answers: solutions (SELECT), a boolean (ASK), or triples (CONSTRUCT, DESCRIBE;
#: a list of them from the external store).
QueryResult = ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples | list[ox.Triple]


class Backend(Protocol):
    """The storage operations aimsgraph uses, with ``pyoxigraph.Store``'s semantics."""

    def query(self, query: str, /, *args: Any, **options: Any) -> QueryResult: ...

    def quads_for_pattern(
        self,
        subject: ox.NamedNode | ox.BlankNode | ox.Triple | None,
        predicate: ox.NamedNode | None,
        object: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None,
        graph_name: ox.NamedNode | ox.BlankNode | ox.DefaultGraph | None = None,
        /,
    ) -> Iterator[ox.Quad]: ...

    def named_graphs(self) -> Iterator[ox.NamedNode | ox.BlankNode]: ...

    def __contains__(self, quad: ox.Quad, /) -> bool: ...

    def update(self, update: str, /) -> None: ...

    def extend(self, quads: Iterable[ox.Quad], /) -> None: ...

    def bulk_extend(self, quads: Iterable[ox.Quad], /) -> None: ...

    def remove(self, quad: ox.Quad, /) -> None: ...

    def clear_graph(self, graph_name: ox.NamedNode, /) -> None: ...

    def bulk_load(self, *args: Any, **options: Any) -> None: ...

    def flush(self) -> None: ...


if TYPE_CHECKING:

    def _implemented_by(local: ox.Store, remote: RemoteStore) -> tuple[Backend, Backend]:
        return local, remote  # mypy fails here when either stops implementing Backend
