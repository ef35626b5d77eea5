"""The README is a short front door; the reference is the MkDocs site under docs/.

The README stays at most 200 lines and starts with the two commands for a fresh machine; every
relative link in it reaches a file of the repository; and ``mkdocs build --strict`` succeeds, so
every page of docs/ is in the nav of mkdocs.yml and every link between pages (anchors included,
see ``validation`` in mkdocs.yml) resolves.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
MAX_LINES = 200
#: The two commands the README starts with, character for character.
RUN_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/aimsgraph serve"
TEST_COMMAND = (
    ".ci/install-browser && .ci/install-virtuoso && .ci/install-oidc-provider && python3 -m venv .venv && "
    ".venv/bin/pip install uv && .venv/bin/uv pip install --python .venv/bin/python --compile-bytecode '.[test]' && "
    ".venv/bin/python -m pytest"
)
#: Inline links and images, ``[text](target)`` and ``![alt](target "title")``, and reference
#: definitions, ``[name]: target``.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def relative_links(text: str) -> list[str]:
    """The link targets of ``text`` outside fenced code that name a file of the repository: no
    scheme (http:, mailto:...), not a bare #anchor, not an absolute path."""
    prose = FENCE.sub("", text)
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    found = []
    for target in targets:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        found.append(target)
    return found


def test_readme_has_at_most_200_lines():
    lines = readme_text().splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_starts_with_the_two_commands():
    """The first two code blocks, before any section, are the fresh-machine commands."""
    text = readme_text()
    before_sections = text.split("\n## ", 1)[0]
    blocks = re.findall(r"^```sh\n(.*?)\n```$", before_sections, re.M | re.S)
    assert blocks == [RUN_COMMAND, TEST_COMMAND]


def test_every_relative_link_in_the_readme_points_to_an_existing_file():
    links = relative_links(readme_text())
    assert any(link.startswith("docs/") for link in links), "the README links to no docs page"
    missing = []
    for link in links:
        path = unquote(urlsplit(link).path)
        target = (REPO / path).resolve()
        if not target.is_relative_to(REPO) or not target.exists():
            missing.append(link)
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_the_readme_screenshot_is_a_small_png():
    images = [link for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme_text()) if not urlsplit(link).scheme]
    assert images, "the README shows no screenshot"
    for image in images:
        data = (REPO / image).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), image
        assert len(data) < 300_000, (image, len(data))


def test_mkdocs_build_strict_succeeds(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}\n{result.stdout}"
    assert (tmp_path / "site" / "index.html").is_file()
    for page in (REPO / "docs").glob("*.md"):
        built = tmp_path / "site" / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"docs/{page.name} was not built"
