"""The linter, the format check and the type checker, as tests: CI runs only the test suite.

Each runs from the repository root with its configuration in pyproject.toml (``[tool.ruff]``,
``[tool.mypy]``), through the interpreter running the tests, so that the versions of the ``test``
extra are the ones used. A failure shows the tool's own output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ["service", "tests", "benchmarks"]


def _run(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"`{' '.join(args)}` exited with {done.returncode}:\n{output}"


def test_ruff_finds_nothing():
    _run("ruff", "check", *CODE)


def test_code_is_formatted():
    _run("ruff", "format", "--check", *CODE)


@pytest.mark.slow
def test_mypy_finds_nothing():
    _run("mypy")
