"""Safe writes over HTTP: SPARQL Update, the Graph Store Protocol, tokens and roles, atomicity,
the validation gate, the audit trail and the refresh of derived graphs after a write, through the
test client of apps of their own in this process; the log and durability after kill -9, against
real `aimsgraph serve` processes."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pyoxigraph as ox
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

import conftest
from aimsgraph.config import Settings
from conftest import REPO, FreshDataDir, LiveServer, serving, start_server

EX = "http://example.org/writes/"
DATA = "https://w3id.org/aimsgraph/graph/data"
ONTOLOGY = "https://w3id.org/aimsgraph/graph/ontology"
CHANGES = "https://w3id.org/aimsgraph/graph/changes"
TOKENS = {role: f"{role}-token-0123456789abcdef" for role in ("reader", "editor", "admin")}
#: The settings of the writing service, as AIMSGRAPH_* variables for real servers ...
ENV = {
    "AIMSGRAPH_TOKENS": " ".join(f"{role}:{role}-user:{token}" for role, token in TOKENS.items()),
    "AIMSGRAPH_MAX_UPLOAD_BYTES": "200000",
    "AIMSGRAPH_QUERY_TIMEOUT": "5",
}
DERIVED = ("inferred", "analysis", "validation")


def settings(data_dir: Path, **overrides: object) -> Settings:
    """... and as Settings for apps in this process: ENV read as the service reads it."""
    return Settings.from_env(ENV, data_dir=data_dir, **overrides)


def app_of(data_dir: Path, **overrides: object) -> Iterator[Flask]:
    with serving(settings(data_dir, **overrides)) as app:
        yield app


@pytest.fixture(scope="module")
def writer_app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[Flask]:
    yield from app_of(fresh_data_dir(tmp_path_factory.mktemp("writes") / "db"))


@pytest.fixture
def writer(writer_app: Flask) -> FlaskClient:
    return writer_app.test_client()


def auth(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}


def local(url: str) -> str:
    """The path and query of an absolute URL the service gave, to follow with the test client."""
    return urlsplit(url)._replace(scheme="", netloc="").geturl()


def update(client: FlaskClient, text: str, role: str | None = "editor", **params: str) -> TestResponse:
    return client.post("/sparql", data={"update": text, **params}, headers=auth(role))


def gsp(
    client: FlaskClient,
    method: str,
    role: str | None = "editor",
    body: str | bytes | None = None,
    content_type: str = "text/turtle",
    **params: str,
) -> TestResponse:
    headers = {**auth(role), "Content-Type": content_type} if body is not None else auth(role)
    return client.open("/rdf-graph-store", method=method, query_string=params, data=body, headers=headers)


def ask(client: FlaskClient, text: str, role: str | None = None) -> bool:
    response = client.post("/sparql", data={"query": text}, headers={"Accept": "application/sparql-results+json", **auth(role)})
    assert response.status_code == 200, response.text
    return response.get_json()["boolean"]


def settle(client: FlaskClient, role: str | None = None) -> dict:
    return conftest.settle(client, auth(role))


def dump(client: FlaskClient, role: str | None = None) -> list[str]:
    """Every quad of the store, as sorted TSV lines (after the derived graphs settled)."""
    settle(client, role)
    response = client.post(
        "/sparql",
        data={"query": "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "text/tab-separated-values", **auth(role)},
    )
    assert response.status_code == 200, response.text
    assert "X-Aimsgraph-Result-Truncated" not in response.headers
    return sorted(response.text.splitlines()[1:])


# -- SPARQL Update -----------------------------------------------------------------------------


def test_update_as_form_and_as_body_writes_and_names_its_change(writer: FlaskClient):
    form = update(writer, f"INSERT DATA {{ <{EX}a> <{EX}p> 1 }}")
    assert form.status_code == 200, form.text
    assert form.get_json()["added"] == 1 and form.headers["X-Aimsgraph-Change"].startswith("urn:uuid:")
    body = writer.post(
        "/sparql",
        data=f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}a> <{EX}p> 2 }} }}",
        headers={"Content-Type": "application/sparql-update", **auth("editor")},
    )
    assert body.status_code == 200 and body.get_json()["graphs"] == [EX + "g"]
    alias = writer.post(
        "/update",
        data=f"INSERT DATA {{ <{EX}a> <{EX}p> 3 }}",
        headers={"Content-Type": "application/sparql-update", **auth("editor")},
    )
    assert alias.status_code == 200 and alias.get_json()["added"] == 1
    assert ask(writer, f"ASK {{ GRAPH <{DATA}> {{ <{EX}a> <{EX}p> 1 }} GRAPH <{EX}g> {{ <{EX}a> <{EX}p> 2 }} }}")
    again = update(writer, f"INSERT DATA {{ <{EX}a> <{EX}p> 1 }}")
    assert again.status_code == 200 and again.get_json()["changed"] is False


def test_update_via_get_is_refused_and_nothing_runs(writer: FlaskClient):
    response = writer.get("/sparql", query_string={"update": f"INSERT DATA {{ <{EX}get> <{EX}p> 1 }}"}, headers=auth("editor"))
    assert 400 <= response.status_code < 500 and "POST" in response.text
    assert not ask(writer, f"ASK {{ <{EX}get> ?p ?o }}")


def test_malformed_update_is_400_and_changes_nothing(writer: FlaskClient):
    before = dump(writer)
    response = update(writer, f"INSERT DATA {{ <{EX}bad> <{EX}p> 1 . <{EX}bad> <{EX}p> ")
    assert response.status_code == 400 and "syntax error" in response.text
    assert dump(writer) == before


def test_update_failing_halfway_changes_nothing(writer: FlaskClient):
    before = dump(writer)
    response = update(writer, f"INSERT DATA {{ <{EX}half> <{EX}p> 1 }} ; DROP GRAPH <{EX}no-such-graph>")
    assert response.status_code == 400 and "does not exist" in response.text
    assert dump(writer) == before


def test_update_where_clauses_have_the_query_timeout_and_result_cap(writer: FlaskClient):
    before = dump(writer)
    endless = update(
        writer,
        f"INSERT {{ GRAPH <{EX}x> {{ ?a <{EX}p> ?b }} }} WHERE {{ ?a ?p ?o . ?b ?q ?r . ?c ?s ?t "
        "FILTER(STRLEN(CONCAT(STR(?o), STR(?r), STR(?t))) < 0) }",
    )
    assert endless.status_code == 503 and "AIMSGRAPH_QUERY_TIMEOUT" in endless.text
    huge = update(writer, f"INSERT {{ GRAPH <{EX}x> {{ ?a <{EX}p> ?b }} }} WHERE {{ ?a ?p ?o . ?b ?q ?r }}")
    assert huge.status_code == 413 and "AIMSGRAPH_RESULT_LIMIT" in huge.text
    assert dump(writer) == before
    assert writer.get("/api/health").status_code == 200  # and the service goes on


def test_using_graph_uri_restricts_the_where_clause(writer: FlaskClient):
    assert gsp(writer, "PUT", body=f"<{EX}u> <{EX}v> 1 .", graph=EX + "using-1").status_code == 201
    assert gsp(writer, "PUT", body=f"<{EX}u> <{EX}v> 2 .", graph=EX + "using-2").status_code == 201
    text = f"INSERT {{ GRAPH <{EX}using-out> {{ ?s <{EX}w> ?o }} }} WHERE {{ ?s <{EX}v> ?o }}"
    response = update(writer, text, **{"using-graph-uri": EX + "using-2"})
    assert response.status_code == 200 and response.get_json()["added"] == 1
    assert ask(writer, f"ASK {{ GRAPH <{EX}using-out> {{ <{EX}u> <{EX}w> 2 }} }}")
    clash = update(
        writer, f"INSERT {{ ?s <{EX}w> 3 }} USING <{EX}using-1> WHERE {{ ?s ?p ?o }}", **{"using-graph-uri": EX + "using-2"}
    )
    assert clash.status_code == 400 and "cannot be combined" in clash.text


# -- Graph Store Protocol ----------------------------------------------------------------------


def test_graph_store_lifecycle(writer: FlaskClient):
    graph = EX + "lifecycle"
    created = gsp(writer, "PUT", body=f'<{EX}x> <{EX}y> "one" .', graph=graph)
    assert created.status_code == 201 and created.get_json()["graph"] == graph
    assert writer.get(local(created.headers["Location"])).text == gsp(writer, "GET", role=None, graph=graph).text
    got = gsp(writer, "GET", role=None, graph=graph)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/turtle") and '"one"' in got.text
    head = gsp(writer, "HEAD", role=None, graph=graph)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    replaced = gsp(writer, "PUT", body=f'<{EX}x> <{EX}y> "two" .', graph=graph)
    assert replaced.status_code == 200 and replaced.get_json()["removed"] == 1
    merged = gsp(writer, "POST", body=f'<{EX}x> <{EX}y> "three" .', content_type="application/n-triples", graph=graph)
    assert merged.status_code == 200 and merged.get_json()["added"] == 1
    ntriples = writer.get("/rdf-graph-store", query_string={"graph": graph}, headers={"Accept": "application/n-triples"})
    assert sorted(ntriples.text.split("\n")[:-1]) == [f'<{EX}x> <{EX}y> "three" .', f'<{EX}x> <{EX}y> "two" .']
    assert gsp(writer, "DELETE", graph=graph).status_code == 200
    assert gsp(writer, "GET", role=None, graph=graph).status_code == 404
    assert gsp(writer, "DELETE", graph=graph).status_code == 404


def test_graph_store_preflight_lets_browsers_send_tokens(writer: FlaskClient):
    response = writer.options(
        "/rdf-graph-store",
        headers={
            "Origin": "http://yasgui.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204 and response.headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()


def test_graph_store_default_is_the_data_graph(writer: FlaskClient):
    got = gsp(writer, "GET", role=None, default="")
    assert got.status_code == 200 and "meridian.example" in got.text


def test_post_to_the_store_creates_a_graph(writer: FlaskClient):
    response = gsp(writer, "POST", body=f"<{EX}new> <{EX}p> 1 .")
    assert response.status_code == 201 and response.get_json()["graph"].startswith("urn:uuid:")
    assert ask(writer, f"ASK {{ GRAPH <{response.get_json()['graph']}> {{ <{EX}new> <{EX}p> 1 }} }}")
    assert f"<{EX}new>" in writer.get(local(response.headers["Location"])).text


@pytest.mark.parametrize(
    "params, status", [({"graph": "relative/graph"}, 400), ({}, 400), ({"graph": EX + "a", "default": ""}, 400)]
)
def test_graph_store_bad_graph_names(writer: FlaskClient, params: dict, status: int):
    assert gsp(writer, "GET", role=None, **params).status_code == status
    assert gsp(writer, "PUT", body="<a:b> <a:c> <a:d> .", **params).status_code == status


def test_graph_store_refuses_other_methods_types_and_sizes(writer: FlaskClient):
    patch = gsp(writer, "PATCH", graph=EX + "g")
    assert patch.status_code == 405 and "PUT" in patch.headers["Allow"]
    assert gsp(writer, "PUT", body="a,b,c", content_type="text/csv", graph=EX + "g").status_code == 415
    big = "".join(f"<{EX}s{i}> <{EX}p> {i} .\n" for i in range(8000))
    too_large = gsp(writer, "PUT", body=big, graph=EX + "big")
    assert too_large.status_code == 413 and "AIMSGRAPH_MAX_UPLOAD_BYTES" in too_large.text


def test_bad_turtle_on_the_last_line_changes_nothing(writer: FlaskClient):
    before = dump(writer)
    body = "".join(f"<{EX}t{i}> <{EX}p> {i} .\n" for i in range(200)) + f'<{EX}t> <{EX}p> "unterminated .\n'
    response = gsp(writer, "PUT", body=body, default="")
    assert response.status_code == 400 and "line" in response.text
    assert dump(writer) == before


# -- authentication and roles ------------------------------------------------------------------


def test_writes_need_a_token_with_the_right_role(writer: FlaskClient):
    before = dump(writer)
    text = f"INSERT DATA {{ <{EX}auth> <{EX}p> 1 }}"
    anonymous = update(writer, text, role=None)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert update(writer, text, role="reader").status_code == 403
    wrong = writer.post("/sparql", data={"update": text}, headers={"Authorization": "Bearer not-a-token-at-all"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    ontology = update(writer, f"INSERT DATA {{ GRAPH <{ONTOLOGY}> {{ <{EX}auth> <{EX}p> 1 }} }}")
    assert ontology.status_code == 403 and "admin" in ontology.text
    for role in ("editor", "admin"):
        trail = gsp(writer, "PUT", role=role, body=f"<{EX}forged> <{EX}p> 1 .", graph=CHANGES)
        assert trail.status_code == 403 and "kept by aimsgraph" in trail.text
    assert gsp(writer, "PUT", role=None, body=f"<{EX}auth> <{EX}p> 1 .", graph=EX + "anon").status_code == 401
    # the token is checked before the body is even parsed
    assert gsp(writer, "PUT", role=None, body="not turtle at all", graph=EX + "anon").status_code == 401
    assert gsp(writer, "PUT", role="editor", body="not turtle at all", graph=ONTOLOGY).status_code == 403
    assert dump(writer) == before
    admin = update(writer, f"INSERT DATA {{ GRAPH <{ONTOLOGY}> {{ <{EX}auth> <{EX}p> 1 }} }}", role="admin")
    assert admin.status_code == 200
    assert update(writer, f"DELETE DATA {{ GRAPH <{ONTOLOGY}> {{ <{EX}auth> <{EX}p> 1 }} }}", role="admin").status_code == 200


@pytest.fixture
def logged(tmp_path: Path, fresh_data_dir: FreshDataDir) -> Iterator[LiveServer]:
    """A real server with the same settings, for what its process writes to its log."""
    live = start_server(fresh_data_dir(tmp_path / "logged"), **ENV)
    yield live
    live.stop()


def test_tokens_never_reach_the_log(logged: LiveServer):
    for role, token in TOKENS.items():
        requests.post(
            logged.sparql,
            data={"update": f'INSERT DATA {{ <{EX}log> <{EX}by> "{role}" }}'},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    requests.get(logged.sparql, params={"query": "ASK {}"}, headers={"Authorization": "Bearer not-a-token-at-all"}, timeout=10)
    log = logged.log_path.read_text(errors="replace")
    assert "/sparql" in log  # the requests are logged ...
    assert not any(token in log for token in (*TOKENS.values(), "not-a-token-at-all"))  # ... their tokens are not


# -- concurrency and the audit trail -----------------------------------------------------------


def test_concurrent_updates_are_all_kept_and_each_recorded(writer: FlaskClient):
    threads, each = 8, 10
    since = datetime.now(UTC).isoformat()

    def write(thread: int) -> list[int]:
        client = writer.application.test_client()  # a client of its own in each thread
        return [
            update(client, f"INSERT DATA {{ GRAPH <{EX}concurrent> {{ <{EX}t{thread}> <{EX}n> {n} }} }}").status_code
            for n in range(each)
        ]

    with ThreadPoolExecutor(threads) as pool:
        statuses = [s for batch in pool.map(write, range(threads)) for s in batch]
    assert statuses == [200] * threads * each
    count = writer.post(
        "/sparql",
        data={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{EX}concurrent> {{ ?s ?p ?o }} }}"},
        headers={"Accept": "application/sparql-results+json"},
    ).get_json()
    assert count["results"]["bindings"][0]["n"]["value"] == str(threads * each)
    changes = writer.get("/api/changes", query_string={"since": since}).get_json()["changes"]
    ours = [c for c in changes if c["graphs"] == [EX + "concurrent"]]
    assert len(ours) == threads * each and all(c["agent"] == "editor-user" and c["operation"] == "sparql-update" for c in ours)
    sequences = [c["sequence"] for c in ours]
    assert len(set(sequences)) == len(sequences)  # each write its own place in the order


def test_history_and_diff_between_two_times(writer: FlaskClient):
    t0 = datetime.now(UTC).isoformat()
    assert update(writer, f"INSERT DATA {{ <{EX}h> <{EX}v> 1 . <{EX}h> <{EX}w> 1 }}").status_code == 200
    t1 = datetime.now(UTC).isoformat()
    assert (
        update(writer, f"DELETE DATA {{ <{EX}h> <{EX}v> 1 }} ; INSERT DATA {{ <{EX}h> <{EX}v> 2 }}", role="admin").status_code
        == 200
    )
    t2 = datetime.now(UTC).isoformat()
    history = writer.get("/api/changes", query_string={"since": t0, "until": t2}).get_json()["changes"]
    assert [(c["agent"], c["added"], c["removed"]) for c in history] == [("editor-user", 2, 0), ("admin-user", 1, 1)]
    about = writer.get("/api/changes", query_string={"resource": EX + "h"}).get_json()["changes"]
    assert [c["change"] for c in about] == [c["change"] for c in history]
    second = writer.get("/api/changes/diff", query_string={"from": t1, "to": t2}).get_json()
    assert second["addedQuads"] == f'<{EX}h> <{EX}v> "2"^^<http://www.w3.org/2001/XMLSchema#integer> <{DATA}> .\n'
    assert second["removedQuads"] == f'<{EX}h> <{EX}v> "1"^^<http://www.w3.org/2001/XMLSchema#integer> <{DATA}> .\n'
    both = writer.get("/api/changes/diff", query_string={"from": t0, "to": t2}).get_json()
    assert (both["added"], both["removed"]) == (2, 0)  # v 1 came and went: the net change is v 2 and w 1
    then = writer.get("/api/changes/snapshot", query_string={"at": t1}).text
    about_h = {
        (q.predicate.value, q.object.value)
        for q in ox.parse(then, format=ox.RdfFormat.TURTLE)
        if q.subject == ox.NamedNode(EX + "h")
    }
    assert about_h == {(EX + "v", "1"), (EX + "w", "1")}
    bad = writer.get("/api/changes", query_string={"since": "last tuesday"})
    assert bad.status_code == 400 and "ISO 8601" in bad.get_json()["detail"]


def test_snapshot_rebuilds_the_graph_as_it_was(writer: FlaskClient):
    graph = EX + "snapshot"
    gsp(writer, "PUT", body=f'<{EX}s> <{EX}p> "before" .', graph=graph)
    middle = datetime.now(UTC).isoformat()
    gsp(writer, "PUT", body=f'<{EX}s> <{EX}p> "after" .', graph=graph)
    then = writer.get("/api/changes/snapshot", query_string={"at": middle, "graph": graph})
    assert '"before"' in then.text and '"after"' not in then.text


# -- spreadsheet import -----------------------------------------------------------------------


def import_csv(client: FlaskClient, body: str, kind: str) -> TestResponse:
    return client.post(
        "/api/import", query_string={"kind": kind}, data=body.encode(), headers={"Content-Type": "text/csv", **auth("editor")}
    )


def test_spreadsheet_import_checks_every_row_and_is_all_or_nothing(writer: FlaskClient):
    risks = (REPO / "data" / "templates" / "risk-register.csv").read_text()
    lines = risks.splitlines()
    seventh = (
        lines[1].replace("mortgage-variable-income-overstated", "seventh-row-risk", 1).replace(",Possible,", ",Very often,", 1)
    )
    before = dump(writer)
    refused = import_csv(writer, "\n".join([*lines, seventh]) + "\n", "risk-register")
    assert refused.status_code == 400
    assert "row 7, column 'likelihood'" in refused.get_json()["detail"]
    assert dump(writer) == before
    systems = import_csv(writer, (REPO / "data" / "templates" / "systems.csv").read_text(), "systems")
    assert systems.status_code == 200 and systems.get_json()["changed"] and systems.get_json()["rows"] == 3
    first = import_csv(writer, risks, "risk-register")
    assert (
        first.status_code == 200 and first.get_json()["added"] > 0 and first.get_json()["operation"] == "import-csv risk-register"
    )
    assert ask(
        writer,
        "ASK { <https://data.example.org/aims/risk/mortgage-variable-income-overstated> "
        "<https://w3id.org/aimsgraph/ontology#hasLikelihood> <https://w3id.org/aimsgraph/risk-matrix/L3> }",
    )
    again = import_csv(writer, risks, "risk-register")
    assert again.status_code == 200 and again.get_json()["changed"] is False
    edited = import_csv(writer, risks.replace(",Possible,", ",Likely,", 1), "risk-register")
    assert (edited.get_json()["added"], edited.get_json()["removed"]) == (1, 1)  # the old likelihood is replaced
    assert import_csv(writer, risks, "inventory").status_code == 400
    assert (
        writer.post(
            "/api/import",
            query_string={"kind": "systems"},
            data=b"{}",
            headers={"Content-Type": "application/json", **auth("editor")},
        ).status_code
        == 415
    )


# -- derived graphs ----------------------------------------------------------------------------


def test_a_write_refreshes_inferences_and_analysis(writer: FlaskClient):
    risk = "https://data.meridian.example/aims/risk/retail-credit-model-drift"
    settle(writer)
    score = f"ASK {{ GRAPH <https://w3id.org/aimsgraph/graph/analysis> {{ <{risk}> <https://w3id.org/aimsgraph/ontology#inherentScore> ?s FILTER(?s = %s) }} }}"
    assert ask(writer, score % "0.8")  # likelihood 5 x severity 4 of 5 x 5
    changed = update(
        writer,
        f"""PREFIX aims: <https://w3id.org/aimsgraph/ontology#> PREFIX rm: <https://w3id.org/aimsgraph/risk-matrix/>
        DELETE {{ <{risk}> aims:hasLikelihood ?l }} INSERT {{ <{risk}> aims:hasLikelihood rm:L1 }} WHERE {{ <{risk}> aims:hasLikelihood ?l }} ;
        INSERT DATA {{ <{EX}new-system> aims:usesModel <https://data.meridian.example/aims/model/retail-pd-model> }}""",
    )
    assert changed.status_code == 200, changed.text
    derived = settle(writer)
    assert ask(writer, score % "0.16")
    assert derived["lastRefresh"]["inferences"] == "inferences updated"
    assert derived["lastRefresh"]["analysis"] == "analysis updated"  # incremental, not rebuilt
    assert ask(
        writer,
        f"ASK {{ GRAPH <https://w3id.org/aimsgraph/graph/inferred> {{ <{EX}new-system> a <https://w3id.org/aimsgraph/ontology#AISystem> }} }}",
    )


def test_a_write_refreshes_the_stored_findings_of_what_it_touched(writer: FlaskClient):
    assert writer.post("/api/validate").status_code == 200  # a report is stored
    bare = f"{EX}unfinished-system"
    assert update(writer, f"INSERT DATA {{ <{bare}> a <https://w3id.org/aimsgraph/ontology#AISystem> }}").status_code == 200
    derived = settle(writer)
    assert derived["lastRefresh"]["findings"].endswith("focus nodes revalidated")
    findings = writer.get("/api/findings").get_json()["findings"]
    assert any(f["focus"] == bare and f["severity"] == "Violation" for f in findings)
    assert update(writer, f"DELETE DATA {{ <{bare}> a <https://w3id.org/aimsgraph/ontology#AISystem> }}").status_code == 200
    settle(writer)
    findings = writer.get("/api/findings").get_json()["findings"]
    assert not any(f["focus"] == bare for f in findings)


# -- a stricter service: reads need a token, writes pass the validation gate -------------------


@pytest.fixture(scope="module")
def strict_app(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Iterator[Flask]:
    yield from app_of(fresh_data_dir(tmp_path_factory.mktemp("strict") / "db"), open_reads=False, validation_gate=True)


@pytest.fixture
def strict(strict_app: Flask) -> FlaskClient:
    return strict_app.test_client()


def test_reads_can_require_a_token(strict: FlaskClient):
    assert strict.get("/sparql", query_string={"query": "ASK {}"}).status_code == 401
    assert strict.get("/sparql", query_string={"query": "ASK {}"}, headers=auth("reader")).status_code == 200
    assert strict.get("/rdf-graph-store", query_string={"default": ""}).status_code == 401
    assert strict.get("/api/findings").status_code == 401
    assert strict.get("/api/health").status_code == 200  # for load balancers


def test_validation_gate_refuses_new_violations_with_findings(strict: FlaskClient):
    before = dump(strict, "reader")
    incomplete = update(strict, f"INSERT DATA {{ <{EX}bare-system> a <https://w3id.org/aimsgraph/ontology#AISystem> }}")
    assert incomplete.status_code == 422
    findings = incomplete.get_json()["findings"]
    assert findings and all(f["severity"] == "Violation" and f["focus"] == EX + "bare-system" for f in findings)
    assert dump(strict, "reader") == before
    label = update(strict, f'INSERT DATA {{ <{EX}note> <http://www.w3.org/2000/01/rdf-schema#label> "harmless" }}')
    assert label.status_code == 200


# -- durability --------------------------------------------------------------------------------


def test_a_write_survives_kill_9_after_its_answer(tmp_path: Path, fresh_data_dir: FreshDataDir):
    data_dir = fresh_data_dir(tmp_path / "store")
    editor = {"Authorization": f"Bearer {TOKENS['editor']}"}
    live = start_server(data_dir, **ENV)
    try:
        inserted = requests.post(
            live.sparql, data={"update": f"INSERT DATA {{ <{EX}durable> <{EX}p> 1 }}"}, headers=editor, timeout=60
        )
        assert inserted.status_code == 200
        put = requests.put(
            live.url + "/rdf-graph-store",
            params={"graph": EX + "durable"},
            data=f"<{EX}durable> <{EX}q> 2 .",
            headers={**editor, "Content-Type": "text/turtle"},
            timeout=60,
        )
        assert put.status_code == 201
        live.process.send_signal(signal.SIGKILL)
        live.process.wait(timeout=10)
    finally:
        live.stop()
    again = start_server(data_dir, **ENV)
    try:
        durable = f"ASK {{ GRAPH <{DATA}> {{ <{EX}durable> <{EX}p> 1 }} GRAPH <{EX}durable> {{ <{EX}durable> <{EX}q> 2 }} }}"
        answer = requests.post(
            again.sparql, data={"query": durable}, headers={"Accept": "application/sparql-results+json"}, timeout=30
        )
        answer.raise_for_status()
        assert answer.json()["boolean"]
        operations = [c["operation"] for c in requests.get(again.url + "/api/changes", timeout=10).json()["changes"]]
        assert operations[-2:] == ["sparql-update", "graph-store-put"]
    finally:
        again.stop()
