"""Missing data and estimands of a run, as data for results.json (DESIGN.md 9).

Computed once here; the report only lays them out.

- missingness: per analysis, arm, visit day and reason (died, discharged, no
  value in the window, lost to follow-up, and no baseline / not
  log-transformable where those apply), counting subjects of the analysis
  population; a repeated endpoint counts every day for mmrm and its target day
  for the other methods. Endpoints without a visit day (time to event, binary,
  free days) report the horizon as the day.
- warnings: an arm analysed with fewer than half its randomized subjects, or
  fewer than 3.
- estimands: the attributes of each [[estimand]] with the numbers randomized
  (ITT) and analysed per arm.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from ..intercurrent import endpoint_rules
from ..results import AnalysisResult, EstimandResult, MissingCount

__all__ = ["missingness", "n_analysed", "arm_warnings", "estimand_results", "MIN_ANALYSED"]

MIN_ANALYSED = 3


def missingness(rows: pd.DataFrame, arms: Sequence[str], endpoint,
                method: str) -> tuple[MissingCount, ...]:
    """The missing values of the endpoint rows of one analysis population."""
    rows = rows[rows["MISSING"] != ""]
    if endpoint.repeated and method != "mmrm":
        rows = rows[rows["DAY"] == endpoint.day]
    if rows.empty:
        return ()
    if endpoint.kind in ("change", "value", "ordinal"):
        day = rows["DAY"] if endpoint.repeated else endpoint.day   # the visit, not the day picked
    else:
        day = endpoint.horizon
    rows = rows.assign(_DAY=day)
    counts = rows.groupby(["ARM", "_DAY", "MISSING"])["USUBJID"].nunique()
    order = {arm: i for i, arm in enumerate(arms)}
    out = [MissingCount(str(arm), int(d), str(reason), int(n))
           for (arm, d, reason), n in counts.items()]
    return tuple(sorted(out, key=lambda r: (order.get(r.arm, len(order)), r.day, r.reason)))


def n_analysed(result: AnalysisResult) -> dict[str, int | None]:
    """Subjects analysed per arm as the runner reports them (mmrm: with any value)."""
    out = {}
    for arm, stats in (result.by_arm or {}).items():
        n = stats.get("n_subjects", stats.get("n"))
        out[arm] = int(n) if isinstance(n, (int, float)) else None
    return out


def arm_warnings(result: AnalysisResult, randomized: Mapping[str, int]) -> tuple[str, ...]:
    out = []
    for arm, n in n_analysed(result).items():
        total = randomized.get(arm, 0)
        if n is None or not total:
            continue
        if n < MIN_ANALYSED or 2 * n < total:
            why = f"fewer than {MIN_ANALYSED}" if n < MIN_ANALYSED else "fewer than half"
            out.append(f"{arm}: {n} of {total} randomized subjects analysed ({why}); the "
                       "estimate rests on few subjects and may be biased by who is missing")
    return tuple(out)


def estimand_results(sap, results: Sequence[AnalysisResult],
                     randomized: Mapping[str, int]) -> tuple[EstimandResult, ...]:
    by_id = {r.id: r for r in results}
    out = []
    for estimand in sap.estimands:
        analysis = next(a for a in sap.analyses if a.id == estimand.analysis)
        endpoint = sap.endpoint(analysis.endpoint)
        result = by_id[analysis.id]
        measure = result.comparisons[0].estimand if result.comparisons else None
        out.append(EstimandResult(
            id=estimand.id, analysis=analysis.id, population=sap.analysis_population(analysis),
            variable=endpoint.label or endpoint.id, intercurrent=endpoint_rules(endpoint),
            summary_measure=measure, sensitivity=estimand.sensitivity,
            n_randomized={arm: int(randomized.get(arm, 0)) for arm in sap.study.arms},
            n_analysed={arm: n_analysed(result).get(arm) for arm in sap.study.arms}))
    return tuple(out)
