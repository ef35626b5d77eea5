"""Risk scoring: the risk matrix, inherent and residual risk, and the risk appetite (6.1.1-6.1.3).

Everything is read from data: the organisation's ``aims:RiskCriteria`` name the matrix
(``aims:usesMatrix``, ``rm:Matrix5x5`` when absent), the appetite (``aims:riskAppetite``) and the
propagation threshold; the matrix's cells map a likelihood and a severity level to a risk level.
An organisation can supply its own matrix in the same shape as ``data/risk-matrices/``.

The model, in one place:

* **Inherent level** = the matrix cell of the risk's likelihood and severity.
  **Inherent score** = likelihood rank x severity rank / (highest likelihood rank x highest
  severity rank), a number in (0, 1] that propagation can combine.
* **Residual risk** counts only controls with status ``aims:Implemented``. Preventive controls
  (``aims:mitigates``) lower the likelihood, detective controls (``aims:detects``) the severity.
  Several controls of one kind combine like independent barriers:
  E = 1 - (1 - e1)(1 - e2)..., with e the control's ``aims:effectiveness`` (0 when not recorded:
  an effectiveness nobody measured is not credited). Then, rounding half up:

      residual likelihood rank = 1 + (L - 1) x (1 - E_preventive)
      residual severity rank   = 1 + (S - 1) x (1 - E_detective / 2)

  Detection only halves its credit because it limits harm once the event happens; it does not
  stop it. Ranks never fall below 1. The residual level is the cell of the residual ranks.
* **Appetite**: a risk exceeds it when its computed residual level ranks at or above
  ``aims:riskAppetite``.
* **Level of a bare score** (inherited risks, exposure): the highest level whose lowest cell
  score is at or below it. For the 5x5 matrix: Low from 0.04, Medium 0.2, High 0.4, Critical 0.8.
  This assumes a matrix banded by L x S, as the shipped ones are; a matrix whose levels are
  not can rate a bare score above the cell it came from.
* Scales must rank their levels 1, 2, 3 ... without gaps; a risk with two likelihoods or two
  severities is not scored (its ``problem`` says why) rather than scored on one of them.

Recorded levels (``aims:hasRiskLevel``, ``aims:hasResidualRiskLevel``) are kept next to the
computed ones, so a reviewer sees where an assessor's judgement and the matrix disagree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import NoReturn

import pyoxigraph as ox

from aimsgraph.errors import ConfigError
from aimsgraph.namespaces import AIMS, RM, TYPE, sparql_prefixes
from aimsgraph.store import GraphStore
from aimsgraph.store.record import iri_of, number, pairs, term_text

DEFAULT_MATRIX = RM + "Matrix5x5"
DEFAULT_THRESHOLD = 0.1
DETECTIVE_CREDIT = 0.5

_CRITERIA = (
    sparql_prefixes("aims")
    + """SELECT ?criteria ?matrix ?appetite ?threshold WHERE {
  ?criteria a aims:RiskCriteria .
  OPTIONAL { ?criteria aims:usesMatrix ?matrix }
  OPTIONAL { ?criteria aims:riskAppetite ?appetite }
  OPTIONAL { ?criteria aims:propagationThreshold ?threshold }
} ORDER BY ?criteria"""
)

_CELLS = (
    sparql_prefixes("aims", "rdfs")
    + """SELECT ?likelihood ?lrank ?severity ?srank ?level ?rank ?label WHERE {
  <%s> aims:hasCell ?cell .
  ?cell aims:cellLikelihood ?likelihood ; aims:cellSeverity ?severity ; aims:cellRiskLevel ?level .
  ?likelihood aims:rank ?lrank . ?severity aims:rank ?srank . ?level aims:rank ?rank .
  OPTIONAL { ?level rdfs:label ?label }
}"""
)

_IMPLEMENTED = f"SELECT ?c WHERE {{ ?c <{AIMS}controlStatus> <{AIMS}Implemented> }}"
_RISK_TYPE = f"SELECT ?r WHERE {{ ?r a <{AIMS}Risk> }}"


@dataclass(frozen=True)
class Level:
    """One risk level of the matrix's level scale."""

    iri: str
    rank: int
    label: str
    min_score: float  # the lowest normalised score of any cell with this level


@dataclass(frozen=True)
class Matrix:
    """A likelihood x severity matrix read from data."""

    iri: str
    cells: dict[tuple[int, int], str]  # (likelihood rank, severity rank) -> level IRI
    likelihoods: dict[str, int]  # likelihood level IRI -> rank
    severities: dict[str, int]
    levels: dict[str, Level]

    @property
    def max_likelihood(self) -> int:
        return max(self.likelihoods.values())

    @property
    def max_severity(self) -> int:
        return max(self.severities.values())

    def score(self, likelihood: int, severity: int) -> float:
        return likelihood * severity / (self.max_likelihood * self.max_severity)

    def level_of(self, likelihood: int, severity: int) -> Level:
        return self.levels[self.cells[(likelihood, severity)]]

    def level_for_score(self, score: float) -> Level:
        ordered = sorted(self.levels.values(), key=lambda level: level.rank)
        reached = [level for level in ordered if level.min_score <= score + 1e-9]
        return reached[-1] if reached else ordered[0]

    def likelihood_iri(self, rank: int) -> str:
        return next(iri for iri, r in sorted(self.likelihoods.items()) if r == rank)

    def severity_iri(self, rank: int) -> str:
        return next(iri for iri, r in sorted(self.severities.items()) if r == rank)


@dataclass(frozen=True)
class Criteria:
    """The organisation's risk criteria (6.1.1) as scoring and propagation use them."""

    matrix: Matrix
    appetite: Level | None
    threshold: float

    def exceeds(self, level: Level) -> bool:
        return self.appetite is not None and level.rank >= self.appetite.rank


@dataclass(frozen=True)
class Control:
    iri: str
    preventive: bool  # mitigates (lowers likelihood) rather than detects (lowers severity)
    effectiveness: float | None


@dataclass(frozen=True)
class Risk:
    """A risk as recorded, with its scores when it can be scored."""

    iri: str
    assets: tuple[str, ...]
    likelihood: int | None
    severity: int | None
    controls: tuple[Control, ...] = ()
    recorded_level: str | None = None
    recorded_residual_level: str | None = None
    problem: str | None = None  # why the risk cannot be scored
    inherent: Level | None = field(default=None, compare=False)
    inherent_score: float = 0.0
    residual_likelihood: int | None = None
    residual_severity: int | None = None
    residual: Level | None = field(default=None, compare=False)
    residual_score: float = 0.0

    @property
    def scored(self) -> bool:
        return self.inherent is not None


def load_criteria(store: GraphStore) -> Criteria:
    """The first risk criteria in IRI order, or the 5x5 defaults when none are recorded."""
    rows = list(store.query(_CRITERIA))
    row = rows[0] if rows else None
    matrix_iri = DEFAULT_MATRIX
    if row and row["matrix"]:
        matrix_iri = iri_of(row["matrix"]) or _bad_setting("aims:usesMatrix must name a risk matrix", row["matrix"])
    matrix = load_matrix(store, matrix_iri)
    appetite = None
    if row and row["appetite"]:
        appetite = matrix.levels.get(iri_of(row["appetite"]) or "")
        if appetite is None:
            _bad_setting(f"the risk appetite must be a level of <{matrix.iri}>", row["appetite"])
    threshold = DEFAULT_THRESHOLD
    if row and row["threshold"]:
        found = number(row["threshold"])
        if found is None or not 0 <= found <= 1:
            _bad_setting("aims:propagationThreshold must be a number between 0 and 1", row["threshold"])
        threshold = found
    return Criteria(matrix, appetite, threshold)


def _bad_setting(rule: str, term: object) -> NoReturn:
    """Risk criteria the model cannot use stop it: scores on other criteria would mislead."""
    raise ConfigError(f"{rule}, not {term_text(term)}")


def load_matrix(store: GraphStore, iri: str) -> Matrix:
    """Read a matrix; every likelihood x severity combination must have exactly one cell."""
    cells: dict[tuple[int, int], str] = {}
    likelihoods: dict[str, int] = {}
    severities: dict[str, int] = {}
    level_ranks: dict[str, tuple[int, str]] = {}
    for row in store.query(_CELLS % iri):
        likelihood, severity, level = (iri_of(row[name]) for name in ("likelihood", "severity", "level"))
        lrank, srank, level_rank = (_rank(row[name]) for name in ("lrank", "srank", "rank"))
        if likelihood is None or severity is None or level is None or lrank is None or srank is None or level_rank is None:
            continue  # levels are named and ranked by integers: a cell that is not, is missing
        key = (lrank, srank)
        if cells.get(key, level) != level:
            raise ConfigError(f"matrix <{iri}> has two levels for likelihood rank {key[0]}, severity rank {key[1]}")
        cells[key] = level
        likelihoods[likelihood] = key[0]
        severities[severity] = key[1]
        rank = (level_rank, term_text(row["label"]) if row["label"] else "")
        if level_ranks.setdefault(level, rank)[0] != rank[0]:
            raise ConfigError(f"risk level <{level}> of matrix <{iri}> has two ranks")
    expected = len(set(likelihoods.values())) * len(set(severities.values()))
    if not cells or len(cells) != expected:
        raise ConfigError(f"risk matrix <{iri}> is missing or incomplete ({len(cells)} of {expected} cells)")
    for name, scale in (("likelihood", likelihoods), ("severity", severities)):
        if sorted(set(scale.values())) != list(range(1, len(set(scale.values())) + 1)):
            raise ConfigError(f"the {name} ranks of matrix <{iri}> must run 1, 2, 3 ... without gaps")
    top = max(likelihoods.values()) * max(severities.values())
    min_scores: dict[str, float] = defaultdict(lambda: 1.0)
    for (lrank, srank), level in cells.items():
        min_scores[level] = min(min_scores[level], lrank * srank / top)
    levels = {level: Level(level, rank, label, min_scores[level]) for level, (rank, label) in level_ranks.items()}
    return Matrix(iri, cells, likelihoods, severities, levels)


def _rank(term: object) -> int | None:
    value = number(term)
    return int(value) if value is not None and value == int(value) else None


def load_risks(store: GraphStore, criteria: Criteria) -> dict[str, Risk]:
    """Every ``aims:Risk`` with its assets, implemented controls and computed scores."""
    implemented = {iri_of(row[0]) for row in store.query(_IMPLEMENTED)} - {None}
    effectiveness: dict[str, float] = {}
    for control, value in pairs(store, AIMS + "effectiveness"):  # several values: the largest counts
        if control in implemented and (found := number(value)) is not None:
            effectiveness[control] = max(found, effectiveness.get(control, 0.0))
    controls: dict[str, list[Control]] = defaultdict(list)
    for how in ("mitigates", "detects"):
        for control, term in pairs(store, AIMS + how):
            if control in implemented and (risk := iri_of(term)):
                controls[risk].append(Control(control, how == "mitigates", effectiveness.get(control)))
    values: dict[str, dict[str, str]] = {iri: {} for row in store.query(_RISK_TYPE) if (iri := iri_of(row[0]))}
    doubled: dict[str, str] = {}
    for key in ("hasLikelihood", "hasSeverity", "hasRiskLevel", "hasResidualRiskLevel"):
        for risk, level in sorted(_level_pairs(store, key)):
            if values.get(risk, {}).setdefault(key, level) != level and key in ("hasLikelihood", "hasSeverity"):
                doubled.setdefault(risk, f"more than one {key[3:].lower()} recorded")
    assets: dict[str, set[str]] = defaultdict(set)
    for asset, term in pairs(store, AIMS + "hasRisk"):
        if risk := iri_of(term):
            assets[risk].add(asset)
    return {
        iri: _risk(iri, found, doubled.get(iri), assets.get(iri, set()), controls.get(iri, []), criteria)
        for iri, found in values.items()
    }


def _level_pairs(store: GraphStore, key: str) -> list[tuple[str, str]]:
    """(risk, level) of one level property: the level as written, so that a value off the
    scale (a literal, a triple term) is reported by :func:`_unscorable`; blank nodes left out."""
    return [(risk, term_text(level)) for risk, level in pairs(store, AIMS + key) if not isinstance(level, ox.BlankNode)]


def load_risk(store: GraphStore, criteria: Criteria, iri: str) -> Risk | None:
    """One risk as :func:`load_risks` reads it, with index lookups instead of scans (for
    updating a model after a write); None if ``iri`` is not an ``aims:Risk``."""
    node = ox.NamedNode(iri)

    def terms(subject: ox.NamedNode, prop: str) -> set:
        return {
            q.object
            for q in store.quads(subject, ox.NamedNode(AIMS + prop), None, None)
            if not isinstance(q.object, ox.BlankNode)
        }

    def objects(subject: ox.NamedNode, prop: str) -> list[str]:
        return sorted({term_text(term) for term in terms(subject, prop)})

    def subjects(prop: str) -> set[str]:
        return {
            q.subject.value
            for q in store.quads(None, ox.NamedNode(AIMS + prop), node, None)
            if isinstance(q.subject, ox.NamedNode)
        }

    if next(store.quads(node, TYPE, ox.NamedNode(AIMS + "Risk"), None), None) is None:
        return None
    found, doubled = {}, None
    for key in ("hasLikelihood", "hasSeverity", "hasRiskLevel", "hasResidualRiskLevel"):
        values = objects(node, key)
        if values:
            found[key] = values[0]
        if len(values) > 1 and key in ("hasLikelihood", "hasSeverity"):
            doubled = doubled or f"more than one {key[3:].lower()} recorded"
    controls = []
    for how in ("mitigates", "detects"):
        for control in sorted(subjects(how)):
            subject = ox.NamedNode(control)
            if AIMS + "Implemented" in objects(subject, "controlStatus"):
                effectiveness = [value for term in terms(subject, "effectiveness") if (value := number(term)) is not None]
                controls.append(Control(control, how == "mitigates", max(effectiveness, default=None)))
    return _risk(iri, found, doubled, subjects("hasRisk"), controls, criteria)


def _risk(
    iri: str, found: dict[str, str], doubled: str | None, assets: set[str], controls: list[Control], criteria: Criteria
) -> Risk:
    matrix = criteria.matrix
    risk = Risk(
        iri=iri,
        assets=tuple(sorted(assets)),
        likelihood=matrix.likelihoods.get(found.get("hasLikelihood", "")),
        severity=matrix.severities.get(found.get("hasSeverity", "")),
        controls=tuple(sorted(controls, key=lambda c: (c.iri, c.preventive))),
        recorded_level=found.get("hasRiskLevel"),
        recorded_residual_level=found.get("hasResidualRiskLevel"),
        problem=doubled or _unscorable(found, matrix),
    )
    return score(risk, criteria)


def score(risk: Risk, criteria: Criteria) -> Risk:
    """The risk with its inherent and residual levels and scores filled in (when scorable)."""
    if risk.likelihood is None or risk.severity is None or risk.problem:
        return risk
    matrix = criteria.matrix
    likelihood, severity = residual_ranks(risk.likelihood, risk.severity, risk.controls)
    return replace(
        risk,
        inherent=matrix.level_of(risk.likelihood, risk.severity),
        inherent_score=matrix.score(risk.likelihood, risk.severity),
        residual_likelihood=likelihood,
        residual_severity=severity,
        residual=matrix.level_of(likelihood, severity),
        residual_score=matrix.score(likelihood, severity),
    )


def residual_ranks(likelihood: int, severity: int, controls: tuple[Control, ...]) -> tuple[int, int]:
    """Likelihood and severity ranks once the implemented controls are counted (module docstring)."""
    preventive = combined_effectiveness(c.effectiveness for c in controls if c.preventive)
    detective = combined_effectiveness(c.effectiveness for c in controls if not c.preventive)
    return (
        _round_half_up(1 + (likelihood - 1) * (1 - preventive)),
        _round_half_up(1 + (severity - 1) * (1 - detective * DETECTIVE_CREDIT)),
    )


def combined_effectiveness(values) -> float:
    """Independent barriers: 1 - product of (1 - e); unknown effectiveness counts as 0."""
    remaining = 1.0
    for value in values:
        remaining *= 1 - min(max(value or 0.0, 0.0), 1.0)
    return 1 - remaining


def _round_half_up(value: float) -> int:
    return max(1, math.floor(value + 0.5 + 1e-9))


def _unscorable(values: dict, matrix: Matrix) -> str | None:
    for key, scale in (("hasLikelihood", matrix.likelihoods), ("hasSeverity", matrix.severities)):
        name = key[3:].lower()
        if key not in values:
            return f"no {name} recorded"
        if values[key] not in scale:
            return f"{name} <{values[key]}> is not on the scale of <{matrix.iri}>"
    return None
