"""Intercurrent-event strategies applied to the visit values of change and value
endpoints (DESIGN.md section 9).

At a visit day d an event applies when it happened on or before d (DTHDY or
DSCHDY <= d); when both have, death decides (a subject dead by d is dead at d,
whatever happened before). Then the endpoint's strategy decides, whether or not
a value lies in the window:

- treatment_policy: the value in the window as it is (none: missing);
- while_alive / while_hospitalized: the last value on days 2..event day;
- hypothetical: missing (missing at random; the analysis handles it);
- composite_worst / composite_best: a worst-rank score, set by
  :func:`composite_scores` once the analysed value (CHG or AVAL) is known.

``ICE`` names the event and strategy applied to a row ("death:composite_worst"),
empty when no event applies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["applying_event", "strategies_at", "strategy_values", "apply_strategies",
           "composite_scores"]

_VERB = {"death": "died", "discharge": "discharged"}
WHILE = ("while_alive", "while_hospitalized")
COMPOSITES = ("composite_worst", "composite_best")


# ------------------------------------------------------------------ on arrays (both derivations)

def applying_event(death, discharge, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(event name or "", its day) per subject at visit day ``day``; death first."""
    death, discharge = np.asarray(death, dtype=float), np.asarray(discharge, dtype=float)
    died = death <= day
    discharged = (discharge <= day) & ~died
    event = np.where(died, "death", np.where(discharged, "discharge", ""))
    return event, np.where(died, death, np.where(discharged, discharge, np.nan))


def strategies_at(endpoint, event: np.ndarray) -> np.ndarray:
    """The endpoint's strategy for each subject's applying event ("" where none applies)."""
    out = np.full(len(event), "", dtype=object)
    for name in _VERB:
        out[event == name] = endpoint.strategy(name)
    return out


def strategy_values(aval: np.ndarray, last_value: np.ndarray | None,
                    strategy: np.ndarray) -> np.ndarray:
    """The analysed value before composite scoring: the last value while alive/in hospital,
    missing under hypothetical, the window's value otherwise."""
    out = np.asarray(aval, dtype=float).copy()
    while_rows = np.isin(strategy, WHILE)
    if while_rows.any():
        out[while_rows] = np.asarray(last_value, dtype=float)[while_rows]
    out[strategy == "hypothetical"] = np.nan
    return out


# ------------------------------------------------------------------ on the visit table

def apply_strategies(frame: pd.DataFrame, subjects: pd.DataFrame, endpoint, day: int,
                     values: pd.DataFrame, repeated: bool) -> pd.DataFrame:
    """One visit day's rows (USUBJID, DAY, AVAL, REASON, MISSING, aligned with
    ``subjects``) after the strategies; ``values``: the parameter's daily values."""
    frame = frame.copy()
    event, event_day = applying_event(subjects["DTHDY"], subjects["DSCHDY"], day)
    strategy = strategies_at(endpoint, event)
    frame["ICE"] = [f"{e}:{s}" if e else "" for e, s in zip(event, strategy)]
    while_rows = np.isin(strategy, WHILE)
    last = _last_value(values, frame["USUBJID"], event_day) if while_rows.any() else None
    frame["AVAL"] = strategy_values(frame["AVAL"].to_numpy(dtype=float),
                                    None if last is None else last["AVAL"].to_numpy(), strategy)
    if while_rows.any() and not repeated:
        frame.loc[while_rows, "DAY"] = last["ADY"].to_numpy()[while_rows]
    changed = while_rows | (strategy == "hypothetical")
    reasons = [_reason(e, s, day) for e, s in zip(event, strategy)]
    missing = changed & np.isnan(frame["AVAL"].to_numpy(dtype=float))
    frame["REASON"] = np.where(missing, reasons, np.where(changed, "", frame["REASON"]))
    frame["MISSING"] = np.where(missing, [_VERB.get(e, "") for e in event],
                                np.where(changed, "", frame["MISSING"]))
    frame["_EVENT_DAY"] = event_day
    return frame


def _reason(event: str, strategy: str, day: int) -> str:
    if strategy == "hypothetical":
        return f"{_VERB[event]} by day {day} (hypothetical: missing at random)"
    if strategy in WHILE:
        return (f"{_VERB[event]} by day {day} without a value from day 2 to that event "
                f"({strategy})")
    return ""


def _last_value(values: pd.DataFrame, subjects: pd.Series, event_day: np.ndarray) -> pd.DataFrame:
    """The last non-missing value on days 2..event day, per subject (NaN when none)."""
    limit = pd.DataFrame({"USUBJID": subjects.to_numpy(), "_T": event_day})
    rows = values[values["AVAL"].notna() & (values["ADY"] >= 2)][["USUBJID", "ADY", "AVAL"]]
    rows = rows.merge(limit, on="USUBJID")
    rows = rows[rows["ADY"] <= rows["_T"]].sort_values(["USUBJID", "ADY"], kind="mergesort")
    last = rows.drop_duplicates("USUBJID", keep="last").set_index("USUBJID")
    return last.reindex(subjects.to_numpy())[["ADY", "AVAL"]].astype(float)


def composite_scores(frame: pd.DataFrame, column: str, day: float,
                     higher_is_better: bool = True) -> pd.DataFrame:
    """Worst-rank scores (Lachin 1999) of one visit day's rows, in AVAL and CHG.

    Observed subjects keep their value in ``column``. With higher values better
    (P/F, SpO2), composite_worst subjects score below all of them, lo - 1 -
    (day - event day), so that an earlier event is worse and one day ties;
    composite_best subjects above all, hi + 1 + (day - event day), an earlier
    event better. Where lower values are better (RR, WHO scale, cytokines) the
    two sides swap: worst above all, best below. A subject without a baseline
    still gets the score.
    """
    frame = frame.copy()
    strategy = frame["ICE"].str.split(":").str[1].fillna("")
    worst, best = (strategy == "composite_worst").to_numpy(), (strategy == "composite_best").to_numpy()
    scored = worst | best
    if not scored.any():
        return frame
    observed = frame.loc[~scored, column].dropna()
    lo = float(observed.min()) if len(observed) else 0.0
    hi = float(observed.max()) if len(observed) else 0.0
    before = day - frame["_EVENT_DAY"].to_numpy(dtype=float)
    below, above = lo - 1.0 - before, hi + 1.0 + before
    score = np.where(worst == higher_is_better, below, above)
    frame.loc[scored, "AVAL"] = score[scored]
    frame.loc[scored, "CHG"] = score[scored]
    frame.loc[scored, ["REASON", "MISSING"]] = ["", ""]
    if "DAY" in frame:
        frame.loc[scored, "DAY"] = day
    return frame
