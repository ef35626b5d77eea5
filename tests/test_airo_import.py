"""Importing a record written in AIRO terms: mapping, report, validation, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aimsgraph import validation
from aimsgraph.errors import InvalidInput
from aimsgraph.importers import airo
from aimsgraph.namespaces import Graphs
from aimsgraph.reasoning import refresh_inferences
from aimsgraph.store import GraphStore

SAMPLE = Path(__file__).parent / "data" / "airo-system.ttl"
EX = "https://hr.example/ai/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
ISO = "https://w3id.org/aimsgraph/iso42001/"


@pytest.fixture(scope="module")
def imported() -> tuple[GraphStore, airo.AiroReport]:
    store = GraphStore(None)
    store.initialise(demo=False)
    report = airo.import_airo(store, SAMPLE)
    refresh_inferences(store)
    return store, report


def ask(store: GraphStore, pattern: str) -> bool:
    return bool(store.query(f"PREFIX aims: <{AIMS}> PREFIX ex: <{EX}> PREFIX airo: <https://w3id.org/airo#> ASK {{ {pattern} }}"))


def test_airo_terms_become_aimsgraph_terms(imported):
    store, _ = imported
    for pattern in (
        "ex:screener a aims:AISystem ; aims:usesModel ex:ranker ; aims:hasRisk ex:gender-bias",
        "ex:screener aims:lifecycleStage aims:Deployment",  # vair:Deployment, via our closeMatch
        "ex:screener aims:deployedBy ex:acme-hr . ex:acme-hr a aims:InterestedParty ; aims:hasStakeholderRole aims:DeployerRole",
        "ex:ranker aims:trainedOn ex:past-hires . ex:past-hires a aims:Dataset",
        "ex:gender-bias aims:hasRiskSource ex:historical-bias",  # AIRO states the inverse
        "ex:bias-audit a aims:ImplementedControl ; aims:mitigates ex:gender-bias",
        "ex:unfair-rejection aims:hasImpact ex:discrimination",
        "ex:screener a airo:AISystem",  # and AIRO queries still answer, through the alignments
    ):
        assert ask(store, pattern), pattern
    # the data graph holds our terms (AIRO ones come back only as inferences)
    assert not ask(store, f"GRAPH <{Graphs.DATA}> {{ ?s airo:hasModel ?o }}")


def test_report_says_what_mapped_and_what_did_not(imported):
    _, report = imported
    assert report.triples_read == 33
    assert report.mapped["airo:isRiskSourceFor -> inverse of aims:hasRiskSource"] == 1
    assert report.mapped["airo:AIDeployer -> aims:InterestedParty with role aims:DeployerRole"] == 1
    assert dict(report.unmapped) == {"airo:Purpose": 1, "airo:hasPurpose": 1}
    assert "airo:hasPurpose" in report.summary()


def test_an_imported_system_validates_with_sensible_findings(imported):
    store, _ = imported
    findings = validation.validate_store(store)
    clauses = {c.removeprefix(ISO) for f in findings if f.focus == EX + "screener" for c in f.clauses}
    assert {"4.3", "A.3.2", "6.1.2", "A.6.2.7", "A.6.2.8", "6.1.4"} <= clauses  # scope, owner, assessments, docs
    risk = {f.message for f in findings if f.focus == EX + "gender-bias"}
    assert any("likelihood" in m for m in risk) and any("severity" in m for m in risk)
    # what the AIRO file did say is not reported missing: deployer, AI subjects, model
    assert not any("deployer" in f.message.lower() for f in findings if f.focus == EX + "screener")


def test_a_bad_file_imports_nothing(tmp_path: Path):
    store = GraphStore(None)
    store.initialise(demo=False)
    broken = tmp_path / "broken.ttl"
    broken.write_text(SAMPLE.read_text() + "\nex:oops a .\n")
    with pytest.raises(InvalidInput, match="broken.ttl"):
        airo.import_airo(store, broken)
    assert store.is_empty(Graphs.DATA)


def test_cli_import_airo(tmp_path: Path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "aimsgraph.cli", "import", "airo", *args,
                               "--data-dir", str(tmp_path / "db")], capture_output=True, text=True, timeout=120)

    result = run(str(SAMPLE), "--report", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["unmapped"] == {"airo:Purpose": 1, "airo:hasPurpose": 1}
    missing = run(str(tmp_path / "nope.ttl"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_literal_values_of_node_properties_stay_unmapped(tmp_path: Path):
    store = GraphStore(None)
    store.initialise(demo=False)
    odd = tmp_path / "odd.ttl"
    odd.write_text('@prefix airo: <https://w3id.org/airo#> .\n'
                   '<https://hr.example/ai/x> a airo:AISystem ; airo:isDeployedBy "ACME Corp" .\n'
                   '<https://hr.example/ai/src> airo:isRiskSourceFor "bias" .\n')
    report = airo.import_airo(store, odd)
    assert report.unmapped["airo:isDeployedBy with a literal value (aims:deployedBy needs a node)"] == 1
    assert report.unmapped["airo:isRiskSourceFor with a literal value (aims:hasRiskSource needs a node)"] == 1
    assert not ask(store, 'ex:x aims:deployedBy "ACME Corp"')
