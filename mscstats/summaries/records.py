"""The typed summaries results.json holds besides the analyses (DESIGN.md 10):
baseline characteristics, subject flow, safety and the daily course of the
parameters the figures draw.

Frozen dataclasses with full-precision numbers; ``to_dict`` gives their JSON
form and ``from_dict`` reads it back (a results.json re-loaded gives equal
objects). tables.py formats them and figures.py draws the frames they convert to.
Per-arm numbers are mappings arm -> value; a baseline or safety column "Total"
is its own field, so an arm named "Total" cannot collide with it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ..results import _Presentable

__all__ = ["ContinuousSummary", "CategoricalSummary", "BaselineVariable", "BaselineSummary",
           "FlowStage", "FlowSummary", "RiskDifference", "AeRow", "GradeRow", "ListingRow",
           "SafetySummary", "DayMean", "Trajectory", "ParamCourse", "WhoCourse", "CourseSummary",
           "INCIDENCE_COLUMNS", "DAY_COLUMNS"]

INCIDENCE_COLUMNS = ["AEBODSYS", "AEDECOD", "ARM", "n", "N", "events", "proportion"]
DAY_COLUMNS = ["ARM", "DAY", "n", "mean", "lower", "upper"]


def _number(x: Any) -> Any:
    """JSON's "Infinity" back to a float; None stays None (not computable)."""
    if x in ("Infinity", "-Infinity"):
        return float(x.replace("Infinity", "inf"))
    return x


class _Record(_Presentable):
    """from_dict for records whose fields are plain values, mappings of plain values,
    or (listed in ``_nested``) records, tuples of records or mappings arm -> record."""
    _nested: Mapping[str, tuple[str, type]] = {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]):
        kwargs = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            shape, kind = cls._nested.get(f.name, ("", None))
            if kind is None or value is None:
                kwargs[f.name] = _plain(value)
            elif shape == "one":
                kwargs[f.name] = kind.from_dict(value)
            elif shape == "tuple":
                kwargs[f.name] = tuple(kind.from_dict(v) for v in value)
            else:                                  # "map": key -> record
                kwargs[f.name] = {k: kind.from_dict(v) for k, v in value.items()}
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return _number(value)


# --------------------------------------------------------------------------
# Baseline
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class ContinuousSummary(_Record):
    """n with a value, missing, and the summaries (None when n is 0; sd when n < 2)."""
    n: int
    missing: int
    mean: float | None
    sd: float | None
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class CategoricalSummary(_Record):
    """n with a value, missing, and the subjects per level (every level, 0 included)."""
    n: int
    missing: int
    counts: Mapping[str, int]


@dataclass(frozen=True)
class BaselineVariable(_Record):
    """One block of the baseline table: per arm and in total."""
    name: str
    label: str
    kind: str                                          # "continuous" | "categorical"
    by_arm: Mapping[str, Any]                          # arm -> Continuous/CategoricalSummary
    total: Any
    levels: tuple[str, ...] = ()                       # categorical: in display order

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "BaselineVariable":
        kind = ContinuousSummary if data["kind"] == "continuous" else CategoricalSummary
        return cls(data["name"], data["label"], data["kind"],
                   {arm: kind.from_dict(s) for arm, s in data["by_arm"].items()},
                   kind.from_dict(data["total"]), tuple(data.get("levels", ())))


@dataclass(frozen=True)
class BaselineSummary(_Record):
    population: str
    arms: tuple[str, ...]
    n: Mapping[str, int]                                # subjects per arm
    n_total: int
    variables: tuple[BaselineVariable, ...]
    _nested = {"variables": ("tuple", BaselineVariable)}


# --------------------------------------------------------------------------
# Subject flow (CONSORT)
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class FlowStage(_Record):
    """A box of the CONSORT flow: subjects per arm (None: not applicable to the arm,
    e.g. treated for an arm without study drug) and in total."""
    name: str               # screened, randomized, treated, discontinued, died,
    label: str              # lost_to_follow_up, completed, analysed_<population>
    by_arm: Mapping[str, int | None]
    total: int | None
    note: str = ""


@dataclass(frozen=True)
class FlowSummary(_Record):
    arms: tuple[str, ...]
    stages: tuple[FlowStage, ...]
    notes: tuple[str, ...] = ()
    _nested = {"stages": ("tuple", FlowStage)}

    def stage(self, name: str) -> FlowStage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"the flow has no stage {name!r}")


# --------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class RiskDifference(_Record):
    """Arm minus reference proportion (Newcombe hybrid score interval)."""
    estimate: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class AeRow(_Record):
    """Subjects with >= 1 event and events, per arm and in total. A body-system row has
    term ""; a category row (any, serious ...) names the category in ``soc``."""
    soc: str
    term: str
    subjects: Mapping[str, int]
    events: Mapping[str, int]
    total_subjects: int
    total_events: int
    risk_differences: Mapping[str, RiskDifference] = None  # type: ignore[assignment]
    _nested = {"risk_differences": ("map", RiskDifference)}

    def __post_init__(self):
        if self.risk_differences is None:
            object.__setattr__(self, "risk_differences", {})


@dataclass(frozen=True)
class GradeRow(_Record):
    """Subjects by the maximum grade of their events ("1".."5", or "missing" when none
    of their events has a grade)."""
    grade: str
    subjects: Mapping[str, int]
    total: int


@dataclass(frozen=True)
class ListingRow(_Record):
    subject: str
    arm: str
    day: int
    event: str
    grade: int | None
    serious: bool
    fatal: bool


@dataclass(frozen=True)
class SafetySummary(_Record):
    """Treatment-emergent adverse events of the safety population."""
    population: str
    arms: tuple[str, ...]
    n: Mapping[str, int]
    n_total: int
    categories: tuple[AeRow, ...]
    by_term: tuple[AeRow, ...]           # body system rows, each followed by its terms
    infusion: tuple[AeRow, ...]
    serious: tuple[AeRow, ...]
    fatal: tuple[AeRow, ...]
    by_grade: tuple[GradeRow, ...]
    listing: tuple[ListingRow, ...]
    most_common: tuple[str, ...]         # the preferred terms an AE dot plot shows
    infusion_routes: tuple[str, ...]
    _nested = {"categories": ("tuple", AeRow), "by_term": ("tuple", AeRow),
               "infusion": ("tuple", AeRow), "serious": ("tuple", AeRow),
               "fatal": ("tuple", AeRow), "by_grade": ("tuple", GradeRow),
               "listing": ("tuple", ListingRow)}

    def incidence_frame(self, rows) -> "Any":
        """INCIDENCE_COLUMNS, one row per AE row and arm (what figures.py draws)."""
        import pandas as pd
        out = [[r.soc, r.term, arm, r.subjects[arm], self.n[arm], r.events[arm],
                r.subjects[arm] / self.n[arm] if self.n[arm] else float("nan")]
               for r in rows for arm in self.arms]
        return pd.DataFrame(out, columns=INCIDENCE_COLUMNS)

    def risk_difference_frame(self, rows) -> "Any":
        import pandas as pd
        out = [[r.soc, r.term, arm, rd.estimate, rd.lower, rd.upper]
               for r in rows for arm, rd in r.risk_differences.items()]
        return pd.DataFrame(out, columns=["AEBODSYS", "AEDECOD", "ARM", "estimate", "lower",
                                          "upper"]).astype({"estimate": float, "lower": float,
                                                            "upper": float})

    def most_common_rows(self) -> tuple[AeRow, ...]:
        """The preferred-term rows of ``most_common``, in its order."""
        by_name: dict[str, AeRow] = {}
        for r in self.by_term:
            if r.term:
                by_name.setdefault(r.term, r)
        return tuple(by_name[t] for t in self.most_common if t in by_name)


# --------------------------------------------------------------------------
# Course over days (the figures' data)
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class DayMean(_Record):
    """Mean (geometric mean for a log-scale parameter) and t interval on one day."""
    day: int
    n: int
    mean: float
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class Trajectory(_Record):
    """One subject's values by study day (an individual line of a course figure)."""
    days: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class ParamCourse(_Record):
    """A parameter by study day: the arm means and each subject's values
    (arm -> subject -> Trajectory) for the individual lines."""
    param: str
    label: str
    log: bool
    lloq: float | None
    by_arm: Mapping[str, tuple[DayMean, ...]]
    subjects: Mapping[str, Mapping[str, Trajectory]]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ParamCourse":
        return cls(data["param"], data["label"], data["log"], data["lloq"],
                   {arm: tuple(DayMean.from_dict(d) for d in days)
                    for arm, days in data["by_arm"].items()},
                   {arm: {s: Trajectory.from_dict(t) for s, t in subjects.items()}
                    for arm, subjects in data["subjects"].items()})

    def summary_frame(self):
        """DAY_COLUMNS (ARM, DAY, n, mean, lower, upper), as figures.plot_over_days takes."""
        import pandas as pd
        rows = [[arm, d.day, d.n, d.mean, d.lower, d.upper]
                for arm, days in self.by_arm.items() for d in days]
        return pd.DataFrame(rows, columns=DAY_COLUMNS).astype(
            {"mean": float, "lower": float, "upper": float})

    def trajectory_frame(self):
        """USUBJID, ARM, ADY, AVAL: the individual lines."""
        import pandas as pd
        rows = [[s, arm, d, v] for arm, subjects in self.subjects.items()
                for s, t in subjects.items() for d, v in zip(t.days, t.values)]
        return pd.DataFrame(rows, columns=["USUBJID", "ARM", "ADY", "AVAL"])


@dataclass(frozen=True)
class WhoCourse(_Record):
    """Subjects per WHO category 0-10 by arm and day (arm -> day -> 11 counts)."""
    days: tuple[int, ...]
    by_arm: Mapping[str, Mapping[str, tuple[int, ...]]]

    def frame(self):
        """ARM, DAY, CATEGORY, n, proportion (of the subjects with a score that day)."""
        import pandas as pd
        rows = []
        for arm, by_day in self.by_arm.items():
            for day in self.days:
                counts = by_day[str(day)]
                known = sum(counts)
                rows += [[arm, day, c, n, n / known if known else 0.0]
                         for c, n in enumerate(counts)]
        return pd.DataFrame(rows, columns=["ARM", "DAY", "CATEGORY", "n", "proportion"])


@dataclass(frozen=True)
class CourseSummary(_Record):
    population: str
    params: tuple[ParamCourse, ...]
    who: WhoCourse | None = None
    _nested = {"params": ("tuple", ParamCourse), "who": ("one", WhoCourse)}

    def param(self, code: str) -> ParamCourse | None:
        return next((p for p in self.params if p.param == code), None)
