"""Read a trial directory (CSV, Parquet, SAS transport or sas7bdat, xlsx) into raw
tables, as read.

Nothing here interprets a value: CSV cells stay text (so "007" stays "007" and
"1e3" is not silently a number), Parquet, SAS and xlsx columns keep the types
stored in the file (a text cell stays text, a date stays a date; a number is
read as the file's own kind of number, recorded in ``RawTable.origin`` so that
validation knows a SAS date from an Excel serial date).

Which files are tables: adsl, visits, adae and ex by their file stem; besides
them any table with PARAMCD and AVAL (a BDS table: adlb, advs, adqs ...) but
without CNSR (a time-to-event table, which mscstats derives itself). A workbook
named after a table is that table (its sheet of that name, or its only sheet);
any other workbook gives the sheets named after a table or holding a BDS table.
Every other file in the directory is named in ``RawTables.files_not_read``; a
file named like a table that cannot be read is an error.

Column names are upper-cased (they match case-insensitively), and every table
gets a ``_ROW`` column: the 1-based data row in the file (header not counted,
blank lines skipped), which every message and log entry cites.

A wide visits file (one column per parameter, no PARAMCD) is melted here into
the long layout, one record per non-empty cell; its records share the ``_ROW``
of the file row they came from. Checking the values is validate.py's job.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .. import schema
from . import sniff
from ..errors import DataError, Problem
from ..schema import BDS_COLUMNS, FILE_SUFFIXES, PARAMS, REQUIRED_TABLES, TABLE_SPECS, TABLES

__all__ = ["RawTable", "RawTables", "read_tables", "blank"]

# How numbers in a date or time column are read: SAS counts days (seconds) from
# 1960-01-01, Excel days from 1899-12-30 (a time is a fraction of a day); CSV and
# Parquet store no such convention, so a number there is not a date.
ORIGINS = {".csv": "text", ".parquet": "parquet", ".xpt": "sas", ".sas7bdat": "sas",
           ".xlsx": "excel"}   # in-memory tables (tables_from_frames): "frame"

ROW = "_ROW"
_SEPARATORS = (",", ";", "\t")
# Columns of a wide visits file that identify the record; every other column is
# a parameter unless it is one of the usual ADaM bookkeeping columns below.
_WIDE_KEYS = ("USUBJID", "ADY", "ATM")
_WIDE_NOT_PARAMS = frozenset({
    "STUDYID", "SUBJID", "SITEID", "DOMAIN", "ARM", "ACTARM", "TRT01P", "TRT01A",
    "VISIT", "VISITNUM", "AVISIT", "AVISITN", "ADT", "ADTM", "AVALU", "LLOQ", ROW})


@dataclass(frozen=True)
class RawTable:
    """One table as read from its file."""
    name: str                   # adsl, visits, adae or ex
    file: str                   # file name inside the trial directory, e.g. "visits.csv"
    frame: pd.DataFrame         # upper-case columns, values as read, plus _ROW
    n_rows: int                 # data rows in the file (for a wide file: its rows, not cells)
    wide: bool = False          # visits given one column per parameter (melted here)
    wide_columns: tuple[str, ...] = ()  # the parameter columns of a wide file
    decimal_comma: bool = False  # semicolon-separated CSV: "7,5" may mean 7.5
    origin: str = "text"        # text (csv), parquet, sas (xpt, sas7bdat), excel (xlsx), frame
    columns: tuple[str, ...] = ()  # the file's columns (upper case), before a wide file is melted

    @property
    def bds(self) -> bool:
        """Efficacy records (visits, or another table with PARAMCD and AVAL)."""
        return self.name == "visits" or self.name not in TABLES


@dataclass(frozen=True)
class RawTables:
    """The tables of one trial directory, plus what was noticed while reading."""
    name: str                            # the directory's name
    tables: Mapping[str, RawTable]
    data_sha256: str                     # over sorted file names and bytes of the files read
    notes: tuple[str, ...] = field(default=())
    files_not_read: tuple[str, ...] = ()  # files (and workbook sheets) that are no table

    def __getitem__(self, name: str) -> RawTable:
        return self.tables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.tables

    @property
    def files(self) -> dict[str, str]:
        return {name: t.file for name, t in self.tables.items()}


def read_tables(directory) -> RawTables:
    """Read every table of a trial directory; DataError lists all that is wrong."""
    path = Path(directory)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataError(Problem(str(directory), f"the trial directory {what}.",
                                fix="give the directory that holds adsl.csv (and visits.csv, "
                                    "adae.csv, ex.csv)."))
    named, others, found = _find_files(path)
    for name, file in named.items():
        try:
            found.notes.extend(sniff.check(file))   # a workbook renamed .csv, UTF-16 ...
            found.add(_read_table(name, file, found), file)
        except DataError as err:
            found.problems.extend(err.problems)
    for file in others:
        found.inspect(file)
    for name in REQUIRED_TABLES:
        if name not in found.tables and name not in named:
            found.problems.append(Problem(
                path.name or str(path), f"no {name} table in {path}.",
                fix=f"add {name}.csv (or {name}.parquet / .xpt / .sas7bdat / .xlsx) with "
                    "columns " + ", ".join(TABLE_SPECS[name].required) + "."))
    if found.problems:
        raise DataError(found.problems)
    tables = found.tables
    notes = found.notes + [_wide_note(t) for t in tables.values() if t.wide]
    ordered = {name: tables[name] for name in sorted(tables, key=_table_order)}
    return RawTables(path.resolve().name, ordered, _data_sha256(found.files),
                     tuple(notes), tuple(found.not_read))


# ---------------------------------------------------------------------------
# Finding the files
# ---------------------------------------------------------------------------

@dataclass
class _Found:
    """What reading the directory found: tables, files read, files not read, problems."""
    tables: dict[str, RawTable] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def skip(self, name: str, why: str) -> None:
        self.not_read.append(name)
        self.notes.append(f"not read: {name} ({why})")

    def add(self, table: RawTable, file: Path) -> None:
        if table.name in self.tables:
            self.problems.append(Problem(file.name, f"two sources for the {table.name} table: "
                                         f"{self.tables[table.name].file} and {table.file}.",
                                         fix="keep one source per table (remove or rename the "
                                             "others)."))
            return
        self.tables[table.name] = table
        if file not in self.files:
            self.files.append(file)

    def inspect(self, file: Path) -> None:
        """A file not named after a table: the BDS tables it holds, else logged as not read."""
        try:
            sheets = _read_frames(file)
        except DataError as err:
            if _table_like(file.stem):
                self.problems.extend(err.problems)
            else:
                self.skip(file.name, "cannot be read: " + err.problems[0].message)
            return
        workbook = file.suffix.lower() == ".xlsx"
        for sheet, frame, comma in sheets:
            label = f"{file.name}[{sheet}]" if len(sheets) > 1 else file.name
            name = (sheet if workbook else file.stem).strip().lower()
            columns = {str(c).strip().upper() for c in frame.columns}
            if workbook and name in TABLES:
                self.add(_as_raw_table(name, label, frame, comma, ORIGINS[".xlsx"]), file)
            elif set(BDS_COLUMNS) <= columns and "CNSR" not in columns:
                self.add(_as_raw_table(name, label, frame, comma, ORIGINS[file.suffix.lower()]),
                         file)
            elif "CNSR" in columns:
                self.skip(label, "a time-to-event table (CNSR): mscstats derives its own "
                                 "endpoints from adsl and the BDS tables")
            elif _table_like(name) and not workbook:
                close = _table_like(name)
                self.problems.append(Problem(label, f"named like the {close} table, but it is "
                                             "not one.", fix=f"rename it {close}"
                                             f"{file.suffix.lower()} if it is the {close} table, "
                                             "or move it out of the trial directory."))
            else:
                self.skip(label, f"no table mscstats reads: not {', '.join(TABLES)}, and no "
                                 "PARAMCD and AVAL columns")


def _table_order(name: str) -> tuple[int, str]:
    """adsl, visits, adae, ex, then the other BDS tables by name."""
    return (TABLES.index(name), "") if name in TABLES else (len(TABLES), name)


def _table_like(stem: str) -> str | None:
    """The table a file name is probably a misspelling of ("vists" -> visits)."""
    close = difflib.get_close_matches(stem.lower(), TABLES, n=1, cutoff=0.8)
    return close[0] if close else None


def _find_files(path: Path) -> tuple[dict[str, Path], list[Path], _Found]:
    """Files named after a table, other readable files, and what is not read at all."""
    found = _Found()
    by_table: dict[str, list[Path]] = {}
    others: list[Path] = []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        stem, suffix = entry.stem.lower(), entry.suffix.lower()
        if not entry.is_file():
            found.skip(entry.name + "/", "a directory")
        elif suffix not in FILE_SUFFIXES and stem in TABLES:
            found.problems.append(Problem(entry.name, f"the {stem} table is in a format mscstats "
                                          f"does not read ({suffix or 'no suffix'}).",
                                          fix=f"save it as {stem}.csv, .parquet, .xpt, "
                                              ".sas7bdat or .xlsx."))
        elif suffix not in FILE_SUFFIXES or entry.name.startswith((".", "~$")):
            found.skip(entry.name, f"not a table file ({', '.join(FILE_SUFFIXES)})")
        elif stem in TABLES:
            by_table.setdefault(stem, []).append(entry)
        else:
            others.append(entry)
    found.problems += [
        Problem(path.name or str(path),
                f"two files for the {name} table: {', '.join(p.name for p in files)}.",
                fix="keep one file per table (remove or rename the others).")
        for name, files in by_table.items() if len(files) > 1]
    return {n: files[0] for n, files in by_table.items() if len(files) == 1}, others, found


def _data_sha256(files) -> str:
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda p: p.name):
        digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# Reading one table
# ---------------------------------------------------------------------------

def tables_from_frames(name: str, frames: Mapping[str, pd.DataFrame]) -> RawTables:
    """In-memory tables (adsl, visits, adae, ex as DataFrames), as if read from files
    named "<table>" -- for notebooks and simulation; validation is the same."""
    unknown = sorted(t for t, frame in frames.items() if t not in schema.TABLES and not
                     set(BDS_COLUMNS) <= {str(c).strip().upper() for c in frame.columns})
    if unknown:
        raise DataError(Problem(name, f"unknown tables {unknown}.",
                                fix=f"name tables among {', '.join(schema.TABLES)}, or give a "
                                    "BDS table (with PARAMCD and AVAL)."))
    if "adsl" not in frames:
        raise DataError(Problem(name, "no adsl table.", fix="give adsl (one row per subject)."))
    tables = {table: _as_raw_table(table, table, frame.copy(), False, "frame")
              for table, frame in sorted(frames.items(), key=lambda kv: _table_order(kv[0]))}
    digest = hashlib.sha256()
    for table in sorted(frames):
        digest.update(table.encode())
        digest.update(pd.util.hash_pandas_object(frames[table], index=False).to_numpy().tobytes())
    return RawTables(name, tables, digest.hexdigest())


def _read_table(name: str, path: Path, found: _Found) -> RawTable:
    """The table ``name`` from its file (a workbook: the sheet of that name, or its only one)."""
    sheets = _read_frames(path)
    pick = [s for s in sheets if s[0] is not None and s[0].strip().lower() == name] or sheets
    if len(pick) > 1:
        raise DataError(Problem(path.name, f"the workbook has {len(sheets)} sheets and none is "
                                f"named {name}.", fix=f"name the sheet that holds the table "
                                f"{name}, or keep only that sheet."))
    sheet, frame, comma = pick[0]
    for other, _, _ in sheets:
        if other != sheet:
            found.skip(f"{path.name}[{other}]", f"a further sheet of the {name} workbook")
    return _as_raw_table(name, path.name, frame, comma, ORIGINS[path.suffix.lower()])


def _read_frames(path: Path) -> list[tuple[str | None, pd.DataFrame, bool]]:
    """(sheet, frame, decimal comma) for each table in the file: one, or a workbook's sheets."""
    if path.stat().st_size == 0:
        raise DataError(Problem(path.name, "the file is empty (0 bytes).",
                                fix="write the header row and the data, or remove the file."))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame, separator = _read_csv(path)
        return [(None, frame, separator == ";")]
    if suffix == ".xlsx":
        from .io_xlsx import read_workbook
        return [(sheet, frame, False) for sheet, frame in read_workbook(path)]
    reader = {".parquet": _read_parquet, ".xpt": _read_xpt, ".sas7bdat": _read_sas7bdat}[suffix]
    return [(None, reader(path), False)]


def _as_raw_table(name: str, file: str, frame: pd.DataFrame, decimal_comma: bool,
                  origin: str = "text") -> RawTable:
    frame = _upper_columns(frame, file)
    n_rows, read = len(frame), tuple(frame.columns)
    frame[ROW] = np.arange(1, n_rows + 1, dtype=np.int64)
    if name == "visits" and _is_wide(frame):
        columns = tuple(_wide_parameters(frame.columns))
        return RawTable(name, file, _melt_wide(frame), n_rows, True, columns, decimal_comma,
                        origin, read)
    return RawTable(name, file, frame, n_rows, decimal_comma=decimal_comma, origin=origin,
                    columns=read)


def _upper_columns(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    names = [str(c).strip().upper() or f"UNNAMED{k + 1}" for k, c in enumerate(frame.columns)]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    twice = sorted(n for n, k in seen.items() if k > 1)
    if twice:
        raise DataError(Problem(file, "column names appear twice (names match "
                                      "case-insensitively): " + ", ".join(twice) + ".",
                                fix="rename or remove the repeated columns.",
                                column=twice[0]))
    if ROW in names:
        raise DataError(Problem(file, f"the column name {ROW} is reserved.",
                                fix=f"rename the {ROW} column.", column=ROW))
    frame.columns = names
    return frame.reset_index(drop=True)


def _read_csv(path: Path) -> tuple[pd.DataFrame, str]:
    header = _header_line(path)
    try:
        separator = max(_SEPARATORS, key=lambda s: len(_split(header, s)))
        names = [n.strip().upper() for n in _split(header, separator)]
    except DataError as err:
        raise DataError(replace(err.problems[0], file=path.name)) from None
    try:
        import pyarrow  # noqa: F401  (fast, compact reader when installed)
    except ImportError:
        return _read_csv_pandas(path, separator, names), separator
    return _read_csv_arrow(path, separator, names), separator


def _header_line(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    head = head.removeprefix(b"\xef\xbb\xbf")
    line = head.split(b"\n", 1)[0].split(b"\r", 1)[0]    # LF, CRLF or CR-only line breaks
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(Problem(path.name, "the header is not UTF-8 text.",
                                fix="save the file as UTF-8 CSV.", row=None)) from None
    if not text.strip():
        raise DataError(Problem(path.name, "the first line (the header) is empty.",
                                fix="put the column names on the first line."))
    return text


def _split(line: str, separator: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=separator), [])
    except csv.Error as err:
        raise DataError(Problem("header", f"cannot read the header line: {err}.",
                                fix="put the column names on the first line, separated by "
                                    "commas.")) from None


def _read_csv_arrow(path: Path, separator: str, names: list[str]) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=separator, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException) as err:
        raise (sniff.long_row_error(path, separator, names)
               or _unreadable(path.name, str(err))) from None
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    del table
    pa.default_memory_pool().release_unused()   # the parser's buffers, back to the system
    return frame


def _read_csv_pandas(path: Path, separator: str, names: list[str]) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=separator, header=0, names=names, dtype=str,
                           keep_default_na=False, na_filter=False, encoding="utf-8-sig",
                           engine="c")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise _unreadable(path.name, str(err)) from None


def _unreadable(file: str, detail: str) -> DataError:
    detail = " ".join(detail.split())[:300]
    if "UTF8" in detail or "utf-8" in detail:
        fix = "save the file as UTF-8 CSV."
    else:
        fix = ("every row needs as many fields as the header; quote fields that contain "
               "the separator.")
    return DataError(Problem(file, f"cannot read the file: {detail}", fix=fix))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(Problem(path.name, "reading Parquet files needs the pyarrow package.",
                                fix="pip install pyarrow (or mscstats[parquet]), or save the "
                                    "table as CSV.")) from None
    strings = pd.StringDtype("pyarrow")
    try:
        table = pq.read_table(path)
        sniff.check_flat_columns(table, path.name)     # a cell holds one value, not a list
        return table.to_pandas(types_mapper={pa.string(): strings,
                                             pa.large_string(): strings}.get)
    except (pa.ArrowException, OSError, ValueError) as err:   # a damaged file or metadata
        raise DataError.unreadable(path.name, "Parquet file", err,
                                   "export the table again as Parquet, or as CSV.") from None


def _read_sas7bdat(path: Path) -> pd.DataFrame:
    """SAS data set: pyreadstat (dates with a SAS date format come back as dates)."""
    try:
        import pyreadstat
    except ImportError:
        raise DataError(Problem(path.name, "reading sas7bdat files needs the pyreadstat package.",
                                fix="pip install pyreadstat, or export the table as SAS XPORT "
                                    "(.xpt) or CSV.")) from None
    try:
        return pyreadstat.read_sas7bdat(str(path))[0]
    except Exception as err:  # noqa: BLE001  (pyreadstat raises its own error types)
        raise DataError.unreadable(path.name, "sas7bdat file", err,
                                   "export the table again as sas7bdat, SAS XPORT (.xpt) or "
                                   "CSV.") from None


def _read_xpt(path: Path) -> pd.DataFrame:
    """SAS transport: pyreadstat (versions 5 and 8) when installed, else pandas (version 5)."""
    try:
        import pyreadstat
    except ImportError:
        pyreadstat = None
    try:
        if pyreadstat is not None:
            return pyreadstat.read_xport(str(path))[0]
        return pd.read_sas(path, format="xport", encoding="utf-8")
    except Exception as err:  # noqa: BLE001  (both readers raise their own error types)
        raise DataError.unreadable(path.name, "SAS transport file", err,
                                   "export the table again as SAS XPORT (.xpt), or as CSV."
                                   ) from None


# ---------------------------------------------------------------------------
# Wide visits
# ---------------------------------------------------------------------------

def blank(values: pd.Series) -> np.ndarray:
    """True where a cell is empty: missing, or text that is only whitespace."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.isna().to_numpy()
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    empty = np.array([not str(u).strip() for u in uniques] + [True], dtype=bool)
    return empty[codes]


def _is_wide(frame: pd.DataFrame) -> bool:
    return "PARAMCD" not in frame.columns and any(c in PARAMS for c in frame.columns)


def _wide_parameters(columns) -> list[str]:
    return [c for c in columns if c not in _WIDE_KEYS and c not in _WIDE_NOT_PARAMS]


def _melt_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """One record per non-empty parameter cell, with the cell text (or number) in AVAL."""
    keys = [c for c in _WIDE_KEYS if c in frame.columns]
    pieces = []
    for param in _wide_parameters(frame.columns):
        present = ~blank(frame[param])
        piece = frame.loc[present, keys]
        pieces.append(piece.assign(PARAMCD=param, AVAL=frame.loc[present, param],
                                   **{ROW: frame.loc[present, ROW]}))
    columns = keys + ["PARAMCD", "AVAL", ROW]
    if not pieces:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    long = pd.concat(pieces, ignore_index=True)
    return long.sort_values(ROW, kind="stable").reset_index(drop=True)[columns]


def _wide_note(table: RawTable) -> str:
    return (f"{table.file} is wide (one column per parameter: "
            f"{', '.join(table.wide_columns) or 'none'}): {table.n_rows} rows melted into "
            f"{len(table.frame)} records (empty cells are not records), read in canonical units")
