"""What the web pages and the auditor report show, assembled from the record: counts, readiness
per clause, the riskiest systems and the top risks, stale evidence, the heat map, one system's
picture, and findings filtered by clause, severity and system.

Read-only and free of HTML: the web blueprint and the auditor report render what this module
returns. Scores and paths come from the risk model (:mod:`aimsgraph.risk.analysis`), completeness
from the stored validation findings, which are computed once if nobody has validated yet.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import networkx as nx

from aimsgraph import clock
from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, DCT, SKOS_NOTATION, Graphs
from aimsgraph.records import queries
from aimsgraph.reporting import frameworks, reports
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.risk.propagation import InheritedRisk, Path
from aimsgraph.risk.scoring import Level, Risk
from aimsgraph.semantics import validation
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, local_name, term_text

#: Shapes whose findings are about out-of-date evidence: expired (the evidence is the value,
#: the control the focus) and older than a reported change of the data it covers (the focus).
EXPIRED_EVIDENCE_SHAPE, STALE_EVIDENCE_SHAPE = validation.SUMMARISED_SHAPES
#: Kinds of asset in the order pages list them.
ASSET_KINDS = ("AISystem", "Model", "Dataset", "InfrastructureService", "Supplier")
KIND_LABELS = {
    "AISystem": "AI system",
    "Model": "Model",
    "Dataset": "Dataset",
    "InfrastructureService": "Infrastructure",
    "Supplier": "Supplier",
}

#: Rows a long list shows at a time.
PAGE_SIZE = 100
#: Rows of a list within a page (an asset's dependents and inherited risks) shown before "and N more".
LIST_LIMIT = 100
#: Items of stale evidence the dashboard lists before "and N more".
STALE_SHOWN = 20

_validating = threading.Lock()
log = logging.getLogger(__name__)


def findings_index(store: GraphStore, as_of: date | None = None, wait: bool = True) -> validation.FindingsIndex:
    """The findings as of ``as_of`` (default today), indexed. Today's are the stored ones: the
    first call on a store that was never validated, or whose findings were computed for another
    day, validates it in full and stores them (the refresher keeps them current after writes).
    Another date's are computed and not stored.

    Pages pass ``wait=False``: on a new day they show the stored findings of the day before,
    with their date, while today's are computed in the background (minutes at 10,000 systems);
    only a store never validated makes them wait."""
    today = clock.today()
    if as_of is not None and as_of != today:
        return validation.FindingsIndex(None, as_of, validation.validate_store(store, as_of))
    index = validation.findings_index(store)
    if index.as_of != today:
        if not wait and index.as_of is not None:
            _validate_in_background(store, today)
            return index
        with _validating:
            index = validation.findings_index(store)
            if index.as_of != today:
                validation.validate_full(store, today)
                index = validation.findings_index(store)
    return index


def _validate_in_background(store: GraphStore, today: date) -> None:
    """Validate and store today's findings in a thread, unless a validation is running."""
    if not _validating.acquire(blocking=False):
        return

    def validate() -> None:
        try:
            for _ in range(3):  # stored only if no write came in meanwhile: the refresher's are newer
                generation = store.generation
                if validation.findings_index(store).as_of == today:
                    return
                plan = validation.Revalidation(None, validation.validate_store(store, today), today)
                with store.write_lock():
                    if store.generation == generation:
                        validation.store_revalidation(store, plan)
                        return
        except Exception:  # the next page view tries again; the stored findings serve meanwhile
            log.exception("validating today's findings in the background failed")
        finally:
            _validating.release()

    threading.Thread(target=validate, name="aimsgraph-validate-today", daemon=True).start()


def findings(store: GraphStore, as_of: date | None = None) -> list[Finding]:
    """The findings as of ``as_of`` (see :func:`findings_index`), sorted."""
    return findings_index(store, as_of).findings


@dataclass(frozen=True)
class Page:
    """One page of a long list: its items, the size of the whole (filtered) list, the position
    of the first item, and the key of the last item to ask for the next page with (keyset
    pagination: a page starts after a named item, so pages stay put as the list grows)."""

    items: list
    total: int
    start: int
    next_after: str | None


def page_of(items: list, after: str | None, key, size: int = PAGE_SIZE, positions: dict | None = None) -> Page:
    """The page of ``items`` that starts after the item whose ``key`` is ``after`` (the first
    page without it). ``positions`` (key -> index), when kept with a long list, spares a scan."""
    position = 0
    if after:
        positions = positions if positions is not None else {key(item): i for i, item in enumerate(items)}
        if after not in positions:
            raise InvalidInput("after must name an item of this list (it may have changed: start from the first page)")
        position = positions[after] + 1
    shown = items[position : position + size]
    more = position + size < len(items)
    return Page(shown, len(items), position, key(shown[-1]) if more and shown else None)


# -- figures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskRow:
    """One own risk as the pages list it."""

    iri: str
    label: str
    identifier: str | None
    asset: str
    asset_label: str
    likelihood: int | None
    severity: int | None
    inherent: Level | None
    residual: Level | None
    inherent_score: float
    residual_score: float
    exceeds_appetite: bool
    problem: str | None  # why it could not be scored


@dataclass(frozen=True)
class SystemRow:
    iri: str
    label: str
    exposure: float  # highest residual score, own or inherited
    level: Level | None
    inherent_level: Level | None
    exceeds_appetite: bool
    own_risks: int
    inherited_risks: int


def risk_rows(record: Record, model: RiskModel, risks: list[Risk] | None = None) -> list[RiskRow]:
    """Own risks, riskiest first (residual score, then inherent score, then label)."""
    rows = []
    for risk in model.risks.values() if risks is None else risks:
        for asset in risk.assets or ("",):
            rows.append(
                RiskRow(
                    iri=risk.iri,
                    label=record.label(risk.iri),
                    identifier=_first(record, risk.iri, DCT + "identifier"),
                    asset=asset,
                    asset_label=record.label(asset) if asset else "",
                    likelihood=risk.likelihood,
                    severity=risk.severity,
                    inherent=risk.inherent,
                    residual=risk.residual,
                    inherent_score=risk.inherent_score,
                    residual_score=risk.residual_score,
                    exceeds_appetite=bool(risk.residual and model.criteria.exceeds(risk.residual)),
                    problem=risk.problem,
                )
            )
    return sorted(rows, key=lambda r: (-r.residual_score, -r.inherent_score, r.label, r.asset))


def system_rows(record: Record, model: RiskModel) -> list[SystemRow]:
    """AI systems, riskiest first: by highest residual risk (own or inherited), then inherent."""
    rows = [system_row(record, model, iri) for iri, kind in model.deps.kinds.items() if kind == "AISystem"]
    return sorted(rows, key=lambda r: (-r.exposure, -(r.inherent_level.rank if r.inherent_level else 0), r.label))


def top_systems(record: Record, model: RiskModel, n: int) -> list[SystemRow]:
    """The first ``n`` of :func:`system_rows`, labelling only the systems that can be among them."""

    def rank(iri: str) -> tuple:
        exposure = model.exposures.get(iri)
        inherent = exposure.inherent_level if exposure else None
        return (-(exposure.score if exposure else 0.0), -(inherent.rank if inherent else 0))

    systems = [iri for iri, kind in model.deps.kinds.items() if kind == "AISystem"]
    chosen = _first_ranked(systems, n, rank, record.label)
    return [system_row(record, model, iri) for iri in chosen]


def top_risks(record: Record, model: RiskModel, n: int) -> list[RiskRow]:
    """The first ``n`` of :func:`risk_rows`, building rows only for the risks that can be among them."""
    pairs = [(risk, asset) for risk in model.risks.values() for asset in risk.assets or ("",)]
    chosen = _first_ranked(
        pairs, n, lambda p: (-p[0].residual_score, -p[0].inherent_score), lambda p: (record.label(p[0].iri), p[1])
    )
    risks = list(dict.fromkeys(risk for risk, _ in chosen))
    wanted = set(chosen)
    return [row for row in risk_rows(record, model, risks) if (model.risks[row.iri], row.asset) in wanted][:n]


def _first_ranked(items: list, n: int, rank, tie_break) -> list:
    """The first ``n`` of ``items`` ordered by (rank, tie_break), calling ``tie_break`` (a label
    lookup, costly at 10,000 systems) only for items that rank as high as the n-th."""
    ranked = sorted(items, key=rank)
    if len(ranked) > n:
        cut = rank(ranked[n - 1])
        ranked = [item for item in ranked if rank(item) <= cut]
    return sorted(ranked, key=lambda item: (rank(item), tie_break(item)))[:n]


def system_row(record: Record, model: RiskModel, iri: str) -> SystemRow:
    """One asset's highest risks and risk counts."""
    exposure = model.exposures.get(iri)
    return SystemRow(
        iri=iri,
        label=record.label(iri),
        exposure=exposure.score if exposure else 0.0,
        level=exposure.level if exposure else None,
        inherent_level=exposure.inherent_level if exposure else None,
        exceeds_appetite=bool(exposure and exposure.exceeds_appetite),
        own_risks=len(model.by_asset.get(iri, ())),
        inherited_risks=len(model.propagation.inherited.get(iri, ())),
    )


def counts(store: GraphStore) -> list[tuple[str, int]]:
    """(label, number) per kind of record, from ``queries/record-counts.rq``; counted once per
    store generation (0.4 s at 10,000 systems)."""
    return store.per_generation(
        "record-counts", lambda: [(row["label"].value, int(row["count"].value)) for row in store.query(_query("record-counts"))]
    )


def findings_summary(store: GraphStore, as_of: date | None = None, wait: bool = True) -> validation.FindingsSummary:
    """What the dashboard shows of the findings as of ``as_of`` (see :func:`findings_index`,
    also for ``wait``): today's from the summary saved with them when the index is not in
    memory yet."""
    today = clock.today()
    if as_of is None or as_of == today:
        summary = validation.findings_summary(store)
        if summary.as_of == today:
            return summary
        if not wait and summary.as_of is not None:
            _validate_in_background(store, today)
            return summary
    return findings_index(store, as_of).summary(store)


def readiness(store: GraphStore, summary: validation.FindingsSummary) -> list[reports.Readiness]:
    """Readiness per ISO clause and Annex A control as of the findings' date, in clause order."""
    return reports.clause_readiness(store, summary.checks)


def framework_readiness(store: GraphStore, as_of: date | None = None, wait: bool = True) -> list[frameworks.Framework]:
    """ISO/IEC 42001, the NIST AI RMF and the EU AI Act side by side, from the findings as of
    ``as_of`` (today by default)."""
    summary = findings_summary(store, as_of, wait)
    key = ("frameworks", summary.version, summary.as_of)
    kept = store.memo.get("frameworks")
    if isinstance(kept, tuple) and kept[0] == (key, store.generation):
        return kept[1]
    found = frameworks_of(store, summary)
    store.memo["frameworks"] = ((key, store.generation), found)
    return found


def frameworks_of(store: GraphStore, summary: validation.FindingsSummary) -> list[frameworks.Framework]:
    """The three frameworks' readiness from one validation's summary."""
    return frameworks.readiness(store, readiness(store, summary), summary.checks)


@dataclass(frozen=True)
class StaleEvidence:
    evidence: str
    evidence_label: str
    concerns: str  # the control (expired) or the changed dataset (stale)
    concerns_label: str
    reason: str


def stale_evidence(record: Record, summary: validation.FindingsSummary) -> list[StaleEvidence]:
    """Evidence that no longer supports its control: expired, or older than a data change."""
    items = []
    for f in [*summary.listed.get(EXPIRED_EVIDENCE_SHAPE, ()), *summary.listed.get(STALE_EVIDENCE_SHAPE, ())]:
        if f.shape == EXPIRED_EVIDENCE_SHAPE and f.value:
            items.append(StaleEvidence(f.value, record.label(f.value), f.focus, record.label(f.focus), "expired"))
        elif f.shape == STALE_EVIDENCE_SHAPE and f.value:
            items.append(
                StaleEvidence(f.focus, record.label(f.focus), f.value, record.label(f.value), "predates a change of the data")
            )
    return sorted(set(items), key=lambda i: (i.evidence_label, i.concerns_label))


# -- the dashboard -----------------------------------------------------------------------------

#: What the dashboard lists of the riskiest systems and the highest risks.
RISKIEST_SYSTEMS = 5
TOP_RISKS = 10
DASHBOARD_FILE = "dashboard.pickle"


@dataclass(frozen=True)
class Dashboard:
    as_of: date  # of the findings: the day before's while today's are being computed
    counts: list[tuple[str, int]]
    severities: dict[str, int]
    readiness: list[reports.Readiness]
    systems: list[SystemRow]
    top_risks: list[RiskRow]
    stale: list[StaleEvidence]  # the first STALE_SHOWN
    stale_total: int
    appetite: Level | None
    frameworks: list[tuple[str, str, dict[str, int]]]  # (key, title, requirements per status)


def dashboard(store: GraphStore, models, as_of: date) -> Dashboard:
    """The dashboard's figures as of ``as_of``. While the analysis graph is current they are
    kept, and saved beside the store, under its stamp and the findings' version: a restart
    shows them without loading the risk model (5 s at 10,000 systems) or the findings."""
    summary = findings_summary(store, as_of, wait=False)
    stamp = store.stamp(Graphs.ANALYSIS)
    key = (stamp, summary.version, as_of) if stamp and summary.version else None
    if key is not None:
        kept = store.memo.get("dashboard")
        assert kept is None or isinstance(kept, tuple)  # (key, board, generation), as kept below
        if (kept is None or kept[0] != key) and store.unchanged_since_start():
            path = store.cache_file(DASHBOARD_FILE)
            saved = store.load_cache(path) if path is not None else None
            assert saved is None or isinstance(saved, tuple)  # (key, board), as saved below
            kept = store.memo["dashboard"] = (saved[0], saved[1], store.generation) if saved else None
        if kept is not None and kept[0] == key and kept[2] == store.generation:
            return kept[1]
    snapshot = models.get()
    stale = stale_evidence(snapshot.record, summary)
    clauses = readiness(store, summary)
    board = Dashboard(
        summary.as_of or as_of,
        counts(store),
        summary.severities,
        clauses,
        snapshot.kept("top systems", lambda: top_systems(snapshot.record, snapshot.model, RISKIEST_SYSTEMS)),
        snapshot.kept("top risks", lambda: top_risks(snapshot.record, snapshot.model, TOP_RISKS)),
        stale[:STALE_SHOWN],
        len(stale),
        snapshot.model.criteria.appetite,
        [(f.key, f.title, f.counts) for f in frameworks.readiness(store, clauses, summary.checks)],
    )
    if key is not None and store.stamp(Graphs.ANALYSIS) == stamp:  # no write meanwhile
        store.memo["dashboard"] = (key, board, store.generation)
        if (path := store.cache_file(DASHBOARD_FILE)) is not None:
            store.save_cache(path, (key, board))
    return board


# -- heat map --------------------------------------------------------------------------------


@dataclass
class HeatCell:
    likelihood: int
    severity: int
    level: Level
    count: int = 0
    risks: list[RiskRow] = field(default_factory=list)  # when listed: every risk, or the selected cell's


@dataclass
class HeatMap:
    """The configured matrix: rows are likelihood ranks (highest first), columns severity ranks."""

    view: str  # "inherent" or "residual"
    likelihoods: list[tuple[int, str]]  # (rank, label), highest first
    severities: list[tuple[int, str]]  # (rank, label), lowest first
    cells: dict[tuple[int, int], HeatCell]
    appetite: Level | None
    unscored: list[RiskRow]
    unscored_total: int = 0

    def cell(self, likelihood: int, severity: int) -> HeatCell:
        return self.cells[(likelihood, severity)]


VIEWS = ("inherent", "residual")


def heat_map(
    record: Record, model: RiskModel, view: str = "inherent", listed: object = "all", unscored_shown: int | None = None
) -> HeatMap:
    """Risks per cell of the matrix, by inherent (recorded) or residual (after controls) ranks.
    Every cell is counted; risk rows are made for every cell (``listed="all"``, the auditor
    report), for one cell (a ``(likelihood, severity)`` key, the page) or none, and for the
    first ``unscored_shown`` risks that are off the map (all by default): at 10,000 systems
    a row for each of 55,000 risks costs seconds of label lookups."""
    matrix = model.criteria.matrix
    cells = {key: HeatCell(*key, matrix.levels[level]) for key, level in matrix.cells.items()}
    placed: dict[tuple[int, int], list[Risk]] = defaultdict(list)
    unscored: list[Risk] = []
    for risk in model.risks.values():
        ranks = (risk.likelihood, risk.severity) if view == "inherent" else (risk.residual_likelihood, risk.residual_severity)
        if risk.scored and ranks in cells:
            cells[ranks].count += len(risk.assets) or 1
            placed[ranks].append(risk)
        else:
            unscored.append(risk)
    for key, cell in cells.items():
        if listed == "all" or listed == key:
            cell.risks = sorted(risk_rows(record, model, placed[key]), key=lambda r: (r.label, r.asset))
    unscored_total = len(unscored)
    if unscored_shown is not None:
        unscored = _first_ranked(
            unscored, unscored_shown, lambda r: (-r.residual_score, -r.inherent_score), lambda r: record.label(r.iri)
        )
    off_map = risk_rows(record, model, unscored)
    likelihoods = sorted(((rank, record.label(iri)) for iri, rank in matrix.likelihoods.items()), reverse=True)
    severities = sorted((rank, record.label(iri)) for iri, rank in matrix.severities.items())
    return HeatMap(view, likelihoods, severities, cells, model.criteria.appetite, off_map, unscored_total)


# -- one system ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    dependency: str
    dependent: str
    types: tuple[str, ...]  # local names: usesModel, trainedOn, ...


@dataclass
class Picture:
    """Nodes (IRI -> (label, kind)) and edges of a part of the dependency graph, with the
    nodes to highlight and a column per node (upstream negative, the focus 0, dependents
    positive) for a left-to-right drawing."""

    nodes: dict[str, tuple[str, str]]
    edges: list[Edge]
    columns: dict[str, int]
    focus: str
    highlighted: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class InheritedRow:
    iri: str
    source_risk: str
    source_label: str
    source_asset: str
    source_asset_label: str
    distance: int
    inherent_score: float
    residual_score: float
    inherent: Level
    residual: Level
    paths: tuple[
        tuple[tuple[str, str], ...], ...
    ]  # per path, (asset label, edge types into the next) from this system back to the source


@dataclass
class SystemView:
    iri: str
    label: str
    kind: str
    facts: list[tuple[str, str]]  # (field, value) for the header
    exposure: SystemRow | None
    picture: Picture
    components: list[tuple[str, str, str, str]]  # (iri, label, kind, via edge types)
    dependents: list[tuple[str, str, str, int]]  # (iri, label, kind, distance): the nearest LIST_LIMIT
    dependents_total: int
    own_risks: list[RiskRow]
    inherited: list[InheritedRow]  # the riskiest LIST_LIMIT
    inherited_total: int
    controls: list[dict[str, str]]
    assessments: list[dict[str, str]]
    findings: list[Finding]
    models: list[tuple[str, str]]  # models it uses, for "what would retiring this touch?"


SYSTEM_FACTS = (
    ("Identifier", DCT + "identifier"),
    ("Owner", AIMS + "hasOwner"),
    ("Lifecycle stage", AIMS + "lifecycleStage"),
    ("Domain", AIMS + "applicationDomain"),
    ("Intended purpose", AIMS + "intendedPurpose"),
)


def asset_view(
    store: GraphStore, record: Record, model: RiskModel, findings: validation.FindingsIndex, iri: str, expand: bool = False
) -> SystemView | None:
    """Everything the system page shows about one asset, with or without edges; None if the
    record has no such asset. Dependents and inherited risks are listed nearest and riskiest
    first, LIST_LIMIT of each (a shared dataset can have thousands), with their totals."""
    kind = model.asset_kind(iri)
    if kind is None:
        return None
    graph = _graph_of(model, iri)
    upstream = nx.ancestors(graph, iri)
    downstream = _distances(graph, iri)
    row = system_row(record, model, iri) if kind == "AISystem" else None
    own = [r for r in model.risks.values() if iri in r.assets]
    record_nodes = system_record(store, iri) | {r.iri for r in own} | {iri}
    nearest = _first_ranked(list(downstream), LIST_LIMIT, lambda a: downstream[a], record.label)
    inherited = model.propagation.inherited.get(iri, [])
    return SystemView(
        iri=iri,
        label=record.label(iri),
        kind=kind,
        facts=[
            (name, ", ".join(record.label(v) if v.startswith("http") else v for v in record.objects(iri, p)))
            for name, p in SYSTEM_FACTS
            if record.objects(iri, p)
        ],
        exposure=row,
        picture=picture(record, model, iri, upstream | set(downstream), set(downstream), expand),
        components=sorted(
            ((a, record.label(a), model.deps.kinds.get(a, ""), _edge_text(graph, a, iri)) for a in graph.pred[iri]),
            key=lambda c: (ASSET_KINDS.index(c[2]) if c[2] in ASSET_KINDS else 9, c[1]),
        ),
        dependents=[(a, record.label(a), model.deps.kinds.get(a, ""), downstream[a]) for a in nearest],
        dependents_total=len(downstream),
        own_risks=risk_rows(record, model, own),
        inherited=inherited_rows(
            record,
            model,
            _first_ranked(
                inherited,
                LIST_LIMIT,
                lambda i: (-i.residual_score, -i.inherent_score, i.distance),
                lambda i: record.label(i.source_risk),
            ),
        ),
        inherited_total=len(inherited),
        controls=_controls(record, own),
        assessments=_assessments(record, iri),
        findings=sorted(f for node in record_nodes for f in findings.by_focus.get(node, ())),
        models=[(m, record.label(m)) for m in graph.pred[iri] if model.deps.kinds.get(m) == "Model"],
    )


def inherited_rows(record: Record, model: RiskModel, items: list[InheritedRisk]) -> list[InheritedRow]:
    matrix = model.criteria.matrix
    rows = [
        InheritedRow(
            iri=i.iri,
            source_risk=i.source_risk,
            source_label=record.label(i.source_risk),
            source_asset=i.source_asset,
            source_asset_label=record.label(i.source_asset),
            distance=i.distance,
            inherent_score=i.inherent_score,
            residual_score=i.residual_score,
            inherent=matrix.level_for_score(i.inherent_score),
            residual=matrix.level_for_score(i.residual_score),
            paths=tuple(_path_steps(record, p) for p in i.paths),
        )
        for i in items
    ]
    return sorted(rows, key=lambda r: (-r.residual_score, -r.inherent_score, r.distance, r.source_label))


def _path_steps(record: Record, path: Path) -> tuple[tuple[str, str], ...]:
    """From the dependent back to the source: (label, edge types to the next asset)."""
    steps = []
    for step in reversed(path.steps):
        steps.append((record.label(step.dependent), ", ".join(local_name(t) for t in step.types)))
    if path.steps:
        steps.append((record.label(path.steps[0].dependency), ""))
    return tuple(steps)


#: A picture draws every node up to this many; beyond it, a column's nodes of one kind past the
#: first PICTURE_PER_GROUP become one node that counts them (a hub's 675 dependents are a wall).
PICTURE_MAX_NODES = 40
PICTURE_PER_GROUP = 4
GROUP_PREFIX = "group:"


def picture(
    record: Record, model: RiskModel, focus: str, nodes: set[str], highlighted: set[str], expand: bool = False
) -> Picture:
    """The focus, the given nodes and the edges among them, laid out in columns by distance;
    grouped by column and kind when there are many, unless ``expand``."""
    graph = _graph_of(model, focus)
    members = (nodes | {focus}) & set(graph)
    sub = graph.subgraph(members)
    columns = {focus: 0}
    for node, distance in _distances(sub, focus).items():
        columns[node] = distance
    for node, distance in _distances(sub.reverse(copy=False), focus).items():
        columns.setdefault(node, -distance)
    for node in members - set(columns):  # reachable neither way from the focus: put beside it
        columns[node] = 0
    kinds = {n: model.deps.kinds.get(n, "") for n in members}
    shown = (
        _grouped(columns, kinds, focus, set(graph.pred[focus]) | set(graph.succ[focus]))
        if not expand and len(members) > PICTURE_MAX_NODES
        else {n: n for n in members}
    )
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a, b, data in sub.edges(data=True):
        if shown[a] != shown[b]:
            edges[(shown[a], shown[b])].update(local_name(t) for t in data.get("types", ()))
    labels, counts = {}, Counter(shown.values())
    for node, drawn in shown.items():
        if drawn == node:
            labels[node] = (record.label(node), kinds[node])
        elif drawn not in labels:
            kind = kinds[node]
            labels[drawn] = (f"{counts[drawn]} more {KIND_LABELS.get(kind, kind or 'asset').lower()}s", kind)
    drawn_columns = {shown[n]: c for n, c in columns.items()}
    grouped_highlight = {shown[n] for n in highlighted & members}
    return Picture(
        labels,
        sorted((Edge(a, b, tuple(sorted(t))) for (a, b), t in edges.items()), key=lambda e: (e.dependency, e.dependent)),
        drawn_columns,
        focus,
        grouped_highlight,
    )


def _grouped(columns: dict[str, int], kinds: dict[str, str], focus: str, neighbours: set[str]) -> dict[str, str]:
    """Each node mapped to itself or to the group node of its column and kind: the focus and its
    direct neighbours are always drawn, then the first PICTURE_PER_GROUP of each group by IRI."""
    by_group: dict[tuple[int, str], list[str]] = defaultdict(list)
    for node, column in columns.items():
        by_group[(column, kinds[node])].append(node)
    shown = {}
    for (column, kind), group in by_group.items():
        group.sort(key=lambda n: (n not in neighbours and n != focus, n))
        for index, node in enumerate(group):
            keep = node == focus or node in neighbours or index < PICTURE_PER_GROUP
            shown[node] = node if keep else f"{GROUP_PREFIX}{column}:{kind}"
    return shown


def _graph_of(model: RiskModel, asset: str) -> nx.DiGraph:
    """The dependency graph to walk from ``asset``: the model's, or, for an asset without edges
    (which the model's graph leaves out), a graph of that asset alone, so that it has an empty
    neighbourhood rather than none."""
    if asset in model.deps.graph:
        return model.deps.graph
    alone = nx.DiGraph()
    alone.add_node(asset)
    return alone


def system_record(store: GraphStore, system: str) -> set[str]:
    """The nodes of a system's record, as ``queries/system-record-nodes.rq`` defines it: itself,
    its risks, assessments of it, controls that apply to it or treat its risks, its documentation
    and event logging. Read with index lookups (a few per risk) rather than the query: a page
    needs one system's record in milliseconds, and lookups need no query planning."""
    record = Record(store)
    risks = record.objects(system, AIMS + "hasRisk")
    nodes = {system, *risks, *record.subjects(AIMS + "assesses", system), *record.subjects(AIMS + "appliesTo", system)}
    nodes.update(n for p in ("hasDocumentation", "hasEventLogging") for n in record.objects(system, AIMS + p))
    nodes.update(c for risk in risks for p in ("mitigates", "detects") for c in record.subjects(AIMS + p, risk))
    return nodes


def _distances(graph: nx.DiGraph, source: str) -> dict[str, int]:
    lengths = nx.single_source_shortest_path_length(graph, source)
    lengths.pop(source, None)
    return lengths


def _edge_text(graph: nx.DiGraph, dependency: str, dependent: str) -> str:
    return ", ".join(local_name(t) for t in graph.edges[dependency, dependent].get("types", ()))


def _controls(record: Record, risks: list[Risk]) -> list[dict[str, str]]:
    """The controls that mitigate or detect any of ``risks``, with the risks each treats."""
    treats: dict[str, set[str]] = defaultdict(set)
    for risk in risks:
        for predicate in ("mitigates", "detects"):
            for control in record.subjects(AIMS + predicate, risk.iri):
                treats[control].add(record.label(risk.iri))
    rows = [
        {
            "iri": control,
            "label": record.label(control),
            "status": ", ".join(local_name(s) for s in record.objects(control, AIMS + "controlStatus")),
            "annexA": ", ".join(_notation(record, c) for c in record.objects(control, AIMS + "implements")),
            "evidence": str(len(record.objects(control, AIMS + "hasEvidence"))),
            "risks": ", ".join(sorted(labels)),
        }
        for control, labels in treats.items()
    ]
    return sorted(rows, key=lambda c: c["label"])


def _notation(record: Record, concept: str) -> str:
    return _first(record, concept, SKOS_NOTATION) or local_name(concept)


def _assessments(record: Record, asset: str) -> list[dict[str, str]]:
    rows = []
    for node in record.subjects(AIMS + "assesses", asset):
        kinds = sorted(t for t in record.types(node) if t.endswith("Assessment") or t.endswith("Verification"))
        rows.append(
            {
                "iri": node,
                "label": record.label(node),
                "kind": ", ".join(kinds) or "Assessment",
                "date": _first(record, node, AIMS + "assessmentDate") or "",
                "nextReview": _first(record, node, AIMS + "nextReviewDate") or "",
            }
        )
    return sorted(rows, key=lambda r: (r["date"], r["label"]), reverse=True)


# -- monitoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    """A measurement beyond its metric's threshold, and what was done about it."""

    measurement: str
    metric: str
    metric_label: str
    value: str
    threshold: str
    direction: str
    measured_at: str
    still_stands: bool  # the metric's latest measurement
    systems: list[tuple[str, str]]
    nonconformities: list[dict[str, object]]  # label, status, actions (label, state, due, taken)


def breaches(store: GraphStore, record: Record) -> list[Breach]:
    """Every threshold breach (``queries/metric-breaches.rq``), newest first, with the status of
    the nonconformity it raised and the corrective actions that address it."""
    found = []
    for row in store.query(_query("metric-breaches")):
        value = {
            name: term_text(row[name]) if row[name] is not None else ""
            for name in (
                "measurement",
                "metric",
                "metricLabel",
                "value",
                "threshold",
                "direction",
                "measuredAt",
                "latest",
                "systems",
                "nonconformities",
            )
        }
        found.append(
            Breach(
                measurement=value["measurement"],
                metric=value["metric"],
                metric_label=value["metricLabel"] or record.label(value["metric"]),
                value=value["value"],
                threshold=value["threshold"],
                direction=value["direction"],
                measured_at=value["measuredAt"][:10],
                still_stands=value["latest"] == "true",
                systems=[(s, record.label(s)) for s in value["systems"].split()],
                nonconformities=[_nonconformity(record, nc) for nc in value["nonconformities"].split()],
            )
        )
    return found


def _nonconformity(record: Record, iri: str) -> dict[str, object]:
    actions = [
        {
            "label": record.label(action),
            "status": ", ".join(record.label(s) for s in record.objects(action, AIMS + "status")),
            "due": _first(record, action, AIMS + "dueDate") or "",
            "taken": _first(record, action, AIMS + "actionTaken") or _first(record, action, AIMS + "statusNote") or "",
        }
        for action in record.subjects(AIMS + "addresses", iri)
    ]
    return {
        "iri": iri,
        "label": record.label(iri),
        "status": ", ".join(record.label(s) for s in record.objects(iri, AIMS + "status")) or "no status",
        "actions": actions,
    }


# -- findings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingFilter:
    clause: str | None = None  # id (A.6.2.7, 4.3) or catalogue IRI
    severity: str | None = None
    system: str | None = None


def filter_findings(store: GraphStore, found: list[Finding], wanted: FindingFilter) -> list[Finding]:
    """The findings ``wanted`` selects, most severe first (then by clause, focus and message)."""
    return sorted(_selected(store, found, wanted), key=_finding_order)


def finding_page(
    store: GraphStore, index: validation.FindingsIndex, wanted: FindingFilter, after: str | None, size: int = PAGE_SIZE
) -> Page:
    """One page of :func:`filter_findings` over the indexed findings, starting after the finding
    whose IRI is ``after``. The filtered list is kept with the index, so the next page of
    360k findings is a lookup, not another pass."""
    key = (wanted, store.generation if wanted.system else None)
    selected = index.view(key, lambda: sorted(_selected(store, index.findings, wanted), key=_finding_order))
    positions = index.view(("positions", *key), lambda: {f.iri: i for i, f in enumerate(selected)}) if after else None
    return page_of(selected, after, lambda f: f.iri, size, positions)


def _selected(store: GraphStore, found: list[Finding], wanted: FindingFilter) -> list[Finding]:
    selected = found
    if wanted.clause:
        selected = [f for f in selected if any(c == wanted.clause or c.rsplit("/", 1)[-1] == wanted.clause for c in f.clauses)]
    if wanted.severity:
        selected = [f for f in selected if f.severity == wanted.severity]
    if wanted.system:
        nodes = system_record(store, wanted.system)
        selected = [f for f in selected if f.focus in nodes]
    return selected


_SEVERITY_ORDER = {s: i for i, s in enumerate(validation.SEVERITIES)}


def _finding_order(f: Finding) -> tuple:
    return (_SEVERITY_ORDER.get(f.severity, 9), f.clauses, f.focus, f.message)


def clause_ids(found: list[Finding]) -> list[str]:
    """The clause and control ids that findings cite, in clause order."""
    ids = {c.rsplit("/", 1)[-1] for clauses in {f.clauses for f in found} for c in clauses}
    return sorted(ids, key=reports._clause_order)


def severity_counts(found: list[Finding]) -> Counter:
    return Counter(f.severity for f in found)


def asset_counts(model: RiskModel) -> dict[str, int]:
    """How many assets of each kind the dependency graph holds, in page order."""
    found = Counter(model.deps.kinds.values())
    return {kind: found[kind] for kind in ASSET_KINDS if found[kind]}


def assets_of_kind(record: Record, model: RiskModel, kind: str) -> list[tuple[str, str]]:
    """(iri, label) of the assets of one kind, by label."""
    return sorted(((iri, record.label(iri)) for iri, k in model.deps.kinds.items() if k == kind), key=lambda a: (a[1], a[0]))


def assets_by_kind(record: Record, model: RiskModel) -> dict[str, list[tuple[str, str]]]:
    """(iri, label) of every asset in the dependency graph, per kind, for pickers."""
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for iri, kind in model.deps.kinds.items():
        grouped[kind].append((iri, record.label(iri)))
    return {kind: sorted(grouped[kind], key=lambda a: a[1]) for kind in ASSET_KINDS if kind in grouped}


def _first(record: Record, subject: str, predicate: str) -> str | None:
    values = record.objects(subject, predicate)
    return values[0] if values else None


def _query(name: str) -> str:
    return queries.load_all()[name].text
