"""A repeated endpoint's values at each of its visit days on the daily grid.

derive.endpoints gives a repeated endpoint (``days = [...]``) one row per subject
and visit day, each day's value found by the same rules as the endpoint's own day
(window, intercurrent strategies at that day, log transform). Here each visit day
is the endpoint at that day, derived by GridDerivation.endpoint, so the rules stay
written once; the result is (N, len(days)) arrays in the order of ``days``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..plan import Endpoint
from .grid import GridDerivation, GridEndpoint

__all__ = ["GridVisits", "GridRepeated", "visit_values", "endpoint_values", "visit_rows"]


@dataclass(frozen=True)
class GridVisits:
    """A repeated endpoint on the grid: days (D,) the nominal visit days; aval and
    chg (N, D), NaN where missing; base (N,) the baseline."""
    days: tuple[int, ...]
    aval: np.ndarray
    base: np.ndarray
    chg: np.ndarray


def visit_values(derivation: GridDerivation, endpoint: Endpoint) -> GridVisits:
    """The endpoint at each of its visit days (its own day when it is not repeated)."""
    days = tuple(endpoint.days or (endpoint.day,))
    at = [derivation.endpoint(replace(endpoint, day=day)) for day in days]
    return GridVisits(days, np.column_stack([v.aval for v in at]), at[0].base,
                      np.column_stack([v.chg for v in at]))


@dataclass(frozen=True)
class GridRepeated(GridEndpoint):
    """A repeated endpoint: the GridEndpoint at its day, and its values at every visit day."""
    visits: GridVisits = None


def endpoint_values(derivation: GridDerivation, endpoint: Endpoint) -> GridEndpoint:
    """derivation.endpoint, with the visit days' values when the endpoint is repeated."""
    values = derivation.endpoint(endpoint)
    if not endpoint.repeated:
        return values
    return GridRepeated(values.aval, values.base, values.chg, values.cnsr, values.evntcd,
                        visits=visit_values(derivation, endpoint))


def visit_rows(data, visits: GridVisits, rows: np.ndarray):
    """A runner's rows of a repeated endpoint: each subject's row of ``data`` (the
    subjects ``rows`` of the grid, in order) once per visit day, with that day's DAY,
    AVAL and CHG, as derive.endpoints gives them (DAY the nominal visit day)."""
    days = len(visits.days)
    out = data.loc[data.index.repeat(days)].reset_index(drop=True)
    out["DAY"] = np.tile(np.asarray(visits.days, dtype=float), len(data))
    out["AVAL"] = visits.aval[rows].ravel()
    out["CHG"] = visits.chg[rows].ravel()
    return out
