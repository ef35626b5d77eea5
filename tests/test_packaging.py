"""Packaging and layering: the wheel carries the declarative folders; domain code has no Flask."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from aimsgraph import resources

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "service" / "aimsgraph"


def test_installed_package_finds_every_declarative_folder():
    for folder in resources.FOLDERS:
        assert resources.path(folder).is_dir(), folder
    assert resources.path("ontology", "aims.ttl").is_file()
    assert resources.path("data", "iso42001", "catalogue.ttl").is_file()
    assert resources.demo_files()


@pytest.mark.slow
def test_wheel_contains_ontology_shapes_queries_and_data(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = tmp_path.glob("aimsgraph-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "aimsgraph/_resources/ontology/aims.ttl",
        "aimsgraph/_resources/queries/ai-systems.rq",
        "aimsgraph/_resources/data/iso42001/catalogue.ttl",
        "aimsgraph/_resources/data/demo/register.ttl",
        "aimsgraph/cli.py",
        "aimsgraph/reporting/templates/report.html",
        "aimsgraph/http/web/static/style.css",
        "aimsgraph/http/web/static/vendor/yasgui/yasgui.min.js",
    ):
        assert expected in names
    assert any(n.startswith("aimsgraph/_resources/shapes/") for n in names)

    # Installed from the wheel (not from this checkout), the package finds its folders and works.
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "from aimsgraph import resources; print(resources.root())"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert where.stdout.strip() == str(target / "aimsgraph" / "_resources")
    query = subprocess.run(
        [
            sys.executable,
            "-m",
            "aimsgraph.cli",
            "query",
            "--data-dir",
            str(tmp_path / "db"),
            "SELECT (COUNT(*) AS ?n) WHERE { ?c a <https://w3id.org/aimsgraph/ontology#ReferenceControl> }",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert query.stdout.splitlines() == ["n", "0"]  # `query` never initialises: an empty store
    loaded = subprocess.run(
        [
            sys.executable,
            "-m",
            "aimsgraph.cli",
            "load",
            "--data-dir",
            str(tmp_path / "db"),
            str(target / "aimsgraph" / "_resources" / "data" / "demo" / "soa.ttl"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    query = subprocess.run(query.args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert query.stdout.splitlines() == ["n", "38"]
