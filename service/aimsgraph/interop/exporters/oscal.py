"""The record as NIST OSCAL (JSON) for GRC platforms and auditors' tools.

This module owns the five OSCAL documents aimsgraph writes (``docs/oscal.md`` maps each field):

- ``catalog``: a framework's requirements, ISO/IEC 42001 (Annex A controls grouped by topic,
  with the requirement clauses 4 to 10 in a group of their own), the NIST AI RMF (subcategories
  under their functions and categories) or the EU AI Act (the obligations, grouped by role),
  with our own titles and paraphrases from ``data/``, never the standard's text;
- ``profile``: the Statement of Applicability's selection of Annex A controls, each with its
  justification and implementation status added by ``modify/alters``; excluded controls with
  their justifications as ``metadata`` properties (class ``soa-exclusion``);
- ``component-definition``: the AI systems, each with the implemented controls that apply to it
  (the rest belong to the management system's own component), linked to their evidence;
- ``assessment-results``: the validation findings as of a date, each an observation (its focus
  node the subject, the evidence recorded on it) and a finding on the control or clause its
  shape checks;
- ``poam``: the nonconformities, each a POA&M item with a risk whose remediations are its
  corrective actions.

Each document is a plain dictionary in OSCAL's JSON names, checked by compliance-trestle's
pydantic model of its kind before it is written (:class:`ExportInvalid` if it fails: a bug,
never sent). UUIDs are version 5, from IRIs, so an unchanged record exports the same document;
the document's own UUID is from its content too, so it changes exactly when the content does,
as OSCAL asks. ``last-modified`` is the evaluation date, not the wall clock.

compliance-trestle takes half a second to import: it is imported here only inside functions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from aimsgraph.errors import ExportInvalid, InvalidInput, NotFound
from aimsgraph.namespaces import AIMS, DCT, EUAIA, ISO, NIST, RDF_TYPE, SKOS, Graphs, sparql_prefixes
from aimsgraph.records import soa
from aimsgraph.reporting import overview
from aimsgraph.semantics.validation import Finding
from aimsgraph.store import GraphStore
from aimsgraph.store.record import Record, local_name, node

KINDS = ("catalog", "profile", "component-definition", "assessment-results", "poam")
#: The catalogues: key -> (title, the concept scheme that holds the requirements).
FRAMEWORKS = {
    "iso42001": ("ISO/IEC 42001:2023 Annex A reference controls and requirement clauses", ISO + "AnnexA"),
    "nist-ai-rmf": ("NIST AI Risk Management Framework (AI RMF 1.0)", NIST + "AIRMF"),
    "eu-ai-act": ("EU AI Act obligations", EUAIA + "Obligations"),
}
#: Where a document refers to the catalogue or profile it builds on: the REST route that serves
#: it, relative to the service (a URI reference, as OSCAL's ``href`` allows).
CATALOG_HREF = "/api/export/oscal/catalog"
PROFILE_HREF = "/api/export/oscal/profile"
#: The namespace of aimsgraph's own property names (OSCAL asks for one on every name it does not define).
NS = AIMS
MEDIA_TYPE = "application/json"

Json = dict[str, Any]


# -- identifiers -------------------------------------------------------------------------------


def uuid_of(iri: str, role: str = "") -> str:
    """A version 5 UUID from an IRI (and the role the thing plays in a document, so that the
    observation and the finding made of one validation result differ)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, iri + ("#" + role if role else "")))


def control_id(iri: str) -> str:
    """The OSCAL id of a requirement: its local name (``A.6.2.4``, ``GV-1.2``), ``clause-6.1.2``
    for an ISO clause (an OSCAL token starts with a letter)."""
    name = local_name(iri)
    return "clause-" + name if name[:1].isdigit() else name


def _timestamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00+00:00"


def _prop(name: str, value: object, **extra: str) -> Json:
    """One of our own properties (namespace :data:`NS`)."""
    return {"name": name, "ns": NS, "value": str(value), **extra}


def _metadata(store: GraphStore, title: str, day: date, version: str | None = None, **more: Any) -> Json:
    record = Record(store)
    metadata: Json = {
        "title": title,
        "last-modified": _timestamp(day),
        "version": version or day.isoformat(),
        "oscal-version": _oscal_version(),
    }
    organisations = [o for aims in _management_systems(store) for o in record.objects(aims, AIMS + "operatedBy")]
    if organisations:
        metadata["parties"] = [
            {"uuid": uuid_of(o), "type": "organization", "name": record.label(o), "links": [{"href": o, "rel": "canonical"}]}
            for o in sorted(set(organisations))
        ]
    return metadata | more


def _oscal_version() -> str:
    from trestle.oscal import OSCAL_VERSION

    return str(OSCAL_VERSION)


def _management_systems(store: GraphStore) -> list[str]:
    return Record(store).subjects(RDF_TYPE, AIMS + "AIManagementSystem")


def _select(store: GraphStore, query: str) -> list[dict[str, str]]:
    """Rows of a SELECT over the union of the graphs, each {variable: lexical value}."""
    solutions = store.query(sparql_prefixes("aims", "skos", "rdfs", "dct") + query)
    names = [v.value for v in solutions.variables]
    return [{n: row[n].value for n in names if row[n] is not None} for row in solutions]


def _first(record: Record, iri: str, predicate: str) -> str | None:
    values = record.objects(iri, predicate)
    return values[0] if values else None


# -- the documents -----------------------------------------------------------------------------


def export(store: GraphStore, kind: str, as_of: date, framework: str = "iso42001") -> bytes:
    """The OSCAL document of ``kind`` as of ``as_of``, as indented JSON, checked by trestle.
    InvalidInput for an unknown kind or framework; NotFound when the record has no such
    catalogue."""
    if kind not in KINDS:
        raise InvalidInput(f"the OSCAL export is one of {', '.join(KINDS)}, not {kind!r}")
    if framework not in FRAMEWORKS:
        raise InvalidInput(f"framework must be one of {', '.join(FRAMEWORKS)}, not {framework!r}")
    builders: dict[str, Callable[[], Json]] = {
        "catalog": lambda: catalog(store, framework, as_of),
        "profile": lambda: profile(store, as_of),
        "component-definition": lambda: component_definition(store, as_of),
        "assessment-results": lambda: assessment_results(store, as_of),
        "poam": lambda: poam(store, as_of),
    }
    return serialize(kind, builders[kind]())


def serialize(kind: str, body: Json) -> bytes:
    """``body`` (without its root key) as the OSCAL JSON document of ``kind``: its UUID made from
    its content, checked by trestle's model of the kind (ExportInvalid if it fails).

    The document written is ``body`` itself, once trestle has accepted it, indented by orjson:
    trestle's own dump of its model, and the standard library's indented (pure Python) encoder,
    each took longer than building the document (10 s of 27 at 1,000 systems)."""
    import orjson

    content = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    body = {"uuid": uuid_of("urn:sha256:" + hashlib.sha256(content).hexdigest(), kind)} | body
    del content
    document = {ROOTS[kind]: body}
    _check(kind, document)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


#: The lists of a document that grow with the record (one item per finding, per subject), each
#: with the trestle model of an item: these are checked an item at a time, as a pydantic model of
#: the whole assessment results of 10,000 systems would take gigabytes.
GROWING = {"assessment-results": (("results", "observations", "Observation"), ("results", "findings", "Finding"))}


def _check(kind: str, document: Json) -> None:
    """:func:`validated`, the growing lists (:data:`GROWING`) and the back matter's resources
    checked an item at a time (the document's own check sees the first item of each)."""
    if kind not in GROWING:
        validated(kind, document)
        return
    from pydantic import ValidationError
    from trestle.oscal import common

    body = document[ROOTS[kind]]
    parts: list[tuple[str, list[Json], Any]] = []
    skeleton = dict(body)
    for outer, key, model in GROWING[kind]:
        skeleton[outer] = [dict(item) for item in skeleton[outer]]
        for index, item in enumerate(skeleton[outer]):
            if len(item.get(key, [])) > 1:
                parts.append((f"{outer}.{index}.{key}", item[key], getattr(common, model)))
                item[key] = item[key][:1]
    resources = body.get("back-matter", {}).get("resources", [])
    if len(resources) > 1:
        parts.append(("back-matter.resources", resources, common.Resource))
        skeleton["back-matter"] = {**skeleton["back-matter"], "resources": resources[:1]}
    validated(kind, {ROOTS[kind]: skeleton})
    for where, items, model in parts:
        for index, item in enumerate(items[1:], start=1):
            try:
                model.model_validate(item)
            except ValidationError as exc:
                problem = exc.errors()[0]
                inside = ".".join(str(p) for p in (where, index, *problem["loc"]))
                raise ExportInvalid(f"the OSCAL {kind} is not valid: {inside}: {problem['msg']}") from None


#: The root key of each kind's JSON document.
ROOTS = {
    "catalog": "catalog",
    "profile": "profile",
    "component-definition": "component-definition",
    "assessment-results": "assessment-results",
    "poam": "plan-of-action-and-milestones",
}


def model_class(kind: str) -> Any:
    """compliance-trestle's pydantic model of an OSCAL document ``kind``."""
    from trestle.oscal import assessment_results, catalog, component, poam, profile

    return {
        "catalog": catalog.Catalog,
        "profile": profile.Profile,
        "component-definition": component.ComponentDefinition,
        "assessment-results": assessment_results.AssessmentResults,
        "poam": poam.PlanOfActionAndMilestones,
    }[kind]


def validated(kind: str, document: Json) -> Any:
    """The trestle model of an OSCAL JSON ``document`` (with its root key) of ``kind``;
    ExportInvalid naming the first problem when it is not valid OSCAL."""
    from pydantic import ValidationError

    try:
        return model_class(kind).model_validate(document[ROOTS[kind]])
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ExportInvalid(f"the OSCAL {kind} is not valid: {where}: {problem['msg']}") from None
    except (KeyError, TypeError):
        raise ExportInvalid(f"the OSCAL {kind} has no {ROOTS[kind]!r} object at its root") from None


# -- catalog -------------------------------------------------------------------------------------


def catalog(store: GraphStore, framework: str, day: date) -> Json:
    """A framework's requirements as an OSCAL catalog (module docstring)."""
    title, scheme = FRAMEWORKS[framework]
    if not store.query(f"ASK {{ <{scheme}> a <{SKOS}ConceptScheme> }}"):
        raise NotFound(f"the record has no {title} catalogue (the reference graphs are not loaded)")
    concepts = _concepts(store, scheme)
    if framework == "iso42001":
        groups = _tree(concepts, is_group=lambda c: AIMS + "ControlGroup" in c["types"])
        clauses = _tree(_concepts(store, ISO + "Clauses"), is_group=lambda c: False)
        groups.append({"id": "clauses", "title": "Requirement clauses 4 to 10", "class": "clauses", "controls": clauses})
    elif framework == "nist-ai-rmf":
        groups = _tree(concepts, is_group=lambda c: bool(c["children"]))
    else:
        groups = _by_role(store, concepts)
    record = Record(store)
    rights = _first(record, scheme, DCT + "rights")
    metadata = _metadata(store, title, day, remarks=rights) if rights else _metadata(store, title, day)
    metadata["links"] = [{"href": scheme, "rel": "canonical"}]
    return {"metadata": metadata, "groups": groups}


def _concepts(store: GraphStore, scheme: str) -> dict[str, Json]:
    """The concepts of a scheme: notation, title, definition, types, the concept it is under
    and the ones under it, in reading order (numbers compared as numbers)."""
    rows = _select(
        store,
        f"""SELECT ?c ?notation ?title ?definition ?type ?broader WHERE {{
          ?c skos:inScheme <{scheme}> .
          OPTIONAL {{ ?c skos:notation ?notation }} OPTIONAL {{ ?c skos:prefLabel ?title }}
          OPTIONAL {{ ?c skos:definition ?definition }} OPTIONAL {{ ?c a ?type }}
          OPTIONAL {{ ?c skos:broader ?broader . ?broader skos:inScheme <{scheme}> }} }}""",
    )
    concepts: dict[str, Json] = {}
    for row in rows:
        c = concepts.setdefault(row["c"], {"iri": row["c"], "types": set(), "children": [], "broader": None})
        for key in ("notation", "title", "definition", "broader"):
            if key in row:
                c[key] = min(filter(None, (c.get(key), row[key])))
        if "type" in row:
            c["types"].add(row["type"])
    for c in concepts.values():
        if c["broader"] in concepts:
            concepts[c["broader"]]["children"].append(c["iri"])
    for c in concepts.values():
        c["children"].sort(key=_reading_order)
    return concepts


#: The NIST AI RMF's functions in the framework's order (the RMF's numbers are not alphabetical).
NIST_FUNCTIONS = ("GOVERN", "MAP", "MEASURE", "MANAGE")


def _reading_order(iri: str) -> tuple:
    """Identifiers in reading order: numbers compared as numbers (A.10 after A.9), NIST's
    functions in the framework's order."""
    name = control_id(iri)
    if name in NIST_FUNCTIONS:
        return ((0, NIST_FUNCTIONS.index(name), ""),)
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in name.replace("-", ".").split("."))


def _tree(concepts: dict[str, Json], is_group: Callable[[Json], bool]) -> list[Json]:
    """The top concepts (those under no other) as groups or controls, each with what is under it."""
    tops = sorted((c for c in concepts.values() if c["broader"] not in concepts), key=lambda c: _reading_order(c["iri"]))
    return [_node(concepts, c, is_group) for c in tops]


def _node(concepts: dict[str, Json], concept: Json, is_group: Callable[[Json], bool]) -> Json:
    group = is_group(concept)
    item = _described(concept, "group" if group else "control")
    children = [_node(concepts, concepts[c], is_group) for c in concept["children"]]
    if group:
        subgroups = [c for c in children if "groups" in c or c.get("class") == "group"]
        controls = [c for c in children if c not in subgroups]
        item |= {"groups": subgroups} if subgroups else {}
        item |= {"controls": controls} if controls else {}
    elif children:
        item["controls"] = children
    return item


def _described(concept: Json, role: str) -> Json:
    """A group or control: id, title, the ``label`` property (the number as written), the
    concept's IRI as its canonical link and its definition as the statement (a group's overview)."""
    cid = control_id(concept["iri"])
    item: Json = {"id": cid, "class": role, "title": concept.get("title") or cid}
    if "notation" in concept:
        item["props"] = [{"name": "label", "value": concept["notation"]}]
    item["links"] = [{"href": concept["iri"], "rel": "canonical"}]
    if "definition" in concept:
        name = "overview" if role == "group" else "statement"
        item["parts"] = [{"id": f"{cid}_{'ovw' if role == 'group' else 'smt'}", "name": name, "prose": concept["definition"]}]
    return item


def _by_role(store: GraphStore, concepts: dict[str, Json]) -> list[Json]:
    """EU AI Act obligations grouped by the role they are addressed to, each with its legal
    basis (a property with the citation, a link to the provision) and the ISO/IEC 42001 items
    whose records evidence it (links)."""
    record = Record(store)
    groups: dict[str, list[Json]] = defaultdict(list)
    for iri in sorted(concepts, key=_reading_order):
        control = _described(concepts[iri], "control")
        for basis in record.objects(iri, AIMS + "basis"):
            control.setdefault("props", []).append(_prop("basis", _first(record, basis, SKOS + "notation") or basis))
            control["links"].append({"href": basis, "rel": "reference"})
        control["links"] += [{"href": e, "rel": "related"} for e in record.objects(iri, AIMS + "evidencedBy")]
        for role in record.objects(iri, AIMS + "forRole") or [AIMS + "unassigned"]:
            groups[role].append(control)
    return [
        {"id": control_id(role), "class": "role", "title": record.label(role), "controls": controls}
        for role, controls in sorted(groups.items())
    ]


# -- profile ------------------------------------------------------------------------------------


def profile(store: GraphStore, day: date) -> Json:
    """The Statement of Applicability as a profile of the ISO/IEC 42001 catalog (module docstring)."""
    _, rows = soa.rows(store)
    if not rows:
        raise NotFound("the record has no Statement of Applicability (aims:StatementOfApplicability with entries)")
    record = Record(store)
    statements = record.subjects(RDF_TYPE, AIMS + "StatementOfApplicability")
    applicable = [r for r in rows if r.get("applicable") == "true"]
    excluded = [r for r in rows if r.get("applicable") != "true"]
    title = record.label(statements[0]) if statements else "Statement of Applicability"
    version = _first(record, statements[0], AIMS + "version") if statements else None
    exclusions = [
        _prop(
            "excluded-control",
            r["id"],
            **{"class": "soa-exclusion", "remarks": r.get("justification", "no justification recorded")},
        )
        for r in excluded
    ]
    catalog_resource = uuid_of(ISO + "AnnexA", "catalog")
    metadata = _metadata(store, title, day, version) | ({"props": exclusions} if exclusions else {})
    if statements:
        metadata["links"] = [{"href": statements[0], "rel": "canonical"}]
    body: Json = {
        "metadata": metadata,
        "imports": [{"href": f"#{catalog_resource}", "include-controls": [{"with-ids": [r["id"] for r in applicable]}]}],
        "merge": {"as-is": True},
        "back-matter": {"resources": [_catalog_resource(catalog_resource)]},
    }
    alters = [_alter(r) for r in applicable]
    if alters:
        body["modify"] = {"alters": alters}
    return body


def _catalog_resource(resource_uuid: str) -> Json:
    return {
        "uuid": resource_uuid,
        "title": FRAMEWORKS["iso42001"][0],
        "rlinks": [{"href": CATALOG_HREF + "?framework=iso42001", "media-type": MEDIA_TYPE}],
    }


def _alter(row: dict[str, str]) -> Json:
    """What the SoA says of one applicable control: its implementation status (a property) and
    justification (a part named ``justification``)."""
    add: Json = {"position": "ending", "props": [_prop("implementation-status", local_name(row.get("status", "unrecorded")))]}
    if "justification" in row:
        add["parts"] = [{"id": f"{row['id']}_soa", "name": "justification", "ns": NS, "prose": row["justification"]}]
    return {"control-id": row["id"], "adds": [add]}


# -- component definition -----------------------------------------------------------------------


IMPLEMENTED_QUERY = """SELECT ?control ?reference ?target WHERE {
  ?control a aims:ImplementedControl ; aims:implements ?reference .
  ?reference skos:notation ?notation .
  OPTIONAL { ?control aims:appliesTo ?target . ?target a aims:AISystem }
}"""


def component_definition(store: GraphStore, day: date) -> Json:
    """The AI systems and the management system as components with their implemented controls."""
    record = Record(store)
    systems = sorted(set(record.subjects(RDF_TYPE, AIMS + "AISystem")))
    managers = sorted(_management_systems(store))
    by_component: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in _select(store, IMPLEMENTED_QUERY):
        owner = row.get("target") or (managers[0] if managers else "")
        by_component[owner].add((row["control"], row["reference"]))
    components = [_component(record, s, "software", by_component.get(s, set())) for s in systems]
    components += [_component(record, m, "process-procedure", by_component.get(m, set())) for m in managers]
    return {"metadata": _metadata(store, "AI systems and their implemented controls", day), "components": components}


def _component(record: Record, iri: str, kind: str, implemented: set[tuple[str, str]]) -> Json:
    component: Json = {
        "uuid": uuid_of(iri, "component"),
        "type": kind,
        "title": record.label(iri),
        "description": _first(record, iri, DCT + "description") or record.label(iri),
        "links": [{"href": iri, "rel": "canonical"}],
    }
    if implemented:
        requirements = [
            _requirement(record, iri, c, r) for c, r in sorted(implemented, key=lambda p: (_reading_order(p[1]), p[0]))
        ]
        component["control-implementations"] = [
            {
                "uuid": uuid_of(iri, "control-implementation"),
                "source": PROFILE_HREF,
                "description": f"The ISO/IEC 42001 Annex A controls implemented for {record.label(iri)}.",
                "implemented-requirements": requirements,
            }
        ]
    return component


def _requirement(record: Record, component: str, control: str, reference: str) -> Json:
    """One implemented control of a component: its description, identifier, status,
    effectiveness and last test as properties, its evidence as links."""
    props = [_prop("implemented-control", record.label(control))]
    for name, predicate in (
        ("identifier", DCT + "identifier"),
        ("control-status", AIMS + "controlStatus"),
        ("effectiveness", AIMS + "effectiveness"),
        ("last-tested", AIMS + "lastTested"),
    ):
        value = _first(record, control, predicate)
        if value is not None:
            props.append(_prop(name, local_name(value) if node(value) is not None and "://" in value else value))
    links = [{"href": control, "rel": "canonical"}]
    for evidence in record.objects(control, AIMS + "hasEvidence"):
        links.append(
            {"href": _first(record, evidence, AIMS + "location") or evidence, "rel": "evidence", "text": record.label(evidence)}
        )
    return {
        "uuid": uuid_of(control, f"{component} {reference}"),
        "control-id": control_id(reference),
        "description": _first(record, control, DCT + "description") or record.label(control),
        "props": props,
        "links": links,
    }


# -- assessment results --------------------------------------------------------------------------


def findings_as_of(store: GraphStore, day: date) -> list[Finding]:
    """The validation findings as of ``day``: the stored ones for today, computed for another day."""
    return list(overview.findings_index(store, day).findings)


def assessment_results(store: GraphStore, day: date) -> Json:
    """The validation findings as observations and findings of one result (module docstring)."""
    record = Record(store)
    found = findings_as_of(store, day)
    resources: dict[str, Json] = {}
    observations, findings = [], []
    for f in found:
        observation = _observation(record, f, day, resources)
        observations.append(observation)
        findings.append(_finding(f, observation["uuid"]))
    shapes_uuid = uuid_of(Graphs.VALIDATION, "assessment-plan")
    result: Json = {
        "uuid": uuid_of(Graphs.VALIDATION, f"result-{day.isoformat()}"),
        "title": f"Completeness checks of the AI management system as of {day.isoformat()}",
        "description": "The SHACL completeness shapes of aimsgraph (ISO/IEC 42001 clauses and Annex A) run over the record.",
        "start": _timestamp(day),
        "props": [_prop("violations", sum(f.severity == "Violation" for f in found))],
        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
    }
    if observations:
        result |= {"observations": observations, "findings": findings}
    resources[shapes_uuid] = {
        "uuid": shapes_uuid,
        "title": "aimsgraph completeness shapes (the assessment plan: what is checked, per clause and control)",
        "rlinks": [{"href": "/api/queries", "media-type": MEDIA_TYPE}],
    }
    return {
        "metadata": _metadata(store, "Validation findings of the AI management system", day),
        "import-ap": {"href": f"#{shapes_uuid}"},
        "results": [result],
        "back-matter": {"resources": [resources[k] for k in sorted(resources)]},
    }


def _observation(record: Record, f: Finding, day: date, resources: dict[str, Json]) -> Json:
    """A finding's observation: the check (method TEST), its focus node as the subject (a
    back-matter resource) and the evidence recorded on the focus node."""
    observation: Json = {
        "uuid": uuid_of(f.iri, "observation"),
        "title": f"{f.severity}: {record.label(f.focus)}",
        "description": f.message or f"{f.severity} on {f.focus}",
        "props": [_prop("focus-node", f.focus), _prop("shape", f.shape)],
        "methods": ["TEST"],
        "types": ["finding"],
        "collected": _timestamp(day),
    }
    if f.path:
        observation["props"].append(_prop("path", f.path))
    if node(f.focus) is not None and "://" in f.focus:
        subject = uuid_of(f.focus, "subject")
        resources.setdefault(subject, {"uuid": subject, "title": record.label(f.focus), "rlinks": [{"href": f.focus}]})
        observation["subjects"] = [{"subject-uuid": subject, "type": "resource", "title": record.label(f.focus)}]
        evidence = [
            _evidence(record, e) for p in ("hasEvidence", "effectivenessEvidence") for e in record.objects(f.focus, AIMS + p)
        ]
        if evidence:
            observation["relevant-evidence"] = evidence
    return observation


def _evidence(record: Record, evidence: str) -> Json:
    found: Json = {"description": record.label(evidence), "links": [{"href": evidence, "rel": "canonical"}]}
    location = _first(record, evidence, AIMS + "location")
    return found | ({"href": location} if location else {})


def _finding(f: Finding, observation: str) -> Json:
    """The finding on the control or clause a shape checks (Annex A first), not satisfied."""
    annex = [c for c in f.clauses if local_name(c).startswith("A.")]
    target = (annex or list(f.clauses) or [AIMS + "unassigned"])[0]
    return {
        "uuid": uuid_of(f.iri, "finding"),
        "title": f.message[:200] or f.severity,
        "description": f.message or f.severity,
        "props": [_prop("severity", f.severity)] + [_prop("clause", control_id(c)) for c in f.clauses],
        "target": {"type": "objective-id", "target-id": control_id(target), "status": {"state": "not-satisfied"}},
        "related-observations": [{"observation-uuid": observation}],
    }


# -- POA&M ----------------------------------------------------------------------------------------


#: Work statuses as OSCAL risk statuses and response lifecycles.
RISK_STATUS = {"StatusClosed": "closed", "StatusInProgress": "remediating"}
LIFECYCLE = {"StatusClosed": "completed"}


def poam(store: GraphStore, day: date) -> Json:
    """Nonconformities as POA&M items, each with a risk whose remediations are its corrective actions."""
    record = Record(store)
    nonconformities = sorted(set(record.subjects(RDF_TYPE, AIMS + "Nonconformity")))
    if not nonconformities:  # OSCAL asks for at least one POA&M item
        raise NotFound("the record has no nonconformities (aims:Nonconformity): a POA&M needs at least one")
    items, risks = [], []
    for nc in nonconformities:
        risk = _nc_risk(record, nc)
        risks.append(risk)
        items.append(_poam_item(record, nc, risk["uuid"]))
    body: Json = {"metadata": _metadata(store, "Nonconformities and corrective actions", day), "poam-items": items}
    if risks:
        body["risks"] = risks
    return body


def _status(record: Record, iri: str) -> str:
    return local_name(_first(record, iri, AIMS + "status") or "")


def _poam_item(record: Record, nc: str, risk: str) -> Json:
    props = [_prop("status", _status(record, nc) or "unrecorded")]
    for name, predicate in (("identifier", DCT + "identifier"), ("opened", AIMS + "openedOn"), ("closed", AIMS + "closedOn")):
        if (value := _first(record, nc, predicate)) is not None:
            props.append(_prop(name, value))
    props += [_prop("clause", control_id(c)) for c in record.objects(nc, AIMS + "relatesToClause")]
    item: Json = {
        "uuid": uuid_of(nc, "poam-item"),
        "title": record.label(nc),
        "description": _first(record, nc, DCT + "description") or record.label(nc),
        "props": props,
        "links": [{"href": nc, "rel": "canonical"}]
        + [{"href": c, "rel": "related"} for c in record.objects(nc, AIMS + "concerns")],
        "related-risks": [{"risk-uuid": risk}],
    }
    if (cause := _first(record, nc, AIMS + "rootCause")) is not None:
        item["remarks"] = f"Root cause: {cause}"
    return item


def _nc_risk(record: Record, nc: str) -> Json:
    """The risk a nonconformity stands for, its corrective actions as remediations."""
    actions = sorted(record.subjects(AIMS + "addresses", nc))
    risk: Json = {
        "uuid": uuid_of(nc, "risk"),
        "title": record.label(nc),
        "description": _first(record, nc, DCT + "description") or record.label(nc),
        "statement": f"Nonconformity: {record.label(nc)}.",
        "status": RISK_STATUS.get(_status(record, nc), "open"),
    }
    remediations = [_remediation(record, a) for a in actions if AIMS + "CorrectiveAction" in record.objects(a, RDF_TYPE)]
    if remediations:
        risk["remediations"] = remediations
    return risk


def _remediation(record: Record, action: str) -> Json:
    """A corrective action as a planned or completed response with its due date as a milestone."""
    response: Json = {
        "uuid": uuid_of(action, "response"),
        "lifecycle": LIFECYCLE.get(_status(record, action), "planned"),
        "title": record.label(action),
        "description": _first(record, action, DCT + "description") or record.label(action),
        "props": [_prop("status", _status(record, action) or "unrecorded")],
        "links": [{"href": action, "rel": "canonical"}],
    }
    if (taken := _first(record, action, AIMS + "actionTaken")) is not None:
        response["remarks"] = f"Action taken: {taken}"
    if (due := _first(record, action, AIMS + "dueDate")) is not None:
        response["tasks"] = [
            {
                "uuid": uuid_of(action, "due"),
                "type": "milestone",
                "title": f"Due: {record.label(action)}",
                "timing": {"on-date": {"date": f"{due[:10]}T00:00:00+00:00"}},
            }
        ]
    for evidence in record.objects(action, AIMS + "effectivenessEvidence"):
        location = _first(record, evidence, AIMS + "location") or evidence
        response["links"].append({"href": location, "rel": "evidence", "text": record.label(evidence)})
    return response
