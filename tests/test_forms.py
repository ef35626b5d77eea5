"""Forms from shapes, browser writes done safely, and approvals as PROV activities (issue 21).

Most tests drive the service in this process with Flask's test client, over a real store with
the demo and three tokens; the browser tests (a real headless Chromium) fill each form at both
widths, and show that a cross-site form post cannot write.
"""

from __future__ import annotations

import html
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from rdflib import SH, URIRef
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from aimsgraph.config import Settings
from aimsgraph.namespaces import AIMS
from aimsgraph.records import forms
from aimsgraph.semantics import validation
from browser import NARROW, POLL, WIDE, console_errors, screenshot, start_chromium, viewport
from conftest import AS_OF, FreshDataDir, select, serving, start_server

DEMO = "https://data.meridian.example/aims/"
EDITOR, READER, ADMIN = "editor-token-for-forms", "reader-token-for-forms", "admin-token-for-forms"
TOKENS = (f"editor:eddie:{EDITOR}", f"reader:rita:{READER}", f"admin:ada:{ADMIN}")


#: eddie signs in for Lars Johansson, who holds the claims owner role: the owner of the claims
#: triage risks, whose acceptance is his to give.
EDDIE_IS_LARS = f'INSERT DATA {{ GRAPH <https://w3id.org/aimsgraph/graph/data> {{ <{DEMO}person/lars-johansson> <https://w3id.org/aimsgraph/ontology#accountName> "eddie" }} }}'


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    with serving(Settings(data_dir=fresh_data_dir(tmp_path_factory.mktemp("forms") / "db"), tokens=TOKENS)) as service:
        answer = service.test_client().post(
            "/sparql", data={"update": EDDIE_IS_LARS}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert answer.status_code in (200, 204)
        yield service


def signed_in(app: Flask, token: str) -> FlaskClient:
    client = app.test_client()
    assert client.post("/login", data={"token": token, "next": "/"}).status_code == 302
    return client


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the form has no CSRF token"
    return found.group(1)


def filled(app: Flask, kind: str) -> dict[str, str]:
    """A value for every field of the kind's form: the first choice, or a value of its type."""
    with app.app_context():
        entry = forms.entry(app.extensions["aimsgraph"].store, kind, None)
    values = {}
    for field in entry.form.fields:
        choices = entry.choices.get(field.key)
        if choices:
            values[field.key] = choices[0][0]
        elif field.input_type == "date":
            values[field.key] = "2026-12-31"
        elif field.input_type == "datetime-local":
            values[field.key] = "2026-05-01T10:00"
        elif field.input_type == "number":
            values[field.key] = "0.5"
        elif field.takes_iri:
            values[field.key] = "https://example.org/elsewhere"
        else:
            values[field.key] = f"{kind} {field.name} from a form"
    return values


def post_form(
    client: FlaskClient, kind: str, values: dict[str, str], action: str = "save", iri: str | None = None, **headers: str
):
    page = client.get(f"/records/new?kind={kind}").text
    data = {"csrf_token": csrf_token(page), "kind": kind, "action": action, **values}
    if iri:
        data["iri"] = iri
    return client.post("/records/save", data=data, headers=headers)


def messages(page: str, list_id: str) -> list[str]:
    block = re.search(rf'<ul id="{list_id}">(.*?)</ul>', page, re.S)
    return [html.unescape(m).strip() for m in re.findall(r"</strong> ([^<]*)", block.group(1))] if block else []


# -- forms from shapes ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(forms.KINDS))
def test_each_form_asks_for_what_its_shapes_check(app: Flask, kind: str):
    """Every property shape (with a plain path) of an active node shape on the kind's class is a
    field, with its name, help text and the clause that checks it."""
    shapes = validation.shapes_graph()
    cls = URIRef(forms.KINDS[kind][0])
    expected = {
        str(shapes.value(prop, SH.name))
        for shape in shapes.subjects(SH.targetClass, cls)
        if shapes.value(shape, SH.deactivated) is None
        for prop in shapes.objects(shape, SH.property)
        if isinstance(shapes.value(prop, SH.path), URIRef)
    }
    page = app.test_client().get(f"/records/new?kind={kind}")
    assert page.status_code == 200
    labels = {html.unescape(m).strip() for m in re.findall(r'<label for="f_[^"]+">([^<*]+)', page.text)}
    assert expected <= labels and "name" in labels, expected - labels
    if kind == "AISystem":
        assert "Checked for A.3.2" in page.text  # the owner's clause, from ash:AISystemShape-owner


@pytest.mark.parametrize("kind", list(forms.KINDS))
def test_each_form_filled_and_saved_is_found_by_sparql_and_in_the_trail(app: Flask, kind: str):
    client = signed_in(app, EDITOR)
    values = filled(app, kind)
    saved = post_form(client, kind, values)
    assert saved.status_code == 302, saved.text
    label = f"{kind} name from a form"
    rows = select(
        app.test_client(),
        f'SELECT ?e WHERE {{ ?e a <{forms.KINDS[kind][0]}> ; <http://www.w3.org/2000/01/rdf-schema#label> ?l . FILTER(STR(?l) = "{label}") }}',
    )
    assert len(rows) == 1
    changes = app.test_client().get("/api/changes", query_string={"resource": rows[0]["e"]}).get_json()["changes"]
    assert [(c["operation"], c["agent"]) for c in changes] == [("form", "eddie")]


def test_editing_replaces_a_value_and_keeps_the_rest(app: Flask):
    system = DEMO + "system/customer-service-chatbot"
    client = signed_in(app, EDITOR)
    page = client.get("/records/edit", query_string={"iri": system}).text
    purpose_key = re.search(r'<label for="(f_intendedPurpose_[^"]+)"', page).group(1)
    form = dict(re.findall(r'name="(f_[^"]+)" type="[^"]+" value="([^"]*)"', page))
    for key, values in _selected(page).items():
        form[key] = values  # type: ignore[assignment]
    for key, text in re.findall(r'<textarea id="(f_[^"]+)"[^>]*>([^<]*)</textarea>', page):
        form[key] = html.unescape(text)
    form[purpose_key] = "Answers customers' questions about their accounts, in English, during opening hours."
    saved = client.post(
        "/records/save", data={"csrf_token": csrf_token(page), "kind": "AISystem", "iri": system, "action": "save", **form}
    )
    assert saved.status_code == 302
    purposes = select(app.test_client(), f"SELECT ?p WHERE {{ <{system}> <{AIMS}intendedPurpose> ?p }}")
    assert [r["p"] for r in purposes] == [form[purpose_key]]
    owners = select(app.test_client(), f"SELECT ?o WHERE {{ <{system}> <{AIMS}hasOwner> ?o }}")
    assert owners  # fields sent as they were are kept


def _selected(page: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, body in re.findall(r'<select id="(f_[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        found[key] = re.findall(r'<option value="([^"]+)" selected>', body)
    return found


def test_check_shows_the_findings_a_change_would_fix_and_create_and_writes_nothing(app: Flask):
    client = signed_in(app, EDITOR)
    before = select(
        app.test_client(), "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }"
    )
    created = post_form(
        client, "Risk", {"f_label_" + _crc("http://www.w3.org/2000/01/rdf-schema#label"): "An unrated risk"}, action="check"
    )
    assert created.status_code == 200
    assert any("no risk owner" in m.lower() or "risk owner" in m for m in messages(created.text, "created")), created.text
    after = select(
        app.test_client(), "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }"
    )
    assert after == before
    # an AI system without event logging: choosing one in its form fixes that Violation
    with app.app_context():
        store = app.extensions["aimsgraph"].store
        finding = next(f for f in validation.validate_store(store, AS_OF) if f.shape.endswith("AISystemShape-eventLogging"))
        values = _current(store, "AISystem", finding.focus)
        key = next(f.key for f in forms.form("AISystem").fields if f.path == finding.path)
        choices = [iri for iri, _ in forms.entry(store, "AISystem", None).choices[key]]
    fixes = (
        choice
        for choice in choices
        if finding.message.strip()
        in messages(post_form(client, "AISystem", {**values, key: choice}, action="check", iri=finding.focus).text, "fixed")
    )
    assert next(fixes, None) is not None
    assert (
        select(app.test_client(), "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <https://w3id.org/aimsgraph/graph/data> { ?s ?p ?o } }")
        == before
    )


def _crc(path: str) -> str:
    import zlib

    return format(zlib.crc32(path.encode()), "x")


def _current(store, kind: str, iri: str) -> dict[str, list[str]]:
    entry = forms.entry(store, kind, iri)
    return {key: values for key, values in entry.values.items() if values}


def test_a_value_that_does_not_fit_its_field_is_refused_naming_the_field(app: Flask):
    client = signed_in(app, EDITOR)
    values = filled(app, "Risk")
    review = next(f for f in forms.form("Risk").fields if f.input_type == "date")
    bad_date = post_form(client, "Risk", {**values, review.key: "31/12/2026"})
    assert bad_date.status_code == 400 and f"{review.name}: &#39;31/12/2026&#39; is not a valid date" in bad_date.text
    owner = next(f for f in forms.form("Risk").fields if f.path == AIMS + "hasRiskOwner")
    stranger = post_form(client, "Risk", {**values, owner.key: "https://example.org/nobody"})
    assert stranger.status_code == 400 and "is not one of the record&#39;s choices" in stranger.text
    assert not select(app.test_client(), f'SELECT ?r WHERE {{ ?r <{AIMS}nextReviewDate> "31/12/2026" }}')


# -- browser writes done safely -------------------------------------------------------------------


def test_a_form_post_without_the_sessions_token_or_from_elsewhere_writes_nothing(app: Flask):
    client = signed_in(app, EDITOR)
    values = {**filled(app, "Evidence"), "kind": "Evidence", "action": "save"}
    label_key = next(f.key for f in forms.form("Evidence").fields if f.name == "name")
    page = client.get("/records/new?kind=Evidence").text
    attempts = [
        ({**values, label_key: "no token"}, {}),
        ({**values, label_key: "wrong token", "csrf_token": "x" * 43}, {}),
        ({**values, label_key: "other origin", "csrf_token": csrf_token(page)}, {"Origin": "https://evil.example"}),
        ({**values, label_key: "cross site", "csrf_token": csrf_token(page)}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for data, headers in attempts:
        answer = client.post("/records/save", data=data, headers=headers)
        assert answer.status_code == 403, data[label_key]
    reader = signed_in(app, READER)
    reader_page = reader.get("/records/new?kind=Evidence").text
    refused = reader.post("/records/save", data={**values, label_key: "reader", "csrf_token": csrf_token(reader_page)})
    assert refused.status_code == 403 and "editor role" in refused.text
    nobody = app.test_client()
    anonymous = nobody.post(
        "/records/save",
        data={**values, label_key: "anonymous", "csrf_token": csrf_token(nobody.get("/records/new?kind=Evidence").text)},
    )
    assert anonymous.status_code == 401
    written = select(
        app.test_client(),
        "SELECT ?l WHERE { ?e a <https://w3id.org/aimsgraph/ontology#Evidence> ; <http://www.w3.org/2000/01/rdf-schema#label> ?l }",
    )
    assert not {r["l"] for r in written} & {"no token", "wrong token", "other origin", "cross site", "reader", "anonymous"}


def test_an_editors_session_still_cannot_write_through_sparql_the_graph_store_or_the_api(app: Flask):
    client = signed_in(app, EDITOR)
    assert client.post("/sparql", data={"update": f"INSERT DATA {{ <{DEMO}x> <{DEMO}p> 1 }}"}).status_code in (401, 403)
    assert client.put("/rdf-graph-store?default", data="<urn:a> <urn:b> <urn:c> .", content_type="text/turtle").status_code in (
        401,
        403,
    )
    assert client.post("/api/approvals", json={"about": DEMO + "risk/aurora-lock-in"}).status_code in (401, 403)


def test_the_validation_gate_refuses_a_form_with_its_messages(tmp_path: Path, fresh_data_dir: FreshDataDir):
    with serving(Settings(data_dir=fresh_data_dir(tmp_path / "db"), tokens=TOKENS, validation_gate=True)) as gated:
        client = signed_in(gated, EDITOR)
        refused = post_form(client, "AISystem", filled(gated, "AISystem"))
        assert refused.status_code == 422
        assert "the write would add" in refused.text
        assert any("risk assessment" in m for m in messages(refused.text, "rejected")), refused.text
        assert not select(
            gated.test_client(), 'SELECT ?s WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> "AISystem name from a form" }'
        )


# -- approvals ----------------------------------------------------------------------------------


def test_an_approval_is_refused_while_its_risk_has_a_violation_and_granted_after_the_fix(app: Flask):
    risk = DEMO + "risk/claims-triage-vulnerable-delay"
    owner = select(app.test_client(), f"SELECT ?o WHERE {{ GRAPH <{DATA}> {{ <{risk}> <{AIMS}hasRiskOwner> ?o }} }}")[0]["o"]
    ownerless = f"DELETE DATA {{ GRAPH <{DATA}> {{ <{risk}> <{AIMS}hasRiskOwner> <{owner}> }} }}"
    assert _update(app, ownerless).status_code in (200, 204)
    client = signed_in(app, EDITOR)
    page = client.get("/approvals", query_string={"about": risk})
    assert page.status_code == 200 and 'id="blocking"' in page.text and "disabled" in page.text
    refused = client.post("/approvals", data={"about": risk, "csrf_token": csrf_token(page.text)})
    assert refused.status_code == 422 and "open Violation" in refused.text
    api = app.test_client().post("/api/approvals", json={"about": risk}, headers={"Authorization": f"Bearer {EDITOR}"})
    assert api.status_code == 422 and "risk owner" in " ".join(f["message"] for f in api.get_json()["findings"])

    assert _update(app, ownerless.replace("DELETE DATA", "INSERT DATA")).status_code in (200, 204)  # the fix
    granted = client.post("/approvals", data={"about": risk, "csrf_token": csrf_token(page.text)})
    assert granted.status_code == 302, granted.text
    standing = app.test_client().get("/api/approvals", query_string={"about": risk}).get_json()
    latest = standing["approvals"][0]
    assert latest["kind"] == "risk-acceptance" and latest["account"] == "eddie" and latest["current"] and latest["at_change"] > 0
    prov = select(
        app.test_client(),
        f"""PREFIX prov: <http://www.w3.org/ns/prov#> SELECT ?t WHERE {{ <{latest["iri"]}> a prov:Activity ;
            prov:used <{risk}> ; prov:endedAtTime ?t }}""",
    )
    assert len(prov) == 1  # a PROV activity, by inference from the ontology
    changes = app.test_client().get("/api/changes", query_string={"resource": latest["iri"]}).get_json()["changes"]
    assert [(c["operation"], c["agent"]) for c in changes] == [("approve", "eddie")]

    # the record of the risk changes: the approval no longer stands, and the shapes say so
    assert _update(
        app, f'INSERT DATA {{ GRAPH <{DATA}> {{ <{risk}> <http://purl.org/dc/terms/description> "re-rated" }} }}'
    ).status_code in (200, 204)
    assert not app.test_client().get("/api/approvals", query_string={"about": risk}).get_json()["approvals"][0]["current"]
    with app.app_context():
        again = [
            f for f in validation.validate_store(app.extensions["aimsgraph"].store, AS_OF) if f.shape.endswith("#ReapprovalShape")
        ]
    assert [f.focus for f in again] == [latest["iri"]]
    assert "approve it again" in again[0].message


DATA = "https://w3id.org/aimsgraph/graph/data"


def _update(app: Flask, update: str):
    return app.test_client().post("/sparql", data={"update": update}, headers={"Authorization": f"Bearer {EDITOR}"})


def test_a_risk_acceptance_is_the_risk_owners_to_give(app: Flask):
    risk = DEMO + "risk/retail-credit-explainability"  # owned by the retail credit owner, not Lars
    refused = app.test_client().post("/api/approvals", json={"about": risk}, headers={"Authorization": f"Bearer {EDITOR}"})
    assert refused.status_code == 403 and "risk owner" in refused.get_json()["detail"]
    assert "eddie is not the risk owner" in refused.get_json()["detail"]
    top = app.test_client().post("/api/approvals", json={"about": risk}, headers={"Authorization": f"Bearer {ADMIN}"})
    assert top.status_code in (201, 422), top.text  # top management may; a Violation may still block it


def test_top_management_approves_the_soa_and_an_editor_cannot(app: Flask):
    soa = select(app.test_client(), f"SELECT ?s WHERE {{ ?s a <{AIMS}StatementOfApplicability> }}")[0]["s"]
    page = app.test_client().get("/soa").text
    assert f'href="/approvals?about={soa}" id="soa-approvals"' in page
    for token, status in ((EDITOR, 403), (ADMIN, None)):
        answer = app.test_client().post("/api/approvals", json={"about": soa}, headers={"Authorization": f"Bearer {token}"})
        if status:
            assert answer.status_code == status and "admin role" in answer.get_json()["detail"]
        else:
            assert answer.status_code in (201, 422), answer.text  # 422: the demo's SoA has open Violations
            if answer.status_code == 422:
                assert all(f["severity"] == "Violation" for f in answer.get_json()["findings"])


def test_bad_approval_bodies_are_400_and_unknown_things_404(app: Flask):
    auth = {"Authorization": f"Bearer {EDITOR}"}
    api = app.test_client()
    assert api.post("/api/approvals", json={"about": DEMO + "risk/aurora-lock-in", "extra": 1}, headers=auth).status_code == 400
    assert api.post("/api/approvals", data="about", content_type="text/plain", headers=auth).status_code == 415
    assert api.post("/api/approvals", json={"about": DEMO + "system/customer-service-chatbot"}, headers=auth).status_code == 404
    assert api.get("/api/approvals").status_code == 400


# -- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir):
    server = start_server(fresh_data_dir(tmp_path_factory.mktemp("forms-live")), AIMSGRAPH_TOKENS=",".join(TOKENS))
    answer = requests.post(
        server.sparql, data={"update": EDDIE_IS_LARS}, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    assert answer.status_code in (200, 204)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory, live):
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    browser.get(live.url + "/login")
    browser.find_element(By.ID, "token").send_keys(EDITOR + "\n")
    WebDriverWait(browser, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda c: "Signed in as eddie" in c.find_element(By.CSS_SELECTOR, ".who").text
    )
    yield browser
    browser.quit()


@pytest.mark.parametrize("width", ["wide", "narrow"])
def test_each_form_is_filled_and_saved_in_the_browser(chrome, live, width: str):
    size, mobile = (WIDE, False) if width == "wide" else (NARROW, True)
    viewport(chrome, *size, mobile=mobile)
    for kind in forms.KINDS:
        chrome.get(f"{live.url}/records/new?kind={kind}")
        name = f"{kind} typed in a browser, {width}"
        chrome.execute_script(FILL)
        chrome.find_element(By.CSS_SELECTOR, "input[id^=f_label_]").send_keys(name)
        if kind == "Risk":
            screenshot(chrome, f"form-risk-{width}", width=size[0], mobile=mobile)
            assert chrome.execute_script("return document.documentElement.scrollWidth") <= size[0]  # no sideways scrolling
        chrome.find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
        WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda c: "/records/new" not in c.current_url
        )
        assert console_errors(chrome) == [], kind
        found = live.select(
            f'SELECT ?e WHERE {{ ?e a <{forms.KINDS[kind][0]}> ; <http://www.w3.org/2000/01/rdf-schema#label> "{name}" }}'
        )
        assert len(found) == 1, kind


#: Fills every field but the name with a value of its type: the first choice of a list, a day,
#: a number, an IRI or some text (one script: a round trip a field would take seconds a form).
FILL = """
for (const el of document.querySelectorAll('.record-form .field select, .record-form .field input, .record-form .field textarea')) {
  if (el.id.startsWith('f_label_')) continue;
  if (el.tagName === 'SELECT') { el.selectedIndex = el.options.length > 1 && el.options[0].value === '' ? 1 : 0; continue; }
  el.value = {date: '2026-12-31', 'datetime-local': '2026-05-01T10:00', number: '0.5', url: 'https://example.org/elsewhere'}[el.type]
    || 'typed in a browser';
}
"""


class _Attacker(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):
        body = f"""<!DOCTYPE html><html><body><form id="f" method="post" action="{self.target}/records/save">
            <input name="kind" value="Evidence"><input name="action" value="save">
            <input name="{forms.form("Evidence").fields[0].key}" value="planted by another site">
            </form><script>document.getElementById('f').submit()</script></body></html>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


def test_a_cross_site_form_post_in_the_browser_cannot_write(chrome, live):
    """Another site (another origin on this machine) posts a form to the service in a browser
    that is signed in as an editor: the session cookie goes along, and nothing is written."""
    _Attacker.target = live.url
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        chrome.get(f"http://localhost:{attacker.server_address[1]}/")
        WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda c: "/records/save" in c.current_url
        )
        assert "403" in chrome.title or "cannot write" in chrome.page_source or "CSRF" in chrome.page_source
        console_errors(chrome)  # the refused post is logged as a failed resource
    finally:
        attacker.shutdown()
        attacker.server_close()
    assert live.select('SELECT ?e WHERE { ?e <http://www.w3.org/2000/01/rdf-schema#label> "planted by another site" }') == []


def test_a_task_is_started_from_my_work_with_the_sessions_token(app: Flask):
    """The status buttons of "My work" post a form: with the session's token the task changes
    (in the trail as the signed-in person), without it nothing does."""
    person = DEMO + "person/marco-bianchi"
    client = signed_in(app, EDITOR)
    page = client.get("/my-work", query_string={"assignee": person}).text
    task_id = re.search(r'name="task" value="([^"]+)"', page).group(1)
    forged = client.post("/my-work/status", data={"task": task_id, "status": "in-progress"})
    assert forged.status_code == 403
    started = client.post("/my-work/status", data={"task": task_id, "status": "in-progress", "csrf_token": csrf_token(page)})
    assert started.status_code == 302
    task = app.test_client().get(f"/api/tasks/{task_id}").get_json()
    assert task["status"] == "in-progress"
    changes = app.test_client().get("/api/changes", query_string={"resource": task["task"]}).get_json()["changes"]
    assert [(c["operation"], c["agent"]) for c in changes] == [("task-status", "eddie")]


def test_in_the_browser_an_approval_is_blocked_by_a_violation_then_granted_after_the_fix(chrome, live):
    risk = DEMO + "risk/claims-triage-unfair-routing"
    owner = live.select(f"SELECT ?o WHERE {{ GRAPH <{DATA}> {{ <{risk}> <{AIMS}hasRiskOwner> ?o }} }}")[0]["o"]
    removed = requests.post(
        live.sparql,
        data={"update": f"DELETE DATA {{ GRAPH <{DATA}> {{ <{risk}> <{AIMS}hasRiskOwner> <{owner}> }} }}"},
        headers={"Authorization": f"Bearer {EDITOR}"},
        timeout=30,
    )
    assert removed.status_code in (200, 204)
    viewport(chrome, *WIDE)
    chrome.get(f"{live.url}/approvals?about={quote(risk, safe='')}")
    assert "risk owner" in chrome.find_element(By.ID, "blocking").text
    assert not chrome.find_element(By.ID, "approve").is_enabled()
    # the fix, by clicks: the risk's form, its owner chosen again
    chrome.get(f"{live.url}/records/edit?iri={quote(risk, safe='')}")
    Select(
        chrome.find_element(By.ID, next(f.key for f in forms.form("Risk").fields if f.path == AIMS + "hasRiskOwner"))
    ).select_by_value(owner)
    chrome.find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
    WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda c: c.find_elements(By.ID, "saved")
    )
    chrome.find_element(By.ID, "approvals-link").click()
    WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda c: c.find_elements(By.ID, "approve")
    ).pop().click()
    WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda c: c.find_elements(By.ID, "approved")
    )
    assert "approved" in chrome.find_element(By.ID, "standing").text.lower()
    assert console_errors(chrome) == []


def test_in_the_browser_the_validation_gate_refuses_a_form_with_its_messages(tmp_path_factory, chrome):
    gated = start_server(
        tmp_path_factory.mktemp("forms-gated"), AIMSGRAPH_TOKENS=",".join(TOKENS), AIMSGRAPH_VALIDATION_GATE="true"
    )
    try:
        chrome.get(gated.url + "/login")
        chrome.find_element(By.ID, "token").send_keys(EDITOR + "\n")
        WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda c: "Signed in as eddie" in c.find_element(By.CSS_SELECTOR, ".who").text
        )
        chrome.get(gated.url + "/records/new?kind=Dataset")
        chrome.execute_script(FILL)
        chrome.find_element(By.CSS_SELECTOR, "input[id^=f_label_]").send_keys("A dataset nobody assessed")
        chrome.find_element(By.CSS_SELECTOR, 'button[value="save"]').click()
        rejected = (
            WebDriverWait(chrome, 20, poll_frequency=POLL, ignored_exceptions=(StaleElementReferenceException,))
            .until(lambda c: c.find_elements(By.ID, "rejected"))
            .pop()
            .text
        )
        assert "data quality assessment" in rejected
        assert "nothing was written" in chrome.find_element(By.ID, "form-error").text
        screenshot(chrome, "form-gate-refused")
        console_errors(chrome)  # the 422 answer is logged as a failed resource
        assert (
            gated.select('SELECT ?d WHERE { ?d <http://www.w3.org/2000/01/rdf-schema#label> "A dataset nobody assessed" }') == []
        )
    finally:
        gated.stop()
