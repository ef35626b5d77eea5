"""Impact analysis before a change (ISO/IEC 42001 6.3, 8.2-8.4), what-if, concentration (A.10).

:func:`analyse` answers "what else moves if we change this node?": every dependent asset at any
depth with distance and path, then what the management system must revisit for the changed
node and those assets: risks to re-assess, assessments to redo, controls to re-test, evidence
that goes stale, stakeholders and owners to inform (A.8), Statement of Applicability rows
touched, and each affected asset's exposure before and (where it can be computed) after.

The dependency graph and scores come from the cached :class:`~aimsgraph.risk.analysis.RiskModel`;
the record links (risks, controls, evidence, ...) are read with index lookups on the store, so
an answer costs milliseconds even on a large record. ``queries/impact-*.rq`` express the same
lookups in SPARQL (a test checks that both agree).

What-if (:func:`what_if`) applies proposed modifications to a copy of the model, never to the
store, and recomputes only the propagation of the sources whose flows they touch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx

from aimsgraph.errors import InvalidInput, NotFound
from aimsgraph.namespaces import AIMS, is_absolute_iri
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.risk.propagation import DependencyGraph
from aimsgraph.risk.scoring import score
from aimsgraph.store.record import Record, local_name


@dataclass(frozen=True)
class ChangeKind:
    name: str
    iri: str
    applies_to: tuple[str, ...]  # asset kinds; empty means any asset
    removes_node: bool  # after the change the node no longer serves its dependents


CHANGE_KINDS = {
    kind.name: kind
    for kind in (
        ChangeKind("modify", AIMS + "ModifyOrRetrain", (), False),
        ChangeKind("retrain", AIMS + "ModifyOrRetrain", ("Model", "AISystem"), False),
        ChangeKind("replace", AIMS + "Replace", (), False),
        ChangeKind("retire", AIMS + "Retire", (), True),
        ChangeKind("data-change", AIMS + "DataChange", ("Dataset",), False),
        ChangeKind("supplier-exit", AIMS + "SupplierExit", ("Supplier",), True),
    )
}

WHAT_IF_OPERATIONS = ("add-dependency", "remove-dependency", "set-likelihood", "set-severity", "remove-control", "remove-asset")


def change_kind(value: str) -> ChangeKind:
    """A change kind by name (``retire``) or by its ``aims:ChangeKinds`` IRI."""
    if value in CHANGE_KINDS:
        return CHANGE_KINDS[value]
    for kind in CHANGE_KINDS.values():  # "modify" precedes "retrain": the IRI names the general kind
        if value in (kind.iri, "aims:" + local_name(kind.iri)):
            return kind
    raise InvalidInput(f"unknown change kind {value!r}; use one of {', '.join(CHANGE_KINDS)}")


class Collector:
    """Items of one answer section, each with the reasons it is in the list."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.items: dict[str, dict] = {}

    def add(self, iri: str, reason: str, **fields) -> None:
        # reasons are kept in a dict (an ordered set): a stakeholder group affected by 10,000
        # risks has 10,000 reasons, and a list's membership test made a hub's answer take minutes
        item = self.items.get(iri)
        if item is None:
            item = self.items[iri] = {"iri": iri, "label": self.record.label(iri), **fields, "reasons": {}}
        item["reasons"][reason] = None

    def list(self) -> list[dict]:
        return [{**self.items[iri], "reasons": list(self.items[iri]["reasons"])} for iri in sorted(self.items)]


def analyse(record: Record, model: RiskModel, node: str, change: str, modifications: list[dict] | None = None) -> dict:
    """The impact analysis of changing ``node`` in the way ``change`` names (see module doc)."""
    kind = change_kind(change)
    asset_kind = check_asset(record, model, node)
    if kind.applies_to and asset_kind not in kind.applies_to:
        raise InvalidInput(f"change kind {kind.name!r} applies to {' or '.join(kind.applies_to)}, and <{node}> is a {asset_kind}")
    affected = dependents(model.deps, node)
    scope = [node, *affected]
    risks = _risks(record, model, scope)
    controls = _controls(record, scope, risks)
    answer: dict[str, Any] = {  # a JSON object
        "node": {"iri": node, "label": record.label(node), "kind": asset_kind},
        "change": {"kind": kind.name, "iri": kind.iri},
        "affected": [_affected_entry(record, model, kind, item) for item in affected.values()],
        "risksToReassess": risks.list(),
        "assessmentsToRedo": _assessments(record, scope, risks.items).list(),
        "controlsToRetest": controls.list(),
        "staleEvidence": _evidence(record, scope, controls.items).list(),
        "stakeholdersToInform": _stakeholders(record, scope, risks.items, controls.items).list(),
        "soaRowsTouched": _soa_rows(record, controls.items).list(),
        "cycles": [members for members in model.cycles if not set(members).isdisjoint(scope)],
    }
    answer["summary"] = {
        "affectedAssets": len(affected),
        "affectedSystems": sum(1 for a in affected if model.deps.kinds.get(a) == "AISystem"),
        **{
            key: len(answer[key])
            for key in (
                "risksToReassess",
                "assessmentsToRedo",
                "controlsToRetest",
                "staleEvidence",
                "stakeholdersToInform",
                "soaRowsTouched",
            )
        },
    }
    proposal = list(modifications or [])
    if kind.removes_node:
        proposal.append({"op": "remove-asset", "asset": node})
    after = what_if(model, proposal) if proposal else None
    answer["risk"] = _before_after(record, model, after, scope)
    if after is None:
        answer["risk"]["afterNote"] = (
            f"not computed: a {kind.name} changes likelihoods and severities that are only known after "
            "re-assessment; give modifications (what-if) to evaluate a proposal"
        )
    return answer


@dataclass(frozen=True)
class Affected:
    iri: str
    distance: int
    path: tuple[str, ...]  # from the changed node to this asset


def dependents(deps: DependencyGraph, node: str) -> dict[str, Affected]:
    """Every asset that depends on ``node`` directly or indirectly: breadth-first, IRI order,
    so distance is the shortest and the path the first shortest in IRI order."""
    succ = deps.graph.succ
    found: dict[str, Affected] = {}
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(node, (node,))])
    while queue:
        current, path = queue.popleft()
        for child in sorted(succ[current]) if current in succ else ():
            if child != node and child not in found:
                found[child] = Affected(child, len(path), path + (child,))
                queue.append((child, path + (child,)))
    return found


def _affected_entry(record: Record, model: RiskModel, kind: ChangeKind, item: Affected) -> dict:
    graph = model.deps.graph
    steps = [graph.edges[a, b] for a, b in zip(item.path, item.path[1:], strict=False)]
    entry = {
        "iri": item.iri,
        "label": record.label(item.iri),
        "kind": model.deps.kinds.get(item.iri, "Asset"),
        "distance": item.distance,
        "path": list(item.path),
        "via": ["|".join(local_name(t) for t in step["types"]) for step in steps],
    }
    if kind.removes_node and item.distance == 1:
        entry["disruption"] = "loses a critical dependency" if steps[0]["critical"] else "loses a dependency"
    return entry


def check_asset(record: Record, model: RiskModel, node: str) -> str:
    """The asset kind of ``node`` (see :meth:`RiskModel.asset_kind`). A node the record does not
    hold is not found (404), not a bad request: the IRI may be right and the record behind."""
    if not is_absolute_iri(node):
        raise InvalidInput(f"{node!r} is not an absolute IRI")
    kind = model.asset_kind(node)
    if kind is not None:
        return kind
    if not record.exists(node):
        raise NotFound(f"unknown node <{node}>: nothing in the record describes it")
    raise InvalidInput(f"<{node}> is not an asset (system, model, dataset, infrastructure service or supplier)")


def _risks(record: Record, model: RiskModel, scope: list[str]) -> Collector:
    risks = Collector(record)
    for asset in scope:
        for risk in record.objects(asset, AIMS + "hasRisk"):
            scored = model.risks.get(risk)
            levels = {}
            if scored is not None and scored.inherent is not None and scored.residual is not None:  # scored
                levels = {"level": scored.inherent.label, "residualLevel": scored.residual.label}
            risks.add(risk, f"risk of <{asset}>", **levels)
    return risks


def _assessments(record: Record, scope: list[str], risks: dict) -> Collector:
    wanted = ("RiskAssessment", "ImpactAssessment", "VerificationValidation", "DataQualityAssessment")
    found = Collector(record)
    for subject in [*scope, *risks]:
        for assessment in record.subjects(AIMS + "assesses", subject) + record.subjects(AIMS + "identifiedRisk", subject):
            types = sorted(record.types(assessment) & set(wanted))
            if types:
                found.add(assessment, f"assesses <{subject}>", type=types[0])
    return found


def _controls(record: Record, scope: list[str], risks: Collector) -> Collector:
    controls = Collector(record)
    candidates = [(c, f"applies to <{a}>") for a in scope for c in record.subjects(AIMS + "appliesTo", a)]
    candidates += [
        (c, f"treats <{r}>") for r in risks.items for p in ("mitigates", "detects") for c in record.subjects(AIMS + p, r)
    ]
    for control, reason in candidates:
        if AIMS + "Retired" not in record.objects(control, AIMS + "controlStatus"):
            controls.add(control, reason)
    return controls


def _evidence(record: Record, scope: list[str], controls: dict) -> Collector:
    evidence = Collector(record)
    for holder in [*controls, *scope]:
        for item in record.objects(holder, AIMS + "hasEvidence"):
            evidence.add(item, f"evidence of <{holder}>")
    return evidence


def _stakeholders(record: Record, scope: list[str], risks: dict, controls: dict) -> Collector:
    people = Collector(record)
    for asset in scope:
        for prop, role in (("hasAISubject", "AI subject"), ("hasUser", "user"), ("hasOwner", "owner")):
            for party in record.objects(asset, AIMS + prop):
                people.add(party, f"{role} of <{asset}>")
    for risk in risks:
        for party in record.objects(risk, AIMS + "hasOwner") + record.objects(risk, AIMS + "hasRiskOwner"):
            people.add(party, f"owner of <{risk}>")
        consequences = record.objects(risk, AIMS + "hasConsequence")
        impacts = [i for c in consequences for i in record.objects(c, AIMS + "hasImpact")]
        for holder in [risk, *consequences, *impacts]:
            for party in record.objects(holder, AIMS + "affectsStakeholder"):
                people.add(party, f"affected by <{risk}>")
    for control in controls:
        for party in record.objects(control, AIMS + "hasOwner"):
            people.add(party, f"owner of <{control}>")
    return people


def _soa_rows(record: Record, controls: dict) -> Collector:
    rows = Collector(record)
    for control in controls:
        for row in record.subjects(AIMS + "implementedBy", control):
            rows.add(row, f"implemented by <{control}>")
        for reference in record.objects(control, AIMS + "implements"):
            for row in record.subjects(AIMS + "forControl", reference):
                rows.add(row, f"for <{reference}>, implemented by <{control}>")
    return rows


# -- what-if -------------------------------------------------------------------------------


def what_if(model: RiskModel, modifications: list[dict]) -> RiskModel:
    """A new model with the modifications applied; the store is never touched.

    Operations: ``add-dependency`` (dependent, dependency, type, coupling, critical),
    ``remove-dependency`` (dependent, dependency), ``set-likelihood`` / ``set-severity`` (risk,
    level), ``remove-control`` (control), and ``remove-asset`` (asset; used by retire and
    supplier exit). Only the sources whose flows the modifications touch are re-propagated.
    """
    deps, risks = model.deps.copy(), dict(model.risks)
    touched: set[str] = set()
    for number, modification in enumerate(modifications, 1):
        if not isinstance(modification, dict):
            raise InvalidInput(f"modification {number} must be a JSON object")
        try:
            touched |= _apply(deps, risks, model, modification)
        except InvalidInput as exc:
            raise InvalidInput(f"modification {number}: {exc.message}") from None
    return model.updated(risks, deps, touched)


def _apply(deps: DependencyGraph, risks: dict, model: RiskModel, change: dict) -> set[str]:
    operation = change.get("op")
    if operation == "add-dependency":
        dependent, dependency = _asset(deps, change, "dependent"), _asset(deps, change, "dependency")
        prop = _iri(change.get("type", AIMS + "dependsOn"), "type")
        coupling = change.get("coupling")
        if coupling is not None and not (isinstance(coupling, (int, float)) and 0 <= coupling <= 1):
            raise InvalidInput("coupling must be a number from 0 to 1")
        critical = bool(change.get("critical", False))
        factor = 1.0 if critical else float(coupling if coupling is not None else deps.default_factor(prop))
        deps.add_edge(dependent, dependency, [prop], factor, critical)
        return {dependency}
    if operation == "remove-dependency":
        dependent, dependency = _asset(deps, change, "dependent"), _asset(deps, change, "dependency")
        if not deps.graph.has_edge(dependency, dependent):
            raise InvalidInput(f"<{dependent}> does not depend on <{dependency}>")
        deps.remove_edge(dependent, dependency)
        return {dependency}
    if operation in ("set-likelihood", "set-severity"):
        risk = risks.get(_iri(change.get("risk"), "risk"))
        if risk is None:
            raise InvalidInput(f"unknown risk <{change.get('risk')}>")
        scale = model.criteria.matrix.likelihoods if operation == "set-likelihood" else model.criteria.matrix.severities
        level = _iri(change.get("level"), "level")
        if level not in scale:
            raise InvalidInput(f"<{level}> is not a level of the scale in use")
        field = "likelihood" if operation == "set-likelihood" else "severity"
        risks[risk.iri] = score(replace(risk, **{field: scale[level]}), model.criteria)
        return set(risk.assets)
    if operation == "remove-control":
        control = _iri(change.get("control"), "control")
        holders = [r for r in risks.values() if any(c.iri == control for c in r.controls)]
        if not holders:
            raise InvalidInput(f"<{control}> is not an implemented control of any risk")
        for risk in holders:
            kept = tuple(c for c in risk.controls if c.iri != control)
            risks[risk.iri] = score(replace(risk, controls=kept), model.criteria)
        return {a for r in holders for a in r.assets}
    if operation == "remove-asset":
        asset = _asset(deps, change, "asset")
        deps.remove_node(asset)
        for risk in [r for r in risks.values() if asset in r.assets]:
            risks[risk.iri] = replace(risk, assets=tuple(a for a in risk.assets if a != asset))
        return {asset}
    raise InvalidInput(f"unknown op {operation!r}; use one of {', '.join(WHAT_IF_OPERATIONS)}")


def _iri(value: object, name: str) -> str:
    if not isinstance(value, str) or not is_absolute_iri(value):
        raise InvalidInput(f"{name} must be an absolute IRI, not {value!r}")
    return value


def _asset(deps: DependencyGraph, change: dict, name: str) -> str:
    iri = _iri(change.get(name), name)
    if iri not in deps.graph and iri not in deps.kinds:
        raise InvalidInput(f"{name} <{iri}> is not a known asset")
    if iri not in deps.graph:
        deps.graph.add_node(iri)
    return iri


def _before_after(record: Record, before: RiskModel, after: RiskModel | None, scope: list[str]) -> dict:
    rows = []
    for asset in scope:
        row = {"iri": asset, "label": record.label(asset), "before": _exposure(before, asset)}
        if after is not None:
            row["after"] = _exposure(after, asset) if asset in after.deps.graph else None
        rows.append(row)
    changed_risks = []
    if after is not None:
        for iri, risk in sorted(after.risks.items()):
            old = before.risks[iri]
            if risk.scored and (risk.residual_score, risk.inherent_score) != (old.residual_score, old.inherent_score):
                # scored before too: a what-if keeps the problem that stops a risk's scoring
                assert risk.inherent is not None and risk.residual is not None
                assert old.inherent is not None and old.residual is not None
                changed_risks.append(
                    {
                        "iri": iri,
                        "label": record.label(iri),
                        "before": {
                            "level": old.inherent.label,
                            "residualLevel": old.residual.label,
                            "residualScore": round(old.residual_score, 4),
                        },
                        "after": {
                            "level": risk.inherent.label,
                            "residualLevel": risk.residual.label,
                            "residualScore": round(risk.residual_score, 4),
                        },
                    }
                )
    return {"assets": rows, "risksChanged": changed_risks}


def _exposure(model: RiskModel, asset: str) -> dict | None:
    exposure = model.exposures.get(asset)
    if exposure is None:
        return None
    return {
        "residualScore": round(exposure.score, 4),
        "residualLevel": exposure.level.label,
        "exceedsAppetite": exposure.exceeds_appetite,
        "inherentScore": round(exposure.inherent_score, 4),
        "inherentLevel": exposure.inherent_level.label,
    }


# -- concentration risk (A.10) ----------------------------------------------------------------

SHARED_KINDS = ("Model", "Dataset", "Supplier", "InfrastructureService")


def concentration(record: Record, model: RiskModel, kinds: Iterable[str] = SHARED_KINDS, limit: int = 20) -> list[dict]:
    """Shared models, datasets, suppliers and infrastructure ranked by the high-risk AI systems
    that depend on them (directly or not), then by all dependent systems. A system is high-risk
    when, before controls, it carries an own or inherited risk at or above the risk appetite.

    Reach is computed once for all assets with bitsets over the condensation of the graph
    (cycles collapse into one node), so the cost is linear in the graph's size.
    """
    deps = model.deps
    systems = sorted(a for a in deps.graph if deps.kinds.get(a) == "AISystem")
    bit = {s: 1 << i for i, s in enumerate(systems)}
    high = 0
    for system in systems:
        exposure = model.exposures.get(system)
        if exposure is not None and exposure.high_risk:
            high |= bit[system]
    reach = _reach_bitsets(deps.graph, bit)
    wanted = set(kinds)
    ranked = []
    for asset in deps.graph:
        if deps.kinds.get(asset) not in wanted:
            continue
        reached = reach[asset] & ~bit.get(asset, 0)
        ranked.append((-(reached & high).bit_count(), -reached.bit_count(), asset, reached))
    ranked.sort()
    report = []
    for negative_high, negative_all, asset, reached in ranked[:limit]:
        report.append(
            {
                "iri": asset,
                "label": record.label(asset),
                "kind": deps.kinds[asset],
                "dependentSystems": -negative_all,
                "highRiskSystems": -negative_high,
                "directDependents": deps.graph.out_degree(asset),
                "highRiskSystemList": [s for s in systems if reached & high & bit[s]][:25],
            }
        )
    return report


def _reach_bitsets(graph: nx.DiGraph, bit: dict[str, int]) -> dict[str, int]:
    """For every node, the set (as a bitset) of AI systems reachable from it, itself included.

    Dependents first, in reverse topological order; when there are cycles, over the
    condensation, whose members share one reach (nx.condensation is slow, so only then).
    """
    if nx.is_directed_acyclic_graph(graph):
        reach: dict[str, int] = {}
        for node in reversed(list(nx.topological_sort(graph))):
            value = bit.get(node, 0)
            for child in graph.succ[node]:
                value |= reach[child]
            reach[node] = value
        return reach
    condensed = nx.condensation(graph)
    of_component: dict[int, int] = {}
    for component in reversed(list(nx.topological_sort(condensed))):
        value = 0
        for node in condensed.nodes[component]["members"]:
            value |= bit.get(node, 0)
        for child in condensed.succ[component]:
            value |= of_component[child]
        of_component[component] = value
    return {node: of_component[component] for node, component in condensed.graph["mapping"].items()}


# -- text rendering (CLI) ---------------------------------------------------------------------

SECTIONS = (
    ("risksToReassess", "Risks to re-assess (6.1.2, 8.2)"),
    ("assessmentsToRedo", "Assessments to redo (6.1.4, 8.4, A.5)"),
    ("controlsToRetest", "Controls to re-test (6.1.3, 8.3)"),
    ("staleEvidence", "Evidence that becomes stale (7.5)"),
    ("stakeholdersToInform", "Stakeholders and owners to inform (A.8)"),
    ("soaRowsTouched", "Statement of Applicability rows touched (6.1.3 d)"),
)


def render_text(answer: dict) -> str:
    """A plain-text impact report for terminals and change tickets."""
    node, change = answer["node"], answer["change"]
    lines = [f"Impact of {change['kind']} on {node['label']} <{node['iri']}> ({node['kind']})", ""]
    lines.append(f"Affected assets: {len(answer['affected'])} ({answer['summary']['affectedSystems']} AI systems)")
    for item in answer["affected"]:
        hops = " ".join(f"<-{via}-" for via in item["via"])
        extra = f"  [{item['disruption']}]" if "disruption" in item else ""
        lines.append(f"  {item['distance']}  {item['label']} ({item['kind']})  {hops}{extra}")
    for members in answer["cycles"]:
        lines.append(f"  cycle: {' -> '.join(f'<{m}>' for m in members)}")
    for key, title in SECTIONS:
        lines += ["", f"{title}: {len(answer[key])}"]
        for item in answer[key]:
            lines.append(f"  - {item['label']} <{item['iri']}>: {'; '.join(item['reasons'])}")
    lines += ["", "Exposure before -> after"]
    for row in answer["risk"]["assets"]:
        before = _level_text(row["before"])
        after = _level_text(row["after"]) if "after" in row else "?"
        lines.append(f"  {row['label']}: {before} -> {after}")
    if note := answer["risk"].get("afterNote"):
        lines.append(f"  (after: {note})")
    for risk in answer["risk"]["risksChanged"]:
        lines.append(f"  risk {risk['label']}: residual {risk['before']['residualLevel']} -> {risk['after']['residualLevel']}")
    return "\n".join(lines) + "\n"


def _level_text(exposure: dict | None) -> str:
    if exposure is None:
        return "none"
    return f"{exposure['residualLevel']} ({exposure['residualScore']:.2f})"


def render_concentration_text(ranking: list[dict]) -> str:
    lines = [f"{'high-risk':>9} {'systems':>7}  asset"]
    for row in ranking:
        lines.append(f"{row['highRiskSystems']:>9} {row['dependentSystems']:>7}  {row['label']} ({row['kind']}) <{row['iri']}>")
    return "\n".join(lines) + "\n"
