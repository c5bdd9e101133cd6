"""Time-to-event analyses: km, logrank, cox and rmst (survival::survfit, survdiff, coxph).

Each runner takes an :class:`~mscstats.analysis.AnalysisInput` of ADTTE-like
rows and returns an :class:`~mscstats.results.AnalysisResult`; the numbers come
from the cores in km.py, logrank.py, cox.py and rmst.py, checked against R
(tests/reference/survival/survival.R).

Conventions (docs/methods.md, "Survival"):

* Time is AVAL (days); the event is CNSR == 0. A competing death (EVNTCD 2)
  is censored here; cuminc and finegray treat it as competing. Rows without
  AVAL or CNSR are left out and counted as ``n_missing``.
* Per arm: n, events, censored, the Kaplan-Meier median with its
  Brookmeyer-Crowley CI (conf_type "log-log" unless the SAP says otherwise),
  S(t) at the landmark days, and a ``Curve`` for the figures.
* logrank: the k-arm survdiff test (stratified with ``strata``, weighted with
  ``rho``/``gamma``); per treated arm the hazard ratio of a Cox model (Efron
  ties, same strata and covariates) fitted to that arm and the reference, with
  its Wald CI, and as p-value the log-rank test of that arm against the
  reference (the multiplicity family's p).
* cox: one model with every arm (treatment coding, reference first),
  covariates and strata; HR per treated arm with Wald CI and p; the model's
  Wald, score and likelihood-ratio tests.
* rmst: restricted mean survival to ``tau`` per arm; difference and ratio of
  each treated arm against the reference.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..results import AnalysisResult, Comparison, Curve, Test
from . import design
from .cores.common import NotEstimable
from .compare import analysis_rows, empty_comparison, make_result, require_arms
from .cores.cox import CoxFit, cox_fit
from .cores.km import KaplanMeier, kaplan_meier, landmarks, median_survival
from .cores.logrank import logrank_test
from .cores.rmst import restricted_mean, rmst_difference, rmst_ratio

__all__ = ["run_cox", "run_km", "run_logrank", "run_rmst"]


# ------------------------------------------------------------------ rows

def _survival_rows(inp) -> tuple[pd.DataFrame, dict[str, int]]:
    """Analysable rows with TIME and EVENT columns, and each arm's count of missing rows."""
    rows = analysis_rows(inp)
    if "CNSR" not in rows.columns:
        raise AnalysisError(inp.id, "the endpoint data have no CNSR column",
                            "derive a time-to-event endpoint before analysing it")
    time = pd.to_numeric(rows["AVAL"], errors="coerce")
    censor = pd.to_numeric(rows["CNSR"], errors="coerce")
    usable = time.notna() & censor.notna()
    bad = usable & ((time < 0) | ~censor.isin([0, 1]))
    if bad.any():
        who = rows.loc[bad, "USUBJID"].iloc[0]
        raise AnalysisError(inp.id, f"subject {who}: a time-to-event row needs AVAL >= 0 and "
                            "CNSR 0 or 1", "re-derive the endpoint")
    missing = {arm: int((~usable & (rows["ARM"] == arm)).sum()) for arm in inp.arms}
    competing = pd.to_numeric(rows.get("EVNTCD", pd.Series(np.nan, rows.index)), errors="coerce")
    kept = rows[usable].assign(TIME=time[usable].astype(float),
                               EVENT=((censor[usable] == 0) & (competing[usable] != 2)).astype(float),
                               COMPETING=(competing[usable] == 2))
    require_arms(inp, {arm: int((kept["ARM"] == arm).sum()) for arm in inp.arms},
                 minimum=1 if inp.method in ("km", "rmst") else 2,
                 what="a time-to-event value")
    return kept.reset_index(drop=True), missing


def _model_rows(inp, rows: pd.DataFrame, notes: list[str]) -> tuple[pd.DataFrame, list, list]:
    """Rows with every covariate and stratum present (as coxph's na.omit)."""
    covariates, strata = design.requested_terms(inp, rows, "adsl (AGE, SEX, BMI, STRATUM)")
    keep = rows[covariates + strata].notna().all(axis=1)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} subject(s) with a missing covariate or stratum "
                     "left out of the model")
    return rows[keep].reset_index(drop=True), covariates, strata


def _stratum_key(rows: pd.DataFrame, strata: list[str]):
    """One label per combination of the strata columns (None without strata)."""
    if not strata:
        return None
    return rows[strata].astype(str).agg("\x1f".join, axis=1).to_numpy()


# ------------------------------------------------------------------ per arm

def _arm_curves(inp, rows) -> dict[str, KaplanMeier]:
    conf_type = inp.options.get("conf_type", "log-log")
    return {arm: kaplan_meier(rows.loc[rows["ARM"] == arm, "TIME"],
                              rows.loc[rows["ARM"] == arm, "EVENT"], conf_type, inp.ci_level)
            for arm in inp.arms}


def _by_arm(inp, rows, missing, curves: dict[str, KaplanMeier], notes: list[str]) -> dict:
    days = tuple(inp.options.get("landmarks", ()))
    out = {}
    for arm, km in curves.items():
        median = median_survival(km)
        stats = {"n": km.n, "events": km.events, "censored": km.n - km.events,
                 "competing_deaths_censored": int(rows.loc[rows["ARM"] == arm, "COMPETING"].sum()),
                 "n_missing": missing[arm], "median": median.estimate,
                 "median_ci": [median.lower, median.upper]}
        if days:
            stats["landmarks"] = {}
            for mark in landmarks(km, days):
                stats["landmarks"][str(int(mark.day))] = {
                    "survival": mark.survival, "lower": mark.lower, "upper": mark.upper,
                    "std_err": mark.std_err, "n_risk": mark.n_risk}
                if mark.beyond_follow_up and mark.survival > 0:
                    notes.append(f"{arm}: landmark day {int(mark.day)} is after the last "
                                 "follow-up; the last survival estimate is carried forward "
                                 "(summary.survfit(extend = TRUE)), nobody is at risk")
        out[arm] = stats
    if any(km.events == 0 for km in curves.values()):
        notes.append("an arm without events has survival 1 throughout: no median, and no "
                     "log-log limits where the survival is 1")
    return out


def _curve(arm: str, km: KaplanMeier) -> Curve:
    def opt(values):
        return tuple(None if np.isnan(v) else float(v) for v in values)
    return Curve(arm, "survival", tuple(km.time.tolist()), tuple(km.survival.tolist()),
                 opt(km.lower), opt(km.upper), tuple(int(v) for v in km.n_risk),
                 tuple(int(v) for v in km.n_event), tuple(int(v) for v in km.n_censor))


def _with_curves(result: AnalysisResult, curves: dict[str, KaplanMeier]) -> AnalysisResult:
    return replace(result, curves=tuple(_curve(arm, km) for arm, km in curves.items()))


def _describe(inp, rows, missing, notes):
    curves = _arm_curves(inp, rows)
    by_arm = _by_arm(inp, rows, missing, curves, notes)
    notes.append(f"Kaplan-Meier with {inp.options.get('conf_type', 'log-log')} confidence "
                 "limits (survfit); median CI by Brookmeyer-Crowley as print.survfit shows it")
    if int(rows["COMPETING"].sum()):
        notes.append("competing deaths (EVNTCD 2) are censored at their day")
    return curves, by_arm


# ------------------------------------------------------------------ Cox models

def _cox(inp, rows, arms, covariates, strata, ties="efron") -> CoxFit:
    blocks = [design.categorical("ARM", rows["ARM"], arms)]
    blocks += design.covariate_blocks(rows, covariates)
    x, names = design.stack(blocks)
    return cox_fit(rows["TIME"], rows["EVENT"], x, names, _stratum_key(rows, strata), ties)


def _hazard_ratio(fit: CoxFit, arm: str, reference: str, level: float,
                  notes: list[str]) -> Comparison:
    name = f"ARM{arm}"
    if name in fit.infinite:
        notes.append(f"{arm} vs {reference}: the hazard ratio is not estimable (coxph: the "
                     "coefficient may be infinite, e.g. an arm without events)")
        return empty_comparison(arm, reference, "hazard_ratio", level)
    try:
        hr, ci, p = fit.hazard_ratio(name, level)
    except NotEstimable as why:
        notes.append(f"{arm} vs {reference}: {why}")
        return empty_comparison(arm, reference, "hazard_ratio", level)
    return Comparison(arm, reference, "hazard_ratio", hr, ci.astuple(), level, p_value=p)


# ------------------------------------------------------------------ runners

def run_km(inp) -> AnalysisResult:
    """Kaplan-Meier per arm: medians with CI, S(t) at landmarks, curves (``survfit``)."""
    rows, missing = _survival_rows(inp)
    notes: list[str] = []
    curves, by_arm = _describe(inp, rows, missing, notes)
    return _with_curves(make_result(inp, by_arm, notes=notes), curves)


def _logrank_p(inp, rows, arm, strata, notes) -> float | None:
    pair = rows[rows["ARM"].isin([inp.reference, arm])]
    test = logrank_test(pair["TIME"], pair["EVENT"], pair["ARM"], _stratum_key(pair, strata),
                        inp.options.get("rho", 0.0), inp.options.get("gamma", 0.0))
    if test.p_value is None:
        notes.append(f"{arm} vs {inp.reference}: no log-rank test (no events, or no variance: "
                     "e.g. every stratum holds a single subject)")
    return test.p_value


def run_logrank(inp) -> AnalysisResult:
    """survdiff's k-arm log-rank test; per treated arm the Cox HR and the pairwise log-rank p."""
    rows, missing = _survival_rows(inp)
    notes: list[str] = []
    curves, by_arm = _describe(inp, rows, missing, notes)
    model_rows, covariates, strata = _model_rows(inp, rows, notes)
    rho, gamma = inp.options.get("rho", 0.0), inp.options.get("gamma", 0.0)
    overall = logrank_test(model_rows["TIME"], model_rows["EVENT"], model_rows["ARM"],
                           _stratum_key(model_rows, strata), rho, gamma)
    if overall.p_value is None:
        notes.append("no log-rank test: fewer than two arms have expected events, or the "
                     "variance is singular (e.g. every stratum holds a single subject)")
    test = Test("logrank", overall.statistic if overall.p_value is not None else None,
                overall.df if overall.p_value is not None else None, overall.p_value)
    comparisons = []
    for arm in inp.arms[1:]:
        p = _logrank_p(inp, model_rows, arm, strata, notes)
        pair = model_rows[model_rows["ARM"].isin([inp.reference, arm])]
        try:
            fit = _cox(inp, pair, (inp.reference, arm), covariates, strata)
            comparison = _hazard_ratio(fit, arm, inp.reference, inp.ci_level, notes)
        except NotEstimable as why:
            notes.append(f"{arm} vs {inp.reference}: {why}")
            comparison = empty_comparison(arm, inp.reference, "hazard_ratio", inp.ci_level)
        comparisons.append(replace(comparison, p_value=p))
    notes.append("hazard ratio (treated / reference): Cox model of the arm and the reference, "
                 "Efron ties, Wald CI; its p-value is the log-rank test of that arm against "
                 "the reference")
    if strata:
        notes.append(f"log-rank test and Cox model stratified by {', '.join(strata)}")
    if covariates:
        notes.append(f"the hazard ratio is adjusted for {', '.join(covariates)}; the log-rank "
                     "tests are not (survdiff takes no covariates)")
    if rho or gamma:
        notes.append(f"Fleming-Harrington weights S(t-)^{rho:g} (1 - S(t-))^{gamma:g}")
    return _with_curves(make_result(inp, by_arm, (test,), comparisons, notes), curves)


def run_cox(inp) -> AnalysisResult:
    """``coxph(Surv(AVAL, CNSR == 0) ~ ARM + covariates + strata(...), ties = )``."""
    rows, missing = _survival_rows(inp)
    notes: list[str] = []
    model_rows, covariates, strata = _model_rows(inp, rows, notes)
    by_arm = {arm: {"n": int((model_rows["ARM"] == arm).sum()),
                    "events": int(model_rows.loc[model_rows["ARM"] == arm, "EVENT"].sum()),
                    "n_missing": missing[arm] + int((rows["ARM"] == arm).sum()
                                                     - (model_rows["ARM"] == arm).sum())}
              for arm in inp.arms}
    ties = inp.options.get("ties", "efron")
    try:
        fit = _cox(inp, model_rows, inp.arms, covariates, strata, ties)
    except NotEstimable as why:
        notes.append(str(why))
        comparisons = [empty_comparison(a, inp.reference, "hazard_ratio", inp.ci_level)
                       for a in inp.arms[1:]]
        tests = [Test(name, None, None, None) for name in ("wald", "score", "likelihood_ratio")]
        return make_result(inp, by_arm, tests, comparisons, notes)
    comparisons = [_hazard_ratio(fit, arm, inp.reference, inp.ci_level, notes)
                   for arm in inp.arms[1:]]
    tests = [Test(name, t.statistic, t.df, t.p_value) for name, t in
             (("wald", fit.wald), ("score", fit.score), ("likelihood_ratio", fit.likelihood_ratio))]
    if fit.infinite:
        tests[0] = Test("wald", None, None, None)      # meaningless with an infinite coefficient
    notes.append(f"Cox model, {ties} ties; Wald, score and likelihood-ratio tests are of the "
                 f"whole model ({len(fit.names)} df: arms"
                 + (f", {', '.join(covariates)}" if covariates else "") + ")")
    if strata:
        notes.append(f"stratified by {', '.join(strata)} (a baseline hazard per stratum)")
    return make_result(inp, by_arm, tests, comparisons, notes)


def run_rmst(inp) -> AnalysisResult:
    """Restricted mean survival to tau per arm (survfit rmean); difference and ratio."""
    if "tau" not in inp.options:
        raise AnalysisError(inp.id, "rmst needs tau", "add tau = <day> to the analysis")
    tau = float(inp.options["tau"])
    rows, missing = _survival_rows(inp)
    notes: list[str] = []
    curves, by_arm = _describe(inp, rows, missing, notes)
    means = {arm: restricted_mean(km, tau) for arm, km in curves.items()}
    for arm, mean in means.items():
        by_arm[arm].update(rmst=mean.estimate, rmst_se=mean.se, tau=tau)
        if curves[arm].time[-1] < tau:
            notes.append(f"{arm}: follow-up ends at day {curves[arm].time[-1]:g} before tau "
                         f"{tau:g}; the last survival estimate is carried to tau (as survfit)")
    comparisons = []
    for arm in inp.arms[1:]:
        for estimand, contrast in (("rmst_difference", rmst_difference), ("rmst_ratio", rmst_ratio)):
            try:
                c = contrast(means[arm], means[inp.reference], inp.ci_level)
                if c.p_value is None:
                    notes.append(f"{arm} vs {inp.reference}: both arms' RMST have SE 0 (no "
                                 "event before tau, or none that leaves a subject at risk): "
                                 f"the {estimand.replace('_', ' ')} is exact, without a test")
                comparisons.append(Comparison(arm, inp.reference, estimand, c.estimate,
                                              c.ci.astuple(), inp.ci_level, p_value=c.p_value,
                                              se=c.se if estimand == "rmst_difference" else None))
            except NotEstimable as why:
                notes.append(f"{arm} vs {inp.reference}: {why}")
                comparisons.append(empty_comparison(arm, inp.reference, estimand, inp.ci_level))
    if len(inp.arms) > 1:
        notes.append("RMST difference: SE sqrt(se1^2 + se0^2), normal CI and z test; ratio: "
                     "delta method on the log scale")
    return _with_curves(make_result(inp, by_arm, comparisons=comparisons, notes=notes), curves)
