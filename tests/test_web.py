"""The web interface and the auditor report, in a real headless Chromium against the real service
on loopback (the session's demo server), plus the HTTP behaviour of the pages with requests."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from aimsgraph.config import Settings
from browser import NARROW, POLL, WIDE, console_errors, screenshot, start_chromium, viewport
from conftest import FreshDataDir, serving, start_server
from test_impact import SHARED_DATASET_SYSTEMS
from test_yasgui import in_active_tab, open_query_page, result_rows, run_query

DEMO = "https://data.meridian.example/aims/"
STATIC = Path(__file__).resolve().parents[1] / "service" / "aimsgraph" / "http" / "web" / "static"
PAGES = {
    "dashboard": "/",
    "heatmap": "/heatmap",
    "systems": "/systems",
    "system": "/asset?iri=" + quote(DEMO + "system/collections-prioritisation", safe=""),
    "soa": "/soa",
    "eu-ai-act": "/eu-ai-act",
    "readiness": "/readiness?framework=nist-ai-rmf",
    "suggestions": "/suggestions?system=" + quote(DEMO + "system/customer-service-chatbot", safe=""),
    "eu-ai-act-system": "/eu-ai-act?node=" + quote(DEMO + "system/retail-credit-scoring", safe=""),
    "findings": "/findings",
    "impact": "/impact?node=" + quote(DEMO + "dataset/customer-transactions", safe="") + "&change=data-change",
    "sparql": "/query",
    "due": "/due?asOf=2026-11-26&within=90d",
    "login": "/login",
}
TOKEN = "reader-token-for-the-web-tests"


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.quit()


def wait(chrome, seconds: float = 20) -> WebDriverWait:
    return WebDriverWait(chrome, seconds, poll_frequency=POLL)


def open_page(chrome, url: str) -> None:
    chrome.get(url)
    wait(chrome).until(lambda c: c.execute_script("return document.readyState") == "complete")


# -- every page, in the browser -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_page_loads_cleanly_wide_and_narrow(chrome, server, name):
    """No console errors, every form control labelled, nothing wider than a phone's screen."""
    console_errors(chrome)  # drain what earlier tests left
    for width, height, mobile, suffix in ((*WIDE, False, "wide"), (*NARROW, True, "narrow")):
        viewport(chrome, width, height, mobile)
        open_page(chrome, server.url + PAGES[name])
        assert chrome.find_element(By.TAG_NAME, "h1").text
        unlabelled = chrome.execute_script("""
            return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
              .filter(e => e.offsetParent !== null || e.closest('.CodeMirror'))
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
              .map(e => e.outerHTML.slice(0, 80));""")
        assert unlabelled == [], f"{name}: form controls without a label: {unlabelled}"
        overflow = chrome.execute_script("return document.documentElement.scrollWidth") - width
        assert overflow <= 0, f"{name} at {width} px is {overflow} px wider than the screen"
        cut = chrome.execute_script(
            """
            const scrolls = e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
            return [...document.querySelectorAll('main table, main svg, main pre, main form')]
              .filter(e => e.getBoundingClientRect().right > arguments[0] + 1)
              .filter(e => { for (let a = e; a; a = a.parentElement) if (scrolls(a)) return false; return true; })
              .map(e => e.tagName + '#' + e.id);""",
            width,
        )
        assert cut == [], f"{name} at {width} px cuts off {cut} (neither fits nor scrolls)"
        screenshot(chrome, f"{name}-{suffix}", width, mobile)
        assert console_errors(chrome) == [], f"{name} ({suffix}) logged errors"
    viewport(chrome, *WIDE)


def test_a_typed_query_runs_and_shows_rows(chrome, server):
    """The SPARQL page is YASGUI (tests/test_yasgui.py has the rest): a query typed in the editor
    of the tab on show runs with Ctrl+Enter."""
    open_query_page(chrome, server.url + "/query")
    chrome.find_element(By.CSS_SELECTOR, in_active_tab(".CodeMirror")).click()
    editor = chrome.switch_to.active_element
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys("SELECT ?system WHERE { ?system a <https://w3id.org/aimsgraph/ontology#AISystem> } ORDER BY ?system")
    editor.send_keys(Keys.CONTROL, Keys.ENTER)  # the keyboard way; the button is tested below
    rows = wait(chrome).until(lambda c: result_rows(c))
    assert len(rows) == 12
    assert rows[0][0].startswith("<" + DEMO + "system/")
    assert "12 results" in chrome.find_element(By.CSS_SELECTOR, in_active_tab(".yasr_response_chip")).text
    screenshot(chrome, "sparql-results")
    assert console_errors(chrome) == []


def test_a_named_query_loads_and_runs(chrome, server):
    open_query_page(chrome, server.url + "/query")
    Select(chrome.find_element(By.ID, "named")).select_by_visible_text("Record counts")
    description = chrome.find_element(By.ID, "named-description").text
    assert description.startswith("How many AI systems") and "record-counts" not in description
    assert chrome.find_element(By.CSS_SELECTOR, ".yasgui .tab.active a").get_attribute("textContent").startswith("record-counts")
    run_query(chrome)
    counts = {row[1]: row[2] for row in result_rows(chrome)}
    assert counts["AI systems"] == "12" and counts["Risks"] == "40"


def test_a_query_error_is_shown_not_swallowed(chrome, server):
    open_query_page(chrome, server.url + "/query")
    chrome.execute_script(
        "document.querySelector(arguments[0]).CodeMirror.setValue('SELECT ?x WHERE {')", in_active_tab(".CodeMirror")
    )
    run_query(chrome)
    alert = chrome.find_element(By.CSS_SELECTOR, in_active_tab(".yasr [role=alert]"))
    assert "syntax error" in alert.text  # the service's own message
    console_errors(chrome)  # the 400 response is logged by Chromium as a failed resource; expected here


def test_a_heat_map_cell_click_lists_its_risks(chrome, server):
    open_page(chrome, server.url + "/heatmap")
    cell = chrome.find_element(By.CSS_SELECTOR, 'a.cell[data-cell="3-4"]')  # likelihood 3, severity 4
    expected = int(cell.find_element(By.CSS_SELECTOR, "text.count").text)
    assert expected > 0
    cell.click()
    rows = wait(chrome).until(lambda c: c.find_elements(By.CSS_SELECTOR, "#cell-risks tbody tr"))
    assert len(rows) == expected
    assert any("AIR-035" in row.text for row in rows)  # the shared dataset's quality risk, L3 x S4
    assert all(row.find_elements(By.TAG_NAME, "td")[2].text == "3 × 4" for row in rows)
    screenshot(chrome, "heatmap-cell")
    assert console_errors(chrome) == []


def test_the_heat_map_works_from_the_keyboard(chrome, server):
    open_page(chrome, server.url + "/heatmap")
    body = chrome.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    assert chrome.switch_to.active_element.text == "Skip to content"
    for _ in range(60):  # on through the links and the form to the first cell of the map
        chrome.switch_to.active_element.send_keys(Keys.TAB)
        if chrome.switch_to.active_element.get_attribute("data-cell"):
            break
    focused = chrome.switch_to.active_element
    assert focused.get_attribute("aria-label").startswith("Likelihood ")
    focused.send_keys(Keys.ENTER)
    wait(chrome).until(lambda c: "likelihood=" in c.current_url)
    assert chrome.find_element(By.CSS_SELECTOR, "#cell-risks h2").text.startswith("Likelihood ")


def test_the_impact_page_shows_what_the_shared_dataset_reaches(chrome, server):
    open_page(chrome, server.url + "/impact")
    Select(chrome.find_element(By.ID, "node")).select_by_value(DEMO + "dataset/customer-transactions")
    Select(chrome.find_element(By.ID, "change")).select_by_visible_text("data-change")
    chrome.find_element(By.CSS_SELECTOR, "#impact-form button").click()
    wait(chrome).until(ready.presence_of_element_located((By.ID, "impact-result")))
    highlighted = {e.get_attribute("data-iri") for e in chrome.find_elements(By.CSS_SELECTOR, "svg .node.affected")}
    listed = {a.get_attribute("href") for a in chrome.find_elements(By.CSS_SELECTOR, '#affected tr[data-kind="AISystem"] a')}
    assert SHARED_DATASET_SYSTEMS <= highlighted
    assert {h for h in highlighted if "/system/" in h} == SHARED_DATASET_SYSTEMS
    assert {unquote(href.split("iri=")[1]) for href in listed} == SHARED_DATASET_SYSTEMS
    assert chrome.find_elements(By.CSS_SELECTOR, "#risks-to-reassess li")
    assert chrome.find_elements(By.CSS_SELECTOR, "#stakeholders-to-inform li")
    screenshot(chrome, "impact-shared-dataset")
    assert console_errors(chrome) == []


def test_a_newcomer_finds_the_riskiest_system_why_and_what_retiring_its_model_touches(chrome, server):
    """The issue's 'done when', by clicks only: dashboard -> riskiest system -> why -> impact."""
    open_page(chrome, server.url + "/")
    first = chrome.find_element(By.CSS_SELECTOR, "#riskiest tbody tr a")
    name = first.text
    first.click()
    wait(chrome).until(lambda c: c.find_element(By.TAG_NAME, "h1").text == name)
    why = chrome.find_elements(By.CSS_SELECTOR, "#inherited ol.paths li") + chrome.find_elements(
        By.CSS_SELECTOR, "#own-h + table tbody tr"
    )
    assert why, "the system page explains neither own nor inherited risks"
    retire = chrome.find_element(By.PARTIAL_LINK_TEXT, "Retire its model")
    retire.click()
    wait(chrome).until(ready.presence_of_element_located((By.ID, "impact-result")))
    assert chrome.find_element(By.ID, "result-h").text.startswith("Retire ")
    assert chrome.find_elements(By.CSS_SELECTOR, "#affected tbody tr a")  # a model in use has dependents
    screenshot(chrome, "newcomer-retire-model")


def test_a_reviewer_sees_what_is_due_which_metric_breached_and_what_was_done(chrome, server):
    """Issue 10's 'done when', in the browser: the agenda, the breach with its follow-up, and the
    review pack one click away."""
    open_page(chrome, server.url + "/due?asOf=2026-11-26&within=90d")
    due = chrome.find_element(By.ID, "due-items").text
    assert "Reassess claims triage risks" in due and "2027-01-31" in due  # the open corrective action
    assert "AI risk assessment 2025: claims triage" in due and "overdue" in due  # the deliberate gap
    breach = chrome.find_element(By.CSS_SELECTOR, "#breaches tbody tr").text
    assert "Retail PD model Gini coefficient" in breach and "0.53 (below 0.55)" in breach
    assert "in progress" in breach and "due 2027-02-15" in breach  # what was done about it
    chrome.find_element(By.ID, "review-pack").click()
    wait(chrome).until(lambda c: "Management review" in c.find_element(By.TAG_NAME, "h1").text)
    screenshot(chrome, "review-pack")
    assert console_errors(chrome) == []


# -- the login, with authentication configured ----------------------------------------------


@pytest.fixture(scope="module")
def protected(tmp_path_factory, fresh_data_dir: FreshDataDir):
    live = start_server(
        fresh_data_dir(tmp_path_factory.mktemp("protected")),
        AIMSGRAPH_OPEN_READS="false",
        AIMSGRAPH_TOKENS=f"reader:auditor:{TOKEN},editor:editor:editor-token-for-web-tests",
    )
    yield live
    live.stop()


def test_token_login_in_the_browser(chrome, protected):
    chrome.delete_all_cookies()
    open_page(chrome, protected.url + "/heatmap")
    assert "/login" in chrome.current_url
    field = chrome.find_element(By.ID, "token")
    field.send_keys("not-the-token-at-all")
    field.send_keys(Keys.ENTER)
    assert wait(chrome).until(lambda c: c.find_element(By.ID, "login-error")).text == "That token is not valid."
    console_errors(chrome)  # the 401 of the failed login is logged as a failed resource
    chrome.find_element(By.ID, "token").send_keys(TOKEN, Keys.ENTER)
    wait(chrome).until(lambda c: c.current_url.endswith("/heatmap"))
    assert "Signed in as auditor" in chrome.find_element(By.CSS_SELECTOR, ".who").text
    open_query_page(chrome, protected.url + "/query?name=ai-systems")  # YASGUI's fetch carries the session
    run_query(chrome)
    assert len(result_rows(chrome)) == 12
    screenshot(chrome, "login-sparql")
    assert console_errors(chrome) == []
    chrome.find_element(By.CSS_SELECTOR, ".who button").click()
    open_page(chrome, protected.url + "/systems")
    assert "/login" in chrome.current_url
    chrome.delete_all_cookies()


def test_a_login_session_reads_but_never_writes(protected):
    """A cookie rides along on cross-site form posts: a session must not be able to write."""
    browser = requests.Session()
    assert browser.get(protected.url + "/systems", allow_redirects=False).status_code == 302
    login = browser.post(
        protected.url + "/login", data={"token": "editor-token-for-web-tests", "next": "/systems"}, allow_redirects=False
    )
    assert login.status_code == 302 and login.headers["Location"] == "/systems"
    assert browser.get(protected.url + "/systems").status_code == 200
    update = browser.post(protected.url + "/sparql", data={"update": f"INSERT DATA {{ <{DEMO}x> <{DEMO}p> 1 }}"})
    assert update.status_code == 403, update.text
    count = requests.post(
        protected.sparql,
        data={"query": f"SELECT * WHERE {{ <{DEMO}x> ?p ?o }}"},
        headers={"Accept": "text/csv", "Authorization": f"Bearer {TOKEN}"},
    )
    assert count.status_code == 200 and len(count.text.strip().splitlines()) == 1  # the header only: nothing written


def test_login_redirects_only_within_the_site(protected):
    answer = requests.post(protected.url + "/login", data={"token": TOKEN, "next": "//evil.example/x"}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


# -- HTTP behaviour of the pages ------------------------------------------------------------


def test_the_root_serves_the_dashboard_to_browsers_and_json_to_clients(server):
    assert requests.get(server.url + "/", headers={"Accept": "text/html"}).headers["Content-Type"].startswith("text/html")
    index = requests.get(server.url + "/", headers={"Accept": "application/json"}).json()
    assert index["sparql"].endswith("/sparql")


def test_bad_page_arguments_get_400_and_unknown_assets_404(server):
    for path in (
        "/heatmap?view=sideways",
        "/heatmap?likelihood=9&severity=1",
        "/heatmap?likelihood=3",
        "/asset?iri=not-an-iri",
        "/findings?severity=Fatal",
        "/findings?system=nope",
    ):
        answer = requests.get(server.url + path)
        assert answer.status_code == 400, path
        assert answer.headers["Content-Type"].startswith("text/html") and 'role="alert"' in answer.text
    for path in ("/asset?iri=", "/impact?node=", "/findings?system="):  # an IRI the record does not hold
        answer = requests.get(server.url + path + quote(DEMO + "nothing/here", safe=""))
        assert answer.status_code == 404 and DEMO + "nothing/here" in answer.text, path
    wrong_kind = requests.get(server.url + "/impact?node=" + quote(DEMO + "system/cv-screening", safe="") + "&change=data-change")
    assert wrong_kind.status_code == 400 and "applies to Dataset" in wrong_kind.text


def test_the_soa_downloads_as_csv_with_38_rows(server):
    answer = requests.get(server.url + "/soa.csv")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert len(answer.text.strip().splitlines()) == 1 + 38


def test_findings_filter_by_clause_severity_and_system(server):
    def table(query: str) -> str:
        page = requests.get(server.url + "/findings" + query).text
        return page[page.index('<table class="findings">') :]

    def rows(query: str) -> list[str]:
        return re.findall(r'<span class="sev sev-(\w+)">', table(query))

    everything = rows("")
    violations = rows("?severity=Violation")
    assert violations and set(violations) == {"violation"} and len(violations) < len(everything)
    assert "Internal code assistant" in table("?clause=4.3")  # the system outside the AIMS scope
    claims = table("?system=" + quote(DEMO + "system/claims-triage", safe=""))
    assert "claims" in claims.lower() and "Internal code assistant" not in claims and "Customer service" not in claims


def test_vendored_files_are_the_npm_packages_own(server):
    """The digests in static/vendor/README.md match the files, and the service serves them."""
    table = (STATIC / "vendor" / "README.md").read_text()
    entries = re.findall(r"\| `([^`]+)` \| [^|]+ \| [^|]+ \| `([0-9a-f]{64})` \|", table)
    assert len(entries) == 4  # YASGUI's script, stylesheet and two licence files
    for name, digest in entries:
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
        assert requests.get(f"{server.url}/static/vendor/{name}").status_code == 200


# -- the auditor report ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_file(tmp_path_factory, fresh_data_dir: FreshDataDir) -> Path:
    folder = tmp_path_factory.mktemp("report")
    store = fresh_data_dir(folder / "db")
    output = folder / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "aimsgraph.cli", "report", "--html", str(output), "--data-dir", str(store)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return output


def test_the_report_has_no_external_references(report_file):
    text = report_file.read_text()
    references = re.findall(r'(?:src|href|action|xlink:href)\s*=\s*"([^"]*)"', text)
    assert references and all(r.startswith("#") for r in references), [r for r in references if not r.startswith("#")]
    assert not re.search(r"<script|<link|<iframe|<img|@import|url\(", text)


def test_the_report_opens_offline_with_its_sections(chrome, report_file):
    chrome.execute_cdp_cmd("Network.enable", {})
    chrome.execute_cdp_cmd(
        "Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0}
    )
    try:
        open_page(chrome, report_file.as_uri())
        assert len(chrome.find_elements(By.CSS_SELECTOR, "#soa-table tbody tr")) == 38
        assert len(chrome.find_elements(By.CSS_SELECTOR, "#heat-maps svg.heatmap")) == 2
        assert chrome.find_elements(By.CSS_SELECTOR, "#readiness svg.readiness")
        assert chrome.find_elements(By.CSS_SELECTOR, "#why ol.paths li")
        assert chrome.find_elements(By.CSS_SELECTOR, "#findings tbody .sev-violation")
        assert len(chrome.find_elements(By.CSS_SELECTOR, "#top-risks tbody tr")) == 15
        assert chrome.execute_script("return performance.getEntriesByType('resource').length") == 0
        screenshot(chrome, "auditor-report")
        assert console_errors(chrome) == []
    finally:
        chrome.execute_cdp_cmd(
            "Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        )


# -- security headers (issue 17) --------------------------------------------------------------

TEMPLATES = STATIC.parent / "templates"
#: What a route needs in its URL to answer with its page rather than a 400 (the walk also sends
#: each route without them, so error pages are checked too).
ARGUMENTS = {
    "/asset": "?iri=" + quote(DEMO + "system/collections-prioritisation", safe=""),
    "/impact": PAGES["impact"].removeprefix("/impact"),
    "/api/review-pack": "?format=html",
    "/static/<path:filename>": "style.css",
    "/api/queries/<name>": "record-counts",
    "/records/edit": "?iri=" + quote(DEMO + "system/collections-prioritisation", safe=""),
    "/approvals": "?about=" + quote(DEMO + "risk/aurora-lock-in", safe=""),
}


@pytest.fixture(scope="module")
def app(tmp_path_factory, fresh_data_dir: FreshDataDir):
    """The service in-process (Flask's test client), over the demo."""
    with serving(Settings(data_dir=fresh_data_dir(tmp_path_factory.mktemp("headers") / "db"), demo=True)) as service:
        yield service


def get_paths(app) -> list[str]:
    """Every GET route of the URL map, bare and with the arguments it needs."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        argument = ARGUMENTS.get(rule.rule, "")
        if rule.arguments:
            paths.append(re.sub(r"<[^>]+>", argument, rule.rule))
        else:
            paths += [rule.rule, rule.rule + argument] if argument else [rule.rule]
    return paths


def test_every_html_answer_has_the_security_headers(app):
    """Walks the URL map, so that a new page is covered without anyone adding it here: every
    answer is nosniff; every HTML one (pages, error pages, the review pack) has a policy that
    runs no inline script and forbids framing, and sends no referrer to other sites."""
    client, html = app.test_client(), {}
    for path in get_paths(app):
        response = client.get(path, headers={"Accept": "text/html"})
        response.close()  # a static file's answer holds it open
        assert response.headers.get("X-Content-Type-Options") == "nosniff", path
        if response.mimetype != "text/html":
            continue
        html[path] = response.status_code
        policy = dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))
        assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'", path
        assert "'unsafe-inline'" not in policy.get("script-src", "") and "'unsafe-eval'" not in policy.get("script-src", ""), path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
    pages = {
        rule.rule + ARGUMENTS.get(rule.rule, "")
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.") and "GET" in rule.methods and not rule.arguments
    }
    pages -= {"/soa.csv", "/favicon.ico"}  # a download and an empty answer
    assert {path: html.get(path) for path in pages} == dict.fromkeys(pages, 200)
    assert html["/asset"] == 400 and html["/api/review-pack?format=html"] == 200


def test_pages_have_no_inline_script_style_or_handler():
    """What the pages' policy (script-src and style-src 'self') would block: a script element
    without src (JSON data blocks run nothing), a style element or attribute, an on* handler
    or a javascript: URL. The review pack and the auditor report are standalone documents with
    their own inline style and no script."""
    for template in sorted(TEMPLATES.glob("*.html")):
        if template.name in ("review-pack.html", "report.html"):
            continue
        text = template.read_text(encoding="utf-8")
        scripts = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", text)
        assert not scripts, f"{template.name}: inline script {scripts}"
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", text, re.I), template.name


def test_the_review_pack_renders_under_its_policy(chrome, server):
    """The one HTML document outside the web pages keeps its inline style (and logs no policy
    violation)."""
    console_errors(chrome)
    open_page(chrome, server.url + "/api/review-pack?format=html")
    assert chrome.execute_script("return getComputedStyle(document.querySelector('h2')).borderBottomStyle") == "solid"
    assert console_errors(chrome) == []
