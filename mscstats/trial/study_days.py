"""Bounds of study days: a day no trial can have is an error, never a wrapped integer.

Every study-day column (ADY, DTHDY, DSCHDY, LSTALVDY, AESTDY, EXSTDY and any
other column named *DY) holds |day| <= MAX_STUDY_DAY. Checked on the tables as
read, before anything else compares or converts days (check_day_bounds), and
again on every study day validation reads (validate_cells._days: a day counted
from a date too): 9223372036854775807 or 1e20 would wrap through
int64 to a pre-treatment day, 45007 is an Excel date serial (2023-03-22), and a
visit "after death" is no news when its day is a date. A subject all of whose
visits lie far beyond their last day known alive has days on another scale
(dates, hours): an error too, where one late visit is only a warning.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Callable

import numpy as np

from ..errors import DataError
from .io import ROW, RawTable, RawTables

__all__ = ["MAX_STUDY_DAY", "FOLLOW_UP_MARGIN", "check_day_bounds", "add_out_of_bounds",
           "beyond_follow_up"]

MAX_STUDY_DAY = 3650            # ten years either side of day 1
FOLLOW_UP_MARGIN = 30           # days after LSTALVDY before a whole subject's visits are wrong
# Excel date serials of 1950-01-01 .. 2100-01-01 (day 0 of Excel's calendar is 1899-12-30)
_EXCEL_SERIALS = (18264, 73051)
_EXCEL_EPOCH = date(1899, 12, 30)
_DAY_COLUMN = re.compile(r"^[A-Z0-9_]*DY$")
# the ADaM date column that replaces a study-day column
_DATE_COLUMN = {"ADY": "ADT", "AESTDY": "ASTDT", "EXSTDY": "EXSTDT"}


def check_day_bounds(raw: RawTables) -> None:
    """DataError naming file, row, column and value of every study day out of bounds."""
    from .validate_cells import _Cells, _Problems   # (validate_cells reads days with this module)
    problems = _Problems()
    for table in raw.tables.values():
        for column in table.frame.columns:
            if _DAY_COLUMN.match(column) and column != "STUDY":
                cells = _Cells(table.frame[column], len(table.frame))
                add_out_of_bounds(problems, table, column, cells.number(), cells.text)
    if problems:
        raise DataError(list(problems))


def add_out_of_bounds(problems, table: RawTable, column: str, days: np.ndarray,
                      text: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Add a located problem for the days of the column beyond MAX_STUDY_DAY (an Excel
    date serial named as one); True where a day is out of bounds. text(which): the cells."""
    with np.errstate(invalid="ignore"):
        out = np.abs(days) > MAX_STUDY_DAY
    if not out.any():
        return out
    rows = table.frame[ROW].to_numpy()
    dates = _DATE_COLUMN.get(column, column[:-2] + "DT")
    excel = out & (days >= _EXCEL_SERIALS[0]) & (days <= _EXCEL_SERIALS[1])   # 45007.5: noon
    if dates in table.frame.columns:     # the day is counted from the table's dates
        excel[:] = False
    if excel.any():
        first = float(days[excel][0])
        when = _EXCEL_EPOCH + timedelta(days=int(first))
        problems.add(table.file, column, f"{column} looks like an Excel date serial "
                     f"({first:g} is {when.isoformat()}), not a study day.",
                     f"convert to study days (day 1 is the day of randomization), or give "
                     f"{dates} dates instead of {column}.", rows[excel], text(excel))
    other = out & ~excel
    if other.any():
        problems.add(table.file, column, f"{column} is beyond any plausible study day "
                     f"(|day| <= {MAX_STUDY_DAY}, ten years from day 1).",
                     f"write {column} as a study day (day 1 is the day of randomization, the "
                     "day before it -1); a value this large is a date, a time stamp or a "
                     "unit error (a day counted from a date: the date or RANDDT is wrong).",
                     rows[other], text(other))
    return out


def beyond_follow_up(day: np.ndarray, last_alive: np.ndarray, position: np.ndarray,
                     used: np.ndarray) -> np.ndarray:
    """Rows of the subjects whose every used visit is more than FOLLOW_UP_MARGIN days
    after their LSTALVDY (last_alive: per row; position: the row's subject, -1 unknown)."""
    considered = used & (position >= 0) & np.isfinite(day) & np.isfinite(last_alive)
    if not considered.any():
        return np.zeros(len(day), dtype=bool)
    late = considered & (day > last_alive + FOLLOW_UP_MARGIN)
    size = int(position.max()) + 1
    n_visits = np.bincount(position[considered], minlength=size)
    n_late = np.bincount(position[late], minlength=size)
    whole = (n_visits > 0) & (n_late == n_visits)
    return late & whole[np.maximum(position, 0)]
