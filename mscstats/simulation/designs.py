"""The five trial designs as data: arms, dosing, visits, baseline and effect sizes.

``mscstats.simulation.synth`` reads everything it simulates from a :class:`Design`; adding a
design means adding an entry to ``DESIGNS``, not code. The numbers are set so
that each synthetic trial looks like its seed record (shared/seeds/) and like
published MSC trials in COVID-19 (control 28-day mortality, time to discharge,
IL-6 levels); they are plausible, not estimates from any one trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from ..schema import DESIGN_KEYS

__all__ = ["Effect", "NULL_EFFECT", "Dosing", "PFBand", "Design", "DESIGNS", "get_design",
           "LEVELS", "LEVEL_LOWER_PF", "AETerm", "BACKGROUND_AES", "DOSE_AES", "FATAL_AES"]

# Oxygen support levels of the simulation, least to most. Level 3 is HFNC or NIV
# (a subject's preference decides which); the rest map one to one onto OXYDEV.
LEVELS = ("RA", "NC", "MASK", "HF", "IMV", "ECMO")
# A subject whose true P/F falls below LEVEL_LOWER_PF[k] needs level k+1 or more.
LEVEL_LOWER_PF = (300.0, 230.0, 190.0, 100.0, 60.0)


# The accepted range of every effect (a ratio or multiplier; `--effect`, docs/cli.md).
EFFECT_RANGE = (1e-3, 1e3)


@dataclass(frozen=True)
class Effect:
    """Treatment effect of an arm against the natural course (all 1.0 = no effect).

    recovery_rate   multiplier of the daily rate at which log P/F recovers towards
                    health (> 1: faster improvement, earlier discharge)
    progression_or  odds ratio of an early deterioration phase (< 1: fewer progress)
    mortality_or    multiplier of the daily odds of death, on top of the better
                    oxygenation that a faster recovery already brings
    cytokine_ratio  geometric mean ratio of IL-6 and TNF-alpha reached by day 7
                    (< 1: faster fall of the cytokines)
    """
    recovery_rate: float = 1.0
    progression_or: float = 1.0
    mortality_or: float = 1.0
    cytokine_ratio: float = 1.0

    def __post_init__(self) -> None:
        low, high = EFFECT_RANGE
        for name in ("recovery_rate", "progression_or", "mortality_or", "cytokine_ratio"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"Effect.{name} must be positive, got {value!r}")
            if not low <= value <= high:      # beyond it the generator's exp would overflow
                raise ValueError(f"Effect.{name} must be within {low:g} to {high:g}, "
                                 f"got {value!r}")

    @property
    def is_null(self) -> bool:
        return self == NULL_EFFECT


NULL_EFFECT = Effect()
# A modest benefit of two MSC infusions (or five days of nebulized exosomes).
MSC_EFFECT = Effect(recovery_rate=1.3, progression_or=0.6, mortality_or=0.7, cytokine_ratio=0.65)
# Nirmatrelvir/ritonavir started late in severe disease: a small benefit.
PAXLOVID_EFFECT = Effect(recovery_rate=1.1, progression_or=0.85, mortality_or=0.9,
                         cytokine_ratio=0.9)


@dataclass(frozen=True)
class Dosing:
    """Study-drug administrations of one arm (placebo and sham included)."""
    treatment: str                  # EXTRT
    route: str                      # EXROUTE: IV, NEBULIZED, ORAL
    days: tuple[int, ...]           # study days of administration
    clock: tuple[int, ...]          # planned hour of each administration on a day
    dose: float                     # EXDOSE (0 for placebo cells)
    unit: str                       # EXDOSU
    active: bool = True             # False for placebo and sham
    cells: bool = False             # cell therapy: more AEs judged related


@dataclass(frozen=True)
class PFBand:
    """One component of the baseline P/F mixture: a Beta(a, b) on log P/F in [lo, hi]."""
    weight: float
    lo: float
    hi: float
    a: float = 2.0
    b: float = 2.0


@dataclass(frozen=True)
class Design:
    key: str
    title: str
    prefix: str                                  # USUBJID prefix, "RH" -> "RH-001"
    arms: tuple[str, ...]                        # reference first
    n: int
    seed: int
    allocation: tuple[int, ...]                  # ratio per arm
    dosing: Mapping[str, Dosing]                 # arms without an entry get no study drug
    effects: Mapping[str, Effect]                # default effect of each treated arm
    # baseline
    age: tuple[int, int, float]                  # min, max, mean
    bmi: tuple[float, float]                     # range (inclusion criterion or typical)
    female: float                                # proportion of women
    pf0: tuple[PFBand, ...]                      # baseline true P/F (mmHg)
    baseline_levels: tuple[int, int]             # allowed support levels at baseline
    stratum: str                                 # "age60" | "severity" | "support" | "disease"
    # course
    recovery_rate: float                         # median daily recovery of log P/F
    progression: float                           # probability of a deterioration phase
    progression_depth: tuple[float, float]       # daily fall of log P/F while deteriorating
    death_intercept: float                       # logit of the daily death hazard at P/F 300
    allow_ecmo: bool
    discharge_from: int                          # earliest discharge day
    discharge_rate: float                        # daily probability once 2 days on room air
    lost: float                                  # probability of loss to follow-up
    not_dosed: float                             # probability a randomized subject is not dosed
    missed_dose: float                           # probability of missing a later dose
    # measurements
    screening: bool                              # arterial blood gas on day -1 as well
    abg_days: tuple[int, ...]                    # days with an arterial blood gas
    abg_only_on_oxygen: bool                     # no ABG on room air
    clock_times: bool                            # ATM recorded
    cytokine_days: tuple[int, ...]
    il6_median: float                            # pg/mL at baseline
    tnfa_median: float
    min_baseline_spo2: float = 0.0               # inclusion criterion on SpO2 at baseline
    notes: str = ""

    @property
    def treated_arms(self) -> tuple[str, ...]:
        """Arms that receive an active treatment (the only arm of a single-arm study)."""
        return self.arms[1:] if len(self.arms) > 1 else self.arms

    @property
    def reference(self) -> str:
        return self.arms[0]


_CELLS = "10^6 cells/kg"
_UC_MSC_2 = Dosing("UC-MSC", "IV", (1, 4), (10, 10), 1.0, _CELLS, cells=True)
_BID_5_DAYS = (1, 1, 2, 2, 3, 3, 4, 4, 5, 5)
_BID_CLOCK = (9, 21) * 5   # after the morning assessment (06:00-08:29)
_FOLLOW_UP_DAYS = (2, 3, 4, 5, 7, 10, 14, 21, 28)

DESIGNS: Mapping[str, Design] = MappingProxyType({
    "prevent-progression": Design(
        key="prevent-progression",
        title="UC-MSC vs placebo to prevent progression of mild/moderate COVID-19",
        prefix="PP", arms=("placebo", "UC-MSC"), n=20, seed=20220523, allocation=(1, 1),
        dosing=MappingProxyType({
            "placebo": Dosing("PLACEBO", "IV", (1,), (10,), 0.0, _CELLS, active=False),
            "UC-MSC": Dosing("UC-MSC", "IV", (1,), (10,), 1.0, _CELLS, cells=True),
        }),
        effects=MappingProxyType({"UC-MSC": MSC_EFFECT}),
        age=(18, 70, 45.0), bmi=(18.5, 32.0), female=0.5,
        pf0=(PFBand(1.0, 345.0, 480.0),), baseline_levels=(0, 0), stratum="age60",
        recovery_rate=0.15, progression=0.35, progression_depth=(0.10, 0.22),
        death_intercept=-5.0, allow_ecmo=False, discharge_from=7, discharge_rate=0.25,
        lost=0.05, not_dosed=0.0, missed_dose=0.0,
        screening=False, abg_days=(1,) + _FOLLOW_UP_DAYS, abg_only_on_oxygen=True,
        clock_times=False, cytokine_days=(1, 4, 7, 14), il6_median=10.0, tnfa_median=6.0,
        min_baseline_spo2=94.0,
        notes="Room air at entry (SpO2 > 93%, P/F > 300); some progress to oxygen.",
    ),
    "three-arm-paxlovid": Design(
        key="three-arm-paxlovid",
        title="Standard therapy vs Paxlovid vs UC-MSC in severe and critical COVID-19",
        prefix="TA", arms=("standard", "Paxlovid", "UC-MSC"), n=90, seed=20230301,
        allocation=(1, 1, 1),
        dosing=MappingProxyType({
            "Paxlovid": Dosing("NIRMATRELVIR/RITONAVIR", "ORAL", _BID_5_DAYS, _BID_CLOCK,
                               300.0, "mg"),
            "UC-MSC": _UC_MSC_2,
        }),
        effects=MappingProxyType({"Paxlovid": PAXLOVID_EFFECT, "UC-MSC": MSC_EFFECT}),
        age=(18, 75, 58.0), bmi=(20.0, 30.0), female=0.4,
        pf0=(PFBand(1.0, 70.0, 300.0, 2.4, 1.8),), baseline_levels=(1, 4), stratum="severity",
        recovery_rate=0.085, progression=0.25, progression_depth=(0.08, 0.18),
        death_intercept=-2.8, allow_ecmo=True, discharge_from=5, discharge_rate=0.3,
        lost=0.04, not_dosed=0.03, missed_dose=0.04,
        screening=False, abg_days=(1,) + _FOLLOW_UP_DAYS, abg_only_on_oxygen=False,
        clock_times=True, cytokine_days=(1, 4, 7, 14), il6_median=40.0, tnfa_median=10.0,
        notes="Severe (oxygen) and critical (IMV) at entry; ages 18-75, BMI 20-30.",
    ),
    "single-arm-bm-msc": Design(
        key="single-arm-bm-msc",
        title="Allogeneic bone-marrow MSC in severe COVID-19 with cytokine storm (single arm)",
        prefix="BM", arms=("BM-MSC",), n=10, seed=20200415, allocation=(1,),
        dosing=MappingProxyType({
            "BM-MSC": Dosing("BM-MSC", "IV", (1, 4), (10, 10), 1.0, _CELLS, cells=True),
        }),
        effects=MappingProxyType({"BM-MSC": MSC_EFFECT}),
        age=(18, 80, 55.0), bmi=(18.5, 35.0), female=0.35,
        pf0=(PFBand(1.0, 70.0, 280.0, 2.0, 2.0),), baseline_levels=(1, 4), stratum="severity",
        recovery_rate=0.085, progression=0.25, progression_depth=(0.08, 0.18),
        death_intercept=-3.0, allow_ecmo=False, discharge_from=6, discharge_rate=0.3,
        lost=0.0, not_dosed=0.0, missed_dose=0.05,
        screening=False, abg_days=(1,) + _FOLLOW_UP_DAYS, abg_only_on_oxygen=False,
        clock_times=True, cytokine_days=(1, 4, 7, 14), il6_median=70.0, tnfa_median=15.0,
        notes="Safety and feasibility; cytokine storm (high IL-6, TNF-alpha) at entry.",
    ),
    "refractory-hypoxia": Design(
        key="refractory-hypoxia",
        title="UC-MSCs in severe and critical COVID-19 with refractory hypoxia (NCT05689008)",
        prefix="RH", arms=("control", "UC-MSC"), n=60, seed=20230115, allocation=(1, 1),
        dosing=MappingProxyType({"UC-MSC": _UC_MSC_2}),
        effects=MappingProxyType({"UC-MSC": MSC_EFFECT}),
        age=(18, 85, 66.0), bmi=(20.0, 30.0), female=0.35,
        pf0=(PFBand(1.0, 75.0, 200.0, 2.0, 2.2),), baseline_levels=(3, 4), stratum="support",
        recovery_rate=0.075, progression=0.2, progression_depth=(0.06, 0.15),
        death_intercept=-2.7, allow_ecmo=True, discharge_from=7, discharge_rate=0.3,
        lost=0.04, not_dosed=0.03, missed_dose=0.04,
        screening=True, abg_days=(1,) + _FOLLOW_UP_DAYS, abg_only_on_oxygen=False,
        clock_times=True, cytokine_days=(1, 4, 7, 14), il6_median=60.0, tnfa_median=12.0,
        notes="Refractory hypoxia on HFNC, NIV or IMV despite standard therapy; open label.",
    ),
    "nebulized-exosomes": Design(
        key="nebulized-exosomes",
        title="Nebulized MSC exosomes vs saline sham in moderate and severe COVID-19",
        prefix="NE", arms=("sham", "exosome"), n=40, seed=20230610, allocation=(1, 1),
        dosing=MappingProxyType({
            "sham": Dosing("SALINE", "NEBULIZED", _BID_5_DAYS, _BID_CLOCK, 3.0, "mL",
                           active=False),
            "exosome": Dosing("MSC-EXOSOMES", "NEBULIZED", _BID_5_DAYS, _BID_CLOCK, 3.0, "mL",
                              cells=True),
        }),
        effects=MappingProxyType({"exosome": MSC_EFFECT}),
        age=(18, 75, 55.0), bmi=(18.5, 35.0), female=0.45,
        pf0=(PFBand(0.4, 345.0, 460.0), PFBand(0.6, 120.0, 300.0, 2.4, 1.6)),
        baseline_levels=(0, 3), stratum="disease",
        recovery_rate=0.11, progression=0.2, progression_depth=(0.08, 0.18),
        death_intercept=-3.2, allow_ecmo=False, discharge_from=5, discharge_rate=0.3,
        lost=0.05, not_dosed=0.03, missed_dose=0.03,
        screening=False, abg_days=(1, 3, 5, 7, 14), abg_only_on_oxygen=False,
        clock_times=True, cytokine_days=(1, 4, 7, 14), il6_median=25.0, tnfa_median=8.0,
        notes="Moderate (room air, RR < 30) and severe (P/F <= 300, SpO2 <= 93%, RR >= 30).",
    ),
})

assert tuple(DESIGNS) == DESIGN_KEYS, "DESIGNS must follow schema.DESIGN_KEYS"


def get_design(key: str) -> Design:
    try:
        return DESIGNS[key]
    except KeyError:
        raise ValueError(f"unknown design {key!r}; choose one of {', '.join(DESIGN_KEYS)}") \
            from None


# --------------------------------------------------------------------------
# Adverse events (MedDRA system organ class and preferred term)
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class AETerm:
    """An adverse event and how often it happens.

    rate     background: expected events per subject over 28 days in mild disease
             (x SEVERE_AE_FACTOR on high-flow support or more at entry);
             dose-related: probability per administration (cells, or placebo/sham)
    grades   probabilities of CTCAE grades 1-4
    serious  probability that a grade 3 event is serious (grade 4 always is)
    related  probability that the investigator judges it related to study treatment
    """
    soc: str
    term: str
    rate: float
    grades: tuple[float, float, float, float]
    serious: float = 0.0
    related: float = 0.0
    ventilated_only: bool = False
    rate_control: float = 0.0        # dose-related terms: rate after placebo/sham


SEVERE_AE_FACTOR = 2.5
_INF = "Infections and infestations"
_GEN = "General disorders and administration site conditions"
_RESP = "Respiratory, thoracic and mediastinal disorders"
_INJ = "Injury, poisoning and procedural complications"

BACKGROUND_AES: tuple[AETerm, ...] = (
    AETerm(_INF, "Pneumonia bacterial", 0.06, (0.0, 0.3, 0.6, 0.1), 0.7, 0.02),
    AETerm(_INF, "Urinary tract infection", 0.04, (0.3, 0.6, 0.1, 0.0), 0.2, 0.0),
    AETerm(_INF, "Sepsis", 0.015, (0.0, 0.0, 0.5, 0.5), 1.0, 0.0),
    AETerm(_GEN, "Pyrexia", 0.08, (0.6, 0.35, 0.05, 0.0), 0.1, 0.05),
    AETerm(_GEN, "Fatigue", 0.05, (0.7, 0.3, 0.0, 0.0), 0.0, 0.05),
    AETerm("Investigations", "Alanine aminotransferase increased", 0.10, (0.6, 0.3, 0.1, 0.0),
           0.1, 0.15),
    AETerm("Investigations", "Lymphocyte count decreased", 0.05, (0.2, 0.5, 0.3, 0.0), 0.0, 0.05),
    AETerm("Vascular disorders", "Hypotension", 0.04, (0.2, 0.5, 0.25, 0.05), 0.4, 0.05),
    AETerm("Vascular disorders", "Deep vein thrombosis", 0.02, (0.0, 0.6, 0.4, 0.0), 0.6, 0.0),
    AETerm("Cardiac disorders", "Atrial fibrillation", 0.03, (0.1, 0.5, 0.4, 0.0), 0.5, 0.0),
    AETerm("Cardiac disorders", "Sinus tachycardia", 0.05, (0.8, 0.2, 0.0, 0.0), 0.0, 0.05),
    AETerm("Blood and lymphatic system disorders", "Anaemia", 0.05, (0.3, 0.5, 0.2, 0.0),
           0.1, 0.02),
    AETerm("Blood and lymphatic system disorders", "Thrombocytopenia", 0.03,
           (0.3, 0.4, 0.2, 0.1), 0.3, 0.05),
    AETerm("Metabolism and nutrition disorders", "Hyperglycaemia", 0.10, (0.3, 0.5, 0.2, 0.0),
           0.0, 0.0),
    AETerm("Metabolism and nutrition disorders", "Hypokalaemia", 0.06, (0.5, 0.3, 0.2, 0.0),
           0.0, 0.0),
    AETerm("Gastrointestinal disorders", "Diarrhoea", 0.05, (0.7, 0.3, 0.0, 0.0), 0.0, 0.05),
    AETerm("Gastrointestinal disorders", "Nausea", 0.05, (0.8, 0.2, 0.0, 0.0), 0.0, 0.05),
    AETerm("Nervous system disorders", "Headache", 0.05, (0.8, 0.2, 0.0, 0.0), 0.0, 0.1),
    AETerm("Psychiatric disorders", "Insomnia", 0.05, (0.8, 0.2, 0.0, 0.0), 0.0, 0.0),
    AETerm("Psychiatric disorders", "Delirium", 0.02, (0.2, 0.5, 0.3, 0.0), 0.3, 0.0),
    AETerm("Renal and urinary disorders", "Acute kidney injury", 0.02, (0.2, 0.4, 0.3, 0.1),
           0.6, 0.0),
    AETerm(_RESP, "Pneumothorax", 0.08, (0.0, 0.3, 0.6, 0.1), 0.8, 0.0, ventilated_only=True),
)

# Events tied to an administration (onset within hours of it), keyed by route.
DOSE_AES: Mapping[str, tuple[AETerm, ...]] = MappingProxyType({
    "IV": (
        AETerm(_GEN, "Pyrexia", 0.08, (0.7, 0.25, 0.05, 0.0), 0.2, 1.0, rate_control=0.02),
        AETerm(_GEN, "Chills", 0.05, (0.8, 0.2, 0.0, 0.0), 0.0, 1.0, rate_control=0.01),
        AETerm(_INJ, "Infusion related reaction", 0.04, (0.6, 0.35, 0.05, 0.0), 0.5, 1.0,
               rate_control=0.01),
        AETerm("Skin and subcutaneous tissue disorders", "Rash", 0.02, (0.8, 0.2, 0.0, 0.0),
               0.0, 1.0, rate_control=0.005),
    ),
    "NEBULIZED": (
        AETerm(_RESP, "Cough", 0.03, (0.8, 0.2, 0.0, 0.0), 0.0, 1.0, rate_control=0.02),
        AETerm(_RESP, "Bronchospasm", 0.006, (0.3, 0.5, 0.2, 0.0), 0.5, 1.0,
               rate_control=0.004),
    ),
    "ORAL": (
        AETerm("Nervous system disorders", "Dysgeusia", 0.03, (0.9, 0.1, 0.0, 0.0), 0.0, 1.0),
        AETerm("Gastrointestinal disorders", "Diarrhoea", 0.012, (0.7, 0.3, 0.0, 0.0), 0.0, 0.8),
    ),
})

# The event that led to death: (system organ class, preferred term, weight).
FATAL_AES: tuple[tuple[str, str, float], ...] = (
    (_RESP, "Respiratory failure", 0.5),
    (_RESP, "Acute respiratory distress syndrome", 0.25),
    (_INF, "Septic shock", 0.15),
    ("Cardiac disorders", "Cardiac arrest", 0.1),
)
