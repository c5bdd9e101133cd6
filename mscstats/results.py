"""Frozen result types shared by every analysis, and their JSON form.

Computing and presenting are separate: analyses return these objects with
full-precision numbers; tables.py rounds them, figures.py draws them.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["Test", "Comparison", "Curve", "MissingCount", "AnalysisResult", "EstimandResult",
           "TrialResults",
           "clean_number",
           "to_jsonable", "dumps_json"]


def clean_number(x: Any) -> Any:
    """numpy scalars -> Python; NaN -> None; an infinity -> "Infinity" / "-Infinity".

    JSON has neither NaN nor infinity. None means "not estimable" (a reason comes
    with it); an infinite estimate or limit (e.g. a zero cell) is a value, written
    as the string DESIGN.md section 6 names.
    """
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x) + 0.0  # + 0.0 turns -0.0 into 0.0
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return x
    return x


def to_jsonable(obj: Any) -> Any:
    """Recursively turn results into JSON-ready Python objects."""
    if hasattr(obj, "to_dict") and not isinstance(obj, type):
        return obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [to_jsonable(v) for v in obj]
    return clean_number(obj)


def dumps_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, floats as Python's repr, no NaN."""
    return json.dumps(to_jsonable(obj), sort_keys=True, indent=2, allow_nan=False,
                      ensure_ascii=False) + "\n"


def _fmt(x: Any, digits: int = 4) -> str:
    # Display only (repr/summary); tables.py does the formatting of reports.
    if x is None:
        return "NA"
    if isinstance(x, float):
        if math.isnan(x):
            return "NA"
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        return f"{x:.{digits}g}"
    return str(x)


class _Presentable:
    """Readable summary, HTML table, DataFrame and dict for every result."""

    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):  # type: ignore[arg-type]
            out[f.name] = to_jsonable(getattr(self, f.name))
        return out

    def to_frame(self):
        import pandas as pd
        return pd.DataFrame([self.to_dict()])

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, escape=True, na_rep="NA")


@dataclass(frozen=True)
class Test(_Presentable):
    """A hypothesis test: its name (see schema.TEST_NAMES), statistic, df and p-value."""
    __test__ = False  # not a pytest test class
    name: str
    statistic: float | None
    df: float | None
    p_value: float | None

    def __str__(self) -> str:
        df = "" if self.df is None else f", df = {_fmt(self.df)}"
        return f"{self.name}: statistic = {_fmt(self.statistic)}{df}, p = {_fmt(self.p_value)}"


@dataclass(frozen=True)
class Comparison(_Presentable):
    """A treated arm against the reference arm (or, single arm, the arm itself)."""
    arm: str
    reference: str | None
    estimand: str
    estimate: float | None
    ci: tuple[float | None, float | None]
    ci_level: float
    p_value: float | None = None
    p_adjusted: float | None = None
    se: float | None = None
    df: float | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        for key in ("p_adjusted", "se", "df"):  # optional fields appear only when set
            if out[key] is None:
                del out[key]
        return out

    def __str__(self) -> str:
        vs = f" vs {self.reference}" if self.reference else ""
        lo, hi = self.ci
        s = (f"{self.arm}{vs}: {self.estimand} = {_fmt(self.estimate)} "
             f"({self.ci_level:.0%} CI {_fmt(lo)} to {_fmt(hi)}), p = {_fmt(self.p_value)}")
        if self.p_adjusted is not None:
            s += f", adjusted p = {_fmt(self.p_adjusted)}"
        return s


@dataclass(frozen=True)
class Curve(_Presentable):
    """A step function per arm (Kaplan-Meier survival or cumulative incidence).

    ``time`` holds the distinct times at which the estimate changes or a subject
    is censored; ``estimate[i]`` is the value from ``time[i]`` on. Figures draw
    these as they are.
    """
    arm: str
    kind: str                         # "survival" | "cumulative_incidence"
    time: tuple[float, ...]
    estimate: tuple[float, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    n_risk: tuple[int, ...]
    n_event: tuple[int, ...]
    n_censor: tuple[int, ...]


@dataclass(frozen=True)
class MissingCount(_Presentable):
    """Subjects of an analysis population without an analysed value, by arm, visit day
    (the horizon for endpoints without one) and reason (DESIGN.md 9)."""
    arm: str
    day: int
    reason: str
    n: int

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MissingCount":
        return cls(str(data["arm"]), int(data["day"]), str(data["reason"]), int(data["n"]))


ESTIMABLE, NOT_ESTIMABLE = "estimable", "not_estimable"
SUMMARY_KEYS = ("baseline", "flow", "safety", "course")


@dataclass(frozen=True)
class AnalysisResult(_Presentable):
    """Everything one ``[[analysis]]`` of the SAP produced.

    ``status`` is "not_estimable" when the analysis could not be computed on the
    data (no convergence, an arm without subjects, a singular design): it then
    has no numbers and ``reason`` says why (DESIGN.md section 6). Both keys are
    written to results.json only for such an analysis.
    """
    id: str
    endpoint: str
    method: str
    by_arm: Mapping[str, Mapping[str, Any]]
    tests: tuple[Test, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    curves: tuple[Curve, ...] = ()
    notes: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    # tipping_point only (DESIGN.md 9): the grid of completed analyses and the tipping
    # point (binary: the boundary rows; continuous: a delta or None); absent otherwise
    grid: tuple[Mapping[str, Any], ...] | None = None
    tipping_point: Any = None
    # DESIGN.md 9: the missing values of the analysis population, and warnings
    # about arms analysed with few of their randomized subjects
    missingness: tuple[MissingCount, ...] = ()
    warnings: tuple[str, ...] = ()
    status: str = ESTIMABLE
    reason: str | None = None
    # mmrm only: the covariance structure fitted (the first of the SAP's list that converges)
    covariance: str | None = None

    @classmethod
    def not_estimable(cls, id: str, endpoint: str, method: str, reason: str,
                      options: Mapping[str, Any] | None = None) -> "AnalysisResult":
        """The entry of an analysis that cannot be computed: no numbers, the reason."""
        return cls(id=id, endpoint=endpoint, method=method, by_arm={},
                   options=dict(options or {}), status=NOT_ESTIMABLE, reason=reason)

    @property
    def estimable(self) -> bool:
        return self.status == ESTIMABLE

    def to_dict(self) -> dict:
        out = super().to_dict()
        if not self.curves:
            del out["curves"]
        if self.grid is None:
            del out["grid"], out["tipping_point"]
        if self.estimable:         # estimable analyses keep their JSON as it always was
            del out["status"], out["reason"]
        if self.covariance is None:
            del out["covariance"]
        return out

    def comparison(self, arm: str) -> Comparison:
        for c in self.comparisons:
            if c.arm == arm:
                return c
        raise KeyError(f"analysis {self.id!r} has no comparison for arm {arm!r}")

    def test(self, name: str) -> Test:
        for t in self.tests:
            if t.name == name:
                return t
        raise KeyError(f"analysis {self.id!r} has no test {name!r}")

    def to_frame(self):
        """One row per comparison (or per arm when there is no comparison; one row
        with the reason when the analysis is not estimable)."""
        import pandas as pd
        if not self.estimable:
            return pd.DataFrame([{"analysis": self.id, "endpoint": self.endpoint,
                                  "method": self.method, "status": self.status,
                                  "reason": self.reason}])
        rows = []
        for c in self.comparisons:
            row = {"analysis": self.id, "endpoint": self.endpoint, "method": self.method}
            row.update({k: v for k, v in c.to_dict().items() if k != "ci"})
            row["ci_lower"], row["ci_upper"] = c.ci
            rows.append(row)
        if not rows:
            for arm, stats in self.by_arm.items():
                row = {"analysis": self.id, "endpoint": self.endpoint, "method": self.method,
                       "arm": arm}
                row.update({k: v for k, v in stats.items() if not isinstance(v, (list, tuple))})
                rows.append(row)
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        lines = [f"Analysis {self.id} ({self.method}) of endpoint {self.endpoint}"]
        if not self.estimable:
            lines.append(f"  not estimable: {self.reason}")
        for arm, stats in self.by_arm.items():
            shown = ", ".join(f"{k} = {_fmt(v)}" for k, v in stats.items()
                              if not isinstance(v, (list, tuple, Mapping)))
            lines.append(f"  {arm}: {shown}")
        lines += [f"  {t}" for t in self.tests]
        lines += [f"  {c}" for c in self.comparisons]
        if self.grid is not None:
            tip = self.tipping_point
            shown = f"{len(tip)} boundary table(s)" if isinstance(tip, tuple) else \
                ("none in the grid" if tip is None else f"delta = {_fmt(tip)}")
            lines.append(f"  tipping point: {shown} ({len(self.grid)} grid rows)")
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(self.id)}</b> ({html.escape(self.method)}) of " \
               f"{html.escape(self.endpoint)}</p>"
        return head + self.to_frame().to_html(index=False, escape=True, na_rep="NA")


@dataclass(frozen=True)
class EstimandResult(_Presentable):
    """One ``[[estimand]]`` of the SAP with its attributes (ICH E9(R1), DESIGN.md 9)."""
    id: str
    analysis: str
    population: str
    variable: str                          # the endpoint label
    intercurrent: Mapping[str, str]        # {event: strategy}
    summary_measure: str | None            # the main analysis's estimand name
    sensitivity: tuple[str, ...]
    n_randomized: Mapping[str, int]
    n_analysed: Mapping[str, int | None]


@dataclass(frozen=True)
class TrialResults(_Presentable):
    """The results.json document: every analysis, the data-quality log, the manifest."""
    mscstats_version: str
    manifest: Mapping[str, Any]
    data_quality: Mapping[str, Any]
    analyses: tuple[AnalysisResult, ...]
    estimands: tuple[EstimandResult, ...] = ()
    # Summaries computed once (DESIGN.md 10), the classes of summaries/records.py:
    # BaselineSummary, FlowSummary, SafetySummary, CourseSummary; None (and absent
    # from the JSON) when not computed
    baseline: Any = None
    flow: Any = None
    safety: Any = None
    course: Any = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        for key in SUMMARY_KEYS:
            if out[key] is None:
                del out[key]
        return out

    def __getitem__(self, analysis_id: str) -> AnalysisResult:
        for a in self.analyses:
            if a.id == analysis_id:
                return a
        raise KeyError(analysis_id)

    def to_json(self) -> str:
        return dumps_json(self)

    @property
    def not_estimable(self) -> tuple[AnalysisResult, ...]:
        """The analyses that could not be computed (each with its reason)."""
        return tuple(a for a in self.analyses if not a.estimable)

    def to_frame(self):
        import pandas as pd
        frames = [a.to_frame() for a in self.analyses]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def __str__(self) -> str:
        return "\n\n".join(str(a) for a in self.analyses)

    def _repr_html_(self) -> str:
        return "".join(a._repr_html_() for a in self.analyses)


def comparisons_of(results: Sequence[AnalysisResult]) -> list[tuple[AnalysisResult, Comparison]]:
    """Every (analysis, comparison) pair, in SAP order (for forest plots and tables)."""
    return [(a, c) for a in results for c in a.comparisons]
