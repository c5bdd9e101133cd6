"""Derived parameters per subject and day (DESIGN.md section 3).

From validated visit records: FiO2 imputation, P/F and S/F paired by day and
time, one value per subject, day and parameter by the SAP's daily rule, WHO
scale where missing, and Berlin ARDS severity. Every derived value carries a
flag saying how it was obtained.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np
import pandas as pd

from .. import schema
from ..trial.quality import Trial
from .rules import imputed_fio2, who_from_support, worst_direction

__all__ = ["DailyValues", "daily_values", "worst_direction", "concat_rows"]

KEYS = ["USUBJID", "ADY"]
COLUMNS = ["USUBJID", "ADY", "PARAMCD", "AVAL", "AVALC", "DFLAG"]


@dataclass(frozen=True)
class DailyValues:
    """One row per USUBJID and ADY for each PARAMCD: AVAL (OXYDEV as its support
    rank), AVALC (OXYDEV code, BERLIN band), DFLAG (how derived; "" when recorded).

    Kept as one frame per parameter: endpoints read one or two parameters at a
    time, and splitting once is far cheaper than filtering a long table each time.
    """
    frames: Mapping[str, pd.DataFrame]
    notes: tuple[str, ...]

    def param(self, code: str) -> pd.DataFrame:
        frame = self.frames.get(code)
        return frame if frame is not None else pd.DataFrame(columns=COLUMNS)

    def params(self, codes) -> pd.DataFrame:
        return concat_rows([self.frames[c] for c in codes if c in self.frames], COLUMNS)

    @cached_property
    def table(self) -> pd.DataFrame:
        """All parameters in one long frame, sorted by subject, day and parameter."""
        table = concat_rows(list(self.frames.values()), COLUMNS)
        table = table.sort_values(["USUBJID", "ADY", "PARAMCD"], kind="mergesort")
        return table.reset_index(drop=True)


def concat_rows(frames, columns=None) -> pd.DataFrame:
    """Concatenate, skipping empty frames (pandas' dtype rules for them are changing)."""
    kept = [f for f in frames if len(f)]
    if not kept:
        return pd.DataFrame(columns=columns if columns is not None else
                            (frames[0].columns if len(frames) else None))
    return pd.concat(kept, ignore_index=True)


def daily_values(trial: Trial, daily_rule: str = "worst",
                 fio2_from_flow: bool = False) -> DailyValues:
    records = _records(trial.visits)
    notes: list[str] = []
    fio2 = _fio2_lookup(records, fio2_from_flow, notes)
    spo2 = records.get("SPO2", _empty())
    records["PF"] = _ratio(records.get("PAO2", _empty()), fio2, "PF")
    records["SF"] = _ratio(spo2[spo2["AVAL"] <= schema.SF_MAX_SPO2], fio2, "SF")
    imputed = fio2[fio2["DFLAG"] != ""]
    if len(imputed):
        records["FIO2"] = concat_rows([records.get("FIO2", _empty()),
                                       imputed.assign(PARAMCD="FIO2", AVALC="")])
    frames, n_multi = {}, 0
    for code, frame in records.items():
        if frame.empty:
            continue
        reduced = _reduce_daily(frame, code, daily_rule)
        n_multi += len(frame) - len(reduced)
        frames[code] = reduced
    if n_multi:
        notes.append(f"{n_multi} records at other times of an already recorded day were reduced "
                     f"to one value per subject, day and parameter by the '{daily_rule}' rule.")
    frames["WHOCPS"] = _who_where_missing(frames, trial.adsl)
    if "PF" in frames:
        frames["BERLIN"] = _berlin(frames["PF"])
    return DailyValues({k: v for k, v in frames.items() if not v.empty}, tuple(notes))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"USUBJID": pd.Series(dtype=object), "ADY": pd.Series(dtype=int),
                         "ATM": pd.Series(dtype=object), "PARAMCD": pd.Series(dtype=object),
                         "AVAL": pd.Series(dtype=float), "AVALC": pd.Series(dtype=object),
                         "DFLAG": pd.Series(dtype=object)})


def _records(visits: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Visit records split by parameter; OXYDEV coded as its support rank in AVAL."""
    out = {}
    columns = ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC"]
    for code, frame in visits[columns].groupby("PARAMCD", sort=True, observed=True):
        frame = frame.assign(PARAMCD=str(code), DFLAG="").reset_index(drop=True)
        if code == "OXYDEV":
            frame["AVAL"] = frame["AVALC"].map(schema.OXYDEV_RANK).astype(float)
        out[str(code)] = frame
    return out


def _has(frame: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Rows of frame whose subject and day appear in other."""
    keys = other[KEYS].drop_duplicates()
    merged = frame[KEYS].merge(keys.assign(_hit=1), on=KEYS, how="left")
    return merged["_hit"].notna().to_numpy()


def _fio2_lookup(records: dict[str, pd.DataFrame], fio2_from_flow: bool,
                 notes: list[str]) -> pd.DataFrame:
    """FiO2 per subject, day and time: recorded, else imputed (room air; flow if asked).

    Imputation happens per subject and day where no FiO2 is recorded that day:
    room air gives 0.21; with fio2_from_flow, nasal cannula gives 0.21 + 0.04 x L/min.
    """
    columns = KEYS + ["ATM", "AVAL", "DFLAG"]
    recorded = records.get("FIO2", _empty())
    needs = concat_rows([records.get("PAO2", _empty())[KEYS],
                         records.get("SPO2", _empty())[KEYS]], KEYS).drop_duplicates()
    needs = needs[~_has(needs, recorded)]
    # the day's most intensive support (AVAL holds the support rank) and highest flow
    rank = records.get("OXYDEV", _empty()).groupby(KEYS)["AVAL"].max().rename("SUPPORT")
    needs = needs.merge(rank.reset_index(), on=KEYS, how="left")
    flow = records.get("O2FLOW", _empty()).groupby(KEYS)["AVAL"].max().rename("FLOW")
    needs = needs.merge(flow.reset_index(), on=KEYS, how="left")
    value, flag = imputed_fio2(needs["SUPPORT"], needs["FLOW"], fio2_from_flow)
    needs = needs.assign(AVAL=value, DFLAG=flag, ATM="")
    room_air = needs[flag == "imputed:room_air"]
    cannula = needs[flag == "imputed:nasal_cannula_flow"]
    parts = [recorded[columns], room_air[columns], cannula[columns]]
    if len(room_air):
        notes.append(f"FiO2 imputed as 0.21 (room air, no FiO2 recorded) on {len(room_air)} "
                     "subject-days.")
    if len(cannula):
        notes.append(f"FiO2 imputed from nasal-cannula flow (0.21 + 0.04 x L/min) on "
                     f"{len(cannula)} subject-days, as the SAP asks (fio2_from_flow).")
    return concat_rows(parts, columns)


def _ratio(numerator: pd.DataFrame, fio2: pd.DataFrame, code: str) -> pd.DataFrame:
    """numerator / FiO2, paired at the same day and time, else with the day's FiO2.

    When the blood gas has a time and a FiO2 was recorded at that time, that one
    is used; otherwise the day's highest FiO2 (the most support given that day),
    which gives the more conservative ratio.
    """
    exact = fio2[fio2["ATM"] != ""].groupby(KEYS + ["ATM"])["AVAL"].max()
    # a day's FiO2 rows are all recorded or all imputed (imputation needs a day without one)
    daily = fio2.groupby(KEYS).agg(FIO2_DAY=("AVAL", "max"), FLAG_DAY=("DFLAG", "first"))
    out = numerator.merge(exact.rename("FIO2_AT").reset_index(), on=KEYS + ["ATM"], how="left")
    out = out.merge(daily.reset_index(), on=KEYS, how="left")
    same_time = (out["FIO2_AT"].notna() & (out["ATM"] != "")).to_numpy()
    denominator = out["FIO2_AT"].where(same_time, out["FIO2_DAY"])
    day_flag = out["FLAG_DAY"].fillna("").to_numpy(dtype=object)
    flag = np.where(same_time, "paired:same_time",
                    np.where(day_flag != "", "paired:" + day_flag, "paired:same_day"))
    out = out.assign(PARAMCD=code, AVAL=out["AVAL"] / denominator, AVALC="", DFLAG=flag)
    return out.loc[denominator.notna().to_numpy(), COLUMNS + ["ATM"]]


def _reduce_daily(records: pd.DataFrame, code: str, rule: str) -> pd.DataFrame:
    """One row per subject and day by the daily rule."""
    if rule == "mean" and code != "OXYDEV":
        return records.groupby(KEYS, as_index=False, sort=False).agg(
            PARAMCD=("PARAMCD", "first"), AVAL=("AVAL", "mean"), AVALC=("AVALC", "first"),
            DFLAG=("DFLAG", "first"))[COLUMNS]
    if rule in ("first", "last"):
        order, keep = "ATM", rule
    else:
        # sort so that the worst value comes last: ascending when higher is worse
        worst_last = worst_direction(code) == "max"
        order = "_score"
        records = records.assign(_score=records["AVAL"] if worst_last else -records["AVAL"])
        keep = "last" if rule in ("worst", "mean") else "first"
    ordered = records.sort_values(KEYS + [order], kind="mergesort", na_position="first")
    return ordered.drop_duplicates(KEYS, keep=keep)[COLUMNS].reset_index(drop=True)


def _who_where_missing(frames: dict[str, pd.DataFrame], adsl: pd.DataFrame) -> pd.DataFrame:
    """WHO scale as recorded, plus: from oxygen support on days without a recorded
    score, and from status on the day of death (10) or discharge (2)."""
    recorded = frames.get("WHOCPS", _empty()[COLUMNS])
    dev = frames.get("OXYDEV", _empty()[COLUMNS])
    dev = dev[~_has(dev, recorded)]
    from_device = dev.assign(PARAMCD="WHOCPS", AVAL=who_from_support(dev["AVAL"]), AVALC="",
                             DFLAG="derived:oxygen_support")
    status = []
    for column, score, flag in (("DTHDY", schema.WHO_DEAD, "derived:dead"),
                                ("DSCHDY", schema.WHO_DISCHARGED, "derived:discharged")):
        day = adsl[["USUBJID", column]].dropna().rename(columns={column: "ADY"})
        day["ADY"] = day["ADY"].astype(int)
        status.append(day.assign(PARAMCD="WHOCPS", AVAL=float(score), AVALC="", DFLAG=flag))
    # death outranks discharge on the same day; a recorded or device-derived score wins otherwise
    status_rows = concat_rows(status, COLUMNS).drop_duplicates(KEYS, keep="first")
    taken = concat_rows([recorded[KEYS], from_device[KEYS]], KEYS)
    status_rows = status_rows[~_has(status_rows, taken)]
    out = concat_rows([recorded[COLUMNS], from_device[COLUMNS], status_rows[COLUMNS]], COLUMNS)
    return out.sort_values(KEYS, kind="mergesort").reset_index(drop=True)


def _berlin(pf: pd.DataFrame) -> pd.DataFrame:
    labels = np.full(len(pf), "", dtype=object)
    values = pf["AVAL"].to_numpy(dtype=float)
    for label, low, high in schema.BERLIN_BANDS:
        labels[(values > low) & (values <= high)] = label
    return pf.assign(PARAMCD="BERLIN", AVAL=np.nan, AVALC=labels, DFLAG="derived:pf")[COLUMNS]
