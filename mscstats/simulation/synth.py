"""Synthetic trials of the five designs, in the input format of DESIGN.md section 2.

One latent quantity drives everything a subject shows: the true P/F ratio
(log scale), simulated day by day from day 1 to day 28.

* It recovers towards the subject's healthy value at a subject-specific daily
  rate (multiplied by ``Effect.recovery_rate`` from day 2 in dosed, treated
  subjects), with day-to-day noise. Some subjects first go through a
  deterioration phase (onset day 2-4, 2-6 days; odds x ``Effect.progression_or``).
* Oxygen support follows the P/F ratio: escalation at once, weaning one level a
  day with a margin, at least 3 days on IMV before extubation; HFNC or NIV by
  the subject's (clinician's) preference. The clinician titrates FiO2 within the
  device's range (RA 0.21; NC 0.21 + 0.04 x 1-6 L/min; mask 0.40-0.60 at 5-10
  L/min; HFNC 0.40-1.0 at 40-60 L/min; NIV/IMV/ECMO 0.40-1.0) to a PaO2 near
  75 mmHg. PaO2 = P/F x FiO2 with analyser noise; SpO2 from PaO2 by the
  Severinghaus dissociation curve (capped at 100); RR rises as P/F falls (set
  rate on the ventilator); WHOCPS from support (IMV 7 when P/F >= 150, else 8).
* Death: some subjects are on a fatal course (probability logistic in baseline
  P/F, age and IMV; odds x ``Effect.mortality_or`` when treated): a terminal
  decline of P/F from day 2 + Exp(5) with escalation of support up to the
  subject's ceiling of care (no intubation for some aged 75+, ECMO for some
  under 65 where the design has it), and death 2-8 days later. Discharge:
  after two days on room air, from the design's earliest day, with a daily
  probability. A few are lost to follow-up (LSTALVDY before 28; no records
  after it; a later death or discharge is unknown).
* IL-6 and TNF-alpha are log-normal, higher with lower baseline P/F, falling as
  P/F recovers and with time; in treated subjects their geometric mean is
  multiplied by ``Effect.cytokine_ratio`` by day 7 (TNF-alpha by its 0.8 power).
  Results under the LLOQ (IL-6 1.5, TNF-alpha 2 pg/mL) read "<1.5", AVAL empty.

Records: one morning assessment a day in hospital (06:00-08:29, before any
dose; ATM empty where the design keeps no clock times): OXYDEV, WHOCPS, SpO2 and
RR every day (SpO2 and RR missing on 3% of days after day 1); O2FLOW on cannula,
mask and HFNC; FiO2 every day on oxygen (except one cannula day in five: the
SAP's fio2_from_flow decides) and on room air on half the blood-gas days; PaO2
on the design's blood-gas days (also day -1 where the design screens; only on
oxygen in prevent-progression); IL-6 and TNF-alpha on the design's cytokine
days. No records after death (DTHDY), after the discharge day (DSCHDY) or after
LSTALVDY. LSTALVDY is 28 for those followed to the end (by telephone after
discharge), DTHDY - 1 for those who died, the last contact for those lost.

Messy variants (``messy=True`` or ``"long"``; ``messy="wide"``) keep the clean
trial's numbers and change only how they are written, chosen by a random
stream of their own (so the clean trial is the same with or without):
each subject is put at one of three sites; subjects at the second site (about
a third) report PaO2 in kPa, those at the third FiO2 in percent and cytokines
in ng/L, each with AVALU set; about 30% of OXYDEV records use a common spelling
("High flow", "room air", "Nasal cannula"...); about 2% of records are entered
twice, and about 1% of SpO2 and RR records are measured again later the same
day with a different value; ex.csv has lower-case column names. ``"wide"``
writes visits.csv with one column per PARAMCD (canonical units, "<1.5" text for
results under the LLOQ) and duplicates about 2% of rows.

Speed (measured on the development machine, one core, numpy 2.4, pandas 2.3):
make_trial of refractory-hypoxia (60 subjects) takes about 6.5 ms, 4.8 ms with
``tables=("adsl", "visits")``; three-arm-paxlovid (90) 7 ms; single-arm-bm-msc
(10) 4.4 ms, most of it fixed numpy/pandas overhead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import numpy as np

from ..derive.grid import DailyGrid
from ..plan import DataRules
from ..schema import OXYDEV_CODES
from .designs import (BACKGROUND_AES, DESIGNS, DOSE_AES, FATAL_AES, LEVEL_LOWER_PF, NULL_EFFECT,
                      SEVERE_AE_FACTOR, AETerm, Design, Effect, get_design)

if TYPE_CHECKING:          # pandas is imported where tables are built: the grid needs none
    import pandas as pd

__all__ = ["make_trial", "make_batch", "make_grid", "write_trial", "Effect", "NULL_EFFECT",
           "DESIGNS", "Design", "get_design", "LLOQ", "TABLE_ORDER", "PARAM_ORDER",
           "severinghaus_spo2"]

DAYS = 28
TABLE_ORDER = ("adsl", "visits", "adae", "ex")
LLOQ = {"IL6": 1.5, "TNFA": 2.0}   # pg/mL, as on common immunoassays
VISIT_COLUMNS = ("USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "AVALU", "LLOQ")
# Order of parameters within a subject's day in visits.csv.
PARAM_ORDER = ("OXYDEV", "WHOCPS", "SPO2", "RR", "O2FLOW", "FIO2", "PAO2", "IL6", "TNFA")

_LOG_LOWER_PF_ASCENDING = np.log(np.sort(LEVEL_LOWER_PF))
_WEANING_MARGIN = np.log(1.12)      # P/F must clear a threshold by 12% to step down
_LOG300 = np.log(300.0)
_LOG_MIN_PF = np.log(50.0)          # a terminal decline bottoms out here
# a fatal course: logit rises with the baseline P/F deficit below 300, age and IMV/ECMO
_DEATH_PER_LOG_PF = 1.5
_DEATH_PER_DECADE = 0.35
_DEATH_VENTILATED = 0.7
# object arrays: pandas takes them as they are (no per-call string conversion)
_CLOCK = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in range(1440)], dtype=object)
_PARAM_CODES = np.array(PARAM_ORDER, dtype=object)
_OXYDEV = np.array(OXYDEV_CODES, dtype=object)
_LLOQ_BY_PARAM = np.array([LLOQ.get(p, np.nan) for p in PARAM_ORDER])
_BELOW_TEXT = np.array([f"<{LLOQ[p]:g}" if p in LLOQ else "" for p in PARAM_ORDER], dtype=object)
_WHO_BY_DEVICE = np.array([4, 5, 5, 6, 6, 7, 9])          # OXYDEV_CODES order
_STREAMS = ("enrol", "course", "measure", "doses", "aes", "messy")


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def make_trial(key: str, n: int | None = None, seed: int | None = None,
               effect: Effect | Mapping[str, Effect] | None = None,
               messy: bool | str = False,
               tables: Iterable[str] = TABLE_ORDER) -> dict[str, pd.DataFrame]:
    """Simulate one trial of design ``key``: tables adsl, visits, adae, ex.

    n and seed default to the design's. effect: None for the design's default
    effects (a modest benefit), an :class:`Effect` for every treated arm (e.g.
    ``NULL_EFFECT``), or a mapping arm -> Effect (arms left out get no effect).
    messy: False, True/"long" or "wide" (see the module docstring).
    tables: the tables wanted; leaving out adae (and ex) saves time in simulations
    and changes nothing in the others (each table has its own random stream).
    """
    design = get_design(key)
    n = design.n if n is None else int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    wanted = set(tables)
    if not wanted <= set(TABLE_ORDER):
        raise ValueError(f"tables must be among {TABLE_ORDER}, got {sorted(wanted)}")
    form = _messy_form(messy)
    rng = _streams(design.seed if seed is None else int(seed))
    cohort = _enrol(design, n, _arm_effects(design, effect), rng["enrol"])
    course = _course(design, cohort, rng["course"])
    out = {"adsl": _adsl(design, cohort, course)}
    if "visits" in wanted:
        days = _record_days(design)
        measured = _measure(design, cohort, course, days, rng["measure"])
        out["visits"] = _visits_long(design, cohort, days, measured)
    if wanted & {"adae", "ex"}:
        out["ex"], doses = _exposure(design, cohort, course, rng["doses"])
        if "adae" in wanted:
            out["adae"] = _adverse_events(design, cohort, course, doses, rng["aes"])
    if form:
        out = _make_messy(out, form, rng["messy"])
    return {name: out[name] for name in TABLE_ORDER if name in wanted}


def make_batch(key: str, n: int, replicates: int, seed: int,
               effect: Effect | Mapping[str, Effect] | None = None,
               tables: Iterable[str] = ("adsl", "visits")) -> dict[str, pd.DataFrame]:
    """`replicates` independent trials of n subjects each, simulated as one cohort.

    The tables hold every trial: USUBJID is "<prefix>-<replicate>-<subject>" and
    adsl has a REPLICATE column (0-based). Vectorized over all subjects, so a
    batch costs about what one trial of n x replicates subjects costs. For
    simulation: the same (seed, replicates) always gives the same batch.
    """
    design, cohort, course, rng = _batch_course(key, n, replicates, seed, effect, ids=True)
    wanted = set(tables)
    adsl = _adsl(design, cohort, course)
    adsl["REPLICATE"] = np.repeat(np.arange(replicates), n)
    out = {"adsl": adsl}
    if "visits" in wanted:
        days = _record_days(design)
        out["visits"] = _visits_long(design, cohort, days,
                                     _measure(design, cohort, course, days, rng["measure"]))
    if wanted & {"adae", "ex"}:
        out["ex"], doses = _exposure(design, cohort, course, rng["doses"])
        if "adae" in wanted:
            out["adae"] = _adverse_events(design, cohort, course, doses, rng["aes"])
    return {name: out[name] for name in TABLE_ORDER if name in out}


def synthetic_rules(rules: DataRules) -> DataRules:
    """The SAP's data rules as they apply to generated tables: those are in mscstats's own
    layout, so the sponsor-layout rules (arm column, PARAMCD names, decimal mark) do not."""
    return DataRules(rules.daily, rules.below_lloq, rules.fio2_from_flow)


def make_grid(key: str, n: int, replicates: int, seed: int,
              effect: Effect | Mapping[str, Effect] | None = None,
              params: Iterable[str] = PARAM_ORDER,
              adverse_events: bool = False) -> DailyGrid:
    """The trials of ``make_batch`` (same arguments, same numbers) as a DailyGrid:
    one (subject x day) array per parameter instead of visit records, for the
    simulation engine (derive/grid.py). Values are computed for ``params`` only
    (grid.grid_params says which a SAP reads); which parameters were recorded is
    kept for all. adverse_events: also each AE kind's first day (DailyGrid.ae_start),
    from the draws that make make_batch's adae table."""
    design, c, course, rng = _batch_course(key, n, replicates, seed, effect, ids=False)
    days = _record_days(design)
    values, masks, _ = _measure(design, c, course, days, rng["measure"], clock=False,
                                wanted=params)
    has_drug = np.array([a in design.dosing for a in design.arms])[c.arm]
    # Trial.dosed: a dose record, or an arm where nobody has one (no study drug)
    arms_with_doses = np.unique(c.arm[c.dosed])
    adsl = {"AGE": c.age, "BMI": c.bmi,
            "SEX": np.array(["M", "F"], dtype=object)[c.female.astype(int)],
            "STRATUM": _stratum(design, c).astype(object),
            "DTHDY": course.death_day, "DSCHDY": course.discharge_day,
            "LSTALVDY": course.last_alive,
            "ITTFL": np.ones(len(c.arm), dtype=bool), "SAFFL": c.dosed | ~has_drug,
            "DOSED": c.dosed | ~np.isin(c.arm, arms_with_doses)}
    ae_start = _first_ae_days(design, c, course, rng) if adverse_events else {}
    return DailyGrid(days, {p: np.where(masks[p], v, np.nan) for p, v in values.items()},
                     masks, dict(LLOQ), c.arm, int(n), adsl, ae_start)


def _batch_course(key, n, replicates, seed, effect, ids: bool):
    """Design, cohort, daily course and random streams of a batch of trials."""
    design = get_design(key)
    if n < 1 or replicates < 1:
        raise ValueError(f"n and replicates must be at least 1, got {n} and {replicates}")
    rng = _streams(int(seed))
    cohort = _enrol(design, int(n), _arm_effects(design, effect), rng["enrol"], int(replicates),
                    ids=ids)
    return design, cohort, _course(design, cohort, rng["course"]), rng


def _record_days(design: Design) -> np.ndarray:
    return np.array(([-1] if design.screening else []) + list(range(1, DAYS + 1)))


def write_trial(key: str, directory, n: int | None = None, seed: int | None = None,
                messy: bool | str = False,
                effect: Effect | Mapping[str, Effect] | None = None) -> list[Path]:
    """Write a synthetic trial as CSV files (adsl, visits, adae, ex) into ``directory``.

    The same key, n, seed and messy give byte-identical files: fixed row order,
    floats written with "%.10g" after rounding to the precision a lab reports,
    LF line endings. Returns the written paths.
    """
    from ..output import write_files
    tables = make_trial(key, n=n, seed=seed, effect=effect, messy=messy)
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    # all four written beside the directory first, then renamed in: a full disk
    # leaves no truncated table behind
    return write_files(directory, {
        f"{name}.csv": tables[name].to_csv(index=False, lineterminator="\n",
                                           float_format="%.10g").encode("utf-8")
        for name in TABLE_ORDER})


# --------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------

def _messy_form(messy: bool | str) -> str:
    if messy is True:
        return "long"
    if messy is False or messy is None:
        return ""
    if messy in ("long", "wide"):
        return messy
    raise ValueError(f"messy must be True, False, 'long' or 'wide', got {messy!r}")


def _streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent random streams, so that e.g. the AEs never shift the visits."""
    children = np.random.SeedSequence(seed % 2**64).spawn(len(_STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children)}


def _arm_effects(design: Design, effect) -> np.ndarray:
    """(arms x 4) array: recovery rate, progression OR, mortality OR, cytokine ratio."""
    if effect is None:
        effect = design.effects
    elif isinstance(effect, Effect):
        effect = {arm: effect for arm in design.treated_arms}
    unknown = set(effect) - set(design.arms)
    if unknown:
        raise ValueError(f"effect names arms {sorted(unknown)} not in {design.arms}")
    rows = [effect.get(arm, NULL_EFFECT) for arm in design.arms]
    return np.array([[e.recovery_rate, e.progression_or, e.mortality_or, e.cytokine_ratio]
                     for e in rows])


@dataclass(frozen=True)
class _Cohort:
    """Per-subject baseline and constants (arrays of length n)."""
    ids: np.ndarray | None   # None where the caller needs no identifiers
    arm: np.ndarray           # index into design.arms
    age: np.ndarray
    female: np.ndarray
    bmi: np.ndarray
    pf0: np.ndarray           # true baseline P/F
    level0: np.ndarray        # baseline support level (synth_designs.LEVELS)
    ceiling: np.ndarray       # highest level the subject will be given
    dosed: np.ndarray         # received at least one study-drug administration
    treated: np.ndarray       # dosed in an arm with an active treatment effect
    effect: np.ndarray        # (n x 4) effect multipliers, 1.0 where untreated
    healthy: np.ndarray       # log P/F the subject recovers towards
    rate: np.ndarray          # daily recovery rate (effect included)
    offset: np.ndarray        # clinician's threshold offset on log P/F
    niv: np.ndarray           # NIV rather than HFNC at level 3
    hf_flow: np.ndarray       # HFNC flow, L/min
    lost_day: np.ndarray      # day of loss to follow-up, inf if followed


def _randomize(design: Design, n: int, rng: np.random.Generator,
               replicates: int = 1) -> np.ndarray:
    """Permuted blocks of twice the allocation ratio, per trial; arm sizes follow the
    ratio exactly when n is a multiple of the block."""
    block = np.repeat(np.arange(len(design.arms)), 2 * np.array(design.allocation))
    n_blocks = -(-n // len(block))
    blocks = rng.permuted(np.tile(block, (replicates * n_blocks, 1)), axis=1)
    return blocks.reshape(replicates, -1)[:, :n].ravel()


def _beta_range(rng, lo, hi, mean, size, concentration=6.0):
    p = (mean - lo) / (hi - lo)
    return lo + (hi - lo) * rng.beta(concentration * p, concentration * (1 - p), size)


def _baseline_pf(design: Design, n: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([b.weight for b in design.pf0])
    band = rng.choice(len(design.pf0), size=n, p=weights / weights.sum())
    lo = np.log([b.lo for b in design.pf0])[band]
    hi = np.log([b.hi for b in design.pf0])[band]
    shape = rng.beta(np.array([b.a for b in design.pf0])[band],
                     np.array([b.b for b in design.pf0])[band])
    return np.exp(lo + (hi - lo) * shape)


def _required_level(log_pf: np.ndarray, top) -> np.ndarray:
    """Support level needed at this P/F: the number of LEVEL_LOWER_PF thresholds above it."""
    below = len(_LOG_LOWER_PF_ASCENDING) - np.searchsorted(_LOG_LOWER_PF_ASCENDING, log_pf,
                                                           side="right")
    return np.minimum(below, top)


def _subject_ids(design: Design, n: int, replicates: int) -> np.ndarray:
    if replicates == 1:
        return np.array([f"{design.prefix}-{i:03d}" for i in range(1, n + 1)], dtype=object)
    return np.array([f"{design.prefix}-{r:05d}-{i:03d}" for r in range(replicates)
                     for i in range(1, n + 1)], dtype=object)


def _enrol(design: Design, n: int, arm_effects: np.ndarray, rng,
           replicates: int = 1, ids: bool = True) -> _Cohort:
    """n subjects per trial, for `replicates` trials at once (one cohort of n x replicates:
    subjects are independent given their arm, so a batch of trials is one big cohort)."""
    arm = _randomize(design, n, rng, replicates)
    # identifiers cost more than the numbers; the grid path has no use for them
    ids = _subject_ids(design, n, replicates) if ids else None
    n = n * replicates
    age = np.round(_beta_range(rng, design.age[0], design.age[1], design.age[2], n))
    pf0 = _baseline_pf(design, n, rng)
    offset = rng.normal(0.0, 0.08, n)
    # ceiling of care: ECMO for some under 65 (where the design has it); no intubation
    # for some aged 75 or more
    ecmo = design.allow_ecmo & (age < 65) & (rng.random(n) < 0.4)
    no_intubation = (age >= 75) & (rng.random(n) < 0.4)
    ceiling = np.where(ecmo, 5, np.where(no_intubation, 3, 4))
    level0 = np.clip(_required_level(np.log(pf0) + offset, ceiling), *design.baseline_levels)
    has_drug = np.array([a in design.dosing for a in design.arms])[arm]
    dosed = has_drug & (rng.random(n) >= design.not_dosed)
    active = np.isin(np.array(design.arms)[arm], design.treated_arms)
    treated = active & (dosed | ~has_drug)
    effect = np.where(treated[:, None], arm_effects[arm], 1.0)
    lost = rng.random(n) < design.lost
    return _Cohort(
        ids=ids,
        arm=arm,
        age=age,
        female=rng.random(n) < design.female,
        bmi=np.round(_beta_range(rng, *design.bmi, sum(design.bmi) / 2 - 1.0, n), 1),
        pf0=pf0, level0=level0, ceiling=np.maximum(ceiling, level0),
        dosed=dosed, treated=treated, effect=effect,
        healthy=np.log(rng.uniform(400.0, 480.0, n)),
        # the fraction of the gap to health closed in a day: at most MAX_RECOVERY (a
        # larger --effect recovery_rate would overshoot health and diverge)
        rate=np.minimum(design.recovery_rate * np.exp(rng.normal(0.0, 0.35, n)) * effect[:, 0],
                        MAX_RECOVERY),
        offset=offset,
        niv=rng.random(n) < 0.3,
        hf_flow=5.0 * rng.integers(8, 13, n),
        lost_day=np.where(lost, rng.integers(3, DAYS, n), np.inf),
    )


# --------------------------------------------------------------------------
# The daily course: latent P/F, support, death, discharge
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class _Course:
    x: np.ndarray             # (n x 28) true log P/F on days 1..28
    level: np.ndarray         # (n x 28) support level
    death_day: np.ndarray     # observed DTHDY, NaN if alive or death unknown
    discharge_day: np.ndarray
    last_alive: np.ndarray    # LSTALVDY
    last_record: np.ndarray   # last day with a morning assessment


MAX_RECOVERY = 0.9


def _with_odds_ratio(p: np.ndarray, odds_ratio: np.ndarray) -> np.ndarray:
    # odds x OR back to a probability, p OR / (1 - p + p OR): no division by zero
    # where p rounds to 1 (a logit above 37)
    return p * odds_ratio / (1.0 - p + p * odds_ratio)


def _deterioration(design: Design, c: _Cohort, rng):
    """Daily fall of log P/F (n x 28; 0 on other days) and the day of death (inf if none).

    Non-fatal progression: a fall for 2-6 days from day 2-4. A fatal course: a
    terminal decline from day 2 + Exp(5) until death overnight 2-8 days later;
    its probability is logistic in baseline P/F, age and ventilation, its odds
    multiplied by Effect.mortality_or.
    """
    n = len(c.arm)
    day = np.arange(1, DAYS + 1)[None, :]
    progresses = rng.random(n) < _with_odds_ratio(np.full(n, design.progression), c.effect[:, 1])
    onset = rng.integers(2, 5, n)[:, None]
    end = onset + rng.integers(2, 7, n)[:, None]
    progressing = progresses[:, None] & (day >= onset) & (day < end)
    logit = (design.death_intercept + _DEATH_PER_LOG_PF * np.maximum(0.0, _LOG300 - np.log(c.pf0))
             + _DEATH_PER_DECADE * (c.age - 60.0) / 10.0 + _DEATH_VENTILATED * (c.level0 >= 4))
    fatal = rng.random(n) < _with_odds_ratio(1.0 / (1.0 + np.exp(-logit)), c.effect[:, 2])
    decline_from = 2 + np.floor(rng.exponential(5.0, n))
    death_day = np.where(fatal, decline_from + rng.integers(2, 9, n), np.inf)
    declining = fatal[:, None] & (day >= decline_from[:, None])
    fall = np.where(declining, rng.uniform(0.12, 0.30, n)[:, None],
                    np.where(progressing, rng.uniform(*design.progression_depth, n)[:, None], 0.0))
    return fall, death_day


def _latent_pf(c: _Cohort, fall, noise) -> np.ndarray:
    """log P/F on days 1..28: x[t] = a[t] x[t-1] + b[t], solved in closed form.

    a = 1 - rate and b = rate x healthy while recovering; a = 1 and b = -fall while
    deteriorating; b carries the day's noise.
    """
    rate = c.rate[:, None]
    falling = fall > 0
    a = np.where(falling, 1.0, 1.0 - rate)
    b = np.where(falling, -fall, rate * c.healthy[:, None]) + noise
    a[:, 0], b[:, 0] = 1.0, 0.0
    growth = np.cumprod(a, axis=1)
    x = growth * (np.log(c.pf0)[:, None] + np.cumsum(b / growth, axis=1))
    return np.maximum(x, _LOG_MIN_PF)


def _support_levels(log_pf_seen: np.ndarray, level0: np.ndarray, ceiling: np.ndarray):
    """Support level (n x 28).

    Escalate at once; wean one level a day once P/F clears the threshold by a
    margin, and not before 3 days on IMV.
    """
    top = ceiling[:, None]
    need = _required_level(log_pf_seen, top)
    need_to_wean = _required_level(log_pf_seen - _WEANING_MARGIN, top)
    level = np.empty(log_pf_seen.shape, dtype=np.int64)
    imv = np.empty(log_pf_seen.shape, dtype=np.int64)
    level[:, 0], imv[:, 0] = level0, level0 >= 4
    for t in range(1, DAYS):
        lp = level[:, t - 1]
        wean = (need_to_wean[:, t] < lp) & ((lp != 4) | (imv[:, t - 1] >= 3))
        level[:, t] = np.where(need[:, t] > lp, need[:, t], lp - wean)
        imv[:, t] = np.where(level[:, t] >= 4, imv[:, t - 1] + 1, 0)
    return level


def _first_day(happens: np.ndarray) -> np.ndarray:
    """Study day of the first True in each row (column 0 = day 1), NaN if none."""
    first = np.argmax(happens, axis=1) + 1.0
    return np.where(happens.any(axis=1), first, np.nan)


def _course(design: Design, c: _Cohort, rng) -> _Course:
    n = len(c.arm)
    fall, death_day = _deterioration(design, c, rng)
    x = _latent_pf(c, fall, rng.normal(0.0, 0.06, (n, DAYS)))
    level = _support_levels(x + c.offset[:, None], c.level0, c.ceiling)
    # discharge: two days on room air, from the design's day; not on a fatal course
    day = np.arange(1, DAYS + 1)
    leaves = np.zeros((n, DAYS), dtype=bool)
    leaves[:, 1:] = (level[:, 1:] == 0) & (level[:, :-1] == 0) & (day[1:] >= design.discharge_from)
    leaves &= (rng.random((n, DAYS)) < design.discharge_rate) & np.isinf(death_day)[:, None]
    death = np.where(death_day <= DAYS, death_day, np.nan)
    return _follow_up(x, level, death, _first_day(leaves), c.lost_day)


def _follow_up(x, level, death, discharge, lost_day) -> _Course:
    """What the trial observes: a loss to follow-up hides later deaths and discharges."""
    death = np.where(death <= lost_day, death, np.nan)
    discharge = np.where(discharge <= lost_day, discharge, np.nan)
    last_alive = np.where(np.isnan(death), np.minimum(lost_day, DAYS), death - 1)
    last_record = np.fmin(np.fmin(death - 1, discharge), np.minimum(lost_day, DAYS))
    return _Course(x, level, death, discharge, last_alive, last_record)


# --------------------------------------------------------------------------
# Measurements on each recorded day
# --------------------------------------------------------------------------

def severinghaus_spo2(pao2: np.ndarray) -> np.ndarray:
    """Haemoglobin saturation (%) from PaO2 (mmHg), Severinghaus (1979)."""
    return 100.0 / (23400.0 / (pao2 ** 3 + 150.0 * pao2) + 1.0)


def _support(level, f_needed, c: _Cohort):
    """OXYDEV index (schema.OXYDEV_CODES), FiO2 and O2 flow (L/min) of each day's device."""
    stepped = np.round(f_needed * 20.0) / 20.0
    nc_flow = np.clip(np.ceil((f_needed - 0.21) / 0.04), 1, 6)
    mask_fio2 = np.clip(stepped, 0.40, 0.60)
    fio2 = np.select([level == 0, level == 1, level == 2],
                     [0.21, np.round(0.21 + 0.04 * nc_flow, 2), mask_fio2],
                     np.clip(stepped, 0.40, 1.0))
    niv = c.niv[:, None]
    hfnc = (level == 3) & ~niv
    flow = np.select([level == 1, level == 2, hfnc],
                     [nc_flow, 5.0 + np.round((mask_fio2 - 0.40) * 25.0),
                      np.broadcast_to(c.hf_flow[:, None], level.shape)], np.nan)
    device = np.select([level <= 2, level == 3], [level, 3 + niv], level + 1)
    return device, fio2, flow


def _measure(design: Design, c: _Cohort, course: _Course, days: np.ndarray, rng,
             clock: bool = True, wanted: Iterable[str] = PARAM_ORDER):
    """Values of the ``wanted`` parameters on every (subject, day), which parameters
    are recorded, and the minute of each day's assessment (None without ``clock``:
    the last draw, skipped). Every random number is drawn whatever is wanted, so
    the values do not depend on it; leaving parameters out only saves arithmetic."""
    wanted = set(wanted)
    x, level = course.x, course.level
    n, width = len(c.arm), len(days)
    if design.screening:     # day -1: the same state, measured a day earlier
        x = np.column_stack([x[:, 0] + rng.normal(0.0, 0.05, n), x])
        level = np.column_stack([level[:, 0], level])
    pf = np.exp(x)
    device, fio2, flow = _support(level, rng.normal(75.0, 8.0, x.shape).clip(60, 95) / pf, c)
    pao2_true = pf * fio2
    baseline = days <= 1
    noise = {name: rng.normal(0.0, sd, x.shape)       # in the order they were always drawn
             for name, sd in (("spo2", 0.03), ("spo2_read", 0.7), ("rr", 2.2), ("pao2", 0.05))}
    values = {"OXYDEV": device.astype(float),
              "WHOCPS": (_WHO_BY_DEVICE[device] + ((device == 5) & (pf < 150.0))).astype(float),
              "O2FLOW": flow, "FIO2": fio2}
    if "SPO2" in wanted:
        spo2 = severinghaus_spo2(pao2_true * np.exp(noise["spo2"]))
        spo2 = np.clip(np.round(spo2 + noise["spo2_read"]), 50, 100)
        values["SPO2"] = np.where(baseline, np.maximum(spo2, design.min_baseline_spo2), spo2)
    if "RR" in wanted:
        rr = np.where(level >= 4, 18.0 + 4.0 * np.maximum(0.0, np.log(200.0 / pf)),
                      16.0 + 17.0 * np.maximum(0.0, np.log(420.0 / pf)))
        values["RR"] = np.clip(np.round(rr + noise["rr"]), 8, 50)
    if "PAO2" in wanted:
        values["PAO2"] = np.round(np.clip(pao2_true * np.exp(noise["pao2"]), 25, 600), 1)
    values.update(_cytokines(design, c, x, days, rng, wanted))
    recorded = days[None, :] <= course.last_record[:, None]
    keep = rng.random((5, n, width)) >= 0.03
    keep |= baseline[None, None, :]            # baseline is never missing
    abg = (recorded & np.isin(days, design.abg_days + ((-1,) if design.screening else ()))
           & (~design.abg_only_on_oxygen | (level > 0)))
    unsure = rng.random(x.shape)
    nc_unknown = (device == 1) & (unsure < 0.2)      # FiO2 on a cannula is a guess
    ra_written = (level == 0) & (unsure < 0.5)       # 0.21 written on half the room-air gases
    cytokine_day = recorded & np.isin(days, design.cytokine_days) & keep[4]
    masks = {
        "OXYDEV": recorded,
        "WHOCPS": recorded,
        "SPO2": recorded & keep[0],
        "RR": recorded & keep[1],
        "O2FLOW": recorded & ~np.isnan(flow),
        "FIO2": recorded & (((level > 0) & ~nc_unknown) | (abg & keep[2] & ra_written)),
        "PAO2": abg & keep[3],
        "IL6": cytokine_day,
        "TNFA": cytokine_day,
    }
    if not clock:
        return values, masks, None
    start = np.where(days < 0, 600, 360)
    minutes = start[None, :] + rng.integers(0, 150, (n, width)) * np.where(days < 0, 3, 1)
    return values, masks, minutes


def _cytokines(design: Design, c: _Cohort, x: np.ndarray, days: np.ndarray, rng,
               wanted: Iterable[str] = ("IL6", "TNFA")):
    """IL-6 and TNF-alpha (pg/mL): log-normal, tracking the latent P/F."""
    n = len(c.arm)
    x1 = np.log(c.pf0)[:, None]
    weights = np.array([b.weight for b in design.pf0])
    centre = weights @ np.log([np.sqrt(b.lo * b.hi) for b in design.pf0]) / weights.sum()
    since = np.maximum(days - 1, 0)[None, :]
    ramp = np.minimum(since, 6) / 6.0
    log_ratio = np.log(c.effect[:, 3])[:, None] * ramp
    out = {}
    for code, median, slope, spread, decay, power in (
            ("IL6", design.il6_median, 0.8, 0.7, 0.05, 1.0),
            ("TNFA", design.tnfa_median, 0.3, 0.5, 0.02, 0.8)):
        subject_noise, day_noise = rng.normal(0, 1, (n, 1)), rng.normal(0.0, 0.3, x.shape)
        if code not in wanted:
            continue
        log_value = (np.log(median) + slope * (centre - x1) + spread * subject_noise
                     - slope * 1.2 * (x - x1) - decay * since + power * log_ratio + day_noise)
        out[code] = np.round(np.exp(log_value), 1)
    return out


def _visits_long(design: Design, c: _Cohort, days: np.ndarray, measured) -> pd.DataFrame:
    """One row per recorded (subject, day, parameter), sorted by subject, day, PARAM_ORDER."""
    import pandas as pd
    values, masks, minutes = measured
    # (subject, day, parameter) cubes: nonzero() walks them in the row order we want
    recorded = np.stack([masks[p] for p in PARAM_ORDER], axis=-1)
    subj, col, param = np.nonzero(recorded)
    aval = np.stack([values[p] for p in PARAM_ORDER], axis=-1)[subj, col, param]
    codes = _PARAM_CODES[param]
    avalc = np.full(len(aval), "", dtype=object)
    is_dev = param == PARAM_ORDER.index("OXYDEV")
    avalc[is_dev] = _OXYDEV[aval[is_dev].astype(int)]
    below = aval < _LLOQ_BY_PARAM[param]
    avalc[below] = _BELOW_TEXT[param[below]]
    blank = np.full(len(aval), "", dtype=object)
    return pd.DataFrame({
        "USUBJID": c.ids[subj],
        "ADY": days[col],
        "ATM": _CLOCK[minutes[subj, col]] if design.clock_times else blank,
        "PARAMCD": codes,
        "AVAL": np.where(is_dev | below, np.nan, aval),
        "AVALC": avalc,
        "AVALU": blank.copy(),
        "LLOQ": _LLOQ_BY_PARAM[param],
    }, columns=list(VISIT_COLUMNS), copy=False)


# --------------------------------------------------------------------------
# Doses, subjects, adverse events
# --------------------------------------------------------------------------

def _exposure(design: Design, c: _Cohort, course: _Course, rng):
    """ex table, and the administrations as arrays (subj, arm, dosno, day, minute)."""
    import pandas as pd
    doses = _doses(design, c, course, rng)
    field = _dosing_fields(design)
    arm = doses["arm"]
    ex = pd.DataFrame({
        "USUBJID": c.ids[doses["subj"]], "EXTRT": field["treatment"][arm],
        "EXDOSNO": doses["dosno"], "EXSTDY": doses["day"], "EXSTTM": _CLOCK[doses["minute"]],
        "EXDOSE": field["dose"][arm].astype(float), "EXDOSU": field["unit"][arm],
        "EXROUTE": field["route"][arm]}, copy=False)
    return ex, doses


def _doses(design: Design, c: _Cohort, course: _Course, rng) -> dict[str, np.ndarray]:
    """The administrations as arrays (subj, arm, dosno, day, minute), by subject and dose."""
    parts = []
    for a, arm in enumerate(design.arms):
        dosing = design.dosing.get(arm)
        if dosing is None:
            continue
        who = np.nonzero((c.arm == a) & c.dosed)[0]
        planned = np.array(dosing.days)
        given = planned[None, :] <= course.last_record[who, None]
        given &= rng.random(given.shape) >= design.missed_dose
        given[:, 0] = True                       # dosed means the first dose was given
        half_window = 60 if dosing.route == "IV" else 30
        minute = (np.array(dosing.clock)[None, :] * 60
                  + rng.integers(-half_window, half_window, given.shape))
        i, k = np.nonzero(given)
        parts.append({"subj": who[i], "arm": np.full(len(i), a), "dosno": k + 1,
                      "day": planned[k], "minute": minute[i, k]})
    doses = {key: np.concatenate([p[key] for p in parts]) if parts else np.zeros(0, int)
             for key in ("subj", "arm", "dosno", "day", "minute")}
    order = np.lexsort((doses["dosno"], doses["subj"]))
    return {key: v[order] for key, v in doses.items()}


def _dosing_fields(design: Design) -> dict[str, np.ndarray]:
    """Per-arm Dosing attributes as arrays indexed by arm (None for arms without drug)."""
    dosings = [design.dosing.get(arm) for arm in design.arms]
    fields = {name: np.array([getattr(d, name, None) for d in dosings], dtype=object)
              for name in ("treatment", "dose", "unit", "route")}
    fields.update({name: np.array([bool(getattr(d, name, False)) for d in dosings])
                   for name in ("active", "cells")})
    return fields


def _stratum(design: Design, c: _Cohort) -> np.ndarray:
    rule = design.stratum
    if rule == "age60":
        return np.where(c.age >= 60, "AGE>=60", "AGE<60")
    if rule == "severity":
        return np.where(c.level0 >= 4, "critical", "severe")
    if rule == "support":
        return np.where(c.level0 >= 4, "IMV", "HFNC/NIV")
    if rule == "disease":
        return np.where(c.pf0 > 300.0, "moderate", "severe")
    raise ValueError(f"design {design.key}: unknown stratum rule {rule!r}")


def _adsl(design: Design, c: _Cohort, course: _Course) -> pd.DataFrame:
    import pandas as pd
    has_drug = np.array([a in design.dosing for a in design.arms])[c.arm]
    yes_no = np.array(["N", "Y"], dtype=object)
    return pd.DataFrame({
        "USUBJID": c.ids.copy(),
        "ARM": np.array(design.arms, dtype=object)[c.arm],
        "AGE": c.age.astype(int),
        "SEX": np.array(["M", "F"], dtype=object)[c.female.astype(int)],
        "BMI": c.bmi,
        "STRATUM": _stratum(design, c).astype(object),
        "ITTFL": yes_no[np.ones(len(c.arm), dtype=int)],
        # standard of care without study drug counts as treated (safety population)
        "SAFFL": yes_no[(c.dosed | ~has_drug).astype(int)],
        "DTHDY": course.death_day,
        "DSCHDY": course.discharge_day,
        "LSTALVDY": course.last_alive,
    }, copy=False)


_OUTCOMES = np.array(["RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "NOT RECOVERED/NOT RESOLVED",
                      "FATAL"], dtype=object)
AE_COLUMNS = ("USUBJID", "AESTDY", "AESTTM", "AEBODSYS", "AEDECOD", "AETOXGR", "AESER", "AEREL",
              "AEOUT")


@dataclass(frozen=True)
class _TermTable:
    """An AE catalogue as arrays indexed by term."""
    soc: np.ndarray
    term: np.ndarray
    cum_grade: np.ndarray      # (terms x 3) cumulative probabilities of grades 1-3
    serious: np.ndarray
    related: np.ndarray
    rate: np.ndarray
    rate_control: np.ndarray
    ventilated_only: np.ndarray


@lru_cache(maxsize=None)
def _term_table(terms: tuple[AETerm, ...]) -> _TermTable:
    def col(name, dtype=float):
        return np.array([getattr(t, name) for t in terms], dtype=dtype)
    return _TermTable(col("soc", object), col("term", object),
                      np.cumsum([t.grades for t in terms], axis=1)[:, :3], col("serious"),
                      col("related"), col("rate"), col("rate_control"),
                      col("ventilated_only", bool))


def _events(table: _TermTable, term, subj, day, minute, related_scale, rng) -> dict:
    """Grade, seriousness and relatedness of drawn events of the given terms."""
    u = rng.random((3, len(term)))
    grade = 1 + (u[0][:, None] > table.cum_grade[term]).sum(axis=1)
    serious = (grade >= 4) | ((grade == 3) & (u[1] < table.serious[term]))
    related = u[2] < table.related[term] * related_scale
    return {"subj": subj, "day": day, "minute": minute, "soc": table.soc[term],
            "term": table.term[term], "grade": grade, "serious": serious, "related": related}


def _background_aes(design: Design, c: _Cohort, course: _Course, rng) -> dict:
    """Events of the illness and its care, more in sicker subjects and the longer followed."""
    table = _term_table(BACKGROUND_AES)
    n_terms = len(table.term)
    followed = np.where(np.isnan(course.death_day), course.last_alive, course.death_day)
    severity = np.select([c.level0 >= 3, c.level0 >= 1], [SEVERE_AE_FACTOR, 1.5], 1.0)
    ever_ventilated = (course.level >= 4).any(axis=1)
    rates = table.rate[None, :] * (severity * followed / DAYS)[:, None]
    rates[:, table.ventilated_only] *= ever_ventilated[:, None]
    flat = np.repeat(np.arange(rates.size), rng.poisson(rates).ravel())
    subj, term = flat // n_terms, flat % n_terms
    day = 1 + np.floor(rng.random(len(subj)) * followed[subj]).astype(int)
    # attribution needs study drug; investigators suspect cell products more
    cells = _dosing_fields(design)["cells"][c.arm]
    scale = np.where(c.dosed, np.where(cells, 2.0, 1.0), 0.0)[subj]
    return _events(table, term, subj, day, rng.integers(0, 1440, len(subj)), scale, rng)


# onset after an administration, minutes: (earliest, latest)
_DOSE_AE_ONSET = {"IV": (15, 360), "NEBULIZED": (5, 60), "ORAL": (30, 600)}


def _dose_aes(design: Design, doses: dict, rng) -> list[dict]:
    """Events within hours of an administration (infusion-associated for IV)."""
    field = _dosing_fields(design)
    route = field["route"][doses["arm"]]
    out = []
    for name, terms in DOSE_AES.items():
        rows = np.nonzero(route == name)[0]
        if len(rows) == 0:
            continue
        table = _term_table(terms)
        active = field["active"][doses["arm"][rows]][:, None]
        p = np.where(active, table.rate[None, :], table.rate_control[None, :])
        row, term = np.nonzero(rng.random(p.shape) < p)
        lo, hi = _DOSE_AE_ONSET[name]
        given = rows[row]
        minute = np.minimum(doses["minute"][given] + rng.integers(lo, hi, len(given)), 1439)
        out.append(_events(table, term, doses["subj"][given], doses["day"][given], minute,
                           1.0, rng))
    return out


_FATAL = _term_table(tuple(AETerm(soc, term, w, (0, 0, 0, 1)) for soc, term, w in FATAL_AES))


def _fatal_aes(course: _Course, rng) -> dict:
    """One grade 5 event for each observed death, starting up to 2 days before it."""
    subj = np.nonzero(~np.isnan(course.death_day))[0]
    pick = rng.choice(len(_FATAL.rate), size=len(subj), p=_FATAL.rate / _FATAL.rate.sum())
    day = np.maximum(course.death_day[subj].astype(int) - rng.integers(0, 3, len(subj)), 1)
    return {"subj": subj, "day": day, "minute": rng.integers(0, 1440, len(subj)),
            "soc": _FATAL.soc[pick], "term": _FATAL.term[pick],
            "grade": np.full(len(subj), 5), "serious": np.ones(len(subj), bool),
            "related": np.zeros(len(subj), bool)}


def _ae_records(design: Design, c: _Cohort, course: _Course, doses, rng) -> dict:
    """Every adverse event as arrays (subj, day, minute, soc, term, grade, serious,
    related), ordered by subject, day and minute."""
    parts = [_background_aes(design, c, course, rng), *_dose_aes(design, doses, rng),
             _fatal_aes(course, rng)]
    ev = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((ev["minute"], ev["day"], ev["subj"]))
    return {k: v[order] for k, v in ev.items()}


def _first_ae_days(design: Design, c: _Cohort, course: _Course, rng) -> dict[str, np.ndarray]:
    """Per AE kind of a condition (plan.AE_KINDS) the first day (>= 1) on which such an
    event starts, per subject (NaN: none), drawn as make_batch draws the adae table.
    infusion: within 6 hours after an IV or nebulized dose (events.infusion_associated,
    schema.INFUSION_ROUTES; the generator always gives both clock times)."""
    from .. import schema
    from ..derive.rules import INFUSION_WINDOW_MINUTES
    doses = _doses(design, c, course, rng["doses"])
    ev = _ae_records(design, c, course, doses, rng["aes"])
    minute = lambda day, clock: (day - (day > 0)) * 1440 + clock   # no day 0
    span = 10 ** 7                                          # beyond any study minute
    infused = np.isin(_dosing_fields(design)["route"][doses["arm"]].astype(str),
                      schema.INFUSION_ROUTES)
    dose_key = np.sort((doses["subj"] * span + minute(doses["day"], doses["minute"]))[infused])
    ae_key = ev["subj"] * span + minute(ev["day"], ev["minute"])
    after_dose = (np.searchsorted(dose_key, ae_key, side="right")
                  - np.searchsorted(dose_key, ae_key - INFUSION_WINDOW_MINUTES, side="left")) > 0
    kinds = {"any": np.ones(len(ae_key), bool), "serious": ev["serious"],
             "related": ev["related"], "grade3": ev["grade"] >= 3, "infusion": after_dose}
    out = {}
    for kind, hit in kinds.items():
        hit = hit & (ev["day"] >= 1)
        first = np.full(len(c.arm), np.inf)
        np.minimum.at(first, ev["subj"][hit], ev["day"][hit].astype(float))
        out[kind] = np.where(np.isinf(first), np.nan, first)
    return out


def _adverse_events(design: Design, c: _Cohort, course: _Course, doses, rng) -> pd.DataFrame:
    import pandas as pd
    ev = _ae_records(design, c, course, doses, rng)
    death = course.death_day[ev["subj"]]
    outcome = _OUTCOMES[np.searchsorted([0.8, 0.92], rng.random(len(ev["subj"])))]
    outcome = np.where(ev["day"] >= death - 3, _OUTCOMES[2], outcome)
    outcome = np.where(ev["grade"] == 5, _OUTCOMES[3], outcome)
    yes_no = np.array(["N", "Y"], dtype=object)
    return pd.DataFrame({
        "USUBJID": c.ids[ev["subj"]], "AESTDY": ev["day"], "AESTTM": _CLOCK[ev["minute"]],
        "AEBODSYS": ev["soc"], "AEDECOD": ev["term"], "AETOXGR": ev["grade"],
        "AESER": yes_no[ev["serious"].astype(int)], "AEREL": yes_no[ev["related"].astype(int)],
        "AEOUT": outcome}, columns=list(AE_COLUMNS), copy=False)


# --------------------------------------------------------------------------
# Messy variants: the same numbers, written the way real exports are
# --------------------------------------------------------------------------

SPELLINGS = {
    "RA": ("room air", "Room Air", "none"),
    "NC": ("Nasal cannula", "nasal prongs"),
    "MASK": ("Face mask", "Venturi mask", "NRB"),
    "HFNC": ("High flow", "HFNO", "High-flow nasal cannula"),
    "NIV": ("CPAP", "BiPAP", "Non-invasive ventilation"),
    "IMV": ("Intubated", "Mechanical ventilation"),
    "ECMO": ("VV-ECMO",),
}
KPA_PER_MMHG = 1 / 7.50062


def _make_messy(tables: dict, form: str, rng) -> dict:
    out = dict(tables)
    if "ex" in tables:
        out["ex"] = tables["ex"].rename(columns=str.lower)
    if "visits" not in tables:
        return out
    visits = tables["visits"].copy()
    site = dict(zip(tables["adsl"]["USUBJID"], rng.integers(0, 3, len(tables["adsl"]))))
    if form == "long":
        visits = _foreign_units(visits, visits["USUBJID"].map(site).to_numpy())
    visits = _respell(visits, rng)
    if form == "wide":
        visits = _to_wide(visits)
    else:
        visits = _remeasure(visits, rng)
    out["visits"] = _duplicate(visits, rng)
    return out


def _foreign_units(visits: pd.DataFrame, site: np.ndarray) -> pd.DataFrame:
    """Site 1 reports PaO2 in kPa; site 2 FiO2 in percent and cytokines in ng/L."""
    code = visits["PARAMCD"].to_numpy()
    kpa = (site == 1) & (code == "PAO2")
    pct = (site == 2) & (code == "FIO2")
    ngl = (site == 2) & np.isin(code, list(LLOQ))
    aval = visits["AVAL"].to_numpy().copy()
    aval[kpa] = np.round(aval[kpa] * KPA_PER_MMHG, 2)
    aval[pct] = np.round(aval[pct] * 100.0)
    visits["AVAL"] = aval
    visits["AVALU"] = np.select([kpa, pct, ngl], ["kPa", "%", "ng/L"], "")
    return visits


def _respell(visits: pd.DataFrame, rng) -> pd.DataFrame:
    """About 30% of OXYDEV records in one of the common spellings."""
    rows = np.nonzero((visits["PARAMCD"] == "OXYDEV").to_numpy()
                      & (rng.random(len(visits)) < 0.3))[0]
    codes = visits["AVALC"].to_numpy()[rows]
    pick = rng.integers(0, 6, len(rows))
    spelled = [SPELLINGS[c][k % len(SPELLINGS[c])] for c, k in zip(codes, pick)]
    avalc = visits["AVALC"].to_numpy().copy()
    avalc[rows] = spelled
    visits["AVALC"] = avalc
    return visits


def _remeasure(visits: pd.DataFrame, rng) -> pd.DataFrame:
    """About 1% of SpO2 and RR records measured again later the same day."""
    pick = (visits["PARAMCD"].isin(["SPO2", "RR"]).to_numpy()
            & (rng.random(len(visits)) < 0.01))
    again = visits[pick].copy()
    step = rng.integers(1, 4, len(again)) * rng.choice([-1, 1], len(again))
    again["AVAL"] = np.minimum(again["AVAL"].to_numpy() + step, 100.0)
    has_time = again["ATM"].to_numpy() != ""
    later = np.where(has_time, np.char.add(
        np.char.zfill((12 + rng.integers(0, 8, len(again))).astype(str), 2), ":30"), "")
    again["ATM"] = later
    return _interleave(visits, again, np.nonzero(pick)[0])


def _duplicate(table: pd.DataFrame, rng) -> pd.DataFrame:
    """About 2% of rows entered twice."""
    rows = np.nonzero(rng.random(len(table)) < 0.02)[0]
    return _interleave(table, table.iloc[rows], rows)


def _interleave(table: pd.DataFrame, extra: pd.DataFrame, after: np.ndarray) -> pd.DataFrame:
    """Insert the rows of ``extra`` right after the rows ``after`` of ``table``."""
    import pandas as pd
    position = np.concatenate([np.arange(len(table)), after]).astype(float)
    position[len(table):] += 0.5
    both = pd.concat([table, extra], ignore_index=True)
    return both.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)


def _to_wide(visits: pd.DataFrame) -> pd.DataFrame:
    """One row per subject, day and time; one column per PARAMCD, canonical units."""
    aval = visits["AVAL"].to_numpy()
    text = np.where(np.isnan(aval), visits["AVALC"].to_numpy().astype(str),
                    np.char.mod("%.10g", np.nan_to_num(aval)))
    long = visits.assign(VALUE=text)
    wide = long.pivot(index=["USUBJID", "ADY", "ATM"], columns="PARAMCD", values="VALUE")
    present = [p for p in PARAM_ORDER if p in wide.columns]
    return wide[present].reset_index().rename_axis(columns=None)
