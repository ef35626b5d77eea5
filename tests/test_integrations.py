"""The ready-made integrations of issue 23 (part 4): the pre-commit hook and the GitHub Action.

The hook is run the way pre-commit users meet it, with ``pre-commit try-repo``, from the
published ``.pre-commit-hooks.yaml`` (``language: python``) on a local copy of this repository,
on a sample register that has a Violation, then after the fix. pre-commit builds the hook's
virtualenv and pip-installs the package into it; offline, pip is told to use no index
(``PIP_NO_INDEX``), to build without isolation (``PIP_NO_BUILD_ISOLATION=0``: hatchling from this
environment) and finds the dependencies already installed on ``PYTHONPATH`` (this environment's
site-packages), so the install needs no network and builds only aimsgraph itself.

The action's steps are the subcommands of ``.github/aimsgraph-action.sh``; they run here as they
run on GitHub, with the ``GITHUB_*`` variables of a pull-request event, on a temporary git
repository with two commits, and a ``gh`` on PATH that records what it is asked (no network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from conftest import AS_OF, REPO, git

DAY = AS_OF.isoformat()
SCRIPT = REPO / ".github" / "aimsgraph-action.sh"
PREFIXES = """@prefix aims: <https://w3id.org/aimsgraph/ontology#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <https://example.org/register/> .
"""
#: A record with no findings: a dataset with its owner, acquisition and quality assessment.
CONFORMING = (
    PREFIXES
    + """
ex:data-owner a aims:Role ; rdfs:label "Data owner" .

ex:applications a aims:Dataset ;
    rdfs:label "Loan applications" ;
    aims:hasOwner ex:data-owner ;
    prov:wasGeneratedBy ex:application-form ;
    aims:hasQualityAssessment ex:applications-quality .

ex:application-form a aims:DataAcquisition ; rdfs:label "Collected by the application form" .
ex:applications-quality a aims:DataQualityAssessment ;
    rdfs:label "Quality assessment 2026" ;
    aims:assessmentDate "2026-10-01"^^xsd:date .
"""
)
#: The change: a dataset with no acquisition, provenance or quality assessment (3 Violations), at line 20.
INCOMPLETE = """
ex:payslips a aims:Dataset ;
    rdfs:label "Payslip scans" ;
    aims:hasOwner ex:data-owner .
"""


def sample_register(folder: Path) -> tuple[Path, str]:
    """A register repository: a conforming record on main, then a commit adding an incomplete
    dataset. Returns the folder and the first commit."""
    (folder / "register").mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    record = folder / "register" / "datasets.ttl"
    record.write_text(CONFORMING, encoding="utf-8")
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", "The register")
    base = git(folder, "rev-parse", "HEAD")
    record.write_text(CONFORMING + INCOMPLETE, encoding="utf-8")
    git(folder, "commit", "-q", "-am", "Payslip scans")
    return folder, base


def _env(**extra: str) -> dict[str, str]:
    """This process's environment (AIMSGRAPH_TODAY pinned by conftest), with this
    environment's scripts (aimsgraph, pre-commit) first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "PIP_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env | extra


# -- GitHub Action ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory) -> dict:
    """The action's steps run on a pull request of the sample register: each step's result,
    and the files and outputs they leave."""
    root = tmp_path_factory.mktemp("action")
    repo, base = sample_register(root / "repo")
    fake = root / "bin"
    fake.mkdir()
    (fake / "gh").write_text('#!/bin/sh\necho "$*" >> "$GH_LOG"\ncase "$*" in *--paginate*) echo "$GH_EXISTING" ;; esac\n')
    (fake / "gh").chmod(0o755)
    event = root / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "base": {"sha": base}}}), encoding="utf-8")
    github = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "meridian/register",
        "GITHUB_OUTPUT": str(root / "output"),
        "GITHUB_STEP_SUMMARY": str(root / "summary.md"),
        "RUNNER_TEMP": str(root / "runner"),
        "AIMSGRAPH_PATH": "register",
        "AIMSGRAPH_AS_OF": DAY,
        "GH_LOG": str(root / "gh.log"),
    }
    env = _env(**github)
    env["PATH"] = os.pathsep.join([str(fake), env["PATH"]])

    def step(name: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(SCRIPT), name], cwd=repo, env=env | extra, capture_output=True, text=True)

    steps = {"validate": step("validate"), "diff": step("diff")}
    steps["comment"] = step("comment", GH_EXISTING="")
    steps["update"] = step("comment", GH_EXISTING="4242")
    steps["verdict"] = step("verdict", AIMSGRAPH_STATUS="1")
    steps["push"] = step("diff", GITHUB_EVENT_NAME="push")
    outputs = dict(line.split("=", 1) for line in (root / "output").read_text().splitlines())
    return {"root": root, "steps": steps, "outputs": outputs, "log": (root / "gh.log").read_text().splitlines()}


def test_validate_step_writes_sarif_and_annotations(pull_request):
    validate = pull_request["steps"]["validate"]
    assert validate.returncode == 0, validate.stderr  # the verdict comes last, after the comment
    assert pull_request["outputs"]["status"] == "1"  # Violations at --fail-on violation
    sarif = json.loads(Path(pull_request["outputs"]["sarif"]).read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    places = {
        (r["level"], loc["physicalLocation"]["artifactLocation"]["uri"], loc["physicalLocation"]["region"]["startLine"])
        for r in results
        for loc in r["locations"]
    }
    assert places == {("error", "register/datasets.ttl", 20)}
    assert len(results) == 3
    annotations = [line for line in validate.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 3
    assert all(line.startswith("::error file=register/datasets.ttl,line=20,") for line in annotations)


def test_diff_step_writes_the_comment(pull_request):
    diff = pull_request["steps"]["diff"]
    assert diff.returncode == 0, diff.stderr
    comment = Path(pull_request["outputs"]["comment"]).read_text(encoding="utf-8")
    assert comment.startswith("<!-- aimsgraph diff-record -->\n")
    assert "**This change adds 3 Violations.**" in comment
    assert "<code>register/datasets.ttl:20</code>" in comment
    assert '| + | <code>ex:payslips</code> | <code>rdfs:label</code> | <code>"Payslip scans"</code> |' in comment
    assert (pull_request["root"] / "summary.md").read_text(encoding="utf-8") == comment  # the job summary


def test_comment_step_posts_then_updates(pull_request):
    assert pull_request["steps"]["comment"].returncode == pull_request["steps"]["update"].returncode == 0
    comment_file = pull_request["outputs"]["comment"]
    assert pull_request["log"] == [
        "api repos/meridian/register/issues/7/comments --paginate --jq "
        '.[] | select(.body | startswith("<!-- aimsgraph diff-record -->")) | .id',
        f"api --method POST repos/meridian/register/issues/7/comments -F body=@{comment_file}",
        "api repos/meridian/register/issues/7/comments --paginate --jq "
        '.[] | select(.body | startswith("<!-- aimsgraph diff-record -->")) | .id',
        f"api --method PATCH repos/meridian/register/issues/comments/4242 -F body=@{comment_file}",
    ]


def test_verdict_and_events_without_a_pull_request(pull_request):
    assert pull_request["steps"]["verdict"].returncode == 1
    push = pull_request["steps"]["push"]
    assert push.returncode == 0 and "not a pull request (push)" in push.stdout


def test_the_action_runs_the_script_steps():
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    steps = action["runs"]["steps"]
    runs = [s["run"].rsplit(" ", 1)[1] for s in steps if "run" in s]
    assert runs == ["install", "validate", "diff", "comment", "verdict"]
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif@") for s in steps)
    assert all(s["shell"] == "bash" for s in steps if "run" in s)


# -- pre-commit --------------------------------------------------------------------------------

#: What the hook's package needs, copied into the local repository that try-repo clones.
PACKAGE = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "service", "ontology", "shapes", "queries", "data")


def _try_repo(hooks: Path, sample: Path) -> subprocess.CompletedProcess:
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    env = _env(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PYTHONPATH=os.pathsep.join(site))
    command = [sys.executable, "-m", "pre_commit", "try-repo", str(hooks), "aimsgraph-validate", "--all-files"]
    return subprocess.run(command, cwd=sample, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_pre_commit_hook_fails_on_a_violation_and_passes_after_the_fix(tmp_path):
    hooks = tmp_path / "aimsgraph"
    hooks.mkdir()
    for name in PACKAGE:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, hooks / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, hooks / name)
    git(hooks, "init", "-q", "-b", "main")
    git(hooks, "add", "-A")
    git(hooks, "commit", "-q", "-m", "aimsgraph")
    sample, _ = sample_register(tmp_path / "register")

    failed = _try_repo(hooks, sample)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "aimsgraph validate" in failed.stdout and "Failed" in failed.stdout
    assert "3 violations" in failed.stdout and "register/datasets.ttl:20" in failed.stdout

    (sample / "register" / "datasets.ttl").write_text(CONFORMING, encoding="utf-8")  # the fix
    git(sample, "commit", "-q", "-am", "Payslip scans removed until assessed")
    passed = _try_repo(hooks, sample)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
