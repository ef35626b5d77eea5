"""Every route of the URL map, walked with hostile parameters and bodies: input mistakes get a
4xx with a message, never a 500. A new route is covered without anyone remembering to add it.

The reproducers of issue 17 that the walk would also meet are named here one by one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from flask.testing import FlaskClient
from werkzeug.datastructures import Headers
from werkzeug.test import run_wsgi_app

from aimsgraph.config import Settings
from benchmarks.fuzz import HOSTILE_BODIES, HOSTILE_TEXT, PARAMETERS
from conftest import FreshDataDir, serving

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: 503 is the documented answer of a query that ran into its time limit.
ALLOWED_5XX = {503}
TOKEN = "walker-editor-token"


@pytest.fixture(scope="module")
def app(tmp_path_factory, fresh_data_dir: FreshDataDir):
    settings = Settings(
        data_dir=fresh_data_dir(tmp_path_factory.mktemp("walk") / "db"),
        demo=True,
        query_timeout=5,
        tokens=(f"editor:walker:{TOKEN}",),
    )
    with serving(settings) as service:
        yield service


class Cookieless(FlaskClient):
    """Flask's test client without cookies, and without decoding each request's URL to find the
    cookies that apply (2 MB with the longest hostile text in every parameter: it took more than
    half of the walk's time). The app sees the same requests."""

    def run_wsgi_app(self, environ: WSGIEnvironment, buffered: bool = False) -> tuple[Iterable[bytes], str, Headers]:
        return run_wsgi_app(self.application, environ, buffered=buffered)


def cases(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", "x").replace(f"<path:{name}>", "x")
        found += [(method, path) for method in sorted(rule.methods - {"OPTIONS", "HEAD"})]
    return found


def test_every_route_answers_hostile_parameters_and_bodies_without_a_server_error(app):
    client, failures, sent = Cookieless(app, app.response_class, use_cookies=False), [], 0
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for method, path in cases(app):
        for value in HOSTILE_TEXT:
            answer = client.open(path, method=method, query_string={name: value for name in PARAMETERS}, headers=auth)
            sent += 1
            if answer.status_code >= 500 and answer.status_code not in ALLOWED_5XX:
                failures.append((method, path, value[:40], answer.status_code))
        if method in ("POST", "PUT"):
            for content_type, body in HOSTILE_BODIES:
                answer = client.open(path, method=method, data=body, content_type=content_type, headers=auth)
                sent += 1
                if answer.status_code >= 500 and answer.status_code not in ALLOWED_5XX:
                    failures.append((method, path, content_type, answer.status_code))
    assert sent > 500 and failures == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/concentration?limit=%C2%B2",
        "/heatmap?likelihood=%C2%B2",
        "/api/due?asOf=9999-12-31",
        "/due?asOf=9999-12-31",
        "/api/due.ics?asOf=9999-12-31",
        "/api/review-pack?asOf=0001-01-01",
        "/impact?node=http://[::1",
        "/rdf-graph-store?graph=http://[::1",
        "/findings?system=http://[::1",
        "/api/impact?node=http://[::1",
    ],
)
def test_the_reproducers_of_issue_17_are_400_with_a_message(app, path):
    answer = app.test_client().get(path, headers={"Accept": "application/json"})
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]


def test_a_bad_iri_in_an_impact_body_and_an_unknown_function_are_400(app):
    client = app.test_client()
    impact = client.post("/api/impact", json={"node": "http://[::1", "change": "retire"})
    assert impact.status_code == 400 and "http://[::1" in impact.get_json()["detail"]
    unknown = client.post("/sparql", data={"query": "SELECT (<http://example.org/f>(1) AS ?x) {}"})
    assert unknown.status_code == 400 and "custom function" in unknown.get_data(as_text=True)


@pytest.mark.parametrize("body", [b"[1]", b'"x"', b"7", b"true"])
def test_validate_refuses_json_of_the_wrong_type(app, body):
    answer = app.test_client().post("/api/validate", data=body, content_type="application/json")
    assert answer.status_code == 400
