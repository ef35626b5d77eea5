"""The on-disk store: first start, idempotent restarts, atomic loads, safe parsing, export."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from aimsgraph.errors import InvalidInput
from aimsgraph.namespaces import Graphs
from aimsgraph.store import GraphStore

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <%s> { ?s ?p ?o } }"


def count(store: GraphStore, graph: str) -> int:
    return int(next(iter(store.query(COUNT % graph)))["n"].value)


def reopen(path: Path) -> GraphStore:
    return GraphStore(path)


def test_first_start_loads_reference_graphs_and_demo_then_restarts_reuse_them(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    actions = store.initialise(demo=True)
    assert actions == {
        Graphs.ONTOLOGY: "loaded",
        Graphs.CATALOGUE: "loaded",
        Graphs.FRAMEWORKS: "loaded",
        Graphs.VOCABULARIES: "loaded",
        Graphs.DATA: "loaded demo",
    }
    sizes = store.graph_sizes()
    assert sizes[Graphs.ONTOLOGY] > 500 and sizes[Graphs.CATALOGUE] > 1000 and sizes[Graphs.DATA] > 1000
    del store

    again = reopen(tmp_path / "db")
    assert again.initialise(demo=True) == {
        Graphs.ONTOLOGY: "up to date",
        Graphs.CATALOGUE: "up to date",
        Graphs.FRAMEWORKS: "up to date",
        Graphs.VOCABULARIES: "up to date",
    }
    assert again.graph_sizes() == sizes


def test_no_demo_leaves_the_data_graph_empty(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    store.initialise(demo=False)
    assert count(store, Graphs.DATA) == 0
    assert count(store, Graphs.CATALOGUE) > 0


def test_changed_reference_content_replaces_the_graph_atomically(tmp_path: Path):
    store = GraphStore(None)
    first = tmp_path / "a.ttl"
    first.write_text("<urn:a> <urn:p> 1 .\n<urn:b> <urn:p> 2 .\n")
    assert store._sync_reference(Graphs.ONTOLOGY, [first]) == "loaded"
    assert store._sync_reference(Graphs.ONTOLOGY, [first]) == "up to date"
    first.write_text("<urn:c> <urn:p> 3 .\n")
    assert store._sync_reference(Graphs.ONTOLOGY, [first]) == "loaded"
    subjects = {row["s"].value for row in store.query(f"SELECT ?s WHERE {{ GRAPH <{Graphs.ONTOLOGY}> {{ ?s <urn:p> ?o }} }}")}
    assert subjects == {"urn:c"}


REFERENCE_GRAPHS = (Graphs.ONTOLOGY, Graphs.CATALOGUE, Graphs.FRAMEWORKS, Graphs.VOCABULARIES)


def without_blank_nodes(store: GraphStore, graph: str) -> set[ox.Quad]:
    return {
        q
        for q in store.quads(graph=ox.NamedNode(graph))
        if not isinstance(q.subject, ox.BlankNode | ox.Triple) and not isinstance(q.object, ox.BlankNode | ox.Triple)
    }


def test_on_disk_and_in_memory_the_reference_graphs_are_the_same(tmp_path: Path):
    """On disk the reference files are parsed first and written with one bulk write a graph; in
    memory the backend parses each as it loads it. The same triples either way, and the blank
    nodes of two files kept apart (``_:b0`` in two files is two nodes: merged, 183 triples went)."""
    on_disk, in_memory = GraphStore(tmp_path / "db"), GraphStore(None)
    on_disk.initialise(demo=False)
    in_memory.initialise(demo=False)
    assert on_disk.graph_sizes() == in_memory.graph_sizes()
    for graph in REFERENCE_GRAPHS:
        assert without_blank_nodes(on_disk, graph) == without_blank_nodes(in_memory, graph), graph


def test_a_syntax_error_in_a_reference_file_on_disk_leaves_the_graph_as_it_was(tmp_path: Path):
    store = GraphStore(tmp_path / "db")
    good, bad = tmp_path / "good.ttl", tmp_path / "bad.ttl"
    good.write_text("<urn:a> <urn:p> 1 .\n")
    assert store._sync_reference(Graphs.ONTOLOGY, [good]) == "loaded"
    before = set(store.quads(graph=ox.NamedNode(Graphs.ONTOLOGY)))
    good.write_text("<urn:b> <urn:p> 2 .\n")
    bad.write_text("<urn:c> <urn:p> .\n")
    with pytest.raises(InvalidInput, match=r"bad\.ttl"):
        store._sync_reference(Graphs.ONTOLOGY, [good, bad])
    assert set(store.quads(graph=ox.NamedNode(Graphs.ONTOLOGY))) == before  # the old content and its digest


def test_a_syntax_error_in_the_last_line_loads_nothing(tmp_path: Path):
    good = tmp_path / "good.ttl"
    good.write_text("<urn:x> <urn:p> <urn:y> .\n")
    bad = tmp_path / "bad.ttl"
    bad.write_text("".join(f"<urn:s{i}> <urn:p> {i} .\n" for i in range(1000)) + "<urn:broken> <urn:p> .\n")
    store = GraphStore(tmp_path / "db")
    with pytest.raises(InvalidInput, match=r"bad\.ttl"):
        store.load_files([good, bad])
    assert count(store, Graphs.DATA) == 0


def test_load_counts_and_targets_the_named_graph(tmp_path: Path):
    data = tmp_path / "data.nt"
    data.write_text("<urn:x> <urn:p> <urn:y> .\n<urn:x> <urn:p> <urn:z> .\n")
    store = GraphStore(tmp_path / "db")
    [report] = store.load_files([data], graph="https://example.org/graph/extra")
    assert report.quads == 2
    assert count(store, "https://example.org/graph/extra") == 2


def test_unknown_extension_is_refused(tmp_path: Path):
    odd = tmp_path / "data.xyz"
    odd.write_text("")
    with pytest.raises(InvalidInput, match="--format"):
        GraphStore(None).load_files([odd])


def test_rdf_xml_external_entities_are_not_resolved(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = tmp_path / "xxe.rdf"
    doc.write_text(
        f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY leak SYSTEM "{secret.as_uri()}"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">
  <rdf:Description rdf:about="http://example.org/x"><ex:p>&leak;</ex:p></rdf:Description>
</rdf:RDF>
"""
    )
    store = GraphStore(None)
    try:
        store.load_files([doc])
    except InvalidInput:
        return  # refusing the document is as safe as ignoring the entity
    values = [row["o"].value for row in store.query("SELECT ?o WHERE { ?s ?p ?o }")]
    assert not any("TOP-SECRET" in value for value in values)


def test_extract_gives_an_rdflib_graph_of_the_chosen_graphs(demo_store: GraphStore):
    graph = demo_store.extract([Graphs.CATALOGUE])
    assert len(graph) == demo_store.graph_sizes()[Graphs.CATALOGUE]


def test_dump_round_trips_through_trig(tmp_path: Path, demo_store: GraphStore):
    dumped = demo_store.dump(None, ox.RdfFormat.TRIG)
    copy = GraphStore(tmp_path / "copy")
    path = tmp_path / "all.trig"
    path.write_bytes(dumped)
    copy.load_files([path])
    assert copy.graph_sizes() == demo_store.graph_sizes()


def test_progress_is_reported_while_checking_and_bulk_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import aimsgraph.store

    monkeypatch.setattr(aimsgraph.store, "BULK_LOAD_BYTES", 1000)  # make this file "big"
    data = tmp_path / "data.nt"
    data.write_text("".join(f'<urn:s{i}> <urn:p> "{i}" .\n' for i in range(20000)))
    seen: list[tuple[str, int, int]] = []
    store = GraphStore(tmp_path / "db")
    [report] = store.load_files([data], progress=lambda phase, path, done, total: seen.append((phase, done, total)))
    assert report.bulk and report.quads == 20000
    assert count(store, Graphs.DATA) == 20000
    size = data.stat().st_size
    for phase in ("checking", "loading"):
        reports = [(done, total) for p, done, total in seen if p == phase]
        assert reports and reports[-1] == (size, size)
        assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_small_files_load_in_one_transaction_and_keep_their_own_graphs(tmp_path: Path):
    triples = tmp_path / "a.ttl"
    triples.write_text("<urn:a> <urn:p> <urn:b> .\n")
    quads = tmp_path / "b.trig"
    quads.write_text("<urn:g2> { <urn:c> <urn:p> <urn:d> . }\n")
    store = GraphStore(tmp_path / "db")
    reports = store.load_files([triples, quads], graph="https://example.org/g1")
    assert [r.bulk for r in reports] == [False, False]
    assert count(store, "https://example.org/g1") == 1 and count(store, "urn:g2") == 1


def test_graph_name_must_be_an_absolute_iri(tmp_path: Path):
    data = tmp_path / "a.nt"
    data.write_text("<urn:a> <urn:p> <urn:b> .\n")
    with pytest.raises(InvalidInput, match="absolute IRI"):
        GraphStore(None).load_files([data], graph="not an iri")


def test_json_ld_remote_contexts_are_not_fetched(tmp_path: Path):
    doc = tmp_path / "remote.jsonld"
    doc.write_text('{"@context": "http://127.0.0.1:1/context.jsonld", "@id": "urn:x", "name": "y"}')
    with pytest.raises(InvalidInput, match=r"remote\.jsonld"):
        GraphStore(None).load_files([doc])
