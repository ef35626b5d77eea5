"""POST /api/validate with a record written in another vocabulary: AIRO is mapped as the
importer maps it, and a record the shapes cannot judge is refused (422) rather than answered
with a silent "conforms"."""

from __future__ import annotations

import pytest

from aimsgraph.config import Settings
from conftest import FreshDataDir, serving

AIMS = "https://w3id.org/aimsgraph/ontology#"
SYSTEM = "https://records.example.org/ai#screening"
#: One AI system, stated with a purpose and a deployer but nothing else (no owner, no risk
#: assessment, no documentation), in the style of AIRO's own examples: `#` IRIs, no labels.
IN_AIRO = """@prefix airo: <https://w3id.org/airo#> .
@prefix ex: <https://records.example.org/ai#> .
ex:screening a airo:AISystem ; airo:hasPurpose ex:shortlisting_applicants ; airo:isDeployedBy ex:acme .
ex:acme a airo:AIDeployer .
"""
IN_AIMS = f"""@prefix aims: <{AIMS}> .
<{SYSTEM}> a aims:AISystem .
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory, fresh_data_dir: FreshDataDir):
    with serving(
        Settings(data_dir=fresh_data_dir(tmp_path_factory.mktemp("foreign-validation") / "db", demo=False), demo=False)
    ) as app:
        yield app.test_client()


def validate(client, body: str, content_type: str = "text/turtle"):
    return client.post("/api/validate", data=body.encode(), headers={"Content-Type": content_type, "Accept": "application/json"})


def paths_found(report: dict, focus: str) -> set[str]:
    return {f["path"] for f in report["findings"] if f["focus"] == focus}


def test_a_record_in_airo_terms_is_judged_like_one_in_ours(client):
    airo, ours = validate(client, IN_AIRO), validate(client, IN_AIMS)
    assert airo.status_code == ours.status_code == 200
    assert airo.headers["X-Aimsgraph-Record-Vocabulary"] == "AIRO"
    assert ours.headers["X-Aimsgraph-Record-Vocabulary"] == "aimsgraph"
    stated, bare = paths_found(airo.get_json(), SYSTEM), paths_found(ours.get_json(), SYSTEM)
    assert airo.get_json()["conforms"] is False and stated  # never a silent "conforms"
    assert AIMS + "intendedPurpose" in bare and AIMS + "intendedPurpose" not in stated  # the file states it
    assert AIMS + "hasOwner" in stated  # not stated: still missing
    assert stated < bare


@pytest.mark.parametrize(
    "namespace,says",
    [
        ("http://w3id.org/AIRO#", "by case and http instead of https"),
        ("https://w3id.org/airo/", "`/` instead of `#` at the end"),
        ("https://w3id.org/aimsgraph/Ontology#", "by case"),
    ],
)
def test_a_misspelt_namespace_is_refused_and_named(client, namespace, says):
    body = f"<{SYSTEM}> a <{namespace}AISystem> ; <{namespace}hasPurpose> <https://records.example.org/ai#x> ."
    answer = validate(client, body)
    assert answer.status_code == 422
    assert namespace in answer.get_json()["detail"] and says in answer.get_json()["detail"]


def test_a_record_in_dpv_alone_is_refused_with_how_to_bring_it_in(client):
    body = f"<{SYSTEM}> a <https://w3id.org/dpv/ai#AISystem> ; <https://w3id.org/dpv#hasPurpose> <https://w3id.org/dpv#ServiceProvision> ."
    answer = validate(client, body)
    assert answer.status_code == 422
    detail = answer.get_json()["detail"]
    assert "DPV" in detail and "AIRO terms" in detail


def test_a_record_in_no_known_vocabulary_is_refused(client):
    answer = validate(client, f'<{SYSTEM}> <https://schema.org/name> "Screening" .', "application/n-triples")
    assert answer.status_code == 422 and "no aimsgraph or AIRO term" in answer.get_json()["detail"]


def test_entity_declarations_are_refused_before_parsing(client):
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
    )
    answer = validate(client, bomb, "application/rdf+xml")
    assert answer.status_code == 400 and "entity" in answer.get_json()["detail"]
