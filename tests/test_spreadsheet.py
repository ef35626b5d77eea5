"""The CSV reader (aimsgraph.interop.importers.spreadsheet): template sheets, the column rules, error
reporting by spreadsheet row and column, determinism and the `replaced` contract."""

from __future__ import annotations

import csv
import io

import pyoxigraph as ox
import pytest

from aimsgraph import resources
from aimsgraph.errors import InvalidInput
from aimsgraph.interop.importers.spreadsheet import DEFAULT_BASE, read_sheet
from aimsgraph.namespaces import AIMS, ISO, RM, Graphs
from aimsgraph.risk.scoring import load_criteria, load_risks
from aimsgraph.semantics.validation import validate_store
from aimsgraph.store import GraphStore
from conftest import AS_OF

MB = "https://data.meridian.example/aims/"
TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")

HEADER = [
    "system",
    "risk",
    "title",
    "risk source",
    "affected stakeholders",
    "likelihood",
    "severity",
    "treatment",
    "owner",
    "review date",
    "control",
    "annex a",
    "control owner",
    "control status",
    "evidence url",
    "evidence valid until",
]


def aims(local: str) -> ox.NamedNode:
    return ox.NamedNode(AIMS + local)


def risk_row(risk: str = "r1", /, **cells: str) -> list[str]:
    """A complete risk-register row; keyword arguments override cells (spaces as '_')."""
    row = {
        "system": "credit-scoring",
        "risk": risk,
        "title": "Scores drift",
        "risk source": "C.3-machine-learning",
        "affected stakeholders": MB + "party/retail-loan-applicants",
        "likelihood": "3",
        "severity": "4",
        "treatment": "Mitigate",
        "owner": MB + "role/retail-credit-owner",
        "review date": "2027-03-31",
        "control": "drift-monitoring",
        "annex a": "A.6.2.6",
        "control owner": MB + "role/head-model-risk",
        "control status": "Implemented",
        "evidence url": "https://dms.example.org/drift-report.pdf",
        "evidence valid until": "2027-06-30",
    }
    row.update({name.replace("_", " "): value for name, value in cells.items()})
    return [row[name] for name in HEADER]


def sheet(*rows: list[str], header: list[str] = HEADER, delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def error_of(data: str | bytes, kind: str = "risk-register") -> str:
    with pytest.raises(InvalidInput) as caught:
        read_sheet(data, kind)
    return caught.value.message


def values(result, subject: str, prop: str) -> set[str]:
    return {q.object.value for q in result.quads if q.subject.value == subject and q.predicate.value == prop}


def template(name: str) -> bytes:
    return resources.path("data", "templates", name).read_bytes()


# -- the templates, in a store with the demo -------------------------------------------------


@pytest.fixture(scope="module")
def templates():
    return read_sheet(template("systems.csv"), "systems"), read_sheet(template("risk-register.csv"), "risk-register")


def demo_store_with(*imports) -> GraphStore:
    store = GraphStore(None)
    store.initialise(demo=True)  # dated for AS_OF, the date the tests validate for
    store.backend.extend([q for result in imports for q in result.quads])
    return store


def records(*imports, classes=("AISystem", "Risk", "ImplementedControl")) -> set[str]:
    return {
        q.subject.value
        for result in imports
        for q in result.quads
        if q.predicate == TYPE and q.object in {aims(c) for c in classes}
    }


def test_template_sheets_parse(templates):
    systems, register = templates
    assert (systems.kind, systems.rows) == ("systems", 3)
    assert (register.kind, register.rows) == ("risk-register", 5)
    for result in templates:
        assert result.quads and all(q.graph_name == ox.NamedNode(Graphs.DATA) for q in result.quads)
        assert not any(isinstance(t, ox.BlankNode) for q in result.quads for t in (q.subject, q.object))
    # the two sheets fit together: the risks hang on the systems the systems sheet declares
    declared = records(systems, classes=("AISystem",))
    assert {q.subject.value for q in register.quads if q.predicate == aims("hasRisk")} >= declared


def test_template_records_validate_and_score(templates):
    store = demo_store_with(*templates)
    focus = records(*templates)
    assert len(focus) >= 3 + 4 + 2  # systems, risks, local controls
    violations = [f for f in validate_store(store, AS_OF, focus=focus) if f.severity == "Violation"]
    # a spreadsheet carries no monitoring: the one High-risk system still needs a metric (9.1)
    assert [(f.focus, f.shape.rsplit("#", 1)[1]) for f in violations] == [
        (DEFAULT_BASE + "system/mortgage-affordability", "MonitoringCoverageShape")
    ]
    risks = load_risks(store, load_criteria(store))
    high = risks[DEFAULT_BASE + "risk/mortgage-variable-income-overstated"]
    assert high.inherent.iri == RM + "High" and high.assets == (DEFAULT_BASE + "system/mortgage-affordability",)
    assert high.residual.rank < high.inherent.rank  # the implemented control with evidence counts
    assert all(risks[iri].scored for iri in records(templates[1], classes=("Risk",)))


def test_validation_reports_what_an_incomplete_row_lacks():
    """The check above can fail: a risk without owner or stakeholders and a system without
    purpose or documentation are reported."""
    register = read_sheet(sheet(risk_row(owner="", affected_stakeholders="")), "risk-register")
    systems = read_sheet("system,name\ncredit-scoring,Credit scoring\n", "systems")
    store = demo_store_with(register, systems)
    found = {
        (f.focus, f.shape.rsplit("#", 1)[1])
        for f in validate_store(store, AS_OF, focus=records(register, systems))
        if f.severity == "Violation"
    }
    risk, system = DEFAULT_BASE + "risk/r1", DEFAULT_BASE + "system/credit-scoring"
    assert {
        (risk, "RiskShape-owner"),
        (risk, "RiskShape-affectedStakeholder"),
        (system, "AISystemShape-intendedPurpose"),
        (system, "AISystemShape-technicalDocumentation"),
    } <= found


# -- errors name the row and column a spreadsheet user sees ----------------------------------


def test_bad_likelihood_names_row_and_column():
    rows = [risk_row(f"r{n}") for n in range(5)] + [risk_row("r5", likelihood="Very often")]
    message = error_of(sheet(*rows))
    assert message.splitlines()[1:] == [
        (
            "row 7, column 'likelihood': 'Very often' is not a likelihood level "
            "(use 1-5 or one of: Rare, Unlikely, Possible, Likely, Almost certain)"
        )
    ]


def test_blank_rows_are_skipped_but_counted():
    text = sheet(risk_row("r1"), [], risk_row("r2", review_date="31/12/2027"))
    assert "row 4, column 'review date': '31/12/2027' is not a date written YYYY-MM-DD" in error_of(text)
    assert read_sheet(sheet(risk_row("r1"), [""] * len(HEADER), risk_row("r2")), "risk-register").rows == 2


def test_missing_required_columns_are_named():
    header = [h for h in HEADER if h not in ("likelihood", "severity")]
    row = [c for h, c in zip(HEADER, risk_row(), strict=True) if h in header]
    message = error_of(sheet(row, header=header))
    assert "missing required columns: 'likelihood', 'severity'" in message


def test_unknown_columns_are_named():
    message = error_of(sheet(risk_row() + ["x", "y"], header=[*HEADER, "Risk appetite", "colour"]))
    assert "unknown columns: 'Risk appetite', 'colour'" in message


def test_header_names_ignore_case_spaces_underscores_and_hyphens():
    header = [h.upper().replace(" ", "_") for h in HEADER]
    header[HEADER.index("evidence url")] = "Evidence-URL"
    header[HEADER.index("risk")] = "Risk ID"
    assert (
        read_sheet(sheet(risk_row(), header=header), "risk-register").quads
        == read_sheet(sheet(risk_row()), "risk-register").quads
    )


@pytest.mark.parametrize(
    ("cells", "column", "text"),
    [
        ({"review_date": "2027-02-30"}, "review date", "is not a date written YYYY-MM-DD"),
        ({"evidence_valid_until": "next year"}, "evidence valid until", "is not a date written YYYY-MM-DD"),
        ({"evidence_url": "ftp://files.example.org/report.pdf"}, "evidence url", "is not an http(s) URL"),
        ({"evidence_url": "dms/report.pdf"}, "evidence url", "is not an http(s) URL"),
        ({"annex_a": "A.6.2.44"}, "annex a", "is not an Annex A control of ISO/IEC 42001"),
        ({"annex_a": "A.6.2.4|A.6"}, "annex a", "'A.6' is not an Annex A control"),
        ({"control_status": "done"}, "control status", "is not a control status (use one of:"),
        ({"treatment": "ignore"}, "treatment", "is not a treatment decision"),
        ({"risk_source": "C.3-bad-luck"}, "risk source", "is not an Annex C risk source"),
        ({"risk": "credit scoring"}, "risk", "is neither an absolute IRI"),
        ({"owner": "sys:retail-credit-owner"}, "owner", "is neither an absolute IRI"),
    ],
)
def test_bad_cells_are_reported(cells, column, text):
    message = error_of(sheet(risk_row(), risk_row("r2", **cells)))
    assert f"row 3, column '{column}': " in message and text in message
    assert "row 2" not in message


def test_all_errors_are_collected_and_capped():
    rows = [risk_row(f"r{n}", severity="huge") for n in range(25)]
    lines = error_of(sheet(*rows)).splitlines()
    assert lines[0] == "the risk-register sheet has 25 errors:"
    assert lines[1].startswith("row 2, column 'severity'") and lines[20].startswith("row 21, column 'severity'")
    assert lines[21:] == ["... and 5 more errors"]


def test_conflicting_duplicate_risk_is_an_error():
    message = error_of(sheet(risk_row("r1"), risk_row("r1", likelihood="4", control="other-control")))
    assert "row 3, column 'likelihood': '4' contradicts '3' in row 2 for the same risk 'r1'" in message


def test_repeated_risk_may_leave_cells_empty_and_adds_a_control():
    repeat = ["credit-scoring", "r1"] + [""] * (len(HEADER) - 2)
    repeat[HEADER.index("control")] = MB + "control/credit-drift-monitoring"
    result = read_sheet(sheet(risk_row("r1"), repeat), "risk-register")
    risk = DEFAULT_BASE + "risk/r1"
    assert {q.subject.value for q in result.quads if q.predicate == aims("mitigates") and q.object.value == risk} == {
        DEFAULT_BASE + "control/drift-monitoring",
        MB + "control/credit-drift-monitoring",
    }
    assert values(result, risk, AIMS + "hasLikelihood") == {RM + "L3"}


def test_required_cell_on_a_records_first_row():
    assert "row 2, column 'title': empty, but required" in error_of(sheet(risk_row(title="")))


def test_control_and_evidence_cells_need_a_control():
    message = error_of(sheet(risk_row(control="")))
    assert "row 2, column 'annex a': needs a value in column 'control' on the same row" in message
    assert "row 2, column 'evidence url': needs a value in column 'control' on the same row" in message
    message = error_of(sheet(risk_row(evidence_url="")))
    assert message.splitlines()[1:] == [
        "row 2, column 'evidence valid until': needs a value in column 'evidence url' on the same row"
    ]


@pytest.mark.parametrize("data", ["", "\r\n\r\n", b"\xef\xbb\xbf"])
def test_empty_sheet_is_an_error(data):
    assert "empty" in error_of(data)


def test_header_without_rows_is_an_error():
    assert "no data rows" in error_of(",".join(HEADER) + "\r\n")


def test_unknown_kind_is_an_error():
    assert "unknown sheet kind" in error_of(sheet(risk_row()), kind="soa")


# -- formats ---------------------------------------------------------------------------------


def test_semicolon_delimited_file_reads_the_same():
    rows = [risk_row("r1", title="Drift, bias; and more"), risk_row("r2")]
    assert read_sheet(sheet(*rows, delimiter=";"), "risk-register").quads == read_sheet(sheet(*rows), "risk-register").quads


def test_utf8_with_bom_reads_the_same():
    text = sheet(risk_row(title="Überschätzte Einkommen – Bonus"))
    with_bom = read_sheet(b"\xef\xbb\xbf" + text.encode(), "risk-register")
    assert with_bom.quads == read_sheet(text.encode(), "risk-register").quads
    assert values(with_bom, DEFAULT_BASE + "risk/r1", "http://www.w3.org/2000/01/rdf-schema#label") == {
        "Überschätzte Einkommen – Bonus"
    }


def test_not_utf8_is_an_error():
    assert "not UTF-8" in error_of(sheet(risk_row(title="caf\u00e9")).encode("latin-1"))


def test_formula_like_cells_are_plain_text():
    result = read_sheet(sheet(risk_row(title='=HYPERLINK("x")'), risk_row("r2", title="@SUM(A1)")), "risk-register")
    assert values(result, DEFAULT_BASE + "risk/r1", "http://www.w3.org/2000/01/rdf-schema#label") == {'=HYPERLINK("x")'}


# -- IRIs, values and determinism ------------------------------------------------------------


def test_same_input_gives_identical_quads():
    first, second = (read_sheet(template("risk-register.csv"), "risk-register") for _ in range(2))
    assert first.quads == second.quads and first.replaced == second.replaced


def test_local_ids_are_minted_under_the_base_and_absolute_iris_kept():
    row = risk_row(system=MB + "system/retail-credit-scoring", control=MB + "control/credit-drift-monitoring")
    result = read_sheet(sheet(row), "risk-register", base_iri="https://aims.acme.example/")
    risk = "https://aims.acme.example/risk/r1"
    assert (MB + "system/retail-credit-scoring", risk) in {
        (q.subject.value, q.object.value) for q in result.quads if q.predicate == aims("hasRisk")
    }
    assert values(result, MB + "control/credit-drift-monitoring", AIMS + "mitigates") == {risk}
    assert values(result, risk, "http://purl.org/dc/terms/identifier") == {"r1"}
    assert not values(result, MB + "control/credit-drift-monitoring", "http://purl.org/dc/terms/identifier")


@pytest.mark.parametrize("text", ["4", "likely", "LIKELY", "L4", "rm:L4", RM + "L4"])
def test_likelihood_by_number_label_notation_or_iri(text):
    result = read_sheet(sheet(risk_row(likelihood=text)), "risk-register")
    assert values(result, DEFAULT_BASE + "risk/r1", AIMS + "hasLikelihood") == {RM + "L4"}
    assert values(result, DEFAULT_BASE + "risk/r1", AIMS + "hasRiskLevel") == {RM + "High"}  # L4 x S4


def test_risk_values_become_the_demos_terms():
    result = read_sheet(
        sheet(risk_row(risk_source="Level of automation|own-source", annex_a="iso:A.6.2.4|a.6.2.6")), "risk-register"
    )
    risk, control = DEFAULT_BASE + "risk/r1", DEFAULT_BASE + "control/drift-monitoring"
    assert values(result, risk, AIMS + "hasRiskSource") == {
        ISO + "C.3-level-of-automation",
        DEFAULT_BASE + "risk-source/own-source",
    }
    assert values(result, DEFAULT_BASE + "risk-source/own-source", TYPE.value) == {AIMS + "RiskSource"}
    assert values(result, risk, AIMS + "treatmentDecision") == {AIMS + "Mitigate"}
    assert values(result, risk, AIMS + "nextReviewDate") == {"2027-03-31"}
    assert values(result, control, AIMS + "implements") == {ISO + "A.6.2.4", ISO + "A.6.2.6"}
    evidence = values(result, control, AIMS + "hasEvidence")
    assert len(evidence) == 1 and values(result, evidence.pop(), AIMS + "location") == {
        "https://dms.example.org/drift-report.pdf"
    }
    dates = [q.object for q in result.quads if q.predicate == aims("nextReviewDate")]
    assert dates[0].datatype.value.endswith("#date")


def test_replaced_covers_the_cells_of_each_record_but_not_links_or_types(templates):
    register = templates[1]
    risks = records(register, classes=("Risk",))
    for risk in risks:
        assert (ox.NamedNode(risk), aims("hasLikelihood")) in register.replaced
        assert (ox.NamedNode(risk), aims("hasSeverity")) in register.replaced
        assert (ox.NamedNode(risk), aims("hasRiskLevel")) in register.replaced
    predicates = {p.value for _, p in register.replaced}
    assert not predicates & {TYPE.value, AIMS + "hasRisk", AIMS + "mitigates", AIMS + "detects", AIMS + "hasEvidence"}
    demo_control = ox.NamedNode(MB + "control/credit-human-review")  # named on a row, no cells of its own
    assert not any(s == demo_control for s, _ in register.replaced)


def test_editing_a_cell_and_reimporting_replaces_the_old_value():
    store = ox.Store()

    def apply(result) -> None:  # what the integrator does with `replaced`
        keep = set(result.quads)
        for subject, predicate in result.replaced:
            for quad in list(store.quads_for_pattern(subject, predicate, None, ox.NamedNode(Graphs.DATA))):
                if quad not in keep:
                    store.remove(quad)
        store.extend(result.quads)

    apply(read_sheet(sheet(risk_row(likelihood="3")), "risk-register"))
    before = len(store)
    apply(read_sheet(sheet(risk_row(likelihood="3")), "risk-register"))
    assert len(store) == before  # re-import changes nothing
    apply(read_sheet(sheet(risk_row(likelihood="4")), "risk-register"))
    risk = ox.NamedNode(DEFAULT_BASE + "risk/r1")
    assert [q.object for q in store.quads_for_pattern(risk, aims("hasLikelihood"), None)] == [ox.NamedNode(RM + "L4")]
    assert [q.object for q in store.quads_for_pattern(risk, aims("hasRiskLevel"), None)] == [ox.NamedNode(RM + "High")]
    assert len(store) == before


# -- the systems sheet -----------------------------------------------------------------------


def test_systems_values_and_scope():
    text = (
        "System ID;Name;Lifecycle stage;Models;In scope;Risk assessment date\n"
        "chat;Chat assistant;OperationAndMonitoring;m1 | m2;yes;2026-10-01\n"
        "pilot;Pilot;5;;no;\n"
    )
    result = read_sheet(text, "systems")
    chat, pilot = DEFAULT_BASE + "system/chat", DEFAULT_BASE + "system/pilot"
    assert (
        values(result, chat, AIMS + "lifecycleStage")
        == values(result, pilot, AIMS + "lifecycleStage")
        == {AIMS + "OperationAndMonitoring"}
    )
    assert values(result, chat, AIMS + "usesModel") == {DEFAULT_BASE + "model/m1", DEFAULT_BASE + "model/m2"}
    assert values(result, DEFAULT_BASE + "model/m1", TYPE.value) == {AIMS + "Model"}
    assert values(result, DEFAULT_BASE + "aims-scope", AIMS + "inScope") == {chat}
    assert values(result, DEFAULT_BASE + "assessment/chat-risk-assessment-2026-10-01", AIMS + "assesses") == {chat}
    assert (ox.NamedNode(chat), aims("usesModel")) in result.replaced
    assert (ox.NamedNode(pilot), aims("usesModel")) not in result.replaced  # empty cell: left alone


def test_systems_bad_values_are_reported():
    text = "system,name,lifecycle stage,in scope,technical documentation\nchat,Chat,live,maybe,www.example.org\n"
    message = error_of(text, kind="systems")
    assert "row 2, column 'lifecycle stage': 'live' is not a lifecycle stage" in message
    assert "row 2, column 'in scope': 'maybe' is not yes or no" in message
    assert "row 2, column 'technical documentation': 'www.example.org' is not an http(s) URL" in message


def test_unnamed_empty_columns_are_ignored_but_values_in_them_are_not():
    text = sheet(risk_row() + ["", ""], header=[*HEADER, "", ""])
    assert read_sheet(text, "risk-register").quads == read_sheet(sheet(risk_row()), "risk-register").quads
    assert "row 3: column 18 has a value but no header name" in error_of(text + ",".join(risk_row("r2")) + ",,x\r\n")


def test_own_scale_iris_need_a_risk_level():
    own = "https://aims.acme.example/scale/"
    row = risk_row(likelihood=own + "L-high", severity=own + "S-high")
    assert "row 2, column 'risk level': empty, and likelihood" in error_of(sheet(row))
    header = [*HEADER, "risk level"]
    result = read_sheet(sheet([*row, own + "R-red"], header=header), "risk-register")
    assert values(result, DEFAULT_BASE + "risk/r1", AIMS + "hasRiskLevel") == {own + "R-red"}
    assert "'rm:L9' is not a likelihood level" in error_of(sheet(risk_row(likelihood="rm:L9")))
    assert "not on one shipped risk matrix" in error_of(sheet(risk_row(likelihood="L4-2")))  # 4x4 with 5x5


def test_detective_control_detects():
    header = [*HEADER, "control type"]
    result = read_sheet(sheet([*risk_row(), "Detective"], header=header), "risk-register")
    control = DEFAULT_BASE + "control/drift-monitoring"
    assert values(result, control, AIMS + "detects") == {DEFAULT_BASE + "risk/r1"}
    assert not values(result, control, AIMS + "mitigates")
