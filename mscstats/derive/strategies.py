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
  grid.GridDerivation once the analysed value (CHG or AVAL) is known.

``ICE`` names the event and strategy applied to a row ("death:composite_worst"),
empty when no event applies.
"""

from __future__ import annotations

import numpy as np

__all__ = ["applying_event", "strategies_at", "strategy_values", "reasons_of", "WHILE",
           "COMPOSITES"]

_VERB = {"death": "died", "discharge": "discharged"}
WHILE = ("while_alive", "while_hospitalized")
COMPOSITES = ("composite_worst", "composite_best")


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


def reasons_of(event: np.ndarray, strategy: np.ndarray, day: int):
    """(reason, missingness category) a strategy gives a value it leaves missing."""
    reason = np.full(len(event), "", dtype=object)
    category = np.full(len(event), "", dtype=object)
    for name, verb in _VERB.items():
        mine = event == name
        category[mine] = verb
        reason[mine & (strategy == "hypothetical")] = \
            f"{verb} by day {day} (hypothetical: missing at random)"
        for rule in WHILE:
            reason[mine & (strategy == rule)] = \
                f"{verb} by day {day} without a value from day 2 to that event ({rule})"
    return reason, category
