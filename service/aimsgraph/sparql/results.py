"""Result formats: the media types /sparql produces, their short names, and the writers for
capped results.

Query answers are written by pyoxigraph's own serialisers (:func:`write_query_solutions`,
:func:`write_query_triples`), not row by row in Python: a result is first written in a format
with one line per row (TSV for SELECT, N-Triples for CONSTRUCT/DESCRIBE, both escape line
breaks inside terms), so that counting lines counts rows; the writer stops the serialiser, and
with it the evaluation, as soon as the row past AIMSGRAPH_RESULT_LIMIT arrives, and the text is
cut after the last whole row. It is then parsed and written again in the format asked for, also
by pyoxigraph (about 0.5 us a row, against 50-150 us a row in Python). The Python writers below
(:func:`write_solutions`) stay for rows the service builds itself and for the one thing
pyoxigraph writes differently: triple terms in CSV.

RDF 1.2 triple terms: JSON and XML use the ``triple`` form of the SPARQL 1.2 drafts; TSV
writes ``<<( s p o )>>`` as pyoxigraph's own TSV serialiser does (and its parser reads); CSV,
which SPARQL 1.1 defines for IRIs, literals and blank nodes only, writes the N-Triples-star
form ``<< s p o >>`` with every inner term in N-Triples syntax, so that a cell stays
unambiguous (plain CSV values inside would run together).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from aimsgraph.namespaces import XSD_STRING

#: SELECT/ASK media types in the server's order of preference (the first is the default).
SOLUTION_TYPES = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "application/json",
    "application/xml",
]

#: CONSTRUCT/DESCRIBE media types (and the service description) -> pyoxigraph format.
GRAPH_TYPES: dict[str, ox.RdfFormat] = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/trig": ox.RdfFormat.TRIG,
    "application/n-quads": ox.RdfFormat.N_QUADS,
    "text/plain": ox.RdfFormat.N_TRIPLES,
    "application/x-turtle": ox.RdfFormat.TURTLE,
}

#: The media types of one graph (not a dataset): the Graph Store Protocol and exports.
TRIPLE_TYPES = [t for t in GRAPH_TYPES if t not in ("application/trig", "application/n-quads")]

#: Short names for the ``format`` and ``output`` parameters (Fuseki's and Virtuoso's names, and
#: what SPARQLWrapper sends): name -> (media type for SELECT/ASK, for CONSTRUCT/DESCRIBE), None
#: where the name means nothing for that kind of result.
FORMAT_NAMES: dict[str, tuple[str | None, str | None]] = {
    "json": ("application/sparql-results+json", "application/ld+json"),
    "xml": ("application/sparql-results+xml", "application/rdf+xml"),
    "csv": ("text/csv", None),
    "tsv": ("text/tab-separated-values", None),
    "turtle": (None, "text/turtle"),
    "ttl": (None, "text/turtle"),
    "n3": (None, "text/turtle"),  # SPARQLWrapper's N3; Turtle is N3 without its extensions
    "ntriples": (None, "application/n-triples"),
    "nt": (None, "application/n-triples"),
    "jsonld": (None, "application/ld+json"),
    "json-ld": (None, "application/ld+json"),
    "rdfxml": (None, "application/rdf+xml"),
    "rdf+xml": (None, "application/rdf+xml"),  # SPARQLWrapper's RDFXML
    "rdf": (None, "application/rdf+xml"),  # SPARQLWrapper's RDF
    "nquads": (None, "application/n-quads"),
    "trig": (None, "application/trig"),
}

# Plain JSON/XML requests are answered with the SPARQL result formats.
_ALIASES = {"application/json": "application/sparql-results+json", "application/xml": "application/sparql-results+xml"}


def canonical_solution_type(media_type: str) -> str:
    return _ALIASES.get(media_type, media_type)


def named_types(value: str) -> tuple[str | None, str | None] | None:
    """The media types (for SELECT/ASK, for CONSTRUCT/DESCRIBE) a ``format``/``output`` value
    asks for: a short name of FORMAT_NAMES or a media type; None when it is neither. A list
    (SPARQLWrapper sends its Accept list for JSON-LD) is read in order: the first known entry wins."""
    for entry in value.split(","):
        # '+' in a hand-typed URL arrives as a space (application/sparql-results+json)
        entry = entry.split(";")[0].strip().lower().replace(" ", "+")
        if entry in FORMAT_NAMES:
            return FORMAT_NAMES[entry]
        if entry in SOLUTION_TYPES or entry in GRAPH_TYPES:
            return (entry if entry in SOLUTION_TYPES else None, entry if entry in GRAPH_TYPES else None)
    return None


def on_offer(graph: bool) -> str:
    """The formats of one kind of result, as media types and short names, for error messages."""
    if graph:
        types, names = list(GRAPH_TYPES), [n for n, (_, g) in FORMAT_NAMES.items() if g]
    else:
        types, names = [t for t in SOLUTION_TYPES if t not in _ALIASES], [n for n, (s, _) in FORMAT_NAMES.items() if s]
    return f"{', '.join(types)} (format= or output= {', '.join(names)})"


#: pyoxigraph's name for each SELECT/ASK media type.
RESULTS_FORMATS: dict[str, ox.QueryResultsFormat] = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}


class _Full(Exception):
    """Raised by :class:`_LineCap` to stop a serialiser once the row past the limit arrived."""


class _LineCap:
    """A binary output for pyoxigraph's serialisers (which write to it in blocks of about 8 KB)
    that keeps what it gets and stops the serialiser, by raising :class:`_Full` from ``write``,
    once more than ``most`` whole lines have arrived."""

    def __init__(self, most: int) -> None:
        self.most, self.lines, self.full = most, 0, False
        self.chunks: list[bytes] = []

    def write(self, data) -> int:
        if self.full:  # the serialiser's buffer tries again as it is dropped: keep nothing more
            raise _Full()
        data = bytes(data)
        self.chunks.append(data)
        self.lines += data.count(b"\n")
        if self.lines > self.most:
            self.full = True
            raise _Full()
        return len(data)

    def flush(self) -> None:
        pass

    def cut(self) -> tuple[bytes, int, bool]:
        """(the text up to the end of line ``most`` at most, its lines, whether more came)"""
        if self.lines <= self.most:
            return b"".join(self.chunks), self.lines, False
        last = self.chunks[-1]
        end = -1
        for _ in range(self.most - (self.lines - last.count(b"\n"))):
            end = last.index(b"\n", end + 1)
        return b"".join(self.chunks[:-1]) + last[: end + 1], self.most, True


def _capped(answer: ox.QuerySolutions | ox.QueryTriples, fmt, most: int) -> tuple[bytes, int, bool]:
    """Serialise ``answer`` in a line-per-row ``fmt``, stopped after ``most`` lines (see _LineCap)."""
    out = _LineCap(most)
    try:
        # pyoxigraph writes to any object with write(); its stub asks for typing.IO
        answer.serialize(out, format=fmt)  # type: ignore[arg-type]
    except _Full:
        pass
    except OSError:
        if not out.full:  # a failed SERVICE call, say: the caller reports it
            raise
    return out.cut()


def write_query_solutions(solutions: ox.QuerySolutions, media_type: str, limit: int) -> tuple[bytes, int, bool]:
    """A SELECT answer in one of SOLUTION_TYPES, by pyoxigraph's serialisers, with at most
    ``limit`` rows: (body, rows, whether rows were left out). Rows are evaluated only up to the
    first one past the limit."""
    media_type = canonical_solution_type(media_type)
    fmt = RESULTS_FORMATS.get(media_type)
    if fmt is None:
        raise ValueError(f"not a solution media type: {media_type}")
    # TSV: a header line, then a line per row (tabs and line breaks in literals are escaped)
    tsv, lines, truncated = _capped(solutions, ox.QueryResultsFormat.TSV, limit + 1)
    rows = max(0, lines - 1)
    if fmt == ox.QueryResultsFormat.TSV:
        return tsv, rows, truncated
    parsed = ox.parse_query_results(tsv, format=ox.QueryResultsFormat.TSV)
    assert isinstance(parsed, ox.QuerySolutions)  # TSV results are solutions (it has no boolean form)
    if fmt == ox.QueryResultsFormat.CSV and b"<<(" in tsv:
        # a triple term, perhaps (or the text in a literal): pyoxigraph's CSV writes one as its
        # three values run together, ours in an unambiguous N-Triples form (module docstring)
        variables = [v.value for v in parsed.variables]
        return _csv_solutions(variables, [[s[v] for v in variables] for s in parsed]), rows, truncated
    body = parsed.serialize(format=fmt)
    assert body is not None  # given no output, pyoxigraph returns the bytes
    return body, rows, truncated


def write_query_triples(
    triples: ox.QueryTriples | list[ox.Triple], media_type: str, limit: int, prefixes: dict[str, str]
) -> tuple[bytes, int, bool]:
    """A CONSTRUCT/DESCRIBE answer in one of GRAPH_TYPES, by pyoxigraph's serialisers, with at
    most ``limit`` triples: (body, triples, whether triples were left out)."""
    fmt = GRAPH_TYPES[media_type]
    if not isinstance(triples, ox.QueryTriples):  # an external store's answer: parsed quads already
        taken = list(itertools.islice(triples, limit + 1))
        return write_graph(taken[:limit], media_type, prefixes), min(len(taken), limit), len(taken) > limit
    # N-Triples: a line per triple (line breaks in literals are escaped)
    text, count, truncated = _capped(triples, ox.RdfFormat.N_TRIPLES, limit)
    if fmt == ox.RdfFormat.N_TRIPLES:
        return text, count, truncated
    parsed = (q.triple for q in ox.parse(text, format=ox.RdfFormat.N_TRIPLES))
    return write_graph(parsed, media_type, prefixes), count, truncated


def write_solutions(variables: list[str], rows: list[list[object | None]], media_type: str) -> bytes:
    """Serialise SELECT rows (terms or None per variable) in one of SOLUTION_TYPES."""
    media_type = canonical_solution_type(media_type)
    if media_type == "application/sparql-results+json":
        return _json_solutions(variables, rows)
    if media_type == "application/sparql-results+xml":
        return _xml_solutions(variables, rows)
    if media_type == "text/csv":
        return _csv_solutions(variables, rows)
    if media_type == "text/tab-separated-values":
        return _tsv_solutions(variables, rows)
    raise ValueError(f"not a solution media type: {media_type}")


def write_boolean(value: bool, media_type: str) -> bytes:
    """Serialise an ASK result."""
    media_type = canonical_solution_type(media_type)
    if media_type == "application/sparql-results+json":
        return json.dumps({"head": {}, "boolean": value}).encode()
    if media_type == "application/sparql-results+xml":
        return (
            '<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{'true' if value else 'false'}</boolean></sparql>\n"
        ).encode()
    # CSV/TSV define no boolean form; this is the convention Apache Jena uses.
    word = "true" if value else "false"
    if media_type == "text/csv":
        return f"_askResult\r\n{word}\r\n".encode()
    return f"?_askResult\n{word}\n".encode()


def write_graph(triples: Iterable[ox.Triple], media_type: str, prefixes: dict[str, str]) -> bytes:
    """Serialise CONSTRUCT/DESCRIBE triples in one of GRAPH_TYPES."""
    fmt = GRAPH_TYPES[media_type]
    if fmt.supports_datasets:
        items: Iterable = (ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in triples)
    else:
        items = triples
    if fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.RDF_XML):
        data = ox.serialize(items, format=fmt, prefixes=prefixes)
    else:
        data = ox.serialize(items, format=fmt)
    assert data is not None  # given no output, pyoxigraph returns the bytes
    return data


def _json_term(term: object) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, ox.Triple):
        return {
            "type": "triple",
            "value": {
                "subject": _json_term(term.subject),
                "predicate": _json_term(term.predicate),
                "object": _json_term(term.object),
            },
        }
    raise TypeError(f"unexpected term {term!r}")


def _json_solutions(variables: list[str], rows: list[list[object | None]]) -> bytes:
    bindings = [{var: _json_term(value) for var, value in zip(variables, row, strict=True) if value is not None} for row in rows]
    return json.dumps({"head": {"vars": variables}, "results": {"bindings": bindings}}, ensure_ascii=False).encode()


def _xml_term(term: object) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    if isinstance(term, ox.Triple):
        return (
            f"<triple><subject>{_xml_term(term.subject)}</subject>"
            f"<predicate>{_xml_term(term.predicate)}</predicate>"
            f"<object>{_xml_term(term.object)}</object></triple>"
        )
    raise TypeError(f"unexpected term {term!r}")


def _xml_solutions(variables: list[str], rows: list[list[object | None]]) -> bytes:
    out = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
    out.extend(f"<variable name={quoteattr(v)}/>" for v in variables)
    out.append("</head><results>")
    for row in rows:
        out.append("<result>")
        for var, value in zip(variables, row, strict=True):
            if value is not None:
                out.append(f"<binding name={quoteattr(var)}>{_xml_term(value)}</binding>")
        out.append("</result>")
    out.append("</results></sparql>\n")
    return "".join(out).encode()


def _csv_value(term: object | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, (ox.NamedNode, ox.Literal)):
        return term.value
    if isinstance(term, ox.Triple):
        return _triple_term(term, "<< ", " >>")
    return str(term)


def _triple_term(triple: ox.Triple, opening: str, closing: str) -> str:
    """A triple term in N-Triples syntax between ``opening`` and ``closing``, nested ones too."""
    parts = (
        _triple_term(t, opening, closing) if isinstance(t, ox.Triple) else str(t)
        for t in (triple.subject, triple.predicate, triple.object)
    )
    return opening + " ".join(parts) + closing


def _csv_solutions(variables: list[str], rows: list[list[object | None]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(variables)
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
    return buffer.getvalue().encode()


def _tsv_value(term: object | None) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.Triple):
        # str() of a triple leaves out the outer <<( )>> (and writes the nested ones)
        return _triple_term(term, "<<( ", " )>>")
    # str() of a pyoxigraph term is its N-Triples form, which is what TSV results use.
    return str(term).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _tsv_solutions(variables: list[str], rows: list[list[object | None]]) -> bytes:
    lines = ["\t".join(f"?{v}" for v in variables)]
    lines.extend("\t".join(_tsv_value(v) for v in row) for row in rows)
    return ("\n".join(lines) + "\n").encode()
