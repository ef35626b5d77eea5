"""Importers: records written in other vocabularies turned into aimsgraph terms.

``atlas`` loads MITRE ATLAS (tactics, techniques, mitigations); ``airo`` maps an AIRO
description of AI systems and their risks onto the aimsgraph ontology, with a report of what
mapped and what did not. ``docs/importing.md`` explains the choices.

Shared here, because the command line and ``POST /api/import`` read the same inputs: reading
RDF from a file or a request body (completely, before anything is written), telling which
namespaces in a file are near misses of a vocabulary's, and :class:`NothingRecognised`.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from pathlib import Path

import pyoxigraph as ox
import yaml

from aimsgraph import limits
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import Graphs
from aimsgraph.store import guess_format, read_quads
from aimsgraph.store.record import Term

#: Media types an RDF upload may have, and how each is parsed.
RDF_MEDIA_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/x-turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "application/trig": ox.RdfFormat.TRIG,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "text/n3": ox.RdfFormat.N3,
}


class NothingRecognised(InvalidInput):
    """The input parsed, but the import understood none of it: a file in another vocabulary,
    or in this one under a misspelt namespace. Importing it would add triples that nothing
    reads, and say so nowhere; HTTP 422, exit code 2 like any bad input."""

    status = 422


def read_rdf(
    source: Path | bytes, fmt: ox.RdfFormat | None, graph: str = Graphs.DATA, base_iri: str | None = None
) -> list[ox.Quad]:
    """Every quad of a file or request body, default-graph triples moved to ``graph``, blank
    nodes renamed apart. Parsed to the end first, so a syntax error anywhere imports nothing
    (InvalidInput, naming the file). A file's format defaults to its extension's. A body is
    scanned first (``limits.check_rdf``): JSON-LD nested too deep and XML declaring entities
    are refused before the parser sees them."""
    target = ox.NamedNode(graph)
    if isinstance(source, Path):
        return read_quads(source, fmt or guess_format(source), target)[1]
    if fmt is None:
        raise InvalidInput("say what format the body is in (its Content-Type)")
    limits.check_rdf(source, fmt)
    try:
        parsed = ox.parse(source, format=fmt, base_iri=base_iri, rename_blank_nodes=True)
        return [
            ox.Quad(q.subject, q.predicate, q.object, target) if isinstance(q.graph_name, ox.DefaultGraph) else q for q in parsed
        ]
    except SyntaxError as exc:
        raise InvalidInput(f"the body is not valid {fmt.name}: {exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"the body cannot be read as {fmt.name}: {exc}") from None


_SCHEME = re.compile(r"^(https?)://", re.IGNORECASE)
_TERM = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")


def near_misses(iris: Iterable[str], namespace: str) -> dict[str, str]:
    """The namespaces among ``iris`` that are ``namespace`` written differently (other letter
    case, http instead of https or the reverse, ``/`` or nothing instead of a final ``#``),
    each with how it differs. RDF compares IRIs character by character, so a term under such a
    namespace is another term altogether, which an import would otherwise pass over in silence."""
    _, body, _ = _parts(namespace)
    found: dict[str, str] = {}
    for iri in iris:
        match = _SCHEME.match(iri)
        rest = iri[match.end() :] if match else ""
        if not match or not rest.lower().startswith(body.lower()):
            continue
        after = rest[len(body) :]
        end = after[:1] if after[:1] in ("#", "/") else ""
        if not end and not _TERM.fullmatch(after):  # .../airodocs/x is another path, not a term
            continue
        theirs = iri[: match.end()] + rest[: len(body)] + end
        if theirs != namespace:
            found.setdefault(theirs, _difference(theirs, namespace))
    return found


def _parts(namespace: str) -> tuple[str, str, str]:
    """(scheme, the part between ``://`` and the end mark, the end mark ``#``, ``/`` or "")."""
    scheme, _, rest = namespace.partition("://")
    end = rest[-1:] if rest[-1:] in ("#", "/") else ""
    return scheme, rest[: len(rest) - len(end)], end


def _difference(theirs: str, ours: str) -> str:
    (their_scheme, their_body, their_end), (our_scheme, our_body, our_end) = _parts(theirs), _parts(ours)
    how = []
    if their_body != our_body or (their_scheme != our_scheme and their_scheme.lower() == our_scheme.lower()):
        how.append("case")
    if their_scheme.lower() != our_scheme.lower():
        how.append(f"{their_scheme.lower()} instead of {our_scheme}")
    if their_end != our_end:
        how.append(f"`{their_end}` instead of `{our_end}` at the end" if their_end else f"no `{our_end}` at the end")
    return " and ".join(how)


# -- blank nodes that keep their names across imports -----------------------------------------

#: (subject, predicate, object), typed as pyoxigraph types a quad's terms.
Triple = tuple[ox.NamedNode | ox.BlankNode | ox.Triple, ox.NamedNode, Term]


def label_blank_nodes(triples: list[Triple], prefix: str) -> list[Triple]:
    """The triples with each blank node labelled by a digest of its content (its properties and
    values, blank values by their content) and its position (the nodes and properties pointing at
    it), so the same description always gets the same labels. Two blank siblings with the same
    content under the same property become one node: they said the same thing twice. Labels
    start with ``prefix`` (the importer's name), so importers never share a label by chance."""
    blanks = {t for s, _, o in triples for t in (s, o) if isinstance(t, ox.BlankNode)}
    if not blanks:
        return triples
    out: dict[ox.BlankNode, list[tuple[ox.NamedNode, object]]] = defaultdict(list)
    into: dict[ox.BlankNode, list[tuple[object, ox.NamedNode]]] = defaultdict(list)
    for s, p, o in triples:
        if isinstance(s, ox.BlankNode):
            out[s].append((p, o))
        if isinstance(o, ox.BlankNode):
            into[o].append((s, p))
    # children before parents for the content, parents before children for the position;
    # nodes on a cycle of blank nodes (rare) are described without the cycle.
    content = _in_order(
        blanks,
        needs=lambda b: [o for _, o in out[b] if isinstance(o, ox.BlankNode)],
        digest=lambda b, done: _digest(
            sorted(f"{p} {done.get(o, '_:cycle') if isinstance(o, ox.BlankNode) else o}" for p, o in out[b])
        ),
    )
    labels = _in_order(
        blanks,
        needs=lambda b: [s for s, _ in into[b] if isinstance(s, ox.BlankNode)],
        digest=lambda b, done: _digest(
            [content[b], *sorted(f"{done.get(s, '_:cycle') if isinstance(s, ox.BlankNode) else s} {p}" for s, p in into[b])]
        ),
    )
    renamed = {b: ox.BlankNode(prefix + label[:32]) for b, label in labels.items()}
    return [(renamed.get(s, s), p, renamed.get(o, o)) for s, p, o in triples]


def _in_order(nodes: set, needs: Callable, digest: Callable) -> dict:
    """``digest(node, done)`` of every node, computed once the digests of the nodes it ``needs``
    are in ``done`` (Kahn's order); nodes on a cycle get theirs without the cycle's members."""
    waiting = {node: len(set(needs(node))) for node in nodes}
    dependents: dict[object, set] = defaultdict(set)
    for node in nodes:
        for needed in needs(node):
            dependents[needed].add(node)
    done: dict = {}
    ready = deque(sorted((n for n, count in waiting.items() if count == 0), key=str))
    while ready:
        node = ready.popleft()
        done[node] = digest(node, done)
        for dependent in dependents[node]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    cyclic = {node: digest(node, done) for node in nodes if node not in done}
    return done | cyclic


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


#: safe_load's loader, with libyaml's parser where PyYAML was built with it (its wheels are):
#: the same safe constructor and results, 0.67 s → 0.10 s for the seven YAML files shipped in data/.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(source: Path | bytes, name: str) -> object:
    """A YAML document from a file or a request body, parsed safely (a data file must never
    construct objects); InvalidInput names ``name``, the line and the problem."""
    try:
        if isinstance(source, bytes):
            return yaml.load(source, Loader=_SAFE_LOADER)
        with source.open("rb") as stream:
            return yaml.load(stream, Loader=_SAFE_LOADER)
    except OSError as exc:
        raise InvalidInput(f"cannot read {name}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{name}: not valid YAML: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise InvalidInput(f"{name}: not valid YAML: nested too deeply") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return " ".join(str(exc).split())  # PyYAML's own text spans several lines
