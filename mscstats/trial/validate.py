"""Check a trial's tables, convert units, and account for every row read.

``validate(raw)`` turns the tables io.py read into a :class:`~mscstats.trial.quality.Trial`
in canonical form, or raises one :class:`~mscstats.errors.DataError` listing every
problem found (file, row, column, what is wrong and the fix). Rows are never lost
silently: each row read is used (possibly converted, the rule logged), or dropped
with a reason, in the trial's :class:`~mscstats.trial.quality.QualityLog`.

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

import re
from typing import Sequence

import numpy as np
import pandas as pd

from .. import schema
from .decimal_marks import read_decimal_marks
from ..errors import DataError
from .io import ROW, RawTable, RawTables, read_tables, tables_from_frames
from .quality import QualityLog, Trial
from ..plan import DataRules
from .study_days import check_day_bounds
from .validate_adam import adsl_in_days, arm_column, mapped_params, timed
from .validate_cells import _Cells, _Check, _Problems
from .validate_tables import _adae, _adsl, _ex, _fill_saffl, _Subjects
from .validate_visits import _no_visits, _visits, warn_fio2_across

__all__ = ["validate", "load_trial", "load_frames", "summary"]


def load_trial(directory, arms: Sequence[str] | None = None, rules: DataRules | None = None,
               covariates: Sequence[str] = ()) -> Trial:
    """Read and validate a trial directory (read_tables + validate)."""
    return validate(read_tables(directory), arms, rules, covariates)


def load_frames(frames, name: str = "trial", arms: Sequence[str] | None = None,
                rules: DataRules | None = None, covariates: Sequence[str] = ()) -> Trial:
    """Validate in-memory tables {"adsl": DataFrame, "visits": ...} like a directory."""
    return validate(tables_from_frames(name, frames), arms, rules, covariates)


# ---------------------------------------------------------------------------
# The whole trial
# ---------------------------------------------------------------------------

ADSL_COLUMNS = ("USUBJID", "ARM", "LSTALVDY", "DTHDY", "DSCHDY", "ITTFL", "SAFFL",
                "AGE", "SEX", "BMI", "STRATUM")
# Columns each kind of table is read for (adsl's are counted as they are read).
_READ = {kind: frozenset({*schema.TABLE_SPECS[spec].required, *schema.TABLE_SPECS[spec].optional,
                          "ARM", *extra})
         for kind, spec, extra in (("bds", "visits", ("AVISIT", "AVISITN")),
                                   ("adae", "adae", ()), ("ex", "ex", ()))}


def validate(raw: RawTables, arms: Sequence[str] | None = None, rules: DataRules | None = None,
             covariates: Sequence[str] = ()) -> Trial:
    """Check and convert the tables read by io.read_tables into a canonical Trial.

    arms: the SAP's arms (reference first); an ARM outside them is an error.
    rules: the SAP's [data] rules (plan.DataRules; default DataRules()): the daily rule
    for duplicate records, the value below the LLOQ, FiO2 from oxygen flow (warnings
    only), the adsl arm column, the sponsor's PARAMCD names, the CSV decimal mark.
    covariates: adsl columns the SAP names (covariates, strata): they count as used.
    Raises DataError listing every problem when the data are wrong.
    """
    rules = DataRules() if rules is None else rules
    chk = _Check(QualityLog(notes=list(raw.notes), files_not_read=list(raw.files_not_read)),
                 _Problems(), tuple(arms) if arms is not None else None, rules.daily,
                 rules.below_lloq, bool(rules.fio2_from_flow), rules.arm.upper(),
                 tuple(rules.params))
    for table in raw.tables.values():
        chk.log.read(table.file, table.n_rows)
    raw = read_decimal_marks(raw, rules.decimal, chk.log)    # before any number is read
    check_day_bounds(raw)                              # before any day is compared
    if "adsl" not in raw:
        chk.problems.add(raw.name, None, "no adsl table.", "add adsl.csv (one row per subject).")
    adsl = day_one = None
    if "adsl" in raw:
        adsl_table, day_one = adsl_in_days(raw["adsl"], chk)
        adsl = _adsl(adsl_table, chk, arm_column(adsl_table, chk),
                     frozenset(c.upper() for c in covariates))
    subjects = _Subjects.of(adsl, raw["adsl"].file) if adsl is not None else None
    ex = _ex(timed(raw["ex"], "ex", chk, day_one), chk, subjects) if "ex" in raw else None
    adae = _adae(timed(raw["adae"], "adae", chk, day_one), chk, subjects) \
        if "adae" in raw else None
    visits, visit_rows = _efficacy(raw, chk, subjects, day_one)
    if chk.problems:
        raise DataError(list(chk.problems))
    _fill_saffl(raw["adsl"], adsl, ex, chk)
    _check_accounting(raw, chk.log, visit_rows)
    chk.log.not_used.extend(_not_used(raw, chk))
    return Trial(name=raw.name, adsl=_final_adsl(adsl, raw["adsl"].file, chk),
                 visits=visits, adae=adae, ex=ex, quality=chk.log, files=raw.files,
                 data_sha256=raw.data_sha256)


def _efficacy(raw: RawTables, chk: _Check, subjects: _Subjects | None, day_one
              ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The records of visits and every other BDS table, as one canonical visits frame,
    and the file rows each table contributes."""
    tables = mapped_params([t for t in raw.tables.values() if t.bds], chk)
    pieces: list[tuple[RawTable, pd.DataFrame, np.ndarray]] = []
    for table in tables:
        _note_visit_labels(table, chk)
        got = _visits(timed(table, "bds", chk, day_one), chk, subjects,
                      warn_fio2=len(tables) == 1)
        if got is not None:
            pieces.append((table, *got))
    rows = {table.file: used for table, _, used in pieces}
    if not pieces:
        if not tables:
            chk.log.notes.append("no visits table: efficacy endpoints cannot be derived")
        return _no_visits(), rows
    if len(pieces) == 1:
        return pieces[0][1], rows
    _one_table_per_parameter(pieces, chk)
    warn_fio2_across(pieces, chk)
    visits = pd.concat([frame for _, frame, _ in pieces], ignore_index=True)
    visits = visits.sort_values(["USUBJID", "ADY", "ATM", "PARAMCD"], kind="stable")
    return visits.reset_index(drop=True), rows


def _one_table_per_parameter(pieces: list[tuple], chk: _Check) -> None:
    """A parameter recorded in two BDS tables would be counted twice: an error."""
    where: dict[str, str] = {}
    for table, frame, _ in pieces:
        for param in pd.unique(frame["PARAMCD"]):
            if param in where:
                chk.problems.add(table.file, "PARAMCD", f"parameter {param} is in both "
                                 f"{where[param]} and {table.file}.",
                                 "keep each parameter in one table (remove the copy, or "
                                 "rename one code with [data.params]).")
            where.setdefault(param, table.file)


def _note_visit_labels(table: RawTable, chk: _Check) -> None:
    """AVISIT/AVISITN are carried into the log only: windows are by study day."""
    present = [c for c in ("AVISIT", "AVISITN") if c in table.frame.columns]
    if not present:
        return
    labels = [v for v in _Cells(table.frame[present[0]], len(table.frame)).labels if v]
    shown = ", ".join(repr(v) for v in labels[:4]) + (", ..." if len(labels) > 4 else "")
    chk.log.notes.append(f"{table.file}: {' and '.join(present)} carried into the log only "
                         f"({len(labels)} visits: {shown}); windows are by study day (ADY)")


def _not_used(raw: RawTables, chk: _Check) -> list[dict[str, str]]:
    """Every column of every table that nothing read."""
    out = []
    for table in raw.tables.values():
        kind = "bds" if table.bds else table.name
        read = chk.used.get(table.file, set()) | _READ.get(kind, frozenset())
        if table.wide:
            read |= {*table.wide_columns, "USUBJID", "ADY", "ATM"}
        out += [{"file": table.file, "column": c} for c in table.columns if c not in read]
    return out


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


def _check_accounting(raw: RawTables, log: QualityLog, visit_rows: dict[str, np.ndarray]
                      ) -> None:
    """Every row read is used or dropped, never both, never neither (a bug otherwise)."""
    log.check()
    for table in raw.tables.values():
        used = table.n_rows
        if table.bds:
            seen = np.zeros(table.n_rows + 1, dtype=bool)
            seen[visit_rows.get(table.file, np.array([], dtype=np.int64))] = True
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
    if log.not_used:
        by_file: dict[str, list[str]] = {}
        for entry in log.not_used:
            by_file.setdefault(entry["file"], []).append(entry["column"])
        lines += ["", "columns not used:"] + [f"  {file}: {', '.join(columns)}"
                                              for file, columns in by_file.items()]
    if log.files_not_read:
        lines += ["", "files not read: " + ", ".join(log.files_not_read)]
    verdict = "warnings only" if log.warnings else "clean"
    lines += ["", f"no errors ({verdict})."]
    return "\n".join(lines)
