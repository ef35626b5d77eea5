"""Every named query in queries/ has a header, runs on the demo, and answers what it promises."""

from __future__ import annotations

import pytest

from aimsgraph import queries
from aimsgraph.store import GraphStore

DEMO = "https://data.meridian.example/aims/"
NAMED = queries.load_all()

#: One expectation per shipped query: a test fails if a query in queries/ has none.
EXPECTED = {
    "ai-systems": lambda rows: len(rows) == 12 and all(r.get("owner") for r in rows),
    "annex-a-controls": lambda rows: len(rows) == 38 and rows[0]["id"] == "A.10.2",
    "risk-register": lambda rows: len(rows) >= 30 and rows[0]["rank"] == "4",
    "statement-of-applicability": lambda rows: len(rows) == 38,
    "dependents": lambda rows: {DEMO + "system/retail-credit-scoring", DEMO + "system/card-fraud-detection"}
    <= {r["dependent"] for r in rows},
}
PARAMETERS = {"dependents": {"node": DEMO + "dataset/customer-transactions"}}


def run(store: GraphStore, query: queries.NamedQuery) -> list[dict[str, str]]:
    solutions = store.query(query.text, substitutions=query.substitutions(PARAMETERS.get(query.name, {})))
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def test_every_query_has_an_expectation():
    assert sorted(NAMED) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_header_documents_the_query(name: str):
    query = NAMED[name]
    assert query.summary and query.metadata.get("description")
    for parameter in query.parameters:
        assert parameter in query.metadata.get("params", ""), f"{name}: parameter {parameter} undocumented"


@pytest.mark.parametrize("name", sorted(NAMED))
def test_query_answers_on_the_demo(demo_store: GraphStore, name: str):
    assert EXPECTED[name](run(demo_store, NAMED[name]))


def test_missing_parameter_is_named():
    with pytest.raises(Exception, match="node"):
        NAMED["dependents"].substitutions({})
