"""The XLSX workbook (interop/exporters/xlsx.py, importers/xlsx.py): its layout, and the round
trip: exported from the demo, imported into a fresh demo store, it changes nothing (no change in
the audit trail, the same data graph), and exported again it has the same cell values. Edits
made in the workbook come back as the change they make; bad files are refused whole."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
from openpyxl import load_workbook

from aimsgraph.auth import local_user
from aimsgraph.config import Settings
from aimsgraph.interop.exporters import xlsx as exporter
from aimsgraph.interop.importers import spreadsheet
from aimsgraph.interop.importers import xlsx as importer
from aimsgraph.namespaces import AIMS, Graphs
from aimsgraph.reporting import charts
from aimsgraph.store import GraphStore, changes
from conftest import AS_OF, FreshDataDir, aimsgraph, serving

REPO = Path(__file__).resolve().parents[1]
MERIDIAN = "https://data.meridian.example/aims/"
TOKEN = "editor-token-0123456789abcdef"
DATA = ox.NamedNode(Graphs.DATA)
SHEETS = ["Risk register", "Statement of Applicability", "Findings", "Readiness per clause", "Readiness per system", "About"]


def cells(workbook: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(workbook))
    return {ws.title: [tuple(row) for row in ws.iter_rows(values_only=True)] for ws in book.worksheets}


def data_graph(folder: Path) -> set[ox.Quad]:
    store = GraphStore(folder)
    try:
        return set(store.quads(None, None, None, DATA))
    finally:
        del store


def history(folder: Path) -> int:
    result = aimsgraph("history", "--format", "json", "--data-dir", folder)
    assert result.exit_code == 0, result.output
    return result.stdout.count('"sequence"')


@pytest.fixture(scope="module")
def trip(tmp_path_factory: pytest.TempPathFactory, fresh_data_dir: FreshDataDir) -> dict:
    """Exported from one demo store, imported into a fresh one, exported from that again."""
    root = tmp_path_factory.mktemp("xlsx")
    first, second = fresh_data_dir(root / "first"), fresh_data_dir(root / "second")
    workbook = root / "demo.xlsx"
    assert aimsgraph("export", "xlsx", "--base", MERIDIAN, "-o", workbook, "--data-dir", first).exit_code == 0
    before, changes_before = data_graph(second), history(second)
    imported = aimsgraph("import", "xlsx", workbook, "--data-dir", second)
    again = root / "again.xlsx"
    assert aimsgraph("export", "xlsx", "-o", again, "--base", MERIDIAN, "--data-dir", second).exit_code == 0
    return {
        "workbook": workbook.read_bytes(),
        "again": again.read_bytes(),
        "imported": imported,
        "unchanged": (before == data_graph(second), changes_before == history(second)),
        "store": second,
    }


def test_the_workbook_round_trips_through_import_unchanged(trip: dict):
    assert trip["imported"].exit_code == 0, trip["imported"].output
    assert "nothing changed" in trip["imported"].stdout
    rows = len(cells(trip["workbook"])["Risk register"]) - 1
    assert f"{rows} risk register rows and 38 SoA entries" in trip["imported"].stdout
    assert trip["unchanged"] == (True, True)  # the same data graph, and no new change in the audit trail
    assert cells(trip["again"]) == cells(trip["workbook"])


def test_one_sheet_per_view_with_a_frozen_filtered_header(trip: dict):
    book = load_workbook(io.BytesIO(trip["workbook"]))
    assert book.sheetnames == SHEETS
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, ws.max_column).column_letter}{ws.max_row}", ws.title
        assert ws["A1"].font.b
        assert all(ws.column_dimensions[c.column_letter].width >= exporter.MIN_WIDTH for c in ws[1])
    register = book["Risk register"]
    assert [c.value for c in register[1]] == [c.name for c in spreadsheet.RISK_REGISTER]  # the CSV importer's columns
    assert register.max_row > 40  # the demo's 40 risks, a row for each control that treats them
    assert len(book["Statement of Applicability"]["A"]) == 39
    assert book["Findings"].max_row > 1 and book["Readiness per clause"].max_row > 20


def test_risk_levels_have_the_heat_map_colours_and_dates_are_dates(trip: dict):
    register = load_workbook(io.BytesIO(trip["workbook"]))["Risk register"]
    header = [c.value for c in register[1]]
    level, review = header.index("risk level"), header.index("review date")
    ranks = {"Low": 1, "Medium": 2, "High": 3, "Critical": 4}  # the 5x5 matrix's levels
    seen = set()
    for row in register.iter_rows(min_row=2):
        name = row[level].value
        assert row[level].fill.fgColor.rgb[-6:].lower() == charts.level_colour(ranks[name]).lstrip("#"), name
        seen.add(name)
        assert isinstance(row[review].value, datetime) and row[review].number_format == "yyyy-mm-dd"
    assert {"High", "Critical", "Medium"} <= seen


def test_the_risk_register_sheet_reads_as_the_csv_risk_register(trip: dict):
    """Saved as CSV, the sheet is a CSV risk register, read into the same quads."""
    rows = cells(trip["workbook"])["Risk register"]
    sheet = spreadsheet.read_sheet(importer._csv(rows), "risk-register", MERIDIAN)
    assert sheet.rows == len(rows) - 1
    assert {q.predicate.value for q in sheet.quads} >= {AIMS + "hasLikelihood", AIMS + "implements", AIMS + "mitigates"}


def test_edits_in_the_workbook_come_back_as_their_change(trip: dict):
    book = load_workbook(io.BytesIO(trip["workbook"]))
    register, soa = book["Risk register"], book["Statement of Applicability"]
    header = [c.value for c in register[1]]
    risk = register.cell(2, header.index("risk") + 1).value
    for row in register.iter_rows(min_row=2):
        if row[header.index("risk")].value == risk:
            row[header.index("likelihood")].value = "Almost certain"
            row[header.index("risk level")].value = None  # derived from the matrix again
    entry = soa["A2"].value
    soa["D2"].value, soa["F2"].value = False, "Not applicable: = no AI policy needed (test)"
    buffer = io.BytesIO()
    book.save(buffer)
    store = GraphStore(trip["store"])
    try:
        found = importer.import_workbook(store, buffer.getvalue())
        added = {(q.subject.value, q.predicate.value, q.object.value) for q in found.delta.added if not store.contains(q)}
    finally:
        del store
    assert (risk, AIMS + "hasLikelihood", "https://w3id.org/aimsgraph/risk-matrix/L5") in added
    assert (entry, AIMS + "applicable", "false") in added
    assert (entry, AIMS + "justification", "Not applicable: = no AI policy needed (test)") in added
    removed = {(q.subject.value, q.predicate.value) for q in found.delta.removed}
    assert {(risk, AIMS + "hasLikelihood"), (entry, AIMS + "applicable"), (entry, AIMS + "justification")} <= removed


def test_a_sheet_made_from_a_csv_round_trips_with_its_local_ids_and_evidence(tmp_path: Path, fresh_data_dir: FreshDataDir):
    """Risks, controls and evidence items imported from the CSV template (local ids, evidence
    named after its URL) are listed with their evidence, and come back unchanged."""
    store = GraphStore(fresh_data_dir(tmp_path / "store"))
    try:
        sheet = spreadsheet.read_sheet(
            (REPO / "data" / "templates" / "risk-register.csv").read_bytes(), "risk-register", MERIDIAN
        )
        assert changes.commit(store, changes.upsert(store, sheet.quads, sheet.replaced), "import-csv", local_user())
        register = exporter.risk_register(store, MERIDIAN)
        about = exporter.about_sheet(AS_OF, MERIDIAN, 0)
        workbook = exporter.write_workbook([register, about])
        found = importer.import_workbook(store, workbook)  # the base comes from the About sheet
        assert not {q for q in found.delta.added if not store.contains(q)} and not found.delta.removed
    finally:
        del store
    urls = {row[register.header.index("evidence url")] for row in register.rows} - {None}
    assert urls and all(str(url).startswith("https://") for url in urls)
    assert found.risk_rows == len(register.rows) and found.soa_rows == 0


def bad_workbook(trip: dict, change) -> bytes:
    book = load_workbook(io.BytesIO(trip["workbook"]))
    change(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_bad_workbooks_are_refused_whole(trip: dict, tmp_path: Path):
    def unknown_entry(book):
        book["Statement of Applicability"]["A3"].value = "https://example.org/not-an-entry"
        book["Statement of Applicability"]["D3"].value = "maybe"

    def bad_likelihood(book):
        book["Risk register"]["G2"].value = "very likely"

    cases = {
        "soa": (bad_workbook(trip, unknown_entry), ["row 3, column 'entry'", "no entry of the Statement of Applicability"]),
        "register": (bad_workbook(trip, bad_likelihood), ["row 2, column 'likelihood'", "'very likely'"]),
        "not xlsx": (b"system,risk\n", ["not an XLSX workbook"]),
    }
    for name, (body, words) in cases.items():
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(body)
        result = aimsgraph("import", "xlsx", path, "--data-dir", trip["store"])
        assert result.exit_code == 2, (name, result.output)
        assert all(word in result.stderr for word in words), (name, result.stderr)
    assert (
        "nothing changed" in aimsgraph("import", "xlsx", io_path(tmp_path, trip["workbook"]), "--data-dir", trip["store"]).stdout
    )


def io_path(folder: Path, body: bytes) -> Path:
    path = folder / "good.xlsx"
    path.write_bytes(body)
    return path


def test_xml_declaring_entities_is_refused_before_parsing(trip: dict):
    packed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(trip["workbook"])) as source, zipfile.ZipFile(packed, "w") as target:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == "xl/workbook.xml":
                body = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>' + body
            target.writestr(item, body)
    with pytest.raises(importer.InvalidInput, match="declares a DOCTYPE or entities"):
        importer.read_sheets(packed.getvalue())


def test_the_workbook_is_downloaded_and_imported_over_rest(trip: dict, tmp_path: Path, fresh_data_dir: FreshDataDir):
    editor = {"Authorization": f"Bearer {TOKEN}", "Content-Type": exporter.MEDIA_TYPE}
    with serving(Settings(data_dir=fresh_data_dir(tmp_path / "db"), tokens=(f"editor:erin:{TOKEN}",))) as app:
        client = app.test_client()
        download = client.get("/api/export/xlsx", query_string={"base": MERIDIAN})
        bad_base = client.get("/api/export/xlsx", query_string={"base": "not an IRI"})
        answer = client.post("/api/import", query_string={"kind": "xlsx"}, data=download.data, headers=editor)
        broken = client.post("/api/import", query_string={"kind": "xlsx"}, data=b"PK\x03\x04 broken", headers=editor)
    assert download.status_code == 200 and download.mimetype == exporter.MEDIA_TYPE
    assert "attachment" in download.headers["Content-Disposition"]
    assert cells(download.data) == cells(trip["workbook"])  # what `aimsgraph export xlsx` writes
    assert bad_base.status_code == 400 and "base" in bad_base.text
    assert answer.status_code == 200, answer.text
    body = answer.get_json()
    assert body["changed"] is False and body["report"]["soaRows"] == 38
    assert broken.status_code == 400 and "XLSX" in broken.text


def test_about_sheet_says_the_evaluation_date_and_base(trip: dict):
    about = dict(cells(trip["workbook"])["About"][1:3])
    assert about == {"evaluation date": datetime.combine(date(2026, 11, 26), datetime.min.time()), "base IRI": MERIDIAN}
