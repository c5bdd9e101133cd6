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

from .. import schema
from .daily import DailyValues, concat_rows, daily_values, worst_direction
from .rules import binary_values, event_timing, time_to_event_values
from ..errors import SapError
from ..specs import KINDS, resolve
from .events import EventContext, baseline, first_event_day, last_assessment_day
from ..plan import Endpoint, Sap
from ..trial.quality import Trial
from .strategies import apply_strategies, composite_scores

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
    ctx = EventContext(trial, daily)
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
# change, value, ordinal: a value at a day
# --------------------------------------------------------------------------

def _visit_value(ctx: EventContext, param: str, day: int, window: int) -> pd.DataFrame:
    """Value in [day - window, day + window] (post-baseline days only): nearest day
    wins, the earlier on a tie. Returns USUBJID, DAY, AVAL for subjects with one."""
    values = ctx.daily.param(param)
    lo = max(2, day - window)
    values = values[(values["ADY"] >= lo) & (values["ADY"] <= day + window) &
                    values["AVAL"].notna()]
    ranked = values.assign(_dist=(values["ADY"] - day).abs())
    ranked = ranked.sort_values(["USUBJID", "_dist", "ADY"], kind="mergesort")
    first = ranked.drop_duplicates("USUBJID")
    return first.rename(columns={"ADY": "DAY"})[["USUBJID", "DAY", "AVAL"]]


def _why_no_value(subjects: pd.DataFrame, day: int, window: int) -> pd.Series:
    hi = day + window
    reason = pd.Series(f"no value in the day {day} window ({max(2, day - window)}-{hi})",
                       index=subjects.index)
    reason[subjects["LSTALVDY"] < day - window] = "lost to follow-up before the window"
    reason[subjects["DSCHDY"] <= hi] = "discharged before or in the window"
    reason[subjects["DTHDY"] <= hi] = "died before or in the window"
    return reason


def _measure_day(endpoint: Endpoint, ctx: EventContext, subjects: pd.DataFrame,
                 base: pd.Series, day: int) -> pd.DataFrame:
    """One visit day's rows: the value in the window, then the intercurrent strategies."""
    found = _visit_value(ctx, endpoint.param, day, endpoint.window)
    frame = subjects[["USUBJID"]].merge(found, on="USUBJID", how="left")
    frame["REASON"] = np.where(frame["AVAL"].isna(),
                               _why_no_value(subjects, day, endpoint.window), "")
    frame["MISSING"] = ""
    # astype: an empty merge leaves DAY as object, and fillna would downcast it
    frame["DAY"] = frame["DAY"].astype(float)
    frame = apply_strategies(frame, subjects, endpoint, day, ctx.daily.param(endpoint.param),
                             endpoint.repeated)
    frame["BASE"] = base.to_numpy()
    # repeated endpoints keep the nominal day so that MMRM visits line up
    frame["DAY"] = float(day) if endpoint.repeated else frame["DAY"].fillna(day)
    return frame


def _derive_measure(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    subjects = _subjects(ctx)
    base = subjects["USUBJID"].map(baseline(ctx.daily, endpoint.param))
    column = KINDS[endpoint.kind].response
    frames = []
    for day in endpoint.days or (endpoint.day,):
        frame = _measure_day(endpoint, ctx, subjects, base, day)
        if endpoint.transform == "log":
            frame = _log_scale(frame)
        frame.loc[frame["BASE"].isna() & (frame["REASON"] == "") & (endpoint.kind == "change"),
                  "REASON"] = "no baseline value (ADY <= 1)"
        frame["CHG"] = frame["AVAL"] - frame["BASE"]
        frames.append(composite_scores(frame, column, float(day),
                                       worst_direction(endpoint.param) == "min"))
    return concat_rows(frames).drop(columns="_EVENT_DAY")


def _log_scale(frame: pd.DataFrame) -> pd.DataFrame:
    """Natural logs; a value <= 0 cannot be logged and is made missing, with a reason."""
    frame = frame.copy()
    for column in ("AVAL", "BASE"):
        bad = frame[column] <= 0
        frame.loc[bad & (frame["REASON"] == ""), "REASON"] = \
            f"{column} <= 0 cannot be log-transformed (set below_lloq to 'half' or 'lloq')"
        with np.errstate(divide="ignore", invalid="ignore"):
            frame[column] = np.log(frame[column].where(~bad))
    return frame


def _derive_ordinal(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """Value at day; dead on or before day = 10; discharged without a value = 2."""
    subjects = _subjects(ctx)
    found = _visit_value(ctx, endpoint.param, endpoint.day, endpoint.window)
    frame = subjects.merge(found, on="USUBJID", how="left")
    discharged = frame["AVAL"].isna() & (frame["DSCHDY"] <= endpoint.day)
    frame.loc[discharged, "AVAL"] = schema.WHO_DISCHARGED
    dead = frame["DTHDY"] <= endpoint.day
    frame.loc[dead, "AVAL"] = schema.WHO_DEAD
    frame["DAY"] = frame["DAY"].where(~(dead | discharged), endpoint.day).fillna(endpoint.day)
    frame["REASON"] = np.where(frame["AVAL"].isna(),
                               _why_no_value(subjects, endpoint.day, endpoint.window), "")
    return frame[["USUBJID", "DAY", "AVAL", "REASON"]]


# --------------------------------------------------------------------------
# time to event and binary
# --------------------------------------------------------------------------

def _event_timing(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """Per subject: first event day (<= horizon), death day, follow-up end."""
    subjects = _subjects(ctx)
    event_day = first_event_day(endpoint.event, ctx, endpoint.horizon).to_numpy()
    params = endpoint.params
    last = subjects["USUBJID"].map(last_assessment_day(ctx.daily, params)) if params else \
        pd.Series(np.nan, index=subjects.index)
    follow_up, died_first = event_timing(event_day, last.to_numpy(dtype=float),
                                         subjects["LSTALVDY"].to_numpy(dtype=float),
                                         subjects["DTHDY"].to_numpy(dtype=float),
                                         endpoint.horizon)
    return subjects.assign(EVENT_DAY=event_day, FOLLOW_UP=follow_up, DIED_FIRST=died_first)


def _derive_time_to_event(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    t = _event_timing(endpoint, ctx)
    aval, evntcd = time_to_event_values(endpoint, t["EVENT_DAY"].to_numpy(),
                                        t["FOLLOW_UP"].to_numpy(), t["DIED_FIRST"].to_numpy(),
                                        t["DTHDY"].to_numpy(dtype=float))
    return pd.DataFrame({"USUBJID": t["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "CNSR": np.where(evntcd == 1, 0, 1), "EVNTCD": evntcd, "REASON": ""})


def _derive_binary(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """endpoint_rules.binary_values, with the reason a value is missing."""
    t = _event_timing(endpoint, ctx)
    aval = binary_values(endpoint, t["EVENT_DAY"].to_numpy(), t["FOLLOW_UP"].to_numpy(),
                         t["DIED_FIRST"].to_numpy())
    # missing only where the subject was lost and the SAP excludes the missing
    reason = np.where(np.isnan(aval), f"lost to follow-up before day {endpoint.horizon} "
                      "without the event", "")
    return pd.DataFrame({"USUBJID": t["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "REASON": reason})


# --------------------------------------------------------------------------
# free days
# --------------------------------------------------------------------------

def _derive_free_days(endpoint: Endpoint, ctx: EventContext) -> pd.DataFrame:
    """H minus days on IMV or ECMO in 1..H (last support carried forward, days
    from discharge free); 0 when dead on or before H; missing when lost before H."""
    horizon = endpoint.horizon
    subjects = _subjects(ctx)
    grid = pd.DataFrame({"USUBJID": np.repeat(subjects["USUBJID"].to_numpy(), horizon),
                         "ADY": np.tile(np.arange(1, horizon + 1), len(subjects))})
    support = ctx.daily.param("OXYDEV")[["USUBJID", "ADY", "AVAL"]]
    grid = grid.merge(support, on=["USUBJID", "ADY"], how="left")
    # carry forward; days before the first record take the first record
    grid["AVAL"] = grid.groupby("USUBJID")["AVAL"].ffill()
    grid["AVAL"] = grid.groupby("USUBJID")["AVAL"].bfill()
    discharge = grid["USUBJID"].map(subjects.set_index("USUBJID")["DSCHDY"])
    ventilated = (grid["AVAL"] >= schema.OXYDEV_RANK["IMV"]) & ~(grid["ADY"] >= discharge)
    days_on = ventilated.groupby(grid["USUBJID"]).sum().reindex(subjects["USUBJID"]).to_numpy()
    dead = (subjects["DTHDY"] <= horizon).to_numpy()
    lost = ~dead & ~(subjects["DSCHDY"] <= horizon).to_numpy() & \
        (subjects["LSTALVDY"] < horizon).to_numpy()
    aval = np.where(dead, 0.0, horizon - days_on)
    aval[lost] = np.nan
    reason = np.where(lost, f"lost to follow-up before day {horizon}", "")
    return pd.DataFrame({"USUBJID": subjects["USUBJID"], "DAY": np.nan, "AVAL": aval,
                         "REASON": reason})
