"""The report as DOCX for a clinical study report, with python-docx.

The same page blocks as the RTF (blocks.py): each table or figure starts a new
section (landscape for a wide table), its header row repeats on every page
(``w:tblHeader``), long cells wrap in fixed column widths, and figures are the
content's PNG bytes. A running header with "Page x of y" fields is on every page.

Same content, same bytes: python-docx stamps the core properties with the clock
and the zip entries with their write time; both are set to FIXED_DATE and the
package is rewritten with its entries in a fixed order.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone

from .blocks import (MARGIN_INCHES, PAGE_INCHES, Block, blocks, column_weights, footnotes_of,
                     is_landscape, running_header, title_of)
from .content import Figure, ReportContent
from .tables import Table

__all__ = ["build_docx", "reproducible_zip", "FIXED_DATE"]

FIXED_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)
CELL_POINTS = 8
HEADER_POINTS = 7


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot hold most control characters; python-docx refuses them."""
    return "".join(ch if ch in "\t\n" or ord(ch) >= 32 else " " for ch in str(text))


def _field(paragraph, code: str) -> None:
    """A Word field (PAGE, NUMPAGES) in the paragraph."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt
    for kind, text in (("begin", None), (None, code), ("end", None)):
        run = paragraph.add_run()
        run.font.size = Pt(HEADER_POINTS)           # the page number in the header's size
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {text} "
        run._r.append(element)


def _set_page(section, landscape: bool, header: str) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Inches, Pt
    width, height = PAGE_INCHES[::-1] if landscape else PAGE_INCHES
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Inches(width), Inches(height)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Inches(MARGIN_INCHES))
    section.header_distance = Inches(0.4)
    section.header.is_linked_to_previous = True
    if section.header.paragraphs and section.header.paragraphs[0].text:
        return                                   # the first section's header serves all
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    paragraph.add_run(_xml_safe(header) + " | Page ").font.size = Pt(HEADER_POINTS)
    _field(paragraph, "PAGE")
    paragraph.add_run(" of ").font.size = Pt(HEADER_POINTS)
    _field(paragraph, "NUMPAGES")


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(marker)


def _fill(cell, text: str, bold: bool) -> None:
    from docx.shared import Pt
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    run = paragraph.add_run(_xml_safe(text))
    run.font.size, run.bold = Pt(CELL_POINTS), bold


def _add_table(document, table: Table, width_inches: float) -> None:
    from docx.shared import Inches, Pt
    document.add_heading(_xml_safe(title_of(table)), level=3)
    rows = table.rows or (("(none)",) + ("",) * (len(table.columns) - 1),)
    grid = document.add_table(rows=1 + len(rows), cols=len(table.columns))
    grid.style, grid.autofit = "Table Grid", False
    widths = [Inches(width_inches * w) for w in column_weights(table)]
    for column, width in zip(grid.columns, widths):      # the grid LibreOffice reads
        column.width = width
    for i, row in enumerate(grid.rows):
        texts = table.columns if i == 0 else rows[i - 1]
        bold = i == 0 or (i - 1) in table.groups
        for cell, text, width in zip(row.cells, texts, widths):
            cell.width = width
            _fill(cell, text, bold)
    _repeat_header(grid.rows[0])
    for note in footnotes_of(table):
        document.add_paragraph(_xml_safe(note)).runs[0].font.size = Pt(CELL_POINTS)


def _add_figure(document, figure: Figure, width: float, height: float) -> None:
    from docx.shared import Inches
    scale = min(1.0, width / figure.width_inches, (height - 2.0) / figure.height_inches)
    document.add_picture(io.BytesIO(figure.png), width=Inches(figure.width_inches * scale))
    document.add_paragraph(_xml_safe(title_of(figure)), style="Caption")


def _add_block(document, block: Block, header: str) -> None:
    from docx.enum.section import WD_SECTION
    landscape = isinstance(block.item, Table) and is_landscape(block.item)
    _set_page(document.add_section(WD_SECTION.NEW_PAGE), landscape, header)
    width, height = PAGE_INCHES[::-1] if landscape else PAGE_INCHES
    if block.heading:
        document.add_heading(_xml_safe(block.heading), level=1)
    for text in block.texts:
        if text.style == "heading":
            document.add_heading(_xml_safe(text.text), level=3)
        else:
            document.add_paragraph(_xml_safe(text.text))
    if isinstance(block.item, Table):
        _add_table(document, block.item, width - 2 * MARGIN_INCHES)
    elif isinstance(block.item, Figure):
        _add_figure(document, block.item, width - 2 * MARGIN_INCHES, height - 2 * MARGIN_INCHES)


def build_docx(content: ReportContent) -> bytes:
    """The DOCX bytes of the report content: a title page, then one block per page."""
    import docx
    from docx.shared import Pt
    document = docx.Document()
    document.styles["Normal"].font.size = Pt(9)
    header = running_header(content)
    _set_page(document.sections[0], False, header)
    document.add_heading(_xml_safe(content.title), level=0)
    document.add_paragraph("Statistical report")
    for label, value in content.facts:
        document.add_paragraph(_xml_safe(f"{label}: {value}"))
    for block in blocks(content):
        _add_block(document, block, header)
    properties = document.core_properties
    properties.title, properties.author = _xml_safe(content.title)[:255], "mscstats"
    properties.last_modified_by, properties.revision = "mscstats", 1
    properties.created = properties.modified = properties.last_printed = FIXED_DATE
    buffer = io.BytesIO()
    document.save(buffer)
    return reproducible_zip(buffer.getvalue())


def reproducible_zip(data: bytes) -> bytes:
    """The zip rewritten with its entries sorted ([Content_Types].xml stays first, as
    the Open Packaging Conventions expect) and every entry dated FIXED_DATE."""
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    order = sorted(entries, key=lambda n: (n != "[Content_Types].xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE.timetuple()[:6])
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            target.writestr(info, entries[name])
    return out.getvalue()
