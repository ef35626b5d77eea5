"""SPARQL 1.1 Update, evaluated to the exact change it makes before anything is written.

pyoxigraph runs an update in one transaction but cannot say what it changed, and the audit trail
keeps the changed triples. So the request is split into its operations (on the guard's tokens)
and each is evaluated here to the quads it removes and adds (a :class:`changes.Delta`):

- ``INSERT DATA`` / ``DELETE DATA``: their quads, read by running ``INSERT DATA`` on an empty
  in-memory store;
- ``DELETE``/``INSERT`` ... ``WHERE`` and ``DELETE WHERE``: the WHERE clause runs as a
  ``SELECT *`` in pyoxigraph, and the templates are filled in here for each solution;
- ``CLEAR``, ``DROP``, ``CREATE``, ``ADD``, ``MOVE``, ``COPY``: from the graphs' content;
- ``LOAD``: the document is fetched (only from the allow-list; see ``guard``) and parsed.

Each operation sees the effect of the ones before it, as the standard requires. When one with a
WHERE clause follows one that changed something, its WHERE clause runs over an in-memory copy of
the store with the earlier changes applied: correct, and slow on a big store, so rare by design.

Dataset: a WHERE clause sees the union of all graphs, as queries do, unless the operation says
``USING`` or ``WITH`` or the request gives ``using-graph-uri`` / ``using-named-graph-uri``.
Templates and data without ``GRAPH``, and ``DEFAULT`` in graph operations, mean the
organisation's data graph (or the ``WITH`` graph). ``NAMED`` and ``ALL`` mean every graph but
those aimsgraph keeps itself (inferred, analysis, validation, changes).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import pyoxigraph as ox

from aimsgraph import limits
from aimsgraph.auth import SERVICE_GRAPHS
from aimsgraph.errors import InvalidInput, PayloadTooLarge, RemoteServiceError
from aimsgraph.namespaces import Graphs, is_absolute_iri
from aimsgraph.sparql.guard import Token, check_nesting, resolve, target_iri, tokenize
from aimsgraph.store import GraphStore
from aimsgraph.store.changes import Delta
from aimsgraph.store.record import Term, graph_of
from aimsgraph.store.remote import DatasetOptions

#: Template variables become IRIs under this prefix while the template is parsed.
VARIABLE_IRI = "urn:aimsgraph:template-variable:"
DATA_GRAPH = ox.NamedNode(Graphs.DATA)
RDF_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}


@dataclass(frozen=True)
class UpdateRequest:
    """An update as the protocol delivers it."""

    text: str
    base_iri: str | None = None
    using: tuple[str, ...] = ()  # using-graph-uri
    using_named: tuple[str, ...] = ()  # using-named-graph-uri
    fetch_timeout: float = 30.0
    fetch_max_bytes: int = 64 * 1_048_576
    max_solutions: int = 100_000  # per WHERE clause


@dataclass(frozen=True)
class Dataset:
    """The dataset of a WHERE clause: None for the default graph means the union of all
    graphs, None for the named graphs means all of them."""

    default: tuple[str, ...] | None
    named: tuple[str, ...] | None

    def options(self) -> DatasetOptions:
        """As keyword arguments of pyoxigraph's ``Store.query``."""
        if self.default is None:
            return {"use_default_graph_as_union": True}
        options: DatasetOptions = {"default_graph": [ox.NamedNode(g) for g in self.default]}
        if self.named is not None:
            options["named_graphs"] = [ox.NamedNode(g) for g in self.named]
        return options


#: Evaluates the ``SELECT *`` of a WHERE clause: (query, base IRI, dataset, most solutions) to
#: solutions as {variable: term}; PayloadTooLarge when there are more.
Selector = Callable[[str, "str | None", Dataset, int], list[dict[str, Term]]]


def select_in_process(store: GraphStore | ox.Store) -> Selector:
    """A selector that runs in this process, without a timeout (the CLI; the service uses
    its query readers, which have one), over a store or an in-memory copy (see ``_State``)."""
    run = store.select if isinstance(store, GraphStore) else store.query

    def select(query: str, base_iri: str | None, dataset: Dataset, limit: int) -> list[dict[str, Term]]:
        try:
            solutions = run(query, base_iri=base_iri, **dataset.options())
        except SyntaxError as exc:
            raise InvalidInput(f"SPARQL Update syntax error: {short(exc)}") from None
        assert isinstance(solutions, ox.QuerySolutions)  # the query is a SELECT
        names = [v.value for v in solutions.variables]
        found: list[dict[str, Term]] = []
        for solution in solutions:
            if len(found) == limit:
                raise too_many_solutions(limit)
            found.append({name: solution[name] for name in names if solution[name] is not None})
        return found

    return select


def too_many_solutions(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"a WHERE clause of the update matched more than {limit} solutions (AIMSGRAPH_RESULT_LIMIT); split the update"
    )


@dataclass
class Operation:
    """One operation of an update request, cut from its text."""

    keyword: str  # INSERT DATA, DELETE DATA, MODIFY, CLEAR, DROP, CREATE, ADD, MOVE, COPY, LOAD
    prologue: str
    silent: bool = False
    data: str | None = None  # the braces of INSERT DATA / DELETE DATA
    delete: str | None = None  # the braces of the DELETE template
    insert: str | None = None  # the braces of the INSERT template
    where: str | None = None  # the braces of the WHERE clause
    with_graph: str | None = None
    using: list[str] = field(default_factory=list)
    using_named: list[str] = field(default_factory=list)
    source: str | None = None  # ADD/MOVE/COPY source graph, LOAD document
    target: str | None = None  # graph IRI, or DEFAULT, NAMED, ALL


def evaluate(store: GraphStore, request: UpdateRequest, selector: Selector | None = None) -> Delta:
    """The change ``request`` makes to the store, computed without writing. WHERE clauses run
    through ``selector`` (default: in this process). InvalidInput for a malformed update;
    PayloadTooLarge when a WHERE clause has too many solutions; RemoteServiceError when a LOAD
    fails."""
    check_syntax(request.text, request.base_iri)
    state = _State(store, selector or select_in_process(store))
    for operation in parse(request.text, request.base_iri):
        removed, added = _effect(operation, state, request)
        removed = {q for q in removed if state.has(q)}
        added = {q for q in added if q in removed or not state.has(q)}
        state.apply(removed - added, added - removed)
    return state.net


def check_syntax(text: str, base_iri: str | None) -> None:
    """Raise InvalidInput unless pyoxigraph parses the update. Checked by running it on an empty
    in-memory store, which cannot change anything real, after rewriting the operations that
    would reach out into ones of the same grammar that stay home: ``SERVICE`` into ``GRAPH``,
    ``LOAD <doc> [INTO GRAPH <g>]`` into ``ADD SILENT <doc> TO <g>|DEFAULT``. The nesting is
    checked first: the parser recurses on it in this thread, and deep nesting would crash the
    process."""
    check_nesting(text, limits.nesting_limit())
    try:
        ox.Store().update(_without_remote_calls(text), base_iri=base_iri)
    except SyntaxError as exc:
        raise InvalidInput(f"SPARQL Update syntax error: {short(exc)}") from None
    except Exception:
        pass


def _without_remote_calls(text: str) -> str:
    tokens = tokenize(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    for i, token in enumerate(tokens):
        word = token.text.upper() if token.kind == "name" else ""
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        silent = following is not None and following.kind == "name" and following.text.upper() == "SILENT"
        end = following.end if silent and following is not None else token.end
        if word == "SERVICE":
            edits.append((token.start, end, "GRAPH"))
        elif word == "LOAD":
            edits.append((token.start, end, "ADD SILENT"))
            into = i + (3 if silent else 2)  # the token after the document's IRI
            if into + 1 < len(tokens) and tokens[into].text.upper() == "INTO" and tokens[into + 1].text.upper() == "GRAPH":
                edits.append((tokens[into].start, tokens[into + 1].end, "TO"))
            elif into - 1 < len(tokens):
                edits.append((tokens[into - 1].end, tokens[into - 1].end, " TO DEFAULT"))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def short(error: Exception) -> str:
    """A parser message cut to its first line: pyoxigraph lists every token it expected."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# -- cutting the request into operations --------------------------------------------------------


def parse(text: str, base_iri: str | None) -> list[Operation]:
    return _Parser(text, base_iri).operations()


class _Parser:
    GRAPH_OPERATIONS = ("CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "LOAD")

    def __init__(self, text: str, base_iri: str | None) -> None:
        self.text, self.tokens, self.i = text, tokenize(text), 0
        self.prefixes: dict[str, str] = {}
        self.base = base_iri
        self.prologue: list[str] = []

    def operations(self) -> list[Operation]:
        found: list[Operation] = []
        while True:
            self._read_prologue()
            if self._done():
                return found
            found.append(self._operation())
            if not self._done():
                self._expect(";")

    def _operation(self) -> Operation:
        operation = Operation(self._word(), " ".join(self.prologue))
        if operation.keyword in self.GRAPH_OPERATIONS:
            self.i += 1
            return self._graph_operation(operation)
        if operation.keyword == "WITH":
            self.i += 1
            operation.with_graph = self._iri()
        if operation.keyword in ("INSERT", "DELETE") and self._word(1) == "DATA":
            operation.keyword = f"{self._word()} DATA"
            self.i += 2
            operation.data = self._braces()
            return operation
        if self._word() == "DELETE" and self._word(1) == "WHERE" and operation.with_graph is None:
            self.i += 2
            operation.keyword = "MODIFY"
            operation.delete = operation.where = self._braces()
            return operation
        operation.keyword = "MODIFY"
        if self._word() == "DELETE":
            self.i += 1
            operation.delete = self._braces()
        if self._word() == "INSERT":
            self.i += 1
            operation.insert = self._braces()
        if operation.delete is None and operation.insert is None:
            raise self._unexpected("an update operation")
        while self._word() == "USING":
            self.i += 1
            if self._word() == "NAMED":
                self.i += 1
                operation.using_named.append(self._iri())
            else:
                operation.using.append(self._iri())
        self._expect("WHERE")
        operation.where = self._braces()
        return operation

    def _graph_operation(self, operation: Operation) -> Operation:
        if self._word() == "SILENT":
            self.i += 1
            operation.silent = True
        keyword = operation.keyword
        if keyword == "LOAD":
            operation.source = self._iri()
            if self._word() == "INTO":
                self.i += 1
                self._expect("GRAPH")
                operation.target = self._iri()
        elif keyword in ("CLEAR", "DROP"):
            word = self._word()
            if word in ("DEFAULT", "NAMED", "ALL"):
                self.i += 1
                operation.target = word
            else:
                self._expect("GRAPH")
                operation.target = self._iri()
        elif keyword == "CREATE":
            self._expect("GRAPH")
            operation.target = self._iri()
        else:  # ADD, MOVE, COPY
            operation.source = self._graph_or_default()
            self._expect("TO")
            operation.target = self._graph_or_default()
        return operation

    def _graph_or_default(self) -> str:
        if self._word() == "DEFAULT":
            self.i += 1
            return "DEFAULT"
        if self._word() == "GRAPH":
            self.i += 1
        return self._iri()

    def _read_prologue(self) -> None:
        while self._word() in ("PREFIX", "BASE"):
            start = self.tokens[self.i]
            if self._word() == "PREFIX" and self.i + 2 < len(self.tokens):
                name, iri = self.tokens[self.i + 1], self.tokens[self.i + 2]
                self.prefixes[name.text.rstrip(":")] = resolve(iri.text[1:-1], self.base)
                self.i += 3
            elif self.i + 1 < len(self.tokens):
                self.base = resolve(self.tokens[self.i + 1].text[1:-1], self.base)
                self.i += 2
            else:
                raise self._unexpected("a prologue")
            self.prologue.append(self.text[start.start : self.tokens[self.i - 1].end])

    def _iri(self) -> str:
        token = self.tokens[self.i] if not self._done() else None
        if token is None or token.kind not in ("iri", "name") or (token.kind == "name" and ":" not in token.text):
            raise self._unexpected("an IRI")
        self.i += 1
        iri = target_iri(token, self.prefixes, self.base)
        if iri is None or not is_absolute_iri(iri):
            raise InvalidInput(f"SPARQL Update: {token.text} is not an absolute IRI (a graph name must be one)")
        return iri

    def _braces(self) -> str:
        if self._done() or self.tokens[self.i].text != "{":
            raise self._unexpected("'{'")
        start, depth = self.tokens[self.i], 0
        while not self._done():
            token = self.tokens[self.i]
            self.i += 1
            if token.kind == "other" and token.text in "{}":
                depth += 1 if token.text == "{" else -1
                if depth == 0:
                    return self.text[start.start : token.end]
        raise InvalidInput("SPARQL Update syntax error: a '{' is never closed")

    def _expect(self, word: str) -> None:
        if self._word() != word:
            raise self._unexpected(f"'{word}'")
        self.i += 1

    def _word(self, ahead: int = 0) -> str:
        index = self.i + ahead
        if index >= len(self.tokens):
            return ""
        token: Token = self.tokens[index]
        return token.text.upper() if token.kind == "name" else token.text

    def _done(self) -> bool:
        return self.i >= len(self.tokens)

    def _unexpected(self, wanted: str) -> InvalidInput:
        found = "the end" if self._done() else repr(self.tokens[self.i].text)
        return InvalidInput(f"SPARQL Update syntax error: expected {wanted}, found {found}")


# -- evaluation --------------------------------------------------------------------------------


class _State:
    """The store as the operations so far have left it (the store itself is not touched)."""

    def __init__(self, store: GraphStore, selector: Selector) -> None:
        self.store, self.net, self.selector = store, Delta(), selector
        self._copy: ox.Store | None = None

    def has(self, quad: ox.Quad) -> bool:
        return quad in self.net.added or (quad not in self.net.removed and self.store.contains(quad))

    def graph(self, name: str) -> set[ox.Quad]:
        node = ox.NamedNode(name)
        stored = set(self.store.quads(None, None, None, node)) - self.net.removed
        return stored | {q for q in self.net.added if q.graph_name == node}

    def graph_names(self) -> set[str]:
        names = set(self.store.named_graphs()) | {graph_of(q) for q in self.net.added}
        return {name for name in names if self.graph(name)}

    def select(self, query: str, base_iri: str | None, dataset: Dataset, limit: int) -> list[dict[str, Term]]:
        if not self.net:
            return self.selector(query, base_iri, dataset, limit)
        # earlier operations changed something: query an in-memory copy that shows it
        if self._copy is None:
            self._copy = ox.Store()
            self._copy.extend(self.store.quads(None, None, None, None))
            for quad in self.net.removed:
                self._copy.remove(quad)
            self._copy.extend(self.net.added)
        return select_in_process(self._copy)(query, base_iri, dataset, limit)

    def apply(self, removed: set[ox.Quad], added: set[ox.Quad]) -> None:
        self.net.then(removed, added)
        if self._copy is not None:
            for quad in removed:
                self._copy.remove(quad)
            self._copy.extend(added)


def _effect(op: Operation, state: _State, request: UpdateRequest) -> tuple[set[ox.Quad], set[ox.Quad]]:
    """(quads to remove, quads to add) of one operation, against the current state."""
    if op.keyword == "INSERT DATA":
        return set(), _data_quads(op, request.base_iri)
    if op.keyword == "DELETE DATA":
        return _data_quads(op, request.base_iri), set()
    if op.keyword == "MODIFY":
        return _modify(op, state, request)
    if op.keyword == "LOAD":
        target = op.target or Graphs.DATA
        return set(), _fetch(op, ox.NamedNode(target), request)
    if op.keyword == "CREATE":
        assert op.target is not None  # CREATE GRAPH <g> names its graph (see _Parser)
        if state.graph(op.target) and not op.silent:
            raise InvalidInput(f"CREATE GRAPH <{op.target}>: the graph already exists (use CREATE SILENT)")
        return set(), set()
    if op.keyword in ("CLEAR", "DROP"):
        return {q for g in _graphs(op.target, state, op) for q in state.graph(g)}, set()
    source, target = _graph_name(op.source), _graph_name(op.target)
    if source == target:
        return set(), set()
    copied = state.graph(source)
    if not copied and not op.silent and op.source != "DEFAULT":  # the default graph always exists
        raise InvalidInput(f"{op.keyword} <{source}>: the graph does not exist (use {op.keyword} SILENT)")
    moved = {ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(target)) for q in copied}
    removed = state.graph(target) - moved if op.keyword in ("COPY", "MOVE") else set()
    if op.keyword == "MOVE":
        removed |= copied
    return removed, moved


def _graphs(target: str | None, state: _State, op: Operation) -> list[str]:
    if target in ("NAMED", "ALL"):
        return sorted(state.graph_names() - SERVICE_GRAPHS)
    name = _graph_name(target)
    if not state.graph(name) and not op.silent and target != "DEFAULT":
        raise InvalidInput(f"{op.keyword} GRAPH <{name}>: the graph does not exist (use {op.keyword} SILENT)")
    return [name]


def _graph_name(target: str | None) -> str:
    return Graphs.DATA if target in (None, "DEFAULT") else target


def _data_quads(op: Operation, base_iri: str | None) -> set[ox.Quad]:
    assert op.data is not None  # INSERT DATA / DELETE DATA have their braces (see _Parser)
    return set(_in_graph(_parse_template(op.prologue, op.data, base_iri), DATA_GRAPH))


def _modify(op: Operation, state: _State, request: UpdateRequest) -> tuple[set[ox.Quad], set[ox.Quad]]:
    default = ox.NamedNode(op.with_graph) if op.with_graph else DATA_GRAPH
    base = request.base_iri
    deletions = list(_in_graph(_parse_template(op.prologue, op.delete, base), default)) if op.delete else []
    insertions = list(_in_graph(_parse_template(op.prologue, op.insert, base), default)) if op.insert else []
    # only the variables the templates use: a wide SELECT * costs the readers most of the time
    used = sorted({tok.text[1:] for block in (op.delete, op.insert) if block for tok in tokenize(block) if tok.kind == "var"})
    projection = " ".join(f"?{name}" for name in used) or "(1 AS ?aimsgraph_solution)"
    query = f"{op.prologue}\nSELECT {projection} WHERE {op.where}"
    removed: set[ox.Quad] = set()
    added: set[ox.Quad] = set()
    for binding in state.select(query, request.base_iri, _dataset(op, request), request.max_solutions):
        removed.update(_instantiate(deletions, binding, fresh_blank_nodes=False))
        added.update(_instantiate(insertions, binding, fresh_blank_nodes=True))
    return removed, added


def _dataset(op: Operation, request: UpdateRequest) -> Dataset:
    from_request = bool(request.using or request.using_named)
    if from_request and (op.using or op.using_named or op.with_graph):
        raise InvalidInput(
            "using-graph-uri / using-named-graph-uri cannot be combined with USING, USING NAMED or WITH in the update"
        )
    using = op.using or list(request.using)
    using_named = op.using_named or list(request.using_named)
    if using or using_named:
        return Dataset(tuple(using), tuple(using_named))
    if op.with_graph:
        return Dataset((op.with_graph,), None)
    return Dataset(None, None)


def _parse_template(prologue: str, braces: str, base_iri: str | None) -> list[ox.Quad]:
    """The quads of a template or data block, with variables as ``VARIABLE_IRI`` IRIs."""
    text = braces
    for token in reversed(tokenize(braces)):
        if token.kind == "var":
            text = f"{text[: token.start]}<{VARIABLE_IRI}{token.text[1:]}>{text[token.end :]}"
    scratch = ox.Store()
    try:
        scratch.update(f"{prologue}\nINSERT DATA {text}", base_iri=base_iri)
    except SyntaxError as exc:
        raise InvalidInput(f"SPARQL Update syntax error in a template: {short(exc)}") from None
    return list(scratch)


def _in_graph(quads: Iterable[ox.Quad], default: ox.NamedNode) -> Iterator[ox.Quad]:
    for quad in quads:
        graph = default if isinstance(quad.graph_name, ox.DefaultGraph) else quad.graph_name
        yield ox.Quad(quad.subject, quad.predicate, quad.object, graph)


def _instantiate(templates: list[ox.Quad], binding: dict[str, Term], fresh_blank_nodes: bool) -> Iterator[ox.Quad]:
    """The template quads for one solution; a quad with an unbound variable or a term that
    cannot stand where it is (a literal subject, say) is left out, as the standard says."""
    blank_nodes: dict[str, ox.BlankNode] = {}
    for template in templates:
        subject, predicate, obj, graph = (
            _fill(term, binding, blank_nodes if fresh_blank_nodes else None)
            for term in (template.subject, template.predicate, template.object, template.graph_name)
        )
        if (
            isinstance(subject, (ox.NamedNode, ox.BlankNode))
            and isinstance(predicate, ox.NamedNode)
            and isinstance(obj, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple)  # not None: bound
            and isinstance(graph, ox.NamedNode)
        ):
            yield ox.Quad(subject, predicate, obj, graph)


def _fill(
    term: Term | ox.DefaultGraph, binding: dict[str, Term], blank_nodes: dict[str, ox.BlankNode] | None
) -> Term | ox.DefaultGraph | None:
    """A template term with its variable bound (None if unbound) and, when ``blank_nodes`` is
    given, its blank node replaced by a fresh one; inside triple terms too."""
    if isinstance(term, ox.NamedNode) and term.value.startswith(VARIABLE_IRI):
        return binding.get(term.value[len(VARIABLE_IRI) :])
    if isinstance(term, ox.BlankNode) and blank_nodes is not None:
        return blank_nodes.setdefault(term.value, ox.BlankNode())
    if isinstance(term, ox.Triple):
        subject, predicate, obj = (_fill(t, binding, blank_nodes) for t in (term.subject, term.predicate, term.object))
        if (
            not isinstance(subject, ox.NamedNode | ox.BlankNode | ox.Triple)  # unbound (None), or a literal
            or not isinstance(predicate, ox.NamedNode)
            or not isinstance(obj, ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple)  # unbound
        ):
            return None
        return ox.Triple(subject, predicate, obj)
    return term


def _fetch(op: Operation, graph: ox.NamedNode, request: UpdateRequest) -> set[ox.Quad]:
    """The triples of the document a LOAD names, into ``graph`` (redirects are not followed:
    they could lead off the allow-list)."""
    assert op.source is not None  # LOAD <document> names it (see _Parser)
    opener = urllib.request.build_opener(_NoRedirect)
    wanted = urllib.request.Request(op.source, headers={"Accept": ", ".join(RDF_TYPES)})
    try:
        with opener.open(wanted, timeout=request.fetch_timeout) as response:
            body = response.read(request.fetch_max_bytes + 1)
            media_type = response.headers.get_content_type()
        if len(body) > request.fetch_max_bytes:
            raise PayloadTooLarge(f"LOAD <{op.source}>: the document is larger than {request.fetch_max_bytes} bytes")
        fmt = RDF_TYPES.get(media_type) or ox.RdfFormat.from_media_type(media_type)
        if fmt is None:
            raise RemoteServiceError(f"LOAD <{op.source}>: cannot read the content type {media_type}")
        _check_document(op.source, body, fmt)
        quads = ox.parse(body, format=fmt, base_iri=op.source, rename_blank_nodes=True, without_named_graphs=True)
        return {ox.Quad(q.subject, q.predicate, q.object, graph) for q in quads}
    except (OSError, SyntaxError, RemoteServiceError) as exc:
        if op.silent:
            return set()
        if isinstance(exc, RemoteServiceError):
            raise
        raise RemoteServiceError(f"LOAD <{op.source}> failed: {exc}") from None


def _check_document(source: str, body: bytes, fmt: ox.RdfFormat) -> None:
    """The scans of an uploaded body, for a fetched one (``limits.check_rdf``)."""
    try:
        limits.check_rdf(body, fmt, "the document")
    except InvalidInput as exc:
        raise RemoteServiceError(f"LOAD <{source}>: {exc.message}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} not followed", headers, fp)
