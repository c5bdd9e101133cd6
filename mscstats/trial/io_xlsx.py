"""Read an Excel workbook (.xlsx) with openpyxl: each sheet a table, cells as typed.

The first row of a sheet is its header; rows that are wholly empty are not data.
A column whose filled cells are all numbers becomes a float column; any other
column keeps each cell as Excel stored it: text stays text ("01" stays "01"), a
date-formatted cell stays a date, a number stays a number (validation then reads
a number in a date column as an Excel serial date).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, Problem

__all__ = ["read_workbook"]


def read_workbook(path: Path) -> list[tuple[str, pd.DataFrame]]:
    """(sheet name, frame) for every sheet that has a header row."""
    try:
        import openpyxl
    except ImportError:
        raise DataError(Problem(path.name, "reading xlsx files needs the openpyxl package.",
                                fix="pip install openpyxl, or save the table as CSV.")) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001  (zipfile, XML and openpyxl errors alike)
        raise DataError.unreadable(path.name, "xlsx workbook", err,
                                   "save the workbook again from Excel as .xlsx (not .xls or "
                                   "a renamed file), or save each table as CSV.") from None
    try:
        sheets = [(sheet.title, _sheet_frame(path.name, sheet)) for sheet in book.worksheets]
    finally:
        book.close()
    sheets = [(title, frame) for title, frame in sheets if frame is not None]
    if not sheets:
        raise DataError(Problem(path.name, "the workbook has no sheet with a header row.",
                                fix="put the column names on the first row of the sheet."))
    return sheets


def _sheet_frame(file: str, sheet) -> pd.DataFrame | None:
    rows = [row for row in sheet.iter_rows(values_only=True)
            if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in row)]
    if not rows:
        return None
    header = list(rows[0])
    while header and header[-1] is None:
        header.pop()
    width = len(header)
    body = [list(row[:width]) + [None] * (width - len(row[:width])) for row in rows[1:]]
    names = ["" if h is None else str(h) for h in header]
    columns = {}
    for k, name in enumerate(names):
        columns[k] = _column([row[k] for row in body])
    frame = pd.DataFrame(columns)
    frame.columns = names
    return frame


def _column(values: list) -> pd.Series:
    filled = [v for v in values if v is not None]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in filled)
    if filled and numbers:
        return pd.Series(np.array([np.nan if v is None else float(v) for v in values]))
    return pd.Series(np.array(values, dtype=object), dtype=object)
