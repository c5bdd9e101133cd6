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
from .content import FIGURE_FONTS, Figure, ReportContent, Section, Text, report_content
from ..results import TrialResults
from .tables import Table

__all__ = ["build_pdf", "render_pdf", "make_report"]

MARGIN_MM = 16
BODY_FONT = 8.5
CELL_FONT = 7
TABLE_START = 72      # points: a table starts on a new page when less is left
SHRINK = 0.75         # a figure may shrink to this share of its size to fit the page
CAPTION_GAP = 4       # points between a figure and its caption
FIGURE_GAP = 8        # points above a figure (the caption above it keeps its distance)
FIGURE_HEIGHT = 0.6   # a figure takes at most this share of the frame's height
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
        "section": ParagraphStyle("section", parent=base["Heading1"], fontSize=14, leading=17,
                                  keepWithNext=1),
        "heading": ParagraphStyle("heading", parent=base["Heading3"], fontSize=10, leading=12,
                                  spaceBefore=6, keepWithNext=1),
        "table_title": ParagraphStyle("table_title", parent=base["Heading3"], fontSize=9.5,
                                      leading=11.5, spaceBefore=6),
        "contents": ParagraphStyle("contents", parent=base["BodyText"], fontSize=BODY_FONT,
                                   leading=BODY_FONT + 2.5, leftIndent=12),
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
    # the title stays with the first rows, but the table may start on this page and
    # continue on the next (keeping title and table together pushed whole tables to
    # the next page and left near-empty pages behind)
    from reportlab.platypus import CondPageBreak
    out = [CondPageBreak(TABLE_START), _para(_numbered(table.number, table.title),
                                             styles["table_title"]), grid]
    out += [_para(note, styles["caption"]) for note in footnotes]
    if not footnotes:
        from reportlab.platypus import Spacer
        out.append(Spacer(1, 6))
    return out


def _figure_flowables(figure: Figure, styles, width: float, height: float) -> list:
    """The figure as vectors (its SVG through svglib) where it has one, else its PNG;
    at most the frame's width and FIGURE_HEIGHT of its height, the caption kept with it."""
    from reportlab.lib.units import inch
    caption = _para(_numbered(figure.number, figure.caption), styles["caption"])
    if figure.svg:
        from svglib.svglib import svg2rlg
        _figure_fonts()
        drawing = svg2rlg(io.BytesIO(figure.svg))
        scale = min(1.0, width / drawing.width, FIGURE_HEIGHT * height / drawing.height)
        return [_figure_flowable()(drawing, caption, scale)]
    from reportlab.platypus import Image, KeepTogether
    w, h = figure.width_inches * inch, figure.height_inches * inch
    scale = min(1.0, width / w, FIGURE_HEIGHT * height / h)
    image = Image(io.BytesIO(figure.png), width=w * scale, height=h * scale)
    image.hAlign = "CENTER"
    return [KeepTogether([image, caption])]


def _figure_flowable():
    """A vector figure with its caption below, centred; where the rest of the page
    holds at least SHRINK of its height it is shrunk to fit there rather than moved to
    the next page (moved, it left half-empty pages behind)."""
    from reportlab.graphics import renderPDF
    from reportlab.platypus import Flowable

    class FigureFlowable(Flowable):
        def __init__(self, drawing, caption, scale: float):
            super().__init__()
            self.drawing, self.caption, self.scale = drawing, caption, scale
            self.spaceAfter = caption.style.spaceAfter
            self._shown = scale
            self._caption_height = 0.0

        def wrap(self, available_width, available_height):
            _, self._caption_height = self.caption.wrap(available_width, available_height)
            natural = self.drawing.height * self.scale
            room = available_height - self._caption_height - CAPTION_GAP - FIGURE_GAP
            self._shown = self.scale * (room / natural if room < natural and
                                        room >= SHRINK * natural else 1.0)
            self.width = available_width
            self.height = (self.drawing.height * self._shown + self._caption_height
                           + CAPTION_GAP + FIGURE_GAP)
            return self.width, self.height

        def split(self, available_width, available_height):
            return []          # a figure is never split: it moves to the next page whole

        def draw(self):
            shown = self._shown
            left = (self.width - self.drawing.width * shown) / 2
            self.canv.saveState()
            self.canv.translate(left, self._caption_height + CAPTION_GAP)
            self.canv.scale(shown, shown)
            renderPDF.draw(self.drawing, self.canv, 0, 0)
            self.canv.restoreState()
            self.caption.drawOn(self.canv, 0, 0)

    return FigureFlowable


def _figure_fonts() -> None:
    """The figures' fonts drawn as the PDF's Helvetica: svglib would otherwise look each
    up on this machine (fontconfig) and embed whatever it finds."""
    from svglib.fonts import register_font
    for family in (*FIGURE_FONTS, "sans-serif"):
        for weight, style, name in (("normal", "normal", "Helvetica"),
                                    ("bold", "normal", "Helvetica-Bold"),
                                    ("normal", "italic", "Helvetica-Oblique"),
                                    ("bold", "italic", "Helvetica-BoldOblique")):
            register_font(family, weight=weight, style=style, rlgFontName=name)


def _numbered(number: str, title: str) -> str:
    return f"{number}. {title}" if number else title


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
    return out + [PageBreak()] + _contents(content, styles)


def _contents(content: ReportContent, styles) -> list:
    """The list of tables, listings and figures, in the order they appear."""
    from reportlab.platypus import PageBreak
    out = []
    for heading, kinds in (("List of tables and listings", (Table,)), ("List of figures", (Figure,))):
        lines = [_numbered(item.number, item.title if isinstance(item, Table)
                           else _first_sentence(item.caption))
                 for section in content.sections for item in section.items
                 if isinstance(item, kinds) and item.number]
        if lines:
            out += [_para(heading, styles["section"])]
            out += [_para(_shortened(line), styles["contents"]) for line in lines]
    return out + [PageBreak()] if out else out


def _first_sentence(caption: str) -> str:
    head, dot, _ = caption.partition(". ")
    return head + "." if dot else caption


def _page_canvas(header: tuple[str, str], footer: str):
    """A canvas that draws the running header and "Page x of y" on every page: it holds
    each page until the last is done, so it knows y (reportlab's two-pass idiom)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    class PageCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            for page in self._pages:
                self.__dict__.update(page)
                self._frame(len(self._pages))
                super().showPage()
            super().save()

        def _frame(self, pages: int) -> None:
            width, height = self._pagesize
            left, right = MARGIN_MM * mm, width - MARGIN_MM * mm
            self.saveState()
            self.setFont("Helvetica", 7)
            self.drawString(left, height - 10 * mm, header[0][:120])
            self.drawRightString(right, height - 10 * mm, header[1])
            self.setLineWidth(0.4)
            self.line(left, height - 11.2 * mm, right, height - 11.2 * mm)
            self.drawString(left, 9 * mm, footer[:110])
            self.drawRightString(right, 9 * mm, f"Page {self._pageNumber} of {pages}")
            self.restoreState()

    return PageCanvas


def build_pdf(content: ReportContent) -> bytes:
    """The PDF bytes of the report content (deterministic)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak, SimpleDocTemplate
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN_MM * mm,
                            rightMargin=MARGIN_MM * mm, topMargin=(MARGIN_MM + 2) * mm,
                            bottomMargin=MARGIN_MM * mm, title=content.title,
                            author="mscstats", creator="mscstats", invariant=1)
    styles = _styles()
    story = _title_page(content, styles)
    for section in content.sections:
        # a section starts on a new page only when less than a third of this one is left
        # (a hard break left near-empty pages behind short sections)
        story.append(CondPageBreak(doc.height / 3))
        story += _section_flowables(section, styles, doc.width, doc.height)
    header = content.header or (content.title, "")
    doc.build(story, canvasmaker=_page_canvas((header[0], header[-1]), _shortened(content.title)))
    return buffer.getvalue()


def render_pdf(trial: Trial, sap: Sap, results: TrialResults,
               progress: Callable[[str], None] | None = None) -> bytes:
    """The report of results already computed."""
    content = report_content(trial, sap, results, progress, figure_formats=("svg",))
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
