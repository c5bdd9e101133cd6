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

__all__ = ["applying_event", "apply_strategies", "composite_scores"]

_VERB = {"death": "died", "discharge": "discharged"}


def applying_event(subjects: pd.DataFrame, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(event name or "", its day) per subject at visit day ``day``."""
    died = (subjects["DTHDY"] <= day).to_numpy()
    discharged = (subjects["DSCHDY"] <= day).to_numpy() & ~died
    event = np.where(died, "death", np.where(discharged, "discharge", ""))
    event_day = np.where(died, subjects["DTHDY"], np.where(discharged, subjects["DSCHDY"],
                                                            np.nan)).astype(float)
    return event, event_day


def apply_strategies(frame: pd.DataFrame, subjects: pd.DataFrame, endpoint, day: int,
                     values: pd.DataFrame, repeated: bool) -> pd.DataFrame:
    """One visit day's rows (USUBJID, DAY, AVAL, REASON, MISSING, aligned with
    ``subjects``) after the strategies; ``values``: the parameter's daily values."""
    frame = frame.copy()
    event, event_day = applying_event(subjects, day)
    strategy = np.array([endpoint.strategy(e) if e else "" for e in event], dtype=object)
    frame["ICE"] = np.where(event != "", np.char.add(np.char.add(event.astype(str), ":"),
                                                     strategy.astype(str)), "")
    while_rows = np.isin(strategy, ("while_alive", "while_hospitalized"))
    if while_rows.any():
        last = _last_value(values, frame["USUBJID"], event_day)
        frame.loc[while_rows, "AVAL"] = last["AVAL"].to_numpy()[while_rows]
        if not repeated:
            frame.loc[while_rows, "DAY"] = last["ADY"].to_numpy()[while_rows]
        none = while_rows & frame["AVAL"].isna().to_numpy()
        frame.loc[while_rows, ["REASON", "MISSING"]] = ["", ""]
        for i in np.flatnonzero(none):
            frame.iloc[i, frame.columns.get_loc("REASON")] = (
                f"{_VERB[event[i]]} by day {day} without a value from day 2 to that event "
                f"({strategy[i]})")
            frame.iloc[i, frame.columns.get_loc("MISSING")] = _VERB[event[i]]
    hypothetical = strategy == "hypothetical"
    for i in np.flatnonzero(hypothetical):
        frame.iloc[i, frame.columns.get_loc("AVAL")] = np.nan
        frame.iloc[i, frame.columns.get_loc("REASON")] = (
            f"{_VERB[event[i]]} by day {day} (hypothetical: missing at random)")
        frame.iloc[i, frame.columns.get_loc("MISSING")] = _VERB[event[i]]
    frame["_EVENT_DAY"] = event_day
    return frame


def _last_value(values: pd.DataFrame, subjects: pd.Series, event_day: np.ndarray) -> pd.DataFrame:
    """The last non-missing value on days 2..event day, per subject (NaN when none)."""
    limit = pd.DataFrame({"USUBJID": subjects.to_numpy(), "_T": event_day})
    rows = values[values["AVAL"].notna() & (values["ADY"] >= 2)][["USUBJID", "ADY", "AVAL"]]
    rows = rows.merge(limit, on="USUBJID")
    rows = rows[rows["ADY"] <= rows["_T"]].sort_values(["USUBJID", "ADY"], kind="mergesort")
    last = rows.drop_duplicates("USUBJID", keep="last").set_index("USUBJID")
    return last.reindex(subjects.to_numpy())[["ADY", "AVAL"]].astype(float)


def composite_scores(frame: pd.DataFrame, column: str, day: float) -> pd.DataFrame:
    """Worst-rank scores (Lachin 1999) of one visit day's rows, in AVAL and CHG.

    Observed subjects keep their value in ``column``; composite_worst subjects
    score below all of them, lo - 1 - (day - event day), so that an earlier
    event is worse and one day ties; composite_best subjects score above all,
    hi + 1 + (day - event day), an earlier event better. A subject without a
    baseline still gets the score.
    """
    frame = frame.copy()
    strategy = frame["ICE"].str.split(":").str[1].fillna("")
    worst, best = (strategy == "composite_worst").to_numpy(), (strategy == "composite_best").to_numpy()
    if not (worst | best).any():
        return frame
    observed = frame.loc[~(worst | best), column].dropna()
    lo = float(observed.min()) if len(observed) else 0.0
    hi = float(observed.max()) if len(observed) else 0.0
    before = day - frame["_EVENT_DAY"].to_numpy(dtype=float)
    score = np.where(worst, lo - 1.0 - before, hi + 1.0 + before)
    scored = worst | best
    frame.loc[scored, "AVAL"] = score[scored]
    frame.loc[scored, "CHG"] = score[scored]
    frame.loc[scored, ["REASON", "MISSING"]] = ["", ""]
    if "DAY" in frame:
        frame.loc[scored, "DAY"] = day
    return frame
