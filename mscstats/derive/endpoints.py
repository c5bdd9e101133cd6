"""Endpoint derivation (DESIGN.md section 4): one ADaM-like table for all endpoints.

Columns: USUBJID, ARM, ENDPOINT, DAY, AVAL, BASE, CHG, CNSR, EVNTCD, ICE (the
intercurrent event and strategy applied, DESIGN.md 9), REASON (why a value is
missing; "" otherwise) and MISSING (the reason's category: died, discharged, no
value in the window, lost to follow-up, no baseline, not log-transformable).
Every missing value is logged with its reason; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .daily import DailyValues, concat_rows, daily_values
from .rules import binary_values, time_to_event_values
from ..errors import SapError
from ..specs import KINDS, resolve
from .events import EventContext
from .grid import GridDerivation
from .pivot import trial_grid
from ..plan import Endpoint, Sap
from ..trial.quality import Trial
from .strategies import COMPOSITES, WHILE, reasons_of

__all__ = ["Endpoints", "derive", "ENDPOINT_COLUMNS"]

MAX_LISTED = 50  # subjects named per log entry; the count is always complete
ENDPOINT_COLUMNS = ["USUBJID", "ARM", "ENDPOINT", "DAY", "AVAL", "BASE", "CHG", "CNSR", "EVNTCD",
                    "ICE"]


@dataclass(frozen=True)
class Endpoints:
    """The derived endpoints and how they were derived."""
    table: pd.DataFrame
    daily: DailyValues
    log: tuple[dict, ...]

    def of(self, endpoint_id: str) -> pd.DataFrame:
        return self.table[self.table["ENDPOINT"] == endpoint_id]


def derive(trial: Trial, sap: Sap) -> Endpoints:
    check_parameters(trial, sap)
    daily = daily_values(trial, sap.data.daily, sap.data.fio2_from_flow)
    ctx = EventContext(trial, daily, GridDerivation(trial_grid(trial, daily, sap), sap.data))
    frames, log = [], [{"endpoint": None, "message": note} for note in daily.notes]
    for endpoint in sap.endpoints:
        frame = resolve(KINDS[endpoint.kind].deriver)(endpoint, ctx)
        frame = _with_arm(frame, trial.adsl, endpoint.id)
        log.extend(_missing_log(frame, endpoint))
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)[ENDPOINT_COLUMNS + ["REASON", "MISSING"]]
    return Endpoints(table, daily, tuple(log))


def check_parameters(trial: Trial, sap: Sap) -> None:
    """Every parameter the SAP reads must be in the data (or derivable from it)."""
    present = set(trial.visits["PARAMCD"].unique())
    derivable = {"PF": {"PAO2"}, "SF": {"SPO2"}, "BERLIN": {"PAO2"}, "WHOCPS": {"OXYDEV"}}
    for endpoint in sap.endpoints:
        for param in endpoint.params:
            if param in present or derivable.get(param, set()) & present:
                continue
            read = ", ".join(f for t, f in trial.files.items() if t not in ("adsl", "adae", "ex"))
            raise SapError(f"endpoint[{endpoint.id}]", f"reads parameter {param}, which the "
                           f"data lack (they have: {', '.join(sorted(present)) or 'nothing'}; "
                           f"efficacy tables read: {read or 'none'}).",
                           "correct the PARAMCD in the SAP, map the sponsor's code in "
                           "[data.params], or add the parameter to the data.", file=sap.source)


def _with_arm(frame: pd.DataFrame, adsl: pd.DataFrame, endpoint_id: str) -> pd.DataFrame:
    frame = frame.merge(adsl[["USUBJID", "ARM"]], on="USUBJID", how="left")
    frame["ENDPOINT"] = endpoint_id
    for column in ENDPOINT_COLUMNS:
        if column not in frame:
            frame[column] = np.nan
    # one dtype per column whatever the endpoint, so concatenating all-missing
    # endpoints neither warns nor changes the table's dtypes
    numeric = ["DAY", "AVAL", "BASE", "CHG", "CNSR", "EVNTCD"]
    frame[numeric] = frame[numeric].astype(float)
    for column in ("REASON", "MISSING", "ICE"):
        frame[column] = frame.get(column, pd.Series("", index=frame.index)).fillna("")
    missing = (frame["REASON"] != "") & (frame["MISSING"] == "")
    frame.loc[missing, "MISSING"] = frame.loc[missing, "REASON"].map(_category)
    return frame


def _category(reason: str) -> str:
    """The missingness category of a reason the derivers wrote."""
    for start, category in (("died", "died"), ("discharged", "discharged"),
                            ("lost", "lost to follow-up"), ("no baseline", "no baseline"),
                            ("no value", "no value in the window")):
        if reason.startswith(start):
            return category
    return "not log-transformable" if "log" in reason else "other"


def _missing_log(frame: pd.DataFrame, endpoint: Endpoint) -> list[dict]:
    """One entry per visit day (endpoints measured at a day) and reason; n counts
    subjects, each of whom has one row per day."""
    missing = frame[frame["REASON"] != ""]
    by_day = endpoint.kind in ("change", "value", "ordinal")
    visit = (missing["DAY"] if endpoint.repeated else endpoint.day) if by_day else 0
    out = []
    for (day, reason), rows in missing.assign(_VISIT=visit).groupby(["_VISIT", "REASON"]):
        subjects = sorted(rows["USUBJID"].unique())
        entry = {"endpoint": endpoint.id,
                 "message": f"missing at day {int(day)}: {reason}" if by_day else
                            f"missing: {reason}",
                 "n": len(subjects), "subjects": subjects[:MAX_LISTED]}
        if by_day:
            entry["day"] = int(day)
        out.append(entry)
    return out


def _subjects(ctx: EventContext) -> pd.DataFrame:
    return ctx.trial.adsl[["USUBJID", "DTHDY", "DSCHDY", "LSTALVDY"]].reset_index(drop=True)


# --------------------------------------------------------------------------
# change, value, ordinal: a value at a day (derive/grid.py's rules)
# --------------------------------------------------------------------------

def _why_no_value(subjects: pd.DataFrame, day: int, window: int) -> np.ndarray:
    hi = day + window
    reason = pd.Series(f"no value in the day {day} window ({max(2, day - window)}-{hi})",
                       index=subjects.index)
    reason[subjects["LSTALVDY"] < day - window] = "lost to follow-up before the window"
    reason[subjects["DSCHDY"] <= hi] = "discharged before or in the window"
    reason[subjects["DTHDY"] <= hi] = "died before or in the window"
    return reason.to_numpy(dtype=object)


def _measure_day(endpoint: Endpoint, ctx: EventContext, subjects: pd.DataFrame,
                 day: int) -> pd.DataFrame:
    """One visit day's rows: the grid's measure with the reason each missing value has."""
    m = ctx.grid.measure_at(endpoint, day)
    reason = np.where(np.isnan(m.found), _why_no_value(subjects, day, endpoint.window), "")
    missing = np.full(len(reason), "", dtype=object)
    changed = np.isin(m.strategy, WHILE) | (m.strategy == "hypothetical")
    unset = changed & np.isnan(m.raw_aval)          # a strategy left no value
    strategy_reason, category = reasons_of(m.event, m.strategy, day)
    reason = np.where(unset, strategy_reason, np.where(changed, "", reason)).astype(object)
    missing = np.where(unset, category, missing).astype(object)
    found_day = m.found_day
    if m.last_day is not None and not endpoint.repeated:
        found_day = np.where(np.isin(m.strategy, WHILE), m.last_day, found_day)
    if endpoint.transform == "log":
        for column, raw in (("AVAL", m.raw_aval), ("BASE", m.raw_base)):
            with np.errstate(invalid="ignore"):
                bad = (raw <= 0) & (reason == "")
            reason = np.where(bad, f"{column} <= 0 cannot be log-transformed (set below_lloq "
                                   "to 'half' or 'lloq')", reason).astype(object)
    if endpoint.kind == "change":
        reason = np.where(np.isnan(m.base) & (reason == ""), "no baseline value (ADY <= 1)",
                          reason).astype(object)
    scored = np.isin(m.strategy, COMPOSITES)
    reason, missing = np.where(scored, "", reason), np.where(scored, "", missing)
    # repeated endpoints keep the nominal day so that MMRM visits line up
    day_column = np.full(len(reason), float(day)) if endpoint.repeated else \
        np.where(np.isnan(found_day) | scored, float(day), found_day)
    return pd.DataFrame({"USUBJID": subjects["USUBJID"].to_numpy(), "DAY": day_column,
                         "AVAL": m.aval, "REASON": reason, "MISSING": missing, "ICE": m.ice,
                         "BASE": m.base, "CHG": m.chg})


def _derive_measure(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    subjects = _subjects(ctx)
    return concat_rows([_measure_day(endpoint, ctx, subjects, day)
                        for day in endpoint.days or (endpoint.day,)])


def _derive_ordinal(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """Value at day; dead on or before day = 10; discharged without a value = 2."""
    subjects = _subjects(ctx)
    aval, day = ctx.grid.ordinal(endpoint)
    reason = np.where(np.isnan(aval), _why_no_value(subjects, endpoint.day, endpoint.window), "")
    return pd.DataFrame({"USUBJID": subjects["USUBJID"].to_numpy(), "DAY": day, "AVAL": aval,
                         "REASON": reason})


# --------------------------------------------------------------------------
# time to event and binary
# --------------------------------------------------------------------------

def _derive_time_to_event(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    subjects = _subjects(ctx)
    aval, evntcd = time_to_event_values(endpoint, *ctx.grid.event_timing(endpoint),
                                        subjects["DTHDY"].to_numpy(dtype=float))
    return pd.DataFrame({"USUBJID": subjects["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "CNSR": np.where(evntcd == 1, 0, 1), "EVNTCD": evntcd, "REASON": ""})


def _derive_binary(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """rules.binary_values, with the reason a value is missing."""
    subjects = _subjects(ctx)
    aval = binary_values(endpoint, *ctx.grid.event_timing(endpoint))
    # missing only where the subject was lost and the SAP excludes the missing
    reason = np.where(np.isnan(aval), f"lost to follow-up before day {endpoint.horizon} "
                      "without the event", "")
    return pd.DataFrame({"USUBJID": subjects["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "REASON": reason})


# --------------------------------------------------------------------------
# free days
# --------------------------------------------------------------------------

def _derive_free_days(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """grid.free_days, with the reason a value is missing (lost before H)."""
    subjects = _subjects(ctx)
    aval = ctx.grid.free_days(endpoint.horizon)
    reason = np.where(np.isnan(aval), f"lost to follow-up before day {endpoint.horizon}", "")
    return pd.DataFrame({"USUBJID": subjects["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "REASON": reason})
