"""The SAP method ``permutation``: the re-randomization p-value of a two-arm statistic.

Under the null hypothesis that the treatment changes no subject's outcome, every
assignment of the arm labels that the randomization could have made is equally
likely, whatever the outcome's distribution. The p-value is the share of
re-randomized assignments (arm sizes kept) whose statistic is at least as
extreme as the observed one.

- Complete enumeration when the number of distinct assignments C(n, n1) is at
  most ``n_permutations``: p = #{T* at least as extreme} / C(n, n1), over every
  assignment, the observed one included. This is the exact p-value (as coin's
  distribution = "exact").
- Otherwise Monte Carlo over B = ``n_permutations`` random assignments:
  p = (1 + #{T* at least as extreme}) / (1 + B), counting the observed
  assignment once, so p is never 0 and the test keeps its level.
- "At least as extreme" is two-sided: |T| for the signed statistics (mean
  difference, risk difference, ANCOVA t), |W - n1 n0 / 2| for the Wilcoxon W,
  the chi-square for logrank and cox_score. Values within a relative 1e-8 of
  the observed count as equal, as in coin, so that rounding cannot drop ties
  (the observed assignment among them). An assignment whose statistic is
  undefined (the arm collinear with the ANCOVA covariates) counts as extreme.
- Seeded: the stream is numpy.random.default_rng(SeedSequence([seed, *w])),
  where w are four 32-bit words of SHA-256(analysis id); the same seed and
  analysis give the same p-value bit for bit, and two analyses of one SAP draw
  different assignments.

Arm labels are permuted among the analysed subjects (those with the outcome,
and the covariates for ancova); stratified re-randomization is not offered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..specs import default_permutation_statistic
from ..results import AnalysisResult, Comparison, Test
from . import AnalysisInput
from .batch import kernels as batch
from .cores.common import NotEstimable
# the test itself is in cores, which the batch kernels share (_random_assignments: tests)
from .cores.permutation import (DEFAULT_N_PERMUTATIONS, PermutationTest,  # noqa: F401
                                _random_assignments, analysis_rng, permutation_test)

__all__ = ["PermutationTest", "permutation_test", "analysis_rng", "run_permutation"]

# ---------------------------------------------------------------- the SAP method

@dataclass(frozen=True)
class _Sample:
    """The analysed subjects of one analysis, as arrays."""
    treated: np.ndarray                # bool (n,)
    y: np.ndarray                      # outcome; the time for time-to-event endpoints
    event: np.ndarray | None           # time-to-event: EVNTCD == 1
    covariates: np.ndarray | None      # ancova: (n, k) design columns
    by_arm: dict


@dataclass(frozen=True)
class _Statistic:
    """How one SAP statistic is computed, ranked and reported."""
    compute: Callable[[_Sample, np.ndarray], np.ndarray]    # labels (B, n) -> (B,)
    extremeness: Callable[[_Sample, np.ndarray], np.ndarray]
    estimand: str
    estimate: Callable[[_Sample], float]
    description: str


def _absolute(sample: _Sample, values: np.ndarray) -> np.ndarray:
    return np.abs(values)


def _itself(sample: _Sample, values: np.ndarray) -> np.ndarray:
    return values


def _wilcoxon_distance(sample: _Sample, w: np.ndarray) -> np.ndarray:
    n1 = int(sample.treated.sum())
    return np.abs(w - n1 * (sample.treated.size - n1) / 2)


def _observed(compute):
    return lambda s: float(compute(s, s.treated))


def _logrank_score(s: _Sample, labels) -> np.ndarray:
    return batch.logrank_batch(s.y, s.event, labels).score


def _cox_score(s: _Sample, labels) -> np.ndarray:
    return batch.cox_score_batch(s.y, s.event, labels, ties="efron").score


def _mean_difference(s, labels):
    return batch.mean_difference_batch(s.y, labels)


def _risk_difference(s, labels):
    return batch.risk_difference_batch(s.y, labels)


def _ancova_t(s, labels):
    return batch.ancova_batch(s.y, labels, s.covariates).t


STATISTICS: dict[str, _Statistic] = {
    "mean_difference": _Statistic(
        _mean_difference, _absolute, "mean_difference", _observed(_mean_difference),
        "difference in means (treated minus reference); two-sided on its absolute value"),
    "risk_difference": _Statistic(
        _risk_difference, _absolute, "risk_difference", _observed(_risk_difference),
        "difference in proportions (treated minus reference); two-sided on its absolute value"),
    "ancova": _Statistic(
        _ancova_t, _absolute, "mean_difference",
        lambda s: float(batch.ancova_batch(s.y, s.treated, s.covariates).estimate),
        "t of the arm in the linear model y ~ arm + covariates; two-sided on |t|; the "
        "estimate is the adjusted mean difference"),
    "wilcoxon": _Statistic(
        lambda s, labels: batch.wilcoxon_batch(s.y, labels).w, _wilcoxon_distance,
        "hodges_lehmann_shift", lambda s: batch.hodges_lehmann(s.y, s.treated),
        "Wilcoxon rank-sum W (midranks for ties); two-sided on |W - n1 n0 / 2|; the estimate "
        "is the Hodges-Lehmann shift, the median of all treated minus reference differences"),
    "logrank": _Statistic(
        lambda s, labels: batch.logrank_batch(s.y, s.event, labels).chi2, _itself,
        "observed_minus_expected", _observed(_logrank_score),
        "log-rank chi-square as survival::survdiff (competing deaths censored); the estimate "
        "is the treated arm's observed minus expected events (a permutation gives no hazard "
        "ratio)"),
    "cox_score": _Statistic(
        lambda s, labels: batch.cox_score_batch(s.y, s.event, labels, ties="efron").chi2,
        _itself, "observed_minus_expected", _observed(_cox_score),
        "Cox score chi-square for the arm at beta = 0, Efron ties (coxph(ties = 'efron') "
        "score test; competing deaths censored); the estimate is its score, the treated arm's "
        "events minus their Efron expectation"),
}


def run_permutation(inp: AnalysisInput) -> AnalysisResult:
    """The ``permutation`` method: see the module docstring."""
    name = inp.options.get("statistic") or default_permutation_statistic(inp.endpoint_kind)
    n_permutations = int(inp.options.get("n_permutations", DEFAULT_N_PERMUTATIONS))
    sample = _analysed_sample(inp, name)
    spec = STATISTICS[name]

    def extremeness(labels: np.ndarray) -> np.ndarray:
        return spec.extremeness(sample, spec.compute(sample, labels))
    try:
        outcome = permutation_test(extremeness, sample.treated, n_permutations,
                                   analysis_rng(inp.seed, inp.id))
    except ValueError as err:          # NotEstimable too: the data cannot give the statistic
        raise NotEstimable(f"the {name} statistic cannot be computed: {err} (check the "
                           "analysed data or choose another statistic)") from None
    observed = float(spec.compute(sample, sample.treated[None, :])[0])
    arm, reference = inp.arms[1], inp.arms[0]
    estimand, estimate = spec.estimand, spec.estimate(sample)
    notes = _notes(inp, spec, sample, outcome)
    if name == "wilcoxon" and inp.composite:   # worst-rank scores: no shift, a win probability
        n1 = int(sample.treated.sum())
        share = observed / (n1 * (sample.treated.size - n1))
        estimand, estimate = "win_probability", share if inp.higher_is_better else 1.0 - share
        notes += ("worst-rank scores: the estimate is the win probability U / (n1 n0), ties "
                  "counted half, not the Hodges-Lehmann shift",)
        # means of scores mean nothing: keep the counts
        sample = replace(sample, by_arm={arm: {k: stats[k] for k in ("n", "n_missing")}
                                         for arm, stats in sample.by_arm.items()})
    comparison = Comparison(arm, reference, estimand, estimate, (None, None),
                            inp.ci_level, p_value=outcome.p_value)
    options = {**inp.options, "statistic": name, "n_permutations": n_permutations}
    return AnalysisResult(inp.id, inp.endpoint, inp.method, sample.by_arm,
                          tests=(Test("permutation", observed, None, outcome.p_value),),
                          comparisons=(comparison,), notes=notes, options=options)


def _notes(inp: AnalysisInput, spec: _Statistic, sample: _Sample,
           outcome: PermutationTest) -> tuple[str, ...]:
    n, n1 = sample.treated.size, int(sample.treated.sum())
    if outcome.exact:
        how = (f"Exact permutation p-value: all C({n}, {n1}) = {outcome.n_assignments} "
               f"assignments of the arm labels enumerated; p = {outcome.n_as_extreme}/"
               f"{outcome.n_assignments} at least as extreme, the observed one included.")
    else:
        how = (f"Monte Carlo permutation p-value: B = {outcome.n_assignments} random "
               f"re-randomizations of the arm labels (C({n}, {n1}) = {math.comb(n, n1)} "
               f"possible; seed {inp.seed} mixed with the analysis id); p = (1 + "
               f"{outcome.n_as_extreme}) / (1 + {outcome.n_assignments}).")
    notes = [how, f"Statistic: {spec.description}.", "No confidence interval: the permutation "
             "test gives a p-value only."]
    missing = sum(stats["n_missing"] for stats in sample.by_arm.values())
    if missing:
        notes.append(f"{missing} subject(s) without the analysed data excluded.")
    return tuple(notes)


# ---------------------------------------------------------------- analysed data

def _one_row_per_subject(inp: AnalysisInput) -> pd.DataFrame:
    data = inp.data
    if data["USUBJID"].duplicated().any() and inp.target_day is not None and "DAY" in data:
        data = data[data["DAY"] == inp.target_day]      # repeated endpoint: its target day
    if data["USUBJID"].duplicated().any():
        dup = data.loc[data["USUBJID"].duplicated(), "USUBJID"].iloc[0]
        raise AnalysisError(inp.id, f"subject {dup} has more than one row; a permutation test "
                            "needs one value per subject.", "analyse one day of the endpoint.")
    return data


def _analysed_sample(inp: AnalysisInput, statistic: str) -> _Sample:
    if len(inp.arms) != 2:
        raise AnalysisError(inp.id, f"a permutation test compares exactly two arms; the study "
                            f"has {len(inp.arms)}.", "use it on a two-arm study.")
    covariates = tuple(inp.options.get("covariates", ()))
    if covariates and statistic != "ancova":
        raise AnalysisError(inp.id, f"covariates {', '.join(covariates)} are given, but only "
                            f"the ancova statistic adjusts for covariates ({statistic} would "
                            "ignore them).", 'set statistic = "ancova" or remove covariates.')
    survival = statistic in ("logrank", "cox_score")
    outcome = ["AVAL", "EVNTCD"] if survival else [inp.response()]
    data = _one_row_per_subject(inp)
    for column in (*outcome, *covariates, "ARM"):
        if column not in data:
            raise AnalysisError(inp.id, f"the data has no {column} column.",
                                f"add {column} to the analysis data.")
    # subjects in USUBJID order: the Monte Carlo draws then do not depend on row order
    data = data[data["ARM"].isin(inp.arms)].sort_values("USUBJID", kind="stable")
    design = _covariate_design(inp, data, covariates) if statistic == "ancova" else None
    usable = data[outcome].notna().all(axis=1).to_numpy()
    if design is not None:
        usable &= ~np.isnan(design).any(axis=1)
    by_arm = _by_arm(inp, data, usable, outcome[0], statistic)
    kept = data[usable]
    y = kept[outcome[0]].to_numpy(dtype=np.float64)
    event = None
    if survival:
        code = kept["EVNTCD"].to_numpy(dtype=np.float64)
        if not np.isin(code, (0, 1, 2)).all() or (y < 0).any():
            raise AnalysisError(inp.id, "time-to-event rows need AVAL >= 0 and EVNTCD 0, 1 or 2.",
                                "re-derive the endpoint.")
        event = code == 1                     # competing deaths (2) censored
    elif statistic == "risk_difference" and not np.isin(y, (0, 1)).all():
        raise AnalysisError(inp.id, f"risk_difference needs a 0/1 outcome; {outcome[0]} has "
                            "other values.", "use a binary endpoint or another statistic.")
    treated = (kept["ARM"] == inp.arms[1]).to_numpy()
    return _Sample(treated, y, event, None if design is None else design[usable], by_arm)


def _covariate_design(inp: AnalysisInput, data: pd.DataFrame,
                      covariates: tuple[str, ...]) -> np.ndarray:
    """Numeric covariates as they are; others as 0/1 columns for every level but the first."""
    columns = []
    for name in covariates:
        column = data[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            columns.append(column.to_numpy(dtype=np.float64))
            continue
        levels = sorted(column.dropna().astype(str).unique())
        text = column.astype(str)
        for level in levels[1:]:
            columns.append(np.where(column.isna(), np.nan, (text == level).astype(np.float64)))
    return np.column_stack(columns) if columns else np.empty((len(data), 0))


def _by_arm(inp: AnalysisInput, data: pd.DataFrame, usable: np.ndarray, column: str,
            statistic: str) -> dict:
    out = {}
    for arm in inp.arms:
        in_arm = (data["ARM"] == arm).to_numpy()
        rows = data[in_arm & usable]
        if rows.empty:
            raise NotEstimable(f"arm {arm!r} has no subject with the analysed data (check the "
                               "endpoint derivation and the population)")
        stats: dict = {"n": int(len(rows)), "n_missing": int((in_arm & ~usable).sum())}
        values = rows[column].to_numpy(dtype=np.float64)
        if statistic in ("logrank", "cox_score"):
            code = rows["EVNTCD"].to_numpy()
            stats.update(events=int((code == 1).sum()), competing_deaths=int((code == 2).sum()),
                         censored=int((code == 0).sum()))
        elif statistic == "risk_difference":
            stats.update(events=int(values.sum()), proportion=float(values.mean()))
        else:
            stats.update(mean=float(values.mean()),
                         sd=float(values.std(ddof=1)) if values.size > 1 else None,
                         median=float(np.median(values)))
        out[arm] = stats
    return out
