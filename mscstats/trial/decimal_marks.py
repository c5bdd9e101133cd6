"""The decimal mark of CSV numbers: as the SAP declares it, or as the file shows it.

``read_decimal_marks`` runs before any number is read (validate.py). It looks at
the number columns of every CSV table (the columns mscstats reads as numbers, and
any other column whose every filled cell is a number), rewrites each number with
a decimal point, logs every conversion, and refuses what it cannot read for sure:

- not declared, comma- or tab-separated file: numbers use a point; a comma in a
  number ("1,200", "7,5") is an error whose fix names the SAP key.
- not declared, semicolon-separated file (decimal commas are usual there):
  "7,5" is 7.5 (logged) and "7.5" stays 7.5, but "1,200" (1.2, or 1200 with a
  thousands comma?) is an error, and so is "1.200" in a column that also holds
  decimal commas. mscstats does not guess.
- not declared: "1,234,567", "1.234,5", "1,234.5" (thousands separators) are errors.
- SAP ``[data] decimal = "."``: "1,200" is 1200 and "1,234.5" 1234.5 (thousands
  separators removed, logged); "7,5" is an error.
- SAP ``[data] decimal = ","``: "1,200" is 1.2, "1.234,5" 1234.5 (logged); "7.5"
  is an error.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .. import schema
from .csv_text import (COMMA, COMMA3, GROUPED, POINT, POINT3, comma_to_point, decimal_forms,
                       without_thousands)
from ..errors import DataError
from .io import ROW, RawTable, RawTables
from .quality import QualityLog
from .validate_cells import _Cells, _Problems

__all__ = ["read_decimal_marks"]

DECIMAL_MARKS = (".", ",")
# Text columns: never numbers, whatever they look like ("1,2" is an id there).
_TEXT_COLUMNS = frozenset({
    "USUBJID", "SUBJID", "STUDYID", "SITEID", "STRATUM", "DOMAIN", "ARM", "ACTARM", "TRT01P",
    "TRT01A", "PARAMCD", "PARAM", "AVALU", "AVISIT", "VISIT", "ATM", "AESTTM", "EXSTTM",
    "AEDECOD", "AEBODSYS", "AETERM", "EXDOSU", "EXROUTE", ROW})
_SAP_KEY = '[data] decimal = ","'


def read_decimal_marks(raw: RawTables, decimal: str | None, log: QualityLog) -> RawTables:
    """The tables with every number of a CSV file written with a decimal point and no
    thousands separator (each conversion logged).

    decimal: the SAP's [data] decimal ("." or ","), None when it does not say.
    Raises DataError naming the file, row, column and cell of every number whose
    marks cannot be read for sure.
    """
    if decimal not in (None, *DECIMAL_MARKS):
        raise ValueError(f"decimal must be one of {DECIMAL_MARKS} or None, got {decimal!r}")
    problems = _Problems()
    tables = {name: _read_table(table, decimal, log, problems)
              for name, table in raw.tables.items()}
    if problems:
        raise DataError(list(problems))
    return replace(raw, tables=tables)


def _read_table(table: RawTable, decimal: str | None, log: QualityLog,
                problems: _Problems) -> RawTable:
    if not table.file.lower().endswith(".csv"):
        return table
    frame = table.frame
    changed = {}
    for column in frame.columns:
        if column in _TEXT_COLUMNS or not _may_hold_marks(frame[column], decimal):
            continue
        text = _read_column(table, column, decimal, log, problems)
        if text is not None:
            changed[column] = pd.Series(text, index=frame.index, dtype=frame[column].dtype)
    if changed:
        frame = frame.assign(**changed)
    return replace(table, frame=frame, decimal_comma=False)


def _may_hold_marks(values: pd.Series, decimal: str | None) -> bool:
    """A quick look: a comma anywhere (or a point, where the SAP declares the comma)."""
    if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
        return False
    if values.str.contains(",", regex=False, na=False).any():
        return True
    return decimal == "," and bool(values.str.contains(".", regex=False, na=False).any())


def _read_column(table: RawTable, column: str, decimal: str | None, log: QualityLog,
                 problems: _Problems) -> np.ndarray | None:
    """The column's cells with decimal points; None when nothing changes (or a text column)."""
    frame = table.frame
    cells = _Cells(frame[column], len(frame))
    labels = cells.labels
    forms = decimal_forms(labels)
    spec = schema.TABLE_SPECS.get(table.name)
    known = (spec is not None and column in spec.numeric) or column in ("AVALC", "LLOQ") \
        or column.endswith("DY")
    if not known and not (forms[labels != ""] != "").all():
        return None                           # a text column: its commas are text
    text, converted, refused = _read_labels(labels, forms, decimal, table.decimal_comma)
    rows_of = frame[ROW].to_numpy()
    for key, wrong in refused.items():
        message, fix = _REFUSALS[key]
        rows = np.isin(cells.codes, np.flatnonzero(wrong))
        for name, sel in _by_file_column(table, column, rows):
            problems.add(table.file, name, message, fix, rows_of[sel], cells.text(sel))
    why = f"as the SAP declares ([data] decimal = {decimal!r})" if decimal else \
        "semicolon-separated file"
    for rule, which in converted.items():
        first = np.flatnonzero(which)[0]
        rows = np.isin(cells.codes, np.flatnonzero(which))
        for name, sel in _by_file_column(table, column, rows):
            log.convert(table.file, name, f"{rule}, e.g. '{labels[first]}' -> {text[first]} "
                        f"({why})", rows_of[sel])
    return text[cells.codes] if converted else None


_COMMA_RULE = "decimal comma read as a point"
_THOUSANDS_RULE = "thousands separator removed"
_REFUSALS = {
    "thousands": ("a thousands separator in a number (removed only when the SAP declares the "
                  "decimal mark).",
                  "write the number without thousands separators (1234.5), or declare the "
                  "decimal mark in the SAP ([data] decimal = \".\" or \",\")."),
    "comma": ("a comma in a number: a thousands separator or a decimal comma; this file is "
              "not semicolon-separated, so numbers use a decimal point.",
              "write the number with a decimal point and no thousands separator (1200, 1.2); "
              f"if the CSV files use decimal commas, declare {_SAP_KEY} in the SAP."),
    "ambiguous": ("ambiguous number: a decimal mark or a thousands separator? ('1,200' is 1.2 "
                  "with a decimal comma, 1200 with a thousands comma; mscstats does not "
                  "guess).",
                  f"declare the decimal mark in the SAP ({_SAP_KEY} reads '1,200' as 1.2, "
                  "[data] decimal = \".\" as 1200), or write the number without a thousands "
                  "separator (1200)."),
    "declared.": ("a comma in a number that is no thousands separator (one between groups of "
                  "three digits), but the SAP declares the decimal point ([data] decimal = "
                  "\".\").",
                  "write the number with a decimal point (7.5), or correct [data] decimal in "
                  "the SAP."),
    "declared,": ("a point in a number that is no thousands separator (one between groups of "
                  "three digits), but the SAP declares the decimal comma ([data] decimal = "
                  "\",\").",
                  "write the number with a decimal comma (7,5), or correct [data] decimal in "
                  "the SAP."),
}


def _read_labels(labels: np.ndarray, forms: np.ndarray, decimal: str | None,
                 semicolons: bool) -> tuple[np.ndarray, dict, dict]:
    """Per distinct text: the text with a decimal point (thousands separators removed),
    {rule: which texts it converted}, {refusal: which texts cannot be read for sure}."""
    text = labels.copy()
    converted: dict[str, np.ndarray] = {}
    refused: dict[str, np.ndarray] = {}

    def convert(rule: str, which: np.ndarray, how) -> None:
        if which.any():
            text[which] = [how(t) for t in labels[which]]
            converted[rule] = which

    def refuse(key: str, which: np.ndarray) -> None:
        if which.any():
            refused[key] = which

    point = np.isin(forms, (POINT, POINT3)) & np.array(["." in t for t in labels], dtype=bool)
    if decimal is None:
        refuse("thousands", forms == GROUPED)
        if not semicolons:
            refuse("comma", np.isin(forms, (COMMA, COMMA3)))
            return text, converted, refused
        comma = forms == COMMA
        convert(_COMMA_RULE, comma, comma_to_point)
        refuse("ambiguous", (forms == COMMA3) | ((forms == POINT3) & comma.any()))
        return text, converted, refused
    plain = np.array([without_thousands(t, decimal) if f in (COMMA3, POINT3, GROUPED) else None
                      for t, f in zip(labels, forms)], dtype=object)
    grouped = np.array([p is not None for p in plain], dtype=bool)
    convert(_THOUSANDS_RULE, grouped, lambda t: without_thousands(t, decimal))
    if decimal == ",":
        comma = np.isin(forms, (COMMA, COMMA3)) & ~grouped
        convert(_COMMA_RULE, comma, comma_to_point)
        refuse("declared,", (point | (forms == GROUPED)) & ~grouped)
    else:
        refuse("declared.", np.isin(forms, (COMMA, COMMA3, GROUPED)) & ~grouped)
    return text, converted, refused


def _by_file_column(table: RawTable, column: str, rows: np.ndarray):
    """(the file's column name, rows): a wide visits file has one column per parameter."""
    if not (table.wide and column == "AVAL"):
        yield column, rows
        return
    params = _Cells(table.frame["PARAMCD"], len(table.frame)).text()
    for param in sorted(set(params[rows])):
        yield param, rows & (params == param)
