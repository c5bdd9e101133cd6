"""Arm comparisons for small trials: welch, wilcoxon, paired and binary.

Each runner takes an :class:`~mscstats.analysis.AnalysisInput` and returns an
:class:`~mscstats.results.AnalysisResult`; the numbers come from the cores in
ttests.py, ranks.py and proportions.py, which are checked against R
(tests/reference/compare/compare.R). This module also holds the helpers every
comparison runner shares (models.py uses them too): picking the analysed rows,
the values of each arm and the per-arm summaries.

Conventions (docs for the report's methods page):

* Rows: a repeated endpoint (several rows per subject, one per DAY) is
  analysed at its target day only, the rows with DAY == target day (mmrm uses
  every day). With one row per subject every row is used whatever its DAY,
  which is the visit day the window rule picked. Rows whose analysed value
  (CHG for change endpoints, AVAL otherwise) is missing are left out and
  counted as ``n_missing`` of their arm.
* Every treated arm (the SAP's arms after the first) is compared with the
  reference arm (the first). Differences are treated minus reference; ratios
  treated over reference.
* An arm with no analysable subject makes the analysis not estimable
  (NotEstimable: the pipeline writes its entry with the reason, the other
  analyses run). A comparison the data cannot support (too few values, no
  variation) is reported without numbers and a note says why.
* ``tests`` hold one test per comparison, in the order of ``comparisons``.
* Log-transformed endpoints (values are natural logs): welch and paired report
  exp of the difference or of the mean change (both ``geometric_mean_ratio``:
  treated over reference, follow-up over baseline) with exp of the CI; their ``se`` would be on the
  log scale, so it is left out. Wilcoxon's Hodges-Lehmann shift stays on the
  log scale (a note says so).
* Quartiles are R's default (type 7, numpy's "linear").
"""

from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence, Sized

import numpy as np
import pandas as pd

from ..errors import AnalysisError
from ..specs import METHODS
from ..results import AnalysisResult, Comparison, Test
from .cores.common import Interval, NotEstimable, exp_or_inf
from .cores import proportions, ranks, ttests

__all__ = ["run_welch", "run_wilcoxon", "run_paired", "run_binary", "analysis_rows",
           "arm_values", "n_missing", "require_arms", "continuous_summary", "continuous_by_arm",
           "empty_comparison", "ratio_scale", "make_result"]


# ------------------------------------------------------------------ rows and arms

def analysis_rows(inp, *, all_days: bool = False) -> pd.DataFrame:
    """The endpoint rows the method analyses, checked, in a fixed order.

    Rows are sorted by USUBJID (and DAY) so that results do not depend on the
    order of the input rows.
    """
    data = inp.data
    for column in ("USUBJID", "ARM", inp.response()):
        if column not in data.columns:
            raise AnalysisError(inp.id, f"the endpoint data have no column {column}",
                                "derive the endpoint before analysing it")
    unknown = sorted(set(data["ARM"].dropna().astype(str)) - set(inp.arms))
    if unknown:
        raise AnalysisError(inp.id, f"ARM value(s) {unknown} are not arms of the SAP {list(inp.arms)}",
                            "correct ARM in adsl or list the arm in [study] arms")
    rows = data[data["ARM"].notna()]
    repeated = "DAY" in rows.columns and rows["USUBJID"].duplicated().any()
    if not all_days and inp.target_day is not None and repeated:
        rows = rows[rows["DAY"] == inp.target_day]
        if rows.empty:
            raise NotEstimable(f"no subject has a value on the target day {inp.target_day}")
    keys = ["USUBJID", "DAY"] if all_days and "DAY" in rows.columns else ["USUBJID"]
    duplicated = rows.duplicated(keys, keep=False)
    if duplicated.any():
        first = rows.loc[duplicated, keys].iloc[0].tolist()
        raise AnalysisError(inp.id, f"{' '.join(map(str, first))} has more than one row "
                            f"(one row per {' and '.join(keys)} is expected)",
                            "aggregate the visits with the SAP's daily rule before analysing")
    return rows.sort_values(keys, kind="mergesort").reset_index(drop=True)


def arm_values(rows: pd.DataFrame, column: str, arms: Sequence[str]) -> dict[str, np.ndarray]:
    """Sorted non-missing values of ``column`` in each arm (sorting makes row order irrelevant)."""
    values = pd.to_numeric(rows[column], errors="coerce")
    return {arm: np.sort(values[(rows["ARM"] == arm).to_numpy()].dropna().to_numpy(dtype=float))
            for arm in arms}


def n_missing(rows: pd.DataFrame, column: str, arms: Sequence[str]) -> dict[str, int]:
    missing = pd.to_numeric(rows[column], errors="coerce").isna()
    return {arm: int((missing & (rows["ARM"] == arm)).sum()) for arm in arms}


def require_arms(inp, values: Mapping[str, Sized], minimum: int = 2,
                 what: str = "a value of the endpoint") -> None:
    """Every SAP arm must have data (``values``: each arm's values or counts by arm);
    a comparison method needs at least ``minimum`` arms."""
    if len(inp.arms) < minimum:
        raise AnalysisError(inp.id, f"method {inp.method} compares arms but the SAP names "
                            f"{len(inp.arms)}.", "use method 'paired' or 'binary' for a single arm.")
    empty = [arm for arm in inp.arms if _size(values[arm]) == 0]
    if empty:
        raise NotEstimable(f"arm(s) {empty} have no subject with {what} (check ARM and the "
                           "analysis population, or remove the arm from the SAP)")


def _size(v) -> int:
    return v if isinstance(v, int) else len(v)


# ------------------------------------------------------------------ summaries

def _number(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def continuous_summary(values: np.ndarray) -> dict:
    """n, mean, sd, median, quartiles, min and max of one arm (None where undefined)."""
    n = len(values)
    if n == 0:
        return {"n": 0, **{k: None for k in ("mean", "sd", "median", "q1", "q3", "min", "max")}}
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return {"n": n, "mean": _number(np.mean(values)),
            "sd": _number(np.std(values, ddof=1)) if n > 1 else None,
            "median": _number(median), "q1": _number(q1), "q3": _number(q3),
            "min": _number(values[0]), "max": _number(values[-1])}


def continuous_by_arm(inp, rows: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict]:
    """Each arm's values and its summary (+ geometric mean for logs, + mean baseline)."""
    column = inp.response()
    values = arm_values(rows, column, inp.arms)
    missing = n_missing(rows, column, inp.arms)
    has_base = "BASE" in rows.columns and rows["BASE"].notna().any()
    by_arm = {}
    for arm in inp.arms:
        stats = continuous_summary(values[arm])
        stats["n_missing"] = missing[arm]
        if inp.transform == "log":
            stats["geometric_mean"] = None if stats["mean"] is None else exp_or_inf(stats["mean"])
        if has_base:
            analysed = (rows["ARM"] == arm) & pd.to_numeric(rows[column], errors="coerce").notna()
            base = pd.to_numeric(rows.loc[analysed, "BASE"], errors="coerce").dropna()
            stats["base_mean"] = _number(base.mean()) if len(base) else None
        by_arm[arm] = stats
    return values, by_arm


# ------------------------------------------------------------------ comparisons

def empty_comparison(arm: str, reference: str | None, estimand: str, level: float) -> Comparison:
    """A comparison the data cannot support: no numbers (a note says why)."""
    return Comparison(arm, reference, estimand, None, (None, None), level)


def ratio_scale(estimate: float, ci: Interval) -> tuple[float, tuple[float, float]]:
    """exp of a log-scale estimate and its CI."""
    return exp_or_inf(estimate), (exp_or_inf(ci.lower), exp_or_inf(ci.upper))


def _t_comparison(arm, reference, result: ttests.TTest, estimand, ratio_estimand, log) -> Comparison:
    if log:
        estimate, ci = ratio_scale(result.estimate, result.ci)
        return Comparison(arm, reference, ratio_estimand, estimate, ci, result.ci.level,
                          p_value=result.p_value, df=result.df)
    return Comparison(arm, reference, estimand, result.estimate, result.ci.astuple(),
                      result.ci.level, p_value=result.p_value, se=result.se, df=result.df)


def _each_treated(inp, compare: Callable[[str], tuple[Comparison, Test]], estimand: str):
    """Run ``compare`` for every treated arm; a NotEstimable comparison becomes a note."""
    comparisons, tests, notes = [], [], []
    for arm in inp.arms[1:]:
        try:
            comparison, test = compare(arm)
        except NotEstimable as why:
            comparison = empty_comparison(arm, inp.reference, estimand, inp.ci_level)
            test = Test(METHODS[inp.method].unestimable_test, None, None, None)
            notes.append(f"{arm} vs {inp.reference}: {why}")
        comparisons.append(comparison)
        tests.append(test)
    return tuple(comparisons), tuple(tests), notes


def make_result(inp, by_arm, tests=(), comparisons=(), notes=()) -> AnalysisResult:
    return AnalysisResult(id=inp.id, endpoint=inp.endpoint, method=inp.method, by_arm=by_arm,
                          tests=tuple(tests), comparisons=tuple(comparisons),
                          notes=tuple(dict.fromkeys(notes)), options=dict(inp.options))


# ------------------------------------------------------------------ runners

def run_welch(inp) -> AnalysisResult:
    """Difference in means (treated - reference), Welch t CI and test (``t.test``)."""
    rows = analysis_rows(inp)
    values, by_arm = continuous_by_arm(inp, rows)
    require_arms(inp, values)
    log = inp.transform == "log"

    def compare(arm):
        r = ttests.welch(values[arm], values[inp.reference], inp.ci_level)
        return (_t_comparison(arm, inp.reference, r, "mean_difference", "geometric_mean_ratio", log),
                Test("t", r.statistic, r.df, r.p_value))

    comparisons, tests, notes = _each_treated(
        inp, compare, "geometric_mean_ratio" if log else "mean_difference")
    if log:
        notes.append("values are logs: estimates are ratios of geometric means, exp of the "
                     "difference in mean logs, with exp of its CI")
    return make_result(inp, by_arm, tests, comparisons, notes)


def run_wilcoxon(inp) -> AnalysisResult:
    """Hodges-Lehmann shift with the Wilcoxon rank-sum test and CI (``wilcox.test``);
    on worst-rank scores (a composite strategy) the win probability instead."""
    if inp.composite:
        return _run_win_probability(inp)
    rows = analysis_rows(inp)
    values, by_arm = continuous_by_arm(inp, rows)
    require_arms(inp, values)
    extra = []

    def compare(arm):
        r = ranks.rank_sum(values[arm], values[inp.reference], inp.ci_level)
        extra.extend(f"{arm} vs {inp.reference}: {n}" for n in r.notes)
        return (Comparison(arm, inp.reference, "hodges_lehmann_shift", r.estimate, r.ci.astuple(),
                           r.ci.level, p_value=r.p_value),
                Test("wilcoxon", r.statistic, None, r.p_value))

    comparisons, tests, notes = _each_treated(inp, compare, "hodges_lehmann_shift")
    notes = extra + notes + ["W is the Mann-Whitney statistic of the treated arm, as R reports it; "
                             "exact p and CI when both arms have < 50 values and no ties"]
    if inp.transform == "log":
        notes.append("values are logs: the shift is on the log scale (exp of it is a ratio)")
    return make_result(inp, by_arm, tests, comparisons, notes)


WIN_PROBABILITY_NOTE = (
    "worst-rank scores (Lachin 1999): win probability = U / (n1 n0) = P(treated better) + "
    "P(tie) / 2, > 0.5 favours the treated arm; p: Wilcoxon rank-sum test on the scores "
    "(exact when both arms have < 50 values and no ties, else normal with continuity "
    "correction); CI: Newcombe (2006) method 5 score interval")


def composite_by_arm(inp, rows: pd.DataFrame, values: Mapping[str, np.ndarray]) -> dict:
    """n, missing and how many scores are composite, per arm (means of scores mean nothing)."""
    strategy = rows.get("ICE", pd.Series("", index=rows.index)).fillna("").str.split(":").str[1]
    missing = n_missing(rows, inp.response(), inp.arms)
    out = {}
    for arm in inp.arms:
        in_arm = (rows["ARM"] == arm).to_numpy()
        out[arm] = {"n": len(values[arm]), "n_missing": missing[arm],
                    "n_composite_worst": int((in_arm & (strategy == "composite_worst")).sum()),
                    "n_composite_best": int((in_arm & (strategy == "composite_best")).sum())}
    return out


def _run_win_probability(inp) -> AnalysisResult:
    rows = analysis_rows(inp)
    values = arm_values(rows, inp.response(), inp.arms)
    require_arms(inp, values)
    by_arm = composite_by_arm(inp, rows, values)

    sign = 1.0 if inp.higher_is_better else -1.0    # better = a higher score

    def compare(arm):
        r = ranks.win_probability(sign * values[arm], sign * values[inp.reference], inp.ci_level)
        return (Comparison(arm, inp.reference, "win_probability", r.estimate, r.ci.astuple(),
                           r.ci.level, p_value=r.p_value),
                Test("wilcoxon", r.statistic, None, r.p_value))

    comparisons, tests, notes = _each_treated(inp, compare, "win_probability")
    direction = ("higher" if inp.higher_is_better else "lower") + " values are better"
    return make_result(inp, by_arm, tests, comparisons,
                       notes + [f"{WIN_PROBABILITY_NOTE}; {direction}"])


def run_paired(inp) -> AnalysisResult:
    """Change from baseline within each arm: paired t (mean) and signed-rank (pseudo-median)."""
    if inp.endpoint_kind != "change":
        raise AnalysisError(inp.id, "the paired analysis needs a change-from-baseline endpoint",
                            "set kind = \"change\" for the endpoint")
    rows = analysis_rows(inp)
    values, by_arm = continuous_by_arm(inp, rows)
    require_arms(inp, values, minimum=1)
    log = inp.transform == "log"
    comparisons, tests, notes = [], [], []
    for arm in inp.arms:
        mean, median, t_test, rank_test = _paired_arm(arm, values[arm], inp.ci_level, log, notes)
        comparisons += [mean, median]
        tests += [t_test, rank_test]
    if log:
        notes.append("values are logs: mean changes are geometric mean ratios (follow-up / "
                     "baseline); the pseudo-median change stays on the log scale")
    notes.append("signed-rank: exact p and CI when n < 50 and there are no ties or zero changes")
    return make_result(inp, by_arm, tests, comparisons, notes)


def _paired_arm(arm, changes, level, log, notes):
    try:
        r = ttests.one_sample(changes, level)
        mean = _t_comparison(arm, None, r, "mean_change", "geometric_mean_ratio", log)
        t_test = Test("paired_t", r.statistic, r.df, r.p_value)
    except NotEstimable as why:
        mean = empty_comparison(arm, None, "geometric_mean_ratio" if log else "mean_change", level)
        t_test = Test("paired_t", None, None, None)
        notes.append(f"{arm}: {why}")
    try:
        s = ranks.signed_rank(changes, level)
        median = Comparison(arm, None, "median_change", s.estimate, s.ci.astuple(), s.ci.level,
                            p_value=s.p_value)
        rank_test = Test("signed_rank", s.statistic, None, s.p_value)
        notes.extend(f"{arm}: {n}" for n in s.notes)
    except NotEstimable as why:
        median = empty_comparison(arm, None, "median_change", level)
        rank_test = Test("signed_rank", None, None, None)
        notes.append(f"{arm}: {why}")
    return mean, median, t_test, rank_test


# ------------------------------------------------------------------ binary

def _binary_counts(inp, rows) -> dict[str, tuple[int, int]]:
    values = arm_values(rows, inp.response(), inp.arms)
    for arm, v in values.items():
        bad = sorted(set(v.tolist()) - {0.0, 1.0})
        if bad:
            raise AnalysisError(inp.id, f"binary endpoint values must be 0 or 1; arm {arm} has {bad}",
                                "derive the endpoint as 1 = event, 0 = no event")
    return {arm: (int(v.sum()), len(v)) for arm, v in values.items()}


def run_binary(inp) -> AnalysisResult:
    """Proportions; treated vs reference: risk difference, risk ratio and odds ratio.

    Options: test = "fisher" (default) or "chi_square" gives the p-value of all
    three comparisons. Single arm: the proportion with its Clopper-Pearson CI
    and no test (a test against an arbitrary rate would mean nothing here).
    """
    test_name = inp.options.get("test", "fisher")
    if test_name not in ("fisher", "chi_square"):
        raise AnalysisError(inp.id, f"unknown test {test_name!r}", "use test = \"fisher\" or \"chi_square\"")
    rows = analysis_rows(inp)
    counts = _binary_counts(inp, rows)
    require_arms(inp, {arm: n for arm, (_, n) in counts.items()}, minimum=1)
    missing = n_missing(rows, inp.response(), inp.arms)
    by_arm = {}
    for arm, (events, n) in counts.items():
        cp = proportions.clopper_pearson(events, n, inp.ci_level)
        by_arm[arm] = {"n": n, "events": events, "n_missing": missing[arm],
                       "proportion": cp.estimate, "ci": list(cp.ci.astuple())}
    if len(inp.arms) == 1:
        arm = inp.arms[0]
        c = Comparison(arm, None, "proportion", by_arm[arm]["proportion"],
                       tuple(by_arm[arm]["ci"]), inp.ci_level)
        return make_result(inp, by_arm, (), (c,), ["exact Clopper-Pearson interval (binom.test)"])
    comparisons, tests, notes = [], [], []
    for arm in inp.arms[1:]:
        table = (*counts[arm], *counts[inp.reference])
        test = _binary_test(test_name, table, notes, arm, inp.reference)
        comparisons += _binary_comparisons(arm, inp.reference, table, inp.ci_level, test.p_value, notes)
        tests.append(test)
    test_label = ("Fisher's exact test" if test_name == "fisher"
                  else "Pearson chi-square without continuity correction")
    notes += ["risk difference: Newcombe hybrid score CI (method 10); risk ratio: Katz log CI; "
              "odds ratio: conditional maximum likelihood with exact CI (fisher.test)",
              f"p-values of all three comparisons: {test_label}"]
    return make_result(inp, by_arm, tests, comparisons, notes)


def _binary_test(name, table, notes, arm, reference) -> Test:
    if name == "fisher":
        return Test("fisher", None, None, proportions.fisher_exact(*table).p_value)
    try:
        chi = proportions.chi_square(*table)
        return Test("chi_square", chi.statistic, chi.df, chi.p_value)
    except NotEstimable as why:
        notes.append(f"{arm} vs {reference}: {why}")
        return Test("chi_square", None, 1, None)


def _binary_comparisons(arm, reference, table, level, p_value, notes) -> list[Comparison]:
    x1, n1, x2, n2 = table
    out = []
    rd = proportions.newcombe_difference(*table, level)
    out.append(Comparison(arm, reference, "risk_difference", rd.estimate, rd.ci.astuple(),
                          level, p_value=p_value))
    try:
        rr = proportions.katz_risk_ratio(*table, level)
        out.append(Comparison(arm, reference, "risk_ratio", rr.estimate, rr.ci.astuple(), level,
                              p_value=p_value))
        notes.extend(f"{arm} vs {reference}: {n}" for n in rr.notes)
    except NotEstimable as why:
        out.append(empty_comparison(arm, reference, "risk_ratio", level))
        notes.append(f"{arm} vs {reference}: {why}")
    out.append(_odds_ratio(arm, reference, table, level, p_value, notes))
    return out


def _odds_ratio(arm, reference, table, level, p_value, notes) -> Comparison:
    x1, n1, x2, n2 = table
    if x1 + x2 in (0, n1 + n2):
        # one table only fits the margins: fisher.test says 0 (0, Inf), which means nothing
        notes.append(f"{arm} vs {reference}: the odds ratio is undefined when no subject (or "
                     f"every subject) had the event")
        return empty_comparison(arm, reference, "odds_ratio", level)
    f = proportions.fisher_exact(*table, level)
    if f.odds_ratio in (0.0, math.inf):
        notes.append(f"{arm} vs {reference}: a zero cell makes the odds ratio "
                     f"{'0' if f.odds_ratio == 0 else 'infinite'}; its exact CI is "
                     f"{f.ci.lower:.4g} to {f.ci.upper:.4g}")
    return Comparison(arm, reference, "odds_ratio", f.odds_ratio, f.ci.astuple(), level,
                      p_value=p_value)
