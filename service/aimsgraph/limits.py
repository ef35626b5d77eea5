"""Limits on what one request can make the service do: the scans that refuse hostile input
before any parser sees it. (The rate limits of callers without a token are HTTP matters:
``api.ratelimit``.)

Why scans first: pyoxigraph's SPARQL and JSON-LD parsers recurse once a nesting level, with
2.5 to 4 KB of stack each. A few thousand levels overflow the thread's stack and the process dies
(SIGSEGV), which no ``except`` catches; Python's json gives up near 1,000 (RecursionError). An
XML entity declaration can expand without bound (a 1.4 KB RDF/XML "billion laughs" took 9 GB).
So bodies are scanned in linear time, without recursion, and refused with a 4xx naming what to
change: nesting deeper than AIMSGRAPH_MAX_NESTING_DEPTH (JSON and JSON-LD here, SPARQL in
``sparql.guard`` with :func:`deeper_than`), and any DOCTYPE or ENTITY declaration in XML (no
setting: entities are never expanded). Turtle, TriG, N-Triples, N-Quads and N3 need no scan:
pyoxigraph reads their nesting without recursion.
"""

from __future__ import annotations

import re

import pyoxigraph as ox

from aimsgraph.config import Settings
from aimsgraph.errors import InvalidInput

#: Brackets that open a level; any other bracket closes one.
_OPENING = frozenset(b"{[(")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"{}[]()")
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"{}[]()')
#: Bytes of JSON split at a time when telling strings apart (bounds the pieces held at once).
_SLICE = 1 << 20
#: ``<!DOCTYPE`` and ``<!ENTITY`` in any letter case (pyoxigraph reads ``<!doctype`` too).
_DECLARATION = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_JSON_EXTENSIONS = (".json", ".jsonld")
_XML_EXTENSIONS = (".rdf", ".owl", ".xml")


# -- nesting and declarations ---------------------------------------------------------------


_nesting = {"limit": Settings.max_nesting_depth}


def configure(settings: Settings) -> None:
    """Take the process's limits from its settings (``create_app`` and the CLI call it): the
    parsers that need them run deep inside importers and the SPARQL guard, which see no settings."""
    _nesting["limit"] = settings.max_nesting_depth


def nesting_limit() -> int:
    """AIMSGRAPH_MAX_NESTING_DEPTH of this process."""
    return _nesting["limit"]


def deeper_than(brackets: bytes, limit: int) -> bool:
    """True if ``brackets`` (nothing but brackets) nest deeper than ``limit``. A close with
    nothing open counts for nothing, so stray closes (in an IRI, say) cannot hide opens."""
    if sum(brackets.count(opening) for opening in (b"{", b"[", b"(")) <= limit:
        return False  # too few to nest that deep: the common case, at C speed
    depth = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif depth:
            depth -= 1
    return False


def brackets_of(text: bytes) -> bytes:
    """The brackets of ``text``, in order, and nothing else."""
    return text.translate(None, _NOT_BRACKETS)


def too_deep(what: str, limit: int) -> InvalidInput:
    return InvalidInput(f"{what} nests deeper than {limit} levels (AIMSGRAPH_MAX_NESTING_DEPTH)")


def check_json(data: bytes, what: str = "the body") -> None:
    """InvalidInput if the JSON or JSON-LD in ``data`` nests deeper than the limit; brackets in
    strings are text. Exact for UTF-8, which is all pyoxigraph reads (Python's json, which reads
    UTF-16 too, stops such input itself with RecursionError)."""
    limit = nesting_limit()
    if deeper_than(_json_brackets(data), limit):
        raise too_deep(what, limit)


def _json_brackets(data: bytes) -> bytes:
    """The brackets of JSON outside its strings, with bytes operations only (a regular expression
    over millions of strings took 15 s on 60 MB). Escapes go first, paired from the left as JSON
    reads them (``\\\\``, then ``\\"``); then all but quotes and brackets, then the ``""`` that
    leaves of strings without brackets, which changes no bracket's count of quotes before it.
    A bracket after an odd number of quotes is in a string. (A backslash outside a string reads
    differently here, but a parser stops at it.)"""
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    kept = unescaped.translate(None, _NOT_QUOTES_OR_BRACKETS).replace(b'""', b"")
    outside, inside = [], 0
    for start in range(0, len(kept), _SLICE):
        pieces = kept[start : start + _SLICE].split(b'"')
        outside.append(b"".join(pieces[inside::2]))
        inside = (inside + len(pieces) - 1) % 2
    return b"".join(outside)


def refuse_declarations(data: bytes, what: str = "the body") -> None:
    """InvalidInput if the XML holds a DOCTYPE or ENTITY declaration anywhere (its internal
    subset included), in any letter case, even with UTF-16's zero bytes between the letters.
    RDF needs neither, and entities expand without bound."""
    if _DECLARATION.search(data.replace(b"\0", b"") if b"\0" in data else data):
        raise InvalidInput(
            f"{what} is XML with a DOCTYPE or entity declarations, which are refused (entities can "
            "expand without bound): expand them, or send Turtle"
        )


def check_document(data: bytes, media_type: str, filename: str = "", what: str = "the body") -> None:
    """The scans a body or uploaded file needs before a parser reads it, by what it says it is:
    its media type, or its file name's extension (a Graph Store upload goes by either)."""
    media_type, filename = media_type.lower(), filename.lower()
    if media_type == "application/json" or media_type.endswith("+json") or filename.endswith(_JSON_EXTENSIONS):
        check_json(data, what)
    if media_type in ("application/xml", "text/xml") or media_type.endswith("+xml") or filename.endswith(_XML_EXTENSIONS):
        refuse_declarations(data, what)


def check_rdf(data: bytes, fmt: ox.RdfFormat, what: str = "the body") -> None:
    """:func:`check_document` for an RDF format rather than a media type."""
    check_document(data, fmt.media_type, what=what)
