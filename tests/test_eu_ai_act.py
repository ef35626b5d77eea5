"""EU AI Act applicability (issue 20): categories derived from the register with their premises.

- AIRO-described systems, imported with the AIRO importer, are classified under Annex III the way
  AIRO's own high-risk SHACL shapes classify them (pyshacl runs the shapes as the oracle);
- one hand-built system per path: Art. 5, Art. 6(1), Art. 6(2) with and without the Art. 6(3)
  derogation (and the derogation refused for profiling), Art. 50, GPAI, out of scope, undetermined;
- an AIRO file describing a law-enforcement profiling system, imported over HTTP, is classified
  under Annex III point 6 (or Art. 5) with its premises, by the running refresh.

AIRO's shapes use ``sh:class`` without ``sh:minCount``: a system with no value for a property
satisfies that part vacuously, and one with two values satisfies it only if both are of the
class. Our rules read "some value of the class", the Act's sense. The oracle's systems have
exactly one value for each property the shapes name, where the two readings agree.
"""

from __future__ import annotations

import random
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Namespace
from rdflib.collection import Collection

from aimsgraph import resources
from aimsgraph.config import Settings
from aimsgraph.interop.importers.airo import import_airo
from aimsgraph.namespaces import PROV_GENERATED_AT, RDF_TYPE, XSD_BOOLEAN, Graphs
from aimsgraph.semantics import applicability
from aimsgraph.store import GraphStore
from conftest import FreshDataDir, select, serving, settle

AIRO_SHAPES = Path(__file__).resolve().parent / "data" / "airo" / "high-risk-shapes-final.ttl"
SH = Namespace("http://www.w3.org/ns/shacl#")
EUAIA = "https://w3id.org/aimsgraph/eu-ai-act/"
AIMS = "https://w3id.org/aimsgraph/ontology#"
EX = "https://use-case.example/airo/"
PREFIXES = f"""@prefix airo: <https://w3id.org/airo#> .
@prefix vair: <https://w3id.org/vair#> .
@prefix aims: <{AIMS}> .
@prefix euaia: <{EUAIA}> .
@prefix ex: <{EX}> .
"""


def airo_shapes() -> dict[str, dict[str, list[str]]]:
    """Each AIRO high-risk shape (its local name) with the classes it allows per property."""
    graph = Graph().parse(AIRO_SHAPES)

    def classes(node) -> list[str]:
        found = [str(c) for c in graph.objects(node, SH["class"])]
        for members in graph.objects(node, SH["or"]):
            found += [c for m in Collection(graph, members) for c in classes(m)]
        return found

    shapes = {}
    for shape in graph.subjects(SH.targetClass, None):
        criteria: dict[str, list[str]] = {}
        for negated in graph.objects(shape, SH["not"]):
            for members in graph.objects(negated, SH["and"]):
                for member in Collection(graph, members):
                    path = graph.value(member, SH.path)
                    if path is not None:
                        criteria[str(path)] = classes(member)
        shapes[str(shape).rsplit("#", 1)[1]] = criteria
    return shapes


def rule_of(shape: str) -> str:
    """Our rule for an AIRO shape: ex:AnnexIII-5d-a is euaia:rule-AnnexIII-5-d-a."""
    code = shape.removeprefix("AnnexIII-")
    area, rest = code[0], code[1:]
    return EUAIA + "rule-AnnexIII-" + area + (f"-{rest}" if rest else "")


def generated_systems(shapes: dict[str, dict[str, list[str]]], count: int, seed: int) -> tuple[str, dict[str, set[str]]]:
    """``count`` AIRO-described systems in Turtle, each with one typed value for every property
    the shapes name, mostly aimed at one shape (so that points fire) and otherwise random; and
    the shapes pyshacl says each one violates, i.e. the points AIRO's authors put it under."""
    rng = random.Random(seed)
    properties = sorted({p for criteria in shapes.values() for p in criteria})
    pool = {p: sorted({c for criteria in shapes.values() for c in criteria.get(p, [])}) for p in properties}
    lines = [PREFIXES]
    for i in range(count):
        aimed = shapes[rng.choice(sorted(shapes))] if rng.random() < 0.8 else {}
        lines.append(f"ex:system-{i} a airo:AISystem .")
        for j, prop in enumerate(properties):
            choices = aimed.get(prop) or pool[prop]
            value = f"ex:v{i}-{j}"  # an individual of the class, as AIRO's use cases write them
            lines.append(f"ex:system-{i} <{prop}> {value} . {value} a <{rng.choice(choices)}> .")
    turtle = "\n".join(lines)
    return turtle, airo_verdicts(turtle)


def airo_verdicts(turtle: str) -> dict[str, set[str]]:
    """What AIRO's shapes say of each system in ``turtle`` (with VAIR's class tree), by pyshacl."""
    from pyshacl import validate

    data = Graph().parse(data=turtle, format="turtle")
    for vocabulary in (
        resources.path("data", "vocabularies", "vair", "vair.ttl"),
        resources.path("data", "vocabularies", "airo", "airo.ttl"),
    ):
        data.parse(vocabulary)
    _, report, _ = validate(data, shacl_graph=Graph().parse(AIRO_SHAPES), inference="none", advanced=False)
    verdicts: dict[str, set[str]] = {}
    for result in report.subjects(Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#").type, SH.ValidationResult):
        focus, shape = str(report.value(result, SH.focusNode)), str(report.value(result, SH.sourceShape))
        if focus.startswith(EX + "system-"):
            verdicts.setdefault(focus, set()).add(rule_of(shape.rsplit("#", 1)[1]))
    return verdicts


def fresh_store() -> GraphStore:
    store = GraphStore(None)
    store.initialise(demo=False)
    return store


def classified(store: GraphStore) -> dict[str, list[applicability.Classification]]:
    found: dict[str, list[applicability.Classification]] = {}
    for c in applicability.compute(store):
        found.setdefault(c.node, []).append(c)
    return found


@pytest.mark.oracle
def test_airo_systems_are_classified_as_airos_own_shapes_classify_them():
    shapes = airo_shapes()
    assert len(shapes) == 28
    turtle, expected = generated_systems(shapes, 150, seed=20)
    store = fresh_store()
    import_airo(store, turtle.encode(), ox.RdfFormat.TURTLE)
    ours = {
        node: {c.rule for c in items if c.rule and c.rule.startswith(EUAIA + "rule-AnnexIII-")}
        for node, items in classified(store).items()
    }
    systems = [f"{EX}system-{i}" for i in range(150)]
    assert sum(1 for s in systems if expected.get(s)) > 100  # the oracle's systems mostly fire
    assert {s: ours.get(s, set()) for s in systems} == {s: expected.get(s, set()) for s in systems}


# -- hand-built systems, one per path ------------------------------------------------------------


def store_with(body: str) -> GraphStore:
    """A store with the shipped reference graphs and ``body`` (Turtle in our terms) as its record."""
    store = fresh_store()
    data = ox.NamedNode(Graphs.DATA)
    store.extend(ox.Quad(q.subject, q.predicate, q.object, data) for q in ox.parse(PREFIXES + body, format=ox.RdfFormat.TURTLE))
    return store


def classify_turtle(body: str) -> dict[str, set[tuple[str, str | None]]]:
    """(category, basis) pairs per node of a record written in our terms."""
    store = store_with(body)
    return {
        node.removeprefix(EX): {(c.category.removeprefix(EUAIA), c.basis and c.basis.removeprefix(EUAIA)) for c in items}
        for node, items in classified(store).items()
    }


def test_annex_iii_credit_scoring_is_high_risk_and_a_derogation_claim_is_recorded():
    found = classify_turtle(
        """ex:scoring a aims:AISystem ; aims:inEUScope true ; aims:hasPurpose vair:AssessingCreditworthiness ;
               aims:applicationDomain vair:PrivateService ; aims:hasAISubject ex:people . ex:people a vair:NaturalPerson .
           ex:claimed a aims:AISystem ; aims:inEUScope true ; aims:hasPurpose vair:AssessingCreditworthiness ;
               aims:applicationDomain vair:PrivateService ; aims:hasAISubject ex:people ; aims:claimsDerogation euaia:Art6-3-d .
           ex:profiling a aims:AISystem ; aims:inEUScope true ; aims:hasPurpose vair:AssessingCreditworthiness ;
               aims:applicationDomain vair:PrivateService ; aims:hasAISubject ex:people ; aims:claimsDerogation euaia:Art6-3-a ;
               aims:hasCapability vair:Profiling ."""
    )
    assert found["scoring"] == {("HighRisk", "AnnexIII-5-b")}
    assert found["claimed"] == {("NotHighRiskByDerogation", "Art6-3-d")}
    assert found["profiling"] == {("HighRisk", "AnnexIII-5-b")}  # the derogation never holds for profiling


def test_a_refused_derogation_and_its_premises_are_recorded():
    store = store_with(
        """ex:p a aims:AISystem ; aims:hasPurpose vair:AssessingCreditworthiness ; aims:applicationDomain vair:PrivateService ;
                  aims:hasAISubject ex:people ; aims:claimsDerogation euaia:Art6-3-a ; aims:hasCapability vair:Profiling .
              ex:people a vair:NaturalPerson ."""
    )
    [found] = classified(store)[EX + "p"]
    assert found.derogation_refused and found.scope_assumed  # and the record does not say where it is used
    assert {(p.predicate.rsplit("#", 1)[1], str(p.object)) for p in found.premises} >= {
        ("claimsDerogation", f"<{EUAIA}Art6-3-a>"),
        ("hasCapability", "<https://w3id.org/vair#Profiling>"),
        ("hasPurpose", "<https://w3id.org/vair#AssessingCreditworthiness>"),
    }


def test_annex_i_safety_component_is_high_risk_under_article_6_1():
    found = classify_turtle("ex:lift a aims:AISystem ; aims:inEUScope true ; aims:safetyComponentUnder euaia:AnnexI-4 .")
    assert found["lift"] == {("HighRisk", "Art6-1")}


def test_prohibited_transparency_and_gpai_paths():
    found = classify_turtle(
        """ex:scorer a aims:AISystem ; aims:inEUScope true ; aims:hasCapability vair:SocialScoring ; aims:hasAISubject ex:citizens .
           ex:citizens a vair:NaturalPerson .
           ex:chat a aims:AISystem ; aims:inEUScope true ; aims:interactsWithNaturalPersons true .
           ex:llm a aims:Model ; aims:isGeneralPurposeAIModel true .
           ex:frontier a aims:Model ; aims:isGeneralPurposeAIModel true ; aims:hasSystemicRisk true .
           ex:small a aims:Model ; aims:isGeneralPurposeAIModel false ."""
    )
    assert found["scorer"] == {("Prohibited", "Art5-1-c")}
    assert found["chat"] == {("TransparencyObligations", "Art50-1")}
    assert found["llm"] == {("GPAIModel", "Art53")}
    assert found["frontier"] == {("GPAIModel", "Art53"), ("GPAIModelWithSystemicRisk", "Art51")}
    assert "small" not in found  # a model no rule speaks of has no category


def test_scope_decides_minimal_out_of_scope_and_undetermined():
    found = classify_turtle(
        """ex:eu a aims:AISystem ; aims:inEUScope true .
           ex:abroad a aims:AISystem ; aims:inEUScope false ; aims:hasPurpose vair:AssessingCreditworthiness .
           ex:unknown a aims:AISystem ."""
    )
    assert found == {"eu": {("MinimalRisk", None)}, "abroad": {("OutOfScope", None)}, "unknown": {("Undetermined", None)}}


def test_roles_follow_who_provides_and_deploys_and_select_the_obligations():
    store = store_with(
        """ex:aims a aims:AIManagementSystem ; aims:operatedBy ex:us .
        ex:bought a aims:AISystem ; aims:inEUScope true ; aims:deployedBy ex:us ; aims:providedBy ex:vendor ;
            aims:applicationDomain vair:Employment ; aims:hasPurpose vair:JobApplicationScreening ; aims:hasAISubject ex:applicants .
        ex:applicants a vair:JobApplicant ."""
    )
    [found] = classified(store)[EX + "bought"]
    assert found.roles == (EUAIA + "Deployer",)
    catalogue = applicability.load_catalogue(store)
    roles = {o.iri: o.role for o in catalogue.obligations}
    assert found.obligations and {roles[o] for o in found.obligations} == {EUAIA + "Deployer"}


# -- over HTTP: an AIRO use case from another author ----------------------------------------------

LAW_ENFORCEMENT_PROFILING = b"""@prefix airo: <https://w3id.org/airo#> .
@prefix vair: <https://w3id.org/vair#> .
@prefix : <urn:x-police:case/> .
:PredPol a airo:AISystem ;
    airo:isAppliedWithinDomain :policing ;
    airo:hasPurpose :investigate ;
    airo:hasCapability :profile ;
    airo:isDeployedBy :force ;
    airo:hasAISubject :residents .
:policing a vair:LawEnforcement .
:investigate a vair:InvestigatingCriminalOffences .
:profile a vair:Profiling .
:force a vair:LawEnforcementAuthority .
:residents a vair:NaturalPerson .
"""


def test_an_airo_law_enforcement_profiling_system_imported_over_http_is_classified_with_its_premises(
    tmp_path: Path, fresh_data_dir: FreshDataDir
):
    editor = "editor-token-for-the-act-01"
    settings = Settings(data_dir=fresh_data_dir(tmp_path / "db", demo=False), demo=False, tokens=(f"editor:officer:{editor}",))
    with serving(settings) as app:
        client = app.test_client()
        answer = client.post(
            "/api/import",
            query_string={"kind": "airo"},
            data=LAW_ENFORCEMENT_PROFILING,
            headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {editor}"},
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)
        settle(client)
        rows = select(
            client,
            f"""PREFIX aims: <{AIMS}>
            SELECT ?category ?basis WHERE {{ <urn:x-police:case/PredPol> aims:hasClassification ?c .
                ?c aims:category ?category ; aims:basis ?basis }}""",
        )
        assert {(r["category"], r["basis"]) for r in rows} >= {(EUAIA + "HighRisk", EUAIA + "AnnexIII-6-e")}
        why = client.get(
            "/api/queries/eu-ai-act-why",
            query_string={"node": "urn:x-police:case/PredPol"},
            headers={"Accept": "application/json"},
        )
        assert why.status_code == 200, why.get_data(as_text=True)
        premises = {
            (b["predicate"]["value"], b["object"]["value"]) for b in why.get_json()["results"]["bindings"] if "predicate" in b
        }
        assert (AIMS + "hasCapability", "urn:x-police:case/profile") in premises
        assert (AIMS + "applicationDomain", "urn:x-police:case/policing") in premises


# -- the REST API ----------------------------------------------------------------------------------


def test_the_api_lists_classifications_and_a_what_if_changes_nothing(client):
    cv = "https://data.meridian.example/aims/system/cv-screening"
    listed = client.get("/api/eu-ai-act", query_string={"node": cv}).get_json()["classifications"]
    assert [(c["category"], c["basis"]) for c in listed] == [(EUAIA + "HighRisk", EUAIA + "AnnexIII-4-a")]
    assert listed[0]["obligations"] and listed[0]["roles"] == [EUAIA + "Deployer"]
    before = client.get("/api/eu-ai-act").get_json()
    assert before["count"] == 13 and {r["node"] for r in before["nodes"]} >= {cv}  # 12 systems and the GPAI model
    first = client.get("/api/eu-ai-act", query_string={"limit": 5})
    assert len(first.get_json()["nodes"]) == 5 and 'rel="next"' in first.headers["Link"]
    assert client.get("/api/eu-ai-act", query_string={"limit": 0}).status_code == 400
    chatbot = "https://data.meridian.example/aims/system/customer-service-chatbot"
    chatbot_before = client.get("/api/eu-ai-act", query_string={"node": chatbot}).get_json()
    answer = client.post(
        "/api/eu-ai-act/what-if",
        json={
            "node": chatbot,
            "add": [{"predicate": AIMS + "hasCapability", "object": "https://w3id.org/vair#EmotionRecognition"}],
        },
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["categoriesRemoved"] == [] and body["obligationsAdded"]  # Art. 50(3) adds the deployer's duty to inform
    assert any(c["basis"] == EUAIA + "Art50-3" for c in body["after"])
    assert not any(c["basis"] == EUAIA + "Art50-3" for c in body["before"])
    moved = {"predicate": AIMS + "inEUScope", "value": False}
    out = client.post(
        "/api/eu-ai-act/what-if", json={"node": cv, "add": [moved], "remove": [{**moved, "value": True}]}
    ).get_json()
    assert out["categoriesAdded"] == [EUAIA + "OutOfScope"] and EUAIA + "HighRisk" in out["categoriesRemoved"]
    after = client.get("/api/eu-ai-act").get_json()
    assert after == before and client.get("/api/eu-ai-act", query_string={"node": chatbot}).get_json() == chatbot_before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"node": "not an iri"}, 400, "absolute IRI"),
        ({"node": "https://nowhere.example/x"}, 404, "no AI system or model"),
        ({"node": "https://data.meridian.example/aims/system/cv-screening", "add": [{"predicate": "p"}]}, 400, "each statement"),
        ({"node": "https://data.meridian.example/aims/system/cv-screening", "add": [{}] * 51}, 400, "at most 50"),
    ],
)
def test_a_bad_what_if_is_refused_with_its_reason(client, body, status, message):
    answer = client.post("/api/eu-ai-act/what-if", json=body)
    assert answer.status_code == status and message in answer.get_data(as_text=True)


# -- incremental refresh -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [3, 8])
def test_incremental_refresh_equals_a_full_one_after_random_edits(seed):
    """Writes that touch scope, purposes, subjects, the typing of a subject group, roles and
    derogation claims: after each, the graph refreshed from the write's delta equals the graph
    computed from scratch."""
    from aimsgraph.store.changes import Delta
    from benchmarks.generate import generate

    store = fresh_store()
    data = ox.NamedNode(Graphs.DATA)
    store.extend(
        ox.Quad(t.subject, t.predicate, t.object, data)
        for t in ox.parse(generate(60, seed=seed).encode(), format=ox.RdfFormat.N_TRIPLES)
    )
    applicability.refresh_applicability(store)
    rng = random.Random(seed)
    systems = sorted({q.subject.value for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "AISystem"), data)})
    groups = sorted({q.subject.value for q in store.quads(None, ox.NamedNode(AIMS + "hasStakeholderRole"), None, data)})
    models = sorted({q.subject.value for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Model"), data)})
    datasets = sorted({q.subject.value for q in store.quads(None, ox.NamedNode(RDF_TYPE), ox.NamedNode(AIMS + "Dataset"), data)})
    yes = ox.Literal("true", datatype=ox.NamedNode(XSD_BOOLEAN))
    vair = "https://w3id.org/vair#"
    choices = [
        # what the risk suggestion rules read, over several hops
        lambda: (rng.choice(models), AIMS + "isGeneralPurposeAIModel", yes),
        lambda: (rng.choice(models), AIMS + "suppliedBy", ox.NamedNode("https://bench.example/org/supplier/x")),
        lambda: (rng.choice(models), AIMS + "trainedOn", ox.NamedNode(rng.choice(datasets))),
        lambda: (rng.choice(datasets), AIMS + "containsPersonalData", yes),
        lambda: (rng.choice(systems), AIMS + "interactsWithNaturalPersons", yes),
        lambda: (rng.choice(systems), AIMS + "usesModel", ox.NamedNode(rng.choice(models))),
        lambda: (
            rng.choice(systems),
            AIMS + "inEUScope",
            ox.Literal(rng.choice(["true", "false"]), datatype=ox.NamedNode(XSD_BOOLEAN)),
        ),
        lambda: (
            rng.choice(systems),
            AIMS + "hasPurpose",
            ox.NamedNode(vair + rng.choice(["AssessingCreditworthiness", "JobApplicationScreening", "Recruiting"])),
        ),
        lambda: (
            rng.choice(systems),
            AIMS + "applicationDomain",
            ox.NamedNode(AIMS + rng.choice(["Employment", "FinancialServices"])),
        ),
        lambda: (rng.choice(systems), AIMS + "hasAISubject", ox.NamedNode(rng.choice(groups))),
        lambda: (rng.choice(groups), RDF_TYPE, ox.NamedNode(vair + rng.choice(["NaturalPerson", "JobApplicant"]))),
        lambda: (rng.choice(systems), AIMS + "claimsDerogation", ox.NamedNode(EUAIA + "Art6-3-a")),
        lambda: (rng.choice(systems), AIMS + "hasCapability", ox.NamedNode(vair + "Profiling")),
        lambda: (rng.choice(systems), AIMS + "regulatoryRole", ox.NamedNode(EUAIA + rng.choice(["Provider", "Deployer"]))),
    ]
    for _ in range(60):
        s, p, o = rng.choice(choices)()
        quad = ox.Quad(ox.NamedNode(s), ox.NamedNode(p), o, data)
        delta = Delta(removed={quad}) if store.contains(quad) else Delta(added={quad})
        store.replace_quads(remove=delta.removed, add=delta.added)
        applicability.refresh_applicability(store, delta)
        stored = {q for q in store.quads(None, None, None, applicability.GRAPH) if q.predicate.value != PROV_GENERATED_AT}
        assert stored == applicability.graph_content(store), (s, p, o)
