"""The PDF reports (reporting/pdf.py): the demo's auditor report (``aimsgraph report --pdf``)
and management review pack (``GET /api/review-pack`` with ``Accept: application/pdf``), each
made once, then looked at page by page as images (pypdfium2): every page has content and its
page number, the table of contents gives the page each section starts on, and the heat-map page
shows the heat map's colours. The pages are saved under test-output/pdf/ for a human to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from aimsgraph.config import Settings
from aimsgraph.reporting import charts, pdf
from conftest import FreshDataDir, aimsgraph, serving

REPO = Path(__file__).resolve().parents[1]
OUTPUT = Path(os.environ.get("AIMSGRAPH_TEST_OUTPUT", REPO / "test-output")) / "pdf"
REPORT_SECTIONS = [
    "Summary",
    "Risk heat maps",
    "Readiness per framework",
    "Readiness per clause",
    "Top risks",
    "Riskiest systems and why",
    "Statement of Applicability",
    "Open findings",
]
SCALE = 0.5  # 36 dpi: enough to see content and colours, cheap to draw


class Document:
    """A PDF's pages as text and as images (saved as PNG)."""

    def __init__(self, body: bytes, name: str) -> None:
        document = pdfium.PdfDocument(body)
        self.texts = [page.get_textpage().get_text_range() for page in document]
        self.images: list[Image.Image] = [page.render(scale=SCALE).to_pil().convert("RGB") for page in document]
        document.close()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        for number, image in enumerate(self.images, start=1):
            image.save(OUTPUT / f"{name}-{number:02}.png")

    def page_of(self, heading: str) -> int:
        """The number of the page whose text starts with ``heading``."""
        return next(n for n, text in enumerate(self.texts, start=1) if text.startswith(heading))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> Path:
    return fresh_data_dir(tmp_path_factory.mktemp("pdf") / "db")


@pytest.fixture(scope="module")
def report(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Document:
    out = tmp_path_factory.mktemp("report") / "report.pdf"
    result = aimsgraph("report", "--pdf", out, "--data-dir", folder)
    assert result.exit_code == 0, result.output
    return Document(out.read_bytes(), "auditor-report")


@pytest.fixture(scope="module")
def pack(folder: Path, report: Document) -> tuple[dict, Document]:
    """The review pack over HTTP (after the report: the app holds the store)."""
    with serving(Settings(data_dir=folder)) as app:
        client = app.test_client()
        answer = client.get("/api/review-pack", headers={"Accept": "application/pdf"})
        refused = client.get("/api/review-pack", query_string={"format": "docx"})
    assert answer.status_code == 200, answer.text
    meta = {"type": answer.content_type, "disposition": answer.headers.get("Content-Disposition"), "refused": refused}
    return meta, Document(answer.data, "review-pack")


def non_white(image: Image.Image) -> int:
    """How many pixels are not (nearly) white."""
    return sum(count for count, (r, g, b) in image.getcolors(maxcolors=1 << 20) if min(r, g, b) < 235)


def has_colour(image: Image.Image, colour: str, tolerance: int = 3) -> bool:
    wanted = tuple(int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return any(
        count > 20 and all(abs(a - b) <= tolerance for a, b in zip(rgb, wanted, strict=True))
        for count, rgb in image.getcolors(maxcolors=1 << 20)
    )


@pytest.mark.parametrize("which", ["report", "pack"])
def test_every_page_has_content_and_its_page_number(which: str, request: pytest.FixtureRequest):
    document = request.getfixturevalue("report") if which == "report" else request.getfixturevalue("pack")[1]
    total = len(document.texts)
    assert total >= 8
    for number, (text, image) in enumerate(zip(document.texts, document.images, strict=True), start=1):
        assert f"Page {number} of {total}" in text, number
        assert non_white(image) > 2000, f"page {number} is blank"  # more than the header and footer


def test_the_table_of_contents_gives_each_section_its_page(report: Document):
    contents = report.texts[0].replace("\r", "").splitlines()
    entries = [line for line in contents if "...." in line]  # a title, dot leaders, the page
    assert [line.split("..", 1)[0].strip() for line in entries] == REPORT_SECTIONS
    for section, line in zip(REPORT_SECTIONS, entries, strict=True):
        assert int(line.rsplit(".", 1)[1]) == report.page_of(section), line
    assert [report.page_of(s) for s in REPORT_SECTIONS] == sorted({report.page_of(s) for s in REPORT_SECTIONS})


def test_the_heat_map_page_shows_the_heat_map_colours(report: Document):
    page = report.images[report.page_of("Risk heat maps") - 1]
    for rank in (1, 2, 3, 4):  # Low .. Critical, the 5x5 matrix's levels
        assert has_colour(page, charts.level_colour(rank)), rank
    summary = report.images[report.page_of("Summary") - 1]
    assert not has_colour(summary, charts.level_colour(4))  # the colours are the chart's, not every page's


def test_the_review_pack_pdf_is_negotiated_and_charts_its_readiness(pack: tuple[dict, Document]):
    meta, document = pack
    assert meta["type"] == pdf.MEDIA_TYPE
    assert meta["disposition"].startswith("inline; filename=") and meta["disposition"].endswith('.pdf"')
    assert meta["refused"].status_code == 400 and "pdf" in meta["refused"].text
    assert document.texts[0].startswith("Management review input")
    trends = document.images[document.page_of("Risk and readiness trends")]  # the bars start on the next page
    assert has_colour(trends, "#4d9221")  # the readiness bars' green (charts.readiness_bars)


def test_svg_rules_become_inline_styles_for_the_pdf():
    html = '<style>svg .axis { font-size: 12px; fill: #333; }</style><svg><text x="1" class="axis">A</text><text>B</text></svg>'
    assert '<text x="1" class="axis" style="font-size: 12px; fill: #333;">A</text><text>B</text>' in pdf.svg_styles_inline(html)


def test_the_report_command_needs_somewhere_to_write(folder: Path):
    result = aimsgraph("report", "--data-dir", folder)
    assert result.exit_code == 2 and "--html FILE, --pdf FILE or both" in result.output
