"""Check a trial's tables, convert units, and account for every row read.

``validate(raw)`` turns the tables io.py read into a :class:`~mscstats.quality.Trial`
in canonical form, or raises one :class:`~mscstats.errors.DataError` listing every
problem found (file, row, column, what is wrong and the fix). Rows are never lost
silently: each row read is used (possibly converted, the rule logged), or dropped
with a reason, in the trial's :class:`~mscstats.quality.QualityLog`.

Speed: a column's text work (stripping, parsing numbers, mapping spellings) is
done once per distinct value and spread to the rows by integer codes, and every
per-parameter step works on index arrays, so ten million visit rows cost seconds.

Judgement calls (where DESIGN.md is silent):
- Errors, besides DESIGN.md's: ADY or any other study day 0, non-integer or not a
  number; a visit, AE or dose after the death day; DTHDY before DSCHDY; LSTALVDY
  after DTHDY or before DSCHDY; DTHDY, DSCHDY or LSTALVDY before day 1; an ARM in
  visits/adae/ex that differs from adsl's; an ATM that is not a clock time.
- LSTALVDY empty but DTHDY given: LSTALVDY = DTHDY (converted, logged); empty
  without DTHDY is an error.
- Below-LLOQ handling applies to cytokines and to parameters mscstats does not
  know (CRP, ferritin ... are lab values too); a "<x" result of a known
  non-laboratory parameter (PAO2 "<20") is an error.
- A numeric parameter with AVAL empty and a number in AVALC uses that number
  (logged). A parameter mscstats does not know, with only text in AVALC, passes
  through as a character value.
- Duplicates are records of one USUBJID, ADY, ATM and PARAMCD. Under the "mean"
  rule a character parameter (OXYDEV) keeps its worst value; "first" and "last"
  follow the file's row order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from . import schema
from .errors import DataError, Problem
from .io import ROW, RawTable, RawTables, read_tables
from .quality import QualityLog, Trial

__all__ = ["validate", "load_trial", "summary"]

MAX_LISTED_ROWS = 10       # rows named in one problem message
MAX_DUPLICATE_REASONS = 100  # "duplicate of row N" entries before they are pooled
_MISSING_TEXT = frozenset({"", "NA", "N/A", "NAN", ".", "NULL", "NONE"})
_BELOW_WORDS = frozenset({"<LLOQ", "<LOQ", "<LLQ", "<LOD", "BLQ", "BLOQ", "BLLOQ",
                          "BELOW LLOQ", "BELOW LOQ"})
_BELOW_NUMBER = re.compile(r"^<\s*=?\s*([0-9.,eE+-]+)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")
_LLOQ_RULES = {"half": ("LLOQ/2", 0.5), "lloq": ("LLOQ", 1.0), "zero": ("0", 0.0)}
_DAY_FIX = ("write the study day as a whole number: day 1 is the day of randomization, "
            "the day before it is -1 (there is no day 0).")


def load_trial(directory, arms: Sequence[str] | None = None, **rules) -> Trial:
    """Read and validate a trial directory (read_tables + validate)."""
    return validate(read_tables(directory), arms=arms, **rules)


# ---------------------------------------------------------------------------
# Problems and the per-file ledger of dropped records
# ---------------------------------------------------------------------------

def _listing(rows: np.ndarray, values: Sequence = ()) -> str:
    parts = []
    if len(values):
        distinct = list(values)
        shown = ", ".join(repr(v) for v in distinct[:5])
        parts.append(f"value {shown}" if len(distinct) == 1 else
                     f"values {shown}" + (f" and {len(distinct) - 5} more"
                                          if len(distinct) > 5 else ""))
    if len(rows) > 1:
        shown = ", ".join(str(r) for r in rows[:MAX_LISTED_ROWS])
        more = ", ..." if len(rows) > MAX_LISTED_ROWS else ""
        parts.append(f"{len(rows)} rows: {shown}{more}")
    return f" ({'; '.join(parts)})" if parts else ""


class _Problems(list):
    """Every problem found, each naming file, first row, column and fix."""

    def add(self, file: str, column: str | None, message: str, fix: str,
            rows: Iterable[int] = (), values: Iterable = ()) -> None:
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        values = list(dict.fromkeys(np.asarray(values, dtype=object).ravel().tolist()))
        self.append(Problem(file, message + _listing(rows, values), fix=fix,
                            row=int(rows[0]) if len(rows) else None, column=column))


@dataclass
class _Ledger:
    """Dropped records of one file, turned into row entries of the log at the end.

    In a long file a record is a row. A wide file's row holds several records:
    it is dropped only when none of its records is used (with the reason of its
    first dropped record); records dropped from a used row become warnings.
    """
    table: RawTable
    drops: list[tuple[np.ndarray, str, str | None]] = field(default_factory=list)

    def drop(self, rows: np.ndarray, reason: str, column: str | None = None) -> None:
        if len(rows):
            self.drops.append((np.asarray(rows, dtype=np.int64), reason, column))

    def close(self, log: QualityLog, kept_rows: np.ndarray) -> None:
        file, n = self.table.file, self.table.n_rows
        if not self.table.wide:
            for rows, reason, column in self.drops:
                log.drop(file, reason, rows, column)
            return
        used = np.zeros(n + 1, dtype=bool)
        used[kept_rows] = True
        first = np.full(n + 1, -1, dtype=np.int64)   # first drop entry of each row
        for k in range(len(self.drops) - 1, -1, -1):
            first[self.drops[k][0]] = k
        for k, (rows, reason, column) in enumerate(self.drops):
            whole = rows[~used[rows] & (first[rows] == k)]
            log.drop(file, reason, whole, column)
            if used[rows].any():
                log.warn(file, f"cell not used: {reason}", rows[used[rows]], column)
        empty = np.nonzero(~used[1:] & (first[1:] < 0))[0] + 1
        log.drop(file, "no parameter values in the row", empty)


@dataclass
class _Check:
    """What validation carries from table to table."""
    log: QualityLog
    problems: _Problems
    arms: tuple[str, ...] | None
    daily_rule: str
    below_lloq: str
    fio2_from_flow: bool


# ---------------------------------------------------------------------------
# Columns as distinct values + codes
# ---------------------------------------------------------------------------

def _clean(value, upper: bool = False) -> str:
    """One cell as stripped text; "" for missing; 7.0 -> "7" (numbers from Parquet/XPT)."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        text = str(int(value)) if float(value).is_integer() else repr(float(value))
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace").strip()
    else:
        text = str(value).strip()
    return text.upper() if upper else text


class _Cells:
    """A column reduced to its distinct values; text work is done once per value.

    A numeric column (Parquet, XPT) keeps its numbers and is coded into distinct
    values only if its text is needed for every row (an id stored as a number).
    """

    def __init__(self, values: pd.Series | None, n: int, upper: bool = False,
                 decimal_comma: bool = False):
        self._values, self.n, self.upper, self.decimal_comma = values, n, upper, decimal_comma
        self.numeric = None
        if values is not None and pd.api.types.is_numeric_dtype(values.dtype):
            self.numeric = values.to_numpy(dtype=float, na_value=np.nan)
        self._parsed: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property
    def _coded(self) -> tuple[np.ndarray, np.ndarray]:
        if self._values is None:
            return np.zeros(self.n, dtype=np.int32), np.array([""], dtype=object)
        values = self._values if self.numeric is None else pd.Series(self.numeric)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        raw = np.empty(len(uniques) + 1, dtype=object)
        raw[:-1] = np.asarray(uniques, dtype=object)
        codes[codes < 0] = len(uniques)
        self._values = None
        labels = np.array([_clean(v, self.upper) for v in raw], dtype=object)
        return (codes.astype(np.int32) if len(uniques) < 2**31 - 1 else codes), labels

    @property
    def codes(self) -> np.ndarray:
        return self._coded[0]

    @property
    def labels(self) -> np.ndarray:
        return self._coded[1]

    def text(self, idx=slice(None)) -> np.ndarray:
        if self.numeric is not None and "_coded" not in self.__dict__:
            return np.array([_clean(v, self.upper) for v in self.numeric[idx]], dtype=object)
        return self.labels[self.codes[idx]]

    def blank(self, idx=slice(None)) -> np.ndarray:
        if self.numeric is not None:
            return np.isnan(self.numeric[idx])
        return (self.labels == "")[self.codes[idx]]

    def _parse(self) -> tuple[np.ndarray, np.ndarray]:
        if self._parsed is None:
            self._parsed = _parse_numbers(self.labels, self.decimal_comma)
        return self._parsed

    def number(self, idx=slice(None)) -> np.ndarray:
        """Float values; NaN where empty or not a number."""
        if self.numeric is not None:
            values = self.numeric[idx]
            return np.where(np.isfinite(values), values, np.nan)
        return self._parse()[0][self.codes[idx]]

    def bad(self, idx=slice(None)) -> np.ndarray:
        """True where the cell holds something that is not a finite number."""
        if self.numeric is not None:
            return np.isinf(self.numeric[idx])
        return self._parse()[1][self.codes[idx]]


def _parse_numbers(labels: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    text = pd.Series(labels, dtype=object).str.upper()
    missing = text.isin(_MISSING_TEXT).to_numpy()
    if decimal_comma:   # "7,5" in a semicolon file; "1,000.5" stays as it is
        text = text.where(text.str.contains(".", regex=False),
                          text.str.replace(",", ".", regex=False))
    values = pd.to_numeric(text.where(~missing, "nan"), errors="coerce").to_numpy(dtype=float)
    bad = ~missing & ~np.isfinite(values)
    values[bad] = np.nan
    return values, bad


def _sorted_codes(cells: _Cells) -> tuple[np.ndarray, np.ndarray]:
    """Per-row codes into the sorted distinct labels (merging values equal once cleaned)."""
    codes, labels = pd.factorize(cells.labels, sort=True)
    return codes.astype(cells.codes.dtype)[cells.codes], np.asarray(labels, dtype=object)


def _missing_columns(table: RawTable, columns: Iterable[str], chk: _Check) -> list[str]:
    missing = [c for c in columns if c not in table.frame.columns]
    for column in missing:
        chk.problems.add(table.file, column, f"required column {column} is missing.",
                         fix=f"add a {column} column (names match case-insensitively).")
    return missing


def _days(table: RawTable, column: str, chk: _Check, required: bool = True) -> np.ndarray:
    """A study-day column as floats (NaN when empty); errors for what is not a day."""
    frame, file = table.frame, table.file
    cells = _Cells(frame[column], len(frame), decimal_comma=table.decimal_comma)
    days, bad, rows = cells.number(), cells.bad(), frame[ROW].to_numpy()
    if bad.any():
        chk.problems.add(file, column, f"{column} is not a number.", _DAY_FIX, rows[bad],
                         cells.text(bad))
    fraction = np.isfinite(days) & (days % 1 != 0)
    if fraction.any():
        chk.problems.add(file, column, f"{column} is not a whole day.", _DAY_FIX,
                         rows[fraction], days[fraction])
    if (days == 0).any():
        chk.problems.add(file, column, f"{column} is 0: there is no day 0.", _DAY_FIX,
                         rows[days == 0])
    empty = np.isnan(days) & ~bad
    if required and empty.any():
        chk.problems.add(file, column, f"{column} is empty.",
                         f"give the study day in {column}.", rows[empty])
    return days


def _numbers(table: RawTable, column: str, chk: _Check) -> np.ndarray:
    """A numeric column as floats (NaN when empty); text that is not a number is an error."""
    frame = table.frame
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    cells = _Cells(frame[column], len(frame), decimal_comma=table.decimal_comma)
    bad = cells.bad()
    if bad.any():
        chk.problems.add(table.file, column, f"{column} is not a number.",
                         f"write a number in {column} or leave it empty.",
                         frame[ROW].to_numpy()[bad], cells.text(bad))
    return cells.number()


def _clock(text: str) -> str | None:
    """ "8:05", "08:05:00" -> "08:05"; "" stays ""; None when not a clock time."""
    if not text:
        return ""
    match = _CLOCK.match(text)
    if not match:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    return f"{hour:02d}:{minute:02d}" if hour < 24 and minute < 60 and second < 60 else None


def _times(table: RawTable, column: str, chk: _Check) -> tuple[np.ndarray, np.ndarray]:
    """A clock-time column as codes into sorted HH:MM labels ("" when absent)."""
    frame = table.frame
    cells = _Cells(frame[column] if column in frame.columns else None, len(frame))
    clocks = [_clock(t) for t in cells.labels]
    wrong = np.array([c is None for c in clocks], dtype=bool)[cells.codes]
    if wrong.any():
        chk.problems.add(table.file, column, f"{column} is not a clock time.",
                         f"write {column} as HH:MM (24-hour clock) or leave it empty.",
                         frame[ROW].to_numpy()[wrong], cells.text(wrong))
    codes, labels = pd.factorize(np.array([c or "" for c in clocks], dtype=object), sort=True)
    return codes.astype(cells.codes.dtype)[cells.codes], np.asarray(labels, dtype=object)


def _flag_values(table: RawTable, column: str, chk: _Check, allowed: Sequence[str]
                 ) -> np.ndarray:
    """A coded text column (Y/N, AESEV ...) upper-cased; other values are an error."""
    frame = table.frame
    cells = _Cells(frame[column], len(frame), upper=True)
    text = cells.text()
    wrong = (text != "") & ~np.isin(text, list(allowed))
    if wrong.any():
        chk.problems.add(table.file, column, f"{column} must be one of {', '.join(allowed)}.",
                         f"write {' or '.join(allowed)} in {column} (or leave it empty).",
                         frame[ROW].to_numpy()[wrong], text[wrong])
    return text


def _as_read(table: RawTable) -> dict[str, np.ndarray]:
    """Every column but _ROW as stripped text ("" when empty): the "as read" part of a table."""
    frame = table.frame
    return {c: _Cells(frame[c], len(frame)).text() for c in frame.columns if c != ROW}


# ---------------------------------------------------------------------------
# adsl
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Subjects:
    """adsl's subjects, for checking the other tables against it."""
    file: str
    ids: pd.Index            # unique USUBJID (first row of a duplicated one)
    arm: np.ndarray
    dthdy: np.ndarray
    lstalvdy: np.ndarray

    @classmethod
    def of(cls, adsl: pd.DataFrame, file: str) -> "_Subjects":
        first = ~adsl["USUBJID"].duplicated().to_numpy()
        pick = adsl[first]
        return cls(file, pd.Index(pick["USUBJID"]), pick["ARM"].to_numpy(),
                   pick["DTHDY"].to_numpy(), pick["LSTALVDY"].to_numpy())

    def locate(self, cells: _Cells) -> np.ndarray:
        """Position in adsl of each row's subject; -1 when adsl does not have it."""
        return self.ids.get_indexer(cells.labels)[cells.codes]


def _adsl(table: RawTable, chk: _Check) -> pd.DataFrame | None:
    if _missing_columns(table, schema.TABLE_SPECS["adsl"].required, chk):
        return None
    frame, file, n = table.frame, table.file, len(table.frame)
    if n == 0:
        chk.problems.add(file, "USUBJID", "adsl has no subjects (only a header).",
                         "add one row per randomized subject.")
        return None
    out = {"USUBJID": _Cells(frame["USUBJID"], n).text(), "ARM": _Cells(frame["ARM"], n).text()}
    for column in ("USUBJID", "ARM"):
        _require_text(table, column, out[column] == "", chk)
    _check_unique_subjects(table, out["USUBJID"], out["ARM"], chk)
    _check_arms(table, out["ARM"], chk)
    for column in ("DTHDY", "DSCHDY", "LSTALVDY"):
        out[column] = (_days(table, column, chk, required=False) if column in frame.columns
                       else np.full(n, np.nan))
    _fill_last_alive(table, out, chk)
    _check_course(table, out, chk)
    for column in ("AGE", "BMI"):
        if column in frame.columns:
            out[column] = _numbers(table, column, chk)
    for column in ("SEX", "STRATUM"):
        if column in frame.columns:
            out[column] = _Cells(frame[column], n).text()
    for column in ("ITTFL", "SAFFL"):
        out[column] = (_flag_values(table, column, chk, schema.YES_NO)
                       if column in frame.columns else np.full(n, "", dtype=object))
    _fill_flag(table, out, "ITTFL", np.ones(n, dtype=bool), "Y (randomized)", chk)
    extra = [c for c in frame.columns if c not in out and c != ROW]
    for column in extra:  # kept: the SAP may name them as covariates or strata
        out[column] = _passthrough(frame[column], n)
    if extra:
        chk.log.notes.append(f"{file}: extra columns kept for use as covariates: "
                             f"{', '.join(extra)}")
    return pd.DataFrame({**out, ROW: frame[ROW].to_numpy()})


def _passthrough(column: pd.Series, n: int) -> np.ndarray:
    """An extra adsl column: numbers when every filled cell is a number, else text."""
    text = _Cells(column, n).text()
    numbers = pd.to_numeric(pd.Series(text).replace("", np.nan), errors="coerce")
    filled = text != ""
    if filled.any() and numbers[filled].notna().all():
        return numbers.to_numpy(dtype=float)
    return text


def _require_text(table: RawTable, column: str, empty: np.ndarray, chk: _Check) -> None:
    if empty.any():
        chk.problems.add(table.file, column, f"{column} is empty.",
                         f"fill in {column} on every row.", table.frame[ROW].to_numpy()[empty])


def _check_unique_subjects(table: RawTable, ids: np.ndarray, arm: np.ndarray,
                           chk: _Check) -> None:
    frame = pd.DataFrame({"id": ids, "arm": arm, "row": table.frame[ROW].to_numpy()})
    repeated = frame[frame["id"].duplicated(keep=False) & (frame["id"] != "")]
    if repeated.empty:
        return
    n_arms = repeated.groupby("id")["arm"].transform("nunique").to_numpy()
    two = repeated[n_arms > 1]
    if len(two):
        chk.problems.add(table.file, "ARM", "a subject is in two arms (the same USUBJID with "
                         "different ARM).", "keep one row per subject with its randomized arm.",
                         two["row"], two["id"])
    same = repeated[n_arms == 1]
    if len(same):
        chk.problems.add(table.file, "USUBJID", "duplicate USUBJID.",
                         "keep one row per subject (USUBJID must be unique).",
                         same["row"], same["id"])


def _check_arms(table: RawTable, arm: np.ndarray, chk: _Check) -> None:
    if chk.arms is None:
        return
    wrong = (arm != "") & ~np.isin(arm, list(chk.arms))
    if wrong.any():
        named = ", ".join(repr(a) for a in chk.arms)
        chk.problems.add(table.file, "ARM", "ARM is not one of the SAP's arms.",
                         f"use the arm names of the SAP exactly ({named}), or correct the SAP.",
                         table.frame[ROW].to_numpy()[wrong], arm[wrong])


def _fill_last_alive(table: RawTable, out: dict, chk: _Check) -> None:
    """LSTALVDY empty: the death day when there is one (logged); otherwise an error."""
    rows, last, death = table.frame[ROW].to_numpy(), out["LSTALVDY"], out["DTHDY"]
    if "LSTALVDY" not in table.frame.columns:
        return
    empty = np.isnan(last) & ~_Cells(table.frame["LSTALVDY"], len(rows)).bad()
    from_death = empty & np.isfinite(death)
    if from_death.any():
        last[from_death] = death[from_death]
        chk.log.convert(table.file, "LSTALVDY", "LSTALVDY empty -> DTHDY (the death day)",
                        rows[from_death])
    unknown = empty & ~from_death
    if unknown.any():
        chk.problems.add(table.file, "LSTALVDY", "LSTALVDY (last day known alive) is empty.",
                         "give the last study day the subject was known alive (needed for "
                         "censoring).", rows[unknown])


# (earlier day, later day, column blamed, message): earlier < later is a contradiction.
_COURSE_ORDER = (
    ("DTHDY", "DSCHDY", "DTHDY", "DTHDY is before DSCHDY: died before being discharged alive."),
    ("DTHDY", "LSTALVDY", "LSTALVDY", "LSTALVDY is after DTHDY: known alive after death."),
    ("LSTALVDY", "DSCHDY", "LSTALVDY",
     "LSTALVDY is before DSCHDY: the subject was alive at discharge."),
)


def _check_course(table: RawTable, out: dict, chk: _Check) -> None:
    """Death, discharge and last-alive days that contradict each other."""
    rows = table.frame[ROW].to_numpy()
    for first, second, column, message in _COURSE_ORDER:
        wrong = out[first] < out[second]
        if wrong.any():
            chk.problems.add(table.file, column, message,
                             f"correct {first} or {second} (study days).", rows[wrong],
                             out["USUBJID"][wrong])
    for column in ("DTHDY", "DSCHDY", "LSTALVDY"):
        early = out[column] < 1
        if early.any():
            chk.problems.add(table.file, column, f"{column} is before day 1 (randomization).",
                             f"{column} is a study day on or after day 1.", rows[early])


def _fill_flag(table: RawTable, out: dict, column: str, default: np.ndarray, says: str,
               chk: _Check) -> None:
    """Fill an empty ITTFL/SAFFL with its default, logged (or noted when the column is absent)."""
    flag = out[column]
    empty = flag == ""
    if not empty.any():
        return
    flag[empty] = np.where(default[empty], "Y", "N")
    if column in table.frame.columns:
        chk.log.convert(table.file, column, f"{column} empty -> {says}",
                        table.frame[ROW].to_numpy()[empty])
    else:
        chk.log.notes.append(f"{table.file} has no {column}: {column} = {says}")


def _fill_saffl(table: RawTable, adsl: pd.DataFrame, ex: pd.DataFrame | None,
                chk: _Check) -> None:
    """SAFFL defaults to "received at least one dose" when ex is given, else Y.

    Any ex record counts as a dose (placebo often has EXDOSE 0). A subject whose
    arm has no ex record at all (standard of care, nothing to receive) gets Y.
    """
    if ex is None:
        default, says = np.ones(len(adsl), dtype=bool), "Y (no ex table)"
    else:
        dosed = adsl["USUBJID"].isin(ex["USUBJID"])
        arm_dosed = adsl["ARM"].isin(adsl.loc[dosed, "ARM"])
        default = (dosed | ~arm_dosed).to_numpy()
        says = "Y if dosed in ex (or the arm has no doses), else N"
    out = {"SAFFL": adsl["SAFFL"].to_numpy().copy()}
    _fill_flag(table, out, "SAFFL", default, says, chk)
    adsl["SAFFL"] = out["SAFFL"]


# ---------------------------------------------------------------------------
# Checks shared by visits, adae and ex
# ---------------------------------------------------------------------------

def _subjects_of(table: RawTable, chk: _Check, subjects: _Subjects | None
                 ) -> tuple[_Cells, np.ndarray]:
    """USUBJID cells and each row's position in adsl; errors for unknown subjects."""
    frame = table.frame
    cells = _Cells(frame["USUBJID"], len(frame))
    _require_text(table, "USUBJID", cells.blank(), chk)
    if subjects is None:
        return cells, np.full(len(frame), -1)
    position = subjects.locate(cells)
    unknown = (position < 0) & ~cells.blank()
    if unknown.any():
        chk.problems.add(table.file, "USUBJID", f"subject not in {subjects.file}.",
                         f"add the subject to {subjects.file} or correct USUBJID.",
                         frame[ROW].to_numpy()[unknown], cells.text(unknown))
    if "ARM" in frame.columns:
        arm = _Cells(frame["ARM"], len(frame)).text()
        known = position >= 0
        other = np.zeros(len(frame), dtype=bool)
        other[known] = (arm[known] != "") & (arm[known] != subjects.arm[position[known]])
        if other.any():
            chk.problems.add(table.file, "ARM", f"a subject is in two arms: ARM here differs "
                             f"from {subjects.file}.",
                             f"make ARM agree with {subjects.file} (or drop this ARM column).",
                             frame[ROW].to_numpy()[other], cells.text(other))
    return cells, position


def _after_death(table: RawTable, column: str, days: np.ndarray, position: np.ndarray,
                 subjects: _Subjects | None, chk: _Check, what: str) -> None:
    if subjects is None:
        return
    known = position >= 0
    death = np.full(len(days), np.nan)
    death[known] = subjects.dthdy[position[known]]
    wrong = days > death
    if wrong.any():
        ids = _Cells(table.frame["USUBJID"], len(days)).text(wrong)
        chk.problems.add(table.file, column, f"{what} after the subject's death day "
                         f"(DTHDY in {subjects.file}).",
                         f"correct {column} here or DTHDY in {subjects.file}.",
                         table.frame[ROW].to_numpy()[wrong], ids)


def _sorted(out: dict, keys: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(out)
    return frame.sort_values(list(keys), kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# ex and adae
# ---------------------------------------------------------------------------

_ROUTES = {"IV": "IV", "INTRAVENOUS": "IV", "NEBULIZED": "NEBULIZED", "NEBULISED": "NEBULIZED",
           "INHALED": "NEBULIZED", "INHALATION": "NEBULIZED"}


def _ex(table: RawTable, chk: _Check, subjects: _Subjects | None) -> pd.DataFrame | None:
    if _missing_columns(table, schema.TABLE_SPECS["ex"].required, chk):
        return None
    frame, rows, before = table.frame, table.frame[ROW].to_numpy(), len(chk.problems)
    cells, position = _subjects_of(table, chk, subjects)
    out = _as_read(table)
    out["USUBJID"] = cells.text()
    out["EXSTDY"] = _days(table, "EXSTDY", chk)
    _after_death(table, "EXSTDY", out["EXSTDY"], position, subjects, chk, "a dose")
    for column in ("EXDOSNO", "EXDOSE"):
        if column in frame.columns:
            out[column] = _numbers(table, column, chk)
    if "EXSTTM" in frame.columns:
        codes, labels = _times(table, "EXSTTM", chk)
        out["EXSTTM"] = labels[codes]
    if "EXROUTE" in frame.columns:
        route = np.char.upper(out["EXROUTE"].astype(str)).astype(object)
        known = pd.Series(route).map(_ROUTES)
        renamed = known.notna().to_numpy() & (known.to_numpy() != route)
        if renamed.any():
            chk.log.convert(table.file, "EXROUTE", "EXROUTE spelling -> IV / NEBULIZED",
                            rows[renamed])
        out["EXROUTE"] = np.where(known.notna(), known.to_numpy(), out["EXROUTE"])
        odd = known.isna().to_numpy() & (route != "")
        if odd.any():
            chk.log.warn(table.file, "EXROUTE is neither IV nor NEBULIZED (kept as written)",
                         rows[odd], "EXROUTE")
    if len(chk.problems) > before:
        return None
    out["EXSTDY"] = out["EXSTDY"].astype(np.int64)
    return _sorted({**out, ROW: rows}, ["USUBJID", "EXSTDY", ROW]).drop(columns=ROW)


def _adae(table: RawTable, chk: _Check, subjects: _Subjects | None) -> pd.DataFrame | None:
    missing = _missing_columns(table, schema.TABLE_SPECS["adae"].required, chk)
    frame, rows = table.frame, table.frame[ROW].to_numpy()
    if "AETOXGR" not in frame.columns and "AESEV" not in frame.columns:
        chk.problems.add(table.file, "AETOXGR", "adae needs AETOXGR (CTCAE grade 1-5) or AESEV "
                         "(MILD/MODERATE/SEVERE).", "add an AETOXGR or an AESEV column.")
        missing.append("AETOXGR")
    if missing:
        return None
    before = len(chk.problems)
    cells, position = _subjects_of(table, chk, subjects)
    out = _as_read(table)
    out["USUBJID"] = cells.text()
    out["AESTDY"] = _days(table, "AESTDY", chk)
    _after_death(table, "AESTDY", out["AESTDY"], position, subjects, chk,
                 "an adverse event starting")
    _require_text(table, "AEDECOD", out["AEDECOD"] == "", chk)
    out["AETOXGR"] = _ae_grade(table, chk)
    for column in ("AESER", "AEREL"):
        if column in frame.columns:
            out[column] = _flag_values(table, column, chk, schema.YES_NO)
    if "AESTTM" in frame.columns:
        codes, labels = _times(table, "AESTTM", chk)
        out["AESTTM"] = labels[codes]
    if len(chk.problems) > before:
        return None
    out["AESTDY"] = out["AESTDY"].astype(np.int64)
    return _sorted({**out, ROW: rows}, ["USUBJID", "AESTDY", ROW]).drop(columns=ROW)


def _ae_grade(table: RawTable, chk: _Check) -> np.ndarray:
    """AETOXGR 1-5; where empty, from AESEV (MILD 1, MODERATE 2, SEVERE 3), logged."""
    frame, file, rows = table.frame, table.file, table.frame[ROW].to_numpy()
    grade = _numbers(table, "AETOXGR", chk)
    wrong = np.isfinite(grade) & ((grade % 1 != 0) | (grade < 1) | (grade > 5))
    if wrong.any():
        chk.problems.add(file, "AETOXGR", "AETOXGR is not a CTCAE grade 1-5.",
                         "write the grade as a whole number 1-5.", rows[wrong], grade[wrong])
    if "AESEV" in frame.columns:
        severity = _flag_values(table, "AESEV", chk, schema.AE_SEVERITY)
        mapped = pd.Series(severity).map(dict(schema.AESEV_TO_GRADE)).to_numpy(dtype=float)
        use = np.isnan(grade) & np.isfinite(mapped)
        if use.any():
            grade[use] = mapped[use]
            chk.log.convert(file, "AETOXGR", "AETOXGR from AESEV (MILD 1, MODERATE 2, SEVERE 3)",
                            rows[use])
    empty = np.isnan(grade) & ~wrong & ~_Cells(frame.get("AETOXGR"), len(rows)).bad()
    if empty.any():
        chk.log.warn(file, "adverse event without a grade (AETOXGR and AESEV empty)",
                     rows[empty], "AETOXGR")
    return grade


# ---------------------------------------------------------------------------
# visits: values, units and ranges, one parameter at a time
# ---------------------------------------------------------------------------

class _Flags:
    """FLAG labels as bits, so a record's flags stay one integer until the end."""

    def __init__(self):
        self.labels: list[str] = []

    def bit(self, label: str) -> int:
        if label not in self.labels:
            self.labels.append(label)
        return 1 << self.labels.index(label)

    def text(self, bits: np.ndarray) -> np.ndarray:
        """";"-joined labels: conversions first, then below_lloq, out_of_range, aggregated."""
        kinds = ("converted", "below_lloq", "out_of_range", "aggregated")
        order = sorted(range(len(self.labels)),
                       key=lambda k: (kinds.index(self.labels[k].split(":")[0]), self.labels[k]))
        codes, uniques = pd.factorize(bits)
        names = np.array([";".join(self.labels[k] for k in order if int(u) >> k & 1)
                          for u in uniques], dtype=object)
        return names[codes] if len(bits) else np.array([], dtype=object)


def _below_forms(labels: np.ndarray, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct text: the x of a "<x" result (NaN if none), and "<LLOQ"-style words."""
    upper = pd.Series(labels, dtype=object).str.upper()
    word = upper.isin(_BELOW_WORDS).to_numpy()
    limit = np.full(len(labels), np.nan)
    for k in np.flatnonzero(upper.str.startswith("<").to_numpy() & ~word):
        match = _BELOW_NUMBER.match(upper.iat[k])
        if match:
            limit[k] = _parse_numbers(np.array([match[1]], dtype=object), decimal_comma)[0][0]
    return limit, word


def _scale(values: np.ndarray, factor: float) -> np.ndarray:
    """Convert to the canonical unit; dividing by 100 rounds better than multiplying by 0.01."""
    inverse = 1.0 / factor
    if factor < 1 and abs(inverse - round(inverse)) < 1e-9:
        return values / round(inverse)
    return values * factor


def _range_text(low: float, high: float) -> str:
    return f">= {low:g}" if math.isinf(high) else f"{low:g}-{high:g}"


_CHARACTER = tuple(code for code, p in schema.PARAMS.items() if p.character)


def _oxydev_code(text: str) -> str | None:
    if text.upper() in schema.OXYDEV_RANK:
        return text.upper()
    key = " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())
    return schema.OXYDEV_SPELLINGS.get(key)


class _VisitValues:
    """AVAL, AVALC, AVALU and LLOQ of the visit records, read into canonical form.

    ``read(param, idx)`` handles the records ``idx`` of one parameter: picks the
    value, converts the unit, checks ranges and sets below-LLOQ results. Errors go
    to the problem list; records without a value are dropped through the ledger.
    """

    def __init__(self, table: RawTable, chk: _Check, ledger: _Ledger, flags: _Flags):
        frame, n, comma = table.frame, len(table.frame), table.decimal_comma
        self.table, self.chk, self.ledger, self.flags = table, chk, ledger, flags
        self.rows = frame[ROW].to_numpy()
        self.aval = _Cells(frame.get("AVAL"), n, decimal_comma=comma)
        self.avalc = _Cells(frame.get("AVALC"), n)
        unit = _Cells(frame.get("AVALU"), n)
        normal = np.array([u.lower().replace(" ", "") for u in unit.labels], dtype=object)
        codes, self.unit_names = pd.factorize(normal)      # units equal once normalised
        self.unit = codes[unit.codes]
        self.unit_shown = {u: unit.labels[np.flatnonzero(normal == u)[0]] for u in self.unit_names}
        self.below_c = _below_forms(self.avalc.labels, comma)
        self.value = np.full(n, np.nan)
        self.text = np.full(n, "", dtype=object)
        self.lloq = _numbers(table, "LLOQ", chk)
        self.below = np.zeros(n, dtype=bool)
        self.used = np.ones(n, dtype=bool)
        self.bits = np.zeros(n, dtype=np.int64)

    @cached_property
    def below_a(self) -> tuple[np.ndarray, np.ndarray]:
        return _below_forms(self.aval.labels, self.table.decimal_comma)

    # -- helpers ----------------------------------------------------------
    def column(self, param: str, column: str) -> str:
        """The file's column a message should name (a wide file has one per parameter)."""
        return param if self.table.wide else column

    def error(self, sel: np.ndarray, column: str, message: str, fix: str, values=()) -> None:
        self.chk.problems.add(self.table.file, column, message, fix, self.rows[sel], values)

    def convert(self, sel: np.ndarray, column: str, rule: str, flag: str, param: str) -> None:
        self.chk.log.convert(self.table.file, column, rule, self.rows[sel], param=param)
        self.bits[sel] |= self.flags.bit(flag)

    def drop(self, sel: np.ndarray, reason: str, column: str) -> None:
        self.used[sel] = False
        self.ledger.drop(self.rows[sel], reason, column)

    # -- one parameter ----------------------------------------------------
    def read(self, param: str, idx: np.ndarray) -> None:
        spec = schema.PARAMS.get(param)
        if param in _CHARACTER:
            self._character(param, idx)
        else:
            self._numeric(param, spec, idx)
        idx = idx[self.used[idx]]
        self._units(param, spec, idx)
        if param == "FIO2":
            self._fio2_without_unit(idx)
        if param == "PAO2":
            self._pao2_without_unit(idx)
        if spec is not None and not spec.character:
            self._ranges(param, spec, idx)
        self._impute_below(param, idx)

    def _numeric(self, param: str, spec: schema.Param | None, idx: np.ndarray) -> None:
        laboratory = spec is None or spec.cytokine        # "<x" results accepted
        number, bad = self.aval.number(idx), self.aval.bad(idx)
        has_c = ~self.avalc.blank(idx)
        c_code = self.avalc.codes[idx]
        limit = np.where(has_c, self.below_c[0][c_code], np.nan)
        word = has_c & self.below_c[1][c_code]
        raw_text = self.avalc.text(idx)          # the text result: AVALC, else AVAL's text
        from_a = bad & ~has_c
        if from_a.any():
            a_code = self.aval.codes[idx[from_a]]
            limit[from_a], word[from_a] = self.below_a[0][a_code], self.below_a[1][a_code]
            raw_text[from_a] = self.aval.labels[a_code]
        below_text = laboratory & (np.isfinite(limit) | word)
        has_number, c_number = np.isfinite(number), self.avalc.number(idx)
        from_c = ~has_number & ~bad & ~below_text & np.isfinite(c_number)
        c_text = ~has_number & ~bad & has_c & ~below_text & ~np.isfinite(c_number)
        self._value_errors(param, spec, idx, bad & ~below_text, c_text if spec else None)
        self.value[idx] = np.where(has_number, number, c_number)
        self.text[idx] = np.where(below_text | (c_text & (spec is None)), raw_text, "")
        lloq = np.where(below_text & np.isfinite(limit), limit, self.lloq[idx])
        below = below_text | (laboratory & has_number & (number < lloq))
        self.lloq[idx], self.below[idx] = lloq, below
        if (below & np.isnan(lloq)).any():
            self.error(idx[below & np.isnan(lloq)], "LLOQ", f"{param} result below the LLOQ, "
                       "but no LLOQ is given.", "fill the LLOQ column, or write the result as "
                       "'<' and the limit (e.g. '<1.5').")
        if from_c.any():
            self.convert(idx[from_c], "AVALC", f"{param} value read from AVALC (AVAL empty)",
                         "converted:AVALC", param)
        nothing = ~has_number & ~bad & ~has_c
        self.drop(idx[nothing], "no value: AVAL and AVALC are empty", self.column(param, "AVAL"))

    def _value_errors(self, param: str, spec, idx: np.ndarray, bad_aval: np.ndarray,
                      text_only: np.ndarray | None) -> None:
        lab = " (a result below the LLOQ as '<' and the limit)" if spec is None or spec.cytokine \
            else ""
        if bad_aval.any():
            self.error(idx[bad_aval], self.column(param, "AVAL"), f"{param}: the value is not a "
                       "number.", f"write a number{lab} in {self.column(param, 'AVAL')}; text "
                       "results go in AVALC.", self.aval.text(idx[bad_aval]))
        if text_only is not None and text_only.any():
            self.error(idx[text_only], "AVALC", f"{param} needs a number, but AVAL is empty and "
                       "AVALC holds text.", f"write the number in AVAL{lab}.",
                       self.avalc.text(idx[text_only]))

    def _character(self, param: str, idx: np.ndarray) -> None:
        text = self.avalc.text(idx)
        from_a = text == ""
        text[from_a] = self.aval.text(idx[from_a])
        nothing = text == ""
        self.drop(idx[nothing], "no value: AVAL and AVALC are empty",
                  self.column(param, "AVALC"))
        codes, uniques = pd.factorize(text)
        mapped = np.array([_oxydev_code(u) or "" for u in uniques], dtype=object)
        code = mapped[codes] if len(text) else np.array([], dtype=object)
        unknown = ~nothing & (code == "")
        if unknown.any():
            self.error(idx[unknown], self.column(param, "AVALC"), f"{param} value not recognised.",
                       f"use one of {', '.join(schema.OXYDEV_CODES)} or a common spelling "
                       "('room air', 'nasal cannula', 'high flow', 'CPAP', 'intubated').",
                       text[unknown])
        respelled = ~unknown & ~nothing & (code != text)
        for target in sorted(set(code[respelled])):
            sel = respelled & (code == target)
            spellings = sorted(set(text[sel]))
            shown = ", ".join(repr(s) for s in spellings[:5]) + (
                f" and {len(spellings) - 5} more" if len(spellings) > 5 else "")
            self.convert(idx[sel], self.column(param, "AVALC"), f"{param} {shown} -> {target}",
                         "converted:spelling", param)
        self.text[idx] = code

    def _units(self, param: str, spec: schema.Param | None, idx: np.ndarray) -> None:
        unit = self.unit[idx]
        counts = np.bincount(unit, minlength=len(self.unit_names))
        present = [u for u in np.flatnonzero(counts) if self.unit_names[u] != ""]
        if spec is None:
            self._pass_through_units(param, idx, unit, present)
            return
        canonical = spec.unit.lower().replace(" ", "")
        for u in present:
            name, sel = self.unit_names[u], idx[unit == u]
            factor = spec.units.get(name)
            if name == canonical:
                continue
            if factor is None:
                accepted = ", ".join(dict.fromkeys([spec.unit, *spec.units]))
                self.error(sel, "AVALU", f"{param}: unit not known.",
                           f"use one of: {accepted}, or leave AVALU empty for {spec.unit}."
                           if spec.units else f"leave AVALU empty for {param}.",
                           [self.unit_shown[name]])
                continue
            self.value[sel] = _scale(self.value[sel], factor)
            self.lloq[sel] = _scale(self.lloq[sel], factor)
            shown = self.unit_shown[name]
            self.convert(sel, "AVALU", f"{param} {shown} x {factor:g} -> {spec.unit}",
                         f"converted:{shown}", param)

    def _pass_through_units(self, param: str, idx: np.ndarray, unit: np.ndarray,
                            present: list) -> None:
        shown = [self.unit_shown[self.unit_names[u]] for u in present]
        if len(present) > 1:
            self.error(idx[np.isin(unit, present)], "AVALU", f"{param} is given in several "
                       "units; mscstats converts only the units of the parameters it knows.",
                       f"give {param} in one unit.", shown)
        elif present:
            self.chk.log.notes.append(f"{self.table.file}: {param} in {shown[0]} (passed through, "
                                      "not converted)")

    def _without_unit(self, idx: np.ndarray) -> np.ndarray:
        keep = (self.unit_names[self.unit[idx]] == "") & np.isfinite(self.value[idx]) \
            & ~self.below[idx]
        return idx[keep]

    def _fio2_without_unit(self, idx: np.ndarray) -> None:
        """FIO2 21-100 without a unit can only be percent; 1-21 is neither (an error)."""
        sel = self._without_unit(idx)
        value = self.value[sel]
        percent = sel[(value >= 21) & (value <= 100)]
        if len(percent):
            self.value[percent] = self.value[percent] / 100
            self.convert(percent, self.column("FIO2", "AVALU"),
                         "FIO2 without unit, 21-100 read as percent x 0.01 -> fraction",
                         "converted:percent", "FIO2")
        between = (value > 1) & (value < 21)
        if between.any():
            self.error(sel[between], self.column("FIO2", "AVAL"), "FIO2 between 1 and 21 "
                       "without a unit: neither a fraction (0.21-1.0) nor a percentage (21-100).",
                       "give FIO2 as a fraction 0.21-1.0, or as a percentage with AVALU %.",
                       value[between])

    def _pao2_without_unit(self, idx: np.ndarray) -> None:
        """PaO2 without a unit whose median is under 25 is almost surely kPa: an error."""
        sel = self._without_unit(idx)
        if len(sel) and np.median(self.value[sel]) < schema.PAO2_KPA_SUSPECT_MEDIAN:
            median = float(np.median(self.value[sel]))
            self.error(sel, self.column("PAO2", "AVALU"), f"PAO2 without a unit has median "
                       f"{median:g}, plausible only in kPa (PaO2 in mmHg is 20-700); mscstats "
                       "does not guess.", "set AVALU to kPa for these rows (converted x 7.50062 "
                       "to mmHg), or to mmHg if they really are mmHg.")

    def _ranges(self, param: str, spec: schema.Param, idx: np.ndarray) -> None:
        """Errors outside the possible range (below-LLOQ numbers too); warnings outside the
        plausible range (results below the LLOQ are not measured values: no warning)."""
        sel = idx[np.isfinite(self.value[idx])]
        value, column = self.value[sel], self.column(param, "AVAL")
        unit = f" {spec.unit}" if spec.unit else ""
        negative = idx[self.lloq[idx] < 0]
        if len(negative):
            self.error(negative, "LLOQ", f"{param}: the LLOQ is negative.",
                       "a limit of quantification is a positive concentration.",
                       self.lloq[negative])
        if spec.hard:
            low, high = spec.hard
            out = (value < low - 1e-9) | (value > high + 1e-9)
            if out.any():
                self.error(sel[out], column, f"{param} outside the possible range "
                           f"{_range_text(low, high)}{unit} (after unit conversion).",
                           f"correct the value or its unit (AVALU); {param} is "
                           f"{_range_text(low, high)}{unit}.", value[out])
        if spec.integer and (value % 1 != 0).any():
            whole = value % 1 != 0
            self.error(sel[whole], column, f"{param} is not a whole number.",
                       f"{param} is an integer score.", value[whole])
        if spec.plausible and spec.plausible != spec.hard:
            low, high = spec.plausible
            out = ((value < low) | (value > high)) & ~self.below[sel]
            if out.any():
                self.chk.log.warn(self.table.file, f"{param} outside the plausible range "
                                  f"{_range_text(low, high)}{unit}: kept, flagged out_of_range",
                                  self.rows[sel[out]], column)
                self.bits[sel[out]] |= self.flags.bit("out_of_range")

    def _impute_below(self, param: str, idx: np.ndarray) -> None:
        sel = idx[self.below[idx]]
        if not len(sel):
            return
        label, factor = _LLOQ_RULES[self.chk.below_lloq]
        self.value[sel] = self.lloq[sel] * factor
        self.bits[sel] |= self.flags.bit("below_lloq")
        self.chk.log.warn(self.table.file, f"{param} below the LLOQ: set to {label}, flagged "
                          "below_lloq", self.rows[sel], self.column(param, "AVALC"))


def _groups(codes: np.ndarray):
    """(code, indices) for each distinct code, in code order."""
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for chunk in np.split(order, bounds) if len(order) else []:
        yield codes[chunk[0]], chunk


# ---------------------------------------------------------------------------
# visits: records, duplicates, canonical frame
# ---------------------------------------------------------------------------

@dataclass
class _Records:
    """Visit records as parallel arrays (codes index the sorted labels)."""
    subject: np.ndarray
    day: np.ndarray
    time: np.ndarray
    param: np.ndarray
    value: np.ndarray
    text: np.ndarray
    lloq: np.ndarray
    bits: np.ndarray
    row: np.ndarray

    def select(self, which: np.ndarray) -> None:
        """Keep (or reorder to) the records ``which``, one array at a time to spare memory."""
        for name, values in list(vars(self).items()):
            setattr(self, name, values[which])


@dataclass(frozen=True)
class _Labels:
    subject: np.ndarray
    time: np.ndarray
    param: np.ndarray


def _lex_key(*codes: np.ndarray) -> np.ndarray:
    """One int64 per row ordering rows like the tuple of codes (all codes >= 0)."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for code in codes:
        size = int(code.max()) + 1 if len(code) else 1
        if len(key) and int(key.max()) >= (1 << 62) // size:
            key = pd.factorize(key, sort=True)[0].astype(np.int64)
        key = key * size + code.astype(np.int64)
    return key


def _day_codes(day: np.ndarray) -> np.ndarray:
    return pd.factorize(day, sort=True)[0]


# +1: the lowest value is the worst (PAO2, SPO2, PF); -1: the highest (the default).
_WORST_SIGN = {code: (1 if p.worst == "min" else -1)
               for code, p in {**schema.PARAMS, **schema.DERIVED_PARAMS}.items()}


def _preference(rec: _Records, members: np.ndarray, labels: _Labels, rule: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sort score (lowest is kept) and the rule applied, for each duplicated record."""
    names = labels.param[rec.param[members]]
    character = np.isin(names, _CHARACTER)
    sign = pd.Series(names).map(_WORST_SIGN).fillna(-1).to_numpy()
    rank = pd.Series(rec.text[members]).map(schema.OXYDEV_RANK).to_numpy(dtype=float)
    worst = np.where(character, -rank, sign * rec.value[members])
    applied = np.where(character & (rule == "mean"), "worst", rule)
    score = {"worst": worst, "best": -worst,
             "mean": np.where(character, worst, 0.0),
             "first": np.zeros(len(members)),
             "last": -rec.row[members].astype(float)}[rule]
    return score, applied


def _aggregate(rec: _Records, labels: _Labels, table: RawTable, chk: _Check, ledger: _Ledger,
               flags: _Flags) -> None:
    """Canonical order; records of one subject, day, time and parameter reduced to one."""
    key = _lex_key(rec.subject, _day_codes(rec.day), rec.time, rec.param)
    order = np.argsort(key, kind="stable")
    rec.select(order)
    key = key[order]
    del order
    same_next = key[1:] == key[:-1]
    if not same_next.any():
        return
    members = np.flatnonzero(np.r_[same_next, False] | np.r_[False, same_next])
    score, applied = _preference(rec, members, labels, chk.daily_rule)
    sort = np.lexsort((rec.row[members], score, key[members]))
    ranked, applied = members[sort], applied[sort]
    first = np.r_[True, key[ranked][1:] != key[ranked][:-1]]
    kept, dropped = ranked[first], ranked[~first]
    if chk.daily_rule == "mean":
        _mean_into(rec, ranked, first, applied[first] == "mean")
    rec.bits[kept] |= flags.bit("aggregated")
    keeper = kept[np.cumsum(first)[~first] - 1]
    _log_duplicates(ledger, rec.row[dropped], rec.row[keeper], applied[~first])
    chk.log.warn(table.file, f"duplicate records (same USUBJID, ADY, ATM and PARAMCD) reduced "
                 f"to one by the '{chk.daily_rule}' rule; the others are dropped",
                 rec.row[kept], None if table.wide else "PARAMCD")
    keep = np.ones(len(key), dtype=bool)
    keep[dropped] = False
    rec.select(keep)


def _mean_into(rec: _Records, ranked: np.ndarray, first: np.ndarray, numeric: np.ndarray
               ) -> None:
    """Under the "mean" rule the kept record gets its group's mean and all its flags."""
    group = np.cumsum(first) - 1
    value = rec.value[ranked]
    ok = np.isfinite(value)
    sums = np.bincount(group, weights=np.where(ok, value, 0.0))
    counts = np.bincount(group, weights=ok.astype(float))
    means = np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0)
    kept = ranked[first]
    target = numeric & (counts > 0)
    rec.value[kept[target]] = means[target]
    rec.bits[kept] = np.bitwise_or.reduceat(rec.bits[ranked], np.flatnonzero(first))


def _log_duplicates(ledger: _Ledger, dropped_rows: np.ndarray, keeper_rows: np.ndarray,
                    applied: np.ndarray) -> None:
    """"duplicate of row N: <rule> kept"; past MAX_DUPLICATE_REASONS kept rows, pooled."""
    keepers, which = np.unique(keeper_rows, return_inverse=True)
    rule_of = dict(zip(keeper_rows.tolist(), applied.tolist()))
    for k, row in enumerate(keepers[:MAX_DUPLICATE_REASONS]):
        ledger.drop(dropped_rows[which == k], f"duplicate of row {row}: {rule_of[row]} kept")
    pooled = which >= MAX_DUPLICATE_REASONS
    for rule in np.unique(applied[pooled]):
        ledger.drop(dropped_rows[pooled & (applied == rule)],
                    f"duplicate of a row kept by the {rule} rule (same USUBJID, ADY, ATM and "
                    "PARAMCD)")


def _warn_fio2(rec: _Records, labels: _Labels, table: RawTable, chk: _Check) -> None:
    """PaO2 without any FiO2 that day: say whether PF can still be derived."""
    param = labels.param[rec.param]
    pao2 = param == "PAO2"
    if not pao2.any():
        return
    # derive pairs PaO2 with the FiO2 of the same time, else of the same day
    on_day = _lex_key(rec.subject, _day_codes(rec.day))
    missing = pao2 & ~np.isin(on_day, on_day[param == "FIO2"])
    oxydev = param == "OXYDEV"
    room_air = missing & np.isin(on_day, on_day[oxydev & (rec.text == "RA")])
    from_flow = np.zeros(len(rec.row), dtype=bool)
    if chk.fio2_from_flow:
        from_flow = (missing & ~room_air & np.isin(on_day, on_day[oxydev & (rec.text == "NC")])
                     & np.isin(on_day, on_day[param == "O2FLOW"]))
    column = None if table.wide else "PARAMCD"
    for sel, message in (
            (room_air, "PAO2 without FIO2 on a day on room air: FIO2 will be imputed as 0.21"),
            (from_flow, "PAO2 without FIO2 on nasal cannula: FIO2 will be imputed from O2FLOW "
                        "(0.21 + 0.04 x L/min)"),
            (missing & ~room_air & ~from_flow, "PAO2 without any FIO2 that day: no PF for these "
                                               "records (record FIO2, or set fio2_from_flow "
                                               "for nasal cannula)")):
        if sel.any():
            chk.log.warn(table.file, message, rec.row[sel], column)


def _warn_after_last_alive(table: RawTable, day: np.ndarray, used: np.ndarray,
                           position: np.ndarray, subjects: _Subjects | None, chk: _Check) -> None:
    if subjects is None:
        return
    known = position >= 0
    last = np.full(len(day), np.nan)
    last[known] = subjects.lstalvdy[position[known]]
    late = used & (day > last)
    if late.any():
        chk.log.warn(table.file, f"visit after LSTALVDY (last day known alive in "
                     f"{subjects.file}): kept; the visit shows the subject alive that day",
                     table.frame[ROW].to_numpy()[late], "ADY")


def _visits(table: RawTable, chk: _Check, subjects: _Subjects | None
            ) -> tuple[pd.DataFrame, np.ndarray] | None:
    """Canonical visits and the file rows they use; None when there were errors."""
    frame, file = table.frame, table.file
    missing = _missing_columns(table, schema.TABLE_SPECS["visits"].required, chk)
    if "AVAL" not in frame.columns and "AVALC" not in frame.columns:
        chk.problems.add(file, "AVAL", "visits needs an AVAL (numbers) or an AVALC (text) "
                         "column.", "add AVAL, and AVALC for OXYDEV and '<LLOQ' results.")
        missing.append("AVAL")
    if missing:
        return None
    ledger, flags = _Ledger(table), _Flags()
    read = _visit_records(table, chk, subjects, ledger, flags)
    if read is None:
        return None
    rec, labels = read
    _aggregate(rec, labels, table, chk, ledger, flags)
    _warn_fio2(rec, labels, table, chk)
    ledger.close(chk.log, rec.row)
    return _visits_frame(rec, labels, flags), rec.row


def _visit_records(table: RawTable, chk: _Check, subjects: _Subjects | None, ledger: _Ledger,
                   flags: _Flags) -> tuple[_Records, _Labels] | None:
    """Every visit row checked and read into canonical units; None when there were errors."""
    frame, before = table.frame, len(chk.problems)
    cells, position = _subjects_of(table, chk, subjects)
    day = _days(table, "ADY", chk)
    _after_death(table, "ADY", day, position, subjects, chk, "a visit")
    time, time_labels = _times(table, "ATM", chk)
    params = _Cells(frame["PARAMCD"], len(frame), upper=True)
    _require_text(table, "PARAMCD", params.blank(), chk)
    param, param_labels = _sorted_codes(params)
    values = _VisitValues(table, chk, ledger, flags)
    for code, idx in _groups(param):
        if param_labels[code]:
            values.read(param_labels[code], idx)
    if len(chk.problems) > before:
        return None
    _warn_after_last_alive(table, day, values.used, position, subjects, chk)
    subject, subject_labels = _sorted_codes(cells)
    rec = _Records(subject, day, time, param, values.value, values.text, values.lloq,
                   values.bits, frame[ROW].to_numpy())
    if not values.used.all():
        rec.select(values.used)
    return rec, _Labels(subject_labels, time_labels, param_labels)


VISIT_COLUMNS = ("USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "LLOQ", "FLAG")


def _visits_frame(rec: _Records, labels: _Labels, flags: _Flags) -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": labels.subject[rec.subject], "ADY": rec.day.astype(np.int64),
        "ATM": labels.time[rec.time], "PARAMCD": labels.param[rec.param],
        "AVAL": rec.value, "AVALC": rec.text, "LLOQ": rec.lloq, "FLAG": flags.text(rec.bits)},
        columns=list(VISIT_COLUMNS), copy=False)


def _no_visits() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": np.array([], dtype=object), "ADY": np.array([], dtype=np.int64),
        "ATM": np.array([], dtype=object), "PARAMCD": np.array([], dtype=object),
        "AVAL": np.array([], dtype=float), "AVALC": np.array([], dtype=object),
        "LLOQ": np.array([], dtype=float), "FLAG": np.array([], dtype=object)})


# ---------------------------------------------------------------------------
# The whole trial
# ---------------------------------------------------------------------------

ADSL_COLUMNS = ("USUBJID", "ARM", "LSTALVDY", "DTHDY", "DSCHDY", "ITTFL", "SAFFL",
                "AGE", "SEX", "BMI", "STRATUM")


def validate(raw: RawTables, arms: Sequence[str] | None = None, daily_rule: str = "worst",
             below_lloq: str = "half", fio2_from_flow: bool = False) -> Trial:
    """Check and convert the tables read by io.read_tables into a canonical Trial.

    arms: the SAP's arms (reference first); an ARM outside them is an error.
    daily_rule: how duplicate records are reduced (worst, best, mean, first, last).
    below_lloq: value of a result below the LLOQ (half: LLOQ/2, lloq, zero).
    fio2_from_flow: the SAP imputes FiO2 from oxygen flow (changes warnings only).
    Raises DataError listing every problem when the data are wrong.
    """
    if daily_rule not in schema.DAILY_RULES:
        raise ValueError(f"daily_rule must be one of {schema.DAILY_RULES}, got {daily_rule!r}")
    if below_lloq not in schema.BELOW_LLOQ_RULES:
        raise ValueError(f"below_lloq must be one of {schema.BELOW_LLOQ_RULES}, "
                         f"got {below_lloq!r}")
    chk = _Check(QualityLog(notes=list(raw.notes)), _Problems(),
                 tuple(arms) if arms is not None else None, daily_rule, below_lloq,
                 bool(fio2_from_flow))
    for table in raw.tables.values():
        chk.log.read(table.file, table.n_rows)
    if "adsl" not in raw:
        chk.problems.add(raw.name, None, "no adsl table.", "add adsl.csv (one row per subject).")
    adsl = _adsl(raw["adsl"], chk) if "adsl" in raw else None
    subjects = _Subjects.of(adsl, raw["adsl"].file) if adsl is not None else None
    ex = _ex(raw["ex"], chk, subjects) if "ex" in raw else None
    adae = _adae(raw["adae"], chk, subjects) if "adae" in raw else None
    visits = _visits(raw["visits"], chk, subjects) if "visits" in raw else None
    if chk.problems:
        raise DataError(list(chk.problems))
    _fill_saffl(raw["adsl"], adsl, ex, chk)
    if visits is None:
        chk.log.notes.append("no visits table: efficacy endpoints cannot be derived")
        visits = (_no_visits(), np.array([], dtype=np.int64))
    _check_accounting(raw, chk.log, visits[1])
    return Trial(name=raw.name, adsl=_final_adsl(adsl, raw["adsl"].file, chk),
                 visits=visits[0], adae=adae, ex=ex, quality=chk.log, files=raw.files,
                 data_sha256=raw.data_sha256)


def _final_adsl(adsl: pd.DataFrame, file: str, chk: _Check) -> pd.DataFrame:
    """Canonical columns, subjects ordered by arm (the SAP's order, else the file's)."""
    order = list(chk.arms) if chk.arms is not None else list(dict.fromkeys(adsl["ARM"]))
    for arm in order:
        if not (adsl["ARM"] == arm).any():
            chk.log.warn(file, f"arm {arm!r} of the SAP has no subjects", (), "ARM")
    rank = adsl["ARM"].map({a: k for k, a in enumerate(order)}).to_numpy()
    adsl = adsl.assign(_RANK=rank).sort_values(["_RANK", "USUBJID"], kind="stable")
    known = [c for c in ADSL_COLUMNS if c in adsl.columns]
    extra = [c for c in adsl.columns if c not in ADSL_COLUMNS and c not in (ROW, "_RANK")]
    return adsl[known + extra].reset_index(drop=True)


def _check_accounting(raw: RawTables, log: QualityLog, visit_rows: np.ndarray) -> None:
    """Every row read is used or dropped, never both, never neither (a bug otherwise)."""
    log.check()
    for table in raw.tables.values():
        used = table.n_rows
        if table.name == "visits":
            seen = np.zeros(table.n_rows + 1, dtype=bool)
            seen[visit_rows] = True
            used = int(seen.sum())
        dropped = log.n_dropped(table.file)
        if used + dropped != table.n_rows:
            raise AssertionError(f"{table.file}: {table.n_rows} rows read, but {used} used and "
                                 f"{dropped} dropped")


# ---------------------------------------------------------------------------
# Readable data-quality summary (mscstats validate)
# ---------------------------------------------------------------------------

MAX_SUMMARY_ENTRIES = 12


def _short_rows(rows: str, width: int = 48) -> str:
    return rows if len(rows) <= width else rows[:width].rsplit(",", 1)[0] + ",..."


_DUPLICATE_REASON = re.compile(r"^duplicate of (?:row \d+: (\w+) kept|a row kept by the (\w+) "
                               r"rule .*)$")


def _pool_duplicates(entries: list[dict]) -> list[dict]:
    """The many "duplicate of row N" entries as one line per file and rule."""
    pooled: dict[tuple, dict] = {}
    out = []
    for e in entries:
        match = _DUPLICATE_REASON.match(e["reason"])
        if not match:
            out.append(e)
            continue
        rule = match[1] or match[2]
        key = (e["file"], rule)
        if key not in pooled:
            pooled[key] = {"file": e["file"], "column": None, "n": 0, "rows": "",
                           "reason": f"duplicate of a kept row ('{rule}' rule)"}
            out.append(pooled[key])
        pooled[key]["n"] += e["n"]
    return out


def _rows_note(n: int, rows: str) -> str:
    counted = "1 row" if n == 1 else f"{n} rows"
    return f" [{counted}: {_short_rows(rows)}]" if rows else f" [{counted}]"


def _entries(title: str, entries: list[dict], text_key: str) -> list[str]:
    if not entries:
        return []
    lines = [f"{title}:"]
    for e in entries[:MAX_SUMMARY_ENTRIES]:
        where = e["file"] + (f", column {e['column']}" if e.get("column") else "")
        lines.append(f"  {where}: {e[text_key]}{_rows_note(e['n'], e['rows'])}")
    rest = entries[MAX_SUMMARY_ENTRIES:]
    if rest:
        lines.append(f"  ... and {len(rest)} more ({sum(e['n'] for e in rest)} rows)")
    return lines


def summary(trial: Trial) -> str:
    """The data-quality summary that ``mscstats validate`` prints."""
    log, adsl, visits = trial.quality, trial.adsl, trial.visits
    arms = adsl["ARM"].value_counts(sort=False)
    lines = [f"trial {trial.name}: {len(adsl)} subjects; "
             + ", ".join(f"{arm} {arms[arm]}" for arm in trial.arms),
             "", "rows read / used / dropped:"]
    width = max(len(f) for f in log.rows_read)
    for file, n in log.rows_read.items():
        dropped = log.n_dropped(file)
        lines.append(f"  {file:<{width}}  {n:>9} {n - dropped:>9} {dropped:>7}")
    if len(visits):
        counts = visits["PARAMCD"].value_counts().sort_index()
        lines += ["", f"visits: {len(visits)} records, days {visits['ADY'].min()} to "
                      f"{visits['ADY'].max()}, {visits['USUBJID'].nunique()} subjects",
                  "  parameters: " + ", ".join(f"{p} {k}" for p, k in counts.items())]
    for title, entries, key in (("conversions", log.converted, "rule"),
                                ("dropped", _pool_duplicates(log.dropped), "reason"),
                                ("warnings", log.warnings, "message")):
        block = _entries(title, entries, key)
        lines += [""] + block if block else []
    if log.notes:
        lines += ["", "notes:"] + [f"  {note}" for note in log.notes]
    verdict = "warnings only" if log.warnings else "clean"
    lines += ["", f"no errors ({verdict})."]
    return "\n".join(lines)
