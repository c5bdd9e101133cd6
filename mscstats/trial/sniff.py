"""What a table file really is, from its first bytes: the cause of an unreadable file.

A reader's own complaint names its internals ("Expected 11 columns, got 1", "header
is not UTF-8", "universal-newline mode"); the bytes name the cause: a workbook
renamed .csv, UTF-16 text, a file cut short, a cell of 200 MB. ``check`` runs on
every table file before it is read and raises DataError with the fix, or returns
notes on what was read as it is (CR-only line breaks). ``long_row_error`` explains
a CSV row too long to read; ``check_flat_columns`` refuses Parquet columns of lists.
"""

from __future__ import annotations

import mmap
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError, Problem

__all__ = ["check", "long_row_error", "check_flat_columns", "MAX_ROW_BYTES"]

HEAD_BYTES = 1 << 16
MAX_ROW_BYTES = 1 << 20          # the CSV reader's block: a row must fit in it
_SAS7BDAT = (b"\x00" * 12 + b"\xc2\xea\x81\x60\xb3\x14\x11\xcf\xbd\x92\x08\x00\x09\xc7\x31\x8c"
             b"\x18\x1f\x10\x11")
# (magic at the start, what the file is, the suffix that reads it or None)
_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)", None),
    (b"PAR1", "a Parquet file", ".parquet"),
    (b"HEADER RECORD*******", "a SAS transport file", ".xpt"),
    (_SAS7BDAT, "a SAS data set (sas7bdat)", ".sas7bdat"),
    (b"\x1f\x8b", "a gzip-compressed file", None),
    (b"BZh", "a bzip2-compressed file", None),
    (b"\xfd7zXZ\x00", "an xz-compressed file", None),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", None),
    (b"%PDF", "a PDF document", None),
)
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 text (little-endian, with a byte-order mark)"),
    (b"\x00\x00\xfe\xff", "UTF-32 text (big-endian, with a byte-order mark)"),
    (b"\xff\xfe", "UTF-16 text (little-endian, with a byte-order mark)"),
    (b"\xfe\xff", "UTF-16 text (big-endian, with a byte-order mark)"),
)
_ZIP = "a zip archive"
_OWN_MAGIC = {".parquet": b"PAR1", ".xpt": b"HEADER RECORD*******"}
_OWN_KIND = {".parquet": "a Parquet file", ".xpt": "a SAS transport file"}
_SAVE_UTF8 = ("save the file as UTF-8 CSV (in Excel: 'CSV UTF-8 (comma delimited)'; or "
              "iconv -f {enc} -t UTF-8).")


def _fail(file: str, message: str, fix: str, row: int | None = None,
          column: str | None = None) -> DataError:
    return DataError(Problem(file, message, fix=fix, row=row, column=column))


def check(path: Path) -> list[str]:
    """DataError when the file is not what its name says, or not UTF-8 text for a CSV;
    otherwise notes on what is read as it is."""
    with open(path, "rb") as handle:
        head = handle.read(HEAD_BYTES)
    suffix = path.suffix.lower()
    what, right = _kind(path, head)
    if what is not None and right != suffix and not (suffix == ".xlsx" and what == _ZIP):
        # (a zip named .xlsx that holds no workbook: the workbook reader says what is wrong)
        fix = (f"name it {path.stem}{right}." if right else
               "export the table as CSV (UTF-8), Parquet or SAS transport (.xpt).")
        if right == ".xlsx":
            fix = f"name it {path.stem}.xlsx, or save the sheet as CSV UTF-8."
        raise _fail(path.name, f"this is {what}, not {_named(suffix)}.", fix)
    if suffix != ".csv":
        if suffix in _OWN_MAGIC and not head.startswith(_OWN_MAGIC[suffix]) and _is_text(head):
            raise _fail(path.name, f"this is text (CSV?), not {_OWN_KIND[suffix]}.",
                        f"name it {path.stem}.csv if it is CSV text, or export the table "
                        f"again as {_OWN_KIND[suffix]}.")
        return []
    _check_text(path.name, head)
    return _line_breaks(path, head)


def _named(suffix: str) -> str:
    return "CSV text" if suffix == ".csv" else f"what its name {suffix} says"


def _kind(path: Path, head: bytes) -> tuple[str | None, str | None]:
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            names = []
        if any(n.startswith("xl/") for n in names):
            return "an Excel workbook (xlsx)", ".xlsx"
        return _ZIP, None
    for magic, what, right in _MAGIC:
        if head.startswith(magic):
            return what, right
    return None, None


def _is_text(head: bytes) -> bool:
    """Looks like CSV: UTF-8 text whose first line holds a separator and ends in a line break."""
    try:
        head.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError:      # (or a multi-byte character cut at the end of head)
        return False
    first, _, rest = head.replace(b"\r", b"\n").partition(b"\n")
    return bool(rest) and b"\x00" not in head and any(s in first for s in (b",", b";", b"\t"))


def _check_text(file: str, head: bytes) -> None:
    for bom, what in _BOMS:
        if head.startswith(bom):
            enc = what.split()[0] + ("LE" if "little" in what else "BE")
            raise _fail(file, f"the file is {what}, not UTF-8.", _SAVE_UTF8.format(enc=enc))
    if b"\x00" not in head:
        return
    even, odd = np.frombuffer(head[: len(head) // 2 * 2], dtype=np.uint8).reshape(-1, 2).T
    if (odd == 0).mean() > 0.3 and (even == 0).mean() < 0.05:
        what, enc = "UTF-16 text (little-endian) without a byte-order mark", "UTF-16LE"
    elif (even == 0).mean() > 0.3 and (odd == 0).mean() < 0.05:
        what, enc = "UTF-16 text (big-endian) without a byte-order mark", "UTF-16BE"
    else:
        raise _fail(file, "the file holds binary data (NUL bytes), not CSV text.",
                    "export the table as CSV (UTF-8) and check the file is the one meant.")
    raise _fail(file, f"the file is {what}, not UTF-8.", _SAVE_UTF8.format(enc=enc))


def _line_breaks(path: Path, head: bytes) -> list[str]:
    if b"\n" in head:
        return []
    if b"\r" in head:
        return [f"{path.name}: line breaks are CR only (classic Mac OS); read as line breaks"]
    size = path.stat().st_size
    if size == 0 or size > len(head):
        return []    # empty (the reader says so), or a header longer than HEAD_BYTES
    preview = repr(head[:40].decode("utf-8", errors="replace")) + ("..." if size > 40 else "")
    raise _fail(path.name, f"the file is a single line without a line break ({size} "
                           f"byte{'s' if size > 1 else ''}: {preview}): no header row "
                           "followed by data rows.",
                "write the header row, a line break and the data rows (the file may have "
                "been cut short).")


def long_row_error(path: Path, separator: str, names: list[str]) -> DataError | None:
    """The row (and its longest cell) too long for the CSV reader; None when none is."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        data = np.frombuffer(mm, dtype=np.uint8)
        newline = ord("\n") if mm.find(b"\n") >= 0 else ord("\r")
        ends = np.flatnonzero(data == newline)
        starts = np.r_[0, ends + 1]
        ends = np.r_[ends, len(data)]
        lengths = ends - starts
        long = np.flatnonzero(lengths > MAX_ROW_BYTES)
        if not len(long):
            del data
            return None
        line = int(long[0])
        row = int(np.count_nonzero(lengths[1:line] > 1)) + 1 if line else None
        text = bytes(mm[starts[line]:ends[line]])
        del data
    cells = text.split(separator.encode())
    k = int(np.argmax([len(c) for c in cells]))
    column = names[k] if row is not None and k < len(names) else None
    size = len(cells[k]) / 2**20
    where = "the header" if row is None else f"row {row}"
    return _fail(path.name, f"{where} holds a cell of {size:.1f} MB: longer than a CSV cell "
                            f"can be (rows up to {MAX_ROW_BYTES // 2**20} MB are read).",
                 "an unclosed quote (\") joins the rest of the file into one cell: close it; "
                 "or the cell holds a whole document: shorten it (long texts belong in "
                 "another file).", row=row, column=column)


def check_flat_columns(table, file: str) -> None:
    """DataError for a Parquet column of lists, structs or maps (a cell holds one value)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    for name, field in zip(table.column_names, table.schema):
        kind = field.type
        if not pa.types.is_nested(kind):
            continue
        filled = pc.invert(pc.is_null(table[name])).to_numpy(zero_copy_only=False)
        raise _fail(file, f"the column holds {kind} values, not one value per cell.",
                    "write one value per cell: a list becomes one row per value (e.g. pandas "
                    "DataFrame.explode), a struct one column per field.",
                    row=int(np.argmax(filled)) + 1 if filled.any() else None,
                    column=str(name).strip().upper())
