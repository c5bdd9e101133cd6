"""Column names, parameter codes, units, plausible ranges and method catalogue.

This module is data, not code: every other module reads its rules from here,
so adding a unit or a parameter means adding an entry, not a branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

# --------------------------------------------------------------------------
# Tables and their columns (DESIGN.md section 2)
# --------------------------------------------------------------------------

TABLES = ("adsl", "visits", "adae", "ex")
REQUIRED_TABLES = ("adsl",)
FILE_SUFFIXES = (".csv", ".parquet", ".xpt", ".sas7bdat", ".xlsx")
# Besides visits, any table with both columns is a BDS table of efficacy records
# (adlb, advs, adqs, adeff ...): its records are read like visits (DESIGN.md 2).
BDS_COLUMNS = ("PARAMCD", "AVAL")


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    integer_days: tuple[str, ...] = ()


TABLE_SPECS: Mapping[str, TableSpec] = MappingProxyType({
    "adsl": TableSpec(
        "adsl",
        required=("USUBJID", "ARM", "LSTALVDY"),
        optional=("AGE", "SEX", "BMI", "STRATUM", "ITTFL", "SAFFL", "DTHDY", "DSCHDY"),
        numeric=("AGE", "BMI", "DTHDY", "DSCHDY", "LSTALVDY"),
        integer_days=("DTHDY", "DSCHDY", "LSTALVDY"),
    ),
    "visits": TableSpec(
        "visits",
        required=("USUBJID", "ADY", "PARAMCD"),
        optional=("ATM", "AVAL", "AVALC", "AVALU", "LLOQ"),
        numeric=("ADY", "AVAL", "LLOQ"),
        integer_days=("ADY",),
    ),
    "adae": TableSpec(
        "adae",
        required=("USUBJID", "AESTDY", "AEDECOD"),
        optional=("AESTTM", "AEBODSYS", "AETOXGR", "AESEV", "AESER", "AEREL", "AEOUT"),
        numeric=("AESTDY", "AETOXGR"),
        integer_days=("AESTDY",),
    ),
    "ex": TableSpec(
        "ex",
        required=("USUBJID", "EXSTDY"),
        optional=("EXDOSNO", "EXSTTM", "EXDOSE", "EXDOSU", "EXROUTE"),
        numeric=("EXDOSNO", "EXSTDY", "EXDOSE"),
        integer_days=("EXSTDY",),
    ),
})

YES_NO = ("Y", "N")
AE_SEVERITY = ("MILD", "MODERATE", "SEVERE", "FATAL")
# AESEV maps onto CTCAE grades where AETOXGR is missing (MILD 1, MODERATE 2, SEVERE 3,
# FATAL 5: CTCAE grade 5 is death).
AESEV_TO_GRADE = MappingProxyType({"MILD": 1, "MODERATE": 2, "SEVERE": 3, "FATAL": 5})
EX_ROUTES = ("IV", "NEBULIZED", "ORAL")
# Routes whose doses open the 6-hour infusion window for adverse events (an oral
# tablet is no infusion); a dose without a route counts, as MSC are infused.
INFUSION_ROUTES = ("IV", "NEBULIZED")

# --------------------------------------------------------------------------
# Parameters (DESIGN.md section 2 table)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    code: str
    label: str
    unit: str                              # canonical unit, as printed
    plausible: tuple[float, float] | None  # outside: kept, flagged as a warning
    hard: tuple[float, float] | None = None  # outside after conversion: an error
    # accepted unit spellings (lower case, spaces removed) -> factor to canonical
    units: Mapping[str, float] = field(default_factory=dict)
    character: bool = False                # value lives in AVALC
    integer: bool = False
    worst: str = "max"                     # daily "worst" rule: "min" or "max"
    cytokine: bool = False                 # LLOQ handling applies


_CYTOKINE_UNITS = MappingProxyType({"pg/ml": 1.0, "ng/l": 1.0, "ng/ml": 1000.0})

PARAMS: Mapping[str, Param] = MappingProxyType({
    "PAO2": Param("PAO2", "PaO2", "mmHg", (20.0, 700.0),
                  units=MappingProxyType({"mmhg": 1.0, "torr": 1.0, "kpa": 7.50062}),
                  worst="min"),
    "FIO2": Param("FIO2", "FiO2", "fraction", (0.21, 1.0), hard=(0.21, 1.0),
                  units=MappingProxyType({"fraction": 1.0, "1": 1.0, "ratio": 1.0,
                                          "%": 0.01, "percent": 0.01, "pct": 0.01}),
                  worst="max"),
    "SPO2": Param("SPO2", "SpO2", "%", (50.0, 100.0),
                  units=MappingProxyType({"%": 1.0, "percent": 1.0}), worst="min"),
    "RR": Param("RR", "Respiratory rate", "/min", (4.0, 80.0),
                units=MappingProxyType({"/min": 1.0, "breaths/min": 1.0, "bpm": 1.0}),
                worst="max"),
    "O2FLOW": Param("O2FLOW", "Oxygen flow", "L/min", (0.0, 80.0),
                    units=MappingProxyType({"l/min": 1.0, "lpm": 1.0}), worst="max"),
    "OXYDEV": Param("OXYDEV", "Oxygen support", "", None, character=True, worst="max"),
    "WHOCPS": Param("WHOCPS", "WHO clinical progression scale", "", (0.0, 10.0),
                    hard=(0.0, 10.0), integer=True, worst="max"),
    "IL6": Param("IL6", "Interleukin-6", "pg/mL", (0.0, float("inf")), hard=(0.0, float("inf")),
                 units=_CYTOKINE_UNITS, worst="max", cytokine=True),
    "TNFA": Param("TNFA", "TNF-alpha", "pg/mL", (0.0, float("inf")), hard=(0.0, float("inf")),
                  units=_CYTOKINE_UNITS, worst="max", cytokine=True),
})

# A PaO2 column whose median is below this is almost surely kPa (DESIGN.md 2).
PAO2_KPA_SUSPECT_MEDIAN = 25.0
KPA_TO_MMHG = 7.50062

# Derived parameters (DESIGN.md section 3) and their labels/units.
DERIVED_PARAMS: Mapping[str, Param] = MappingProxyType({
    "PF": Param("PF", "PaO2/FiO2", "mmHg", (30.0, 700.0), worst="min"),
    "SF": Param("SF", "SpO2/FiO2", "", (50.0, 476.0), worst="min"),
    "BERLIN": Param("BERLIN", "ARDS severity (Berlin)", "", None, character=True),
})


def find_param(code: str) -> Param | None:
    """A recorded or derived parameter by code; None for one the schema does not know."""
    return PARAMS.get(code) or DERIVED_PARAMS.get(code)

# Oxygen support, ordered from least to most support.
OXYDEV_CODES = ("RA", "NC", "MASK", "HFNC", "NIV", "IMV", "ECMO")
OXYDEV_RANK = MappingProxyType({c: i for i, c in enumerate(OXYDEV_CODES)})
# Common spellings (lower case, punctuation and spaces collapsed to one space).
OXYDEV_SPELLINGS = MappingProxyType({
    "ra": "RA", "room air": "RA", "air": "RA", "none": "RA",
    "nc": "NC", "nasal cannula": "NC", "nasal prongs": "NC", "low flow": "NC",
    "mask": "MASK", "face mask": "MASK", "simple mask": "MASK", "venturi": "MASK",
    "venturi mask": "MASK", "nrb": "MASK", "non rebreather": "MASK",
    "non rebreather mask": "MASK", "reservoir mask": "MASK",
    "hfnc": "HFNC", "hfno": "HFNC", "high flow": "HFNC", "high flow nasal cannula": "HFNC",
    "hfnc oxygen": "HFNC",
    "niv": "NIV", "cpap": "NIV", "bipap": "NIV", "non invasive ventilation": "NIV",
    "noninvasive ventilation": "NIV",
    "imv": "IMV", "mv": "IMV", "mechanical ventilation": "IMV",
    "invasive mechanical ventilation": "IMV", "intubated": "IMV", "ventilator": "IMV",
    "ecmo": "ECMO", "vv ecmo": "ECMO", "va ecmo": "ECMO",
})
VENTILATED = ("IMV", "ECMO")

# WHO clinical progression scale from oxygen support and status (DESIGN.md 3).
WHO_FROM_OXYDEV = MappingProxyType({
    "ECMO": 9, "IMV": 7, "NIV": 6, "HFNC": 6, "NC": 5, "MASK": 5, "RA": 4,
})
WHO_DEAD = 10
WHO_DISCHARGED = 2

# FiO2 imputation: room air, and (on request) nasal cannula 0.21 + 0.04 x L/min.
FIO2_ROOM_AIR = 0.21
FIO2_PER_LITRE = 0.04

# SF is computed only where SpO2 <= this (above it the dissociation curve is flat).
SF_MAX_SPO2 = 97.0

# Berlin ARDS severity from PF (mmHg): (label, lower exclusive, upper inclusive).
BERLIN_BANDS = (("severe", float("-inf"), 100.0),
                ("moderate", 100.0, 200.0),
                ("mild", 200.0, 300.0),
                ("none", 300.0, float("inf")))

# --------------------------------------------------------------------------
# The SAP vocabulary (DESIGN.md sections 4 and 5)
# --------------------------------------------------------------------------

ENDPOINT_KINDS = ("change", "value", "binary", "time_to_event", "ordinal", "free_days")
DEATH_RULES = ("censor_at_horizon", "competing", "event", "censor")
POPULATIONS = ("ITT", "mITT", "safety")
MULTIPLICITY_METHODS = ("holm", "hochberg", "bonferroni", "none")
CONDITION_OPS = ("<", "<=", ">", ">=", "==", "!=")
STATES = ("discharged", "dead", "ventilated")
DAILY_RULES = ("worst", "best", "mean", "first", "last")
# value given to a result below the LLOQ: this fraction of the LLOQ
BELOW_LLOQ_FACTOR = MappingProxyType({"half": 0.5, "lloq": 1.0, "zero": 0.0})
BELOW_LLOQ_RULES = tuple(BELOW_LLOQ_FACTOR)
CONF_TYPES = ("log-log", "log", "plain")
BINARY_TESTS = ("fisher", "chi_square")
# MMRM covariance structures (analysis/cores/mmrm.py): toeplitz and ar1h have one
# variance per visit (SAS TOEPH, ARH(1)); ar1 and cs one variance in all
COVARIANCES = ("unstructured", "toeplitz", "ar1h", "ar1", "cs")
TIES = ("efron", "breslow")
PERMUTATION_STATISTICS = ("mean_difference", "logrank", "wilcoxon", "risk_difference",
                          "ancova", "cox_score")

MISSING_DATA = ("complete_case", "mi")
MI_REFERENCES = ("jump_to_reference", "copy_reference")
DEFAULT_IMPUTATIONS, MAX_IMPUTATIONS, MAX_DELTAS = 50, 1000, 101


# The SAP's methods and endpoint kinds, a row each: specs.py.

# Estimand and test names used in results.json (DESIGN.md section 6).
ESTIMANDS = ("mean_difference", "mean_change", "hodges_lehmann_shift", "geometric_mean_ratio",
             "hazard_ratio", "subdistribution_hazard_ratio", "rmst_difference", "rmst_ratio",
             "risk_difference", "risk_ratio", "odds_ratio", "common_odds_ratio", "proportion",
             "median_change",
             "observed_minus_expected",  # permutation log-rank / Cox score: O - E of the treated arm
             "win_probability")          # worst-rank scores (DESIGN.md 9): U / (n1 n0)
TEST_NAMES = ("logrank", "gray", "fisher", "chi_square", "wilcoxon", "signed_rank", "brant",
              "wald", "score", "likelihood_ratio", "t", "paired_t", "permutation", "F")

# Design keys (DESIGN.md section 1), in the order of the table.
DESIGN_KEYS = ("prevent-progression", "three-arm-paxlovid", "single-arm-bm-msc",
               "refractory-hypoxia", "nebulized-exosomes")
