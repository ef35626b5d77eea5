"""Guards that run on SPARQL text before evaluation: its size and nesting depth (:func:`check_text`,
first), the query form, whether the query names its own dataset, and the allow-list for
``SERVICE`` (queries) and ``LOAD`` (updates), so that a query author cannot make the server call
internal hosts.

Most checks work on tokens, so keywords inside strings, comments and IRIs are not mistaken for
calls. A token scanner cannot always tell ``<`` the IRI delimiter from ``<`` the operator, so
whenever the word SERVICE or LOAD appears anywhere in the text, the allow-list check also parses
the text with rdflib's SPARQL grammar (in a child process with a time limit: rdflib is slow) and
checks the endpoints both find; text that rdflib cannot parse is refused rather than guessed at.
With an empty allow-list (the default) no endpoint may be called, and such text is refused
without parsing it.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from aimsgraph.errors import Forbidden, PayloadTooLarge

if TYPE_CHECKING:
    from aimsgraph.config import Settings

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n\r]*)
  | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"
               |'(?:[^'\\\n\r]|\\.)*'|"(?:[^"\\\n\r]|\\.)*")
  | (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>)
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<name>(?:[A-Za-z_\u00C0-\uFFFF][\w\-.\u00B7-\uFFFF]*)?:(?:[\w\-.:%\u00B7-\uFFFF]|\\[_~.\-!$&'()*+,;=/?\#@%])*
             |[A-Za-z_][\w\-]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_REMOTE_WORD = re.compile(r"service|load", re.IGNORECASE)
#: What the nesting scan passes over: strings (an unterminated one to the end of its line, or
#: of the text for a long one, so that every attempt succeeds and the scan stays linear),
#: comments, and backslash escapes outside strings (``ex:a\#b`` is a name, not a comment). IRIs
#: are matched so that a ``#`` in them starts no comment, and kept: ``<`` may be less-than, and
#: ``?a<((1))>?b`` nests.
_SKIPPED = re.compile(
    r"""
    (?P<iri><(?:[^<>"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*+>)
  | '''(?:[^'\\]++|\\.?|'(?!''))*+(?:'''|\Z)
  | \"\"\"(?:[^"\\]++|\\.?|"(?!""))*+(?:\"\"\"|\Z)
  | '(?:[^'\\\n\r]++|\\.?)*+(?:'|\Z|(?=[\n\r]))
  | "(?:[^"\\\n\r]++|\\.?)*+(?:"|\Z|(?=[\n\r]))
  | \#[^\n\r]*
  | \\.?
    """,
    re.VERBOSE | re.DOTALL,
)
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


#: The checks of one text are remembered for texts of at most this many characters, the last
#: MEMO_ENTRIES of them per check: clients send the same few queries over and over (dashboards,
#: named queries), and scanning a query costs more than evaluating a small one. Bounded, so that
#: a client sending new texts only evicts; a refused text is never remembered (it is scanned
#: again each time, as before).
MEMO_TEXT_CHARS = 16_384
MEMO_ENTRIES = 512


def memoised(function):
    """``function`` of SPARQL text (and hashable arguments), remembered per the bounds above."""
    remembered: OrderedDict = OrderedDict()
    lock = threading.Lock()

    @functools.wraps(function)
    def wrapper(text: str, *args):
        if len(text) > MEMO_TEXT_CHARS:
            return function(text, *args)
        key = (text, *args)
        with lock:
            if key in remembered:
                remembered.move_to_end(key)
                return remembered[key]
        value = function(text, *args)
        with lock:
            remembered[key] = value
            if len(remembered) > MEMO_ENTRIES:
                remembered.popitem(last=False)
        return value

    # for tests; mypy does not model attributes set on a function
    wrapper.forget = remembered.clear  # type: ignore[attr-defined]
    return wrapper


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int = 0  # offsets in the text, so that callers can cut it at token boundaries
    end: int = 0


def check_text(text: str, settings: Settings, base_iri: str | None = None) -> None:
    """Everything checked on SPARQL text before a parser reads it, cheapest first: its length
    (AIMSGRAPH_MAX_QUERY_BYTES, 413), its nesting (AIMSGRAPH_MAX_NESTING_DEPTH, 400), then the
    SERVICE and LOAD calls against the allow-list (403)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > settings.max_query_bytes:
        raise PayloadTooLarge(
            f"the SPARQL text is {size} bytes; the limit is {settings.max_query_bytes} (AIMSGRAPH_MAX_QUERY_BYTES)"
        )
    _checked(text, settings.max_nesting_depth, tuple(settings.service_allowlist), base_iri, settings.query_timeout)


@memoised
def _checked(text: str, depth: int, allowlist: tuple[str, ...], base_iri: str | None, timeout: float) -> bool:
    """The nesting and allow-list checks of :func:`check_text`; True when they pass (remembered:
    the same text is never accepted once and refused later under the same settings)."""
    check_nesting(text, depth)
    check_remote_calls(text, allowlist, base_iri, timeout)
    return True


def check_nesting(text: str, limit: int) -> None:
    """InvalidInput if braces, brackets and parentheses nest deeper than ``limit`` outside
    strings and comments: pyoxigraph's parser recurses on each, and a query or update of a few
    thousand levels crashes the process (a query: the reader it runs in). Linear, no recursion.
    Both readings of ``\\u`` escapes are scanned: the grammar decodes them before parsing
    (rdflib does; pyoxigraph does not)."""
    # imported here: the rdflib child imports this module, and needs no Flask
    from aimsgraph import limits

    for view in {text, _decoded(text)}:
        kept = _SKIPPED.sub(lambda m: m.group("iri") or " ", view)
        if limits.deeper_than(limits.brackets_of(kept.encode("utf-8", "surrogatepass")), limit):
            raise limits.too_deep("the SPARQL text", limit)


def tokenize(text: str) -> list[Token]:
    """Split SPARQL text into tokens, dropping white space and comments."""
    return list(_tokens(text))


def _tokens(text: str):
    """The tokens of :func:`tokenize`, one at a time (a caller may stop early)."""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in ("ws", "comment"):
            yield Token(kind, match.group(), match.start(), match.end())


@memoised
def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; "UPDATE" for an update; None if unrecognised."""
    for token in _tokens(text):
        if token.kind != "name":
            continue
        word = token.text.upper()
        if word in QUERY_FORMS:
            return word
        if word in UPDATE_KEYWORDS:
            return "UPDATE"
    return None


def remote_targets(text: str, base_iri: str | None = None) -> list[tuple[str, str | None]]:
    """The (keyword, target IRI) pairs of every SERVICE and LOAD in the text.

    The target is None when it is a variable, which cannot be checked in advance.
    """
    targets: list[tuple[str, str | None]] = []
    for word, following, prefixes, base in _keywords(text, base_iri):
        if word in ("SERVICE", "LOAD"):
            if following and following[0].text.upper() == "SILENT":
                following = following[1:]
            targets.append((word, target_iri(following[0] if following else None, prefixes, base)))
    return targets


def dataset_clause(text: str, base_iri: str | None = None) -> tuple[list[str], list[str]]:
    """The IRIs of the query's FROM and FROM NAMED clauses (both empty if it has none)."""
    defaults: list[str] = []
    named: list[str] = []
    for word, following, prefixes, base in _keywords(text, base_iri):
        if word == "FROM" and following:
            is_named = following[0].kind == "name" and following[0].text.upper() == "NAMED"
            target = target_iri(following[1] if is_named and len(following) > 1 else following[0], prefixes, base)
            if target is not None:
                (named if is_named else defaults).append(target)
    return defaults, named


def _keywords(text: str, base_iri: str | None):
    """(upper-cased keyword, the tokens after it, prefixes and base in force) for every name
    token outside the prologue, tracking PREFIX and BASE declarations on the way."""
    tokens = tokenize(text)
    prefixes: dict[str, str] = {}
    base = base_iri
    i = 0
    while i < len(tokens):
        word = tokens[i].text.upper() if tokens[i].kind == "name" else ""
        if word == "PREFIX" and i + 2 < len(tokens) and tokens[i + 2].kind == "iri":
            prefixes[tokens[i + 1].text.rstrip(":")] = resolve(tokens[i + 2].text[1:-1], base)
            i += 3
            continue
        if word == "BASE" and i + 1 < len(tokens) and tokens[i + 1].kind == "iri":
            base = resolve(tokens[i + 1].text[1:-1], base)
            i += 2
            continue
        if word:
            yield word, tokens[i + 1 : i + 3], prefixes, base
        i += 1


@memoised
def has_dataset_clause(text: str) -> bool:
    """True if the query names its own dataset (FROM or FROM NAMED)."""
    return any(t.kind == "name" and t.text.upper() == "FROM" for t in tokenize(text))


@memoised
def may_call_remote(text: str) -> bool:
    """Cheap pre-check: False only when no SERVICE or LOAD can be in the text.

    The words may occur in strings, comments and IRIs ("Infrastructure services") without being
    calls, so a match is confirmed on the tokens, after decoding \\u escapes as the SPARQL
    grammar does before parsing (an escaped quote could otherwise end a string early). A
    SERVICE or LOAD cannot hide in an IRI token (it needs braces or spaces, which IRIs exclude),
    only in a string, so text whose string boundaries the scanner might misread counts as a call."""
    if _REMOTE_WORD.search(text) is None:
        return False
    tokens = tokenize(_decoded(text))
    # '<' is also less-than: "1<'>'" reads as an IRI holding a quote, which shifts every string
    # after it; such text gets the full check
    if any(t.kind == "iri" and ("'" in t.text or '"' in t.text) for t in tokens):
        return True
    return any(t.kind == "name" and t.text.upper() in ("SERVICE", "LOAD") for t in tokens)


def check_remote_calls(text: str, allowlist: tuple[str, ...], base_iri: str | None = None, timeout: float = 30.0) -> None:
    """Raise Forbidden if the text calls SERVICE or LOAD on anything not on the allow-list.

    The endpoints the tokens show are checked first. With an empty allow-list, text that may
    hold a call the tokens do not show is refused then; otherwise rdflib's parser has the last
    word, within ``timeout`` seconds (:func:`_parsed_targets`)."""
    if not may_call_remote(text):
        return
    _refuse_unless_allowed(remote_targets(text, base_iri), allowlist)
    if not allowlist:
        raise Forbidden("the text may call SERVICE or LOAD, and no endpoint may be called: AIMSGRAPH_SERVICE_ALLOWLIST is empty")
    _refuse_unless_allowed(_parsed_targets(text, base_iri, timeout), allowlist)


def _refuse_unless_allowed(targets: list[tuple[str, str | None]], allowlist: tuple[str, ...]) -> None:
    for keyword, target in targets:
        if target is None:
            raise Forbidden(
                f"{keyword} with a variable or missing endpoint is refused: "
                "only endpoints on AIMSGRAPH_SERVICE_ALLOWLIST may be called"
            )
        if not is_allowed(target, allowlist):
            raise Forbidden(f"{keyword} <{target}> is refused: the endpoint is not on AIMSGRAPH_SERVICE_ALLOWLIST")


def is_allowed(target: str, allowlist: tuple[str, ...]) -> bool:
    """True if ``target`` equals an allow-list entry or lies below it as a path.

    ``http://catalog.example`` allows ``http://catalog.example/sparql`` but not
    ``http://catalog.example.evil.net/``.
    """
    for entry in allowlist:
        if target == entry:
            return True
        if target.startswith(entry) and (entry[-1] in "/#?" or target[len(entry)] in "/#?"):
            return True
    return False


def _parsed_targets(text: str, base_iri: str | None, timeout: float) -> list[tuple[str, str | None]]:
    """SERVICE and LOAD endpoints as rdflib's SPARQL parser reads the text. rdflib can take half a
    millisecond a byte (a 50 KB query: 18 s) and recurses in Python, so it parses in a child
    process, stopped after ``timeout`` seconds: neither its time nor its memory is the server's."""
    try:
        # -P: nothing from the working directory shadows what the child imports
        child = subprocess.run(
            [sys.executable, "-P", "-m", __name__],
            input=json.dumps([text, base_iri]),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise _unverified(f"not parsed within {timeout:g} s, AIMSGRAPH_QUERY_TIMEOUT") from None
    if child.returncode != 0:
        raise _unverified(child.stderr.strip().rsplit("\n", 1)[-1] or f"exit code {child.returncode}")
    return [(keyword, target) for keyword, target in json.loads(child.stdout)]


def _unverified(reason: str) -> Forbidden:
    return Forbidden(
        "the text mentions SERVICE or LOAD but its endpoints could not be verified against "
        f"AIMSGRAPH_SERVICE_ALLOWLIST ({reason}); simplify the query"
    )


#: Address space of the child that parses with rdflib.
CHILD_MEMORY_BYTES = 1 << 30


def _main() -> None:
    """The child of :func:`_parsed_targets`: ``[text, base IRI]`` as JSON on standard input, the
    targets as JSON on standard output; on a parser error, its type on standard error and exit 1."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    text, base_iri = json.load(sys.stdin)
    try:
        targets = _rdflib_targets(text, base_iri)
    except Exception as exc:
        sys.exit(type(exc).__name__)
    json.dump(targets, sys.stdout)


def _rdflib_targets(text: str, base_iri: str | None) -> list[tuple[str, str | None]]:
    """The SERVICE and LOAD endpoints in rdflib's algebra of the text (in the child)."""
    from rdflib import URIRef
    from rdflib.plugins.sparql import algebra, parser
    from rdflib.plugins.sparql.parserutils import CompValue

    found: list[tuple[str, str | None]] = []

    def walk(node: object) -> None:
        if isinstance(node, CompValue):
            if node.name == "ServiceGraphPattern":
                term = node.get("term")
                found.append(("SERVICE", str(term) if isinstance(term, URIRef) else None))
            elif node.name == "Load":
                term = node.get("iri")
                found.append(("LOAD", str(term) if isinstance(term, URIRef) else None))
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    if query_form(text) == "UPDATE":
        walk(algebra.translateUpdate(parser.parseUpdate(text), base=base_iri).algebra)
    else:
        walk(algebra.translateQuery(parser.parseQuery(text), base=base_iri).algebra)
    return found


def target_iri(token: Token | None, prefixes: dict[str, str], base: str | None) -> str | None:
    if token is None or token.kind == "var":
        return None
    if token.kind == "iri":
        return resolve(token.text[1:-1], base)
    if token.kind == "name" and ":" in token.text:
        prefix, _, local = token.text.partition(":")
        if prefix in prefixes:
            return resolve(prefixes[prefix] + local.replace("\\", ""), None)
    # Anything else is not a valid target; report it verbatim so the refusal names it.
    return token.text


def resolve(iri: str, base: str | None) -> str:
    iri = _decoded(iri)
    return urljoin(base, iri) if base else iri


def _decoded(text: str) -> str:
    """``text`` with its \\u and \\U escapes decoded, as the grammar reads it (an escape of no
    character, such as \\UFFFFFFFF, stays as written)."""

    def character(match: re.Match) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code <= sys.maxunicode else match.group()

    return _UCHAR.sub(character, text)


# IRIs may spell characters as \uXXXX or \UXXXXXXXX; the parser decodes them, so must we.
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


if __name__ == "__main__":
    _main()
