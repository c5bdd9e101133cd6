"""The PDF report: builds for every design, shows every estimate as tables.py
formats it, is byte-identical for the same inputs, escapes data text; the CLI."""

from __future__ import annotations

import io
import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from report_helpers import SYNTHETIC

from mscstats.report import tables
from mscstats.cli import main
from mscstats.pipeline import analyze, load
from mscstats.plan import template
from mscstats.report.pdf import render_pdf
from mscstats.schema import DESIGN_KEYS

SMALL = "single-arm-bm-msc"


def _text(pdf: bytes) -> str:
    pages = PdfReader(io.BytesIO(pdf)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


def _build(directory, key):
    sap = template(key)
    trial = load(directory, sap)
    results = analyze(trial, sap)
    return results, render_pdf(trial, sap, results)


@pytest.fixture(scope="module")
def reports():
    """Each design's report, built once: key -> (results, pdf bytes, text)."""
    out = {}
    for key in DESIGN_KEYS:
        results, pdf = _build(SYNTHETIC / key, key)
        out[key] = (results, pdf, _text(pdf))
    return out


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_report_has_every_section(reports, key):
    results, pdf, text = reports[key]
    assert pdf.startswith(b"%PDF") and len(PdfReader(io.BytesIO(pdf)).pages) >= 6
    for heading in ("Subject flow", "Baseline characteristics", "Endpoint summary", "Figures",
                    "Safety", "Methods", "Appendix: data quality", "Reproducibility manifest"):
        assert heading in text, heading
    assert results.manifest["sap_sha256"] in text
    assert results.manifest["data_sha256"] in text
    assert f"Seed {results.manifest['seed']}" in text


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_every_estimate_appears_as_tables_formats_it(reports, key):
    results, _, text = reports[key]
    assert results.analyses
    for analysis in results.analyses:
        assert analysis.id in text
        for c in analysis.comparisons:
            assert tables.estimate_with_ci(c) in text, (analysis.id, c)
            assert tables.fmt_p(c.p_value) in text


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_methods_section_names_each_method_and_its_reference(reports, key):
    from mscstats.specs import METHODS
    results, _, text = reports[key]
    for method in {a.method for a in results.analyses}:
        assert re.sub(r"\s+", " ", METHODS[method].reference) in text


def test_same_inputs_give_identical_bytes(reports):
    _, again = _build(SYNTHETIC / SMALL, SMALL)
    assert again == reports[SMALL][1]


def test_subject_ids_from_the_data_print_literally(tmp_path):
    directory = tmp_path / SMALL
    shutil.copytree(SYNTHETIC / SMALL, directory)
    adae = pd.read_csv(directory / "adae.csv", dtype=str, keep_default_na=False)
    adae.loc[0, "AESER"] = "Y"  # so the subject is named in the serious-event listing
    adae.to_csv(directory / "adae.csv", index=False, lineterminator="\n")
    subject = adae.loc[0, "USUBJID"]
    for path in directory.glob("*.csv"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        table["USUBJID"] = table["USUBJID"].replace(subject, "<b>&x")
        table.to_csv(path, index=False, lineterminator="\n")
    _, pdf = _build(directory, SMALL)
    assert "<b>&x" in _text(pdf)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

SAP_TEXT = """
[study]
id = "BM-MSC-COVID"
title = "Single-arm report test"
arms = ["BM-MSC"]

[[endpoint]]
id = "ae_any"
kind = "binary"
horizon = 28
event.any = [ { ae = "any" } ]

[[endpoint]]
id = "pf_d7"
kind = "change"
param = "PF"
day = 7

[[analysis]]
id = "ae_any"
endpoint = "ae_any"
method = "binary"
population = "safety"

[[analysis]]
id = "pf_change"
endpoint = "pf_d7"
method = "paired"
"""


@pytest.fixture
def sap_file(tmp_path):
    path = tmp_path / "sap.toml"
    path.write_text(SAP_TEXT, encoding="utf-8")
    return path


def test_cli_writes_the_report(tmp_path, sap_file):
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(main, ["report", str(SYNTHETIC / SMALL), "--sap", str(sap_file),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert "analysis pf_change" in result.stderr
    assert "Single-arm report test" in _text(out.read_bytes())


def test_cli_bad_data_exits_1_and_writes_nothing(tmp_path, sap_file):
    directory = tmp_path / "trial"
    shutil.copytree(SYNTHETIC / SMALL, directory)
    adsl = pd.read_csv(directory / "adsl.csv", dtype=str, keep_default_na=False)
    adsl.loc[0, "ARM"] = "placebo"  # an arm the SAP does not name
    adsl.to_csv(directory / "adsl.csv", index=False, lineterminator="\n")
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(main, ["report", str(directory), "--sap", str(sap_file),
                                       "-o", str(out)])
    assert result.exit_code == 1
    assert "placebo" in result.stderr
    assert not out.exists() and not list(tmp_path.glob(".report.pdf.*"))


def test_cli_bad_sap_exits_1(tmp_path):
    sap = tmp_path / "sap.toml"
    sap.write_text("[study\n", encoding="utf-8")
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(main, ["report", str(SYNTHETIC / SMALL), "--sap", str(sap),
                                       "-o", str(out)])
    assert result.exit_code == 1 and "not valid TOML" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("args", [["report", "-o", "x.pdf"],
                                  ["report", "somewhere", "-o", "x.pdf"],
                                  ["report", "--demo", "nonsense", "-o", "x.pdf"]])
def test_cli_usage_errors_exit_2(tmp_path, args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2


def test_cli_demo_with_a_design_key(tmp_path):
    out = tmp_path / "demo.pdf"
    result = CliRunner().invoke(main, ["report", "--demo", SMALL, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "BM-MSC-COVID" in _text(out.read_bytes())


def test_cli_demo_default_design(tmp_path):
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(main, ["report", "--demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "NCT05689008" in _text(out.read_bytes())


def test_forest_panels_never_mix_units(reports):
    text = reports["refractory-hypoxia"][2]
    # each caption twice: in the list of figures and under the figure
    captions = list(dict.fromkeys(re.findall(r"Forest plot of the comparisons \(([^)]*)\)",
                                             text)))
    assert captions == ["mean differences, mmHg", "win probabilities", "ratios",
                        "differences in restricted mean time, days", "risk differences",
                        "Hodges-Lehmann shifts, days"]


def test_tipping_point_figures_appear_for_the_sensitivity_analyses(reports):
    text = reports["refractory-hypoxia"][2]
    assert "Tipping point of primary_tipping" in text and "pooled estimate" in text
    # prevent-progression's synthetic trial loses nobody: its grid is the observed table,
    # shown as a table with that said, and no figure of one cell
    text = reports["prevent-progression"][2]
    assert "Tipping point of primary_tipping" in text
    assert "Nothing is missing: the one completed table is the observed one." in text
    assert "p-value of every completed" not in text


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_summary_tables_appear_in_the_pdf_as_tables_formats_them(reports, key):
    """Each row of the flow, baseline and adverse-event tables (built from the results'
    summaries) appears in the PDF text, its cells in order."""
    results, _, text = reports[key]
    safety = results.safety
    built = [tables.flow_table(results.flow), tables.baseline_table(results.baseline),
             tables.ae_category_table(safety), tables.ae_grade_table(safety),
             tables.ae_term_table(safety, safety.by_term, "t", safety.categories[0])]
    for table in built:
        for row in table.rows:
            cells = " ".join(c for c in row[1:] if c)
            if cells:
                assert cells in text, (table.title, row)
    assert ("Enrolled" in text) == (len(results.flow.arms) == 1)


def _page_texts(pdf: bytes) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_every_page_says_page_x_of_y_under_the_running_header(reports, key):
    results, pdf, _ = reports[key]
    pages = _page_texts(pdf)
    for i, text in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in text, i
        assert f"mscstats {results.mscstats_version}" in text
        assert "data SHA-256 " + results.manifest["data_sha256"][:16] in text  # no cut-off


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_tables_listings_and_figures_are_numbered_in_order(reports, key):
    """Table 1, 2, ... and Figure 1, 2, ... without gaps or repeats, each listed once
    after the title page and once where it is (so each number appears twice)."""
    _, _, text = reports[key]
    for kind in ("Table", "Figure", "Listing"):
        numbers = [int(n) for n in re.findall(rf"\b{kind} (\d+)\. ", text)]
        if kind != "Listing" or numbers:
            count = max(numbers)
            assert sorted(numbers) == sorted(list(range(1, count + 1)) * 2), kind
            listed = numbers[:count]          # the list of tables and figures comes first
            assert listed == list(range(1, count + 1)), kind


def test_number_items_numbers_in_reading_order_and_names_the_population():
    from mscstats.report.content import Figure, Section, Text, number_items
    table = tables.Table("Endpoint summary", ("a",), ())
    listing = tables.Table("Listing: deaths", ("a",), ())
    figure = Figure("Curves.", b"", 1.0, 1.0)
    sections = number_items([Section("Endpoints", (table, Text("x"), figure, table)),
                             Section("Safety", (listing, figure, tables.Table(
                                 "Events (safety population)", ("a",), ())))],
                            {"Endpoints": "ITT population", "Safety": "safety population"})
    first, second = sections
    assert [(getattr(i, "number", None)) for i in first.items] == [
        "Table 1", None, "Figure 1", "Table 2"]
    assert first.items[0].title == "Endpoint summary (ITT population)"
    assert first.items[2].caption == "Curves (ITT population)."
    assert [i.number for i in second.items] == ["Listing 1", "Figure 2", "Table 3"]
    assert second.items[0].title == "Deaths (safety population)"
    assert second.items[2].title == "Events (safety population)"     # named already


def test_data_cutoff_is_on_the_title_page_and_in_the_header(tmp_path):
    import dataclasses
    sap = template(SMALL)
    sap = dataclasses.replace(sap, study=dataclasses.replace(
        sap.study, data_cutoff="2021-03-15", sap_version="2.1", sap_status="draft"))
    trial = load(SYNTHETIC / SMALL, sap)
    pages = _page_texts(render_pdf(trial, sap, analyze(trial, sap)))
    assert "Data cut-off: 2021-03-15" in pages[0]
    assert all("| SAP v2.1 (draft) | data cut-off 2021-03-15" in page for page in pages)
    assert not any("data SHA-256" in page for page in pages)


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_figure_annotations_are_the_tables_numbers(reports, key):
    """The KM figures' comparison lines and the forest plots' estimate (CI) column are
    text in the PDF, formatted by tables.py exactly as the endpoint summary shows them."""
    results, _, text = reports[key]
    curves = [a for a in results.analyses if any(c.kind == "survival" for c in a.curves)]
    for a in curves:
        for line in tables.comparison_lines(a):
            assert re.sub(r"\s+", " ", line) in text, line
    ci_text = [tables.estimate_with_ci(c) for a in results.analyses for c in a.comparisons
               if c.reference]
    if ci_text:
        assert "Estimate (95% CI)" in text
    for shown in ci_text:
        assert text.count(shown) >= 2, shown      # the endpoint table and the forest plot


def test_figures_are_vectors_and_the_pdf_has_no_clock_time(reports):
    _, pdf, _ = reports[SMALL]
    assert all(len(page.images) == 0 for page in PdfReader(io.BytesIO(pdf)).pages)
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert info["/CreationDate"] == info["/ModDate"] == "D:20000101000000+00'00'"


def test_every_estimate_in_the_pdf_equals_results_json(tmp_path):
    """Through the command line, as a user runs it: every comparison's estimate (CI),
    p and adjusted p, and every test statistic, read back from results.json, appear in
    the PDF text exactly as tables.py formats them."""
    import json
    from importlib.resources import files
    from mscstats.results import Comparison
    key = "refractory-hypoxia"
    sap = files("mscstats.sap_templates") / f"{key}.toml"
    for command, out in (("analyze", "results.json"), ("report", "report.pdf")):
        result = CliRunner().invoke(main, [command, str(SYNTHETIC / key), "--sap", str(sap),
                                           "-o", str(tmp_path / out)])
        assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "results.json").read_text("utf-8"))
    text = _text((tmp_path / "report.pdf").read_bytes())
    checked = 0
    for analysis in stored["analyses"]:
        for c in analysis["comparisons"]:
            comparison = Comparison(**{**c, "estimate": _number(c["estimate"]),
                                       "ci": tuple(_number(v) for v in c["ci"])})
            assert tables.estimate_with_ci(comparison) in text, (analysis["id"], c)
            assert tables.fmt_p(c["p_value"]) in text
            if c.get("p_adjusted") is not None:
                assert tables.fmt_p(c["p_adjusted"]) in text
            checked += 1
        for t in analysis["tests"]:
            assert f"{tables.fmt_estimate(_number(t['statistic']))} " in text, (analysis["id"], t)
    assert checked >= 20


def _number(value):
    """results.json writes infinities as the strings "Infinity" and "-Infinity"."""
    return float(value) if isinstance(value, str) else value


def test_endpoint_definition_states_the_rule_not_the_label():
    from mscstats.plan import read_sap
    from mscstats.report.content import endpoint_definition
    from conftest import TESTS
    sap = read_sap(TESTS / "data" / "toy" / "sap.toml")
    defined = {e.id: endpoint_definition(e) for e in sap.endpoints}
    assert defined["pf_d7"] == "change from baseline in PF on day 7 (window +/- 1 day)."
    assert defined["mort28"] == ("death by day 28; lost before the horizon without the "
                                 "event: missing.")
    for e in sap.endpoints:
        assert e.label == "" or e.label not in defined[e.id]
