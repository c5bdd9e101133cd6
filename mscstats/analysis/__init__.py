"""Statistical methods: the runner of each SAP method is named by its row in specs.METHODS.

A runner takes an :class:`AnalysisInput` (the derived endpoint rows of one
analysis plus its SAP options) and returns a :class:`~mscstats.results.AnalysisResult`.
The numerical cores beneath the runners take plain arrays and are validated
against R (tests/reference/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..results import AnalysisResult
from ..specs import KINDS, METHODS, resolve

if TYPE_CHECKING:          # simulation workers run without pandas until a runner needs it
    import pandas as pd

__all__ = ["AnalysisInput", "registry", "run"]


@dataclass(frozen=True)
class AnalysisInput:
    """One SAP analysis, ready to run.

    data: the endpoint rows of the analysis population, one row per subject (or per
      subject and DAY for repeated endpoints) with columns USUBJID, ARM, DAY, AVAL,
      BASE, CHG, CNSR, EVNTCD (NaN where they do not apply or are missing), ICE (the
      intercurrent event and strategy applied, "" for none; optional) and the
      adsl covariates AGE, SEX, BMI, STRATUM where present. Rows whose analysed
      value is missing are included; runners exclude them and report ``n_missing``.
    arms: the SAP's arms, reference first (an arm may have no rows: runners say so).
    options: the SAP options of the analysis, already checked by plan.py.
    intercurrent: the endpoint's intercurrent strategies (DESIGN.md 9); with a composite
      one, AVAL/CHG hold worst-rank scores and rank methods report a win probability.
    """
    id: str
    endpoint: str
    endpoint_kind: str
    method: str
    data: pd.DataFrame
    arms: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)
    alpha: float = 0.05
    seed: int = 1
    transform: str | None = None      # "log": values are logs, report ratios
    target_day: int | None = None     # the endpoint's `day` (repeated endpoints)
    horizon: int | None = None        # time-to-event, binary, free_days
    intercurrent: Mapping[str, str] = field(default_factory=dict)   # {event: strategy}
    higher_is_better: bool = True     # the parameter's direction (win probability)

    @property
    def composite(self) -> bool:
        """Worst-rank scores (composite strategies): only their order means something."""
        return any(s.startswith("composite") for s in self.intercurrent.values())

    @property
    def reference(self) -> str:
        return self.arms[0]

    @property
    def ci_level(self) -> float:
        return 1.0 - self.alpha

    def response(self) -> str:
        """The analysed column (specs.KINDS): CHG for change endpoints, AVAL otherwise."""
        return KINDS[self.endpoint_kind].response if self.endpoint_kind in KINDS else "AVAL"


Runner = Callable[[AnalysisInput], AnalysisResult]


def registry() -> dict[str, Runner]:
    """Every method the SAP can name, mapped to its runner."""
    return {name: resolve(row.runner) for name, row in METHODS.items()}


def run(inp: AnalysisInput) -> AnalysisResult:
    """Run the analysis's method (under multiple imputation when ``missing = "mi"``)."""
    if inp.options.get("missing") == "mi" and inp.method != "tipping_point":
        from .missing_data import run_mi
        return run_mi(inp)
    methods = registry()
    if inp.method not in methods:
        raise KeyError(f"no runner for method {inp.method!r}")
    return methods[inp.method](inp)
