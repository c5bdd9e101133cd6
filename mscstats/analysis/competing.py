"""Competing risks runners: ``cuminc`` (cumulative incidence, Gray's test) and
``finegray`` (subdistribution hazard ratio).

The numbers come from cuminc.py, gray.py and finegray.py, ports of cmprsk
2.2-11 checked against R (tests/reference/competing/competing.R).

Conventions (docs for the report's methods page):

* Rows: one per subject; AVAL is the time (days), EVNTCD the cause: 1 the
  event of interest, 2 the competing event (death), 0 censored. Without
  EVNTCD the cause is 1 - CNSR (no competing events; a note says so). Rows
  missing the time or the cause are left out and counted as ``n_missing``.
* ``cuminc``: the Aalen-Johansen cumulative incidence of the event per arm,
  with cuminc's variance, at the SAP's ``landmarks`` (default: the endpoint's
  horizon); a landmark after an arm's last follow-up time has no estimate, as
  cmprsk's timepoints gives NA. The CI is on the log(-log) scale. Gray's test
  (stratified by the ``strata`` columns) compares every arm at once.
* ``finegray``: crr with the arms (treatment coding, the reference arm first)
  and the SAP's ``covariates``; the subdistribution hazard ratio of every
  treated arm with a Wald CI and p; ``se`` is that of the log ratio.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from ..errors import AnalysisError
from ..results import AnalysisResult, Comparison, Curve, Test
from . import design
from .cores.common import NotEstimable, exp_or_inf, two_sided_normal_p, z_quantile
from .compare import analysis_rows, empty_comparison, make_result, require_arms
from .cores.cuminc import IncidenceCurve, at_landmarks, cumulative_incidence, loglog_interval
from .cores.finegray import fine_gray
from .cores.gray import gray_test

__all__ = ["run_cuminc", "run_finegray"]

_ESTIMAND = "subdistribution_hazard_ratio"


# ------------------------------------------------------------------ rows and causes

def _event_rows(inp, extra_columns=()) -> tuple[pd.DataFrame, dict[str, int], list[str]]:
    """Analysable rows with numeric TIME and CAUSE, missing rows counted by arm, notes."""
    rows = analysis_rows(inp)
    notes: list[str] = []
    time = pd.to_numeric(rows["AVAL"], errors="coerce")
    if "EVNTCD" in rows.columns and rows["EVNTCD"].notna().any():
        cause = pd.to_numeric(rows["EVNTCD"], errors="coerce")
    elif "CNSR" in rows.columns:
        cause = 1 - pd.to_numeric(rows["CNSR"], errors="coerce")
        notes.append("no EVNTCD: the cause is 1 - CNSR, so there are no competing events")
    else:
        raise AnalysisError(inp.id, "the endpoint data have neither EVNTCD nor CNSR",
                            "derive the endpoint as time_to_event with death = \"competing\"")
    missing = [c for c in extra_columns if c not in rows.columns]
    if missing:
        raise AnalysisError(inp.id, f"covariate or stratum column(s) {missing} are not in the data",
                            "use columns of adsl (AGE, SEX, BMI, STRATUM)")
    usable = time.notna() & cause.notna()
    incomplete = usable & rows[list(extra_columns)].isna().any(axis=1)
    if incomplete.any():
        notes.append(f"{int(incomplete.sum())} subject(s) with a missing covariate or stratum "
                     f"left out (as na.omit does in cmprsk)")
    n_missing = {arm: int((~usable & (rows["ARM"] == arm)).sum()) for arm in inp.arms}
    keep = usable & ~incomplete
    out = rows[keep].assign(TIME=time[keep].to_numpy(dtype=float),
                            CAUSE=cause[keep].to_numpy(dtype=float)).reset_index(drop=True)
    _check_causes(inp, out)
    return out, n_missing, notes


def _check_causes(inp, rows: pd.DataFrame) -> None:
    bad = sorted(set(rows["CAUSE"].tolist()) - {0.0, 1.0, 2.0})
    if bad:
        raise AnalysisError(inp.id, f"EVNTCD must be 0 (censored), 1 (event) or 2 (competing); "
                            f"found {bad}", "derive the endpoint with mscstats derive")
    if (rows["TIME"] < 0).any():
        raise AnalysisError(inp.id, "a time (AVAL) is negative", "times are study days, >= 0")


def _arm_counts(inp, rows, n_missing) -> dict[str, dict]:
    out = {}
    for arm in inp.arms:
        cause = rows.loc[rows["ARM"] == arm, "CAUSE"]
        out[arm] = {"n": len(cause), "events": int((cause == 1).sum()),
                    "competing": int((cause == 2).sum()), "censored": int((cause == 0).sum()),
                    "n_missing": n_missing[arm]}
    return out


# ------------------------------------------------------------------ cuminc

def _landmark_key(day: float) -> str:
    return str(int(day)) if float(day).is_integer() else repr(float(day))


def _curve(arm: str, c: IncidenceCurve, level: float) -> Curve:
    bounds = [loglog_interval(float(e), float(v), level) for e, v in zip(c.estimate, c.variance)]
    return Curve(arm, "cumulative_incidence", tuple(c.time.tolist()), tuple(c.estimate.tolist()),
                 tuple(b[0] for b in bounds), tuple(b[1] for b in bounds),
                 tuple(int(n) for n in c.n_risk), tuple(int(n) for n in c.n_event),
                 tuple(int(n) for n in c.n_censor))


def run_cuminc(inp) -> AnalysisResult:
    """Cumulative incidence of the event per arm and Gray's test (``cmprsk::cuminc``)."""
    strata = [str(s) for s in inp.options.get("strata", ())]
    rows, n_missing, notes = _event_rows(inp, strata)
    by_arm = _arm_counts(inp, rows, n_missing)
    require_arms(inp, {arm: s["n"] for arm, s in by_arm.items()}, minimum=1,
                 what="a time to event")
    days = inp.options.get("landmarks") or ((inp.horizon,) if inp.horizon else ())
    curves = []
    for arm in inp.arms:
        mine = rows[rows["ARM"] == arm]
        curve = cumulative_incidence(mine["TIME"].to_numpy(), mine["CAUSE"].to_numpy(dtype=int))
        curves.append(_curve(arm, curve, inp.ci_level))
        by_arm[arm]["landmarks"] = {
            _landmark_key(lm.day): {"cumulative_incidence": lm.estimate, "variance": lm.variance,
                                    "lower": lm.lower, "upper": lm.upper}
            for lm in at_landmarks(curve, days, inp.ci_level)}
        late = [_landmark_key(d) for d in days if d > curve.last_follow_up]
        if late:
            notes.append(f"{arm}: no estimate at day(s) {', '.join(late)}, after the last "
                         f"follow-up time {curve.last_follow_up:g} (cmprsk gives NA)")
        if by_arm[arm]["events"] == 0:
            notes.append(f"{arm}: no event of interest, the cumulative incidence is 0")
    tests = [_gray(inp, rows, strata, notes)] if len(inp.arms) > 1 else []
    notes.append("Aalen-Johansen cumulative incidence with cmprsk's variance; "
                 f"{inp.ci_level:.0%} CI on the log(-log) scale, "
                 "F^exp(+-z sqrt(var) / (F log F)), undefined where F is 0 or 1")
    return replace(make_result(inp, by_arm, tests, (), notes), curves=tuple(curves))


def _gray(inp, rows, strata, notes) -> Test:
    df = len(inp.arms) - 1
    stratum = rows[strata].astype(str).agg("/".join, axis=1).to_numpy() if strata else None
    try:
        g = gray_test(rows["TIME"].to_numpy(), rows["CAUSE"].to_numpy(dtype=int),
                      rows["ARM"].to_numpy(), stratum)
    except NotEstimable as why:
        notes.append(f"Gray's test: {why}")
        return Test("gray", None, df, None)
    if strata:
        notes.append(f"Gray's test stratified by {', '.join(strata)}")
    return Test("gray", g.statistic, g.df, g.p_value)


# ------------------------------------------------------------------ finegray

def run_finegray(inp) -> AnalysisResult:
    """Subdistribution hazard ratio of each treated arm (``cmprsk::crr``), Wald CI and p."""
    covariates = [str(c) for c in inp.options.get("covariates", ())]
    rows, n_missing, notes = _event_rows(inp, covariates)
    by_arm = _arm_counts(inp, rows, n_missing)
    require_arms(inp, {arm: s["n"] for arm, s in by_arm.items()}, what="a time to event")
    blocks = [design.categorical("ARM", rows["ARM"], inp.arms)]
    blocks += design.covariate_blocks(rows, covariates)
    x, names = design.stack(blocks)
    x, names, dropped = design.drop_aliased(x, names)
    if dropped:
        notes.append(f"terms dropped as linear combinations of others: {list(dropped)}")
    comparisons, tests = _finegray_comparisons(inp, rows, x, names, by_arm, notes)
    notes += ["model: crr(AVAL, EVNTCD, " + " + ".join(["ARM"] + covariates) + "), one "
              "censoring group; Wald CI and p; se is that of the log ratio"]
    return make_result(inp, by_arm, tests, comparisons, notes)


def _finegray_comparisons(inp, rows, x, names, by_arm, notes):
    no_events = [arm for arm, s in by_arm.items() if s["events"] == 0]
    fit = None
    try:
        if no_events:
            raise NotEstimable(f"arm(s) {no_events} have no event of interest: the "
                               f"subdistribution hazard ratio is 0 or infinite")
        fit = fine_gray(rows["TIME"].to_numpy(), rows["CAUSE"].to_numpy(dtype=int), x)
        if not fit.converged:
            raise NotEstimable(f"crr did not converge in {fit.iterations} iterations")
    except NotEstimable as why:
        fit = None
        notes.append(str(why))
    level, z = inp.ci_level, z_quantile(inp.ci_level)
    comparisons, tests = [], []
    for arm in inp.arms[1:]:
        name = f"ARM{arm}"
        if fit is None or name not in names:
            comparisons.append(empty_comparison(arm, inp.reference, _ESTIMAND, level))
            tests.append(Test("wald", None, 1, None))
            continue
        j = names.index(name)
        b, se = float(fit.params[j]), float(fit.se[j])
        if not (math.isfinite(se) and se > 0):
            # crr reports se 0 here (no information, e.g. every event on one day) with a
            # NaN z and p: the ratio has no usable SE
            notes.append(f"{arm} vs {inp.reference}: the subdistribution hazard ratio is not "
                         f"estimable (its SE is {se:g}: the data carry no information on it, "
                         "e.g. every event on the same day)")
            comparisons.append(empty_comparison(arm, inp.reference, _ESTIMAND, level))
            tests.append(Test("wald", None, 1, None))
            continue
        p = two_sided_normal_p(b / se)
        comparisons.append(Comparison(arm, inp.reference, _ESTIMAND, exp_or_inf(b),
                                      (exp_or_inf(b - z * se), exp_or_inf(b + z * se)), level,
                                      p_value=p, se=se))
        tests.append(Test("wald", (b / se) ** 2, 1, p))
    return comparisons, tests
