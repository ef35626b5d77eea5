"""The guard that keeps results from depending on the wall clock.

Only ``aimsgraph.clock`` reads the clock; shapes and named queries never call SPARQL ``NOW()``;
the evaluation date reaches both validation engines; conftest pins the default date for the
whole suite (``AIMSGRAPH_TODAY``), so a test that forgot to pass a date still gets a fixed one.
"""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import rdflib

from aimsgraph import clock, resources
from aimsgraph.errors import InvalidInput
from aimsgraph.records import queries
from aimsgraph.semantics import validation
from aimsgraph.semantics.shacl_sparql import UnsupportedShape, compile_shapes
from conftest import AS_OF, REPO

CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"), ("time", "time")}
SPARQL_CLOCK = re.compile(r"\bNOW\s*\(", re.IGNORECASE)


def clock_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            if (node.func.value.id, node.func.attr) in CLOCK_CALLS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_only_the_clock_module_reads_the_clock():
    sources = [p for p in (REPO / "service" / "aimsgraph").rglob("*.py") if p.name != "clock.py"]
    assert [call for path in sources for call in clock_calls(path)] == []


def test_the_guard_sees_a_clock_call():
    """The guard itself can fail: a module that reads the clock is reported."""
    sneaky = REPO / "service" / "aimsgraph" / "clock.py"
    assert clock_calls(sneaky), "clock.py reads the clock, and the scan must see it"


def test_shapes_and_queries_never_read_the_clock():
    texts = [*resources.path("shapes").glob("*.ttl"), *resources.path("queries").glob("*.rq")]
    assert [p.name for p in texts if SPARQL_CLOCK.search(p.read_text(encoding="utf-8"))] == []


def test_the_suite_runs_on_a_pinned_date():
    assert clock.today() == AS_OF


def test_a_pinned_date_must_be_a_date(monkeypatch):
    monkeypatch.setenv(clock.TODAY_VARIABLE, "tomorrow")
    with pytest.raises(InvalidInput, match="AIMSGRAPH_TODAY"):
        clock.today()


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "2026-02-30", "26-11-2026", "²026-01-01"])
def test_evaluation_dates_out_of_range_or_malformed_are_refused(text):
    with pytest.raises(InvalidInput, match="asOf"):
        clock.parse_date(text)


def test_named_queries_default_their_evaluation_date_to_today():
    named = queries.load_all()["overdue-reviews"]
    bound = {var.value: term.value for var, term in named.substitutions({}).items()}
    assert bound == {"__asOf_xsd_date": AS_OF.isoformat()}
    later = {var.value: term.value for var, term in named.substitutions({"asOf": "2030-01-01"}).items()}
    assert later == {"__asOf_xsd_date": "2030-01-01"}


def test_a_shape_that_reads_the_date_another_way_is_refused():
    shapes = rdflib.Graph().parse(
        format="turtle",
        data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <https://example.org/> .
        ex:S a sh:NodeShape ; sh:targetNode ex:n ; sh:sparql [ sh:select
          "SELECT $this WHERE { ?x <https://w3id.org/aimsgraph/shapes#referenceDate> ?d }" ] .""",
    )
    with pytest.raises(UnsupportedShape, match="referenceDate"):
        compile_shapes(shapes)


def test_both_engines_validate_as_of_the_date_they_are_given(demo_store):
    """Evidence of the demo expires after AS_OF: a year later both engines see more gaps, and agree."""
    later = AS_OF + timedelta(days=365)
    now, then = validation.validate_store(demo_store, AS_OF), validation.validate_store(demo_store, later)
    assert len(then) > len(now)
    assert then == validation.validate_graph(demo_store.extract(validation.VALIDATED_GRAPHS), later)


def test_stored_findings_keep_their_evaluation_date(tmp_path):
    from aimsgraph.store import GraphStore

    store = GraphStore(None)
    store.initialise(demo=True, on=AS_OF)
    validation.validate_full(store, date(2027, 1, 5))
    assert validation.stored_as_of(store) == date(2027, 1, 5)
    # another day's incremental revalidation recomputes everything (time-dependent findings move)
    plan = validation.revalidate(store, [], AS_OF)
    assert plan.affected is None and plan.as_of == AS_OF


@pytest.mark.parametrize("fmt", ["table", "json", "turtle", "junit"])
def test_every_report_format_names_its_evaluation_date(demo_store, fmt):
    from aimsgraph.reporting import reports

    day = date(2027, 3, 4)
    text = reports.render(reports.build(demo_store, validation.validate_store(demo_store, day), day), fmt)
    assert "2027-03-04" in text
