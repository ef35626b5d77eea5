"""Finding the declarative folders (ontology/, shapes/, queries/, data/) at run time.

A wheel carries them inside the package (``aimsgraph/_resources``); a source checkout or an
editable install reads them from the repository root. Nothing else in the code builds paths
to these folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

FOLDERS = ("ontology", "shapes", "queries", "data")


@cache
def root() -> Path:
    """The directory holding ontology/, shapes/, queries/ and data/."""
    packaged = Path(__file__).parent / "_resources"
    if (packaged / "ontology").is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "ontology").is_dir():
        return checkout
    raise FileNotFoundError("aimsgraph cannot find its ontology/ folder: reinstall the package (pip install .)")


def path(folder: str, *parts: str) -> Path:
    """Path of a file or folder under one of the declarative folders."""
    if folder not in FOLDERS:
        raise ValueError(f"unknown resource folder {folder!r}")
    return root().joinpath(folder, *parts)


def ontology_files() -> list[Path]:
    """The ontology modules loaded into the ontology graph."""
    return sorted(path("ontology").glob("*.ttl"))


def catalogue_files() -> list[Path]:
    """Reference content loaded into the catalogue graph: ISO/IEC 42001, risk matrices and
    crosswalks (mappings to other vocabularies)."""
    return [file for folder in ("iso42001", "risk-matrices", "crosswalks") for file in sorted(path("data", folder).glob("*.ttl"))]


def framework_files() -> list[Path]:
    """Other frameworks, loaded into the frameworks graph: the EU AI Act and the NIST AI RMF
    catalogues, the applicability rules, and the risk suggestion rules."""
    return [
        file
        for folder in ("eu-ai-act", "nist-ai-rmf", "risk-identification")
        for file in sorted(path("data", folder).glob("*.ttl"))
    ]


def vocabulary_files() -> list[Path]:
    """The published vocabularies (AIRO, VAIR, DPV) loaded, unmodified, into their own graph."""
    return sorted(path("data", "vocabularies").rglob("*.ttl"))


def demo_files() -> list[Path]:
    """The demo organisation, loaded into the data graph of an empty store."""
    return sorted(path("data", "demo").glob("*.ttl"))
