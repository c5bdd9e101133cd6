"""Load -> derive -> analyze: the steps the CLI and notebooks share.

Builds each analysis's input (population, covariates), runs the registry,
adjusts the multiplicity family and assembles results.json.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pandas as pd

from . import __version__
from .derive import Endpoints
from .derive import derive as derive_endpoints
from .errors import AnalysisError, SapError
from .plan import Analysis, Sap, read_sap
from .quality import Trial
from .results import AnalysisResult, TrialResults

__all__ = ["load", "derive", "analyze", "analysis_input", "apply_multiplicity"]

COVARIATES = ("AGE", "SEX", "BMI", "STRATUM")
_PACKAGES = ("numpy", "pandas", "scipy", "statsmodels")


def _as_sap(sap: Sap | str | Path | None) -> Sap | None:
    return read_sap(sap) if isinstance(sap, (str, Path)) else sap


def load(directory: str | Path, sap: Sap | str | Path | None = None) -> Trial:
    """Read and validate a trial directory, with the SAP's arms and data rules if given."""
    from .validate import load_trial
    sap = _as_sap(sap)
    if sap is None:
        return load_trial(directory)
    return load_trial(directory, arms=sap.study.arms, daily_rule=sap.data.daily,
                      below_lloq=sap.data.below_lloq, fio2_from_flow=sap.data.fio2_from_flow,
                      decimal=sap.data.decimal)


def derive(trial: Trial, sap: Sap | str | Path) -> pd.DataFrame:
    """endpoints.csv as a DataFrame: one row per subject and endpoint (and day)."""
    from .derive import ENDPOINT_COLUMNS
    return derive_endpoints(trial, _as_sap(sap)).table[ENDPOINT_COLUMNS]


def analysis_input(trial: Trial, sap: Sap, endpoints: Endpoints, analysis: Analysis):
    from .analysis import AnalysisInput
    endpoint = sap.endpoint(analysis.endpoint)
    population = sap.analysis_population(analysis)
    subjects = trial.population(population)
    for arm in sap.study.arms:
        if not (subjects["ARM"] == arm).any():
            raise AnalysisError(analysis.id, f"arm {arm!r} has no subjects in the {population} "
                                "population.", "check the ARM values in adsl and study.arms in "
                                "the SAP.")
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
    data = rows.drop(columns=["ENDPOINT", "REASON"]).merge(
        trial.adsl[["USUBJID", *extra]], on="USUBJID", how="left").reset_index(drop=True)
    return AnalysisInput(id=analysis.id, endpoint=endpoint.id, endpoint_kind=endpoint.kind,
                         method=analysis.method, data=data, arms=tuple(sap.study.arms),
                         options=dict(analysis.options), alpha=sap.study.alpha,
                         seed=sap.study.seed, transform=endpoint.transform,
                         target_day=endpoint.day, horizon=endpoint.horizon)


def apply_multiplicity(results: list[AnalysisResult], sap: Sap) -> list[AnalysisResult]:
    """Add p_adjusted to the primary p-values of the SAP's multiplicity family."""
    if sap.multiplicity.method == "none" or not sap.multiplicity.family:
        return results
    from .analysis.multiplicity import adjust_family
    return list(adjust_family(results, sap.multiplicity.family, sap.multiplicity.method))


def _manifest(trial: Trial, sap: Sap) -> dict:
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            packages[name] = "not installed"
    return {"data_sha256": trial.data_sha256, "sap_sha256": sap.sha256, "seed": sap.study.seed,
            "study": sap.study.id, "sap": sap.source, "packages": packages}


def analyze(trial: Trial, sap: Sap | str | Path, progress=None) -> TrialResults:
    """Derive every endpoint and run every analysis of the SAP."""
    from .analysis import run
    sap = _as_sap(sap)
    endpoints = derive_endpoints(trial, sap)
    results = []
    for analysis in sap.analyses:
        if progress is not None:
            progress(analysis.id)
        results.append(run(analysis_input(trial, sap, endpoints, analysis)))
    results = apply_multiplicity(results, sap)
    quality = trial.quality.to_dict()
    quality["derivation"] = list(endpoints.log)
    return TrialResults(__version__, _manifest(trial, sap), quality, tuple(results))
