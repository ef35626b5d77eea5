"""The review calendar (GET /api/due, /api/due.ics, `aimsgraph due`) and the management review
pack (GET /api/review-pack, `aimsgraph review-pack`), through the service's test client and the
command line run in this process, over real on-disk stores.

Requests pin the reference date to the demo's, 2026-11-26 (data/demo/README.md), so the
expectations do not depend on today's date.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import icalendar
import pyoxigraph as ox
import pytest
from click.testing import Result

from aimsgraph.auth import local_user
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import Graphs
from aimsgraph.records import agenda, queries
from aimsgraph.reporting import review_pack
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.semantics import validation
from aimsgraph.semantics.reasoning import refresh_inferences
from aimsgraph.store import GraphStore, changes
from conftest import aimsgraph, links

DEMO = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
AS_OF = "2026-11-26"
WINDOW = {"asOf": AS_OF, "within": "90d"}
ACTION = DEMO + "action/ca-2026-01"
ACTION_LABEL = "Reassess claims triage risks and add Meridian Assurance to the AIMS review calendar"
INCIDENT_LABEL = "Assistant quoted a non-existent overdraft fee waiver"
AUDIT_LABEL = "Internal AIMS audit 2026"
GINI_LABEL = "Retail PD model Gini coefficient"
HEADINGS = [title for _, title, _ in review_pack.SECTIONS]


# -- the agenda over HTTP --------------------------------------------------------------------


def test_due_lists_the_window_and_everything_overdue(client):
    response = client.get("/api/due", query_string=WINDOW)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert (body["asOf"], body["within"]) == (AS_OF, "90d")
    items = {(i["item"], i["kind"]): i for i in body["items"]}
    action = items[(ACTION, "Corrective action")]
    assert (action["due"], action["overdue"], action["daysLeft"]) == ("2027-01-31", False, 66)
    assert action["owner"] == [DEMO + "role/claims-owner"] and "Lars Johansson" in action["ownerNames"][0]
    # overdue since 2026-06-12, long before the window, and still listed
    assessment = items[(DEMO + "assessment/ra-claims-triage-2025", "Review")]
    assert assessment["overdue"] is True and assessment["daysLeft"] < 0
    assert body["overdue"] == sum(i["overdue"] for i in body["items"]) >= 6
    # a metric's next measurement: the latest (2026-09-30) plus its interval P3M, computed in Python
    gini = items[(DEMO + "metric/retail-pd-gini", "Measurement")]
    assert (
        gini["interval"] == "P3M"
        and gini["due"] == agenda.add_duration(date.fromisoformat(gini["lastMeasured"]), "P3M").isoformat()
    )
    dues = [i["due"] for i in body["items"]]
    assert dues == sorted(dues) and max(dues) <= "2027-02-24"
    assert all(i["overdue"] == (i["due"] < AS_OF) for i in body["items"])


def test_due_defaults_to_30_days(client):
    body = client.get("/api/due", query_string={"asOf": AS_OF}).get_json()
    assert body["within"] == "30d"
    assert max(i["due"] for i in body["items"]) <= "2026-12-26"
    assert ACTION not in {i["item"] for i in body["items"]}  # due 2027-01-31
    everything = client.get("/api/due", query_string={"asOf": AS_OF, "within": "all"}).get_json()
    assert {i["item"] for i in body["items"]} < {i["item"] for i in everything["items"]}
    assert DEMO + "change/replace-ocr-vendor" in {i["item"] for i in everything["items"]}  # planned 2027-06-30


@pytest.mark.parametrize(
    "params, word",
    [
        ({"within": "abc"}, "within"),
        ({"within": "30"}, "within"),
        ({"within": "-3d"}, "within"),
        ({"within": "999999y"}, "within"),
        ({"asOf": "26.11.2026"}, "asOf"),
        ({"asOf": "2026-02-30"}, "asOf"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(client, params, word):
    for path in ("/api/due", "/api/due.ics"):
        response = client.get(path, query_string=params)
        assert response.status_code == 400, (path, params)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert word in response.get_json()["detail"]


def test_the_calendar_feed_parses_and_lists_the_next_due_items(client):
    response = client.get("/api/due.ics", query_string=WINDOW)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    raw = response.data
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 75 for line in lines)
    calendar = icalendar.Calendar.from_ical(raw)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    events = list(calendar.walk("VEVENT"))
    expected = client.get("/api/due", query_string=WINDOW).get_json()["items"]
    assert len(events) == len(expected) and len({str(e["UID"]) for e in events}) == len(events)
    summary = f"Corrective action: {ACTION_LABEL} due"
    [event] = [e for e in events if str(e["SUMMARY"]) == summary]
    assert event["DTSTART"].dt == date(2027, 1, 31) and event["DTSTART"].params.get("VALUE") == "DATE"
    assert event["DTEND"].dt == date(2027, 2, 1)
    assert ACTION in str(event["DESCRIPTION"]) and "Lars Johansson, Business owner" in str(event["DESCRIPTION"])
    assert all(e.get("DTSTAMP") is not None and e["DTSTAMP"].dt.tzinfo is not None for e in events)
    assert sorted(e["DTSTART"].dt for e in events) == [date.fromisoformat(i["due"]) for i in expected]
    # a calendar that subscribes keeps one event per item: the UIDs do not change between feeds
    again = icalendar.Calendar.from_ical(client.get("/api/due.ics", query_string=WINDOW).data)
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == {str(e["UID"]) for e in events}


# -- iCalendar details -----------------------------------------------------------------------


def test_text_values_are_escaped_and_long_lines_folded_at_75_octets():
    item = agenda.DueItem(
        iri="https://example.org/action/1",
        label="Fix; then check, twice\\again\nand report: " + "ü" * 60,
        kind="Action",
        due=date(2027, 1, 31),
        overdue=False,
        type=None,
        owners=(),
        owner_names=(),
    )
    text = agenda.to_ical([item], datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    lines = text.encode("utf-8").split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode("utf-8")  # never folded inside a character
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Action: Fix\\; then check\\, twice\\\\again\\nand report: " + "ü" * 60 + " due\r\n" in unfolded
    assert "DTSTAMP:20261126T120000Z\r\n" in unfolded and "DTSTART;VALUE=DATE:20270131\r\n" in unfolded
    [event] = icalendar.Calendar.from_ical(text).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Action: {item.label} due"


def test_uids_depend_on_the_item_and_kind_only():
    base = {
        "iri": "https://example.org/x",
        "label": "X",
        "due": date(2027, 1, 1),
        "overdue": False,
        "type": None,
        "owners": (),
        "owner_names": (),
    }
    review = agenda.DueItem(kind="Review", **base)
    moved = agenda.DueItem(kind="Review", **{**base, "due": date(2027, 3, 1), "label": "X renamed"})
    expiry = agenda.DueItem(kind="Evidence expiry", **base)
    assert review.uid == moved.uid != expiry.uid


def test_windows_and_durations():
    day = date(2026, 11, 26)
    assert agenda.parse_within("30d", day) == timedelta(days=30)
    assert agenda.parse_within("2w", day) == timedelta(days=14)
    assert agenda.parse_within("12m", day) == timedelta(days=365)
    assert agenda.parse_within("1Y", date(2027, 11, 26)) == timedelta(days=366)  # across 29 February 2028
    assert agenda.parse_within("all", day) is None
    for bad in ("", "30", "d", "1.5m", "3x", "-1d"):
        with pytest.raises(InvalidInput, match="within"):
            agenda.parse_within(bad, day)
    assert agenda.add_duration(date(2026, 8, 31), "P1M") == date(2026, 9, 30)
    assert agenda.add_duration(date(2026, 9, 30), "P3M") == date(2026, 12, 30)
    assert agenda.add_duration(date(2026, 11, 23), "P7D") == date(2026, 11, 30)
    assert agenda.add_duration(date(2026, 1, 31), "P1Y1M2D") == date(2027, 3, 2)
    assert agenda.add_duration(date(2026, 1, 1), "PT36H") == date(2026, 1, 2)
    assert agenda.add_duration(date(2026, 1, 1), "P0D") is None and agenda.add_duration(date(2026, 1, 1), "3 months") is None


# -- the queries' logic on small records -----------------------------------------------------

OPERATIONS = """
@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/> .

ex:system a aims:AISystem . ex:metric a aims:Metric ; rdfs:label "Metric" .
ex:audit a aims:Audit ; prov:startedAtTime "2026-03-01T09:00:00Z"^^xsd:dateTime .
ex:nc-1 a aims:Nonconformity ; rdfs:label "First" ; aims:raisedBy ex:audit ; aims:concerns ex:system .
ex:nc-2 a aims:Nonconformity ; rdfs:label "Second" ; aims:openedOn "2027-02-28"^^xsd:date ;
    aims:concerns ex:system, ex:metric ; aims:relatesToClause ex:clause-9-1 ; aims:dueDate "2027-03-31"^^xsd:date .
ex:nc-3 a aims:Nonconformity ; aims:openedOn "2027-03-02"^^xsd:date ; aims:concerns ex:system ;
    aims:status aims:StatusClosed ; aims:dueDate "2027-03-10"^^xsd:date .
ex:nc-4 a aims:Nonconformity ; aims:openedOn "2026-12-01"^^xsd:date ; aims:relatesToClause ex:clause-9-1 .
ex:ca-1 a aims:CorrectiveAction ; aims:addresses ex:nc-2 ; aims:dueDate "2027-03-15"^^xsd:date ;
    aims:status aims:StatusInProgress ; aims:hasOwner ex:owner .

ex:incident a aims:Incident ; rdfs:label "Incident" ; aims:hasOwner ex:owner ;
    aims:mustInform ex:board, ex:supervisor, ex:customers ; aims:informBy "2027-01-10T12:00:00Z"^^xsd:dateTime ;
    aims:hasCommunication ex:letter, ex:late .
ex:letter a aims:Communication ; aims:recipient ex:board ; aims:communicatedAt "2027-01-09T08:00:00Z"^^xsd:dateTime .
ex:late a aims:Communication ; aims:recipient ex:supervisor ; aims:communicatedAt "2027-01-20T08:00:00Z"^^xsd:dateTime .
"""


@pytest.fixture(scope="module")
def small_store() -> GraphStore:
    store = GraphStore(None)
    store.backend.load(OPERATIONS.encode(), format=ox.RdfFormat.TURTLE, to_graph=ox.NamedNode(Graphs.DATA))
    return store


def run(store: GraphStore, name: str, as_of: str | None = None) -> list[dict[str, str]]:
    query = queries.load_all()[name]
    solutions = store.query(query.text, substitutions=query.substitutions({"asOf": as_of} if as_of else {}))
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def test_recurring_nonconformities_share_a_metric_system_or_clause_within_12_months(small_store):
    pairs = {
        (r["nonconformity"].rsplit("/", 1)[1], r["earlier"].rsplit("/", 1)[1]): r
        for r in run(small_store, "recurring-nonconformities")
    }
    # nc-1 opened 2026-03-01 (its audit); nc-2 on 2027-02-28 is within 12 months and shares the system
    assert set(pairs) == {("nc-2", "nc-1"), ("nc-2", "nc-4"), ("nc-3", "nc-2")}
    assert (pairs[("nc-2", "nc-1")]["earlierOpened"], pairs[("nc-2", "nc-1")]["via"]) == ("2026-03-01", "system")
    assert pairs[("nc-2", "nc-4")]["via"] == "clause"
    # nc-3 (2027-03-02) is more than 12 months after nc-1 (2026-03-01)
    assert ("nc-3", "nc-1") not in pairs


def test_overdue_nonconformities_and_actions_are_open_and_past_due(small_store):
    rows = run(small_store, "overdue-nonconformities", "2027-03-20")
    assert [(r["item"].rsplit("/", 1)[1], r["kind"], r["overdueBy"]) for r in rows] == [
        ("ca-1", "Corrective action", "P5D")
    ]  # nc-2 is due 2027-03-31, nc-3 is closed
    assert rows[0]["nonconformities"] == "https://example.org/nc-2" and rows[0]["owner"] == "https://example.org/owner"
    later = run(small_store, "overdue-nonconformities", "2027-04-01")
    assert [r["item"].rsplit("/", 1)[1] for r in later] == ["ca-1", "nc-2"]


def test_overdue_communications_are_parties_not_told_by_the_deadline(small_store):
    assert run(small_store, "overdue-communications", "2027-01-10") == []  # the deadline is 12:00 that day
    rows = run(small_store, "overdue-communications", "2027-01-15")
    assert sorted(r["party"].rsplit("/", 1)[1] for r in rows) == ["customers", "supervisor"]
    assert {r["overdueBy"] for r in rows} == {"P4DT12H"}
    # told late: no longer overdue once the letter went out
    assert [r["party"].rsplit("/", 1)[1] for r in run(small_store, "overdue-communications", "2027-01-21")] == ["customers"]


def test_overdue_nonconformities_on_the_demo_after_the_due_date(demo_store):
    rows = run(demo_store, "overdue-nonconformities", "2027-02-01")
    closed = any(
        True
        for _ in demo_store.backend.quads_for_pattern(
            ox.NamedNode(ACTION), ox.NamedNode(AIMS + "status"), ox.NamedNode(AIMS + "StatusClosed"), None
        )
    )
    assert (ACTION in {r["item"] for r in rows}) != closed
    if not closed:
        row = next(r for r in rows if r["item"] == ACTION)
        assert (row["due"], row["overdueBy"], row["nonconformities"]) == ("2027-01-31", "P1D", DEMO + "finding/ia-2026-01")


# -- the review pack ---------------------------------------------------------------------------


def sections(markdown: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", markdown, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def assert_demo_pack(markdown: str) -> None:
    found = sections(markdown)
    assert list(found) == HEADINGS
    assert ACTION_LABEL in found["Actions from previous management reviews"]
    assert ACTION_LABEL in found["Nonconformities and corrective actions"]
    assert INCIDENT_LABEL in found["Incidents"]
    monitoring = found["Monitoring and measurement results"]
    breaches = monitoring[monitoring.index("### Threshold breaches") :]
    assert GINI_LABEL in breaches and "| 0.53 | at least 0.55 | 2026-09-30 |" in breaches
    assert AUDIT_LABEL in found["Audit results"] and "IA-2026-AIMS-01-F01" in found["Audit results"]
    assert (
        "Monitoring breach of the retail PD model without a timely owner decision" in found["Opportunities for improvement"]
        or "closed" in found["Audit results"]
    )
    assert "Previous management review: AIMS management review 2026, held on 2026-11-12." in markdown
    assert "Replace the OCR vendor Scriptura" in found["Changes in external and internal issues"]
    trends = found["Risk and readiness trends"]
    assert "| Critical |" in trends and "No trend" in trends  # the demo's trail starts after its review


def test_review_pack_as_markdown_from_the_server(client):
    response = client.get("/api/review-pack", query_string={"asOf": AS_OF}, headers={"Accept": "text/markdown"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/markdown; charset=utf-8" and "Accept" in response.headers["Vary"]
    assert_demo_pack(response.text)


def test_review_pack_as_self_contained_html_from_the_server(client):
    response = client.get(
        "/api/review-pack",
        query_string={"asOf": AS_OF},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/html; charset=utf-8"
    text = response.text
    for heading in HEADINGS:
        assert f">{heading}</h2>" in text
    for known in (ACTION_LABEL, INCIDENT_LABEL, GINI_LABEL, AUDIT_LABEL):
        assert known in text
    references = re.findall(r'(?:src|href|action|xlink:href)\s*=\s*"([^"]*)"', text)
    assert references and all(r.startswith("#") for r in references), [r for r in references if not r.startswith("#")]
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(", text)
    override = client.get("/api/review-pack", query_string={"asOf": AS_OF, "format": "md"}, headers={"Accept": "text/html"})
    assert override.headers["Content-Type"] == "text/markdown; charset=utf-8"


def test_review_pack_as_json_and_bad_requests(client):
    response = client.get("/api/review-pack", query_string={"asOf": AS_OF}, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.get_json()
    assert body["asOf"] == AS_OF and body["previousReview"]["iri"] == DEMO + "review/management-review-2026"
    assert [s["title"] for s in body["sections"]] == HEADINGS
    monitoring = next(s for s in body["sections"] if s["id"] == "monitoring")
    breaches = next(t for t in monitoring["tables"] if t["id"] == "breaches")["rows"]
    assert DEMO + "measurement/retail-pd-gini-2026-09-30" in {r["iri"] for r in breaches}
    assert client.get("/api/review-pack", query_string={"format": "docx"}).status_code == 400
    assert client.get("/api/review-pack", query_string={"asOf": "yesterday"}).status_code == 400
    assert client.get("/api/review-pack", headers={"Accept": "image/png"}).status_code == 406


def test_every_section_says_when_it_is_empty():
    store = GraphStore(None)
    store.initialise(demo=False)
    pack = review_pack.build(store, RiskModel.build(store), [], date(2026, 11, 26))
    assert [s.id for s in pack.sections if not s.is_empty] == ["trends"]  # readiness checks still apply
    markdown = review_pack.render(pack, "md")
    found = sections(markdown)
    assert list(found) == HEADINGS
    for section in pack.sections:
        if section.is_empty:
            assert section.empty in found[section.title]
        for table in section.tables:
            assert table.rows or f"None: {table.empty}" in found[section.title]
    assert "No earlier management review is recorded" in markdown and "first management review" in markdown


def test_trends_compare_with_the_record_at_the_previous_review():
    store = GraphStore(None)
    changes.initialise(store, demo=True)
    refresh_inferences(store)
    time.sleep(1.1)
    held = datetime.now(UTC).replace(microsecond=0)
    review = ox.NamedNode("https://example.org/review/now")
    data = ox.NamedNode(Graphs.DATA)
    changes.commit(
        store,
        changes.Delta(
            added={
                ox.Quad(
                    review,
                    ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                    ox.NamedNode(AIMS + "ManagementReview"),
                    data,
                ),
                ox.Quad(
                    review,
                    ox.NamedNode("http://www.w3.org/ns/prov#startedAtTime"),
                    ox.Literal(
                        held.isoformat().replace("+00:00", "Z"),
                        datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#dateTime"),
                    ),
                    data,
                ),
            }
        ),
        "test",
        local_user(),
    )
    time.sleep(1.1)
    # after the review, every control of the claims-triage risks loses its effectiveness
    controls = {q.subject for q in store.backend.quads_for_pattern(None, ox.NamedNode(AIMS + "mitigates"), None, data)}
    removed = {q for c in controls for q in store.backend.quads_for_pattern(c, ox.NamedNode(AIMS + "effectiveness"), None, data)}
    changes.commit(store, changes.Delta(removed=removed), "test", local_user())
    refresh_inferences(store)
    model = RiskModel.build(store)
    pack = review_pack.build(store, model, validation.validate_full(store), held.date())
    trends = pack.section("trends")
    assert any(n.startswith("Compared with the record as it stood at the previous review") for n in trends.notes)
    rows = {r["level"]: r for r in trends.tables[0].rows}
    assert sum(r["residualBefore"] for r in rows.values()) == sum(r["residual"] for r in rows.values()) == 40
    assert rows["Low"]["residualBefore"] == 24 and rows["Low"]["residual"] < 24
    assert "inherentBefore" in rows["Critical"] and rows["Critical"]["inherentChange"] == "0"
    changed = {r["kind"]: r["records"] for r in pack.section("changes").tables[1].rows}
    assert changed["ImplementedControl"] == len({q.subject for q in removed}) and changed["ManagementReview"] == 1


# -- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("agenda") / "db"
    store = GraphStore(data_dir)
    changes.initialise(store, demo=True)
    store.flush()
    del store  # RocksDB locks the directory until the last reference goes: the CLI opens it next
    return data_dir


def cli(*args: str, data_dir: Path) -> Result:
    """``aimsgraph ARGS --data-dir DATA_DIR``, in this process."""
    return aimsgraph(*args, "--data-dir", data_dir)


def test_cli_due_as_table_json_and_ics(demo_dir, tmp_path):
    table = cli("due", "--as-of", AS_OF, "--within", "90d", data_dir=demo_dir)
    assert table.exit_code == 0, table.stderr
    text = table.stdout
    assert "2027-01-31" in text and "Corrective action" in text and "OVERDUE" in text
    ics = cli("due", "--as-of", AS_OF, "--within", "12m", "--format", "ics", "-o", str(tmp_path / "due.ics"), data_dir=demo_dir)
    assert ics.exit_code == 0, ics.stderr
    raw = (tmp_path / "due.ics").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    summaries = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(raw).walk("VEVENT")}
    assert f"Corrective action: {ACTION_LABEL} due" in summaries
    assert "Planned change: Replace the OCR vendor Scriptura due" in summaries  # 2027-06-30
    bad = cli("due", "--within", "soon", data_dir=demo_dir)
    assert bad.exit_code == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "within" in bad.stderr


def test_cli_review_pack_as_markdown_and_html(demo_dir, tmp_path):
    markdown = cli("review-pack", "--as-of", AS_OF, data_dir=demo_dir)
    assert markdown.exit_code == 0, markdown.stderr
    assert_demo_pack(markdown.stdout)
    html = cli("review-pack", "--as-of", AS_OF, "--format", "html", "-o", str(tmp_path / "pack.html"), data_dir=demo_dir)
    assert html.exit_code == 0, html.stderr
    text = (tmp_path / "pack.html").read_text()
    assert all(f">{heading}</h2>" in text for heading in HEADINGS) and INCIDENT_LABEL in text
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(", text)


# -- the fast agenda gives what queries/due-items.rq gives (issue 18) ---------------------------

#: Items the generated organisations lack: several kinds of date, labels, owners and classes.
EDGE_CASES = """PREFIX aims: <https://w3id.org/aimsgraph/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX ex: <https://example.org/edge/>
INSERT DATA { GRAPH <https://w3id.org/aimsgraph/graph/data> {
  ex:Special rdfs:subClassOf aims:CorrectiveAction .
  ex:a1 a ex:Special, aims:Action ; rdfs:label "B label", "A label" ; aims:dueDate "2026-12-01"^^xsd:date ;
    aims:hasOwner ex:o2, ex:o1 ; aims:assessor ex:o3 ; aims:location "https://example.org/doc/2", "https://example.org/doc/1" .
  ex:a2 a aims:ImprovementAction, aims:AIObjective ; aims:dueDate "2026-12-02T10:00:00Z"^^xsd:dateTime .
  ex:a3 a aims:Action ; aims:dueDate "soon" ; aims:nextReviewDate "2026-12-03"^^xsd:date .
  ex:a4 a aims:CorrectiveAction ; aims:dueDate "2026-12-04"^^xsd:date ; aims:status aims:StatusClosed .
  ex:p1 a aims:Audit ; aims:plannedDate "2026-12-05"^^xsd:date ; prov:endedAtTime "2026-12-05T12:00:00Z"^^xsd:dateTime .
  ex:p2 a aims:PlannedChange ; aims:plannedDate "2026-12-06"^^xsd:date, "2026-12-06"^^xsd:date .
  ex:p3 aims:plannedDate "2026-12-07"^^xsd:date .
  ex:e1 a aims:TrainingRecord ; aims:validUntil "2026-12-08"^^xsd:date ; aims:trainee ex:o4 .
  ex:e2 a aims:Evidence ; aims:validUntil "2026-12-09"^^xsd:date, "2026-12-10"^^xsd:date .
  ex:holder1 aims:hasEvidence ex:e2 ; aims:hasOwner ex:o5 . ex:holder2 aims:hasEvidence ex:e2 ; aims:hasOwner ex:o6, ex:o5 .
  ex:r1 a aims:Risk ; aims:nextReviewDate "2026-12-11"^^xsd:date ; aims:hasRiskOwner ex:o1 ; aims:hasOwner ex:o7 .
  ex:x1 aims:validUntil "2026-12-12"^^xsd:date .
  _:b1 a aims:Action ; aims:dueDate "2026-12-13"^^xsd:date ; rdfs:label "A blank action" .
  ex:o1 rdfs:label "Owner one" . ex:o2 <http://xmlns.com/foaf/0.1/name> "Owner two" .
} }"""
WINDOWS = [None, timedelta(days=0), timedelta(days=14), timedelta(days=30), timedelta(days=365)]


def assert_same_agenda(store: GraphStore, as_of: date) -> None:
    for within in WINDOWS:
        expected = agenda.query_due_items(store, as_of, within)
        assert agenda.due_items(store, as_of, within) == expected, within
        assert agenda.due_items(store, as_of, within) == expected, within  # the kept copy


@pytest.mark.parametrize("as_of", [date(2026, 11, 26), date(2025, 6, 1), date(2027, 6, 30)])
def test_the_fast_agenda_equals_the_due_items_query_on_the_demo(demo_store, as_of):
    assert_same_agenda(demo_store, as_of)


@pytest.fixture(scope="module")
def generated_store(tmp_path_factory) -> GraphStore:
    from benchmarks.generate import generate

    data = tmp_path_factory.mktemp("generated") / "org.nt"
    data.write_text(generate(60, seed=11))
    store = GraphStore(None)
    store.initialise(demo=True)
    store.load_files([data])
    store.update(EDGE_CASES)
    refresh_inferences(store)
    return store


@pytest.mark.parametrize("as_of", [date(2026, 11, 26), date(2027, 3, 15)])
def test_the_fast_agenda_equals_the_due_items_query_on_a_generated_organisation(generated_store, as_of):
    items = agenda.due_items(generated_store, as_of, None)
    kinds = {i.kind for i in items}
    assert (
        len(items) > 300
        and {
            "Evidence expiry",
            "Corrective action",
            "Review",
            "Planned change",
            "Training expiry",
            "Expiry",
            "Improvement action",
            "Action",
        }
        <= kinds
    )
    assert_same_agenda(generated_store, as_of)
    edge = {(i.iri.rsplit("/", 1)[-1], i.kind): i for i in items}
    assert edge[("a1", "Corrective action")].label == "A label"  # a subclass; the smallest label
    assert edge[("a1", "Corrective action")].location == "https://example.org/doc/1"
    assert ("a4", "Corrective action") not in edge and ("p1", "Audit") not in edge  # closed; held
    assert ("a3", "Review") in edge and not any(k == ("a3", "Action") for k in edge)  # "soon" is no date
    assert [i.due for i in items if i.iri.endswith("/e2")] == [date(2026, 12, 9), date(2026, 12, 10)]


def test_the_kept_agenda_follows_writes():
    store = GraphStore(None)
    store.initialise(demo=True)
    before = agenda.due_items(store, date(2026, 11, 26), timedelta(days=30))
    store.update(EDGE_CASES)
    after = agenda.due_items(store, date(2026, 11, 26), timedelta(days=30))
    assert len(after) > len(before) and after == agenda.query_due_items(store, date(2026, 11, 26), timedelta(days=30))


def test_due_pages_walk_the_whole_agenda_with_link_headers(client):
    whole = client.get("/api/due", query_string={**WINDOW, "within": "all"})
    body = whole.get_json()
    assert body["total"] == len(body["items"]) and body["page"] == 1 and "next" not in links(whole)
    assert sum(body["kinds"].values()) == body["total"] and body["kinds"]["Corrective action"] >= 1
    walked, response = [], client.get("/api/due", query_string={**WINDOW, "within": "all", "pageSize": "7"})
    while True:
        assert response.status_code == 200
        page = response.get_json()
        assert len(page["items"]) <= 7 and (page["total"], page["overdue"]) == (body["total"], body["overdue"])
        walked += page["items"]
        if "next" not in links(response):
            break
        response = client.get(links(response)["next"])
        assert "prev" in links(response)
    assert walked == body["items"] and response.headers["Aimsgraph-Page"] == str(-(-body["total"] // 7))
    for bad in ({"page": "0"}, {"pageSize": "x"}):
        assert client.get("/api/due", query_string=bad).status_code == 400


def test_the_due_page_shows_100_items_a_page_with_totals_per_kind(client):
    import html as html_lib

    first = client.get("/due", query_string={**WINDOW, "within": "all"})
    assert first.status_code == 200
    text = html_lib.unescape(first.text)
    body = client.get("/api/due", query_string={**WINDOW, "within": "all"}).get_json()
    assert (
        f"{body['total']} items, {body['overdue']} overdue:" in text
        and f"Corrective action {body['kinds']['Corrective action']}" in text
    )
    rows = re.findall(r"<tr(?: class=\"over\")?><td>(\d{4}-\d\d-\d\d)", first.text)
    assert len(rows) == min(100, body["total"]) and body["total"] > 100
    following = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    second = client.get(html_lib.unescape(following.group(1)))
    later = re.findall(r"<tr(?: class=\"over\")?><td>(\d{4}-\d\d-\d\d)", second.text)
    assert later and later == [i["due"] for i in body["items"][100 : 100 + len(later)]]
