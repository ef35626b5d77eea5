"""The ISO/IEC 42001:2023 catalogue: exactly the clauses, 38 Annex A controls and Annex C lists."""

from __future__ import annotations

from collections import Counter

import pytest

from aimsgraph.store import GraphStore

# one line per Annex A objective, as GROUP_SIZES counts them
# fmt: off
CONTROL_IDS = {
    "A.2.2", "A.2.3", "A.2.4",
    "A.3.2", "A.3.3",
    "A.4.2", "A.4.3", "A.4.4", "A.4.5", "A.4.6",
    "A.5.2", "A.5.3", "A.5.4", "A.5.5",
    "A.6.1.2", "A.6.1.3", "A.6.2.2", "A.6.2.3", "A.6.2.4", "A.6.2.5", "A.6.2.6", "A.6.2.7", "A.6.2.8",
    "A.7.2", "A.7.3", "A.7.4", "A.7.5", "A.7.6",
    "A.8.2", "A.8.3", "A.8.4", "A.8.5",
    "A.9.2", "A.9.3", "A.9.4",
    "A.10.2", "A.10.3", "A.10.4",
}
# fmt: on
GROUP_SIZES = {"A.2": 3, "A.3": 2, "A.4": 5, "A.5": 4, "A.6": 9, "A.7": 5, "A.8": 4, "A.9": 3, "A.10": 3}
PREFIX = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""


def select(store: GraphStore, query: str) -> list[dict[str, str]]:
    solutions = store.query(PREFIX + query)
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def test_exactly_38_controls_with_the_exact_ids(demo_store: GraphStore):
    rows = select(demo_store, "SELECT ?c ?id WHERE { ?c a aims:ReferenceControl ; skos:notation ?id }")
    ids = [row["id"] for row in rows]
    assert len(ids) == 38
    assert set(ids) == CONTROL_IDS
    assert all(row["c"] == "https://w3id.org/aimsgraph/iso42001/" + row["id"] for row in rows)


def test_each_control_has_exactly_one_group_and_groups_have_the_right_sizes(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?id ?group WHERE {
        ?c a aims:ReferenceControl ; skos:notation ?id ; aims:inGroup ?g . ?g skos:notation ?group }""",
    )
    per_control = Counter(row["id"] for row in rows)
    assert set(per_control.values()) == {1}
    assert Counter(row["group"] for row in rows) == GROUP_SIZES
    assert all(row["id"].startswith(row["group"] + ".") for row in rows)


def test_every_control_has_a_short_title_and_an_own_words_definition(demo_store: GraphStore):
    rows = select(
        demo_store,
        """SELECT ?id (COUNT(DISTINCT ?title) AS ?titles) (COUNT(DISTINCT ?definition) AS ?definitions) WHERE {
        ?c a aims:ReferenceControl ; skos:notation ?id .
        OPTIONAL { ?c skos:prefLabel ?title } OPTIONAL { ?c skos:definition ?definition } } GROUP BY ?id""",
    )
    assert len(rows) == 38
    assert all(row["titles"] == "1" and row["definitions"] == "1" for row in rows)


@pytest.mark.parametrize(
    "clause",
    [
        "4.1",
        "4.2",
        "4.3",
        "4.4",
        "5.2",
        "5.3",
        "6.1.1",
        "6.1.2",
        "6.1.3",
        "6.1.4",
        "6.2",
        "6.3",
        "7.2",
        "7.5.3",
        "8.2",
        "8.4",
        "9.1",
        "9.2.2",
        "9.3.3",
        "10.2",
    ],
)
def test_clauses_are_present_with_their_parent(demo_store: GraphStore, clause: str):
    rows = select(
        demo_store,
        f"""SELECT ?parent WHERE {{
        ?c a aims:Clause ; skos:notation "{clause}" ; skos:broader ?p . ?p skos:notation ?parent }}""",
    )
    assert [row["parent"] for row in rows] == [clause.rsplit(".", 1)[0]]


def test_top_clauses_are_4_to_10(demo_store: GraphStore):
    rows = select(demo_store, "SELECT ?n WHERE { ?c a aims:Clause ; skos:notation ?n FILTER NOT EXISTS { ?c skos:broader ?p } }")
    assert sorted(int(row["n"]) for row in rows) == list(range(4, 11))


def test_annex_c_has_11_objectives_and_7_risk_sources(demo_store: GraphStore):
    objectives = select(demo_store, "SELECT ?o WHERE { ?o a aims:AnnexCObjective ; skos:prefLabel ?l }")
    sources = select(demo_store, "SELECT ?s WHERE { ?s a aims:AnnexCRiskSource ; skos:prefLabel ?l }")
    assert len(objectives) == 11
    assert len(sources) == 7
