"""The store: the only module that talks to pyoxigraph's storage.

It owns opening the on-disk store, the named-graph layout (see ``namespaces.Graphs``), first-start
initialisation (ontology, catalogue, demo), atomic loads of RDF files, dumps, and extraction of
graphs into rdflib for pyshacl and owlrl (which must never run over an oxrdflib-backed graph:
that is slow and gives wrong answers).

Every write goes through :meth:`GraphStore.write_lock` and bumps :attr:`GraphStore.generation`,
so that readers holding an older snapshot (see ``sparql.executor``) know to refresh.

The store package is the lowest layer above the base modules (``aimsgraph.errors``, ``config``,
``clock``, ``namespaces``, ``resources``, ``limits``, ``auth``). It also owns ``remote`` (the
same API over an external SPARQL 1.1 store), ``changes`` (the audit trail: every write as one
change), ``record`` (typed lookups over the stored record) and ``demo`` (the demo organisation).
May import: the base modules, and ``aimsgraph.sparql.guard`` (a leaf that reads SPARQL text).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

import pyoxigraph as ox
import rdflib

from aimsgraph import __version__, clock, resources
from aimsgraph.errors import InvalidInput, StoreUnavailable
from aimsgraph.namespaces import DCT_HAS_VERSION, GENERATED_AT, XSD_DATETIME, Graphs, is_absolute_iri
from aimsgraph.store import demo as demo_record
from aimsgraph.store.backend import QueryResult
from aimsgraph.store.remote import RawStore, RemoteStore, graph_blocks, has_blank_node, n_triples

#: File extensions the loader recognises, beyond pyoxigraph's own guesses.
EXTRA_EXTENSIONS = {"jsonld": ox.RdfFormat.JSON_LD, "owl": ox.RdfFormat.RDF_XML, "rdf": ox.RdfFormat.RDF_XML}

log = logging.getLogger(__name__)
#: The folder of saved derived data inside the store directory, and the format of its files
#: (bumped when a saved class changes shape, so that old copies are ignored).
CACHE_FOLDER = "aimsgraph-cache"
CACHE_FORMAT = f"2 {__version__}"  # 2: the dashboard shows readiness per framework

#: Files larger than this are loaded with the bulk loader (not transactional).
BULK_LOAD_BYTES = 32 * 1024 * 1024
#: Derived-graph writes with more quads than this use the bulk loader (see ``GraphStore._add``).
BULK_EXTEND_QUADS = 100_000


T = TypeVar("T")


@dataclass(frozen=True)
class _Kept(Generic[T]):
    """A value of :meth:`GraphStore.per_generation` and the generation it was computed at."""

    generation: int
    value: T


ProgressCallback = Callable[[str, Path, int, int], None]  # (phase, file, bytes done, bytes total)


@dataclass(frozen=True)
class LoadReport:
    """What a load did: the file, the graph it went to and the number of quads parsed."""

    path: Path
    graph: str
    quads: int
    bulk: bool = False  # loaded with the non-transactional bulk loader


class GraphStore:
    """An aimsgraph store over pyoxigraph. ``path=None`` keeps everything in memory; ``remote``
    puts it in an external SPARQL 1.1 store (see :mod:`aimsgraph.store.remote`)."""

    def __init__(self, path: Path | None = None, remote: RemoteStore | None = None) -> None:
        self.path = path
        self.remote = remote
        self._store: RawStore
        try:
            if remote is not None:
                self._store = remote
            elif path is None:
                self._store = ox.Store()
            else:
                path.mkdir(parents=True, exist_ok=True)
                self._store = ox.Store(str(path))
        except OSError as exc:
            raise StoreUnavailable(f"cannot open the store at {path} (is another aimsgraph process using it?): {exc}") from exc
        self._write_lock = threading.RLock()
        self._write_depth = 0
        self._counted = True  # whether the outermost write section bumps the generation
        self._generation = 0
        #: In-process copies of what is derived from the store (the findings index), each
        #: checked against the stamp it was made from before use.
        self.memo: dict[str, object] = {}
        self._started_at = 0  # the generation the service started serving at (mark_started)
        self._counting = threading.Lock()
        self._recounting = False  # a background recount of the graph sizes is running

    @classmethod
    def open(cls, settings) -> GraphStore:
        """The store the settings name: an external SPARQL store, else the on-disk one."""
        if settings.remote_query_url:
            remote = RemoteStore(
                settings.remote_query_url,
                settings.remote_update_url,
                authorization=settings.remote_authorization or None,
                timeout=settings.query_timeout,
            )
            remote.check()
            return cls(None, remote)
        return cls(settings.data_dir)

    @property
    def generation(self) -> int:
        """Counts completed write sections; with an external store, those of every instance."""
        return self.remote.generation if self.remote is not None else self._generation

    # -- reading ---------------------------------------------------------------------------

    @property
    def backend(self) -> RawStore:
        """The pyoxigraph store (or the external one), for the SPARQL executor only: every other
        module goes through the methods of this class (``tests/test_layers.py`` enforces it)."""
        return self._store

    def quads(
        self,
        subject: ox.NamedNode | ox.BlankNode | ox.Triple | None = None,
        predicate: ox.NamedNode | None = None,
        obj: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple | None = None,
        graph: ox.NamedNode | ox.BlankNode | ox.DefaultGraph | None = None,
    ) -> Iterator[ox.Quad]:
        """The stored quads that match (the backend's ``quads_for_pattern``); ``None`` matches
        anything, and a ``graph`` of None every graph."""
        return self._store.quads_for_pattern(subject, predicate, obj, graph)

    def contains(self, quad: ox.Quad) -> bool:
        """Whether the quad is stored (the backend's ``quad in store``)."""
        return quad in self._store

    def select(self, sparql: str, **options: Any) -> QueryResult:
        """Run a query with the backend's own defaults (the backend's ``query``): unlike
        :meth:`query`, the default graph is the default graph, not the union of all graphs,
        unless ``use_default_graph_as_union=True`` is given, and a syntax error is raised as
        pyoxigraph raises it. No timeout (for service requests use ``sparql.executor``)."""
        return self._store.query(sparql, **options)

    def extend(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads in one transaction (the backend's ``extend``), without taking the write
        lock or bumping the generation: callers that need them hold :meth:`write_lock`."""
        self._store.extend(quads)

    def query(self, sparql: str, **options: Any):
        """Run a read query in this process over the union of all graphs (no timeout).

        For service requests use ``sparql.executor``, which enforces the timeout.
        """
        options.setdefault("use_default_graph_as_union", True)
        try:
            return self._store.query(sparql, **options)
        except SyntaxError as exc:
            raise InvalidInput(f"SPARQL syntax error: {exc}") from exc

    def graph_sizes(self) -> dict[str, int]:
        """Number of triples in each named graph (graphs of the layout included when empty),
        counted once per generation: counting 6.5M quads takes seconds at 10,000 systems. An
        external store is counted every time: other instances write to it too."""
        if self.remote is not None:
            return self._count_graphs()
        return dict(self.per_generation("graph sizes", self._count_graphs))

    def recent_graph_sizes(self) -> tuple[dict[str, int], bool]:
        """Triple counts per named graph, and whether they are of the store as it is now. After
        a write the last counts are answered at once while a recount runs in the background:
        for monitoring, which should not wait seconds for an exact figure (``COUNT`` in SPARQL
        gives one). The first call counts; an external store is counted every time."""
        if self.remote is not None:
            return self._count_graphs(), True
        with self._counting:
            known = self.memo.get("graph sizes")
            if not isinstance(known, _Kept):
                return self.graph_sizes(), True
            if known.generation == self.generation:
                return dict(known.value), True
            if not self._recounting:
                self._recounting = True
                threading.Thread(target=self._recount, name="aimsgraph-count-graphs", daemon=True).start()
            return dict(known.value), False

    def _recount(self) -> None:
        try:
            self.graph_sizes()
        finally:
            self._recounting = False

    def _count_graphs(self) -> dict[str, int]:
        sizes = {graph: 0 for graph in Graphs.ALL}
        rows = self._store.query("SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g")
        assert isinstance(rows, ox.QuerySolutions)  # a SELECT query
        for row in rows:
            sizes[row["g"].value] = int(row["n"].value)
        return sizes

    def per_generation(self, name: str, compute: Callable[[], T]) -> T:
        """What ``compute()`` gives, kept under ``name`` until the next write (generation)."""
        generation = self.generation
        known = self.memo.get(name)
        if not isinstance(known, _Kept) or known.generation != generation:
            known = self.memo[name] = _Kept(generation, compute())
        return known.value

    def is_empty(self, graph: str) -> bool:
        return not bool(self._store.query(f"ASK {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"))

    def extract(self, graphs: Iterable[str]) -> rdflib.Graph:
        """Copy the given named graphs into one in-memory rdflib Graph (for pyshacl, owlrl)."""
        return rdflib.Graph().parse(data=self.dump(graphs, ox.RdfFormat.N_TRIPLES), format="nt")

    def dump(self, graphs: Iterable[str] | None = None, fmt: ox.RdfFormat = ox.RdfFormat.N_QUADS) -> bytes:
        """Serialise the given named graphs (all when None); triple formats merge them."""
        chosen = list(graphs) if graphs is not None else self.named_graphs()
        quads: Iterator[ox.Quad] = (
            quad for g in chosen for quad in self._store.quads_for_pattern(None, None, None, named_graph(g))
        )
        return serialize_quads(quads, fmt)

    def named_graphs(self) -> list[str]:
        return sorted(g.value for g in self._store.named_graphs() if isinstance(g, ox.NamedNode))

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def write_lock(self, counted: bool = True) -> Iterator[None]:
        """Serialise writers; readers are never blocked. Re-entrant: a commit holds it around
        several transactions, and the generation is bumped once, when the outermost one ends.
        An outermost section that is not ``counted`` leaves the generation as it is: for the
        outbox of notifications, which no cache of the record depends on (an external store
        counts every section)."""
        with self._write_lock:
            self._write_depth += 1
            if self._write_depth == 1:
                self._counted = counted
            if self._write_depth == 1 and self.remote is not None:
                self.remote.begin()  # the section's writes go to the external store as one request
            try:
                yield
            except BaseException:
                if self._write_depth == 1 and self.remote is not None:
                    self.remote.rollback()
                raise
            else:
                if self._write_depth == 1 and self.remote is not None:
                    self.remote.commit()
            finally:
                self._write_depth -= 1
                if self._write_depth == 0 and self._counted:
                    self._generation += 1

    @contextmanager
    def between_writes(self) -> Iterator[int]:
        """Wait until no write is in progress and hold writes off meanwhile (without counting as
        one); yields the generation. The query executor forks its readers here, so that no
        reader ever sees half of a change."""
        with self._write_lock:
            yield self.generation

    def load_files(
        self,
        paths: Iterable[Path],
        graph: str = Graphs.DATA,
        fmt: ox.RdfFormat | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[LoadReport]:
        """Load RDF files into ``graph``.

        Every file is parsed completely before the first write, so a syntax error anywhere
        loads nothing, and all files up to BULK_LOAD_BYTES go in with one transaction. Larger
        files use pyoxigraph's bulk loader (3.3x faster, half the memory; see the README's
        performance section), which an interrupted process can leave half done. Triples go to
        ``graph``; quads of a TriG/N-Quads file keep their own graph names.
        """
        target = named_graph(graph)
        small: list[ox.Quad] = []
        big: list[tuple[Path, ox.RdfFormat, int]] = []
        reports = []
        for path in paths:
            path_fmt = fmt or guess_format(path)
            bulk = _size(path) > BULK_LOAD_BYTES
            count, quads = read_quads(path, path_fmt, target, progress, keep=not bulk)
            small.extend(quads)
            if bulk:
                big.append((path, path_fmt, count))
            reports.append(LoadReport(path, graph, count, bulk))
        with self.write_lock():
            try:
                self._store.extend(small)  # one transaction for all the small files
                for path, path_fmt, _ in big:
                    with path.open("rb") as raw:
                        self._store.bulk_load(
                            # pyoxigraph reads any object with read(); its stub asks for typing.IO
                            _ProgressReader(raw, "loading", path, _size(path), progress),  # type: ignore[arg-type]
                            format=path_fmt,
                            base_iri=path.resolve().as_uri(),
                            to_graph=target,
                        )
            except SyntaxError as exc:  # a big file changed since it was checked
                raise InvalidInput(f"{exc}") from exc
            except OSError as exc:
                raise StoreUnavailable(f"cannot write to the store: {exc}") from exc
        return reports

    def replace_graph(self, graph: str, triples: Iterable[ox.Triple]) -> int:
        """Replace the content of a named graph in one transaction; returns its new size."""
        triples = list(triples)
        body = n_triples(triples)
        with self.write_lock():
            self._store.update(f"DROP SILENT GRAPH <{graph}> ; INSERT DATA {{ GRAPH <{graph}> {{ {body} }} }}")
        return len(triples)

    def replace_derived_graph(self, graph: str, triples: Iterable[ox.Triple | ox.Quad]) -> None:
        """Replace a derived graph (validation, analysis) quickly: clear, then one batch insert.

        Two transactions, unlike :meth:`replace_graph`, because a SPARQL ``INSERT DATA`` costs
        about 100 us a triple and a full validation of a large record writes millions; an
        interrupted replacement is repaired by the next full run.
        """
        name = named_graph(graph)
        with self.write_lock():
            self._store.clear_graph(name)
            self._add(ox.Quad(t.subject, t.predicate, t.object, name) for t in triples)

    def update(self, sparql: str) -> None:
        """Apply a SPARQL Update in one transaction (union default graph; writes name their graph)."""
        with self.write_lock():
            try:
                self._store.update(sparql)
            except SyntaxError as exc:
                raise InvalidInput(f"SPARQL Update syntax error: {exc}") from None

    def replace_quads(self, remove: Iterable[ox.Quad], add: Iterable[ox.Quad]) -> None:
        """Remove some quads and add others. For derived graphs only: the removal and the batch
        insert are separate transactions, and an interrupted change is repaired by the next
        refresh of the derived graph."""
        remove, add = list(remove), list(add)
        if not remove and not add:
            return
        with self.write_lock():
            if any(has_blank_node(q) for q in remove):
                for quad in remove:  # DELETE DATA cannot name blank nodes
                    self._store.remove(quad)
            elif self.remote is not None:
                self.remote.remove_all(remove)
            elif remove:  # one transaction: a remove() each costs milliseconds
                self._store.update(f"DELETE DATA {{ {graph_blocks(remove)} }}")
            self._add(add)

    def _add(self, quads: Iterable[ox.Quad]) -> None:
        """Add quads to a derived graph: one transaction when small; the bulk loader when large,
        because one transaction of a million quads costs about 50 us a quad against about 15."""
        quads = list(quads)
        if len(quads) > BULK_EXTEND_QUADS:
            self._store.bulk_extend(quads)
        else:
            self._store.extend(quads)

    # -- derived graphs (inferred, analysis): a prov:generatedAtTime stamp marks them current --

    def is_current(self, graph: str) -> bool:
        """True if the last refresh of a derived graph completed and no write invalidated it."""
        name = named_graph(graph)
        return any(True for _ in self._store.quads_for_pattern(name, GENERATED_AT, None, name))

    def stamp(self, graph: str) -> str | None:
        """The ``prov:generatedAtTime`` of a current derived graph (None when it is stale): it
        changes with every refresh, so it names the state a saved copy was made from."""
        name = named_graph(graph)
        for quad in self._store.quads_for_pattern(name, GENERATED_AT, None, name):
            assert not isinstance(quad.object, ox.Triple), "the stamp is a literal (see mark_current)"
            return quad.object.value
        return None

    def mark_current(self, graph: str, *extra: ox.Quad) -> None:
        """Stamp a derived graph current with a fresh ``prov:generatedAtTime`` (and ``extra``
        quads). Call it last, after the graph's content is written: the bulk loader keeps no
        order, so a stamp written with the content could land before it."""
        name = named_graph(graph)
        # to the microsecond: the stamp also names the graph's state for saved copies of it
        now = ox.Literal(clock.now().isoformat(timespec="microseconds"), datatype=ox.NamedNode(XSD_DATETIME))
        old = list(self._store.quads_for_pattern(name, GENERATED_AT, None, name))
        self.replace_quads(remove=old, add=[*extra, ox.Quad(name, GENERATED_AT, now, name)])

    def invalidate(self, *graphs: str) -> None:
        """Mark derived graphs stale before a write, so that an interrupted write is repaired."""
        stamps = [
            quad
            for graph in graphs
            for quad in self._store.quads_for_pattern(named_graph(graph), GENERATED_AT, None, named_graph(graph))
        ]
        self.replace_quads(remove=stamps, add=[])

    def flush(self) -> None:
        if self.path is not None:
            self._store.flush()

    # -- saved copies of derived data (the risk model, the findings index) --------------------

    def mark_started(self) -> None:
        """The service starts serving: saved copies of derived data are trusted, with their
        stamps, until this process writes (see :meth:`unchanged_since_start`)."""
        self._started_at = self.generation

    def unchanged_since_start(self) -> bool:
        """True while this process has not written since :meth:`mark_started`. After a write the
        stamps of the derived graphs still say whether a saved copy matches, if every write
        marked them stale first, as the service's writes do; a direct load does not, so saved
        copies are used only at start."""
        return self.generation == self._started_at

    def cache_file(self, name: str) -> Path | None:
        """Where a saved copy named ``name`` lives: a folder inside the store's directory
        (RocksDB ignores it), so it goes wherever the store goes; None for an in-memory or
        external store."""
        return None if self.path is None else self.path / CACHE_FOLDER / name

    @staticmethod
    def save_cache(path: Path, value: object) -> None:
        """Pickle ``value`` to ``path`` through a temporary file: a reader sees the old copy or
        the new, never half. Failing to save only costs the next start time, so it is logged."""
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(exist_ok=True)
            with open(temporary, "wb") as out:
                pickle.dump((CACHE_FORMAT, value), out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except OSError:
            log.warning("could not save %s", path, exc_info=True)

    @staticmethod
    def load_cache(path: Path) -> object | None:
        """What :meth:`save_cache` wrote, or None if there is none or it is of another format.
        The file is as trusted as the store beside it: whoever can write it can write the store."""
        try:
            with open(path, "rb") as saved:
                fmt, value = pickle.load(saved)
        except FileNotFoundError:
            return None
        except Exception:  # a torn or foreign file: the caller computes again
            log.warning("ignoring the unreadable saved copy %s", path, exc_info=True)
            return None
        return value if fmt == CACHE_FORMAT else None

    # -- first start -----------------------------------------------------------------------

    def initialise(self, demo: bool = True, on: date | None = None) -> dict[str, str]:
        """Bring reference graphs up to date and, on an empty store, load the demo dated for
        ``on`` (default today; see :mod:`aimsgraph.store.demo`).

        Idempotent: the ontology, catalogue, frameworks and vocabularies graphs are replaced only when their source
        files changed (their digest is kept in the graph as ``dct:hasVersion``); the data
        graph is never touched once it has content.
        """
        actions: dict[str, str] = self._sync_references(
            {
                Graphs.ONTOLOGY: resources.ontology_files(),
                Graphs.CATALOGUE: resources.catalogue_files(),
                Graphs.FRAMEWORKS: resources.framework_files(),
                Graphs.VOCABULARIES: resources.vocabulary_files(),
            }
        )
        if demo and self.is_empty(Graphs.DATA):
            dated = demo_record.quads(named_graph(Graphs.DATA), clock.as_of(on))
            with self.write_lock():
                self._store.extend(dated)
            actions[Graphs.DATA] = "loaded demo"
        self.flush()
        return actions

    def _sync_reference(self, graph: str, files: list[Path]) -> str:
        """Bring one reference graph up to date with ``files``: "loaded" or "up to date"."""
        return self._sync_references({graph: files})[graph]

    def _sync_references(self, sources: dict[str, list[Path]]) -> dict[str, str]:
        """Reload each reference graph whose source files changed since it was loaded (their
        digest is the graph's ``dct:hasVersion``); says "loaded" or "up to date" per graph."""
        digests = {graph: "sha256:" + _digest(files) for graph, files in sources.items()}
        stale = [graph for graph in sources if not self._has_version(graph, digests[graph])]
        # Parsed before the first write, so that a syntax error in any file writes nothing; in
        # memory the backend parses as it loads, which is faster the first time (0.11 s for the
        # 27 files against 0.2 s through Python objects). Either way the quads are kept for the
        # next store this process initialises (see _PARSED_REFERENCES).
        in_memory = self.path is None and self.remote is None
        parsed = {graph: _PARSED_REFERENCES.get((graph, digests[graph])) for graph in stale}
        for graph in stale:
            if parsed[graph] is None and not in_memory:
                parsed[graph] = list(_reference_quads(graph, sources[graph]))
        for graph in stale:
            self._load_reference(graph, sources[graph], digests[graph], parsed[graph])
            _keep_parsed(graph, digests[graph], parsed[graph], self._reference_content)
        return {graph: "loaded" if graph in stale else "up to date" for graph in sources}

    def _reference_content(self, graph: str, digest: str) -> list[ox.Quad]:
        """A freshly loaded reference graph's quads, its version stamp left out."""
        name = ox.NamedNode(graph)
        return [q for q in self._store.quads_for_pattern(None, None, None, name) if q.object != ox.Literal(digest)]

    def _has_version(self, graph: str, digest: str) -> bool:
        version = self._store.query(f"SELECT ?v WHERE {{ GRAPH <{graph}> {{ <{graph}> <{DCT_HAS_VERSION}> ?v }} }}")
        assert isinstance(version, ox.QuerySolutions)  # a SELECT query
        return any(row["v"].value == digest for row in version)

    def _load_reference(self, graph: str, files: list[Path], digest: str, quads: list[ox.Quad] | None) -> None:
        """Replace a reference graph with its files' content (``quads``, when parsed already)."""
        name = ox.NamedNode(graph)
        stamp = ox.Quad(name, ox.NamedNode(DCT_HAS_VERSION), ox.Literal(digest), name)
        with self.write_lock():
            # Clear, load, and the digest last: an interruption leaves no digest, so the next start
            # loads the graph again, which is also why the bulk loader (not transactional) will do.
            self._store.clear_graph(name)
            if quads is not None:
                # one bulk write a graph: on disk each makes new RocksDB files (0.35 s for the 27
                # files, against 0.7 s with a bulk load a file)
                self._store.bulk_extend(quads)
            else:
                for path in files:
                    try:
                        self._store.bulk_load(
                            path.read_bytes(), format=guess_format(path), to_graph=name, base_iri=path.resolve().as_uri()
                        )
                    except SyntaxError as exc:
                        raise InvalidInput(f"{path}: {exc}") from None
            self._store.extend([stamp])
            # what was kept of the store's content (the reasoner's schema, findings, counts) may
            # have changed with the graph: computed again when next asked for
            self.memo.clear()


#: The parsed quads of each reference graph, by (graph, digest of its files): a process that
#: initialises several stores (the API's validation of a posted record, the review pack's past
#: record, diff-record's two sides, the tests) parses the 27 files once. Adding the kept quads
#: takes 0.06 s in memory against 0.11 s for parsing; one version per graph is kept (~50,000
#: quads in all). A store in memory loads the files directly the first time (reading the quads
#: back would cost a one-off command 0.09 s) and keeps them when a second store loads them.
_PARSED_REFERENCES: dict[tuple[str, str], list[ox.Quad] | None] = {}


def _keep_parsed(graph: str, digest: str, quads: list[ox.Quad] | None, read_back: Callable[[str, str], list[ox.Quad]]) -> None:
    key = (graph, digest)
    if quads is None and key in _PARSED_REFERENCES:  # loaded from the files once before
        quads = read_back(graph, digest)
    for other in [k for k in list(_PARSED_REFERENCES) if k[0] == graph and k != key]:
        _PARSED_REFERENCES.pop(other, None)  # another thread may have done it
    _PARSED_REFERENCES[key] = quads


def _reference_quads(graph: str, files: list[Path]) -> Iterator[ox.Quad]:
    """The quads of reference files, their triples in ``graph`` and their blank nodes renamed
    apart, as the bulk loader reads them (``_:b0`` in two files are two nodes)."""
    name = ox.NamedNode(graph)
    for path in files:
        try:
            for quad in ox.parse(path=path, format=guess_format(path), base_iri=path.resolve().as_uri(), rename_blank_nodes=True):
                in_default = isinstance(quad.graph_name, ox.DefaultGraph)
                yield ox.Quad(quad.subject, quad.predicate, quad.object, name) if in_default else quad
        except SyntaxError as exc:
            raise InvalidInput(f"{path}: {exc}") from None


def serialize_quads(quads: Iterable[ox.Quad], fmt: ox.RdfFormat) -> bytes:
    """Quads in ``fmt``; a triple format merges their graphs."""
    if fmt.supports_datasets:
        data = ox.serialize(quads, format=fmt)
    else:
        data = ox.serialize((ox.Triple(q.subject, q.predicate, q.object) for q in quads), format=fmt)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    return data


def guess_format(path: Path) -> ox.RdfFormat:
    """The RDF format of a file from its extension; InvalidInput if unknown."""
    extension = path.suffix.lstrip(".").lower()
    fmt = EXTRA_EXTENSIONS.get(extension) or ox.RdfFormat.from_extension(extension)
    if fmt is None:
        raise InvalidInput(f"{path}: cannot tell the RDF format from the extension '.{extension}' (use --format)")
    return fmt


def read_quads(
    path: Path,
    fmt: ox.RdfFormat,
    graph: ox.NamedNode,
    progress: ProgressCallback | None = None,
    keep: bool = True,
) -> tuple[int, list[ox.Quad]]:
    """Parse a file completely: its quad count and (when ``keep``) its quads, with default-graph
    triples moved to ``graph``. InvalidInput names the file, line and problem.

    pyoxigraph's parsers never fetch external entities or remote JSON-LD contexts, so parsing
    an untrusted file cannot make the server read local files or call other hosts.
    """
    quads: list[ox.Quad] = []
    count = 0
    try:
        with path.open("rb") as raw:
            reader = _ProgressReader(raw, "checking", path, _size(path), progress)
            # blank nodes renamed apart: _:b1 in two files (or two loads) are two nodes
            # the reader is no typing.IO, which pyoxigraph's stub asks for: it reads any object with read()
            parsed = ox.parse(reader, format=fmt, base_iri=path.resolve().as_uri(), rename_blank_nodes=True)  # type: ignore[arg-type]
            for quad in parsed:
                count += 1
                if keep:
                    if isinstance(quad.graph_name, ox.DefaultGraph):
                        quad = ox.Quad(quad.subject, quad.predicate, quad.object, graph)
                    quads.append(quad)
    except SyntaxError as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path}: not UTF-8 text ({exc.reason})") from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        assert exc.strerror is not None  # set by every failed file-system call
        raise InvalidInput(f"{path}: {exc.strerror.lower()}") from None
    return count, quads


def named_graph(iri: str) -> ox.NamedNode:
    """A graph name; InvalidInput unless it is an absolute IRI."""
    if not is_absolute_iri(iri):
        raise InvalidInput(f"a graph name must be an absolute IRI, got {iri!r}")
    return ox.NamedNode(iri)


def _size(path: Path) -> int:
    try:
        if path.is_dir():
            raise InvalidInput(f"{path}: is a directory")
        return path.stat().st_size
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None


class _ProgressReader:
    """A binary file wrapper that reports how many bytes have been read."""

    def __init__(self, raw: BinaryIO, phase: str, path: Path, total: int, progress: ProgressCallback | None) -> None:
        self._raw, self._phase, self._path, self._total = raw, phase, path, total
        self._progress, self._done = progress, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        self._done += len(chunk)
        if self._progress is not None:
            self._progress(self._phase, self._path, self._done, self._total)
        return chunk

    def readinto(self, buffer: bytearray) -> int:
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
