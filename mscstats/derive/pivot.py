"""A real trial's daily values as the subject x day grid (DESIGN.md 7).

daily.py reduces the visit records to one value per subject, day and parameter
(pairing P/F and S/F by time, imputing FiO2, scoring WHO); pivoted here to a
DailyGrid, they are derived by the same array functions as a simulated trial
(derive/grid.py). The grid's days are every day with a record, a death, a
discharge or the start of an adverse event a condition names, so that every
day on which a rule can change value is a column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..plan import Sap
from ..trial.quality import Trial
from .daily import DailyValues
from .events import first_ae_day
from .grid import DailyGrid

__all__ = ["trial_grid"]


def trial_grid(trial: Trial, daily: DailyValues, sap: Sap) -> DailyGrid:
    """The trial's daily values as a final DailyGrid, subjects in adsl order."""
    adsl = trial.adsl
    subjects = pd.Index(adsl["USUBJID"])
    kinds = sorted({c.ae for e in sap.endpoints if e.event for c in e.event.leaves() if c.ae})
    ae_start = {kind: first_ae_day(trial, kind).reindex(subjects).to_numpy(dtype=float)
                for kind in kinds}
    status = {c: adsl[c].to_numpy(dtype=float) for c in ("DTHDY", "DSCHDY", "LSTALVDY")}
    frames = {code: frame for code, frame in daily.frames.items() if code != "BERLIN"}
    days = np.concatenate([np.array([1.0])]
                          + [f["ADY"].to_numpy(dtype=float) for f in frames.values()]
                          + [status["DTHDY"], status["DSCHDY"], *ae_start.values()])
    days = np.unique(days[~np.isnan(days)]).astype(int)
    values = {}
    for code, frame in frames.items():
        row = subjects.get_indexer(frame["USUBJID"])
        column = np.searchsorted(days, frame["ADY"].to_numpy(dtype=float))
        kept = row >= 0
        grid = np.full((len(subjects), len(days)), np.nan)
        grid[row[kept], column[kept]] = frame["AVAL"].to_numpy(dtype=float)[kept]
        values[code] = grid
    arm = pd.Index(sap.study.arms).get_indexer(adsl["ARM"])
    return DailyGrid(days, values, {}, {}, arm, len(subjects), status, ae_start, final=True)
