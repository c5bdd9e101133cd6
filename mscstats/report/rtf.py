"""The report as RTF for a clinical study report, with rtflite.

rtflite encodes each page block (blocks.py) as a document of its own: the table
with its column header repeated on every page it paginates to, or the figure as
an embedded PNG. The blocks are joined into one RTF file, one RTF section per
block, so a wide table gets a landscape page and the others stay portrait.

rtflite passes text through as RTF: every string is escaped here first (``\\``,
braces, non-ASCII as ``\\uN?``) and its LaTeX conversion is off, so a subject id
like ``{\\b x}`` prints as written. The column header rows are marked ``\\trhdr``
so a word processor that breaks a page inside a table repeats them too. Nothing
reads the clock: same content, same bytes.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from .blocks import (MARGIN_INCHES, PAGE_INCHES, Block, blocks, column_weights, footnotes_of,
                     is_landscape, running_header, title_of)
from .content import Figure, ReportContent
from .tables import Table

__all__ = ["build_rtf", "rtf_escape"]

TWIPS = 1440
CELL_POINTS = 8
ROWS_PORTRAIT = 52         # rtflite's page budget in lines at CELL_POINTS on A4
ROWS_LANDSCAPE = 34


def rtf_escape(text: str) -> str:
    """RTF text: control characters escaped, non-ASCII as Unicode escapes."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\line ")
        elif code > 127:
            if code > 0xFFFF:                       # outside the BMP: a surrogate pair
                code -= 0x10000
                pair = (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF))
                out.extend(f"\\u{c - 65536}?" for c in pair)
            else:
                out.append(f"\\u{code if code < 32768 else code - 65536}?")
        elif code < 32:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def _page(landscape: bool):
    import rtflite
    width, height = PAGE_INCHES[::-1] if landscape else PAGE_INCHES
    m = MARGIN_INCHES
    return rtflite.RTFPage(orientation="landscape" if landscape else "portrait", width=width,
                           height=height, margin=[m, m, m, m, 0.4, 0.4],
                           col_width=width - 2 * m,
                           nrow=ROWS_LANDSCAPE if landscape else ROWS_PORTRAIT)


def _title(text: str):
    import rtflite
    return rtflite.RTFTitle(text=[rtf_escape(text)], text_convert=[False], text_font_size=[10],
                            text_format=["b"], text_justification=["l"])


def _table_document(table: Table):
    import polars as pl
    import rtflite
    columns = [f"c{i}" for i in range(len(table.columns))]
    rows = table.rows or (("(none)",) + ("",) * (len(columns) - 1),)
    frame = pl.DataFrame({c: [rtf_escape(r[i]) for r in rows] for i, c in enumerate(columns)},
                         schema={c: pl.Utf8 for c in columns})
    n = len(columns)
    bold = [["b" if i in table.groups else ""] * n for i in range(len(rows))]
    notes = footnotes_of(table)
    return rtflite.RTFDocument(
        df=frame, rtf_page=_page(is_landscape(table)), rtf_title=_title(title_of(table)),
        rtf_column_header=[rtflite.RTFColumnHeader(
            text=[rtf_escape(c) for c in table.columns], col_rel_width=column_weights(table),
            text_convert=[[False]], text_font_size=[[CELL_POINTS]], text_format=[["b"] * n],
            text_justification=[["l"] * n])],
        rtf_body=rtflite.RTFBody(col_rel_width=column_weights(table), text_convert=[[False]],
                                 text_font_size=[[CELL_POINTS]], text_justification=[["l"] * n],
                                 text_format=bold),
        rtf_footnote=rtflite.RTFFootnote(text=[rtf_escape(" ".join(notes))],
                                         text_convert=[[False]],
                                         text_font_size=[[CELL_POINTS]]) if notes else None)


def _figure_document(figure: Figure, directory: Path, index: int):
    import rtflite
    path = directory / f"figure{index}.png"
    path.write_bytes(figure.png)
    width = PAGE_INCHES[0] - 2 * MARGIN_INCHES
    height = PAGE_INCHES[1] - 2 * MARGIN_INCHES - 2.0       # room for the title and header
    scale = min(1.0, width / figure.width_inches, height / figure.height_inches)
    return rtflite.RTFDocument(
        rtf_page=_page(False), rtf_title=_title(title_of(figure)),
        rtf_figure=rtflite.RTFFigure(figures=[path], fig_width=figure.width_inches * scale,
                                     fig_height=figure.height_inches * scale,
                                     fig_align="center"))


_PAGE_SETTINGS = re.compile(r"\\margl\d+\\margr\d+\\margt\d+\\margb\d+\\headery\d+\\footery\d+\n?")


def _parts(encoded: str) -> tuple[str, str]:
    """The font table and the body of an rtflite document (page settings dropped:
    the section carries them)."""
    fonts_start = encoded.index("{\\fonttbl")
    fonts_end = encoded.index("\n}\n", fonts_start) + 2
    body_start = _PAGE_SETTINGS.search(encoded).end()
    body_end = encoded.rstrip().rindex("}")
    return encoded[fonts_start:fonts_end], encoded[body_start:body_end]


def _mark_header_rows(body: str) -> str:
    """``\\trhdr`` on the column header rows (rtflite aligns their cells at the
    bottom, ``\\clvertalb``; body cells at the top)."""
    rows = body.split("\\trowd")
    return "\\trowd".join(r if i == 0 or "\\clvertalb" not in r.split("\\row", 1)[0]
                          else "\\trhdr" + r for i, r in enumerate(rows))


def _section_start(landscape: bool, header: str) -> str:
    width, height = PAGE_INCHES[::-1] if landscape else PAGE_INCHES
    margin = round(MARGIN_INCHES * TWIPS)
    settings = (f"\\sectd\\pgwsxn{round(width * TWIPS)}\\pghsxn{round(height * TWIPS)}"
                + ("\\lndscpsxn" if landscape else "")
                + f"\\marglsxn{margin}\\margrsxn{margin}\\margtsxn{margin}\\margbsxn{margin}"
                  f"\\headery{round(0.4 * TWIPS)}\\footery{round(0.4 * TWIPS)}")
    running = ("{\\header\\pard\\qr\\fs14{\\f0 " + rtf_escape(header) + " | Page "
               + _page_field("PAGE") + " of " + _page_field("NUMPAGES") + "}\\par}")
    return settings + "\n" + running + "\n"


def _page_field(code: str) -> str:
    """A page-number field in the header's size (a field's result does not take the
    surrounding text's size in LibreOffice)."""
    return "{\\field{\\*\\fldinst{\\fs14 " + code + "}}{\\fldrslt{\\fs14 1}}}"


def _paragraph(text: str, points: int, bold: bool = False) -> str:
    return ("{\\pard\\sb60\\sa60\\ql\\fs" + str(points * 2) + ("\\b" if bold else "")
            + "{\\f0 " + rtf_escape(text) + "}\\par}\n")


def _lead(block: Block) -> str:
    text = _paragraph(block.heading, 14, bold=True) if block.heading else ""
    return text + "".join(_paragraph(t.text, 10 if t.style == "heading" else 9,
                                     bold=t.style == "heading") for t in block.texts)


def _title_page(content: ReportContent) -> str:
    out = "{\\pard\\sb2400\\sa240\\qc\\fs36\\b{\\f0 " + rtf_escape(content.title) + "}\\par}\n"
    out += "{\\pard\\sa480\\qc\\fs24{\\f0 Statistical report}\\par}\n"
    return out + "".join(_paragraph(f"{label}: {value}", 11) for label, value in content.facts)


def build_rtf(content: ReportContent) -> bytes:
    """The RTF bytes of the report content: a title page, then one block per page."""
    header = running_header(content)
    fonts, sections = "", [_section_start(False, header) + _title_page(content)]
    with tempfile.TemporaryDirectory(prefix="mscstats-rtf-") as tmp:
        for i, block in enumerate(blocks(content)):
            landscape, body = False, ""
            if isinstance(block.item, Table):
                landscape = is_landscape(block.item)
                fonts, body = _parts(_table_document(block.item).rtf_encode())
                body = _mark_header_rows(body)
            elif isinstance(block.item, Figure):
                fonts, body = _parts(_figure_document(block.item, Path(tmp), i).rtf_encode())
            sections.append(_section_start(landscape, header) + _lead(block) + body)
    if not fonts:                                       # pragma: no cover - always a table
        fonts = "{\\fonttbl{\\f0\\froman\\fcharset0 Times New Roman;}}\n"
    text = ("{\\rtf1\\ansi\\deff0\\deflang1033\n" + fonts + "\n"
            + "\\sect\n".join(sections) + "}\n")
    return text.encode("ascii")
