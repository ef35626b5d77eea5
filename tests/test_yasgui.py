"""The SPARQL page's YASGUI (issue 21): vendored from the npm registry with its licences and
configured for this service only (its /sparql, its named queries as tabs, no call to any other
host). The page and its files with Flask's test client; YASGUI itself in a real headless Chromium
against the session's demo server, at 1280 and 390 px."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from aimsgraph.namespaces import PREFIXES
from aimsgraph.records import queries
from browser import NARROW, POLL, WIDE, console_errors, screenshot, start_chromium, viewport
from conftest import REPO

STATIC = REPO / "service" / "aimsgraph" / "http" / "web" / "static"
YASGUI = STATIC / "vendor" / "yasgui"
#: The npm packages yasgui.min.js and yasgui.min.css bundle besides YASGUI's own (from the build's
#: source map; static/vendor/README.md says how the licence file was put together).
BUNDLED = (
    "@fortawesome/free-solid-svg-icons @json2csv/formatters @json2csv/plainjs @tarekraafat/autocomplete.js "
    "autosuggest-highlight base64-js buffer codemirror column-resizer datatables.net datatables.net-dt "
    "decode-uri-component dompurify events filter-obj ieee754 jquery jsuri lodash-es n3 papaparse query-string "
    "sortablejs split-on-first store strict-uri-encode"
).split()


def page_config(html: str) -> dict:
    """The YASGUI settings the page hands static/query.js (its data-config attribute)."""
    found = re.search(r"<div id=\"yasgui\" data-config='([^']*)'>", html)
    assert found, "the page has no YASGUI settings"
    return json.loads(unescape(found.group(1)))


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# -- the page and its files, with the test client ----------------------------------------------


def test_the_page_refers_only_to_this_site(client):
    """Every script, stylesheet, link and form target is a path on this site, and each asset is
    there; the scripts are files (no inline script), YASGUI's among them."""
    page = client.get("/query")
    assert page.status_code == 200
    references = re.findall(r'(?:src|href|action)="([^"]*)"', page.text)
    elsewhere = [r for r in references if not (r.startswith(("/", "#")) and not r.startswith("//")) and r != "data:,"]
    assert references and elsewhere == []  # data:, is every page's empty icon
    scripts = re.findall(r"<script[^>]*>", page.text)
    assert scripts == [
        '<script src="/static/vendor/yasgui/yasgui.min.js">',
        '<script src="/static/query.js">',
    ]
    assets = [r for r in references if r.startswith("/static/")]
    assert "/static/vendor/yasgui/yasgui.min.css" in assets and "/static/query.css" in assets
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        answer.close()
    assert 'href="/sparql"' in page.text  # the plain endpoint, for clients and as a way out


def test_the_vendored_files_are_served_with_their_types(client):
    expected = {
        "yasgui.min.js": "text/javascript",
        "yasgui.min.css": "text/css",
        "LICENSE.txt": "text/plain",
        "THIRD-PARTY-LICENSES.txt": "text/plain",
    }
    assert sorted(p.name for p in YASGUI.iterdir()) == sorted(expected)
    for name, media_type in expected.items():
        answer = client.get(f"/static/vendor/yasgui/{name}")
        assert answer.status_code == 200 and answer.mimetype == media_type, name
        assert answer.get_data() == (YASGUI / name).read_bytes(), name
        answer.close()


def test_the_licences_cover_yasgui_and_every_bundled_package():
    assert "The MIT License" in (YASGUI / "LICENSE.txt").read_text()
    licences = (YASGUI / "THIRD-PARTY-LICENSES.txt").read_text(encoding="utf-8")
    parts = licences.split("=" * 78 + "\n")[1:]  # a heading (package, version, licence), then its text
    sections = {heading.split()[0]: (heading.split()[1], text) for heading, text in zip(parts[::2], parts[1::2], strict=True)}
    assert sorted(sections) == sorted(BUNDLED)
    for name, (_, text) in sections.items():
        assert re.search(r"permission|licen[cs]e", text, re.I) and len(text) > 300, name
    headed = {name: version for name, (version, _) in sections.items()}
    # the versions are those in the bundle
    bundle = (YASGUI / "yasgui.min.js").read_text(encoding="utf-8")
    assert re.search(r"DataTable\.version=`([\d.]+)`", bundle).group(1) == headed["datatables.net"]
    assert re.search(r"\.version=`(5\.[\d.]+)`", bundle).group(1) == headed["codemirror"]
    assert f"version=`{headed['dompurify']}`" in bundle


def test_every_named_query_is_a_tab(client):
    named = queries.load_all()
    config = page_config(client.get("/query").text)
    assert [tab["name"] for tab in config["tabs"]] == sorted(named)
    for tab in config["tabs"]:
        query = named[tab["name"]]
        assert tab["text"] == query.text and tab["summary"] == query.summary
        assert tab["parameters"] == [p.variable for p in query.parameters]
    assert config["endpoint"] == "/sparql" and config["prefixes"] == PREFIXES
    assert config["initial"] == min(named)
    assert page_config(client.get("/query?name=risk-register").text)["initial"] == "risk-register"


def test_an_unknown_query_name_is_a_404_that_names_it(client):
    answer = client.get("/query?name=no-such-query")
    assert answer.status_code == 404 and "no-such-query" in answer.text


def test_the_policy_allows_only_yasguis_own_inline_styles(client):
    """The page keeps the pages' policy (scripts and fetches from this site only) and adds, by
    hash, exactly the two style sheets and the one style attribute YASGUI writes inline; the hashes
    are recomputed here from the vendored script, so an update that changes them fails."""
    policy = dict(d.strip().split(" ", 1) for d in client.get("/query").headers["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == "'self'" and policy["connect-src"] == "'self'" and policy["style-src"] == "'self'"
    bundle = (YASGUI / "yasgui.min.js").read_text(encoding="utf-8")
    layout = re.search(r"createStyle\(\w+,`( \.grip-resizable\{table-layout:fixed;\}[^`]*)`\)", bundle).group(1)
    cursor = re.search(r"createStyle\([^,]+,`\*\{cursor:`\+\w+\.opt\.dragCursor\+`!important\}`\)", bundle)
    assert cursor and "dragCursor:`col-resize`" in bundle  # the default, which YASR keeps
    assert policy["style-src-elem"].split() == ["'self'", csp_hash(layout), csp_hash("*{cursor:col-resize!important}")]
    assert "<strong style='text-decoration:underline'>" in bundle
    assert policy["style-src-attr"].split() == ["'unsafe-hashes'", csp_hash("text-decoration:underline")]
    assert "'unsafe-inline'" not in str(policy) and "'unsafe-eval'" not in str(policy)
    assert "style-src-elem" not in client.get("/systems").headers["Content-Security-Policy"]  # the others keep theirs


# -- YASGUI in Chromium -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    browser = start_chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.quit()


def in_active_tab(css: str) -> str:
    """A selector within the tab on show (YASGUI keeps the others in the page, hidden)."""
    return ".yasgui .tabPanel.active " + css


def open_query_page(chrome, url: str) -> None:
    """Open the SPARQL page and wait until YASGUI has drawn its tabs and the editor of the first."""
    chrome.get(url)
    WebDriverWait(chrome, 20, poll_frequency=POLL).until(lambda c: c.find_elements(By.CSS_SELECTOR, in_active_tab(".CodeMirror")))


def run_query(chrome) -> None:
    """Run the query of the tab on show with YASGUI's own button, and wait for its answer."""
    chrome.find_element(By.CSS_SELECTOR, in_active_tab(".yasqe_queryButton")).click()
    # the click marks the tab "querying" before it returns (the request starts in the handler)
    WebDriverWait(chrome, 20, poll_frequency=POLL).until(
        lambda c: (
            not c.find_elements(By.CSS_SELECTOR, ".yasgui .tab.active.querying")
            and (
                c.find_elements(By.CSS_SELECTOR, in_active_tab(".yasr table.dataTable tbody tr"))
                or c.find_elements(By.CSS_SELECTOR, in_active_tab(".yasr .errorResult"))
            )
        )
    )


def result_rows(chrome) -> list[list[str]]:
    """The result table of the tab on show, a list of cells a row (YASGUI's row number left out),
    each cell as its text with a literal's quotes and datatype or language tag taken off."""
    rows = chrome.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map("
        "  r => [...r.querySelectorAll('td')].slice(1).map(c => c.textContent))",
        in_active_tab(".yasr table.dataTable tbody tr"),
    )
    return [[re.sub(r'^"(.*)"(\^\^\S+|@[\w-]+)$', r"\1", cell, flags=re.S) for cell in row] for row in rows]


@pytest.mark.parametrize("size", ["wide", "narrow"])
def test_yasgui_shows_a_tab_per_named_query_and_runs_it(chrome, server, size):
    """No console error, one tab per named query (the one in the address on show), answers from
    the demo as tables, the page no wider than the screen, and no request to another host."""
    width, height = WIDE if size == "wide" else NARROW
    console_errors(chrome)
    viewport(chrome, width, height, size == "narrow")
    open_query_page(chrome, server.url + "/query?name=record-counts")
    tabs = [t.get_attribute("textContent").strip(" ✖") for t in chrome.find_elements(By.CSS_SELECTOR, ".yasgui .tab a")]
    assert tabs == sorted(queries.load_all())
    assert chrome.find_element(By.CSS_SELECTOR, ".yasgui .tab.active a").get_attribute("textContent").startswith("record-counts")
    assert Select(chrome.find_element(By.ID, "named")).first_selected_option.text == "Record counts"
    run_query(chrome)
    counts = {row[1]: row[2] for row in result_rows(chrome)}
    assert counts["AI systems"] == "12" and counts["Risks"] == "40"
    assert "9 results" in chrome.find_element(By.CSS_SELECTOR, in_active_tab(".yasr_response_chip")).text
    chrome.find_element(By.ID, "tab-query-ai-systems").click()  # another tab, and a wide answer
    assert chrome.find_element(By.ID, "named").get_attribute("value") == "ai-systems"
    assert chrome.find_element(By.ID, "named-description").text.startswith("Every AI system")
    run_query(chrome)
    assert len(result_rows(chrome)) == 12
    assert chrome.execute_script("return document.documentElement.scrollWidth") <= width  # the table scrolls in place
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))
    requested = chrome.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert server.url + "/sparql" in requested and all(r.startswith(origin + "/") for r in requested), requested
    assert chrome.execute_script("return window.localStorage.length") == 0  # nothing kept in the browser
    screenshot(chrome, f"yasgui-{size}", width, size == "narrow")
    assert console_errors(chrome) == []
    viewport(chrome, *WIDE)


def test_a_new_tab_runs_the_example_and_completes_from_this_service_only(chrome, server):
    """YASGUI's + gives a tab with the example query on this endpoint. Autocompletion offers the
    service's prefixes, and asks no other host for classes and properties (YASGUI's own
    completers would ask lov.linkeddata.es: the policy would block it and log an error)."""
    console_errors(chrome)
    open_query_page(chrome, server.url + "/query")
    chrome.find_element(By.CSS_SELECTOR, ".yasgui button.addTab").click()
    WebDriverWait(chrome, 20, poll_frequency=POLL).until(
        lambda c: len(c.find_elements(By.CSS_SELECTOR, ".yasgui .tab")) == len(queries.load_all()) + 1
    )
    assert chrome.find_element(By.ID, "named").get_attribute("value") == ""  # not one of the named queries
    note = chrome.find_element(By.CSS_SELECTOR, in_active_tab(".endpoint-note a"))
    assert note.get_attribute("href") == server.url + "/sparql"
    run_query(chrome)
    labels = [row[1] for row in result_rows(chrome)]
    assert len(labels) == 12 and labels == sorted(labels)
    chrome.find_element(By.CSS_SELECTOR, in_active_tab(".CodeMirror")).click()
    editor = chrome.switch_to.active_element
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys("PREFIX ai")
    hints = WebDriverWait(chrome, 20, poll_frequency=POLL).until(
        lambda c: [h.text for h in c.find_elements(By.CSS_SELECTOR, ".CodeMirror-hint")]
    )
    assert hints == [f"{p}: <{PREFIXES[p]}>" for p in sorted(PREFIXES) if p.startswith("ai")]
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys("SELECT * WHERE { ?s a foaf:Pers")  # a class,
    editor.send_keys(Keys.CONTROL, " ")  # completion asked for (at once, not after a pause)
    editor.send_keys(" ; foaf:na", Keys.CONTROL, " ")  # and a property
    origin = "{0.scheme}://{0.netloc}/".format(urlsplit(server.url))
    requested = chrome.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(r.startswith(origin) for r in requested), requested
    assert console_errors(chrome) == []
