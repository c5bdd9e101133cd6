"""One row per SAP method and one row per endpoint kind: everything else reads these.

A method's row names its runner, the endpoint kinds it fits, its options, the sentence
of the report's methods section, its reference implementation, the test named when a
comparison is not estimable, and its batch kernel for the simulation's grid engine.
An endpoint kind's row names its SAP keys, its response column, its deriver and the
default permutation statistic. plan.py checks the SAP against these rows, the runners'
registry (mscstats.analysis.run), the report's methods section and the grid engine
look their part up here, and tests/test_specs.py fails when a row lacks a part.

Functions are named as "module:function" under mscstats and imported only when used
(resolve), so that this module, like the SAP check, needs no numerical package.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import schema

__all__ = ["MethodRow", "KindRow", "Range", "METHODS", "KINDS", "OPTIONS", "RANGES",
           "MI_METHODS", "HYPOTHETICAL_METHODS", "PERMUTATION_STATISTIC_KINDS", "resolve", "default_permutation_statistic"]


@dataclass(frozen=True)
class MethodRow:
    name: str
    kinds: tuple[str, ...]          # endpoint kinds the method fits
    options: tuple[str, ...]        # accepted analysis options besides id/endpoint/method
    runner: str                     # "analysis.<module>:<function>"
    sentence: str                   # the report's methods section: what it estimates and tests
    reference: str                  # the reference implementation (for the methods page)
    unestimable_test: str           # the test of a comparison that is not estimable
    required: tuple[str, ...] = ()  # options that must be given
    arms: str = "two_or_more"       # "one" | "two_or_more" | "any" | "two"
    hypothetical: bool = False      # handles values the hypothetical strategy sets missing
    strata_as_factors: bool = False  # its strata enter the model as factors (others stratify)
    batch_kernel: str | None = None  # its grid kernel, "simulation.<module>:<fn>" (grid_common.py)


@dataclass(frozen=True)
class KindRow:
    name: str
    keys: tuple[str, ...]           # SAP keys besides id, kind, label
    required: tuple[str, ...]
    response: str                   # the endpoints table's column the analyses read
    deriver: str                    # "derive.endpoints:<function>"
    permutation_statistic: str      # a permutation analysis's statistic when the SAP names none
    intercurrent: str = ""          # without an intercurrent key: how death and discharge enter


@dataclass(frozen=True)
class Range:
    """The values a SAP number may take: ``kind`` int or float, bounds inclusive
    unless open; ``meaning`` names it in messages ("a post-baseline study day")."""
    kind: type
    low: float
    high: float
    meaning: str
    example: str
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, x: float) -> bool:
        above = x > self.low if self.open_low else x >= self.low
        below = x < self.high if self.open_high else x <= self.high
        return above and below

    @property
    def interval(self) -> str:
        return (f"{'(' if self.open_low else '['}{_bound(self.low)}, {_bound(self.high)}"
                f"{')' if self.open_high else ']'}")


def _bound(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def resolve(name: str) -> Callable:
    """"analysis.survival:run_km" -> the function mscstats.analysis.survival.run_km."""
    import importlib
    module, function = name.split(":")
    return getattr(importlib.import_module(f"mscstats.{module}"), function)


# --------------------------------------------------------------------------
# Every number the SAP takes has a range, checked before any data is read
# (docs/sap.md "Numbers and their ranges" lists this table; a test checks).
# --------------------------------------------------------------------------

MAX_STUDY_DAY = 3650          # ten years of follow-up: any trial's study days fit
RANGES: Mapping[str, Range] = MappingProxyType({
    "alpha": Range(float, 0, 0.5, "a two-sided level", "alpha = 0.05", True, True),
    "seed": Range(int, 0, 2**63 - 1, "a seed", "seed = 20230115"),
    "day": Range(int, 2, MAX_STUDY_DAY, "a post-baseline study day", "day = 7"),
    "days": Range(int, 2, MAX_STUDY_DAY, "a post-baseline study day", "days = [3, 5, 7]"),
    "window": Range(int, 0, 365, "a window in days", "window = 1"),
    "horizon": Range(int, 2, MAX_STUDY_DAY, "a study day", "horizon = 28"),
    "tau": Range(float, 0, MAX_STUDY_DAY, "a restriction time in days", "tau = 28", True),
    "landmarks": Range(int, 1, MAX_STUDY_DAY, "a study day", "landmarks = [7, 14, 28]"),
    "n_permutations": Range(int, 100, 1_000_000, "a number of re-randomizations",
                            "n_permutations = 10000"),
    "rho": Range(float, 0, 10, "a Fleming-Harrington exponent", "rho = 1"),
    "gamma": Range(float, 0, 10, "a Fleming-Harrington exponent", "gamma = 1"),
    "value": Range(float, -1e6, 1e6, "a threshold", "value = 300"),
    "chg": Range(float, -1e6, 1e6, "a change from baseline", "chg = -2"),
    "imputations": Range(int, 2, schema.MAX_IMPUTATIONS, "a number of imputations",
                         "imputations = 100"),
})

# How plan.py checks each analysis option: "range" (its RANGES row), "days" (a list of
# RANGES days), "columns" (adsl columns), "deltas" (tipping-point shifts), "covariances"
# (one of schema.COVARIANCES or a list of them), "text", or the tuple of values it may take.
OPTIONS: Mapping[str, Any] = MappingProxyType({
    "population": schema.POPULATIONS, "title": "text", "missing": schema.MISSING_DATA,
    "imputations": "range", "mi_reference": schema.MI_REFERENCES,
    "covariates": "columns", "strata": "columns", "covariance": "covariances",
    "landmarks": "days", "conf_type": schema.CONF_TYPES, "rho": "range", "gamma": "range",
    "ties": schema.TIES, "tau": "range", "test": schema.BINARY_TESTS,
    "statistic": schema.PERMUTATION_STATISTICS, "n_permutations": "range", "deltas": "deltas",
})

# every method accepts the missing-data keys; plan.py says where they do not apply
_COMMON = ("population", "title", "missing", "imputations", "mi_reference")
_CONTINUOUS = ("change", "value", "free_days")
_GRID = "simulation.grid_engine:"
_SURVIVAL = "simulation.grid_survival:"
_COMPETING = "simulation.grid_competing:"

METHODS: Mapping[str, MethodRow] = MappingProxyType({m.name: m for m in (
    MethodRow("welch", _CONTINUOUS, _COMMON, "analysis.compare:run_welch",
              "Welch two-sample t-test; difference in means with its t interval.",
              "t.test", "t", batch_kernel=_GRID + "_welch"),
    MethodRow("ancova", ("change", "value"), _COMMON + ("covariates", "strata"),
              "analysis.models:run_ancova",
              "Analysis of covariance (linear model of the response on arm and covariates); "
              "adjusted mean difference with its t interval.",
              "lm(y ~ arm + BASE + ...)", "t", strata_as_factors=True,
              batch_kernel=_GRID + "_ancova"),
    MethodRow("wilcoxon", _CONTINUOUS + ("ordinal",), _COMMON, "analysis.compare:run_wilcoxon",
              "Wilcoxon rank-sum test; Hodges-Lehmann shift with its confidence interval "
              "(exact with fewer than 50 values per arm and no ties); on worst-rank composite "
              "scores the win probability with Newcombe's method 5 interval.",
              "wilcox.test(conf.int = TRUE)", "wilcoxon",
              batch_kernel="simulation.grid_ranks:_wilcoxon"),
    MethodRow("paired", ("change",), _COMMON, "analysis.compare:run_paired",
              "Change from baseline within the arm: paired t-test and Wilcoxon signed-rank test.",
              "t.test(paired = TRUE), wilcox.test(paired = TRUE)", "paired", arms="any",
              batch_kernel="simulation.grid_ranks:_paired"),
    MethodRow("mmrm", ("change", "value"), _COMMON + ("covariates", "strata", "covariance"),
              "analysis.models:run_mmrm",
              "Mixed model for repeated measures (change ~ arm x day + baseline x day, REML, "
              "Satterthwaite df; the first of the SAP's covariances that converges); adjusted "
              "mean difference at the target day.",
              "nlme::gls(corSymm, varIdent)", "mmrm", hypothetical=True, strata_as_factors=True,
              batch_kernel="simulation.grid_mmrm:_mmrm"),
    MethodRow("km", ("time_to_event",), _COMMON + ("landmarks", "conf_type"),
              "analysis.survival:run_km",
              "Kaplan-Meier estimator per arm; median with the Brookmeyer-Crowley interval and "
              "survival at landmark days.", "survival::survfit", "km", arms="any",
              batch_kernel=_SURVIVAL + "_km"),
    MethodRow("logrank", ("time_to_event",),
              _COMMON + ("strata", "covariates", "landmarks", "conf_type", "rho", "gamma"),
              "analysis.survival:run_logrank",
              "Log-rank test (stratified where strata are given) with the Cox hazard ratio "
              "(Efron ties) and Kaplan-Meier medians.",
              "survival::survdiff, survival::coxph", "logrank",
              batch_kernel=_GRID + "_logrank"),
    MethodRow("cox", ("time_to_event",), _COMMON + ("covariates", "strata", "ties"),
              "analysis.survival:run_cox",
              "Cox proportional hazards model (Efron ties); hazard ratio with Wald interval; "
              "Wald, score and likelihood-ratio tests.", "survival::coxph", "cox",
              batch_kernel=_SURVIVAL + "_cox"),
    MethodRow("rmst", ("time_to_event",), _COMMON + ("tau",), "analysis.survival:run_rmst",
              "Restricted mean survival time to tau from the Kaplan-Meier curve; difference "
              "between arms.", "survival::survfit rmean", "rmst", required=("tau",), arms="any",
              batch_kernel=_SURVIVAL + "_rmst"),
    MethodRow("cuminc", ("time_to_event",), _COMMON + ("landmarks", "strata"),
              "analysis.competing:run_cuminc",
              "Aalen-Johansen cumulative incidence per arm with death as a competing event; "
              "Gray's test.", "cmprsk::cuminc", "cuminc", arms="any",
              batch_kernel=_COMPETING + "_cuminc"),
    MethodRow("finegray", ("time_to_event",), _COMMON + ("covariates",),
              "analysis.competing:run_finegray",
              "Fine-Gray subdistribution hazards model; subdistribution hazard ratio with "
              "Wald interval.", "cmprsk::crr", "finegray",
              batch_kernel=_COMPETING + "_finegray"),
    MethodRow("binary", ("binary",), _COMMON + ("test",), "analysis.compare:run_binary",
              "Risk difference (Newcombe hybrid score interval), risk ratio and odds ratio with "
              "Fisher's exact test; a single arm: proportion with the Clopper-Pearson interval.",
              "fisher.test, binom.test, Newcombe (1998) method 10", "binary", arms="any",
              batch_kernel="simulation.grid_binary:_binary"),
    MethodRow("ordinal_po", ("ordinal",), _COMMON, "analysis.models:run_ordinal_po",
              "Proportional-odds (cumulative logit) model; common odds ratio of a better "
              "category; Brant test of proportional odds.", "ordinal::clm", "ordinal_po",
              batch_kernel="simulation.grid_ordinal:_ordinal_po"),
    MethodRow("permutation", schema.ENDPOINT_KINDS,
              _COMMON + ("statistic", "n_permutations", "covariates"),
              "analysis.permutation:run_permutation",
              "Re-randomization (permutation) test of the chosen statistic, seeded.", "coin",
              "permutation", arms="two",
              batch_kernel="simulation.grid_permutation:_permutation"),
    MethodRow("tipping_point", ("binary", "change", "value"),
              _COMMON + ("test", "deltas", "covariates", "strata"),
              "analysis.missing_data:run_tipping_point",
              "Tipping point: binary, every number of events among each arm's missing "
              "subjects with the exact test on each completed table; change or value, "
              "multiple imputation with the treated arm's imputed values shifted by each "
              "delta, ANCOVA, Rubin's rules.",
              "fisher.test on every completed table; mice::pool", "tipping_point", arms="two",
              hypothetical=True, batch_kernel="simulation.grid_mi:_tipping_point"),
)})

# the methods missing = "mi" runs on: their estimates have a variance that Rubin's rules pool
# (in the order the SAP check names them)
MI_METHODS = ("ancova", "welch", "paired")
# methods that handle values set missing by `hypothetical` through their likelihood
# (tipping_point imputes them); any other method needs missing = "mi"
HYPOTHETICAL_METHODS = tuple(m for m, row in METHODS.items() if row.hypothetical)

# the endpoint kinds each permutation statistic fits (in the order the SAP check names them)
PERMUTATION_STATISTIC_KINDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "logrank": ("time_to_event",), "cox_score": ("time_to_event",),
    "risk_difference": ("binary",), "ancova": ("change", "value"),
    "mean_difference": ("change", "value", "free_days"),
    "wilcoxon": ("change", "value", "free_days", "ordinal")})

_MEASURE = ("param", "day", "days", "window", "transform", "intercurrent")
_DERIVE = "derive.endpoints:"
KINDS: Mapping[str, KindRow] = MappingProxyType({k.name: k for k in (
    KindRow("change", _MEASURE, ("param", "day"), "CHG", _DERIVE + "_derive_measure",
            "mean_difference"),
    KindRow("value", _MEASURE, ("param", "day"), "AVAL", _DERIVE + "_derive_measure",
            "mean_difference"),
    KindRow("binary", ("horizon", "event", "missing"), ("horizon", "event"), "AVAL",
            _DERIVE + "_derive_binary", "risk_difference",
            "a binary endpoint counts death as failure unless death is the event; remove "
            "intercurrent."),
    KindRow("time_to_event", ("horizon", "event", "death"), ("horizon", "event"), "AVAL",
            _DERIVE + "_derive_time_to_event", "logrank",
            "a time-to-event endpoint handles death with death = \"censor_at_horizon\" "
            "| \"competing\" | \"event\" | \"censor\"; remove intercurrent."),
    KindRow("ordinal", ("param", "day", "window"), ("param", "day"), "AVAL",
            _DERIVE + "_derive_ordinal", "wilcoxon",
            "an ordinal endpoint scores death 10 and discharge 2; remove intercurrent."),
    KindRow("free_days", ("horizon",), ("horizon",), "AVAL", _DERIVE + "_derive_free_days",
            "mean_difference",
            "free days score death 0 and count days from discharge as free; remove "
            "intercurrent."),
)})


def default_permutation_statistic(kind: str) -> str:
    """The statistic a permutation analysis uses when the SAP names none."""
    return KINDS[kind].permutation_statistic

