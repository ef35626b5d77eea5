"""Accept-header parsing and selection (RFC 9110 12.5.1)."""

from __future__ import annotations

import pytest

from aimsgraph.http.negotiation import best_match

OFFERED = ["application/sparql-results+json", "application/sparql-results+xml", "text/csv"]


@pytest.mark.parametrize(
    "accept,expected",
    [
        (None, "application/sparql-results+json"),
        ("", "application/sparql-results+json"),
        ("*/*", "application/sparql-results+json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("application/sparql-results+xml;q=0.9, text/csv;q=0.8", "application/sparql-results+xml"),
        ("text/csv;q=0.2, */*;q=0.1", "text/csv"),
        ("application/sparql-results+json;q=0, */*;q=0.5", "application/sparql-results+xml"),
        ("text/csv, application/sparql-results+xml", "text/csv"),
        ("image/png", None),
        ("*/*;q=0", None),
        ("garbage, text/csv", "text/csv"),
        ("text/csv;q=abc, application/sparql-results+xml", "application/sparql-results+xml"),
    ],
)
def test_best_match(accept, expected):
    assert best_match(accept, OFFERED) == expected
