"""What a change to a record kept as files does (``aimsgraph diff-record BASE HEAD``).

Two versions of the record, each opened as the service would open it (``records.files``: the
shipped ontology, catalogue and shapes, no demo, reasoned and validated), are compared:

- the triples of the data graph added and removed. Blank nodes are skolemised by content: a
  blank node is named by a digest of what it says (its predicates and objects, nested blank
  nodes by their own digests), so a ``[ ... ]`` written identically in both versions compares
  equal wherever it sits in the file and whatever label the parser gave it; a changed one
  shows as one removed and one added description. Two blank nodes that say exactly the same
  thing count once (as in a lean graph);
- the findings that appear and go away (a finding is the same when its severity, focus, shape,
  constraint, path and value are; blank nodes by their digest);
- readiness per clause (``reporting.reports``) before and after;
- risks whose level changes: own risks (inherent and residual level, ``risk.scoring``), risks
  propagated onto an asset (``risk.propagation``) and each asset's exposure;
- the impact analysis (``risk.impact``, change kind "modify") of every changed component: a
  subject whose triples changed that is an asset (system, model, dataset, infrastructure,
  supplier), or a qualified ``aims:Dependency``, which stands for its dependent. It is run on
  the head version (on the base one for a component the change removes) and says what depends
  on the component and what to re-assess before the change is merged.

The answer is a JSON object (:func:`compare`), rendered as Markdown for a pull-request comment
(:func:`render_markdown`, a summary line and collapsible sections) or as JSON. Versions are
paths or git revisions of a path (``REV:PATH``, read with ``git archive``/``git show`` into a
temporary directory: :func:`checkout`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import tarfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import AIMS, PREFIXES, Graphs
from aimsgraph.reporting import reports
from aimsgraph.risk import impact
from aimsgraph.risk.analysis import RiskModel
from aimsgraph.risk.impact import SECTIONS
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record

#: The first line of the Markdown comment, so that a workflow finds its earlier comment to update.
MARKER = "<!-- aimsgraph diff-record -->"
#: Rows a Markdown table shows before it says how many more the JSON output has (a pull-request
#: comment holds at most 65,536 characters).
MAX_ROWS = 100
SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}
_PREFIX_LINE = re.compile(r"^\s*(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.MULTILINE | re.IGNORECASE)


@dataclass
class Version:
    """One version of the record, opened: its store (the files in the data graph, the derived
    graphs refreshed) and its findings. ``where`` gives the file and line a focus node is first
    described at, when known."""

    name: str
    store: GraphStore
    findings: list[Finding]
    where: Callable[[str], str | None] = lambda focus: None
    prefixes: dict[str, str] = field(default_factory=dict)  # the files' own, for short names

    def model(self) -> RiskModel:
        return self.store.per_generation("diff-record risk model", lambda: RiskModel.build(self.store))


# -- comparing ---------------------------------------------------------------------------------


def compare(base: Version, head: Version, as_of: date) -> dict[str, Any]:
    """The answer (see the module doc) as a JSON object."""
    base_skolem, head_skolem = Skolemiser(base.store), Skolemiser(head.store)
    before, after = base_skolem.triples(), head_skolem.triples()
    added, removed = sorted(after - before), sorted(before - after)
    changed = _changed_components(base, head, added + removed)
    answer: dict[str, Any] = {
        "base": base.name,
        "head": head.name,
        "asOf": as_of.isoformat(),
        "triples": {"added": [list(t) for t in added], "removed": [list(t) for t in removed]},
        "findings": _findings(base, head, base_skolem, head_skolem),
        "readiness": _readiness(base, head, as_of),
        "risks": _risks(base, head),
        "impact": [_impact(base, head, node) for node in changed],
        "prefixes": {**base.prefixes, **head.prefixes},
    }
    answer["summary"] = _summary(answer, base.findings, head.findings)
    return answer


class Skolemiser:
    """The data graph of a store as N-Triples-like tuples, blank nodes named by content."""

    def __init__(self, store: GraphStore) -> None:
        self.quads = list(store.quads(None, None, None, ox.NamedNode(Graphs.DATA)))
        self.described: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for quad in self.quads:
            if isinstance(quad.subject, ox.BlankNode):
                self.described[quad.subject.value].append((str(quad.predicate), quad.object))
        self.names: dict[str, str] = {}

    def triples(self) -> set[tuple[str, str, str]]:
        return {(self.text(q.subject), str(q.predicate), self.text(q.object)) for q in self.quads}

    def text(self, term: Any) -> str:
        """A term in N-Triples, a blank node as ``_:b`` and the digest of its description."""
        return self.name(term.value) if isinstance(term, ox.BlankNode) else str(term)

    def focus(self, text: str) -> str:
        """A finding's focus or value (``_:id`` for a blank node) in the same naming."""
        return self.name(text[2:]) if text.startswith("_:") else text

    def name(self, label: str) -> str:
        """``_:b`` and a digest of the node's description, nested blank nodes by their names.
        Depth first without recursion (an RDF list is a chain of blank nodes as long as the
        list); a blank node met again on its own path (a cycle) stands as ``_:cycle``."""
        stack, on_path = [(label, False)], set()
        while stack:
            node, expanded = stack.pop()
            if node in self.names:
                continue
            if not expanded:
                on_path.add(node)
                stack.append((node, True))
                stack += [(o.value, False) for _, o in self.described.get(node, ()) if self._pending(o, on_path)]
                continue
            parts = sorted(f"{p} {self._named(o)}" for p, o in self.described.get(node, ()))
            self.names[node] = "_:b" + hashlib.sha1("\n".join(parts).encode()).hexdigest()[:12]
            on_path.discard(node)
        return self.names[label]

    def _pending(self, term: Any, on_path: set[str]) -> bool:
        return isinstance(term, ox.BlankNode) and term.value not in self.names and term.value not in on_path

    def _named(self, term: Any) -> str:
        return self.names.get(term.value, "_:cycle") if isinstance(term, ox.BlankNode) else str(term)


def _finding_key(finding: Finding, skolem: Skolemiser) -> tuple:
    value = skolem.focus(finding.value) if finding.value and finding.value_type == "bnode" else finding.value
    return (finding.severity, skolem.focus(finding.focus), finding.shape, finding.component, finding.path, value)


def _findings(base: Version, head: Version, base_skolem: Skolemiser, head_skolem: Skolemiser) -> dict[str, list[dict]]:
    before = {_finding_key(f, base_skolem): f for f in base.findings}
    after = {_finding_key(f, head_skolem): f for f in head.findings}

    def rows(found: dict[tuple, Finding], keys: Iterable[tuple], version: Version) -> list[dict]:
        chosen = sorted((found[k] for k in keys), key=lambda f: (SEVERITY_ORDER.get(f.severity, 9), f.focus, f.shape))
        return [{**reports.finding_dict(f), "where": version.where(f.focus)} for f in chosen]

    return {
        "appeared": rows(after, after.keys() - before.keys(), head),
        "resolved": rows(before, before.keys() - after.keys(), base),
    }


def _readiness(base: Version, head: Version, as_of: date) -> dict[str, list[dict]]:
    """Readiness per clause and per AI system in both versions: the rows whose checks or
    failures differ (a clause no check applies to in one version has readiness null there)."""
    sides = [reports.build(v.store, v.findings, as_of) for v in (base, head)]
    answer = {}
    for key in ("clauses", "systems"):
        before = {r.key: r for r in getattr(sides[0], key)}
        after = {r.key: r for r in getattr(sides[1], key)}
        order = [*after, *(k for k in before if k not in after)]
        answer[key] = [
            {
                "id": k,
                "label": (after.get(k) or before[k]).label,
                "before": _readiness_value(before.get(k)),
                "after": _readiness_value(after.get(k)),
            }
            for k in order
            if _counts(before.get(k)) != _counts(after.get(k))
        ]
    return answer


def _counts(readiness: reports.Readiness | None) -> tuple[int, int] | None:
    return None if readiness is None else (readiness.total, readiness.failed)


def _readiness_value(readiness: reports.Readiness | None) -> dict | None:
    if readiness is None:
        return None
    ratio = None if readiness.ratio is None else round(readiness.ratio, 4)
    return {"checks": readiness.total, "failed": readiness.failed, "readiness": ratio}


def _risks(base: Version, head: Version) -> dict[str, list[dict]]:
    models = (base.model(), head.model())
    labels = (Record(base.store).label, Record(head.store).label)
    kinds = {**models[0].deps.kinds, **models[1].deps.kinds}
    own = _level_changes([_own_levels(m) for m in models], labels, kinds)
    inherited = _level_changes([_inherited_levels(m) for m in models], labels, kinds)
    exposure = _level_changes([_exposure_levels(m) for m in models], labels, kinds)
    return {"own": own, "propagated": inherited, "exposure": exposure}


def _own_levels(model: RiskModel) -> dict[tuple[str, ...], dict]:
    return {
        (risk.iri,): {"inherent": risk.inherent.label, "residual": risk.residual.label if risk.residual else None}
        for risk in model.risks.values()
        if risk.inherent is not None
    }


def _inherited_levels(model: RiskModel) -> dict[tuple[str, ...], dict]:
    level_for = model.criteria.matrix.level_for_score
    return {
        (item.asset, item.source_risk): {
            "inherent": level_for(item.inherent_score).label,
            "residual": level_for(item.residual_score).label,
            "distance": item.distance,
        }
        for item in model.propagation.all()
    }


def _exposure_levels(model: RiskModel) -> dict[tuple[str, ...], dict]:
    return {
        (asset,): {"inherent": e.inherent_level.label, "residual": e.level.label, "exceedsAppetite": e.exceeds_appetite}
        for asset, e in model.exposures.items()
    }


def _level_changes(
    sides: list[dict[tuple[str, ...], dict]], labels: tuple[Callable[[str], str], ...], kinds: dict[str, str]
) -> list[dict]:
    """Rows whose levels differ between the versions (distance alone is no change of level);
    an asset's row (exposure, propagated risk) says the asset's kind."""
    before, after = sides
    rows = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if _levels(old) == _levels(new):
            continue
        label = labels[1] if new is not None else labels[0]
        row: dict[str, Any] = {"iri": key[0], "label": label(key[0])}
        if key[0] in kinds:
            row["kind"] = kinds[key[0]]
        if len(key) == 2:  # a propagated risk: the asset it reaches, the risk it comes from
            row = {"asset": key[0], "assetLabel": label(key[0]), "assetKind": kinds.get(key[0], "Asset")}
            row |= {"risk": key[1], "label": label(key[1])}
        rows.append({**row, "before": old, "after": new})
    return rows


def _levels(levels: dict | None) -> tuple | None:
    return None if levels is None else (levels["inherent"], levels["residual"])


def _changed_components(base: Version, head: Version, triples: list[tuple[str, str, str]]) -> list[tuple[str, Version]]:
    """The assets whose description changed, each with the version to analyse it in: head, or
    base for an asset the change removes. A qualified dependency counts as its dependent."""
    subjects = sorted({s[1:-1] for s, _, _ in triples if s.startswith("<")})
    models = {id(v): v.model() for v in (base, head)}
    found: dict[str, Version] = {}
    for subject in subjects:
        for node in _components_of(subject, base, head):
            for version in (head, base):
                if node not in found and models[id(version)].asset_kind(node) is not None:
                    found[node] = version
    return sorted(found.items())


def _components_of(subject: str, base: Version, head: Version) -> set[str]:
    nodes = {subject}
    for version in (base, head):
        record = Record(version.store)
        if "Dependency" in record.types(subject):
            nodes |= set(record.subjects(AIMS + "hasDependency", subject))
    return nodes


def _impact(base: Version, head: Version, item: tuple[str, Version]) -> dict[str, Any]:
    node, version = item
    answer = impact.analyse(Record(version.store), version.model(), node, "modify")
    answer["version"] = "head" if version is head else "base"
    return answer


def _summary(answer: dict[str, Any], base_findings: list[Finding], head_findings: list[Finding]) -> dict[str, Any]:
    appeared = answer["findings"]["appeared"]
    systems = {a["iri"] for i in answer["impact"] for a in i["affected"] if a["kind"] == "AISystem"}
    systems |= {i["node"]["iri"] for i in answer["impact"] if i["node"]["kind"] == "AISystem"}
    moved = answer["risks"]
    systems |= {r["asset"] for r in moved["propagated"] if r["assetKind"] == "AISystem"}
    systems |= {r["iri"] for r in moved["exposure"] if r.get("kind") == "AISystem"}
    risks = {r["iri"] for i in answer["impact"] for r in i["risksToReassess"]}
    # a risk that changes level, or now reaches (or no longer reaches) an asset, is re-assessed too
    risks |= {r["iri"] for r in moved["own"]} | {r["risk"] for r in moved["propagated"]}
    return {
        "findings": {"base": _severity_counts(base_findings), "head": _severity_counts(head_findings)},
        "triplesAdded": len(answer["triples"]["added"]),
        "triplesRemoved": len(answer["triples"]["removed"]),
        "findingsAppeared": _severity_counts(appeared),
        "findingsResolved": _severity_counts(answer["findings"]["resolved"]),
        "clausesChanged": len(answer["readiness"]["clauses"]),
        "riskLevelsChanged": len(answer["risks"]["own"]) + len(answer["risks"]["propagated"]),
        "changedComponents": len(answer["impact"]),
        "affectedSystems": sorted(systems),
        "risksToReassess": sorted(risks),
        "assessmentsToRedo": sorted({a["iri"] for i in answer["impact"] for a in i["assessmentsToRedo"]}),
    }


def _severity_counts(rows: Iterable[dict | Finding]) -> dict[str, int]:
    severities = [r["severity"] if isinstance(r, dict) else r.severity for r in rows]
    return {s: severities.count(s) for s in SEVERITY_ORDER}


def fails(answer: dict[str, Any], fail_on: str) -> bool:
    """True when findings at or above ``fail_on`` (violation, warning, info) appear; "none" never."""
    return fail_on != "none" and reports.severities_fail((f["severity"] for f in answer["findings"]["appeared"]), fail_on)


# -- opening the versions ----------------------------------------------------------------------


def open_version(spec: str, as_of: date, workdir: Path) -> Version:
    """A version named by a path (a file or a directory) or by ``REV:PATH`` (git's own syntax:
    PATH relative to the repository's top, ``REV:./PATH`` to the current directory), read into
    ``workdir``. An existing path wins over a revision of the same spelling."""
    from aimsgraph.records.files import open_files  # the loader parses, reasons and validates

    path = Path(spec)
    if path.exists():
        root, paths = Path.cwd(), [path]
    elif ":" in spec:
        root, paths = workdir, [checkout(spec, workdir)]
    else:
        raise InvalidInput(f"{spec}: no such file or directory (a git revision is written REV:PATH)")
    record = open_files(paths, as_of)

    def where(focus: str) -> str | None:
        found = record.position(focus)
        if found is None:
            return None
        file = Path(found.file)
        if file.is_absolute() and file.is_relative_to(root.resolve()):
            file = file.relative_to(root.resolve())
        return f"{file.as_posix()}:{found.line}"

    return Version(spec, record.store, record.findings, where, file_prefixes(record.files))


def checkout(spec: str, workdir: Path) -> Path:
    """The file or directory ``REV:PATH`` names, written under ``workdir`` at PATH (without
    git's ``./``), so that positions read as they would in the repository."""
    revision, _, inside = spec.partition(":")
    if not revision or revision.startswith("-"):  # git would read "-x" as an option
        raise InvalidInput(f"{spec}: no revision before the colon, or one starting with '-' (REV:PATH)")
    relative = os.path.normpath(inside.removeprefix("./").strip("/") or ".")  # REV: (the top folder) is the folder itself
    if relative == ".." or relative.startswith("../"):  # git takes ./../x from a subfolder; here it would leave workdir
        raise InvalidInput(f"{spec}: a PATH going up with '..' is refused; write it from the repository's top (REV:folder)")
    target = workdir / relative
    kind = _git("cat-file", "-t", spec, spec=spec).decode().strip()
    if kind == "tree":
        archive = _git("archive", "--format=tar", spec, spec=spec)
        target.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(target, filter="data")  # "data": no links out of the folder, no devices
        except tarfile.TarError as exc:
            raise InvalidInput(f"{spec}: cannot be read from git ({exc})") from None
    elif kind == "blob":
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git("cat-file", "blob", spec, spec=spec))
    else:
        raise InvalidInput(f"{spec}: names a git {kind}, not a file or a directory")
    return target


def _git(*args: str, spec: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], capture_output=True, check=False)
    except FileNotFoundError:
        raise InvalidInput(f"{spec}: reading a git revision needs git, which is not installed") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
        raise InvalidInput(f"{spec}: {reason[0].removeprefix('fatal: ')}")
    return done.stdout


def file_prefixes(files: Iterable[Path]) -> dict[str, str]:
    """The prefixes the Turtle and TriG files declare, for short names in the comment."""
    found: dict[str, str] = {}
    for path in files:
        if path.suffix in (".ttl", ".trig"):
            for name, iri in _PREFIX_LINE.findall(path.read_text(encoding="utf-8", errors="replace")):
                found.setdefault(name, iri)
    return found


# -- rendering ---------------------------------------------------------------------------------


def render(answer: dict[str, Any], fmt: str) -> str:
    return json.dumps(answer, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else render_markdown(answer)


def render_markdown(answer: dict[str, Any]) -> str:
    """A pull-request comment: the summary line, then one collapsible section per question."""
    names = Names(answer.get("prefixes", {}))
    lines = [MARKER, f"### aimsgraph diff-record: `{answer['base']}` → `{answer['head']}`", "", summary_line(answer), ""]
    counts = answer["summary"]["findings"]
    lines += [f"Findings in the record: {_counts_text(counts['base'])} before, {_counts_text(counts['head'])} after.", ""]
    violations = answer["summary"]["findingsAppeared"]["Violation"]
    if violations:
        lines += [f"> **This change adds {_count(violations, 'Violation')}.**", ""]
    lines += _impact_section(answer, names)
    lines += _findings_section(answer, names)
    lines += _risks_section(answer, names)
    lines += _readiness_section(answer)
    lines += _triples_section(answer, names)
    return "\n".join(lines).rstrip() + "\n"


def summary_line(answer: dict[str, Any]) -> str:
    s = answer["summary"]
    new = ", ".join(_count(n, k) for k, n in s["findingsAppeared"].items() if n) or "none"
    gone = ", ".join(_count(n, k) for k, n in s["findingsResolved"].items() if n) or "none"
    return (
        f"**+{s['triplesAdded']} −{s['triplesRemoved']} triples · new findings: {new} · resolved: {gone} · "
        f"{_count(s['riskLevelsChanged'], 'risk level')} changed · {_count(len(s['affectedSystems']), 'AI system')} "
        f"affected · {_count(len(s['risksToReassess']), 'risk')} to re-assess** (as of {answer['asOf']})"
    )


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(_count(n, severity) for severity, n in counts.items() if n) or "none"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class Names:
    """Short names for IRIs: the files' prefixes and aimsgraph's, the longest namespace first."""

    def __init__(self, prefixes: dict[str, str]) -> None:
        merged = {**PREFIXES, **prefixes}
        self.namespaces = sorted(((iri, name) for name, iri in merged.items() if iri), key=lambda p: -len(p[0]))

    def short(self, iri: str) -> str:
        for namespace, name in self.namespaces:
            local = iri[len(namespace) :]
            if iri.startswith(namespace) and re.fullmatch(r"[\w.-]*", local) and not local.endswith("."):
                return f"{name}:{local}"
        return f"<{iri}>"

    def term(self, text: str) -> str:
        """A term in N-Triples as a reader wants it: IRIs short, literals cut at 80 characters."""
        if text.startswith("<") and text.endswith(">"):
            return self.short(text[1:-1])
        literal = re.fullmatch(r'(".*")(?:\^\^<(.+)>)?(@[\w-]+)?', text, re.DOTALL)
        if literal is None:
            return text
        value, datatype, language = literal.groups()
        value = value if len(value) <= 80 else value[:78] + '…"'
        return value + (f"^^{self.short(datatype)}" if datatype else "") + (language or "")

    def node(self, iri: str, label: str) -> str:
        short = self.short(iri)
        return cell(short) if label in (short, iri, short.partition(":")[2]) else f"{_text(label)} ({cell(short)})"


def cell(text: str) -> str:
    """Text as code in a table cell: HTML-escaped, its pipes escaped too (GitHub ends a cell at
    an unescaped pipe, even inside a code span)."""
    return f"<code>{_text(text)}</code>"


def _text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;").replace("\n", " ")


def _details(title: str, body: list[str], opened: bool = False) -> list[str]:
    return [f"<details{' open' if opened else ''}><summary><b>{title}</b></summary>", "", *body, "", "</details>", ""]


def _capped(rows: list[str], total: int) -> list[str]:
    more = total - MAX_ROWS
    return rows[:MAX_ROWS] + ([f"\n… and {more} more (see `--format json`)"] if more > 0 else [])


def _impact_section(answer: dict[str, Any], names: Names) -> list[str]:
    found = answer["impact"]
    systems = answer["summary"]["affectedSystems"]
    title = f"Impact: {_count(len(found), 'changed component')}, {_count(len(systems), 'AI system')} affected"
    if not found:
        return _details(title, ["No system, model, dataset, infrastructure service or supplier changed."])
    body: list[str] = []
    seen: dict[str, set[str]] = defaultdict(set)  # what an earlier component listed already
    for item in found:
        node = item["node"]
        removed = " (removed by this change)" if item["version"] == "base" else ""
        body += [f"#### {names.node(node['iri'], node['label'])}, {node['kind']}{removed}", ""]
        if item["affected"]:
            body += ["| distance | depends on it | kind | via |", "|---:|---|---|---|"]
            rows = [
                f"| {a['distance']} | {names.node(a['iri'], a['label'])} | {a['kind']} | {' ← '.join(a['via'])} |"
                for a in item["affected"]
            ]
            body += [*_capped(rows, len(rows)), ""]
        else:
            body += ["Nothing depends on it.", ""]
        body += ["Re-assess before merging:", ""]
        body += [
            _impact_line(number, title_text, item[key], seen[key], names) for number, (key, title_text) in enumerate(SECTIONS)
        ]
        body.append("")
    return _details(title, body, opened=True)


def _impact_line(number: int, title: str, entries: list[dict], seen: set[str], names: Names) -> str:
    """One list of an impact analysis, without what an earlier component listed ("N above");
    risks and assessments in full, the longer lists folded."""
    new = [e for e in entries if e["iri"] not in seen]
    listed = [names.node(e["iri"], e["label"]) + _levels_text(e) for e in new[:MAX_ROWS]]
    listed += [f"… and {len(new) - MAX_ROWS} more"] if len(new) > MAX_ROWS else []
    listed += [f"{len(entries) - len(new)} listed above"] if len(new) < len(entries) else []
    seen.update(e["iri"] for e in entries)
    if number < 2 or not entries:
        return f"- **{title}** ({len(entries)}): {', '.join(listed) or 'none'}"
    return f"- <details><summary><b>{title}</b> ({len(entries)})</summary>{', '.join(listed)}</details>"


def _levels_text(entry: dict) -> str:
    return f" {entry['level']}/{entry['residualLevel']}" if "level" in entry else ""


def _findings_section(answer: dict[str, Any], names: Names) -> list[str]:
    found = answer["findings"]
    title = f"Findings: {len(found['appeared'])} new, {len(found['resolved'])} resolved"
    body: list[str] = []
    for key, heading in (("appeared", "New"), ("resolved", "Resolved")):
        rows = found[key]
        if not rows:
            continue
        body += [f"{heading}:", "", "| severity | focus | message | clause | where |", "|---|---|---|---|---|"]
        body += _capped(
            [
                f"| {f['severity']} | {cell(names.term(_bracketed(f['focus'])))} | {_text(f['message'])} | "
                f"{', '.join(c.rsplit('/', 1)[-1] for c in f['clauses'])} | {cell(f['where']) if f['where'] else ''} |"
                for f in rows
            ],
            len(rows),
        )
        body.append("")
    return _details(title, body or ["No finding appears or goes away."])


def _bracketed(focus: str) -> str:
    return focus if focus.startswith(("_:", "<<")) else f"<{focus}>"


def _risks_section(answer: dict[str, Any], names: Names) -> list[str]:
    risks = answer["risks"]
    title = (
        f"Risk levels: {len(risks['own'])} own, {len(risks['propagated'])} propagated, {len(risks['exposure'])} exposures changed"
    )
    body: list[str] = []
    if risks["own"]:
        body += ["Own risks (inherent / residual):", "", "| risk | before | after |", "|---|---|---|"]
        body += _capped(
            [f"| {names.node(r['iri'], r['label'])} | {_pair(r['before'])} | {_pair(r['after'])} |" for r in risks["own"]],
            len(risks["own"]),
        )
        body.append("")
    if risks["propagated"]:
        body += ["Propagated risks (inherent / residual):", "", "| asset | risk | before | after |", "|---|---|---|---|"]
        body += _capped(
            [
                f"| {names.node(r['asset'], r['assetLabel'])} | {names.node(r['risk'], r['label'])} | "
                f"{_pair(r['before'])} | {_pair(r['after'])} |"
                for r in risks["propagated"]
            ],
            len(risks["propagated"]),
        )
        body.append("")
    if risks["exposure"]:
        body += ["Exposure of each asset (highest risk, own or propagated; inherent / residual):", ""]
        body += ["| asset | before | after |", "|---|---|---|"]
        body += _capped(
            [f"| {names.node(r['iri'], r['label'])} | {_pair(r['before'])} | {_pair(r['after'])} |" for r in risks["exposure"]],
            len(risks["exposure"]),
        )
        body.append("")
    return _details(title, body or ["No risk changes level."])


def _pair(levels: dict | None) -> str:
    return "—" if levels is None else f"{levels['inherent']} / {levels['residual'] or '—'}"


def _readiness_section(answer: dict[str, Any]) -> list[str]:
    readiness = answer["readiness"]
    title = f"Readiness: {_count(len(readiness['clauses']), 'clause')}, {_count(len(readiness['systems']), 'AI system')} changed"
    body: list[str] = []
    for key, heading in (("clauses", "clause"), ("systems", "AI system")):
        if readiness[key]:
            body += [f"| {heading} | before | after |", "|---|---:|---:|"]
            body += [f"| {_text(r['label'])} | {_percent(r['before'])} | {_percent(r['after'])} |" for r in readiness[key]]
            body.append("")
    return _details(title, body or ["Readiness is unchanged."])


def _percent(value: dict | None) -> str:
    if value is None or value["readiness"] is None:
        return "no checks"
    return f"{value['readiness'] * 100:.0f} % ({value['checks'] - value['failed']}/{value['checks']})"


def _triples_section(answer: dict[str, Any], names: Names) -> list[str]:
    added, removed = answer["triples"]["added"], answer["triples"]["removed"]
    rows = [("+", t) for t in added] + [("−", t) for t in removed]
    body = ["| | subject | predicate | object |", "|---|---|---|---|"]
    body += _capped([f"| {sign} | {' | '.join(cell(names.term(part)) for part in t)} |" for sign, t in rows], len(rows))
    return _details(f"Triples: {len(added)} added, {len(removed)} removed", body if rows else ["The data is unchanged."])
