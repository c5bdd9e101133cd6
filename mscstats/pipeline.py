"""Load -> derive -> analyze: the steps the CLI and notebooks share.

Builds each analysis's input (population, covariates), runs the registry,
adjusts the multiplicity family and assembles results.json.

An analysis that cannot be computed on the data does not stop the run
(DESIGN.md section 6): run_analysis turns the library's NotEstimable, and a
numerical failure raised inside a runner (NUMERICAL_FAILURES), into an entry
with status "not_estimable" and the reason. Only those are caught: any other
exception is a bug and surfaces as one; an AnalysisError (the SAP and the data
do not fit, with a fix) stays an error.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ._version import __version__
from .derive.daily import worst_direction
from .derive.endpoints import Endpoints
from .derive.endpoints import derive as derive_endpoints
from .errors import SapError
from .summaries.estimands import arm_warnings, estimand_results, missingness
from .plan import Analysis, Sap, read_sap
from .trial.quality import Trial
from .results import AnalysisResult, TrialResults

__all__ = ["load", "derive", "analyze", "analysis_input", "apply_multiplicity", "check",
           "sap_columns", "run_analysis", "NUMERICAL_FAILURES", "not_estimable_reason"]

COVARIATES = ("AGE", "SEX", "BMI", "STRATUM")
_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels")


def _as_sap(sap: Sap | str | Path | None) -> Sap | None:
    return read_sap(sap) if isinstance(sap, (str, Path)) else sap


def load(directory: str | Path, sap: Sap | str | Path | None = None) -> Trial:
    """Read and validate a trial directory, with the SAP's arms and data rules if given."""
    from .trial.validate import load_trial
    sap = _as_sap(sap)
    if sap is None:
        return load_trial(directory)
    return load_trial(directory, sap.study.arms, sap.data, sap_columns(sap))


def sap_columns(sap: Sap) -> list[str]:
    """The adsl columns the SAP's analyses name (covariates and strata; BASE is derived)."""
    names = [c for a in sap.analyses for c in (*a.options.get("covariates", ()),
                                                 *a.options.get("strata", ())) if c != "BASE"]
    return list(dict.fromkeys(names))


def check(trial: Trial, sap: Sap | str | Path) -> list[AnalysisResult]:
    """Every check derive and analyze run on the data, without running the analyses:
    `mscstats validate --sap` passes exactly the data they will not refuse. Returns the
    entries analyze would write as not estimable before any method runs."""
    _, entries = _prepare(trial, _as_sap(sap))
    return [e for e in entries if isinstance(e, AnalysisResult)]


def _prepare(trial: Trial, sap: Sap, endpoints: Endpoints | None = None):
    """The endpoints (derived here unless given) and, per analysis, its input, or its
    not-estimable entry when the data leave nothing to run the method on (an arm
    without subjects)."""
    endpoints = derive_endpoints(trial, sap) if endpoints is None else endpoints
    return endpoints, [_analysis_entry(trial, sap, endpoints, a) for a in sap.analyses]


def derive(trial: Trial, sap: Sap | str | Path) -> pd.DataFrame:
    """endpoints.csv as a DataFrame: one row per subject and endpoint (and day)."""
    from .derive.endpoints import ENDPOINT_COLUMNS
    return derive_endpoints(trial, _as_sap(sap)).table[ENDPOINT_COLUMNS]


def analysis_input(trial: Trial, sap: Sap, endpoints: Endpoints, analysis: Analysis):
    """The analysis's AnalysisInput; raises NotEstimable when an arm has no subject in
    the analysis population (the analysis is then not estimable, the others run)."""
    from .analysis import AnalysisInput
    from .analysis.cores.common import NotEstimable
    endpoint = sap.endpoint(analysis.endpoint)
    population = sap.analysis_population(analysis)
    subjects = trial.population(population)
    for arm in sap.study.arms:
        if not (subjects["ARM"] == arm).any():
            raise NotEstimable(f"arm {arm!r} has no subjects in the {population} population "
                               "(check the ARM values in adsl and study.arms in the SAP)")
    wanted = [c for c in (*analysis.options.get("covariates", ()),
                          *analysis.options.get("strata", ())) if c != "BASE"]
    for name in wanted:
        if name not in trial.adsl.columns:
            raise SapError(f"analysis[{analysis.id}]", f"names covariate or stratum {name}, "
                           "which adsl lacks.", f"add a {name} column to adsl or remove it from "
                           "the analysis.", file=sap.source)
    extra = list(dict.fromkeys(c for c in (*COVARIATES, *wanted) if c in trial.adsl.columns))
    rows = endpoints.of(analysis.endpoint)
    rows = rows[rows["USUBJID"].isin(subjects["USUBJID"])]
    data = rows.drop(columns=["ENDPOINT", "REASON", "MISSING"]).merge(
        trial.adsl[["USUBJID", *extra]], on="USUBJID", how="left").reset_index(drop=True)
    return AnalysisInput(id=analysis.id, endpoint=endpoint.id, endpoint_kind=endpoint.kind,
                         method=analysis.method, data=data, arms=tuple(sap.study.arms),
                         options=dict(analysis.options), alpha=sap.study.alpha,
                         seed=sap.study.seed, transform=endpoint.transform,
                         target_day=endpoint.day, horizon=endpoint.horizon,
                         intercurrent=dict(endpoint.intercurrent),
                         higher_is_better=worst_direction(endpoint.param or "") == "min")


def apply_multiplicity(results: list[AnalysisResult], sap: Sap) -> list[AnalysisResult]:
    """Add p_adjusted to the primary p-values of the SAP's multiplicity family."""
    if sap.multiplicity.method == "none" or not sap.multiplicity.family:
        return results
    from .analysis.multiplicity import adjust_family
    return list(adjust_family(results, sap.multiplicity.family, sap.multiplicity.method,
                              arms=sap.study.arms))


def _numerical_failures() -> tuple[type[BaseException], ...]:
    import numpy as np
    return (np.linalg.LinAlgError, FloatingPointError, ZeroDivisionError, OverflowError)


NUMERICAL_FAILURES = _numerical_failures()


def not_estimable_reason(err: BaseException) -> str:
    """The reason of a not-estimable entry: NotEstimable's own words; for a numerical
    failure, the exception named (it marks a numerical edge the runner missed)."""
    from .analysis.cores.common import NotEstimable
    if isinstance(err, NotEstimable):
        return str(err)
    return f"numerical failure: {type(err).__name__}: {err}"


def run_analysis(inp, runner=None) -> AnalysisResult:
    """The analysis's result, or its not-estimable entry (DESIGN.md section 6)."""
    from .analysis import run
    from .analysis.cores.common import NotEstimable
    try:
        return (runner or run)(inp)
    except (NotEstimable, *NUMERICAL_FAILURES) as err:
        return AnalysisResult.not_estimable(inp.id, inp.endpoint, inp.method,
                                            not_estimable_reason(err), inp.options)


def _analysis_entry(trial: Trial, sap: Sap, endpoints: Endpoints, analysis: Analysis):
    """The analysis's AnalysisInput, or its not-estimable entry."""
    from .analysis.cores.common import NotEstimable
    try:
        return analysis_input(trial, sap, endpoints, analysis)
    except NotEstimable as why:
        return AnalysisResult.not_estimable(analysis.id, analysis.endpoint, analysis.method,
                                            str(why), analysis.options)


def _with_factor_notes(result: AnalysisResult, inp) -> AnalysisResult:
    """A text covariate enters the model as a factor: the notes name it and its levels."""
    from dataclasses import replace

    from .analysis.design import factor_notes
    notes = factor_notes(inp)
    return replace(result, notes=tuple(result.notes) + tuple(notes)) if notes else result


def _manifest(trial: Trial, sap: Sap) -> dict:
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            packages[name] = "not installed"
    return {"data_sha256": trial.data_sha256, "sap_sha256": sap.sha256, "seed": sap.study.seed,
            "study": sap.study.id, "sap": sap.source, "packages": packages}


def analyze(trial: Trial, sap: Sap | str | Path, progress=None,
            endpoints: Endpoints | None = None) -> TrialResults:
    """Derive every endpoint (unless a caller that has them gives them) and run every
    analysis of the SAP; an analysis that cannot be computed is an entry with status
    "not_estimable" (TrialResults.not_estimable). The baseline, flow, safety and
    course summaries are computed here, once."""
    from .summaries.compute import summarize          # scipy: only when analysing
    from .summaries.safety import data_quality_warnings
    sap = _as_sap(sap)
    endpoints, inputs = _prepare(trial, sap, endpoints)
    randomized = trial.population("ITT")["ARM"].value_counts().to_dict()
    results = []
    for analysis, entry in zip(sap.analyses, inputs):
        if progress is not None:
            progress(analysis.id)
        if isinstance(entry, AnalysisResult):       # not estimable before any method ran
            result = entry
        else:
            result = _with_factor_notes(run_analysis(entry), entry)
        results.append(_with_missingness(result, trial, sap, endpoints, analysis, randomized))
    results = apply_multiplicity(results, sap)
    quality = trial.quality.to_dict()
    quality["derivation"] = list(endpoints.log)
    quality["warnings"] = quality["warnings"] + data_quality_warnings(trial)
    return TrialResults(__version__, _manifest(trial, sap), quality, tuple(results),
                        estimand_results(sap, results, randomized),
                        **summarize(trial, sap, endpoints.daily))


def _with_missingness(result: AnalysisResult, trial: Trial, sap: Sap, endpoints: Endpoints,
                      analysis: Analysis, randomized: dict) -> AnalysisResult:
    """The analysis's missing values by arm, day and reason, and its small-arm warnings."""
    subjects = trial.population(sap.analysis_population(analysis))["USUBJID"]
    rows = endpoints.of(analysis.endpoint)
    rows = rows[rows["USUBJID"].isin(subjects)]
    return replace(result, missingness=missingness(rows, sap.study.arms,
                                                   sap.endpoint(analysis.endpoint),
                                                   analysis.method),
                   warnings=tuple(result.warnings) + arm_warnings(result, randomized))
