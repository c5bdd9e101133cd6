"""The validated trial and its data-quality log.

Every row read from a file ends up in exactly one of two places: used (possibly
after a logged conversion) or dropped (with a reason). ``QualityLog.check``
enforces that accounting, so a row can never vanish silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["Trial", "QualityLog", "row_ranges"]


def row_ranges(rows: Iterable[int]) -> str:
    """Compact row list: [2, 3, 4, 9] -> "2-4,9" (keeps the log small for big files)."""
    rows = _distinct_rows(rows)
    if not len(rows):
        return ""
    breaks = np.flatnonzero(np.diff(rows) != 1)
    starts = np.r_[rows[0], rows[breaks + 1]].tolist()
    ends = np.r_[rows[breaks], rows[-1]].tolist()
    return ",".join(f"{a}-{b}" if b > a else f"{a}" for a, b in zip(starts, ends))


def _distinct_rows(rows: Iterable[int]) -> np.ndarray:
    """Sorted distinct row numbers (by sorting: rows mostly come sorted already)."""
    rows = np.sort(_as_rows(rows))
    return rows[np.r_[True, rows[1:] != rows[:-1]]] if len(rows) else rows


def _as_rows(rows: Iterable[int]) -> np.ndarray:
    """Row numbers as an int64 array (ten million rows stay an array, not Python ints)."""
    if isinstance(rows, np.ndarray):
        return rows.astype(np.int64, copy=False).ravel()
    return np.fromiter((int(r) for r in rows), dtype=np.int64)


@dataclass
class QualityLog:
    """Accounting of every row read. Entries are grouped by file, column and rule.

    converted: {"file", "column", "param", "rule", "n", "rows"}
    dropped:   {"file", "column", "reason", "n", "rows"}
    warnings:  {"file", "column", "message", "n", "rows"}
    notes:     free-text facts about how the data were read (e.g. "wide format").
    not_used:  {"file", "column"}: columns read from a file that nothing uses.
    files_not_read: files (and workbook sheets) in the directory that are no table.
    """
    rows_read: dict[str, int] = field(default_factory=dict)
    converted: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_used: list[dict[str, str]] = field(default_factory=list)   # {"file", "column"}
    files_not_read: list[str] = field(default_factory=list)        # files that are no table

    # -- recording -------------------------------------------------------
    def read(self, file: str, n_rows: int) -> None:
        self.rows_read[file] = self.rows_read.get(file, 0) + int(n_rows)

    def convert(self, file: str, column: str, rule: str, rows: Iterable[int],
                param: str | None = None) -> None:
        self._add(self.converted, rows, file=file, column=column, param=param, rule=rule)

    def drop(self, file: str, reason: str, rows: Iterable[int], column: str | None = None) -> None:
        self._add(self.dropped, rows, file=file, column=column, reason=reason)

    def warn(self, file: str, message: str, rows: Iterable[int] = (),
             column: str | None = None) -> None:
        self._add(self.warnings, rows, file=file, column=column, message=message, allow_empty=True)

    @staticmethod
    def _add(target: list, rows: Iterable[int], allow_empty: bool = False, **key: Any) -> None:
        rows = _distinct_rows(rows)
        if not len(rows) and not allow_empty:
            return
        for entry in target:
            if all(entry.get(k) == v for k, v in key.items()):
                merged = _distinct_rows(np.concatenate([_expand_array(entry["rows"]), rows]))
                entry["rows"], entry["n"] = row_ranges(merged), len(merged)
                return
        target.append({**key, "n": len(rows), "rows": row_ranges(rows)})

    # -- reading back ------------------------------------------------------
    def n_dropped(self, file: str | None = None) -> int:
        return sum(e["n"] for e in self.dropped if file is None or e["file"] == file)

    @property
    def total_read(self) -> int:
        return sum(self.rows_read.values())

    @property
    def rows_used(self) -> int:
        return self.total_read - self.n_dropped()

    def check(self) -> None:
        """Every dropped row must have been read, and none dropped twice."""
        for file, n in self.rows_read.items():
            dropped_rows: list[int] = []
            for e in self.dropped:
                if e["file"] == file:
                    dropped_rows += _expand(e["rows"])
            if len(dropped_rows) != len(set(dropped_rows)):
                raise AssertionError(f"{file}: a row was dropped twice in the data-quality log")
            if dropped_rows and (min(dropped_rows) < 1 or max(dropped_rows) > n):
                raise AssertionError(f"{file}: dropped row outside the {n} rows read")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.total_read,
            "rows_used": self.rows_used,
            "rows_read_by_file": dict(sorted(self.rows_read.items())),
            "converted": list(self.converted),
            "dropped": list(self.dropped),
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "not_used": list(self.not_used),
            "files_not_read": list(self.files_not_read),
        }


def _expand_array(rows_text: str) -> np.ndarray:
    parts = []
    for part in filter(None, rows_text.split(",")):
        a, _, b = part.partition("-")
        parts.append(np.arange(int(a), int(b or a) + 1, dtype=np.int64))
    return np.concatenate(parts) if parts else np.array([], dtype=np.int64)


def _expand(rows_text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, rows_text.split(",")):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


@dataclass(frozen=True)
class Trial:
    """A validated trial in canonical form (what every later step reads).

    adsl   one row per subject: USUBJID (str), ARM (str), LSTALVDY, DTHDY, DSCHDY
           (float days, NaN when empty), ITTFL/SAFFL ("Y"/"N"), and any of AGE,
           SEX, BMI, STRATUM present in the file.
    visits long, canonical units, one row per USUBJID, ADY, ATM, PARAMCD:
           USUBJID (str), ADY (int), ATM (str, "" when absent), PARAMCD (str),
           AVAL (float, NaN for character parameters), AVALC (str, "" when none),
           LLOQ (float or NaN), FLAG (str: "" or a ";"-joined list such as
           "converted:kPa", "below_lloq", "out_of_range", "aggregated").
    adae   as read, columns upper case; AESTDY int; AETOXGR float (from AESEV when
           only AESEV is given); AESER/AEREL "Y"/"N"; or None when absent.
    ex     as read, columns upper case; EXSTDY int; or None when absent.
    """
    name: str
    adsl: pd.DataFrame
    visits: pd.DataFrame
    adae: pd.DataFrame | None
    ex: pd.DataFrame | None
    quality: QualityLog
    files: Mapping[str, str]          # table -> file name (relative, for messages)
    data_sha256: str = ""

    def dosed(self) -> pd.Series:
        """Per adsl row: received at least one dose. An arm with no dose record at
        all has no study drug (standard of care), and its subjects count as dosed:
        otherwise mITT would drop the whole control arm."""
        if self.ex is None:
            return pd.Series(True, index=self.adsl.index)
        has_dose = self.adsl["USUBJID"].isin(set(self.ex["USUBJID"]))
        arms_with_doses = set(self.adsl.loc[has_dose, "ARM"])
        return has_dose | ~self.adsl["ARM"].isin(arms_with_doses)

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(self.adsl["ARM"]))

    def population(self, name: str) -> pd.DataFrame:
        """adsl rows of a population: ITT (ITTFL), mITT (ITT and >= 1 dose), safety (SAFFL)."""
        if name == "ITT":
            return self.adsl[self.adsl["ITTFL"] == "Y"]
        if name == "safety":
            return self.adsl[self.adsl["SAFFL"] == "Y"]
        if name == "mITT":
            return self.adsl[(self.adsl["ITTFL"] == "Y") & self.dosed()]
        raise ValueError(f"unknown population {name!r}")
