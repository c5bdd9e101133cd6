"""Model-based arm comparisons: ancova, mmrm and ordinal_po.

* ``ancova``: ``lm(y ~ arm + BASE + covariates + strata)`` by least squares;
  the adjusted mean difference of each treated arm with its t CI and p.
  BASE enters whenever the data have it; categorical covariates and strata
  are dummy-coded with the first level in sorted order as reference
  (design.py). Subjects with a missing covariate are left out (as R's
  na.omit) and a note counts them. Columns that are linear combinations of
  earlier ones are dropped, as lm does (a note names them).
* ``mmrm``: CHG ~ arm x day + BASE x day (+ covariates + strata) over every
  visit day of the endpoint, REML with an unstructured (default),
  "toeplitz", "ar1h", "ar1" or "cs" covariance (mmrm.py), or the first of a
  list of them that converges; the arm effect at the target day with its SE and
  Satterthwaite df; per-arm LS means by day as emmeans computes them (numeric
  covariates at their mean over the analysed rows, categorical ones averaged
  with equal weights over their levels).
* ``ordinal_po``: ``ordinal::clm(ordered(y) ~ arm)``; the common odds ratio
  of a better (lower) category, exp(-beta) (> 1 favours the treated arm), Wald
  CI and p; the Brant test of proportional odds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError
from ..results import AnalysisResult, Comparison, Test
from . import design
from .cores.common import NotEstimable, t_interval, z_quantile
from .compare import (analysis_rows, arm_values, continuous_by_arm, empty_comparison, make_result,
                      n_missing, ratio_scale, require_arms)
from .cores.mmrm import fit_first
from .cores.ordinal import brant, proportional_odds

__all__ = ["LinearFit", "least_squares", "run_ancova", "run_mmrm", "run_ordinal_po"]


# ------------------------------------------------------------------ least squares

@dataclass(frozen=True)
class LinearFit:
    """Ordinary least squares: coefficients by name, their SEs and the residual df."""
    names: tuple[str, ...]
    params: np.ndarray
    se: np.ndarray
    df: int
    dropped: tuple[str, ...] = ()
    perfect: bool = False          # summary.lm's "essentially perfect fit"

    def effect(self, name: str, level: float):
        """Estimate, SE, t, p and CI of one coefficient (as summary(lm) and confint)."""
        j = self.names.index(name)
        est, se = float(self.params[j]), float(self.se[j])
        if not se > 0:
            raise NotEstimable("the model fits the data exactly (residual variance 0): the "
                               "estimate has no standard error")
        t = est / se
        return est, se, t, float(2 * stats.t.sf(abs(t), self.df)), t_interval(est, se, self.df, level)


def least_squares(y, x, names) -> LinearFit:
    """``lm`` fit: aliased columns dropped as R does, residual variance on n - rank df."""
    x, names, dropped = design.drop_aliased(np.asarray(x, dtype=float), names)
    y = np.asarray(y, dtype=float)
    df = len(y) - x.shape[1]
    if df < 1:
        raise NotEstimable("as many model terms as subjects: no residual degrees of freedom")
    q, r = np.linalg.qr(x)
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - x @ coef
    r_inv = np.linalg.inv(r)
    variance = np.sum(resid ** 2) / df
    se = np.sqrt(variance * np.sum(r_inv ** 2, axis=1))
    fitted = y - resid
    # summary.lm's test: the residual variance is rounding next to the fitted values
    perfect = bool(variance < (np.mean(fitted) ** 2 + np.var(fitted, ddof=1)) * 1e-30)
    return LinearFit(names, coef, se, df, dropped, perfect)


# ------------------------------------------------------------------ shared option handling

def _model_terms(inp, rows: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """(covariates, strata, notes): BASE first when present; every column checked to exist."""
    covariates, strata = design.requested_terms(inp, rows,
                                                "adsl (AGE, SEX, BMI, STRATUM) or BASE")
    notes = []
    covariates = [c for c in covariates if c != "BASE"]
    if "BASE" in rows.columns and rows["BASE"].notna().any():
        covariates = ["BASE"] + covariates
    else:
        notes.append("no baseline values: the model has no BASE term")
    return covariates, strata, notes


def _complete(rows: pd.DataFrame, columns: list[str], notes: list[str]) -> pd.DataFrame:
    """Rows with every model column present; a note counts the others."""
    keep = rows[columns].notna().all(axis=1)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} row(s) with a missing covariate or baseline left "
                     f"out of the model")
    return rows[keep].reset_index(drop=True)


# ------------------------------------------------------------------ ancova

def run_ancova(inp) -> AnalysisResult:
    """Adjusted mean difference (treated - reference) from ``lm(y ~ arm + BASE + ...)``."""
    rows = analysis_rows(inp)
    values, by_arm = continuous_by_arm(inp, rows)
    require_arms(inp, values)
    covariates, strata, notes = _model_terms(inp, rows)
    response = inp.response()
    frame = _complete(rows[rows[response].notna()], covariates + strata, notes)
    blocks = [design.intercept(len(frame)), design.categorical("ARM", frame["ARM"], inp.arms)]
    blocks += design.covariate_blocks(frame, covariates, strata)
    x, names = design.stack(blocks)
    log = inp.transform == "log"
    comparisons, tests = [], []
    try:
        fit = least_squares(frame[response].to_numpy(dtype=float), x, names)
    except NotEstimable as why:
        fit = None
        notes.append(str(why))
    if fit is not None and fit.dropped:
        notes.append(f"terms dropped as linear combinations of others: {list(fit.dropped)}")
    if fit is not None and fit.perfect:
        notes.append("essentially perfect fit (summary.lm warns so): the residual variance is "
                     "rounding error, so the SE, CI and p-value mean nothing")
    for arm in inp.arms[1:]:
        c, t = _ancova_comparison(inp, fit, arm, log, notes)
        comparisons.append(c)
        tests.append(t)
    notes.append("model: " + " + ".join([f"{response} ~ ARM"] + covariates + strata))
    if log:
        notes.append("values are logs: estimates are adjusted ratios of geometric means")
    return make_result(inp, by_arm, tests, comparisons, notes)


def _ancova_comparison(inp, fit, arm, log, notes):
    estimand = "geometric_mean_ratio" if log else "mean_difference"
    name = f"ARM{arm}"
    if fit is None or name not in fit.names:
        if fit is not None:
            notes.append(f"{arm} vs {inp.reference}: not estimable (no subject of the arm with "
                         f"complete covariates, or the arm is confounded with a covariate)")
        return empty_comparison(arm, inp.reference, estimand, inp.ci_level), Test("t", None, None, None)
    try:
        est, se, t, p, ci = fit.effect(name, inp.ci_level)
    except NotEstimable as why:
        notes.append(f"{arm} vs {inp.reference}: {why}")
        return empty_comparison(arm, inp.reference, estimand, inp.ci_level), Test("t", None, None, None)
    test = Test("t", t, float(fit.df), p)
    if log:
        ratio, ratio_ci = ratio_scale(est, ci)
        return Comparison(arm, inp.reference, estimand, ratio, ratio_ci, inp.ci_level,
                          p_value=p, df=float(fit.df)), test
    return Comparison(arm, inp.reference, estimand, est, ci.astuple(), inp.ci_level, p_value=p,
                      se=se, df=float(fit.df)), test


# ------------------------------------------------------------------ mmrm

def _mmrm_design(frame: pd.DataFrame, arms, days, covariates, strata):
    """Blocks of CHG ~ arm*day + BASE*day + covariates + strata, and the covariate blocks."""
    arm = design.categorical("ARM", frame["ARM"], arms)
    day = design.categorical("DAY", frame["DAY"], days)
    covs = design.covariate_blocks(frame, covariates, strata)
    blocks = [design.intercept(len(frame)), arm, day, design.interaction(arm, day)] + covs
    if covariates and covariates[0] == "BASE":
        blocks.append(design.interaction(covs[0], day))
    return blocks, covs


def _grid_row(names, covariate_blocks, arm, day) -> np.ndarray:
    """The design row of emmeans' reference grid for this arm and day: numeric covariates
    at their mean, categorical ones averaged with equal weight over their levels."""
    row = dict.fromkeys(names, 0.0)
    for key in ("(Intercept)", f"ARM{arm}", f"DAY{day}", f"ARM{arm}:DAY{day}"):
        if key in row:
            row[key] = 1.0
    for b in covariate_blocks:
        for name, column in zip(b.names, b.matrix.T):
            row[name] = 1.0 / len(b.levels) if b.levels else float(np.mean(column))
    if f"BASE:DAY{day}" in row:
        row[f"BASE:DAY{day}"] = row["BASE"]
    return np.array([row[n] for n in names])


def run_mmrm(inp) -> AnalysisResult:
    """Arm effect at the target day from a REML MMRM over every visit day of the endpoint."""
    covariances = _covariances(inp)
    if inp.target_day is None or "DAY" not in inp.data.columns:
        raise AnalysisError(inp.id, "mmrm needs a repeated endpoint (days = [...]) and its target day",
                            "give the endpoint days = [...] and day = <target>")
    rows = analysis_rows(inp, all_days=True)
    response = inp.response()
    target = rows[rows["DAY"] == inp.target_day]
    values = arm_values(target, response, inp.arms)
    require_arms(inp, values, what=f"a value on the target day {inp.target_day}")
    covariates, strata, notes = _model_terms(inp, rows)
    frame = _complete(rows[rows[response].notna() & rows["DAY"].notna()], covariates + strata, notes)
    frame["DAY"] = frame["DAY"].astype(int)       # study days are whole numbers
    days = sorted(frame["DAY"].unique().tolist())
    blocks, covariate_blocks = _mmrm_design(frame, inp.arms, days, covariates, strata)
    x, all_names = design.stack(blocks)
    x, names, dropped = design.drop_aliased(x, all_names)
    if dropped:
        notes.append(f"terms dropped as linear combinations of others: {list(dropped)}")
    try:
        fit, failed = fit_first(frame[response].to_numpy(dtype=float), x,
                                frame["USUBJID"].to_numpy(),
                                frame["DAY"].map({d: i for i, d in enumerate(days)}).to_numpy(),
                                len(days), covariances)
    except NotEstimable as why:
        raise NotEstimable(f"the MMRM cannot be fitted: {why}") from None
    covariance = fit.covariance
    notes += [f"covariance {name} not used: {why}" for name, why in failed]
    if len(covariances) > 1:
        notes.append(f"covariance {covariance}: the first of {', '.join(covariances)} "
                     "(in the SAP's order) whose REML fit converges")
    by_arm = _mmrm_by_arm(inp, rows, fit, all_names, names, covariate_blocks, days)
    comparisons = [_mmrm_comparison(inp, fit, names, arm, days, notes) for arm in inp.arms[1:]]
    notes += [f"MMRM, REML, {covariance} covariance over days {days}; Satterthwaite df",
              "model: " + " + ".join([f"{response} ~ ARM*DAY"] + [c + ("*DAY" if c == "BASE" else "")
                                                                   for c in covariates] + strata)]
    if inp.transform == "log":
        notes.append("values are logs: estimates are adjusted ratios of geometric means")
    return replace(make_result(inp, by_arm, (), comparisons, notes), covariance=covariance)


def _covariances(inp) -> tuple[str, ...]:
    """The covariance structures to try, in order (a SAP names one or a list)."""
    from ..schema import COVARIANCES
    named = inp.options.get("covariance", "unstructured")
    named = (named,) if isinstance(named, str) else tuple(named)
    unknown = [c for c in named if c not in COVARIANCES]
    if unknown or not named:
        raise AnalysisError(inp.id, f"unknown covariance {unknown[0] if unknown else named!r}",
                            f"use covariance = one of {', '.join(COVARIANCES)} or a list of them")
    return named


def _contrast_vector(names, arm, day, first_day):
    """Weights of the arm effect on ``day``: ARM + ARM:DAY (no interaction on the first day)."""
    weights = np.zeros(len(names))
    for key in [f"ARM{arm}"] + ([f"ARM{arm}:DAY{day}"] if day != first_day else []):
        if key not in names:
            raise NotEstimable(f"the arm effect on day {day} is not estimable (term {key} dropped)")
        weights[names.index(key)] = 1.0
    return weights


def _mmrm_comparison(inp, fit, names, arm, days, notes) -> Comparison:
    log = inp.transform == "log"
    estimand = "geometric_mean_ratio" if log else "mean_difference"
    try:
        c = fit.contrast(_contrast_vector(names, arm, inp.target_day, days[0]))
    except NotEstimable as why:
        notes.append(f"{arm} vs {inp.reference}: {why}")
        return empty_comparison(arm, inp.reference, estimand, inp.ci_level)
    ci = t_interval(c.estimate, c.se, c.df, inp.ci_level)
    p = float(2 * stats.t.sf(abs(c.estimate / c.se), c.df))
    if log:
        ratio, ratio_ci = ratio_scale(c.estimate, ci)
        return Comparison(arm, inp.reference, estimand, ratio, ratio_ci, inp.ci_level, p_value=p,
                          df=c.df)
    return Comparison(arm, inp.reference, estimand, c.estimate, ci.astuple(), inp.ci_level,
                      p_value=p, se=c.se, df=c.df)


def _mmrm_by_arm(inp, rows, fit, all_names, names, covariate_blocks, days):
    """Summary of the target day's values per arm, plus LS means and their SE/df by day."""
    _, by_arm = continuous_by_arm(inp, rows[rows["DAY"] == inp.target_day])
    kept = [all_names.index(n) for n in names]
    dropped = [j for j in range(len(all_names)) if j not in kept]
    for arm in inp.arms:
        by_arm[arm]["n_subjects"] = int(rows.loc[rows["ARM"] == arm, "USUBJID"].nunique())
        lsmeans = {}
        for day in days:
            full = _grid_row(all_names, covariate_blocks, arm, day)
            if np.any(full[dropped] != 0):
                continue                      # not estimable: it needs a dropped term
            c = fit.contrast(full[kept])
            lsmeans[str(day)] = {"estimate": c.estimate, "se": c.se, "df": c.df}
        by_arm[arm]["lsmeans"] = lsmeans
    return by_arm


# ------------------------------------------------------------------ ordinal

def _category_key(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def run_ordinal_po(inp) -> AnalysisResult:
    """Common odds ratio of a better (lower) category from the proportional odds model."""
    rows = analysis_rows(inp)
    response = inp.response()
    values = arm_values(rows, response, inp.arms)
    require_arms(inp, values)
    missing = n_missing(rows, response, inp.arms)
    categories = sorted(set(np.concatenate(list(values.values())).tolist()))
    by_arm = {arm: {"n": len(v), "n_missing": missing[arm],
                    "distribution": {_category_key(c): int(np.sum(v == c)) for c in categories},
                    "median": float(np.median(v))} for arm, v in values.items()}
    y = np.concatenate([values[a] for a in inp.arms])
    arm_of = np.repeat(np.array(inp.arms, dtype=object), [len(values[a]) for a in inp.arms])
    x = design.categorical("ARM", arm_of, inp.arms).matrix
    notes = ["proportional odds (cumulative logit) model; odds ratio > 1 favours the treated "
             "arm (lower, better categories)"]
    comparisons = _ordinal_comparisons(inp, y, x, notes)
    try:
        b = brant(y, x)
        tests = (Test("brant", b.statistic, float(b.df), b.p_value),)
    except NotEstimable as why:
        tests = (Test("brant", None, None, None),)
        notes.append(f"Brant test: {why}")
    return make_result(inp, by_arm, tests, comparisons, notes)


def _ordinal_comparisons(inp, y, x, notes) -> list[Comparison]:
    try:
        fit = proportional_odds(y, x)
    except NotEstimable as why:
        notes.append(str(why))
        return [empty_comparison(a, inp.reference, "common_odds_ratio", inp.ci_level)
                for a in inp.arms[1:]]
    z = z_quantile(inp.ci_level)
    out = []
    for j, arm in enumerate(inp.arms[1:]):
        beta, se = float(fit.params[j]), float(fit.se[j])
        if not math.isfinite(se) or abs(beta) + z * se > 700:
            # exp would overflow: the likelihood has no finite maximum (separation,
            # e.g. every subject of one arm in one category), as clm warns
            notes.append(f"{arm}: common odds ratio not estimable (separation: the fit "
                         f"diverges, log odds ratio {-beta:.3g}, SE {se:.3g}).")
            out.append(empty_comparison(arm, inp.reference, "common_odds_ratio", inp.ci_level))
            continue
        p = float(2 * stats.norm.sf(abs(beta / se)))
        out.append(Comparison(arm, inp.reference, "common_odds_ratio", math.exp(-beta),
                              (math.exp(-beta - z * se), math.exp(-beta + z * se)), inp.ci_level,
                              p_value=p))
    return out
