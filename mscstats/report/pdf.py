"""The PDF report: lays out report_content's sections with reportlab.

Same inputs, same bytes: reportlab runs with ``invariant=1`` (fixed creation
date and document id), figures are fixed PNG bytes, nothing reads the clock.
Every string from the data or the SAP is escaped before it reaches a
Paragraph, so a subject id like ``<b>&x`` prints as written.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

from ..plan import Sap, read_sap
from ..trial.quality import Trial
from .content import Figure, ReportContent, Section, Text, report_content
from ..results import TrialResults
from .tables import Table

__all__ = ["build_pdf", "render_pdf", "make_report"]

MARGIN_MM = 16
BODY_FONT = 8.5
CELL_FONT = 7
NOWRAP = 28           # cells up to this many characters are not wrapped
CELL_LIMIT = 200      # characters of a cell; longer text from the data is shortened
LONG_WORD = 30        # a word longer than this is split across lines, not given a column
SHORTENED_NOTE = (f"Text longer than {CELL_LIMIT} characters is shortened (ending in "
                  "\u2026); the trial's data files hold it in full.")


def _styles():
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=18, leading=22),
        "section": ParagraphStyle("section", parent=base["Heading1"], fontSize=14, leading=17),
        "heading": ParagraphStyle("heading", parent=base["Heading3"], fontSize=10, leading=12,
                                  spaceBefore=6),
        "body": ParagraphStyle("body", parent=base["BodyText"], fontSize=BODY_FONT,
                               leading=BODY_FONT + 2.5),
        "caption": ParagraphStyle("caption", parent=base["BodyText"], fontSize=BODY_FONT - 0.5,
                                  leading=BODY_FONT + 1.5, textColor=colors.HexColor("#333333"),
                                  spaceAfter=10),
        "cell": ParagraphStyle("cell", parent=base["BodyText"], fontSize=CELL_FONT,
                               leading=CELL_FONT + 1.6, spaceBefore=0, spaceAfter=0),
        "cell_bold": ParagraphStyle("cell_bold", parent=base["BodyText"], fontName="Helvetica-Bold",
                                    fontSize=CELL_FONT, leading=CELL_FONT + 1.6),
        "fact": ParagraphStyle("fact", parent=base["BodyText"], fontSize=11, leading=15),
    }


def _para(text: str, style):
    from reportlab.platypus import Paragraph
    return Paragraph(escape(str(text)), style)


def _shortened(text) -> str:
    text = str(text)
    return text if len(text) <= CELL_LIMIT else text[:CELL_LIMIT - 1] + "\u2026"


def _cell(text: str, style):
    """A table cell; leading spaces (sub-rows: preferred terms, summary lines) become
    a visible indent, which Paragraph would otherwise collapse. Text from the data
    longer than CELL_LIMIT is shortened (the table gets SHORTENED_NOTE)."""
    from reportlab.platypus import Paragraph
    text = _shortened(text)
    body = text.lstrip(" ")
    indent = "&nbsp;" * 2 * (len(text) - len(body))
    return Paragraph(indent + escape(body), style)


def _column_widths(table: Table, width: float) -> list[float]:
    """Natural widths when they fit; otherwise every column keeps its longest word
    and short cells (up to NOWRAP characters) unbroken, and the columns of long
    text share what is left and wrap."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    def text_width(text: str) -> float:
        return stringWidth(text, "Helvetica-Bold", CELL_FONT) + 6  # padding both sides

    columns = list(zip(table.columns, *table.rows)) if table.rows else [(c,) for c in table.columns]
    columns = [[_shortened(c) for c in cells] for cells in columns]
    natural, minimum = [], []
    for cells in columns:
        natural.append(max(text_width(str(c)) for c in cells))
        # a word longer than LONG_WORD (an id or a term of thousands of characters)
        # is split by the Paragraph; it does not claim the width of the page
        words = max((text_width(w[:LONG_WORD]) for c in cells for w in str(c).split()),
                    default=6)
        short = max((text_width(str(c)) for c in cells if len(str(c)) <= NOWRAP), default=6)
        minimum.append(max(words, short))
    if sum(natural) <= width:
        spare = (width - sum(natural)) / len(natural)
        return [n + spare for n in natural]
    if sum(minimum) >= width:
        return [width * m / sum(minimum) for m in minimum]
    stretch = [n - m for n, m in zip(natural, minimum)]
    share = (width - sum(minimum)) / sum(stretch)
    return [m + s * share for m, s in zip(minimum, stretch)]


def _table_flowables(table: Table, styles, width: float) -> list:
    from reportlab.lib import colors
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle
    header = [_cell(c, styles["cell_bold"]) for c in table.columns]
    body = [[_cell(c, styles["cell_bold"] if i in table.groups else styles["cell"])
             for c in row] for i, row in enumerate(table.rows)]
    grid = RLTable([header] + body, colWidths=_column_widths(table, width), repeatRows=1,
                   hAlign="LEFT")
    grid.setStyle(TableStyle([
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
    ]))
    footnotes = list(table.footnotes)
    if any(len(str(c)) > CELL_LIMIT for row in (table.columns, *table.rows) for c in row):
        footnotes.append(SHORTENED_NOTE)
    out = [_para(table.title, styles["heading"]), grid]
    out += [_para(note, styles["caption"]) for note in footnotes]
    if not footnotes:
        from reportlab.platypus import Spacer
        out.append(Spacer(1, 6))
    return out


def _figure_flowables(figure: Figure, styles, width: float, height: float) -> list:
    from reportlab.lib.units import inch
    from reportlab.platypus import Image, KeepTogether
    w, h = figure.width_inches * inch, figure.height_inches * inch
    scale = min(1.0, width / w, 0.8 * height / h)
    image = Image(io.BytesIO(figure.png), width=w * scale, height=h * scale)
    image.hAlign = "CENTER"
    return [KeepTogether([image, _para(figure.caption, styles["caption"])])]


def _section_flowables(section: Section, styles, width: float, height: float) -> list:
    out = [_para(section.title, styles["section"])]
    for item in section.items:
        if isinstance(item, Table):
            out += _table_flowables(item, styles, width)
        elif isinstance(item, Figure):
            out += _figure_flowables(item, styles, width, height)
        elif isinstance(item, Text):
            out.append(_para(item.text, styles[item.style]))
    return out


def _title_page(content: ReportContent, styles) -> list:
    from reportlab.platypus import PageBreak, Spacer
    out = [Spacer(1, 120), _para(_shortened(content.title), styles["title"]), Spacer(1, 12),
           _para("Statistical report", styles["heading"]), Spacer(1, 24)]
    out += [_para(f"{label}: {_shortened(value)}", styles["fact"])
            for label, value in content.facts]
    return out + [PageBreak()]


def build_pdf(content: ReportContent) -> bytes:
    """The PDF bytes of the report content (deterministic)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, SimpleDocTemplate
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN_MM * mm,
                            rightMargin=MARGIN_MM * mm, topMargin=MARGIN_MM * mm,
                            bottomMargin=MARGIN_MM * mm, title=content.title,
                            author="mscstats", creator="mscstats", invariant=1)
    styles = _styles()
    story = _title_page(content, styles)
    for i, section in enumerate(content.sections):
        if i and section.title in ("Figures", "Methods", "Appendix: data quality"):
            story.append(PageBreak())
        story += _section_flowables(section, styles, doc.width, doc.height)
    footer = f"{content.title}"

    def page_footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(MARGIN_MM * mm, 9 * mm, footer[:110])
        canvas.drawRightString(A4[0] - MARGIN_MM * mm, 9 * mm, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=page_footer, onLaterPages=page_footer)
    return buffer.getvalue()


def render_pdf(trial: Trial, sap: Sap, results: TrialResults,
               progress: Callable[[str], None] | None = None) -> bytes:
    """The report of results already computed."""
    content = report_content(trial, sap, results, progress)
    if progress is not None:
        progress("writing the PDF")
    return build_pdf(content)


def make_report(trial: Trial, sap: Sap | str | Path,
                progress: Callable[[str], None] | None = None) -> bytes:
    """Analyze the trial by the SAP and return the PDF report's bytes."""
    from ..pipeline import analyze
    sap = read_sap(sap) if isinstance(sap, (str, Path)) else sap
    results = analyze(trial, sap, progress=(lambda a: progress(f"analysis {a}"))
                      if progress is not None else None)
    return render_pdf(trial, sap, results, progress)
