"""What the event rules read from a real trial's records beyond its daily values:
adverse events (the first day each kind starts; day 1 or later: earlier AEs are
before treatment) and infusion association. The rules themselves (a parameter
condition from day 2, a state from the day it begins, the first day a rule
holds) are derive/grid.py's, for real and simulated trials alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from .daily import DailyValues
from .grid import GridDerivation, baseline_values
from .rules import INFUSION_WINDOW_MINUTES
from ..trial.quality import Trial

__all__ = ["EventContext", "baseline", "first_ae_day", "infusion_associated"]


@dataclass(frozen=True)
class EventContext:
    """What a deriver reads: the trial, its daily values and their grid derivation
    (derive/grid.py: baseline, windows, events, states, strategies, free days)."""
    trial: Trial
    daily: DailyValues
    grid: GridDerivation

    @property
    def subjects(self) -> pd.Index:
        return pd.Index(self.trial.adsl["USUBJID"], name="USUBJID")


def baseline(daily: DailyValues, param: str) -> pd.Series:
    """Last non-missing value with ADY <= 1, per subject with a value on those days
    (grid.baseline_values on the parameter's pivot)."""
    values = daily.param(param)
    values = values[values["ADY"] <= 1]
    table = values.pivot(index="USUBJID", columns="ADY", values="AVAL").sort_index(axis=1)
    base = baseline_values(table.to_numpy(dtype=float), table.columns.to_numpy(dtype=float))
    out = pd.Series(base, index=table.index, name="AVAL")
    return out[out.notna()]


def first_ae_day(trial: Trial, kind: str) -> pd.Series:
    """The first day (>= 1) an adverse event of the kind starts, per subject with one."""
    ae = trial.adae
    if ae is None or ae.empty:
        return pd.Series(dtype=float)
    ae = ae[ae["AESTDY"] >= 1]
    if kind == "serious":
        ae = ae[ae["AESER"] == "Y"]
    elif kind == "related":
        ae = ae[ae["AEREL"] == "Y"]
    elif kind == "grade3":
        ae = ae[ae["AETOXGR"] >= 3]
    elif kind == "infusion":
        ae = ae[infusion_associated(ae, trial.ex)]
    return ae.groupby("USUBJID")["AESTDY"].min().astype(float)


def _minutes(day: pd.Series, clock: pd.Series) -> pd.Series:
    """Minutes since the start of day 1; NaN where the clock time is missing."""
    text = clock.fillna("").astype(str).str.strip()
    parts = text.str.extract(r"^(\d{1,2}):(\d{2})")
    minutes = parts[0].astype(float) * 60 + parts[1].astype(float)
    # day 1 follows day -1: there is no day 0
    day_index = day.astype(float) - (day.astype(float) > 0)
    return day_index * 24 * 60 + minutes


def infusion_associated(adae: pd.DataFrame, ex: pd.DataFrame | None) -> np.ndarray:
    """AEs starting within 6 hours after an infusion: an IV or nebulized dose
    (schema.INFUSION_ROUTES; a dose without EXROUTE counts too, an oral one never).

    With both clock times, 0 <= AE start - dose start <= 6 h (across midnight
    too). Without a time on either side, an AE on the day of a dose counts: the
    conservative reading when the exact time is unknown.
    """
    if ex is not None and "EXROUTE" in ex.columns:
        route = ex["EXROUTE"].fillna("").astype(str)
        ex = ex[route.isin(schema.INFUSION_ROUTES) | (route == "")]
    if ex is None or ex.empty or adae.empty:
        return np.zeros(len(adae), dtype=bool)
    ae = adae.reset_index(drop=True).assign(_AE=lambda d: np.arange(len(d)))
    ae["_T"] = _minutes(ae["AESTDY"], ae.get("AESTTM", pd.Series("", index=ae.index)))
    doses = ex[["USUBJID", "EXSTDY"]].copy()
    doses["_D"] = _minutes(ex["EXSTDY"], ex.get("EXSTTM", pd.Series("", index=ex.index)))
    pairs = ae[["USUBJID", "AESTDY", "_AE", "_T"]].merge(doses, on="USUBJID")
    gap = pairs["_T"] - pairs["_D"]
    timed = gap.notna() & (gap >= 0) & (gap <= INFUSION_WINDOW_MINUTES)
    untimed = gap.isna() & (pairs["AESTDY"] == pairs["EXSTDY"])
    hit = pairs.loc[timed | untimed, "_AE"].unique()
    out = np.zeros(len(adae), dtype=bool)
    out[hit] = True
    return out
