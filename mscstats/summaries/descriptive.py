"""Descriptive summaries the report's tables and figures show: baseline
characteristics, parameters over days, the WHO scale by day (the subject flow
is flow.py).

Full-precision numbers in tidy frames and frozen dataclasses; tables.py rounds
them and figures.py draws them.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import schema
from ..derive.daily import DailyValues
from ..derive.events import baseline
from ..trial.quality import Trial
from .records import (DAY_COLUMNS, BaselineSummary, BaselineVariable, CategoricalSummary,
                      ContinuousSummary)

__all__ = ["continuous_summary", "categorical_summary",
           "baseline_characteristics", "daily_summary", "trajectories",
           "lloq", "who_by_day", "number_at_risk", "param_label", "WHO_DAYS"]

WHO_DAYS = (1, 7, 14, 28)
# Baseline parameters shown (when present), in the order a clinician reads them.
BASELINE_PARAMS = ("PF", "SF", "SPO2", "RR", "WHOCPS", "IL6", "TNFA")


def continuous_summary(values) -> ContinuousSummary:
    """n, missing, mean, SD, median, quartiles (R's type 7), min and max; None where a
    number cannot be computed (no value; SD of a single value)."""
    x = np.asarray(values, dtype=float)
    missing = int(np.isnan(x).sum())
    x = x[~np.isnan(x)]
    if not len(x):
        return ContinuousSummary(0, missing, None, None, None, None, None, None, None)
    sd = float(np.std(x, ddof=1)) if len(x) > 1 else None
    q1, median, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))  # R type 7
    return ContinuousSummary(len(x), missing, float(np.mean(x)), sd, median, q1, q3,
                             float(np.min(x)), float(np.max(x)))


def categorical_summary(values: pd.Series, levels: Sequence[str]) -> CategoricalSummary:
    """Subjects per level; an empty or missing value is missing."""
    known = values.notna() & (values.astype(str) != "")
    counts = {lv: int((values[known] == lv).sum()) for lv in levels}
    return CategoricalSummary(int(known.sum()), int((~known).sum()), counts)


def param_label(code: str) -> str:
    """'PaO2/FiO2 (mmHg)': the parameter's label with its unit, for axes and tables."""
    param = schema.find_param(code)
    if param is None:
        return code
    return f"{param.label} ({param.unit})" if param.unit else param.label


def _arm_groups(subjects: pd.DataFrame, arms: Sequence[str]) -> dict[str, pd.DataFrame]:
    return {arm: subjects[subjects["ARM"] == arm] for arm in arms}


def baseline_characteristics(daily: DailyValues, arms: Sequence[str], subjects: pd.DataFrame,
                             population: str = "") -> BaselineSummary:
    """adsl covariates and baseline visit values (last value with ADY <= 1), per arm
    and in total, of the given subjects (the population's adsl rows)."""
    frame = subjects[["USUBJID", "ARM"]].copy()
    columns = {"AGE": "Age (years)", "SEX": "Sex", "BMI": "BMI (kg/m2)", "STRATUM": "Stratum"}
    for name in columns:
        if name in subjects.columns:
            frame[name] = subjects[name].to_numpy()
    for code in BASELINE_PARAMS:
        if len(daily.param(code)):
            frame[code] = frame["USUBJID"].map(baseline(daily, code))
            columns[code] = f"{param_label(code)} at baseline"
    support = _baseline_support(daily)
    if len(support):
        frame["OXYDEV"] = frame["USUBJID"].map(support)
        columns["OXYDEV"] = "Oxygen support at baseline"
    groups = _arm_groups(frame, arms)
    out = [_variable(name, label, frame, groups) for name, label in columns.items()
           if name in frame.columns]
    return BaselineSummary(population, tuple(arms), {arm: len(g) for arm, g in groups.items()},
                           len(frame), tuple(out))


def _variable(name: str, label: str, frame: pd.DataFrame,
              groups: Mapping[str, pd.DataFrame]) -> BaselineVariable:
    if pd.api.types.is_numeric_dtype(frame[name]):
        return BaselineVariable(name, label, "continuous",
                                {arm: continuous_summary(g[name]) for arm, g in groups.items()},
                                continuous_summary(frame[name]))
    levels = _levels(frame[name], name)
    return BaselineVariable(name, label, "categorical",
                            {arm: categorical_summary(g[name], levels)
                             for arm, g in groups.items()},
                            categorical_summary(frame[name], levels), tuple(levels))


def _baseline_support(daily: DailyValues) -> pd.Series:
    support = daily.param("OXYDEV")
    support = support[(support["ADY"] <= 1) & (support["AVALC"] != "")]
    return support.sort_values("ADY", kind="mergesort").groupby("USUBJID")["AVALC"].last()


def _levels(values: pd.Series, name: str) -> list[str]:
    present = [v for v in pd.unique(values.dropna()) if str(v) != ""]
    if name == "OXYDEV":  # least to most support, not alphabetical
        return [c for c in schema.OXYDEV_CODES if c in present]
    return sorted(present, key=str)


def _values_by_arm(daily: DailyValues, subjects: pd.DataFrame, code: str) -> pd.DataFrame:
    values = daily.param(code)[["USUBJID", "ADY", "AVAL"]].dropna(subset=["AVAL"])
    return values.merge(subjects[["USUBJID", "ARM"]], on="USUBJID", how="inner")


def trajectories(daily: DailyValues, subjects: pd.DataFrame, code: str) -> pd.DataFrame:
    """USUBJID, ARM, ADY, AVAL: one value per subject and day (individual lines)."""
    out = _values_by_arm(daily, subjects, code)
    return out.sort_values(["USUBJID", "ADY"], kind="mergesort").reset_index(drop=True)


def daily_summary(daily: DailyValues, subjects: pd.DataFrame, code: str,
                  arms: Sequence[str], log: bool = False, level: float = 0.95,
                  min_n: int = 3) -> pd.DataFrame:
    """ARM, DAY, n, mean, lower, upper: mean and t interval by arm and day; with
    ``log`` the geometric mean and its interval (cytokines are log-normal). Days
    with fewer than ``min_n`` values in an arm are left out: a mean of one or two
    off-schedule measurements says little and its interval swamps the plot."""
    values = _values_by_arm(daily, subjects, code)
    if log:
        values = values[values["AVAL"] > 0].assign(AVAL=lambda d: np.log(d["AVAL"]))
    rows = []
    for (arm, day), group in values.groupby(["ARM", "ADY"], sort=True):
        if arm not in arms or len(group) < min_n:
            continue
        x = group["AVAL"].to_numpy(dtype=float)
        mean, lower, upper = _mean_interval(x, level)
        rows.append([arm, int(day), len(x), mean, lower, upper])
    out = pd.DataFrame(rows, columns=DAY_COLUMNS)
    if log:
        out[["mean", "lower", "upper"]] = np.exp(out[["mean", "lower", "upper"]])
    order = {arm: i for i, arm in enumerate(arms)}
    return out.sort_values(["ARM", "DAY"], key=lambda c: c.map(order) if c.name == "ARM" else c,
                           kind="mergesort").reset_index(drop=True)


def _mean_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    mean = float(np.mean(x))
    if len(x) < 2:
        return mean, float("nan"), float("nan")
    quantile = float(stats.t.ppf(0.5 + level / 2, len(x) - 1))
    half = quantile * float(np.std(x, ddof=1)) / np.sqrt(len(x))
    return mean, mean - half, mean + half


def lloq(trial: Trial, code: str) -> float | None:
    """The parameter's lower limit of quantification (the most common one), or None."""
    values = trial.visits.loc[trial.visits["PARAMCD"] == code, "LLOQ"].dropna()
    if values.empty:
        return None
    return float(values.value_counts().sort_index(kind="mergesort").idxmax())


def who_by_day(daily: DailyValues, subjects: pd.DataFrame, arms: Sequence[str],
               days: Sequence[int] = WHO_DAYS) -> pd.DataFrame:
    """ARM, DAY, CATEGORY (0-10), n, proportion of subjects with a score that day.

    The ordinal endpoint's rule: the score recorded (or derived) that day; dead on
    or before the day is 10; discharged before it without a score is 2.
    """
    scores = daily.param("WHOCPS")[["USUBJID", "ADY", "AVAL"]].dropna(subset=["AVAL"])
    rows = []
    for day in days:
        on_day = subjects["USUBJID"].map(scores[scores["ADY"] == day].set_index("USUBJID")["AVAL"])
        on_day = on_day.where(on_day.notna() | ~(subjects["DSCHDY"] <= day), schema.WHO_DISCHARGED)
        on_day = on_day.where(~(subjects["DTHDY"] <= day), schema.WHO_DEAD)
        for arm in arms:
            known = on_day[(subjects["ARM"] == arm).to_numpy()].dropna()
            for category in range(11):
                count = int((known == category).sum())
                rows.append([arm, day, category, count, count / len(known) if len(known) else 0.0])
    return pd.DataFrame(rows, columns=["ARM", "DAY", "CATEGORY", "n", "proportion"])


def number_at_risk(time: Sequence[float], n_risk: Sequence[int], at: Sequence[float]) -> list[int]:
    """Subjects at risk at each of ``at`` from a curve's (time, n_risk) steps: the
    count at the first step time >= t; 0 after the last step."""
    time = np.asarray(time, dtype=float)
    n_risk = np.asarray(n_risk, dtype=int)
    out = []
    for t in at:
        later = np.nonzero(time >= t)[0]
        out.append(int(n_risk[later[0]]) if len(later) else 0)
    return out
