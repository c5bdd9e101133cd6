"""Per-subject rules of time-to-event and binary endpoints (DESIGN.md 4), on arrays.

grid.py finds each subject's first event day, last assessment and death day on
the subject x day grid; what follows from those three is one set of rules, kept
here with the formulas of the daily parameters that daily.py (on records) and
grid.py (on a simulated grid) both apply. numpy only: simulation workers import it.
"""

from __future__ import annotations

import operator

import numpy as np

from .. import schema
from ..plan import Endpoint

__all__ = ["INFUSION_WINDOW_MINUTES", "worst_direction", "imputed_fio2", "who_from_support",
           "COMPARE", "event_timing", "time_to_event_values", "binary_values"]

# an AE starting this long after a dose (or on its day, without clock times) is
# infusion-associated
INFUSION_WINDOW_MINUTES = 6 * 60


def worst_direction(code: str) -> str:
    """'min' when a lower value is worse (PaO2, SpO2, P/F), else 'max'.

    Parameters the schema does not know (CRP, ferritin, D-dimer...) take 'max':
    for most inflammatory markers higher is worse.
    """
    param = schema.find_param(code)
    return param.worst if param is not None else "max"


def imputed_fio2(support, flow, from_flow: bool) -> tuple[np.ndarray, np.ndarray]:
    """(FiO2, flag) for a subject-day without a recorded FiO2, from the day's oxygen
    support (its rank) and flow: 0.21 on room air; with ``from_flow`` (the SAP's
    fio2_from_flow) 0.21 + 0.04 x L/min on a nasal cannula; NaN and "" otherwise."""
    support, flow = np.asarray(support, dtype=float), np.asarray(flow, dtype=float)
    room_air = support == schema.OXYDEV_RANK["RA"]
    value = np.where(room_air, schema.FIO2_ROOM_AIR, np.nan)
    flag = np.where(room_air, "imputed:room_air", "").astype(object)
    if from_flow:
        cannula = (support == schema.OXYDEV_RANK["NC"]) & ~np.isnan(flow)
        value = np.where(cannula, schema.FIO2_ROOM_AIR + schema.FIO2_PER_LITRE * flow, value)
        flag = np.where(cannula, "imputed:nasal_cannula_flow", flag).astype(object)
    return value, flag


_WHO_BY_RANK = np.array([schema.WHO_FROM_OXYDEV[c] for c in schema.OXYDEV_CODES], dtype=float)


def who_from_support(support) -> np.ndarray:
    """The WHO scale a day's oxygen support implies (schema.WHO_FROM_OXYDEV); NaN
    without a support record."""
    support = np.asarray(support, dtype=float)
    known = ~np.isnan(support)
    out = np.full(support.shape, np.nan)
    out[known] = _WHO_BY_RANK[support[known].astype(int)]
    return out


# the `op` of a parameter condition (schema.CONDITION_OPS) as a comparison
COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
           "==": operator.eq, "!=": operator.ne}
assert tuple(COMPARE) == schema.CONDITION_OPS, "COMPARE must follow schema.CONDITION_OPS"


def event_timing(event_day, last_assessment, last_alive, death, horizon):
    """(follow-up end, died before any event within the horizon) per subject."""
    follow_up = np.fmax(last_assessment, last_alive)
    with np.errstate(invalid="ignore"):
        died_first = (death <= horizon) & ~(event_day <= death)
    return follow_up, died_first


def time_to_event_values(endpoint: Endpoint, event_day, follow_up, died_first, death):
    """(AVAL, EVNTCD): the event day, else the end of follow-up within the horizon;
    a death before the event follows the endpoint's death rule."""
    horizon = endpoint.horizon
    has_event = ~np.isnan(event_day)
    aval = np.where(has_event, event_day, np.minimum(horizon, follow_up))
    evntcd = np.where(has_event, 1, 0)
    died = died_first & ~has_event
    rule = endpoint.death
    if rule == "censor_at_horizon":     # the dead never improve and stay in the risk set
        aval = np.where(died, horizon, aval)
    elif rule == "competing":
        aval, evntcd = np.where(died, death, aval), np.where(died, 2, evntcd)
    elif rule == "event":
        aval, evntcd = np.where(died, death, aval), np.where(died, 1, evntcd)
    else:  # censor at death
        aval = np.where(died, death, aval)
    return np.maximum(aval, 1.0), evntcd  # day 1 counts as 1 even for those censored on day 1


def binary_values(endpoint: Endpoint, event_day, follow_up, died_first) -> np.ndarray:
    """AVAL: 1 for an event on or before the horizon; 0 without one when
    followed to the horizon or dead first (death is a failure unless death is itself
    the event); otherwise missing, unless missing = failure/success. Adverse-event
    endpoints count every subject as followed: AEs are reported over the whole study."""
    leaves = endpoint.event.leaves()
    event = ~np.isnan(event_day)
    observed = (event | died_first | (follow_up >= endpoint.horizon)
                | all(c.ae is not None for c in leaves))
    aval = np.where(event, 1.0, 0.0)
    if endpoint.missing == "exclude":
        return np.where(observed, aval, np.nan)
    # failure = what a death would score: 1 when the event is bad enough to include death
    failure = 1.0 if any(c.state == "dead" for c in leaves) else 0.0
    return np.where(observed, aval, failure if endpoint.missing == "failure" else 1.0 - failure)
