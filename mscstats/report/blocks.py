"""The report content as page blocks for the word-processor formats (RTF, DOCX).

A clinical study report takes one table, figure or listing per page block: each
block starts on a new page, with the section's heading when it opens a section
and the section's text that comes before the item. Both renderers share this
split, the numbered titles, the relative column widths and the choice of a
landscape page for a wide table, so the RTF and the DOCX show the same pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .content import Figure, ReportContent, Text
from .tables import Table

__all__ = ["Block", "blocks", "title_of", "footnotes_of", "column_weights", "is_landscape",
           "running_header", "PAGE_INCHES", "MARGIN_INCHES"]

PAGE_INCHES = (8.27, 11.69)           # A4 portrait, as the PDF
MARGIN_INCHES = 0.75
CELL_CHARS = 40                       # a longer cell wraps; it claims no more width
PADDING_CHARS = 4                     # a cell's margins (about 0.3 inch), in characters
PORTRAIT_CHARS = 95                   # tables wider than this (in characters) go landscape
LANDSCAPE_CHARS = 140                 # what a landscape page holds at the cells' 8 points
SHORT_CHARS = 14                      # columns up to this never wrap


@dataclass(frozen=True)
class Block:
    """What one page block shows: an optional section heading, text, then an item."""
    heading: str
    texts: tuple[Text, ...]
    item: Union[Table, Figure, None]


def blocks(content: ReportContent) -> list[Block]:
    """The content's page blocks, in order; text after a section's last item makes a
    block of its own."""
    out: list[Block] = []
    for section in content.sections:
        heading, texts = section.title, []
        for item in section.items:
            if isinstance(item, Text):
                texts.append(item)
                continue
            out.append(Block(heading, tuple(texts), item))
            heading, texts = "", []
        if texts or heading:
            out.append(Block(heading, tuple(texts), None))
    return out


def title_of(item: Union[Table, Figure]) -> str:
    """The numbered title ("Table 3. ..."), as the PDF numbers it (before the
    numbering lands, the bare title)."""
    text = item.title if isinstance(item, Table) else item.caption
    number = getattr(item, "number", "")
    return f"{number}. {text}" if number else text


def footnotes_of(table: Table) -> tuple[str, ...]:
    notes = getattr(table, "footnotes", ())
    if isinstance(notes, str):
        notes = (notes,) if notes else ()
    return tuple(notes)


def _column_chars(table: Table) -> list[int]:
    """Each column's width in characters: its longest cell up to CELL_CHARS, at least
    its longest word (up to CELL_CHARS too, so an id of 200 characters wraps)."""
    widths = []
    for i, name in enumerate(table.columns):
        cells = [name] + [row[i] for row in table.rows]
        longest = max(len(str(c)) for c in cells)
        word = max((len(w) for c in cells for w in str(c).split()), default=1)
        widths.append(max(3, min(CELL_CHARS, max(longest, word))) + PADDING_CHARS)
    return widths


def column_weights(table: Table) -> list[float]:
    """Relative column widths (fractions of the table's width that sum to 1): a
    short column (up to SHORT_CHARS) keeps its natural width, so "<0.001" or
    "12 (40.0%)" never wraps; the long ones share what is left and wrap."""
    chars = _column_chars(table)
    capacity = LANDSCAPE_CHARS if is_landscape(table) else PORTRAIT_CHARS
    short = sum(c for c in chars if c <= SHORT_CHARS)
    long = sum(c for c in chars if c > SHORT_CHARS)
    if long == 0 or short >= capacity:
        return [c / sum(chars) for c in chars]
    share = (capacity - short) / long
    widths = [c if c <= SHORT_CHARS else c * share for c in chars]
    return [w / sum(widths) for w in widths]


def is_landscape(table: Table) -> bool:
    return sum(_column_chars(table)) > PORTRAIT_CHARS


def running_header(content: ReportContent) -> str:
    """The text at the top of every page (the page number follows it)."""
    facts = dict(content.facts)
    parts = [content.title]
    for label in ("Study", "Data cut-off", "mscstats"):
        if facts.get(label) and facts[label] != content.title:
            parts.append(f"{label} {facts[label]}" if label != "Study" else facts[label])
    return " | ".join(dict.fromkeys(parts))
