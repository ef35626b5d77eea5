"""One vocabulary module, one error class per error (issue 19).

``aimsgraph.namespaces`` is the one place where namespace IRIs are spelled out: every other module
imports the constants (``RDF``, ``AIMS``, ``RDF_TYPE``, ``TYPE`` ...), so that none can drift. The
source is read with ``ast``: any string in code (a constant, a part of an f-string, SPARQL text
included) counts; docstrings and other bare string statements, and comments, do not. And each
error has one class, in ``aimsgraph.errors``: the forked query readers send errors back by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aimsgraph import auth, errors, namespaces
from aimsgraph.interop.importers import NothingRecognised
from aimsgraph.namespaces import Graphs
from aimsgraph.store import remote

PACKAGE = Path(__file__).resolve().parents[1] / "service" / "aimsgraph"
#: The namespaces no module but namespaces.py may spell out, without their final ``#`` or ``/``
#: (so that ``https://w3id.org/dpv`` counts as DPV's): the published vocabularies and all of
#: aimsgraph's own IRIs (ontology, shapes, catalogue, graphs, minted IRIs).
NAMESPACES = tuple(
    iri.rstrip("#/")
    for iri in (
        namespaces.RDF,
        namespaces.RDFS,
        namespaces.OWL,
        namespaces.XSD,
        namespaces.SKOS,
        namespaces.DCT,
        namespaces.DCAT,
        namespaces.PROV,
        namespaces.FOAF,
        namespaces.SH,
        namespaces.AIRO,
        namespaces.VAIR,
        namespaces.DPV,
        namespaces.SSSOM,
        namespaces.SEMAPV,
        "https://w3id.org/aimsgraph/",
    )
)


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).as_posix() != "namespaces.py")


def _spelled_out(path: Path) -> list[str]:
    """``line: text`` of each string in code in ``path`` that holds one of NAMESPACES."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in documentation:
            continue
        value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
        if isinstance(value, str) and any(ns in value for ns in NAMESPACES):
            found.append((node.lineno, f"{node.lineno}: {value.strip()[:100]}"))
    return [text for _, text in sorted(found)]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_module_but_namespaces_spells_out_a_namespace(path: Path):
    found = _spelled_out(path)
    assert not found, f"{path.relative_to(PACKAGE)} spells out namespace IRIs: import them from namespaces.py\n" + "\n".join(
        found
    )


def test_the_scan_sees_strings_in_code_and_skips_documentation(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A module about <http://www.w3.org/ns/prov#>."""\n'
        'X = "http://www.w3.org/ns/prov#used"\n'
        'Q = f"PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT * WHERE {{ <{X}> ?p ?o }}"\n'
        'D = "https://w3id.org/dpv"\n'
        'OK = f"PREFIX prov: <{X}>"  # http://www.w3.org/ns/prov#\n',
        encoding="utf-8",
    )
    assert [line.split(":")[0] for line in _spelled_out(sample)] == ["2", "3", "4"]


def test_prefixes_use_the_namespace_constants():
    assert namespaces.PREFIXES["rdf"] is namespaces.RDF and namespaces.PREFIXES["aims"] is namespaces.AIMS
    assert namespaces.TYPE.value == namespaces.RDF_TYPE == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
    assert namespaces.sparql_prefixes("aims", "xsd") == (
        "PREFIX aims: <https://w3id.org/aimsgraph/ontology#>\nPREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
    )


# -- errors ----------------------------------------------------------------------------------------


def _classes() -> dict[str, list[str]]:
    """Class name -> the modules (relative paths) that define a class of that name."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(path.relative_to(PACKAGE).as_posix())
    return found


def _error_classes() -> list[type[errors.AimsgraphError]]:
    return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.AimsgraphError)]


def test_there_is_one_remote_service_error():
    assert _classes()["RemoteServiceError"] == ["errors.py"]
    assert remote.RemoteServiceError is errors.RemoteServiceError  # what the external store raises


def test_no_module_redefines_an_error_class_of_errors_py():
    classes = _classes()
    for cls in _error_classes():
        assert classes[cls.__name__] == ["errors.py"], f"{cls.__name__} is defined again in {classes[cls.__name__]}"


@pytest.mark.parametrize("cls", [c for c in _error_classes() if c is not errors.ValidationRejected], ids=lambda c: c.__name__)
def test_errors_cross_the_reader_boundary_as_themselves(cls: type[errors.AimsgraphError]):
    sent = cls("it failed")
    received = errors.error_class(errors.error_name(sent))(sent.message)
    assert type(received) is cls and received.message == "it failed"


def test_other_errors_cross_as_the_class_of_errors_py_they_derive_from():
    assert errors.error_name(NothingRecognised("nothing")) == "InvalidInput"
    assert errors.error_class("NothingRecognised") is errors.AimsgraphError  # not a class of errors.py
    assert errors.error_class("annotations") is errors.AimsgraphError  # a name in errors.py, not an error
    assert errors.error_class("NoSuchError") is errors.AimsgraphError


def test_service_graphs_are_the_derived_graphs():
    assert auth.SERVICE_GRAPHS == frozenset(Graphs.DERIVED)
