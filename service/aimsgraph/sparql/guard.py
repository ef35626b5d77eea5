"""Guards that run on SPARQL text before evaluation: the query form, whether the query names
its own dataset, and the allow-list for ``SERVICE`` (queries) and ``LOAD`` (updates), so that a
query author cannot make the server call internal hosts.

Most checks work on tokens, so keywords inside strings, comments and IRIs are not mistaken for
calls. A token scanner cannot always tell ``<`` the IRI delimiter from ``<`` the operator, so
whenever the word SERVICE or LOAD appears anywhere in the text, the allow-list check also parses
the text with rdflib's SPARQL grammar and checks the endpoints both find; text that rdflib
cannot parse is refused rather than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

from aimsgraph.errors import Forbidden

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
QUERY_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
UPDATE_KEYWORDS = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int = 0  # offsets in the text, so that callers can cut it at token boundaries
    end: int = 0


def tokenize(text: str) -> list[Token]:
    """Split SPARQL text into tokens, dropping white space and comments."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
    return tokens


def query_form(text: str) -> str | None:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; "UPDATE" for an update; None if unrecognised."""
    for token in tokenize(text):
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
            yield word, tokens[i + 1:i + 3], prefixes, base
        i += 1


def has_dataset_clause(text: str) -> bool:
    """True if the query names its own dataset (FROM or FROM NAMED)."""
    return any(t.kind == "name" and t.text.upper() == "FROM" for t in tokenize(text))


def may_call_remote(text: str) -> bool:
    """Cheap pre-check: False only when no SERVICE or LOAD can be in the text.

    The words may occur in strings, comments and IRIs ("Infrastructure services") without being
    calls, so a match is confirmed on the tokens, after decoding \\u escapes as the SPARQL
    grammar does before parsing (an escaped quote could otherwise end a string early). A
    SERVICE or LOAD cannot hide in an IRI token (it needs braces or spaces, which IRIs exclude),
    only in a string, so text whose string boundaries the scanner might misread counts as a call."""
    if _REMOTE_WORD.search(text) is None:
        return False
    tokens = tokenize(_UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text))
    # '<' is also less-than: "1<'>'" reads as an IRI holding a quote, which shifts every string
    # after it; such text gets the full check
    if any(t.kind == "iri" and ("'" in t.text or '"' in t.text) for t in tokens):
        return True
    return any(t.kind == "name" and t.text.upper() in ("SERVICE", "LOAD") for t in tokens)


def check_remote_calls(text: str, allowlist: tuple[str, ...], base_iri: str | None = None) -> None:
    """Raise Forbidden if the text calls SERVICE or LOAD on anything not on the allow-list."""
    if not may_call_remote(text):
        return
    targets = remote_targets(text, base_iri) + _parsed_targets(text, base_iri)
    for keyword, target in targets:
        if target is None:
            raise Forbidden(
                f"{keyword} with a variable or missing endpoint is refused: "
                "only endpoints on AIMSGRAPH_SERVICE_ALLOWLIST may be called"
            )
        if not is_allowed(target, allowlist):
            raise Forbidden(
                f"{keyword} <{target}> is refused: the endpoint is not on AIMSGRAPH_SERVICE_ALLOWLIST"
            )


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


def _parsed_targets(text: str, base_iri: str | None) -> list[tuple[str, str | None]]:
    """SERVICE and LOAD endpoints as rdflib's SPARQL parser reads the text."""
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

    try:
        if query_form(text) == "UPDATE":
            walk(algebra.translateUpdate(parser.parseUpdate(text), base=base_iri).algebra)
        else:
            walk(algebra.translateQuery(parser.parseQuery(text), base=base_iri).algebra)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "cannot verify"
        raise Forbidden(
            "the text mentions SERVICE or LOAD but its endpoints could not be verified against "
            f"AIMSGRAPH_SERVICE_ALLOWLIST ({type(exc).__name__}); simplify the query"
        ) from None
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
    iri = _UCHAR.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), iri)
    return urljoin(base, iri) if base else iri


# IRIs may spell characters as \uXXXX or \UXXXXXXXX; the parser decodes them, so must we.
_UCHAR = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
