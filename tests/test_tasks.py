"""The work list ("My work", docs/tasks.md) over HTTP, against the service in this process over an
on-disk store with the demo: tasks from the demo's findings, due items, breach and concern with
their assignees and due dates; status changes that stick, are audited and leave nothing half
written; a fixed cause resolves its task; tasks from an impact analysis with their paths; the
calendar feeds; the page, in a real Chromium at a phone's width too; the named query and the
shapes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import icalendar
import pytest
import requests
from flask.testing import FlaskClient
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from werkzeug.test import TestResponse

from aimsgraph.config import Settings
from aimsgraph.semantics import validation
from aimsgraph.store import GraphStore
from browser import NARROW, POLL, console_errors, screenshot, start_chromium, viewport
from conftest import AS_OF, FreshDataDir, links, serving, settle, start_server

MB = "https://data.meridian.example/aims/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
TASK = "https://w3id.org/aimsgraph/task/"
PREFIXES = f"PREFIX aims: <{AIMS}>\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
TOKENS = {"editor": ("lucia", "editor-token-for-the-task-tests"), "reader": ("reader-user", "reader-token-for-the-task-tests")}
MARCO = MB + "person/marco-bianchi"  # holds role:retail-credit-owner
CLAIRE = MB + "person/claire-dubois"  # holds role:talent-acquisition-owner
LARS = MB + "person/lars-johansson"  # holds role:claims-owner
PD_MODEL = MB + "model/retail-pd-model"


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role][1]}"} if role else {}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[FlaskClient]:
    """A service of its own (it is written to), with an editor's and a reader's token."""
    tokens = tuple(f"{role}:{name}:{token}" for role, (name, token) in TOKENS.items())
    data_dir = fresh_data_dir(tmp_path_factory.mktemp("tasks") / "db")
    with serving(Settings(data_dir=data_dir, tokens=tokens, query_timeout=10)) as app:
        client = app.test_client()
        assert client.post("/api/validate", headers=auth("editor")).status_code == 200  # stored: writes revalidate
        yield client


def tasks_of(client: FlaskClient, **params: str) -> dict:
    response = client.get("/api/tasks", query_string={"pageSize": "1000", **params})
    assert response.status_code == 200, response.text
    return response.get_json()


def one(body: dict, label_start: str) -> dict:
    [found] = [t for t in body["tasks"] if t["label"].startswith(label_start)]
    return found


def change(client: FlaskClient, task_id: str, body: object, role: str | None = "editor", **kwargs) -> TestResponse:
    return client.post(f"/api/tasks/{task_id}", json=body, headers=auth(role), **kwargs)


def update(client: FlaskClient, sparql: str, wait: bool = True) -> None:
    """A SPARQL Update by the editor; ``wait``: until the derived graphs (the stored findings
    among them) have caught up."""
    response = client.post("/update", data=PREFIXES + sparql, content_type="application/sparql-update", headers=auth("editor"))
    assert response.status_code == 200, response.text
    if wait:
        settle(client)


# -- what the demo gives ---------------------------------------------------------------------------


def test_the_demo_findings_due_items_breach_and_concern_become_tasks(client):
    body = tasks_of(client)
    assert body["asOf"] == AS_OF.isoformat()
    assert body["kinds"] == {"finding": 26, "due": 13, "breach": 1, "concern": 1}
    assert body["total"] == 41 == len(body["tasks"]) and body["statuses"] == {"open": 41}
    due = [t["due"] for t in body["tasks"]]
    assert due == sorted(due), "soonest first"
    # a finding: the owner of its focus, due now (a standing gap)
    logging = one(body, "CV screening: This AI system has no event logging")
    assert logging["assignee"] == [MB + "role/talent-acquisition-owner"]
    assert logging["assigneeNames"] == ["Claire Dubois, Business owner, recruitment"]
    assert (logging["due"], logging["dueBasis"], logging["overdue"]) == (AS_OF.isoformat(), "now", False)
    assert logging["severity"] == "Violation" and logging["about"] == MB + "system/cv-screening"
    assert logging["cause"].startswith("https://w3id.org/aimsgraph/finding/")
    # a finding whose value is a node: the path runs from the focus to it, by the shape's path
    expired = one(body, "Fraud model champion-challenger")
    assert [s["iri"] for s in expired["path"]] == [MB + "control/fraud-champion-challenger", MB + "evidence/fraud-backtest-2025"]
    assert expired["path"][1]["via"] == "hasEvidence" and "https://" not in expired["label"]  # IRIs named
    # a due item: its owner and its date
    review = one(body, "Review: Triage degrades during catastrophe-event claim surges")
    assert review["assignee"] == [MB + "role/claims-owner"] and review["due"] == "2026-06-12" and review["overdue"]
    agenda = client.get("/api/due", query_string={"within": "30d"}).get_json()["items"]
    assert {(i["item"], i["due"]) for i in agenda} == {(t["cause"], t["due"]) for t in body["tasks"] if t["kind"] == "due"}
    # the breach: the metric's owner decides within 30 days of the measurement
    breach = one(body, "Decide on the breach of Retail PD model Gini coefficient")
    assert breach["assignee"] == [MB + "role/retail-credit-owner"]
    assert (breach["due"], breach["dueBasis"], breach["overdue"]) == ("2026-10-30", "rule", True)
    assert [s["iri"] for s in breach["path"]][:2] == [MB + "metric/retail-pd-gini", MB + "measurement/retail-pd-gini-2026-09-30"]
    # the triaged concern: follow up the risk it became, feedback within three months of the report
    concern = one(body, "Follow up the concern")
    assert concern["about"] == MB + "risk/collections-vulnerable-debtors" and concern["due"] == "2027-01-13"
    assert concern["cause"] == MB + "concern/2026-0007" and concern["path"][1]["via"] == "triagedInto"
    assert body["overdue"] == sum(t["overdue"] for t in body["tasks"]) == 7


def test_a_persons_tasks_include_their_roles_and_filters_combine(client):
    lars = tasks_of(client, assignee=LARS)
    assert lars["total"] == 8 and all(t["assignee"] == [MB + "role/claims-owner"] for t in lars["tasks"])
    assert tasks_of(client, assignee=MB + "role/claims-owner")["total"] == 8
    reviews = tasks_of(client, assignee=LARS, kind="due")
    assert reviews["total"] == 4 and {t["kind"] for t in reviews["tasks"]} == {"due"}
    both = tasks_of(client, kind="breach,concern")
    assert both["kinds"] == {"breach": 1, "concern": 1}
    assert tasks_of(client, status="done")["total"] == 0
    nobody = tasks_of(client, assignee="https://example.org/nobody")
    assert nobody["total"] == 0 and nobody["tasks"] == []


def test_pages_walk_the_whole_list_with_link_headers(client):
    seen, url = [], "/api/tasks?pageSize=15"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += [t["id"] for t in response.get_json()["tasks"]]
        url = links(response).get("next")
    assert len(seen) == len(set(seen)) == tasks_of(client)["total"]
    assert client.get("/api/tasks?pageSize=15").headers["Link"].count('rel="next"') == 1


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"status": "finished"}, "status"),
        ({"kind": "chores"}, "kind"),
        ({"assignee": "lars"}, "assignee"),
        ({"pageSize": "0"}, "pageSize"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_filters_are_refused_naming_the_parameter(client, params, word):
    response = client.get("/api/tasks", query_string=params)
    assert response.status_code == 400 and word in response.get_json()["detail"]


def test_one_task_by_id_and_an_unknown_one(client):
    finding = one(tasks_of(client), "CV screening: This AI system has no event logging")
    response = client.get(f"/api/tasks/{finding['id']}")
    assert response.status_code == 200 and response.get_json() == finding
    missing = client.get("/api/tasks/finding-0123456789abcdef0123456789abcdef01234567")
    assert missing.status_code == 404 and "no task" in missing.get_json()["detail"]
    assert client.get("/api/tasks/not-a-task").status_code == 404


# -- writes ----------------------------------------------------------------------------------------


def test_a_status_change_sticks_and_is_in_the_audit_trail(client):
    review = one(tasks_of(client), "Review: Vulnerable claimants not fast-tracked")
    response = change(client, review["id"], {"status": "in-progress", "note": "Workshop on 9 December"})
    assert response.status_code == 200, response.text
    body = response.get_json()
    assert body["changed"] and body["operation"] == "task-status" and body["agent"] == "lucia"
    assert body["task"]["status"] == "in-progress" and body["task"]["stored"] and body["task"]["due"] == review["due"]
    again = client.get(f"/api/tasks/{review['id']}").get_json()
    assert (again["status"], again["note"], again["due"], again["assignee"]) == (
        "in-progress",
        "Workshop on 9 December",
        "2026-06-12",  # still the item's own date: the stored task keeps none of its own
        [MB + "role/claims-owner"],
    )
    history = client.get("/api/changes", query_string={"resource": TASK + review["id"]}).get_json()["changes"]
    assert [c["operation"] for c in history] == ["task-status"] and history[0]["agent"] == "lucia"
    # the same change again changes nothing
    same = change(client, review["id"], {"status": "in-progress"})
    assert same.status_code == 200 and same.get_json()["changed"] is False
    assert review["id"] in [t["id"] for t in tasks_of(client, status="in-progress")["tasks"]]
    # the review calendar lists the item once, not the stored task beside it
    items = client.get("/api/due", query_string={"within": "30d"}).get_json()["items"]
    assert [i["kind"] for i in items if i["item"] in (review["cause"], TASK + review["id"])] == ["Review"]


def test_done_and_dismissed_tasks_leave_the_active_list_and_reassigning_and_redating_stick(client):
    measure = one(tasks_of(client), "Measure: Card fraud false-positive ratio")
    done = change(client, measure["id"], {"status": "done"})
    assert done.status_code == 200 and done.get_json()["task"]["status"] == "done"
    assert measure["id"] not in [t["id"] for t in tasks_of(client)["tasks"]]
    assert measure["id"] in [t["id"] for t in tasks_of(client, status="done")["tasks"]]
    finding = one(tasks_of(client), "Customer segmentation: No verification and validation record")
    moved = change(client, finding["id"], {"assignee": CLAIRE, "dueDate": "2027-01-15"})
    assert moved.status_code == 200, moved.text
    now = client.get(f"/api/tasks/{finding['id']}").get_json()
    assert (now["assignee"], now["due"], now["dueBasis"], now["status"]) == ([CLAIRE], "2027-01-15", "set", "open")
    assert finding["id"] in [t["id"] for t in tasks_of(client, assignee=CLAIRE)["tasks"]]
    dismissed = change(client, finding["id"], {"status": "dismissed", "note": "The system is retired next month."})
    assert dismissed.get_json()["task"]["status"] == "dismissed"
    assert finding["id"] not in [t["id"] for t in tasks_of(client, assignee=CLAIRE)["tasks"]]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"status": "finished"}, 'status must be one of open, in-progress, done, dismissed, not "finished"'),
        ({"state": "done"}, "state is not a field of this request (known: assignee, dueDate, note, status)"),
        ({"status": "dismissed"}, "note is missing: say why the task is dismissed"),
        ({}, "the body changes nothing"),
        ({"dueDate": "31/01/2027"}, 'dueDate must be a date such as 2027-01-31, not "31/01/2027"'),
        ({"dueDate": "2027-02-30"}, "dueDate is not a valid date"),
        ({"assignee": []}, "assignee must name at least one person or role"),
        ({"assignee": ["https://example.org/nobody"]}, "assignee[0] <https://example.org/nobody> is not a person, role"),
        ({"note": ""}, "note is empty"),
        ([{"status": "done"}], "must be a JSON object"),
    ],
)
def test_bad_bodies_are_refused_naming_the_problem_and_nothing_is_written(client, body, words):
    task = one(tasks_of(client), "Internal code assistant: This AI system is not inside the scope")
    before = client.get("/api/changes").get_json()["changes"]
    response = change(client, task["id"], body)
    assert response.status_code == 400 and words in response.get_json()["detail"], response.text
    assert client.get("/api/changes").get_json()["changes"] == before
    assert client.get(f"/api/tasks/{task['id']}").get_json() == task


def test_who_may_change_tasks(client):
    task = one(tasks_of(client), "Internal code assistant: No AI risk assessment")
    assert change(client, task["id"], {"status": "done"}, role=None).status_code == 401
    reader = change(client, task["id"], {"status": "done"}, role="reader")
    assert reader.status_code == 403 and "editor" in reader.get_json()["detail"]
    assert client.post(f"/api/tasks/{task['id']}", data="status=done", headers=auth("editor")).status_code == 415
    assert change(client, "due-0123456789abcdef0123", {"status": "done"}).status_code == 404
    patched = client.patch(f"/api/tasks/{task['id']}", json={"status": "in-progress"}, headers=auth("editor"))
    assert patched.status_code == 200 and patched.get_json()["task"]["status"] == "in-progress"
    assert client.get(f"/api/tasks/{task['id']}").get_json()["status"] == "in-progress"


def test_fixing_the_cause_resolves_the_task(client):
    task = one(tasks_of(client), "Next-best-offer (marketing propensity): This AI system has no technical documentation")
    assert change(client, task["id"], {"status": "in-progress"}).status_code == 200
    other = one(tasks_of(client), "AI supplier due diligence and contract clauses")  # its path ends at the evidence
    assert change(client, other["id"], {"status": "in-progress"}).status_code == 200
    update(
        client,
        f"""INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{
          <{MB}system/next-best-offer> aims:hasDocumentation <{MB}document/nbo-technical-documentation> .
          <{MB}document/nbo-technical-documentation> a aims:TechnicalDocumentation ;
            <http://www.w3.org/2000/01/rdf-schema#label> "Next-best-offer technical documentation" . }} }}""",
    )
    resolved = client.get(f"/api/tasks/{task['id']}").get_json()
    assert resolved["status"] == "resolved" and resolved["stored"]
    assert task["id"] not in [t["id"] for t in tasks_of(client)["tasks"]]
    assert task["id"] in [t["id"] for t in tasks_of(client, status="resolved")["tasks"]]
    still = client.get(f"/api/tasks/{other['id']}").get_json()  # a finding that stands: its task stays
    assert (still["status"], still["about"], still["severity"]) == (
        "in-progress",
        MB + "control/supplier-ai-due-diligence",
        "Violation",
    )


def test_impact_analysis_tasks_carry_their_path_and_are_created_once(client):
    body = {"node": PD_MODEL, "change": "retrain", "dueDate": "2027-02-01"}
    response = client.post("/api/impact/tasks", json=body, headers=auth("editor"))
    assert response.status_code == 201, response.text
    created = response.get_json()
    analysis = client.post("/api/impact", json={"node": PD_MODEL, "change": "retrain"}).get_json()
    assert len(created["created"]) == len(analysis["risksToReassess"]) == len(created["tasks"]) > 3
    assert created["operation"] == "impact-tasks" and created["changeKind"] == "retrain"
    by_risk = {t["about"]: t for t in created["tasks"]}
    assert set(by_risk) == {r["iri"] for r in analysis["risksToReassess"]}
    # a risk of a system two steps downstream: the path runs model -> system -> system -> risk
    far = by_risk[MB + "risk/collections-vulnerable-debtors"]
    assert [s["iri"] for s in far["path"]] == [
        PD_MODEL,
        MB + "system/retail-credit-scoring",
        MB + "system/collections-prioritisation",
        MB + "risk/collections-vulnerable-debtors",
    ]
    assert [s["via"] for s in far["path"]] == [None, "usesModel", "consumesOutputOf", "hasRisk"]
    assert far["pathText"].startswith(f"<{PD_MODEL}> -usesModel-> <{MB}system/retail-credit-scoring>")
    assert far["label"].startswith("Re-assess") and "before retraining" in far["label"]
    assert (far["due"], far["status"], far["kind"], far["change"], far["cause"]) == (
        "2027-02-01",
        "open",
        "impact",
        "retrain",
        PD_MODEL,
    )
    assert far["assignee"] == [MB + "role/collections-owner"]
    stored = client.get(f"/api/tasks/{far['id']}").get_json()
    assert stored["path"] == far["path"] and stored["stored"]
    # once: the same analysis again stores nothing, and a status set in between stays
    assert change(client, far["id"], {"status": "in-progress"}).status_code == 200
    again = client.post("/api/impact/tasks", json=body, headers=auth("editor"))
    assert again.status_code == 200 and again.get_json()["changed"] is False and again.get_json()["created"] == []
    assert {t["id"]: t["status"] for t in again.get_json()["tasks"]}[far["id"]] == "in-progress"
    # the calendar lists the stored tasks as "Task", with their assignees, until they are done
    settle(client)
    items = client.get("/api/due", query_string={"within": "90d"}).get_json()["items"]
    listed = {i["item"]: i for i in items if i["kind"] == "Task"}
    assert TASK + far["id"] in listed and "Dimitris Papadopoulos" in listed[TASK + far["id"]]["ownerNames"][0]
    assert change(client, far["id"], {"status": "done"}).status_code == 200
    items = client.get("/api/due", query_string={"within": "90d"}).get_json()["items"]
    assert TASK + far["id"] not in {i["item"] for i in items}


def test_a_re_assessment_resolves_an_impact_task(client):
    response = client.post(
        "/api/impact/tasks",
        json={"node": MB + "dataset/collections-contact-history", "change": "data-change"},
        headers=auth("editor"),
    )
    assert response.status_code == 201, response.text
    [task] = [t for t in response.get_json()["tasks"] if t["about"] == MB + "risk/collections-vulnerable-debtors"]
    assert task["due"] == date.fromordinal(AS_OF.toordinal() + 30).isoformat()  # no date given: 30 days
    update(
        client,
        f"""INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{
          <{MB}assessment/ra-collections-2026-11> a aims:RiskAssessment ;
            aims:assesses <{MB}risk/collections-vulnerable-debtors> ;
            aims:assessmentDate "{AS_OF.isoformat()}"^^xsd:date . }} }}""",
        wait=False,  # the task reads the record itself, not a derived graph
    )
    assert client.get(f"/api/tasks/{task['id']}").get_json()["status"] == "resolved"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"node": "retail-pd-model"}, 400, "node must be an absolute IRI"),
        ({"node": PD_MODEL, "change": "explode"}, 400, "change must be one of modify, retrain"),
        ({"node": PD_MODEL, "whatIf": "remove"}, 400, "whatIf must be a list of modifications"),
        ({"node": PD_MODEL, "dueDate": "soon"}, 400, "dueDate must be a date"),
        ({"node": PD_MODEL, "plannedChange": MB + "change/replace-ocr-vendor"}, 400, "does not target"),
        ({"node": PD_MODEL, "plannedChange": MB + "system/cv-screening"}, 400, "is not an aims:PlannedChange"),
        ({"node": PD_MODEL, "colour": "red"}, 400, "colour is not a field of this request"),
        ({"node": MB + "model/no-such-model"}, 404, "unknown node"),
    ],
)
def test_bad_impact_task_requests_are_refused(client, body, status, words):
    response = client.post("/api/impact/tasks", json=body, headers=auth("editor"))
    assert response.status_code == status and words in response.get_json()["detail"], response.text


def test_impact_tasks_need_an_editor_and_take_the_planned_changes_date(client):
    body = {"node": MB + "model/scriptura-ocr", "change": "replace", "plannedChange": MB + "change/replace-ocr-vendor"}
    assert client.post("/api/impact/tasks", json=body).status_code == 401
    assert client.post("/api/impact/tasks", json=body, headers=auth("reader")).status_code == 403
    response = client.post("/api/impact/tasks", json=body, headers=auth("editor"))
    assert response.status_code == 201, response.text
    assert {(t["due"], t["plannedChange"]) for t in response.get_json()["tasks"]} == {
        ("2027-06-30", MB + "change/replace-ocr-vendor")
    }


# -- me, the page, the feeds, the query ------------------------------------------------------------


def test_assignee_me_is_the_caller_by_account_name(client):
    assert client.get("/api/tasks?assignee=me").status_code == 401
    unknown = client.get("/api/tasks?assignee=me", headers=auth("reader"))
    assert unknown.status_code == 400 and "reader-user" in unknown.get_json()["detail"]
    update(
        client, f'INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{ <{LARS}> aims:accountName "Lucia" }} }}', False
    )
    mine = client.get("/api/tasks?assignee=me&pageSize=1000", headers=auth("editor")).get_json()
    assert mine["total"] > 0 and mine["tasks"] == tasks_of(client, assignee=LARS)["tasks"]


def test_the_page_groups_a_persons_tasks_and_explains_each(client):
    page = client.get("/my-work", query_string={"assignee": MARCO}, headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Work of Marco Bianchi</h1>" in html
    overdue = html.split('id="tasks-overdue"')[1].split("</ul>")[0]
    assert "Decide on the breach of Retail PD model Gini coefficient" in overdue and "overdue" in overdue
    assert 'href="/due#breaches-h"' in overdue  # the cause
    assert "measurement" in overdue and "Retail PD model Gini coefficient, 2026-09-30: 0.53" in overdue  # the path
    today = html.split('id="tasks-due-today"')[1].split("</ul>")[0]
    assert f'href="/asset?iri={MB}system/retail-credit-scoring"' in today and "a standing gap" in today
    nav = html.split("<nav")[1].split("</nav>")[0]
    assert 'href="/my-work"' in nav
    nobody = client.get("/my-work", headers={"Accept": "text/html"})
    assert nobody.status_code == 200 and "Log in to see yours" in nobody.get_data(as_text=True)
    assert client.get("/my-work?assignee=marco").status_code == 400


def test_the_calendar_feeds_parse_and_hold_the_tasks(client):
    raw = client.get("/api/due.ics", query_string={"within": "30d"}).data
    calendar = icalendar.Calendar.from_ical(raw)
    todos = list(calendar.walk("VTODO"))
    listed = tasks_of(client)["tasks"]
    dated = [t for t in listed if t["dueBasis"] != "now" and t["due"] <= "2026-12-26"]  # standing findings are left out
    assert len(todos) == len(dated) and len({str(t["UID"]) for t in todos}) == len(todos)
    [breach] = [t for t in todos if str(t["SUMMARY"]).startswith("Decide on the breach")]
    assert breach["DUE"].dt == date(2026, 10, 30) and str(breach["STATUS"]) == "NEEDS-ACTION"
    assert "Marco Bianchi" in str(breach["DESCRIPTION"]) and "Overdue" in breach["CATEGORIES"].to_ical().decode()
    events = list(calendar.walk("VEVENT"))
    assert len(events) == len(client.get("/api/due", query_string={"within": "30d"}).get_json()["items"])
    again = icalendar.Calendar.from_ical(client.get("/api/due.ics", query_string={"within": "30d"}).data)
    assert {str(t["UID"]) for t in again.walk("VTODO")} == {str(t["UID"]) for t in todos}
    own = icalendar.Calendar.from_ical(client.get("/api/tasks.ics", query_string={"assignee": MARCO}).data)
    marco = [t for t in tasks_of(client, assignee=MARCO)["tasks"] if t["dueBasis"] != "now"]
    assert sorted(str(t["SUMMARY"]) for t in own.walk("VTODO")) == sorted(t["label"] for t in marco)


def test_the_named_query_lists_the_stored_tasks(client):
    review = one(tasks_of(client), "Review: Unfair referral of claimants to fraud investigation")
    assert change(client, review["id"], {"status": "in-progress", "note": "Data pulled"}).status_code == 200
    response = client.get(
        "/api/queries/tasks", query_string={"assignee": LARS}, headers={"Accept": "application/sparql-results+json"}
    )
    assert response.status_code == 200, response.text
    rows = [{k: v["value"] for k, v in row.items()} for row in response.get_json()["results"]["bindings"]]
    by_label = {r["label"]: r for r in rows}
    row = by_label[review["label"]]
    assert (row["task"], row["kind"], row["status"], row["overdue"]) == (TASK + review["id"], "due", "in-progress", "false")
    assert "due" not in row and row["assignee"] == MB + "role/claims-owner" and row["holders"] == LARS
    assert row["cause"] == MB + "risk/claims-triage-unfair-routing" and row["note"] == "Data pulled"
    assert all(LARS in r["holders"].split() for r in rows)


def test_an_overdue_task_and_a_task_without_assignee_or_date_are_findings(demo_store: GraphStore):
    assert len(validation.validate_store(demo_store, AS_OF)) == 26  # the demo's findings: the task shapes add none
    store = GraphStore(None)
    store.initialise(demo=True)
    before = set(validation.validate_store(store, AS_OF))
    store.update(
        PREFIXES
        + f"""INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{
          <{TASK}impact-late> a aims:Task ; aims:taskKind aims:TaskFromImpactAnalysis ; aims:taskCause <{PD_MODEL}> ;
            aims:status aims:TaskInProgress ; aims:assignee <{MB}role/retail-credit-owner> ; aims:dueDate "2026-11-01"^^xsd:date .
          <{TASK}impact-bare> a aims:Task ; aims:taskKind aims:TaskFromImpactAnalysis ; aims:status aims:TaskOpen .
          <{TASK}due-dated-by-its-item> a aims:Task ; aims:taskKind aims:TaskFromDueItem ; aims:taskCause <{PD_MODEL}> ;
            aims:status aims:TaskDone ; aims:assignee <{MB}role/retail-credit-owner> . }} }}"""
    )
    after = validation.validate_store(store, AS_OF)
    new = {(f.focus.removeprefix(TASK), f.shape.rsplit("#", 1)[1], f.severity) for f in set(after) - before}
    assert new == {
        ("impact-late", "OverdueTaskShape", "Warning"),
        ("impact-bare", "TaskShape-assignee", "Warning"),
        ("impact-bare", "TaskShape-cause", "Warning"),
        ("impact-bare", "DatedTaskShape-dueDate", "Warning"),
    }
    [late] = [f for f in after if f.shape.endswith("OverdueTaskShape")]
    assert "due on 2026-11-01 and is still in progress" in late.message


# -- in the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[str]:
    """A real service with Marco Bianchi's account name on record, and his token."""
    token = "marco-token-for-the-task-tests"
    server = start_server(fresh_data_dir(tmp_path_factory.mktemp("tasks-live") / "db"), AIMSGRAPH_TOKENS=f"editor:marco:{token}")
    try:
        response = requests.post(
            server.url + "/update",
            data=PREFIXES
            + f'INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{ <{MARCO}> aims:accountName "marco" }} }}',
            headers={"Content-Type": "application/sparql-update", "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield server.url, token
    finally:
        server.stop()


def test_my_work_in_chromium_after_login_at_a_phones_width(live, tmp_path: Path):
    url, token = live
    chrome = start_chromium(tmp_path / "chromium")
    try:
        chrome.get(url + "/login?next=/my-work")
        chrome.find_element(By.ID, "token").send_keys(token, Keys.ENTER)
        WebDriverWait(chrome, 20, poll_frequency=POLL).until(lambda c: c.current_url.endswith("/my-work"))
        assert chrome.find_element(By.TAG_NAME, "h1").text == "My work"
        assert "signed in as marco" in chrome.find_element(By.ID, "work-totals").text
        overdue = chrome.find_element(By.ID, "tasks-overdue").text
        assert "Decide on the breach of Retail PD model Gini coefficient" in overdue
        viewport(chrome, *NARROW, mobile=True)
        chrome.get(url + "/my-work")
        assert chrome.execute_script("return document.documentElement.scrollWidth") <= NARROW[0]
        assert len(chrome.get_screenshot_as_png()) > 10_000  # the phone's screen shows a page, not a blank
        screenshot(chrome, "my-work-narrow", NARROW[0], mobile=True)
        chrome.find_element(By.LINK_TEXT, "Metric beyond its threshold").click()
        assert chrome.current_url.endswith("/due#breaches-h")
        assert console_errors(chrome) == []
        chrome.get(url + "/my-work?assignee=" + quote(LARS, safe=""))
        assert chrome.find_element(By.TAG_NAME, "h1").text == "Work of Lars Johansson"
    finally:
        chrome.quit()
