"""The SERVICE/LOAD allow-list guard and query-form detection work on tokens, not substrings."""

from __future__ import annotations

import pytest

from aimsgraph.errors import Forbidden
from aimsgraph.sparql.guard import check_remote_calls, is_allowed, query_form, remote_targets

ALLOW = ("http://catalog.example/sparql",)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("SELECT * WHERE { SERVICE <http://a.example/q> { ?s ?p ?o } }", [("SERVICE", "http://a.example/q")]),
        ("select * where { service silent <http://a.example/q> {} }", [("SERVICE", "http://a.example/q")]),
        ("PREFIX e: <http://a.example/> SELECT * { SERVICE e:q {} }", [("SERVICE", "http://a.example/q")]),
        ("BASE <http://a.example/x/> SELECT * { SERVICE <../q> {} }", [("SERVICE", "http://a.example/q")]),
        ("SELECT * { SERVICE ?endpoint {} }", [("SERVICE", None)]),
        ("LOAD <http://a.example/data.ttl> INTO GRAPH <urn:g>", [("LOAD", "http://a.example/data.ttl")]),
        ('SELECT * { BIND("SERVICE <http://a.example/>" AS ?x) }', []),
        ("SELECT * { ?s ?p ?o } # SERVICE <http://a.example/>", []),
        ("SELECT * { ?s <http://a.example/SERVICE> ?o }", []),
        ("SELECT * { ?s ?p '''multi\nSERVICE <http://a.example/>''' }", []),
        # The parser decodes \u escapes in IRIs, so the guard checks the decoded IRI.
        (r"SELECT * { SERVICE <http://10.0.0.1\u002fq> {} }", [("SERVICE", "http://10.0.0.1/q")]),
        (r"PREFIX e: <http://a.example\U0000002f> SELECT * { SERVICE e:q {} }", [("SERVICE", "http://a.example/q")]),
    ],
)
def test_remote_targets_are_found_only_where_they_are_calls(text, expected):
    assert remote_targets(text) == expected


def test_relative_service_iri_resolves_against_the_endpoint():
    assert remote_targets("SELECT * { SERVICE <other> {} }", "http://host.example/sparql") == [
        ("SERVICE", "http://host.example/other")
    ]


@pytest.mark.parametrize(
    "target,allowed",
    [
        ("http://catalog.example/sparql", True),
        ("http://catalog.example/sparql/sub", True),
        ("http://catalog.example/sparql?default-graph-uri=x", True),
        ("http://catalog.example/sparqlx", False),
        ("http://catalog.example/other", False),
        ("http://catalog.example.evil.net/sparql", False),
    ],
)
def test_allow_list_matches_whole_path_segments(target, allowed):
    assert is_allowed(target, ALLOW) is allowed


def test_check_refuses_with_a_message_naming_the_setting():
    with pytest.raises(Forbidden, match="AIMSGRAPH_SERVICE_ALLOWLIST"):
        check_remote_calls("SELECT * { SERVICE <http://10.1.2.3/> {} }", ALLOW)
    with pytest.raises(Forbidden, match="variable"):
        check_remote_calls("SELECT * { SERVICE ?e {} }", ALLOW)
    check_remote_calls("SELECT * { SERVICE <http://catalog.example/sparql> {} }", ALLOW)


@pytest.mark.parametrize(
    "text,form",
    [
        ("PREFIX select: <http://x/> SELECT * {}", "SELECT"),
        ("# ASK in a comment\nCONSTRUCT WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("ask {}", "ASK"),
        ("DESCRIBE <http://x/>", "DESCRIBE"),
        ("INSERT DATA { <a> <b> <c> }", "UPDATE"),
        ("WITH <g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }", "UPDATE"),
        ("nonsense", None),
    ],
)
def test_query_form(text, form):
    assert query_form(text) == form


def test_the_cheap_check_reads_tokens_not_words():
    from aimsgraph.sparql.guard import may_call_remote

    assert not may_call_remote('SELECT * { ?s ?p "Infrastructure services" } # no LOAD here')
    assert may_call_remote("SELECT * { SERVICE <http://x/> { ?s ?p ?o } }")
    assert may_call_remote("LOAD <http://x/data.ttl>")
    # \u0022 is a quote before parsing: the "string" ends and SERVICE is a call
    hidden = 'SELECT * { ?s ?p "x\\u0022 . SERVICE <http://evil.example/> { ?a ?b ?c } ?s ?p \\u0022y" }'
    assert may_call_remote(hidden)
    with pytest.raises(Forbidden):
        check_remote_calls(hidden, ())
    # '<' as less-than, then a quote: the scanner could misread the strings, so it says maybe
    assert may_call_remote("SELECT * { BIND(1<'>' AS ?z) SERVICE <http://x/> { } BIND('x' AS ?y) }")


def test_remembered_checks_never_let_a_refused_text_through():
    """check_text remembers texts that passed (issue 18), per settings: a text refused once is
    refused every time, and one allowed under an allow-list is refused without it."""
    from aimsgraph.config import Settings
    from aimsgraph.errors import InvalidInput
    from aimsgraph.sparql.guard import check_text

    deep = "SELECT * WHERE " + "{" * 300 + "}" * 300
    for _ in range(3):
        with pytest.raises(InvalidInput):
            check_text(deep, Settings(max_nesting_depth=256))
    check_text(deep, Settings(max_nesting_depth=400))  # passes, and is remembered for this limit
    with pytest.raises(InvalidInput):
        check_text(deep, Settings(max_nesting_depth=256))
    call = "SELECT * WHERE { SERVICE <http://catalog.example/sparql> { ?s ?p ?o } }"
    check_text(call, Settings(service_allowlist=ALLOW))
    check_text(call, Settings(service_allowlist=ALLOW))
    for _ in range(2):
        with pytest.raises(Forbidden):
            check_text(call, Settings())
    assert query_form(call) == "SELECT" and query_form("INSERT DATA { <urn:a> <urn:b> <urn:c> }") == "UPDATE"
