"""Risk scoring: the matrix from data, inherent and residual risk, the appetite (6.1.1-6.1.3)."""

from __future__ import annotations

import pytest

from aimsgraph.errors import ConfigError
from aimsgraph.namespaces import RM
from aimsgraph.risk import scoring
from riskgraphs import EX, store_with


def scored(turtle: str) -> tuple[scoring.Criteria, dict[str, scoring.Risk]]:
    store = store_with(turtle)
    criteria = scoring.load_criteria(store)
    return criteria, scoring.load_risks(store, criteria)


def control(name: str, how: str, risk: str, effectiveness: str | None, status: str = "aims:Implemented") -> str:
    eff = f"; aims:effectiveness {effectiveness} " if effectiveness else ""
    return f"ex:{name} a aims:ImplementedControl ; aims:{how} ex:{risk} ; aims:controlStatus {status} {eff}.\n"


RISK = "ex:sys a aims:AISystem ; aims:hasRisk ex:r . ex:r a aims:Risk ; aims:hasLikelihood rm:L4 ; aims:hasSeverity rm:S5 .\n"


def test_inherent_level_and_score_come_from_the_default_matrix():
    criteria, risks = scored(RISK)
    risk = risks[EX + "r"]
    assert criteria.matrix.iri == RM + "Matrix5x5" and criteria.appetite is None and criteria.threshold == 0.1
    assert risk.inherent.iri == RM + "Critical" and risk.inherent_score == pytest.approx(20 / 25)
    assert (risk.residual_likelihood, risk.residual_severity) == (4, 5)  # no controls, no reduction


def test_preventive_controls_lower_likelihood_and_detective_controls_severity():
    # preventive e=0.5: L = 1 + 3 x 0.5 = 2.5 -> 3; detective e=0.6: S = 1 + 4 x (1 - 0.3) = 3.8 -> 4
    _, risks = scored(RISK + control("p", "mitigates", "r", "0.5") + control("d", "detects", "r", "0.6"))
    risk = risks[EX + "r"]
    assert (risk.residual_likelihood, risk.residual_severity) == (3, 4)
    assert risk.residual.iri == RM + "High" and risk.residual_score == pytest.approx(12 / 25)


def test_independent_barriers_combine_and_only_implemented_measured_controls_count():
    # two preventive controls of 0.5: E = 1 - 0.5 x 0.5 = 0.75, L = 1 + 3 x 0.25 = 1.75 -> 2
    turtle = RISK + control("p1", "mitigates", "r", "0.5") + control("p2", "mitigates", "r", "0.5")
    turtle += control("planned", "mitigates", "r", "0.99", status="aims:Planned")
    turtle += control("unmeasured", "mitigates", "r", None)
    _, risks = scored(turtle)
    assert risks[EX + "r"].residual_likelihood == 2
    assert {c.iri for c in risks[EX + "r"].controls} == {EX + "p1", EX + "p2", EX + "unmeasured"}


def test_residual_ranks_never_fall_below_one():
    assert scoring.residual_ranks(1, 1, (scoring.Control("c", True, 1.0), scoring.Control("d", False, 1.0))) == (1, 1)
    assert scoring.residual_ranks(5, 5, (scoring.Control("c", True, 1.0),)) == (1, 5)


def test_an_organisation_supplies_its_matrix_appetite_and_threshold():
    turtle = """
    ex:criteria a aims:RiskCriteria ; aims:usesMatrix rm:Matrix3x3 ; aims:riskAppetite rm:Medium ;
        aims:propagationThreshold 0.25 .
    ex:sys a aims:AISystem ; aims:hasRisk ex:r , ex:low .
    ex:r a aims:Risk ; aims:hasLikelihood rm:L3-3 ; aims:hasSeverity rm:S3-1 .
    ex:low a aims:Risk ; aims:hasLikelihood rm:L3-1 ; aims:hasSeverity rm:S3-1 .
    """
    criteria, risks = scored(turtle)
    assert criteria.matrix.iri == RM + "Matrix3x3" and criteria.threshold == 0.25
    assert risks[EX + "r"].inherent.iri == RM + "Medium" and risks[EX + "r"].inherent_score == pytest.approx(3 / 9)
    assert criteria.exceeds(risks[EX + "r"].residual) and not criteria.exceeds(risks[EX + "low"].residual)


def test_levels_off_the_matrix_scale_are_reported_not_guessed():
    _, risks = scored("ex:r a aims:Risk ; aims:hasLikelihood rm:L3-3 ; aims:hasSeverity rm:S2 .\nex:n a aims:Risk .")
    assert not risks[EX + "r"].scored and "not on the scale" in risks[EX + "r"].problem
    assert risks[EX + "n"].problem == "no likelihood recorded"


def test_an_incomplete_matrix_is_a_configuration_error():
    turtle = """
    ex:criteria a aims:RiskCriteria ; aims:usesMatrix ex:m .
    ex:m a aims:RiskMatrix ; aims:hasCell [ aims:cellLikelihood rm:L1 ; aims:cellSeverity rm:S1 ; aims:cellRiskLevel rm:Low ] ,
        [ aims:cellLikelihood rm:L2 ; aims:cellSeverity rm:S2 ; aims:cellRiskLevel rm:Low ] .
    """
    with pytest.raises(ConfigError, match="incomplete"):
        scoring.load_criteria(store_with(turtle))


def test_score_thresholds_follow_the_matrix_bands():
    matrix = scoring.load_criteria(store_with("")).matrix
    assert {level.label: level.min_score for level in matrix.levels.values()} == {
        "Low": 1 / 25,
        "Medium": 5 / 25,
        "High": 10 / 25,
        "Critical": 20 / 25,
    }
    assert [matrix.level_for_score(s).label for s in (0.01, 0.2, 0.39, 0.4, 0.8, 1.0)] == [
        "Low",
        "Medium",
        "Medium",
        "High",
        "Critical",
        "Critical",
    ]


def test_demo_inherent_levels_match_what_the_assessors_recorded(demo_store):
    criteria = scoring.load_criteria(demo_store)
    risks = scoring.load_risks(demo_store, criteria)
    assert len(risks) == 40 and all(r.scored for r in risks.values())
    assert all(r.inherent.iri == r.recorded_level for r in risks.values())
    assert criteria.appetite.iri == RM + "High" and criteria.threshold == pytest.approx(0.1)
    # gap 7 of the demo: a High risk with no control keeps its level after controls
    gap = risks["https://data.meridian.example/aims/risk/next-best-offer-vulnerable-targeting"]
    assert gap.residual.iri == RM + "High" and criteria.exceeds(gap.residual)


def test_a_risk_with_two_likelihoods_is_not_scored_and_gapped_ranks_are_refused():
    _, risks = scored(RISK + "ex:r aims:hasLikelihood rm:L1 .")
    assert not risks[EX + "r"].scored and risks[EX + "r"].problem == "more than one likelihood recorded"
    gapped = """
    ex:criteria a aims:RiskCriteria ; aims:usesMatrix ex:m .
    ex:lo aims:rank 1 . ex:hi aims:rank 3 . ex:s aims:rank 1 .
    ex:m a aims:RiskMatrix ; aims:hasCell [ aims:cellLikelihood ex:lo ; aims:cellSeverity ex:s ; aims:cellRiskLevel rm:Low ] ,
        [ aims:cellLikelihood ex:hi ; aims:cellSeverity ex:s ; aims:cellRiskLevel rm:High ] .
    """
    with pytest.raises(ConfigError, match="without gaps"):
        scoring.load_criteria(store_with(gapped))
