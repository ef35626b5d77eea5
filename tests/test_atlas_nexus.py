"""AI Atlas Nexus import: what the store holds matches the YAML files, taxonomy by taxonomy; each
scheme keeps its source, version and licence; bad input changes nothing."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import yaml
from click.testing import Result

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers.atlas_nexus import AtlasNexusReport, import_atlas_nexus
from aimsgraph.namespaces import AIMS, DCT, NIST, OWL, PROV, SKOS, TAXONOMY_BASE, Graphs
from aimsgraph.store import GraphStore, changes
from conftest import aimsgraph

DATA = resources.path("data", "atlas-nexus")
#: The shipped files, by name, read here on their own (not through the importer).
FILES = {
    "nist_ai_rmf_data.yaml": DATA / "nist_ai_rmf_data.yaml",
    "nist_ai_rmf_actions_data.yaml": DATA / "nist_ai_rmf_actions_data.yaml",
    "risk_atlas_data.yaml": DATA / "risk_atlas_data.yaml",
    "mit_ai_risk_repository_data.yaml": DATA / "mit_ai_risk_repository_data.yaml",
    "owasp_llm_2.0_data.yaml": DATA / "owasp" / "owasp_llm_2.0_data.yaml",
    "owasp_asi_data.yaml": DATA / "owasp" / "owasp_asi_data.yaml",
}
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
PREFIXES = f"PREFIX aims: <{AIMS}>\nPREFIX skos: <{SKOS}>\nPREFIX dct: <{DCT}>\nPREFIX owl: <{OWL}>\nPREFIX prov: <{PROV}>\n"


@pytest.fixture(scope="module")
def files() -> dict[str, dict]:
    return {name: yaml.safe_load(path.read_text(encoding="utf-8")) for name, path in FILES.items()}


def items(files: dict[str, dict], kind: str, taxonomy: str | None = None) -> list[dict]:
    """Every ``kind`` item (taxonomies, groups, entries, actions) of the files, of one taxonomy."""
    found = [item for document in files.values() for item in document.get(kind) or []]
    return [i for i in found if taxonomy is None or i.get("isDefinedByTaxonomy", i["id"]) == taxonomy]


@pytest.fixture(scope="module")
def taxonomies(files: dict[str, dict]) -> dict[str, dict]:
    return {t["id"]: t for t in items(files, "taxonomies")}


@pytest.fixture(scope="module")
def imported() -> tuple[GraphStore, AtlasNexusReport]:
    store = GraphStore(None)
    store.initialise(demo=False)
    return store, import_atlas_nexus(store, DATA)


@pytest.fixture(scope="module")
def store(imported: tuple[GraphStore, AtlasNexusReport]) -> GraphStore:
    return imported[0]


@pytest.fixture(scope="module")
def report(imported: tuple[GraphStore, AtlasNexusReport]) -> AtlasNexusReport:
    return imported[1]


def select(store: GraphStore, where: str, *names: str) -> set:
    """Rows of ``where`` in the taxonomies graph: the value of one variable (x), or tuples."""
    names = names or ("x",)
    rows = store.query(
        f"{PREFIXES}SELECT {' '.join('?' + n for n in names)} WHERE {{ GRAPH <{Graphs.TAXONOMIES}> {{ {where} }} }}"
    )
    values = [tuple(row[n].value if row[n] is not None else None for n in names) for row in rows]
    return {v[0] if len(names) == 1 else v for v in values}


def scheme(taxonomy: str) -> str:
    return TAXONOMY_BASE + taxonomy


def concept(taxonomy: str, ident: str) -> str:
    return f"{TAXONOMY_BASE}{taxonomy}/{ident}"


def taxonomy_graph(store: GraphStore) -> set[str]:
    return set(store.dump([Graphs.TAXONOMIES]).decode().splitlines())


# -- what the store holds -------------------------------------------------------------------


def test_the_six_taxonomies_are_imported(report: AtlasNexusReport, taxonomies: dict[str, dict], store: GraphStore):
    assert set(taxonomies) == {
        "nist-ai-rmf",
        "ibm-risk-atlas",
        "mit-ai-risk-repository",
        "mit-ai-risk-repository-causal",
        "owasp-llm-2.0",
        "owasp-asi",
    }
    assert [t.taxonomy for t in report.taxonomies] == list(taxonomies)
    assert select(store, "?x a skos:ConceptScheme") == {scheme(t) for t in taxonomies}


@pytest.mark.parametrize(
    "taxonomy",
    ["nist-ai-rmf", "ibm-risk-atlas", "mit-ai-risk-repository", "mit-ai-risk-repository-causal", "owasp-llm-2.0", "owasp-asi"],
)
def test_counts_per_taxonomy_match_the_files(store: GraphStore, report: AtlasNexusReport, files: dict[str, dict], taxonomy: str):
    groups = {g["id"] for g in items(files, "groups", taxonomy)}
    entries = {e["id"] for e in items(files, "entries", taxonomy)}
    actions = {a["id"] for a in items(files, "actions", taxonomy)}
    assert entries and not groups & entries and not actions & (groups | entries)

    def notations(where: str) -> set[str]:
        return select(store, f"?c skos:inScheme <{scheme(taxonomy)}> ; skos:notation ?x . {where}")

    assert notations("?c a skos:Concept") == groups | entries | actions
    assert notations("?c skos:topConceptOf ?s") >= groups
    risk_sources = taxonomy != "mit-ai-risk-repository-causal"  # the causal facets' values classify risks
    assert notations("?c a aims:RiskSource") == (entries if risk_sources else set())
    assert notations("?c a aims:SuggestedAction") == actions
    assert notations("?c skos:definition ?d") == {
        i["id"] for kind in ("groups", "entries", "actions") for i in items(files, kind, taxonomy) if i.get("description")
    }

    [counts] = [t for t in report.taxonomies if t.taxonomy == taxonomy]
    assert (counts.groups, counts.entries, counts.actions, counts.risk_sources) == (
        len(groups),
        len(entries),
        len(actions),
        risk_sources,
    )


def test_the_report_counts_the_triples_it_wrote(store: GraphStore, report: AtlasNexusReport):
    assert report.triples == len(taxonomy_graph(store)) > 0
    assert report.added == report.triples and report.removed == 0 and report.change
    assert f"<{Graphs.TAXONOMIES}>" in report.summary()
    data = json.loads(json.dumps(report.as_dict()))
    assert data["triples"] == report.triples and data["taxonomies"][0]["taxonomy"] == "nist-ai-rmf"
    assert {"groups", "entries", "actions", "actionRiskLinks", "subcategoryLinks", "license", "version"} <= set(
        data["taxonomies"][0]
    )


def test_risks_sit_under_the_groups_the_files_name(store: GraphStore, files: dict[str, dict], report: AtlasNexusReport):
    groups = {g["id"] for g in items(files, "groups")}
    expected, repaired = set(), 0
    for entry in items(files, "entries"):
        if "isPartOf" not in entry:
            continue
        group = entry["isPartOf"]
        if group not in groups:  # release 1.2.5 spells one group of the IBM AI Risk Atlas with a capital P
            [group] = [g for g in groups if g.lower() == group.lower()]
            repaired += 1
        taxonomy = entry["isDefinedByTaxonomy"]
        expected.add((concept(taxonomy, entry["id"]), concept(taxonomy, group)))
    assert select(store, "?s skos:broader ?o", "s", "o") == expected
    assert repaired == 9
    assert sum(t.groups_matched_ignoring_case for t in report.taxonomies) == repaired
    entries = {e["id"] for e in items(files, "entries") if "isPartOf" not in e}
    assert {x.rsplit("/", 1)[1] for x in select(store, "?x skos:topConceptOf ?s ; a aims:RiskSource")} == entries


def test_an_entry_keeps_its_upstream_id_name_text_and_page(store: GraphStore, files: dict[str, dict]):
    [evasion] = [e for e in items(files, "entries", "ibm-risk-atlas") if e["id"] == "atlas-evasion-attack"]
    node = f"<{concept('ibm-risk-atlas', 'atlas-evasion-attack')}>"
    assert select(store, f"{node} skos:notation ?x") == {"atlas-evasion-attack"}
    assert select(store, f"{node} skos:prefLabel ?x") == {evasion["name"]}
    assert select(store, f"{node} <http://www.w3.org/2000/01/rdf-schema#label> ?x") == {evasion["name"]}
    assert select(store, f"{node} skos:definition ?x") == {evasion["description"].strip()}
    assert select(store, f"{node} <http://www.w3.org/2000/01/rdf-schema#seeAlso> ?x") == {evasion["url"]}
    assert select(store, f"{node} dct:modified ?x") == {evasion["dateModified"]}
    assert select(store, f"{node} skos:inScheme ?x") == {scheme("ibm-risk-atlas")}
    group = concept("ibm-risk-atlas", "ibm-risk-atlas-robustness-model-behavior-manipulation")
    assert select(store, f"{node} skos:broader ?x") == {group}


# -- NIST AI 600-1 ---------------------------------------------------------------------------


def test_nist_600_1_has_12_risks(store: GraphStore, files: dict[str, dict]):
    risks = select(store, f"?x skos:inScheme <{scheme('nist-ai-rmf')}> ; a aims:RiskSource")
    assert len(risks) == 12 == len(files["nist_ai_rmf_data.yaml"]["entries"])
    assert concept("nist-ai-rmf", "nist-confabulation") in risks


def test_every_action_links_to_600_1_risks_and_to_its_rmf_subcategory(store: GraphStore, files: dict[str, dict]):
    actions = files["nist_ai_rmf_actions_data.yaml"]["actions"]
    risks = select(store, f"?x skos:inScheme <{scheme('nist-ai-rmf')}> ; a aims:RiskSource")

    # the links as the actions file states them; the risks file states the same ones from its side
    stated = {(concept("nist-ai-rmf", a["id"]), concept("nist-ai-rmf", r)) for a in actions for r in a.get("hasRelatedRisk", [])}
    mirrored = {
        (concept("nist-ai-rmf", a), concept("nist-ai-rmf", r["id"]))
        for r in files["nist_ai_rmf_data.yaml"]["entries"]
        for a in r.get("hasRelatedAction", [])
    }
    assert stated == mirrored
    links = select(store, "?a aims:addressesRisk ?r", "a", "r")
    assert links == stated and {r for _, r in links} <= risks
    without = {a["id"] for a in actions if not a.get("hasRelatedRisk")}
    assert len({a for a, _ in links}) == len(actions) - len(without)  # 20 actions of 1.2.5 name no risk

    under = select(store, "?a aims:suggestedUnder ?s", "a", "s")
    assert len(under) == len(actions) == len({a for a, _ in under})  # one subcategory each
    for action, subcategory in under:
        ident = action.rsplit("/", 1)[1]
        assert subcategory == NIST + ident.rsplit("-", 1)[0]
        assert re.fullmatch(r"(GV|MP|MS|MG)-[0-9]+\.[0-9]+", subcategory.removeprefix(NIST))
    assert (concept("nist-ai-rmf", "GV-1.2-002"), NIST + "GV-1.2") in under
    assert (concept("nist-ai-rmf", "MS-2.13-001"), NIST + "MS-2.13") in under

    tasks = select(store, f"<{concept('nist-ai-rmf', 'GV-1.1-001')}> aims:aiActorTask ?x")
    assert tasks == {"Governance and Oversight"}


def test_linked_subcategories_are_in_the_nist_ai_rmf_catalogue(store: GraphStore):
    linked = select(store, "?a aims:suggestedUnder ?x")
    rows = store.query(f"SELECT DISTINCT ?s WHERE {{ GRAPH <{Graphs.FRAMEWORKS}> {{ ?s ?p ?o }} }}")
    defined = {row["s"].value for row in rows}
    assert sorted(linked - defined) == []


# -- source, version and licence per scheme --------------------------------------------------


def test_every_scheme_keeps_its_source_version_and_licence(store: GraphStore, taxonomies: dict[str, dict]):
    for ident, taxonomy in taxonomies.items():
        node = f"<{scheme(ident)}>"
        assert select(store, f"{node} dct:title ?x") == {taxonomy["name"]}
        assert select(store, f"{node} dct:source ?x") == {taxonomy["url"]}
        version = str(taxonomy["version"]) if "version" in taxonomy else "ai-atlas-nexus 1.2.5"
        assert select(store, f"{node} dct:hasVersion ?x") == {version} == select(store, f"{node} owl:versionInfo ?x")
        [licence] = select(store, f"{node} dct:license ?x FILTER(isIRI(?x))")
        [rights] = select(store, f"{node} dct:rights ?x")
        assert licence.startswith("https://") and rights
        assert select(store, f"{node} prov:wasDerivedFrom ?x") == {"https://pypi.org/project/ai-atlas-nexus/1.2.5/"}
    assert {t: select(store, f"<{scheme(t)}> dct:hasVersion ?x") for t in ("owasp-llm-2.0", "owasp-asi")} == {
        "owasp-llm-2.0": {"2.0"},
        "owasp-asi": {"2026"},
    }


def test_the_owasp_schemes_say_cc_by_sa_and_the_others_their_own_terms(store: GraphStore):
    licences = dict(select(store, "?s a skos:ConceptScheme ; dct:license ?l", "s", "l"))
    for taxonomy in ("owasp-llm-2.0", "owasp-asi"):
        assert licences[scheme(taxonomy)] == CC_BY_SA
        [rights] = select(store, f"<{scheme(taxonomy)}> dct:rights ?x")
        assert "CC BY-SA 4.0" in rights and "OWASP" in rights
    assert licences[scheme("ibm-risk-atlas")] == "https://www.apache.org/licenses/LICENSE-2.0"
    assert licences[scheme("mit-ai-risk-repository")] == "https://creativecommons.org/licenses/by/4.0/"
    assert licences[scheme("nist-ai-rmf")] == "https://creativecommons.org/publicdomain/mark/1.0/"
    assert not [s for s, licence in licences.items() if s.startswith(TAXONOMY_BASE + "owasp") != (licence == CC_BY_SA)]


def test_the_shipped_owasp_files_sit_apart_with_their_licence_note():
    note = (DATA / "owasp" / "LICENSE-NOTE.md").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in note and CC_BY_SA in note
    assert sorted(p.name for p in (DATA / "owasp").glob("*.yaml")) == ["owasp_asi_data.yaml", "owasp_llm_2.0_data.yaml"]
    assert not list(DATA.glob("owasp*.yaml"))


def test_third_party_mappings_are_not_presented_as_reviewed(store: GraphStore):
    """The package's mappings are not imported (the module says why); nothing in the graph is an
    SSSOM mapping, reviewed or not, nor a SKOS mapping triple."""
    sssom = "https://w3id.org/sssom/"
    assert select(store, f"?x a <{sssom}Mapping>") == set()
    assert select(store, f"?x <{sssom}reviewer_id> ?r") == set()
    assert select(store, "?x skos:exactMatch|skos:closeMatch|skos:broadMatch|skos:narrowMatch|skos:relatedMatch ?y") == set()


def test_the_ontology_declares_every_aims_term_the_import_writes(store: GraphStore):
    ontology = rdflib.Graph()
    for path in resources.ontology_files():
        ontology.parse(path, format="turtle")
    used = {t for row in store.quads(None, None, None, ox.NamedNode(Graphs.TAXONOMIES)) for t in (row.predicate, row.object)}
    terms = {rdflib.URIRef(t.value) for t in used if isinstance(t, ox.NamedNode) and t.value.startswith(AIMS)}
    assert {str(t).removeprefix(AIMS) for t in terms} == {
        "RiskSource",
        "SuggestedAction",
        "addressesRisk",
        "suggestedUnder",
        "aiActorTask",
    }
    for term in terms:
        for predicate in ("http://www.w3.org/2000/01/rdf-schema#label", SKOS + "definition", DCT + "source"):
            assert ontology.value(term, rdflib.URIRef(predicate)) is not None, (term, predicate)
        defined_by = rdflib.URIRef("http://www.w3.org/2000/01/rdf-schema#isDefinedBy")
        assert ontology.value(term, defined_by) == rdflib.URIRef("https://w3id.org/aimsgraph/ontology")


# -- importing again, and bad input ----------------------------------------------------------


def test_importing_twice_leaves_the_same_graph(store: GraphStore, report: AtlasNexusReport):
    before = taxonomy_graph(store)
    again = import_atlas_nexus(store, DATA)
    assert taxonomy_graph(store) == before
    assert again == report and (again.added, again.removed, again.change) == (0, 0, None)


def test_a_directory_laid_out_like_the_package_imports_the_same(store: GraphStore, tmp_path: Path):
    flat = tmp_path / "knowledge_graph"
    flat.mkdir()
    for path in FILES.values():
        shutil.copy(path, flat / path.name)
    before = taxonomy_graph(store)
    assert import_atlas_nexus(store, flat).change is None
    assert taxonomy_graph(store) == before


def test_the_import_replaces_what_it_owns_and_nothing_else():
    store = GraphStore(None)
    graph = ox.NamedNode(Graphs.TAXONOMIES)
    stale = ox.Quad(
        ox.NamedNode(concept("ibm-risk-atlas", "atlas-withdrawn")), ox.NamedNode(SKOS + "notation"), ox.Literal("x"), graph
    )
    other = ox.Quad(ox.NamedNode(concept("another-taxonomy", "r1")), ox.NamedNode(SKOS + "notation"), ox.Literal("r1"), graph)
    changes.local_writer(store, "test")(changes.Delta(added={stale, other}))
    report = import_atlas_nexus(store, DATA)
    held = set(store.quads(None, None, None, graph))
    assert stale not in held and other in held and report.removed == 1
    assert [c.operation for c in changes.history(store)][-1] == "import-atlas-nexus"  # journalled


def _copy(tmp_path: Path) -> Path:
    directory = tmp_path / "atlas-nexus"
    shutil.copytree(DATA, directory)
    return directory


def _edit(name: str, change: Callable[[dict], None]) -> Callable[[Path], Path]:
    def apply(directory: Path) -> Path:
        path = directory / name if (directory / name).exists() else directory / "owasp" / name
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(document)
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return path

    return apply


def _write(name: str, text: str) -> Callable[[Path], Path]:
    def apply(directory: Path) -> Path:
        path = directory / name
        path.write_text(text, encoding="utf-8")
        return path

    return apply


def _remove(name: str) -> Callable[[Path], Path]:
    def apply(directory: Path) -> Path:
        (directory / name).unlink()
        return directory

    return apply


def _first(kind: str, **values: object) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        document[kind][0].update(values)

    return change


def _add_action(ident: str) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        document["actions"].append({"id": ident, "name": ident, "isDefinedByTaxonomy": "nist-ai-rmf"})

    return change


def _drop_name(document: dict) -> None:
    del document["entries"][0]["name"]


@pytest.mark.parametrize(
    "breakage",
    [
        _write("risk_atlas_data.yaml", "entries: [unclosed\n  - id: x\n"),  # not YAML
        _write("nist_ai_rmf_data.yaml", "!!python/object/apply:os.system ['true']\n"),  # safe_load constructs nothing
        _write("nist_ai_rmf_actions_data.yaml", "- just\n- a list\n"),
        _remove("nist_ai_rmf_actions_data.yaml"),
        _edit("nist_ai_rmf_actions_data.yaml", _first("actions", hasRelatedRisk=["nist-no-such-risk"])),
        _edit("nist_ai_rmf_actions_data.yaml", _add_action("GV-1")),  # names no subcategory
        _edit("risk_atlas_data.yaml", _first("entries", isPartOf="ibm-risk-atlas-no-such-group")),
        _edit("risk_atlas_data.yaml", _first("entries", id="atlas-x> <urn:x")),
        _edit("risk_atlas_data.yaml", _first("entries", isDefinedByTaxonomy="no-such-taxonomy")),
        _edit("owasp_asi_data.yaml", _first("taxonomies", id="owasp-asi-2027")),  # no licence known
        _edit("mit_ai_risk_repository_data.yaml", _drop_name),
    ],
)
def test_bad_input_raises_invalid_input_and_changes_nothing(store: GraphStore, tmp_path: Path, breakage):
    directory = _copy(tmp_path)
    named = breakage(directory)
    before = taxonomy_graph(store)
    with pytest.raises(InvalidInput) as raised:
        import_atlas_nexus(store, directory)
    assert "\n" not in raised.value.message and str(named) in raised.value.message
    assert taxonomy_graph(store) == before


def test_the_release_is_recorded_and_must_be_a_version():
    store = GraphStore(None)
    import_atlas_nexus(store, DATA, release="1.3.0")
    assert select(store, f"<{scheme('ibm-risk-atlas')}> owl:versionInfo ?x") == {"ai-atlas-nexus 1.3.0"}
    assert select(store, f"<{scheme('owasp-asi')}> owl:versionInfo ?x") == {"2026"}  # the file's own
    assert select(store, "?s prov:wasDerivedFrom ?x") == {"https://pypi.org/project/ai-atlas-nexus/1.3.0/"}
    with pytest.raises(InvalidInput, match="release"):
        import_atlas_nexus(store, DATA, release="1.3 <urn:x>")


def test_a_missing_directory_raises_invalid_input(store: GraphStore, tmp_path: Path):
    with pytest.raises(InvalidInput, match=r"cannot read .*nope: no such directory"):
        import_atlas_nexus(store, tmp_path / "nope")


# -- the command -----------------------------------------------------------------------------


def cli(*args: str | Path, data_dir: Path) -> Result:
    """``aimsgraph import atlas-nexus ARGS`` in this process, as the console script runs it."""
    return aimsgraph("import", "atlas-nexus", *args, "--data-dir", data_dir)


def test_cli_imports_the_shipped_copy_once_and_reports_bad_input(tmp_path: Path):
    db = tmp_path / "db"
    done = cli(data_dir=db)
    assert done.exit_code == 0, done.stderr
    assert Graphs.TAXONOMIES in done.stdout and "nist-ai-rmf" in done.stdout and "12 risks" in done.stdout

    again = cli("--report-format", "json", data_dir=db)
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["added"], report["removed"], report["change"]) == (0, 0, None)
    assert [t["taxonomy"] for t in report["taxonomies"]][:2] == ["nist-ai-rmf", "ibm-risk-atlas"]

    broken = _copy(tmp_path)
    (broken / "owasp" / "owasp_llm_2.0_data.yaml").write_text("taxonomies: [ {id: x\n", encoding="utf-8")
    store = GraphStore(db)
    before = taxonomy_graph(store)
    del store
    failed = cli(broken, data_dir=db)
    assert failed.exit_code == 2 and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1 and "owasp_llm_2.0_data.yaml" in failed.stderr

    missing = cli(tmp_path / "nope", data_dir=db)
    assert missing.exit_code == 2 and "nope" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1

    store = GraphStore(db)
    assert taxonomy_graph(store) == before  # bad input changed nothing
    assert store.is_current(Graphs.INFERRED)
    assert [c.operation for c in changes.history(store)].count("import-atlas-nexus") == 1  # the second import wrote nothing
    rows = store.query(f"ASK {{ <{concept('owasp-asi', 'asi01-agent-goal-hijack')}> a <{AIMS}RiskSource> }}")
    assert bool(rows)
    del store
