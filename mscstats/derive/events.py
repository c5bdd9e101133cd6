"""Event rules of the SAP evaluated on the daily grid: the first day each holds.

A parameter condition counts from day 2 (day 1 is baseline); a state from the
day it begins (DSCHDY, DTHDY, the first IMV or ECMO day); an adverse-event
condition from the AE's start day (day 1 or later: earlier AEs are before
treatment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from .daily import DailyValues, concat_rows
from .rules import COMPARE, INFUSION_WINDOW_MINUTES
from ..plan import Condition, EventRule
from ..trial.quality import Trial

__all__ = ["EventContext", "first_event_day", "baseline", "infusion_associated",
           "last_assessment_day"]


@dataclass(frozen=True)
class EventContext:
    trial: Trial
    daily: DailyValues

    @property
    def subjects(self) -> pd.Index:
        return pd.Index(self.trial.adsl["USUBJID"], name="USUBJID")


def baseline(daily: DailyValues, param: str) -> pd.Series:
    """Last non-missing value with ADY <= 1, per subject."""
    values = daily.param(param)
    values = values[(values["ADY"] <= 1) & values["AVAL"].notna()]
    return values.sort_values("ADY", kind="mergesort").groupby("USUBJID")["AVAL"].last()


def last_assessment_day(daily: DailyValues, params: list[str]) -> pd.Series:
    """Last ADY with a record of any of the parameters, per subject."""
    return daily.params(params).groupby("USUBJID")["ADY"].max()


def first_event_day(rule: EventRule, ctx: EventContext, horizon: int) -> pd.Series:
    """First day (<= horizon) on which the rule holds, per subject; NaN when never."""
    grid = _grid(rule, ctx, horizon)
    holds = _evaluate(rule, grid, ctx)
    first = grid.loc[holds].groupby("USUBJID")["ADY"].min()
    return first.reindex(ctx.subjects).astype(float)


def _grid(rule: EventRule, ctx: EventContext, horizon: int) -> pd.DataFrame:
    """Every (subject, day) on which some leaf of the rule may change value."""
    leaves = rule.leaves()
    params = [c.param for c in leaves if c.param]
    days = [ctx.daily.params(params)[["USUBJID", "ADY"]]]
    for leaf in leaves:
        start = _start_day(leaf, ctx)
        if start is not None:
            days.append(start.dropna().rename("ADY").reset_index())
    grid = concat_rows(days, ["USUBJID", "ADY"])
    grid = grid[(grid["ADY"] >= 1) & (grid["ADY"] <= horizon)]
    grid = grid.astype({"ADY": int}).drop_duplicates().sort_values(["USUBJID", "ADY"],
                                                                 kind="mergesort")
    return grid.reset_index(drop=True)


def _evaluate(rule: EventRule | Condition, grid: pd.DataFrame, ctx: EventContext) -> np.ndarray:
    if isinstance(rule, EventRule):
        parts = [_evaluate(item, grid, ctx) for item in rule.items]
        combine = np.logical_or if rule.mode == "any" else np.logical_and
        return combine.reduce(parts) if parts else np.zeros(len(grid), dtype=bool)
    start = _start_day(rule, ctx)
    if start is not None:
        begins = grid["USUBJID"].map(start).to_numpy(dtype=float)
        return grid["ADY"].to_numpy() >= begins  # NaN start: never
    return _parameter_holds(rule, grid, ctx)


def _parameter_holds(cond: Condition, grid: pd.DataFrame, ctx: EventContext) -> np.ndarray:
    values = ctx.daily.param(cond.param)[["USUBJID", "ADY", "AVAL"]]
    on_day = grid.merge(values, on=["USUBJID", "ADY"], how="left")["AVAL"].to_numpy(dtype=float)
    if cond.chg is not None:
        base = grid["USUBJID"].map(baseline(ctx.daily, cond.param)).to_numpy(dtype=float)
        observed, threshold = on_day - base, cond.chg
    else:
        observed, threshold = on_day, cond.value
    with np.errstate(invalid="ignore"):
        holds = COMPARE[cond.op](observed, threshold) & ~np.isnan(observed)
    holds &= grid["ADY"].to_numpy() >= 2
    if cond.on is not None:
        holds &= _support_on_day(grid, ctx) == schema.OXYDEV_RANK[cond.on]
    return holds


def _support_on_day(grid: pd.DataFrame, ctx: EventContext) -> np.ndarray:
    """Oxygen support rank on each grid day, carrying the last record forward."""
    support = ctx.daily.param("OXYDEV")[["USUBJID", "ADY", "AVAL"]].sort_values("ADY")
    left = grid.reset_index().sort_values("ADY", kind="mergesort")
    merged = pd.merge_asof(left, support, on="ADY", by="USUBJID", direction="backward")
    return merged.sort_values("index")["AVAL"].to_numpy(dtype=float)


def _start_day(cond: Condition, ctx: EventContext) -> pd.Series | None:
    """Day a state or an adverse-event condition begins, per subject (None for params)."""
    adsl = ctx.trial.adsl.set_index("USUBJID")
    if cond.state == "dead":
        return adsl["DTHDY"].astype(float)
    if cond.state == "discharged":
        return adsl["DSCHDY"].astype(float)
    if cond.state == "ventilated":
        support = ctx.daily.param("OXYDEV")
        vented = support[support["AVAL"] >= schema.OXYDEV_RANK["IMV"]]
        return vented.groupby("USUBJID")["ADY"].min().reindex(adsl.index).astype(float)
    if cond.ae is not None:
        return _first_ae_day(ctx.trial, cond.ae).reindex(adsl.index)
    return None


def _first_ae_day(trial: Trial, kind: str) -> pd.Series:
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
    """AEs starting within 6 hours after a dose.

    With both clock times, 0 <= AE start - dose start <= 6 h (across midnight
    too). Without a time on either side, an AE on the day of a dose counts: the
    conservative reading when the exact time is unknown.
    """
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
