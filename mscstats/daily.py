"""Derived parameters per subject and day (DESIGN.md section 3).

From validated visit records: FiO2 imputation, P/F and S/F paired by day and
time, one value per subject, day and parameter by the SAP's daily rule, WHO
scale where missing, and Berlin ARDS severity. Every derived value carries a
flag saying how it was obtained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import schema
from .quality import Trial

__all__ = ["DailyValues", "daily_values", "worst_direction"]

KEYS = ["USUBJID", "ADY"]
COLUMNS = ["USUBJID", "ADY", "PARAMCD", "AVAL", "AVALC", "DFLAG"]


@dataclass(frozen=True)
class DailyValues:
    """One row per USUBJID, ADY and PARAMCD: AVAL (OXYDEV as its support rank),
    AVALC (OXYDEV code, BERLIN band), DFLAG (how derived; "" when recorded)."""
    table: pd.DataFrame
    notes: tuple[str, ...]

    def param(self, code: str) -> pd.DataFrame:
        return self.table[self.table["PARAMCD"] == code]


def worst_direction(code: str) -> str:
    """'min' when a lower value is worse (PaO2, SpO2, P/F), else 'max'.

    Parameters the schema does not know (CRP, ferritin, D-dimer...) take 'max':
    for most inflammatory markers higher is worse.
    """
    param = schema.PARAMS.get(code) or schema.DERIVED_PARAMS.get(code)
    return param.worst if param is not None else "max"


def daily_values(trial: Trial, daily_rule: str = "worst",
                 fio2_from_flow: bool = False) -> DailyValues:
    records = _records(trial.visits)
    notes: list[str] = []
    fio2 = _fio2_lookup(records, fio2_from_flow, notes)
    ratios = [_ratio(records, "PAO2", fio2, "PF"),
              _ratio(records[records["AVAL"] <= schema.SF_MAX_SPO2], "SPO2", fio2, "SF")]
    imputed_fio2 = fio2[fio2["DFLAG"] != ""].drop(columns="ATM")
    imputed_fio2 = imputed_fio2[~_has(imputed_fio2, records, "FIO2")]
    all_records = pd.concat([records, *ratios, imputed_fio2.assign(PARAMCD="FIO2", ATM="")],
                            ignore_index=True)
    n_multi = int(all_records.duplicated(["USUBJID", "ADY", "PARAMCD"]).sum())
    if n_multi:
        notes.append(f"{n_multi} records at other times of an already recorded day were reduced "
                     f"to one value per subject, day and parameter by the '{daily_rule}' rule.")
    table = _reduce_daily(all_records, daily_rule)
    table = pd.concat([table, _who_where_missing(table, trial.adsl)], ignore_index=True)
    table = pd.concat([table, _berlin(table)], ignore_index=True)
    table = table.sort_values(["USUBJID", "ADY", "PARAMCD"], kind="mergesort")
    return DailyValues(table[COLUMNS].reset_index(drop=True), tuple(notes))


def _records(visits: pd.DataFrame) -> pd.DataFrame:
    """Visit records with OXYDEV coded as its support rank in AVAL."""
    out = visits[["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC"]].copy()
    is_dev = out["PARAMCD"] == "OXYDEV"
    out.loc[is_dev, "AVAL"] = out.loc[is_dev, "AVALC"].map(schema.OXYDEV_RANK).astype(float)
    out["DFLAG"] = ""
    return out


def _has(frame: pd.DataFrame, records: pd.DataFrame, code: str) -> np.ndarray:
    """Rows of frame whose subject and day already have a record of `code`."""
    keys = records.loc[records["PARAMCD"] == code, KEYS].drop_duplicates()
    merged = frame[KEYS].merge(keys.assign(_hit=1), on=KEYS, how="left")
    return merged["_hit"].notna().to_numpy()


def _fio2_lookup(records: pd.DataFrame, fio2_from_flow: bool, notes: list[str]) -> pd.DataFrame:
    """FiO2 per subject, day and time: recorded, else imputed (room air; flow if asked).

    Imputation happens per subject and day where no FiO2 is recorded that day:
    room air gives 0.21; with fio2_from_flow, nasal cannula gives 0.21 + 0.04 x L/min.
    """
    recorded = records.loc[records["PARAMCD"] == "FIO2", KEYS + ["ATM", "AVAL", "DFLAG"]]
    # the day's most intensive support (AVAL holds the support rank)
    rank = records[records["PARAMCD"] == "OXYDEV"].groupby(KEYS)["AVAL"].max()
    device = rank.map(dict(enumerate(schema.OXYDEV_CODES)))
    needs = records.loc[records["PARAMCD"].isin(["PAO2", "SPO2"]), KEYS].drop_duplicates()
    needs = needs[~_has(needs, records, "FIO2")]
    needs = needs.merge(device.rename("DEVICE").reset_index(), on=KEYS, how="left")
    room_air = needs[needs["DEVICE"] == "RA"].assign(
        AVAL=schema.FIO2_ROOM_AIR, DFLAG="imputed:room_air", ATM="")
    parts = [recorded, room_air[KEYS + ["ATM", "AVAL", "DFLAG"]]]
    if len(room_air):
        notes.append(f"FiO2 imputed as 0.21 (room air, no FiO2 recorded) on {len(room_air)} "
                     "subject-days.")
    if fio2_from_flow:
        flow = records[records["PARAMCD"] == "O2FLOW"].groupby(KEYS)["AVAL"].max()
        cannula = needs[needs["DEVICE"] == "NC"].merge(flow.rename("FLOW").reset_index(), on=KEYS)
        cannula = cannula.assign(
            AVAL=schema.FIO2_ROOM_AIR + schema.FIO2_PER_LITRE * cannula["FLOW"],
            DFLAG="imputed:nasal_cannula_flow", ATM="")
        parts.append(cannula[KEYS + ["ATM", "AVAL", "DFLAG"]])
        if len(cannula):
            notes.append(f"FiO2 imputed from nasal-cannula flow (0.21 + 0.04 x L/min) on "
                         f"{len(cannula)} subject-days, as the SAP asks (fio2_from_flow).")
    return pd.concat(parts, ignore_index=True)


def _ratio(records: pd.DataFrame, numerator: str, fio2: pd.DataFrame, code: str) -> pd.DataFrame:
    """numerator / FiO2, paired at the same day and time, else with the day's FiO2.

    When the blood gas has a time and a FiO2 was recorded at that time, that one
    is used; otherwise the day's highest FiO2 (the most support given that day),
    which gives the more conservative ratio.
    """
    num = records[records["PARAMCD"] == numerator]
    exact = fio2[fio2["ATM"] != ""].groupby(KEYS + ["ATM"])["AVAL"].max()
    daily = fio2.groupby(KEYS).agg(FIO2_DAY=("AVAL", "max"), FLAG_DAY=("DFLAG", "max"))
    out = num.merge(exact.rename("FIO2_AT").reset_index(), on=KEYS + ["ATM"], how="left")
    out = out.merge(daily.reset_index(), on=KEYS, how="left")
    same_time = out["FIO2_AT"].notna() & (out["ATM"] != "")
    denominator = out["FIO2_AT"].where(same_time, out["FIO2_DAY"])
    out = out.assign(PARAMCD=code, AVAL=out["AVAL"] / denominator, AVALC="",
                     DFLAG=np.where(same_time, "paired:same_time",
                                    np.where(out["FLAG_DAY"].fillna("") != "",
                                             "paired:" + out["FLAG_DAY"].fillna(""),
                                             "paired:same_day")))
    return out.loc[denominator.notna(), ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC",
                                         "DFLAG"]]


def _reduce_daily(records: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One row per subject, day and parameter by the daily rule."""
    records = records.copy()
    direction = records["PARAMCD"].map({c: worst_direction(c) for c in records["PARAMCD"].unique()})
    sign = np.where(direction == "min", -1.0, 1.0)
    # score: larger = worse, so "worst" keeps the largest score and "best" the smallest
    records["_score"] = records["AVAL"].to_numpy(dtype=float) * sign
    if rule == "mean":
        numeric = records["PARAMCD"] != "OXYDEV"
        means = records[numeric].groupby(KEYS + ["PARAMCD"], as_index=False).agg(
            AVAL=("AVAL", "mean"), AVALC=("AVALC", "first"), DFLAG=("DFLAG", "first"))
        worst = _keep(records[~numeric], "worst")
        return pd.concat([means, worst], ignore_index=True)
    return _keep(records, rule)


def _keep(records: pd.DataFrame, rule: str) -> pd.DataFrame:
    if rule in ("first", "last"):
        order, keep = ["ATM"], rule
    else:
        order, keep = ["_score"], "last" if rule == "worst" else "first"
    ordered = records.sort_values(KEYS + ["PARAMCD"] + order, kind="mergesort", na_position="first")
    kept = ordered.drop_duplicates(KEYS + ["PARAMCD"], keep=keep)
    return kept[COLUMNS].reset_index(drop=True)


def _who_where_missing(table: pd.DataFrame, adsl: pd.DataFrame) -> pd.DataFrame:
    """WHO scale from oxygen support on days without a recorded score, and from
    status on the day of death (10) or discharge (2)."""
    who_days = table.loc[table["PARAMCD"] == "WHOCPS", KEYS]
    dev = table[table["PARAMCD"] == "OXYDEV"]
    dev = dev[~_has(dev, who_days.assign(PARAMCD="WHOCPS"), "WHOCPS")]
    from_device = dev.assign(PARAMCD="WHOCPS", AVAL=dev["AVALC"].map(schema.WHO_FROM_OXYDEV)
                             .astype(float), AVALC="", DFLAG="derived:oxygen_support")
    status = []
    for column, score, flag in (("DTHDY", schema.WHO_DEAD, "derived:dead"),
                                ("DSCHDY", schema.WHO_DISCHARGED, "derived:discharged")):
        day = adsl[["USUBJID", column]].dropna().rename(columns={column: "ADY"})
        day["ADY"] = day["ADY"].astype(int)
        status.append(day.assign(PARAMCD="WHOCPS", AVAL=float(score), AVALC="", DFLAG=flag))
    status_rows = pd.concat(status, ignore_index=True)
    # death outranks discharge on the same day; a recorded or device-derived score wins otherwise
    status_rows = status_rows.drop_duplicates(KEYS, keep="first")
    taken = pd.concat([who_days, from_device[KEYS]], ignore_index=True).assign(PARAMCD="WHOCPS")
    status_rows = status_rows[~_has(status_rows, taken, "WHOCPS")]
    return pd.concat([from_device[COLUMNS], status_rows[COLUMNS]], ignore_index=True)


def _berlin(table: pd.DataFrame) -> pd.DataFrame:
    pf = table[table["PARAMCD"] == "PF"]
    labels = np.full(len(pf), "", dtype=object)
    values = pf["AVAL"].to_numpy(dtype=float)
    for label, low, high in schema.BERLIN_BANDS:
        labels[(values > low) & (values <= high)] = label
    return pf.assign(PARAMCD="BERLIN", AVAL=np.nan, AVALC=labels, DFLAG="derived:pf")[COLUMNS]
