"""The external engine: aimsgraph over any SPARQL 1.1 store (Oxigraph server, Apache Jena
Fuseki, GraphDB, Virtuoso, Amazon Neptune, ...) instead of the embedded pyoxigraph store.

:class:`RemoteStore` offers the part of ``pyoxigraph.Store`` that aimsgraph uses (queries,
pattern lookups, adds and removes) over the SPARQL 1.1 Protocol, so that every module above
:mod:`aimsgraph.store` works unchanged. Answers are parsed back into pyoxigraph terms.

Transactions: the remote store executes one SPARQL Update request atomically (all of the
engines above do), so the writes a :meth:`GraphStore.write_lock` section makes are collected and
sent as one request when the section ends, together with an increment of a shared generation
counter. A write is therefore all or nothing at the remote, and several aimsgraph instances
can share one store: each sees the others' writes through the counter. (Virtuoso refuses a
request over 10 MB: there a larger section, such as a derived graph rewritten at 1,000 systems,
goes as several requests and is not atomic, as the embedded store's bulk writes are not.) Reads inside a write
section see the store as it was before the section (nothing is sent until it ends).

Requirements on the remote store, checked at start (:meth:`RemoteStore.check`): its default
graph is the union of its named graphs (``oxigraph serve --union-default-graph``; Fuseki's
``tdb2:unionDefaultGraph``; GraphDB, Virtuoso and Neptune do so by default), and it accepts
``default-graph-uri`` / ``named-graph-uri``. aimsgraph keeps all its data in named graphs.
Blank nodes cannot be named across requests: a removal of a blank-node triple is refused.
"""

from __future__ import annotations

import os
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from typing import TypedDict

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput, QueryTimeout, RemoteServiceError, StoreUnavailable
from aimsgraph.namespaces import AIMS, XSD, XSD_BOOLEAN, Graphs
from aimsgraph.sparql.guard import dataset_clause, has_dataset_clause, query_form

#: The shared write counter (in the changes graph): bumped by every write request.
STATE = "urn:aimsgraph:state"
GENERATION = AIMS + "storeGeneration"
RESULTS = "application/sparql-results+json"
#: Prefixed to aimsgraph's own queries at Virtuoso: join in the order written. Its optimiser
#: spent 0.1 s to 4 s on each query text it had not seen (the trail's history query with a
#: resource: 4.0 s, against 4 ms with this), and validation and refreshes send many new texts.
TEXTUAL_ORDER = 'DEFINE sql:select-option "order"\n'

#: What SELECT and ASK ask Virtuoso for: its XML writer is about 5 times faster than its JSON
#: one (a 100,000-row answer: 2.4 s against 12 s), and as exact.
VIRTUOSO_RESULTS = "application/sparql-results+xml"
#: What a graph query (CONSTRUCT, DESCRIBE) asks for: only N-Triples, since Virtuoso answers a
#: graph query in whichever listed format comes first, SPARQL results JSON included.
GRAPH_RESULTS = "application/n-triples, text/plain;q=0.9"
#: Virtuoso names its blank nodes ``nodeID://b10000`` in JSON results, which is no blank node
#: label: such labels are rewritten to ``_:nodeIDb10000``-like ones before parsing.
_VIRTUOSO_BNODE = re.compile(rb'("type"\s*:\s*"bnode"\s*,\s*"value"\s*:\s*")nodeID://')
#: Datatypes Virtuoso 7.2 refuses in INSERT DATA (error SR553); it takes them in a template, as
#: a number (months, or seconds), and answers "3"^^xsd:duration: see _VIRTUOSO_DURATION.
_TEMPLATE_DATATYPES = frozenset({XSD + "duration", XSD + "yearMonthDuration"})
_VIRTUOSO_BNODE_XML = re.compile(rb"<bnode>nodeID://")
#: The XSD namespace as it stands in a pattern below.
_XSD = re.escape(XSD.encode())
_VIRTUOSO_DURATION_XML = re.compile(rb'(<literal datatype="' + _XSD + rb'(?:duration|yearMonthDuration)">)(-?)(\d+)(\.\d*)?<')
#: A duration Virtuoso answers as a bare number: whole months, or seconds with a fraction.
_VIRTUOSO_DURATION = re.compile(
    rb'("datatype"\s*:\s*"' + _XSD + rb'(?:duration|yearMonthDuration)"\s*,\s*"value"\s*:\s*")'
    rb'(-?)(\d+)(\.\d*)?"'
)
#: Virtuoso stores an xsd:boolean as a number and answers "1"^^xsd:boolean / "0"^^xsd:boolean
#: (valid lexical forms, not the canonical ones pyoxigraph and aimsgraph write and compare).
_VIRTUOSO_BOOLEAN = re.compile(rb'("datatype"\s*:\s*"' + _XSD + rb'boolean"\s*,\s*"value"\s*:\s*")([01])"')
#: A graph nobody writes: the default graph of a query that has only FROM NAMED clauses.
EMPTY_GRAPH = "urn:aimsgraph:empty"
#: Largest update request sent at once when a write section is not in progress (bulk adds).
CHUNK_QUADS = 50_000
#: Least time an update request is given (the query timeout can be a few seconds; loading the
#: vocabularies into a store that indexes as it inserts, as Virtuoso does, takes longer).
WRITE_TIMEOUT_S = 300.0
#: Time a query of the service's own is given (refreshing the derived graphs, validation, web
#: pages): the embedded store gives them no limit at all. A query that serves a request runs in
#: a forked reader (:mod:`aimsgraph.sparql.executor`) and keeps the query timeout.
BACKGROUND_TIMEOUT_S = 300.0
#: How often an update Virtuoso aborted on a deadlock (SQL state 40001: rolled back, nothing
#: written) is sent again, and the pause before the first retry (doubled each time).
DEADLOCK_RETRIES = 5
DEADLOCK_PAUSE_S = 0.2
#: Most text in one update request to Virtuoso, which refuses more than 10 MB ("HT057: The
#: STRING session ... is longer than 10Mb"). A write section larger than this (a derived graph
#: rewritten, a large load) goes as several requests, so it is not atomic there.
VIRTUOSO_REQUEST_BYTES = 4_000_000
#: Most quads in one ``INSERT DATA`` operation of a request (see :func:`insert_data`).
DATA_QUADS = 1_000
#: Most quads with blank nodes in one ``INSERT {...} WHERE {}`` operation (see :func:`insert_data`).
TEMPLATE_QUADS = 100


class DatasetOptions(TypedDict, total=False):
    """The keyword arguments of ``Store.query`` (and :meth:`RemoteStore.query`) that choose a
    query's dataset."""

    use_default_graph_as_union: bool
    default_graph: list[ox.NamedNode | ox.BlankNode | ox.DefaultGraph]
    named_graphs: list[ox.NamedNode | ox.BlankNode]


class RemoteStore:
    """A SPARQL 1.1 store reached over HTTP, shaped like ``pyoxigraph.Store``."""

    def __init__(
        self,
        query_url: str,
        update_url: str,
        *,
        graph_store_url: str | None = None,
        authorization: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.query_url, self.update_url, self.graph_store_url = query_url, update_url, graph_store_url
        self.authorization, self.timeout = authorization, timeout
        self._section = threading.local()  # .pending: the update operations of this thread's write section
        self._service_pid = os.getpid()  # queries from other (forked reader) processes serve requests
        #: Virtuoso (found by check()): it is told each query's time limit (its ``timeout``
        #: parameter), so that it stops work aimsgraph has given up on.
        self.virtuoso = False

    # -- reads ---------------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        use_default_graph_as_union: bool = False,
        default_graph: object = None,
        named_graphs: Iterable[ox.NamedNode | ox.BlankNode] | None = None,
        substitutions: dict | None = None,
        as_written: bool = False,
    ) -> ox.QuerySolutions | ox.QueryBoolean | list[ox.Triple]:
        """Evaluate a query at the remote store; the answer as pyoxigraph would give it.

        ``use_default_graph_as_union`` needs no parameter: the remote's default graph is the
        union (see the module doc). A ``default_graph`` without ``named_graphs`` keeps every
        named graph available, as pyoxigraph does, by listing them.

        aimsgraph's own queries go to Virtuoso with its joins in the order they are written
        (TEXTUAL_ORDER); ``as_written`` sends a query exactly as given (the SPARQL endpoint's
        users' queries), for Virtuoso's optimiser to order."""
        if substitutions:
            sparql = bind_values(sparql, substitutions)
        params: list[tuple[str, str]] = [("query", sparql)]
        if default_graph is not None:
            defaults = default_graph if isinstance(default_graph, list | tuple) else [default_graph]
            params += [("default-graph-uri", g.value) for g in defaults if isinstance(g, ox.NamedNode)]
            named = list(named_graphs) if named_graphs is not None else list(self.named_graphs())
            params += [("named-graph-uri", g.value) for g in named]
        elif named_graphs is not None:
            params += [("named-graph-uri", g.value) for g in named_graphs]
        elif has_dataset_clause(sparql):
            # a union default graph would override FROM (Oxigraph's does): the query's own
            # dataset is sent as protocol parameters, which every store must honour
            from_defaults, from_named = dataset_clause(sparql, base_iri)
            params += [("default-graph-uri", g) for g in from_defaults] + [("named-graph-uri", g) for g in from_named]
            if not from_defaults:
                params.append(("default-graph-uri", EMPTY_GRAPH))
        graph_query = query_form(sparql) in ("CONSTRUCT", "DESCRIBE")
        if self.virtuoso and not as_written:
            params[0] = ("query", TEXTUAL_ORDER + sparql)
        timeout = self._query_timeout()
        if self.virtuoso:  # milliseconds; Virtuoso answers what it has with X-SQL-State S1TAT
            params.append(("timeout", str(int(timeout * 1000))))
        accept = GRAPH_RESULTS if graph_query else VIRTUOSO_RESULTS if self.virtuoso else RESULTS
        body, media = self._post(
            self.query_url, urllib.parse.urlencode(params).encode(), "application/x-www-form-urlencoded", accept, timeout=timeout
        )
        if media.startswith(("application/n-triples", "text/plain")):
            return [_normal_triple(t) for t in ox.parse(body, format=ox.RdfFormat.N_TRIPLES)]
        try:
            if media.startswith(VIRTUOSO_RESULTS):
                body = _VIRTUOSO_BNODE_XML.sub(b"<bnode>nodeID", body)
                if b'uration">' in body:
                    body = _VIRTUOSO_DURATION_XML.sub(lambda m: _duration(m, b"<"), body)
                return ox.parse_query_results(body, format=ox.QueryResultsFormat.XML)
            if b"nodeID://" in body:
                body = _VIRTUOSO_BNODE.sub(rb"\1nodeID", body)
            if b'Duration"' in body or b'#duration"' in body:
                body = _VIRTUOSO_DURATION.sub(_duration, body)
            if b'#boolean"' in body:
                body = _VIRTUOSO_BOOLEAN.sub(_boolean, body)
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        except SyntaxError as exc:
            raise RemoteServiceError(f"the external store sent results that do not parse: {exc}") from None

    def _select(self, sparql: str) -> ox.QuerySolutions:
        """The solutions of a SELECT query."""
        rows = self.query(sparql)
        assert isinstance(rows, ox.QuerySolutions)  # a SELECT query: SPARQL results, parsed
        return rows

    def quads_for_pattern(self, subject=None, predicate=None, obj=None, graph_name=None) -> Iterator[ox.Quad]:
        """Quads of the named graphs that match; ``None`` matches anything."""
        s, p, o = (_term(t, name) for t, name in ((subject, "?s"), (predicate, "?p"), (obj, "?o")))
        g = "?g" if graph_name is None or isinstance(graph_name, ox.DefaultGraph) else _term(graph_name, "?g")
        for row in self._select(f"SELECT * WHERE {{ GRAPH {g} {{ {s} {p} {o} }} }}"):
            yield ox.Quad(
                row["s"] if subject is None else subject,
                row["p"] if predicate is None else predicate,
                row["o"] if obj is None else obj,
                row["g"] if g == "?g" else graph_name,
            )

    def named_graphs(self) -> Iterator[ox.NamedNode]:
        # GROUP BY, not DISTINCT: Virtuoso 7.2 answers this in milliseconds, DISTINCT in 15 s
        for row in self._select("SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"):
            if isinstance(row["g"], ox.NamedNode):
                yield row["g"]

    def __contains__(self, quad: ox.Quad) -> bool:
        if has_blank_node(quad):
            return False  # a blank node of ours is never the remote's
        return bool(self.query(f"ASK {{ GRAPH {quad.graph_name} {{ {quad.subject} {quad.predicate} {quad.object} }} }}"))

    def __len__(self) -> int:
        rows = list(self._select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"))
        return int(rows[0]["n"].value)

    @property
    def generation(self) -> int:
        """The shared count of write requests made through aimsgraph (any instance)."""
        rows = list(self._select(f"SELECT ?n WHERE {{ GRAPH <{Graphs.CHANGES}> {{ <{STATE}> <{GENERATION}> ?n }} }}"))
        return max((int(row["n"].value) for row in rows), default=0)

    def check(self) -> None:
        """Fail at start, with a clear message, if the remote cannot serve as aimsgraph's store."""
        probe = ox.NamedNode("urn:aimsgraph:union-probe")
        self.virtuoso = self._server().startswith("Virtuoso/")
        self.update(f"INSERT DATA {{ GRAPH {probe} {{ {probe} {probe} {probe} }} }}")
        try:
            if not bool(self.query(f"ASK {{ {probe} {probe} {probe} }}")):
                raise StoreUnavailable(
                    f"the external store at {self.query_url} does not answer over the union of its named graphs; "
                    "configure its default graph as the union (oxigraph serve --union-default-graph, "
                    "Fuseki tdb2:unionDefaultGraph true)"
                )
        finally:
            self.update(f"DROP SILENT GRAPH {probe}")

    # -- writes --------------------------------------------------------------------------

    def begin(self) -> None:
        """Start collecting this thread's writes (see the module doc)."""
        self._section.pending = []

    def commit(self) -> None:
        """Send the write section's operations as one request, with the generation bump (on
        Virtuoso, as several when they exceed :data:`VIRTUOSO_REQUEST_BYTES`)."""
        pending, self._section.pending = self._pending(), None
        if not pending:
            return
        operations = [*pending, _bump_generation()]
        if self.virtuoso:
            for request in _requests(operations, VIRTUOSO_REQUEST_BYTES):
                self._send(request)
        else:
            self._send(operations)

    def rollback(self) -> None:
        self._section.pending = None

    def update(self, sparql: str, base_iri: str | None = None) -> None:
        if base_iri:
            sparql = f"BASE <{base_iri}>\n{sparql}"
        pending = self._pending()
        if pending is not None:
            pending.append(sparql)
        else:
            self._send([sparql, _bump_generation()])

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        quads = list(quads)
        pending = self._pending()
        if pending is not None:  # part of a write section: one request with the rest
            pending.extend(insert_operations(quads))
            return
        for start in range(0, len(quads), CHUNK_QUADS):  # a bulk add: not atomic, like the local bulk loader
            self.update(insert_data(quads[start : start + CHUNK_QUADS]))

    def remove_all(self, quads: list[ox.Quad]) -> None:
        """Remove quads without blank nodes, :data:`DATA_QUADS` to a ``DELETE DATA`` operation
        (Virtuoso's parser runs out of stack on larger ones)."""
        for start in range(0, len(quads), DATA_QUADS):
            self.update(f"DELETE DATA {{ {graph_blocks(quads[start : start + DATA_QUADS])} }}")

    bulk_extend = extend

    def remove(self, quad: ox.Quad) -> None:
        if has_blank_node(quad):
            raise InvalidInput(
                "a triple with a blank node cannot be removed from an external store "
                "(blank nodes have no name across requests): give the node an IRI"
            )
        if _needs_template(quad):
            self.update(template_operation("DELETE", [quad]))
        else:
            self.update(f"DELETE DATA {{ {graph_blocks([quad])} }}")

    def clear_graph(self, graph: ox.NamedNode) -> None:
        self.update(f"CLEAR SILENT GRAPH {graph}")

    def load(self, data, format: ox.RdfFormat, to_graph: ox.NamedNode | None = None, base_iri: str | None = None) -> None:
        graph = to_graph or ox.NamedNode(Graphs.CHANGES)
        self.extend(
            ox.Quad(q.subject, q.predicate, q.object, graph if isinstance(q.graph_name, ox.DefaultGraph) else q.graph_name)
            for q in ox.parse(data, format=format, base_iri=base_iri, rename_blank_nodes=True)
        )

    bulk_load = load

    def flush(self) -> None:
        """Nothing to do: the remote store persists each request."""

    def _pending(self) -> list[str] | None:
        return getattr(self._section, "pending", None)

    # -- HTTP ----------------------------------------------------------------------------

    def _send(self, operations: list[str]) -> None:
        body = " ;\n".join(operations).encode()
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                self._post(self.update_url, body, "application/sparql-update", "*/*", timeout=max(self.timeout, WRITE_TIMEOUT_S))
                return
            except RemoteServiceError as exc:
                # Virtuoso locks rows, and two concurrent writers (two instances, or a write
                # and the derived graphs' refresh) can deadlock: it rolls one request back
                # whole (SQL state 40001) and expects it to be sent again
                if not (self.virtuoso and "40001" in exc.message) or attempt == DEADLOCK_RETRIES:
                    raise
            time.sleep(DEADLOCK_PAUSE_S * 2**attempt)

    def _query_timeout(self) -> float:
        """The query timeout in a forked reader (a request); the service's own queries run
        with the embedded store's lack of limit, bounded here by BACKGROUND_TIMEOUT_S."""
        return self.timeout if os.getpid() != self._service_pid else max(self.timeout, BACKGROUND_TIMEOUT_S)

    def _server(self) -> str:
        """The query endpoint's ``Server`` header (``Virtuoso/07.20.3229 ...``), or ""."""
        request = urllib.request.Request(
            self.query_url + "?" + urllib.parse.urlencode({"query": "ASK {}"}), headers={"Accept": RESULTS}
        )
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.headers.get("Server", "")
        except urllib.error.HTTPError as exc:
            return exc.headers.get("Server", "") if exc.headers else ""
        except (urllib.error.URLError, TimeoutError) as exc:
            raise StoreUnavailable(
                f"cannot reach the external store at {self.query_url}: {getattr(exc, 'reason', exc)}"
            ) from None

    def _post(self, url: str, body: bytes, content_type: str, accept: str, timeout: float | None = None) -> tuple[bytes, str]:
        """One request on a fresh connection (no pool: the query readers are forked processes)."""
        timeout = self.timeout if timeout is None else timeout
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type, "Accept": accept})
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if response.headers.get("X-SQL-State") == "S1TAT":
                    # Virtuoso stopped at its time limit (the timeout parameter, or the server's
                    # MaxQueryExecutionTime) and sent a partial answer: never use one
                    raise QueryTimeout(f"the external store stopped the query at its time limit ({timeout:g} s)")
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            detail = exc.read(2000).decode("utf-8", "replace").strip()
            if exc.code == 400:
                raise InvalidInput(
                    f"the external store refused the request (SPARQL syntax error or unsupported request): {detail}"
                ) from None
            raise RemoteServiceError(f"the external store answered {exc.code}: {detail}") from None
        except TimeoutError:
            raise QueryTimeout(f"the external store did not answer within {timeout:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise QueryTimeout(f"the external store did not answer within {timeout:g} s") from None
            raise StoreUnavailable(f"cannot reach the external store at {url}: {exc.reason}") from None


#: A store aimsgraph reads and writes: the embedded pyoxigraph store, or an external one.
RawStore = ox.Store | RemoteStore


def insert_data(quads: list[ox.Quad]) -> str:
    """Update operations that add the quads, all in one request: ``INSERT DATA`` of at most
    :data:`DATA_QUADS` quads for those without blank nodes (Virtuoso's SPARQL parser runs out
    of stack, "memory exhausted", at a few thousand quads in one operation); those with blank nodes as ``INSERT { ... } WHERE {}`` templates (one solution, so fresh
    blank nodes, as INSERT DATA makes them), because Virtuoso refuses blank nodes in INSERT
    DATA ("not allowed in a constant clause"). A template holds whole groups of quads that
    share blank nodes (a label means one node only within its operation) and, where groups
    allow, at most :data:`TEMPLATE_QUADS` quads: Virtuoso compiles a template to SQL and
    refuses one over 10,000 lines."""
    return " ;\n".join(insert_operations(quads))


def insert_operations(quads: list[ox.Quad]) -> list[str]:
    """The operations of :func:`insert_data`, one string each."""
    plain = [q for q in quads if not _needs_template(q)]
    operations = [
        f"INSERT DATA {{ {graph_blocks(plain[start : start + DATA_QUADS])} }}" for start in range(0, len(plain), DATA_QUADS)
    ]
    template: list[ox.Quad] = []
    for group in _blank_node_groups([q for q in quads if _needs_template(q)]):
        if template and len(template) + len(group) > TEMPLATE_QUADS:
            operations.append(template_operation("INSERT", template))
            template = []
        template += group
    if template:
        operations.append(template_operation("INSERT", template))
    return operations


def _requests(operations: list[str], most_bytes: int) -> Iterator[list[str]]:
    """The operations in consecutive groups of at most ``most_bytes`` of text (an operation
    larger than that alone): Virtuoso refuses a request whose text exceeds 10 MB (HT057)."""
    group: list[str] = []
    size = 0
    for operation in operations:
        if group and size + len(operation) > most_bytes:
            yield group
            group, size = [], 0
        group.append(operation)
        size += len(operation) + 3
    if group:
        yield group


def template_operation(verb: str, quads: list[ox.Quad]) -> str:
    """``INSERT`` or ``DELETE { quads } WHERE { }``, each literal of _TEMPLATE_DATATYPES as a
    variable bound with STRDT (Virtuoso 7.2 fails on such a literal written in the template),
    one ``GRAPH`` block per graph (Virtuoso fails, error SR002, on a blank node that appears in
    two blocks of a template). Blank node labels keep their (unique) names: Virtuoso refuses a
    label used in two operations of one request."""
    binds: list[str] = []
    by_graph: dict[str, list[str]] = {}

    def term(t) -> str:
        if isinstance(t, ox.Literal) and t.datatype.value in _TEMPLATE_DATATYPES:
            variable = f"?v{len(binds)}"
            binds.append(f"BIND(STRDT({ox.Literal(t.value)}, {t.datatype}) AS {variable})")
            return variable
        return str(t)

    for quad in quads:
        by_graph.setdefault(str(quad.graph_name), []).append(f"{term(quad.subject)} {quad.predicate} {term(quad.object)} .")
    blocks = " ".join(f"GRAPH {g} {{ {' '.join(triples)} }}" for g, triples in by_graph.items())
    return f"{verb} {{ {blocks} }} WHERE {{ {' '.join(binds)} }}"


def _needs_template(quad: ox.Quad) -> bool:
    """A blank node, or a literal Virtuoso refuses in INSERT DATA (see _TEMPLATE_DATATYPES)."""
    obj = quad.object
    return has_blank_node(quad) or (isinstance(obj, ox.Literal) and obj.datatype.value in _TEMPLATE_DATATYPES)


def _duration(match: re.Match, end: bytes = b'"') -> bytes:
    """Virtuoso's number for a duration back as an xsd:duration of the same value (``end``:
    what closes the value, a quote in JSON, ``<`` in XML)."""
    prefix, sign, whole, fraction = match.groups()
    if fraction is None:
        return prefix + sign + b"P" + whole + b"M" + end
    return prefix + sign + b"PT" + whole + fraction.rstrip(b".") + b"S" + end


def _boolean(match: re.Match) -> bytes:
    """Virtuoso's "1"^^xsd:boolean back as "true" (and "0" as "false"): the same value."""
    return match.group(1) + (b'true"' if match.group(2) == b"1" else b'false"')


_BOOLEAN = ox.NamedNode(XSD_BOOLEAN)
_DURATIONS = frozenset(ox.NamedNode(d) for d in _TEMPLATE_DATATYPES)


def _normal_triple(triple: ox.Triple) -> ox.Triple:
    """A triple of a CONSTRUCT answer with Virtuoso's booleans and durations spelt as in
    SELECT answers (see _boolean and _duration)."""
    obj = triple.object
    if not isinstance(obj, ox.Literal) or (obj.datatype != _BOOLEAN and obj.datatype not in _DURATIONS):
        return triple
    value = obj.value
    if obj.datatype == _BOOLEAN and value in ("0", "1"):
        value = "true" if value == "1" else "false"
    elif obj.datatype in _DURATIONS and (number := re.fullmatch(r"(-?)(\d+)(\.\d*)?", value)):
        sign, whole, fraction = number.groups()
        value = f"{sign}P{whole}M" if fraction is None else f"{sign}PT{whole}{fraction.rstrip('.')}S"
    else:
        return triple
    return ox.Triple(triple.subject, triple.predicate, ox.Literal(value, datatype=obj.datatype))


def _blank_node_groups(quads: list[ox.Quad]) -> list[list[ox.Quad]]:
    """The quads in groups connected by shared blank nodes (union-find over the labels)."""
    parent: dict[str, str] = {}

    def find(label: str) -> str:
        while parent.setdefault(label, label) != label:
            parent[label] = parent[parent[label]]
            label = parent[label]
        return label

    labels = [[t.value for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)] for q in quads]
    for names in labels:
        for other in names[1:]:
            parent[find(other)] = find(names[0])
    groups: dict[str, list[ox.Quad]] = {}
    for quad, names in zip(quads, labels, strict=True):
        groups.setdefault(find(names[0]) if names else "", []).append(quad)
    return list(groups.values())


def graph_blocks(quads: list[ox.Quad]) -> str:
    """Quads as ``GRAPH <g> { ... }`` blocks for SPARQL Update data."""
    by_graph: dict[str, list[ox.Triple]] = {}
    for q in quads:
        graph = q.graph_name
        assert not isinstance(graph, ox.DefaultGraph), "aimsgraph keeps all its data in named graphs"
        by_graph.setdefault(graph.value, []).append(ox.Triple(q.subject, q.predicate, q.object))
    return " ".join(f"GRAPH <{g}> {{ {n_triples(triples)} }}" for g, triples in by_graph.items())


def n_triples(triples: Iterable[ox.Triple]) -> str:
    """Triples as N-Triples text."""
    data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    return data.decode()


def bind_values(sparql: str, substitutions: dict) -> str:
    """The query with its variables bound, as pyoxigraph's ``substitutions`` would: a
    ``VALUES`` block at the start of the outermost group, so that everything after it
    (``BIND``, ``FILTER``, ``OPTIONAL``) sees the values."""
    brace = _first_group(sparql)
    names = " ".join(f"?{v.value}" for v in substitutions)
    values = " ".join(str(t) for t in substitutions.values())
    return f"{sparql[: brace + 1]} VALUES ({names}) {{ ({values}) }} {sparql[brace + 1 :]}"


def _first_group(sparql: str) -> int:
    """Index of the ``{`` that opens the outermost group pattern, skipping IRIs, strings and
    comments of the prologue."""
    i, n = 0, len(sparql)
    while i < n:
        c = sparql[i]
        if c == "#":
            i = sparql.find("\n", i) if sparql.find("\n", i) != -1 else n
        elif c == "<" and (end := sparql.find(">", i)) != -1 and " " not in sparql[i:end]:
            i = end
        elif c in "'\"":
            end = sparql.find(c, i + 1)
            i = end if end != -1 else n
        elif c == "{":
            return i
        i += 1
    raise InvalidInput("the query has no group pattern to bind parameters in")


def _bump_generation() -> str:
    """Two operations: add the highest generation + 1, then remove the lower ones. (Not one
    ``DELETE ... INSERT ... WHERE { OPTIONAL {...} BIND(COALESCE(?n, 0) + 1 AS ?next) }``:
    Virtuoso 7.2 inserts nothing for it, so its generation stayed 0 and no instance ever saw
    another's writes; combining the aggregate with DELETE fails to compile, SQ156.)"""
    state = f"GRAPH <{Graphs.CHANGES}> {{ <{STATE}> <{GENERATION}>"
    return (
        f"INSERT {{ {state} ?next }} }} WHERE {{ {{ SELECT (COALESCE(MAX(?n), 0) + 1 AS ?next) "
        f"WHERE {{ {state} ?n }} }} }} }} ;\n"
        f"DELETE {{ {state} ?n }} }} WHERE {{ {{ SELECT (MAX(?m) AS ?top) WHERE {{ {state} ?m }} }} }} "
        f"{state} ?n }} FILTER(?n < ?top) }}"
    )


def _term(term, variable: str) -> str:
    if term is None:
        return variable
    if isinstance(term, ox.BlankNode):
        raise InvalidInput("blank nodes cannot be looked up in an external store")
    return str(term)


def has_blank_node(term: object) -> bool:
    """True for a blank node, or a quad or RDF 1.2 triple term holding one."""
    if isinstance(term, ox.Triple | ox.Quad):
        return any(has_blank_node(t) for t in (term.subject, term.object))
    return isinstance(term, ox.BlankNode)
