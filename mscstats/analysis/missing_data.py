"""Missing-data analyses: ``missing = "mi"`` of ancova, welch and paired, and the
``tipping_point`` method (DESIGN.md section 9; docs/estimands.md).

* MI: the endpoint's visits up to its target day (all of its ``days`` before the
  target, then the target; one visit for an endpoint without ``days``) are imputed
  one after the other by mi.impute_visits, on arm, baseline and the analysis's
  covariates and strata; each completed data set is analysed by the analysis's own
  method on the target day, vectorised over imputations; Rubin's rules pool the
  results with Barnard-Rubin df. The random stream is numpy's default Generator
  seeded with ``study.seed``: analyses with the same endpoint, model and
  ``imputations`` (``primary_mi`` and ``primary_tipping``) impute the same values.
* tipping point, binary: every completed 2 x 2 table (k events among the m_T missing
  of the treated arm, j among the m_R of the reference), with the analysis's test.
* tipping point, change or value: MI as above, then the treated arm's imputed values
  on the target day shifted by each delta and each completed data set analysed by
  ANCOVA (arm + BASE + covariates + strata).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..results import AnalysisResult, Comparison, Test
from ..schema import DEFAULT_IMPUTATIONS, MAX_IMPUTATIONS
from ..specs import MI_METHODS
from . import design
from .cores import mi
from .cores.common import NotEstimable
from .compare import (analysis_rows, continuous_by_arm, empty_comparison, make_result, n_missing,
                      require_arms, _binary_counts)
from .models import _model_terms

__all__ = ["MI_METHODS", "DEFAULT_IMPUTATIONS", "MAX_IMPUTATIONS", "run_mi",
           "run_tipping_point", "MiData", "mi_data", "binary_grid"]

_STRATEGY = {None: "mar", "jump_to_reference": "jump_to_reference",
             "copy_reference": "copy_reference"}


# ------------------------------------------------------------------ the data to impute

@dataclass(frozen=True)
class MiData:
    """Subjects (rows) x visits (columns, day order, target last) and the model terms."""
    subjects: tuple[str, ...]
    arm: np.ndarray             # (n,) arm index, 0 the reference
    y: np.ndarray               # (n, K) analysed values, NaN where missing
    days: tuple[int, ...]       # the visits' days (K,); () for an endpoint without days
    fixed: np.ndarray           # (n, q) baseline and covariates, as the imputation uses them
    x: np.ndarray               # (n, p) the ANCOVA design on the target day
    names: tuple[str, ...]      # columns of x
    target: pd.DataFrame        # the target-day rows of the analysed subjects
    notes: tuple[str, ...]


def mi_data(inp, with_covariates: bool) -> MiData:
    """Pivot the endpoint rows to subjects x visits; subjects without baseline or a
    covariate are left out (a note counts them), as the ANCOVA leaves them out."""
    rows = analysis_rows(inp, all_days=True)
    repeated = "DAY" in rows.columns and rows["USUBJID"].duplicated().any()
    response = inp.response()
    if repeated:
        rows = rows[rows["DAY"] <= inp.target_day]
        wide = rows.pivot(index="USUBJID", columns="DAY", values=response)
        target = rows[rows["DAY"] == inp.target_day].set_index("USUBJID")
        days = tuple(int(d) for d in wide.columns)
    else:
        target = rows.set_index("USUBJID")
        wide = target[[response]]
        days = ()
    if with_covariates:
        covariates, strata, notes = _model_terms(inp, target.reset_index())
    else:
        has_base = "BASE" in target.columns and target["BASE"].notna().any()
        covariates, strata, notes = (["BASE"] if has_base else []), [], []
    complete = target[covariates + strata].notna().all(axis=1)
    if (~complete).any():
        notes.append(f"{int((~complete).sum())} subject(s) without baseline or a covariate left "
                     "out (they cannot be imputed)")
    target = target[complete].sort_index()
    wide = wide.loc[target.index]
    frame = target.reset_index()
    arm_block = design.categorical("ARM", frame["ARM"], inp.arms)
    covs = design.covariate_blocks(frame, covariates, strata)
    fixed, _ = design.stack([design.intercept(len(frame))] + covs)
    x, names = design.stack([design.intercept(len(frame)), arm_block] + covs)
    x, names, dropped = design.drop_aliased(x, names)
    if dropped:
        notes.append(f"terms dropped as linear combinations of others: {list(dropped)}")
    fixed, _, _ = design.drop_aliased(fixed, ("(Intercept)",) + tuple(
        n for b in covs for n in b.names))
    arm = frame["ARM"].map({a: i for i, a in enumerate(inp.arms)}).to_numpy(dtype=int)
    return MiData(tuple(frame["USUBJID"]), arm, wide.to_numpy(dtype=float), days,
                  fixed[:, 1:], x, names, frame, tuple(notes))


def _options(inp) -> tuple[int, str]:
    m = int(inp.options.get("imputations", DEFAULT_IMPUTATIONS))
    return m, _STRATEGY[inp.options.get("mi_reference")]


def _impute(inp, data: MiData) -> np.ndarray:
    """The completed target-day values (m, n) of every imputation."""
    m, strategy = _options(inp)
    rng = np.random.default_rng(inp.seed)
    completed = mi.impute_visits(data.y, data.arm, len(inp.arms), data.fixed, m, rng, strategy)
    return completed[:, :, -1]


def _description(inp, data: MiData, m: int, strategy: str) -> str:
    visits = f"days {list(data.days)}" if data.days else "the analysed visit"
    how = {"mar": "under missing at random",
           "jump_to_reference": "jump to reference for the treated arms after dropout",
           "copy_reference": "copy reference for the treated arms after dropout"}[strategy]
    return (f"multiple imputation {how}: {m} imputations, sequential normal regression over "
            f"{visits} on arm, baseline, covariates and earlier visits (mice norm draws), "
            f"seed {inp.seed}; Rubin's rules with Barnard-Rubin df")


# ------------------------------------------------------------------ MI of an analysis

def _estimates(inp, data: MiData, y: np.ndarray, arm: str) -> mi.Estimates:
    """The complete-data estimates of one comparison (treated arm ``arm``, or the arm
    itself for paired) for every completed data set y (..., m, n)."""
    if inp.method == "ancova":
        name = f"ARM{arm}"
        if name not in data.names:
            raise NotEstimable("the arm is confounded with a covariate")
        return mi.ancova_estimates(y, data.x, data.names.index(name))
    index = inp.arms.index(arm)
    if inp.method == "welch":
        return mi.welch_estimates(y, data.arm == index, data.arm == 0)
    return mi.mean_estimates(y[..., data.arm == index])


def _pooled_comparison(inp, pooled: mi.Pooled, arm: str) -> tuple[Comparison, Test]:
    log = inp.transform == "log"
    paired = inp.method == "paired"
    # a log endpoint's mean change or difference is a ratio (DESIGN.md 6)
    estimand = "geometric_mean_ratio" if log else "mean_change" if paired else "mean_difference"
    reference = None if paired else inp.reference
    est, se, df = float(pooled.estimate), float(pooled.se), float(pooled.df)
    lo, hi = (float(v) for v in pooled.ci(inp.ci_level))
    p = float(pooled.p_value)
    test = Test("paired_t" if paired else "t", est / se, df, p)
    if log:
        return Comparison(arm, reference, estimand, math.exp(est), (math.exp(lo), math.exp(hi)),
                          inp.ci_level, p_value=p, df=df), test
    return Comparison(arm, reference, estimand, est, (lo, hi), inp.ci_level, p_value=p, se=se,
                      df=df), test


def run_mi(inp) -> AnalysisResult:
    """The analysis's own method on every completed data set, pooled by Rubin's rules."""
    if inp.method not in MI_METHODS:
        raise AnalysisError(inp.id, f"missing = \"mi\" is not available for {inp.method}",
                            f"use one of {', '.join(MI_METHODS)}")
    if inp.method == "paired" and inp.endpoint_kind != "change":
        raise AnalysisError(inp.id, "the paired analysis needs a change-from-baseline endpoint",
                            "set kind = \"change\" for the endpoint")
    data = mi_data(inp, with_covariates=inp.method == "ancova")
    _, by_arm = continuous_by_arm(inp, data.target.reset_index(drop=True))
    require_arms(inp, {a: s["n"] for a, s in by_arm.items()},
                 minimum=1 if inp.method == "paired" else 2)
    m, strategy = _options(inp)
    notes = list(data.notes)
    try:
        completed = _impute(inp, data)
    except NotEstimable as why:
        completed = None
        notes.append(f"imputation not possible: {why}")
    compared = inp.arms if inp.method == "paired" else inp.arms[1:]
    comparisons, tests = [], []
    for arm in compared:
        by_arm[arm]["n_imputed"] = by_arm[arm]["n_missing"]
        try:
            if completed is None:
                raise NotEstimable("no completed data sets")
            pooled = mi.pool(_estimates(inp, data, completed, arm))
            c, t = _pooled_comparison(inp, pooled, arm)
            notes.append(f"{arm}: fraction of missing information {float(pooled.fmi):.3g} "
                         f"(complete-data df {pooled.dfcom:.4g})")
        except NotEstimable as why:
            c = empty_comparison(arm, None if inp.method == "paired" else inp.reference,
                                 "mean_change" if inp.method == "paired" else "mean_difference",
                                 inp.ci_level)
            t = Test("paired_t" if inp.method == "paired" else "t", None, None, None)
            notes.append(f"{arm}: {why}")
        comparisons.append(c)
        tests.append(t)
    for arm in inp.arms:
        by_arm[arm].setdefault("n_imputed", by_arm[arm]["n_missing"])
    notes.append(_description(inp, data, m, strategy))
    if inp.method == "paired":
        notes.append("the signed-rank test has no variance to pool: only the paired t is given")
    if inp.transform == "log":
        notes.append("values are logs: pooled on the log scale, estimates are ratios")
    return make_result(inp, by_arm, tests, comparisons, notes)


# ------------------------------------------------------------------ tipping point

def _with_grid(result: AnalysisResult, grid, tipping) -> AnalysisResult:
    return replace(result, grid=tuple(grid), tipping_point=tipping)


def run_tipping_point(inp) -> AnalysisResult:
    if inp.endpoint_kind == "binary":
        return _binary_tipping(inp)
    if inp.endpoint_kind not in ("change", "value"):
        raise AnalysisError(inp.id, f"tipping_point does not fit a {inp.endpoint_kind} endpoint",
                            "use it on a binary, change or value endpoint")
    return _continuous_tipping(inp)


def binary_grid(counts: dict, missing: dict, arms, test: str, alpha: float):
    """Every completed table: (rows, boundary rows). counts[arm] = (events, n observed),
    missing[arm] = number missing; arms = (reference, treated)."""
    from .compare import _binary_test
    reference, treated = arms
    (x1, n1), (x0, n0) = counts[treated], counts[reference]
    m1, m0 = missing[treated], missing[reference]
    p = np.full((m1 + 1, m0 + 1), np.nan)
    rows = []
    for k1 in range(m1 + 1):
        for k0 in range(m0 + 1):
            table = (x1 + k1, n1 + m1, x0 + k0, n0 + m0)
            value = _binary_test(test, table, [], treated, reference).p_value
            p[k1, k0] = np.nan if value is None else value
            rows.append({"events_among_missing": {treated: k1, reference: k0},
                         "estimate": table[0] / table[1] - table[2] / table[3],
                         "p_value": value})
    significant = p < alpha
    boundary = []
    for row, (k1, k0) in zip(rows, np.ndindex(p.shape)):
        if np.isnan(p[k1, k0]) or significant[k1, k0]:
            continue
        near = [(k1 + a, k0 + b) for a, b in ((1, 0), (-1, 0), (0, 1), (0, -1))
                if 0 <= k1 + a <= m1 and 0 <= k0 + b <= m0]
        if any(significant[i, j] for i, j in near):
            boundary.append(row)
    return rows, boundary


def _binary_tipping(inp) -> AnalysisResult:
    test = inp.options.get("test", "fisher")
    rows = analysis_rows(inp)
    counts = _binary_counts(inp, rows)
    require_arms(inp, {arm: n for arm, (_, n) in counts.items()})
    missing = n_missing(rows, inp.response(), inp.arms)
    by_arm = {arm: {"n": n, "events": x, "n_missing": missing[arm]}
              for arm, (x, n) in counts.items()}
    grid, boundary = binary_grid(counts, missing, inp.arms, test, inp.alpha)
    label = "Fisher's exact test" if test == "fisher" else "Pearson chi-square"
    notes = [f"tipping point: every number of events among each arm's missing subjects "
             f"({len(grid)} completed tables), {label} on each; estimate = risk difference "
             f"{inp.arms[1]} - {inp.reference} on the completed table; boundary = tables with "
             f"p >= {inp.alpha:g} next to one with p < {inp.alpha:g}"]
    if not any(missing.values()):
        notes.append("no missing values: the grid is the observed table alone")
    elif not boundary:
        notes.append("the conclusion is the same for every completed table")
    result = make_result(inp, by_arm, (), (), notes)
    return _with_grid(result, grid, tuple(boundary))


def _continuous_tipping(inp) -> AnalysisResult:
    deltas = np.array(sorted(float(d) for d in inp.options["deltas"]))
    data = mi_data(inp, with_covariates=True)
    _, by_arm = continuous_by_arm(inp, data.target.reset_index(drop=True))
    require_arms(inp, {a: s["n"] for a, s in by_arm.items()})
    m, strategy = _options(inp)
    notes = list(data.notes)
    treated = inp.arms[1]
    grid, tipping = [], None
    try:
        completed = _impute(inp, data)                               # (m, n)
        imputed = np.isnan(data.y[:, -1]) & (data.arm == 1)
        shifted = completed[None] + deltas[:, None, None] * imputed[None, None, :]
        inp_ancova = replace(inp, method="ancova")
        pooled = mi.pool(_estimates(inp_ancova, data, shifted, treated))
        unshifted = mi.pool(_estimates(inp_ancova, data, completed, treated))
        lo, hi = pooled.ci(inp.ci_level)
        for i, delta in enumerate(deltas):
            grid.append({"delta": float(delta), "estimate": float(pooled.estimate[i]),
                         "ci": [float(lo[i]), float(hi[i])], "p_value": float(pooled.p_value[i])})
        tipping = mi.tipping_delta(deltas, pooled.p_value, float(unshifted.estimate), inp.alpha)
    except NotEstimable as why:
        notes.append(f"not estimable: {why}")
    notes.append(_description(inp, data, m, strategy) + f"; the {treated} arm's imputed values "
                 f"on the analysed day shifted by each delta, each completed data set analysed "
                 f"by ANCOVA; tipping point = the smallest shift against {treated} (opposite in "
                 f"sign to the unshifted estimate) with p >= {inp.alpha:g}")
    if not np.isnan(data.y[:, -1]).any():
        notes.append("no missing values: every shift gives the complete-data analysis")
    if inp.transform == "log":
        notes.append("values are logs: deltas and estimates are on the log scale")
    for arm in inp.arms:
        by_arm[arm]["n_imputed"] = by_arm[arm]["n_missing"]
    return _with_grid(make_result(inp, by_arm, (), (), notes), grid, tipping)
