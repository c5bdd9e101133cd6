"""The RTF and DOCX reports: every numbered title and every cell of the PDF's
content (report_content) is in them, one page block per table or figure, the
header rows repeat, wide tables are landscape, data text is escaped, and the
same content gives the same bytes; the CLI's --format."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from report_helpers import SYNTHETIC

from mscstats.cli import main
from mscstats.pipeline import analyze, load
from mscstats.plan import template
from mscstats.report.blocks import blocks, column_weights, is_landscape, title_of
from mscstats.report.content import Figure, ReportContent, Section, Text, report_content
from mscstats.report.docx import FIXED_DATE, build_docx
from mscstats.report.rtf import build_rtf, rtf_escape
from mscstats.report.tables import Table

KEY = "three-arm-paxlovid"       # three arms: wide tables, figures of every kind


@pytest.fixture(scope="module")
def content() -> ReportContent:
    sap = template(KEY)
    trial = load(SYNTHETIC / KEY, sap)
    return report_content(trial, sap, analyze(trial, sap))


@pytest.fixture(scope="module")
def rtf(content) -> bytes:
    return build_rtf(content)


@pytest.fixture(scope="module")
def docx_bytes(content) -> bytes:
    return build_docx(content)


def _items(content, kind):
    return [i for s in content.sections for i in s.items if isinstance(i, kind)]


def _docx(data: bytes):
    import docx
    return docx.Document(io.BytesIO(data))


# --------------------------------------------------------------------------
# RTF
# --------------------------------------------------------------------------

def test_rtf_has_every_title_and_cell(content, rtf):
    text = rtf.decode("ascii")
    tables = _items(content, Table)
    assert len(tables) > 10
    for table in tables:
        assert rtf_escape(title_of(table)) in text, table.title
        for cell in (*table.columns, *(c for row in table.rows for c in row)):
            assert re.search(r"\{\\f0(\\b)? " + re.escape(rtf_escape(cell)) + r"\}", text), \
                (table.title, cell)
    for figure in _items(content, Figure):
        assert rtf_escape(title_of(figure)) in text
    for item in _items(content, Text):
        assert rtf_escape(item.text) in text


def test_rtf_one_section_per_block_figures_embedded_landscape_for_wide(content, rtf):
    text = rtf.decode("ascii")
    sections = text.split("\\sect\n")
    assert len(sections) == 1 + len(blocks(content))          # the title page, then blocks
    assert text.count("\\pngblip") == len(_items(content, Figure))
    wide = [b for b in blocks(content) if isinstance(b.item, Table) and is_landscape(b.item)]
    assert wide and text.count("\\lndscpsxn") == len(wide)
    assert text.count("\\trhdr") >= len(_items(content, Table))   # header rows repeat
    assert re.search(r"Page \{\\field\{\\\*\\fldinst\{\\fs14 PAGE\}\}.*? of "
                     r"\{\\field\{\\\*\\fldinst\{\\fs14 NUMPAGES\}\}", text)


def test_rtf_bytes_are_reproducible(content, rtf):
    assert build_rtf(content) == rtf
    assert b"\\creatim" not in rtf and b"\\yr" not in rtf         # no clock in the file


def test_rtf_escapes_data_text():
    assert rtf_escape("{\\b x} é ∞ 𝛼") == "\\{\\\\b x\\} \\u233? \\u8734? \\u-10187?\\u-8452?"  # UTF-16 D835 DEFC
    table = Table("T {1}", ("Subject", "Term"), (("{\\b S01}", "\\alpha ∞"),))
    text = build_rtf(ReportContent("Study {x}", (), (Section("S", (table,)),))).decode()
    assert "{\\f0 \\{\\\\b S01\\}}" in text
    assert "{\\f0 \\\\alpha \\u8734?}" in text                 # no LaTeX conversion
    assert "{\\b S01}" not in text


# --------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------

def _docx_texts(document) -> tuple[list[str], list[list[list[str]]]]:
    paragraphs = [p.text for p in document.paragraphs]
    grids = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    return paragraphs, grids


def test_docx_has_every_title_and_cell_in_order(content, docx_bytes):
    paragraphs, grids = _docx_texts(_docx(docx_bytes))
    tables = _items(content, Table)
    assert len(grids) == len(tables)
    for table, grid in zip(tables, grids):
        assert title_of(table) in paragraphs
        expected = [list(table.columns)] + [list(r) for r in table.rows]
        assert grid == expected, table.title
    for figure in _items(content, Figure):
        assert title_of(figure) in paragraphs
    for item in _items(content, Text):
        assert item.text in paragraphs


def test_docx_header_rows_repeat_widths_fit_and_wide_tables_are_landscape(content, docx_bytes):
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    document = _docx(docx_bytes)
    tables = _items(content, Table)
    for table, grid in zip(tables, document.tables):
        header = grid.rows[0]._tr.trPr
        assert header is not None and header.find(qn("w:tblHeader")) is not None
        widths = [c.width for c in grid.columns]
        assert widths[0] > 0
        share = [w / sum(widths) for w in widths]
        assert share == pytest.approx(column_weights(table), abs=1e-4)
    orientations = [s.orientation for s in document.sections]
    assert len(orientations) == 1 + len(blocks(content))
    landscape = [isinstance(b.item, Table) and is_landscape(b.item) for b in blocks(content)]
    assert orientations[1:] == [WD_ORIENT.LANDSCAPE if w else WD_ORIENT.PORTRAIT
                                for w in landscape]
    for section in document.sections:          # the table fits the page
        assert section.left_margin + section.right_margin < section.page_width


def test_docx_embeds_every_figure_as_png(content, docx_bytes):
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        media = sorted(n for n in z.namelist() if n.startswith("word/media/"))
        images = {z.read(n) for n in media}
    assert images == {f.png for f in _items(content, Figure)}


def test_docx_bytes_are_reproducible(content, docx_bytes):
    assert build_docx(content) == docx_bytes
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        infos = z.infolist()
    assert infos[0].filename == "[Content_Types].xml"
    assert {i.date_time for i in infos} == {(2000, 1, 1, 0, 0, 0)}
    properties = _docx(docx_bytes).core_properties
    assert properties.created == properties.modified == FIXED_DATE == datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_docx_takes_control_characters_and_markup_literally():
    table = Table("T <b>", ("Subject",), (("S\x0101 <b>&x",),))
    document = _docx(build_docx(ReportContent("Study", (), (Section("S", (table,)),))))
    assert document.tables[0].rows[1].cells[0].text == "S 01 <b>&x"


# --------------------------------------------------------------------------
# Blocks and the CLI
# --------------------------------------------------------------------------

def test_blocks_put_each_item_on_its_page_with_the_text_before_it():
    t1, t2 = Table("A", ("x",), (("1",),)), Table("B", ("x",), (("2",),))
    content = ReportContent("S", (), (Section("One", (Text("intro"), t1, t2, Text("end"))),
                                      Section("Two", ())))
    out = blocks(content)
    assert [(b.heading, [t.text for t in b.texts], b.item) for b in out] == [
        ("One", ["intro"], t1), ("", [], t2), ("", ["end"], None), ("Two", [], None)]


def test_short_columns_keep_their_width_long_ones_share_the_rest():
    long_text = "word " * 30
    table = Table("T", ("Analysis", "Text", "p"), (("primary", long_text, "<0.001"),))
    weights = column_weights(table)
    assert sum(weights) == pytest.approx(1)
    assert weights[2] == pytest.approx((6 + 4) / 95)           # "<0.001" plus padding
    assert not is_landscape(table)
    assert is_landscape(Table("W", tuple(f"c{i}" for i in range(8)), (("x" * 20,) * 8,)))


@pytest.mark.parametrize("name, given, expected", [
    ("r.rtf", None, b"{\\rtf1"), ("r.docx", None, b"PK"), ("r.pdf", None, b"%PDF"),
    ("report", None, b"%PDF"), ("report", "rtf", b"{\\rtf1"), ("r.RTF", "rtf", b"{\\rtf1")])
def test_cli_format_from_option_or_suffix(tmp_path, name, given, expected):
    out = tmp_path / name
    args = ["report", "--demo", "single-arm-bm-msc", "-o", str(out)]
    result = CliRunner().invoke(main, args + (["--format", given] if given else []))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(expected)


def test_cli_format_and_suffix_that_disagree_are_a_usage_error(tmp_path):
    out = tmp_path / "r.docx"
    result = CliRunner().invoke(main, ["report", "--demo", "-o", str(out), "--format", "rtf"])
    assert result.exit_code == 2
    assert "--format rtf but -o" in result.output and ".docx" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_rtf_and_docx_numbered_titles_follow_the_content():
    """Titles carry the content's number when it has one (the PDF's numbering)."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Numbered(Table):
        number: str = ""

    table = Numbered("Adverse events", ("x",), (("1",),), number="Table 7")
    assert title_of(table) == "Table 7. Adverse events"
    text = build_rtf(ReportContent("S", (), (Section("S", (table,)),))).decode()
    assert re.search(r"Table 7\. Adverse events", text)
