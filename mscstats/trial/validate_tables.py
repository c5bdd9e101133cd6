"""Validation of adsl (one row per subject) and of the event tables ex and adae."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .. import schema
from .csv_text import parse_numbers
from .io import ROW, RawTable
from .validate_cells import (_as_read, _Cells, _Check, _days, _flag_values, _missing_columns,
                             _numbers, _times)

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


# adsl columns read as text whatever they look like: identifiers and codes.
TEXT_COLUMNS = ("USUBJID", "SUBJID", "STUDYID", "SITEID", "SEX", "STRATUM", "RACE", "ETHNIC",
                "COUNTRY")
# adsl columns validation reads (the arm column, days, dates and flags are added to these).
ADSL_READ = ("USUBJID", "DTHDY", "DSCHDY", "LSTALVDY", "ITTFL", "SAFFL", "AGE", "SEX", "BMI",
             "STRATUM")


def _adsl(table: RawTable, chk: _Check, arm: str | None,
          named: frozenset = frozenset()) -> pd.DataFrame | None:
    """The canonical adsl; ``arm`` is the column that holds the arm (ARM, TRT01P ...);
    ``named`` the adsl columns the SAP uses (covariates, strata)."""
    required = [c for c in schema.TABLE_SPECS["adsl"].required if c != "ARM"]
    if _missing_columns(table, required, chk) or arm is None:
        return None
    frame, file, n = table.frame, table.file, len(table.frame)
    if n == 0:
        chk.problems.add(file, "USUBJID", "adsl has no subjects (only a header).",
                         "add one row per randomized subject.")
        return None
    out = {"USUBJID": _Cells(frame["USUBJID"], n).text(), "ARM": _Cells(frame[arm], n).text()}
    _require_text(table, "USUBJID", out["USUBJID"] == "", chk)
    _require_text(table, arm, out["ARM"] == "", chk)
    _check_unique_subjects(table, out["USUBJID"], out["ARM"], chk, arm)
    _check_arms(table, out["ARM"], chk, arm)
    for column in ("DTHDY", "DSCHDY", "LSTALVDY"):
        out[column] = (_days(table, column, chk, required=False) if column in frame.columns
                       else np.full(n, np.nan))
    _fill_last_alive(table, out, chk)
    _check_course(table, out, chk)
    for column in ("AGE", "BMI"):
        if column in frame.columns:
            out[column] = _numbers(table, column, chk)
    for column in ("ITTFL", "SAFFL"):
        out[column] = (_flag_values(table, column, chk, schema.YES_NO)
                       if column in frame.columns else np.full(n, "", dtype=object))
    _fill_flag(table, out, "ITTFL", np.ones(n, dtype=bool), "Y (randomized)", chk)
    chk.used.setdefault(file, set()).update(c for c in (*ADSL_READ, *named) if c in frame.columns)
    extra = [c for c in frame.columns if c not in out and c not in (ROW, arm)]
    for column in extra:  # kept: the SAP may name them as covariates or strata
        out[column] = _passthrough(frame[column], n, column, table.origin)
    return pd.DataFrame({**out, ROW: frame[ROW].to_numpy()})


def _passthrough(column: pd.Series, n: int, name: str, origin: str) -> np.ndarray:
    """An extra adsl column: numbers when the file stores numbers, or (CSV text) when every
    filled cell is a plain number; else its text exactly ("01" stays "01")."""
    cells = _Cells(column, n)
    if name in TEXT_COLUMNS:
        return cells.text()
    if pd.api.types.is_numeric_dtype(column.dtype) or _all_numbers(column):
        return cells.number()
    text = cells.text()
    if origin not in ("text", "frame"):   # a text column of a typed file stays text
        return text
    filled = text != ""
    numbers = pd.Series(parse_numbers(text))     # exact, as every number cell
    leading_zero = pd.Series(text).str.match(r"^[+-]?0\d").to_numpy()
    if filled.any() and numbers[filled].notna().all() and not leading_zero.any():
        return numbers.to_numpy(dtype=float)
    return text


def _all_numbers(column: pd.Series) -> bool:
    """An object column (xlsx) whose filled cells are all numbers; text cells keep it text."""
    values = column.dropna()
    return bool(len(values)) and all(isinstance(v, (int, float, np.number))
                                     and not isinstance(v, bool) for v in values)


def _require_text(table: RawTable, column: str, empty: np.ndarray, chk: _Check) -> None:
    if empty.any():
        chk.problems.add(table.file, column, f"{column} is empty.",
                         f"fill in {column} on every row.", table.frame[ROW].to_numpy()[empty])


def _check_unique_subjects(table: RawTable, ids: np.ndarray, arm: np.ndarray,
                           chk: _Check, arm_column: str = "ARM") -> None:
    frame = pd.DataFrame({"id": ids, "arm": arm, "row": table.frame[ROW].to_numpy()})
    repeated = frame[frame["id"].duplicated(keep=False) & (frame["id"] != "")]
    if repeated.empty:
        return
    n_arms = repeated.groupby("id")["arm"].transform("nunique").to_numpy()
    two = repeated[n_arms > 1]
    if len(two):
        chk.problems.add(table.file, arm_column, "a subject is in two arms (the same USUBJID "
                         f"with different {arm_column}).",
                         "keep one row per subject with its randomized arm.", two["row"], two["id"])
    same = repeated[n_arms == 1]
    if len(same):
        chk.problems.add(table.file, "USUBJID", "duplicate USUBJID.",
                         "keep one row per subject (USUBJID must be unique).",
                         same["row"], same["id"])


def _check_arms(table: RawTable, arm: np.ndarray, chk: _Check, column: str = "ARM") -> None:
    if chk.arms is None:
        return
    wrong = (arm != "") & ~np.isin(arm, list(chk.arms))
    if wrong.any():
        named = ", ".join(repr(a) for a in chk.arms)
        chk.problems.add(table.file, column, f"{column} is not one of the SAP's arms.",
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
           "INHALED": "NEBULIZED", "INHALATION": "NEBULIZED", "ORAL": "ORAL", "PO": "ORAL"}


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
            chk.log.convert(table.file, "EXROUTE", "EXROUTE spelling -> IV / NEBULIZED / ORAL",
                            rows[renamed])
        out["EXROUTE"] = np.where(known.notna(), known.to_numpy(), out["EXROUTE"])
        odd = known.isna().to_numpy() & (route != "")
        if odd.any():
            chk.log.warn(table.file, "EXROUTE is none of IV, NEBULIZED, ORAL (kept as written; "
                         "its doses open no infusion window)",
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
                         "(MILD/MODERATE/SEVERE/FATAL).", "add an AETOXGR or an AESEV column.")
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
    """AETOXGR 1-5; where empty, from AESEV (MILD 1, MODERATE 2, SEVERE 3, FATAL 5), logged."""
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
            chk.log.convert(file, "AETOXGR",
                            "AETOXGR from AESEV (MILD 1, MODERATE 2, SEVERE 3, FATAL 5)",
                            rows[use])
    empty = np.isnan(grade) & ~wrong & ~_Cells(frame.get("AETOXGR"), len(rows)).bad()
    if empty.any():
        chk.log.warn(file, "adverse event without a grade (AETOXGR and AESEV empty)",
                     rows[empty], "AETOXGR")
    return grade


