"""Endpoint derivation on the subject x day grid: the ONE implementation of the
endpoint rules of DESIGN.md 4 and 9 (baseline, windows, events and states, last
assessment, intercurrent strategies and worst-rank scores, ordinal scores, free
days, log transform), for real trials and simulation alike.

A real trial's daily values (daily.py) are pivoted to a DailyGrid by pivot.py
(``final``: read as they are) and derived here by endpoints.py. A simulated
trial has at most one record per subject, day and parameter, so the generator
makes its (subject x day) arrays directly (synth.make_grid), and its daily
parameters (FiO2 imputation, P/F and S/F, WHO where missing, below-LLOQ) are
computed here with the formulas of rules.py that daily.py applies to records;
tests/simulation/test_simulate_grid.py checks that the two give the same
endpoints on the same trials. ``unsupported`` lists what the simulation engine
cannot run yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .. import schema
from .rules import (COMPARE, binary_values, event_timing, imputed_fio2, time_to_event_values,
                    who_from_support, worst_direction)
from ..plan import Condition, DataRules, Endpoint, EventRule, Sap
from ..specs import KINDS, METHODS
from .strategies import COMPOSITES, WHILE, applying_event, strategies_at, strategy_values

__all__ = ["DailyGrid", "GridEndpoint", "GridMeasure", "GridDerivation", "baseline_values", "unsupported", "endpoint_unsupported",
           "grid_params", "needs_adverse_events"]

# what the generator records (synth.PARAM_ORDER; synth imports this module, not back)
_RECORDED = ("OXYDEV", "WHOCPS", "SPO2", "RR", "O2FLOW", "FIO2", "PAO2", "IL6", "TNFA")
GRID_PARAMS = frozenset(_RECORDED) | {"PF", "SF"}
# the methods with a batch kernel (specs.METHODS), run by the grid engine
GRID_METHODS = frozenset(m for m, row in METHODS.items() if row.batch_kernel)
# the adsl columns the generator makes, given to runners as analysis_input does: held
# as numbers (kernels take them as covariates) or as factor levels (strata; as
# covariates the runner codes them)
GRID_COVARIATES = ("AGE", "SEX", "BMI", "STRATUM")
GRID_NUMERIC_COVARIATES = ("AGE", "BMI")
GRID_FACTOR_COVARIATES = ("SEX", "STRATUM")


@dataclass(frozen=True)
class DailyGrid:
    """Simulated subjects' records as arrays: the input of a grid derivation.

    days: (W,) study days of the columns, ascending. values: PARAMCD -> (N, W)
    float array, NaN where nothing was recorded; OXYDEV holds its support rank;
    results below the LLOQ are raw values (``lloq`` gives each one's LLOQ, and
    the SAP's below_lloq rule applies, as validation would). recorded: PARAMCD ->
    (N, W) booleans for every parameter, also those without values (a simulation
    computes only the values its SAP reads: ``grid_params``). Subjects are held
    replicate by replicate, ``n`` each. adsl: subject-level arrays (N,) of AGE,
    BMI, SEX, STRATUM, DTHDY, DSCHDY, LSTALVDY (NaN when none) and the booleans
    ITTFL, SAFFL and DOSED (mITT: at least one dose, or an arm without study drug).
    ae_start: AE kind of a condition (plan.AE_KINDS) -> (N,) the first day >= 1 such an
    adverse event starts (NaN: none); present when the SAP's events name AEs.
    final: the values are a real trial's daily values (daily.py paired P/F and S/F by
    time, imputed FiO2, scored WHO and applied the LLOQ rule): read as they are.
    """
    days: np.ndarray
    values: Mapping[str, np.ndarray]
    recorded: Mapping[str, np.ndarray]
    lloq: Mapping[str, float]
    arm: np.ndarray
    n: int
    adsl: Mapping[str, np.ndarray]
    ae_start: Mapping[str, np.ndarray] = field(default_factory=dict)
    final: bool = False

    @property
    def replicates(self) -> int:
        return len(self.arm) // self.n

    def population(self, name: str) -> np.ndarray:
        """Boolean (N,) of the subjects in an analysis population (Trial.population)."""
        itt = self.adsl["ITTFL"]
        return {"ITT": itt, "safety": self.adsl["SAFFL"], "mITT": itt & self.adsl["DOSED"]}[name]


@dataclass(frozen=True)
class GridEndpoint:
    """One endpoint for every subject, (N,) arrays as the endpoints table's columns (NaN
    where they do not apply or are missing). Measures are at the endpoint's day; ``ice``
    names the intercurrent event and strategy applied ("" for none), the table's ICE."""
    aval: np.ndarray
    base: np.ndarray
    chg: np.ndarray
    cnsr: np.ndarray
    evntcd: np.ndarray
    ice: np.ndarray | None = None


def unsupported(sap: Sap) -> list[str]:
    """Why the SAP's analyses cannot be derived and analysed on the grid (empty: they can).

    A method without a batch kernel runs its runner on each replicate's grid rows (a
    repeated endpoint's with a row per visit day, derive/grid_visits.py); what the grid
    cannot give a runner are covariates the generator does not make."""
    reasons = []
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        where = f"analysis {analysis.id}"
        options = analysis.options
        names = {*options.get("covariates", ()), *options.get("strata", ())} - {"BASE"}
        reasons += [f"{where}: covariate or stratum {c} (the generator makes "
                    f"{', '.join(GRID_COVARIATES)})" for c in sorted(names - set(GRID_COVARIATES))]
        reasons += [f"{where}: {why}" for why in endpoint_unsupported(endpoint)]
    return reasons


# the recorded parameters each daily parameter is computed from
_SOURCES = {"PF": ("PAO2", "FIO2", "OXYDEV", "O2FLOW"), "SF": ("SPO2", "FIO2", "OXYDEV", "O2FLOW"),
            "FIO2": ("FIO2", "OXYDEV", "O2FLOW"), "WHOCPS": ("WHOCPS", "OXYDEV")}


def grid_params(sap: Sap) -> frozenset[str]:
    """The recorded parameters whose values the SAP's endpoints need on the grid."""
    needed = {"OXYDEV"}                                # support: WHO, states, `on`
    for endpoint in sap.endpoints:
        for param in endpoint.params:
            needed.update(_SOURCES.get(param, (param,)))
    return frozenset(needed)


def needs_adverse_events(sap: Sap) -> bool:
    """Whether an endpoint's event names an adverse event (the grid then carries them)."""
    return any(c.ae is not None for e in sap.endpoints if e.event for c in e.event.leaves())


def endpoint_unsupported(endpoint: Endpoint) -> list[str]:
    out = [f"parameter {p}" for p in endpoint.params if p not in GRID_PARAMS]
    if endpoint.kind in ("change", "value") and endpoint.repeated \
            and endpoint.day not in endpoint.days:
        out.append("a repeated endpoint whose day is not among its days")
    return out


@dataclass(frozen=True)
class GridMeasure:
    """A change or value endpoint at one visit day, (N,) arrays: ``found`` and
    ``found_day`` the value in the window and its day; the applying intercurrent
    ``event`` ("death", "discharge" or ""), its ``strategy`` and ``event_day``;
    ``last_day`` the day of the last value a while_* strategy took (None when no
    subject has one); ``raw_aval``/``raw_base`` after the strategies, before the log;
    ``aval``, ``base``, ``chg`` as analysed (log scale, composite scores); ``ice``."""
    found: np.ndarray
    found_day: np.ndarray
    event: np.ndarray
    strategy: np.ndarray
    event_day: np.ndarray
    last_day: np.ndarray | None
    raw_aval: np.ndarray
    raw_base: np.ndarray
    aval: np.ndarray
    base: np.ndarray
    chg: np.ndarray
    ice: np.ndarray


@dataclass
class GridDerivation:
    """Daily values and endpoints of a grid under the SAP's data rules; each daily
    parameter is computed once, when first needed."""
    grid: DailyGrid
    rules: DataRules
    _daily: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- daily values

    def daily(self, code: str) -> np.ndarray:
        """(N, W) one value per subject and day, as daily.daily_values gives it."""
        if code not in self._daily:
            self._daily[code] = self._compute(code)
        return self._daily[code]

    def _compute(self, code: str) -> np.ndarray:
        values = self.grid.values
        if self.grid.final:                     # a real trial's daily values (daily.py)
            found = values.get(code)
            return found if found is not None else \
                np.full((len(self.grid.arm), len(self.grid.days)), np.nan)
        if code in ("PF", "SF"):
            numerator = values["PAO2"] if code == "PF" else np.where(
                values["SPO2"] <= schema.SF_MAX_SPO2, values["SPO2"], np.nan)
            return numerator / self.daily("FIO2")
        if code == "FIO2":
            return self._fio2()
        if code == "WHOCPS":
            return self._who()
        raw = values[code]
        if code in self.grid.lloq:
            lloq = self.grid.lloq[code]
            raw = np.where(raw < lloq, lloq * schema.BELOW_LLOQ_FACTOR[self.rules.below_lloq], raw)
        return raw

    def _fio2(self) -> np.ndarray:
        """Recorded, else imputed on days with a blood gas or SpO2: 0.21 on room air;
        0.21 + 0.04 x L/min on a nasal cannula when the SAP asks (fio2_from_flow)."""
        values = self.grid.values
        fio2 = values["FIO2"]
        recorded = self.grid.recorded
        needs = np.isnan(fio2) & (recorded["PAO2"] | recorded["SPO2"])
        imputed, _ = imputed_fio2(values["OXYDEV"], values.get("O2FLOW", np.nan),
                                  self.rules.fio2_from_flow)
        return np.where(needs & ~np.isnan(imputed), imputed, fio2)

    def _who(self) -> np.ndarray:
        """Recorded; else from the day's support; else 10 on the day of death, 2 on the
        day of discharge (death first)."""
        values, days = self.grid.values, self.grid.days
        who = values["WHOCPS"]
        who = np.where(np.isnan(who), who_from_support(values["OXYDEV"]), who)
        adsl = self.grid.adsl
        for column, score in (("DTHDY", schema.WHO_DEAD), ("DSCHDY", schema.WHO_DISCHARGED)):
            on_day = days[None, :] == adsl[column][:, None]
            who = np.where(np.isnan(who) & on_day, float(score), who)
        return who

    # ---------------------------------------------------------------- endpoints

    def endpoint(self, endpoint: Endpoint) -> GridEndpoint:
        nan = np.full(len(self.grid.arm), np.nan)
        if endpoint.kind == "time_to_event":
            aval, cnsr, evntcd = self._time_to_event(endpoint)
            return GridEndpoint(aval, nan, nan, cnsr, evntcd)
        if endpoint.kind == "binary":
            return GridEndpoint(self._binary(endpoint), nan, nan, nan, nan)
        if endpoint.kind == "ordinal":
            return GridEndpoint(self._ordinal(endpoint), nan, nan, nan, nan)
        if endpoint.kind == "free_days":
            return GridEndpoint(self.free_days(endpoint.horizon), nan, nan, nan, nan)
        return self._measure(endpoint)

    def _measure(self, endpoint: Endpoint) -> GridEndpoint:
        nan = np.full(len(self.grid.arm), np.nan)
        m = self.measure_at(endpoint, endpoint.day)
        return GridEndpoint(m.aval, m.base, m.chg, nan, nan, m.ice)

    def measure_at(self, endpoint: Endpoint, day: int) -> "GridMeasure":
        """A change or value endpoint at one visit day: the value in the window, the
        intercurrent strategies, the log scale if asked, then the worst-rank scores of
        composite strategies."""
        found, found_day = self.value_at(endpoint.param, day, endpoint.window)
        raw_base = self.baseline(endpoint.param)
        adsl = self.grid.adsl
        event, event_day = applying_event(adsl["DTHDY"], adsl["DSCHDY"], day)
        strategy = strategies_at(endpoint, event)
        last = last_day = None
        if np.isin(strategy, WHILE).any():      # the last value on days 2..event day
            last, last_day = self._last_value(endpoint.param, event_day)
        raw = strategy_values(found, last, strategy)
        ice = np.where(event != "", event.astype(object) + ":" + strategy, "").astype(object)
        aval, base = raw, raw_base
        if endpoint.transform == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                aval, base = (np.log(np.where(v > 0, v, np.nan)) for v in (raw, raw_base))
        chg = aval - base
        scored = np.isin(strategy, COMPOSITES)
        if scored.any():
            column = chg if KINDS[endpoint.kind].response == "CHG" else aval
            score = self._composite_scores(column, strategy, day - event_day,
                                           worst_direction(endpoint.param) == "min")
            aval, chg = np.where(scored, score, aval), np.where(scored, score, chg)
        return GridMeasure(found, found_day, event, strategy, event_day, last_day, raw,
                           raw_base, aval, base, chg, ice)

    def _last_value(self, param: str, event_day: np.ndarray):
        """(value, day) of the last non-missing value on days 2..event day (NaN: none)."""
        values, days = self.daily(param), self.grid.days
        with np.errstate(invalid="ignore"):
            usable = ~np.isnan(values) & (days[None, :] >= 2) & \
                (days[None, :] <= event_day[:, None])
        column = values.shape[1] - 1 - np.argmax(usable[:, ::-1], axis=1)
        some = usable.any(axis=1)
        return (np.where(some, values[np.arange(len(values)), column], np.nan),
                np.where(some, days[column].astype(float), np.nan))

    def _composite_scores(self, column, strategy, before, higher_is_better) -> np.ndarray:
        """strategies.composite_scores per trial (replicate): below every observed value
        of the trial lo - 1 - (day - event day), above hi + 1 + (day - event day)."""
        n = self.grid.n
        scored = np.isin(strategy, COMPOSITES).reshape(-1, n)
        observed = np.where(scored, np.nan, column.reshape(-1, n))
        seen = ~np.isnan(observed).all(axis=1)
        with np.errstate(invalid="ignore"):
            lo = np.where(seen, np.nanmin(np.where(seen[:, None], observed, 0.0), axis=1), 0.0)
            hi = np.where(seen, np.nanmax(np.where(seen[:, None], observed, 0.0), axis=1), 0.0)
        lo, hi = np.repeat(lo, n), np.repeat(hi, n)
        below, above = lo - 1.0 - before, hi + 1.0 + before
        return np.where((strategy == "composite_worst") == higher_is_better, below, above)

    def _ordinal(self, endpoint: Endpoint) -> np.ndarray:
        return self.ordinal(endpoint)[0]

    def ordinal(self, endpoint: Endpoint) -> tuple[np.ndarray, np.ndarray]:
        """(AVAL, DAY): the value at the day; dead on or before it 10; discharged on or
        before it without a value in the window 2 (DAY: the day itself for those two,
        the value's day otherwise, the day where none)."""
        adsl, day = self.grid.adsl, endpoint.day
        aval, found_day = self.value_at(endpoint.param, day, endpoint.window)
        with np.errstate(invalid="ignore"):
            discharged = np.isnan(aval) & (adsl["DSCHDY"] <= day)
            dead = adsl["DTHDY"] <= day
        aval = np.where(discharged, float(schema.WHO_DISCHARGED), aval)
        aval = np.where(dead, float(schema.WHO_DEAD), aval)
        found_day = np.where(dead | discharged | np.isnan(found_day), float(day), found_day)
        return aval, found_day

    def free_days(self, horizon: int) -> np.ndarray:
        """H minus the days in 1..H on IMV or ECMO (the last support carried forward,
        days before the first record taking the first, days from discharge free); 0 when
        dead by H; missing when neither dead nor discharged by H and last known alive
        before H."""
        days = np.arange(1, horizon + 1)
        device = self.daily("OXYDEV")
        at = np.searchsorted(self.grid.days, days)
        present = self.grid.days[np.minimum(at, len(self.grid.days) - 1)] == days
        support = np.where(present[None, :], device[:, np.minimum(at, device.shape[1] - 1)],
                           np.nan)
        support = _fill_along_days(_fill_along_days(support)[:, ::-1])[:, ::-1]
        adsl = self.grid.adsl
        with np.errstate(invalid="ignore"):
            ventilated = (support >= schema.OXYDEV_RANK["IMV"]) & \
                ~(days[None, :] >= adsl["DSCHDY"][:, None])
            dead = adsl["DTHDY"] <= horizon
            lost = ~dead & ~(adsl["DSCHDY"] <= horizon) & (adsl["LSTALVDY"] < horizon)
        aval = np.where(dead, 0.0, horizon - ventilated.sum(axis=1))
        return np.where(lost, np.nan, aval)

    def baseline(self, param: str) -> np.ndarray:
        return baseline_values(self.daily(param), self.grid.days)

    def value_at(self, param: str, day: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """(value, its day) in [max(2, day - window), day + window]: the nearest day,
        the earlier on a tie; NaN where there is none."""
        days = self.grid.days
        lo = max(2, day - window)
        candidates = [d for d in sorted(range(lo, day + window + 1), key=lambda d: (abs(d - day), d))
                      if d in days]
        values = self.daily(param)
        out, found = np.full(len(values), np.nan), np.full(len(values), np.nan)
        for d in reversed(candidates):          # the preferred day written last
            column = values[:, np.searchsorted(days, d)]
            out = np.where(np.isnan(column), out, column)
            found = np.where(np.isnan(column), found, float(d))
        return out, found

    def event_timing(self, endpoint: Endpoint):
        """derive._event_timing: first event day (<= horizon), follow-up end, died first."""
        event_day = self._first_event_day(endpoint.event, endpoint.horizon)
        last = np.full(len(event_day), np.nan)
        for param in endpoint.params:
            present = ~np.isnan(self.daily(param))
            day = np.where(present, self.grid.days[None, :], -np.inf).max(axis=1)
            last = np.fmax(last, np.where(np.isfinite(day), day, np.nan))
        adsl = self.grid.adsl
        follow_up, died_first = event_timing(event_day, last, adsl["LSTALVDY"], adsl["DTHDY"],
                                             endpoint.horizon)
        return event_day, follow_up, died_first

    def _time_to_event(self, endpoint: Endpoint):
        aval, evntcd = time_to_event_values(endpoint, *self.event_timing(endpoint),
                                            self.grid.adsl["DTHDY"])
        return aval, np.where(evntcd == 1, 0.0, 1.0), evntcd.astype(float)

    def _binary(self, endpoint: Endpoint) -> np.ndarray:
        return binary_values(endpoint, *self.event_timing(endpoint))

    def _first_event_day(self, rule: EventRule, horizon: int) -> np.ndarray:
        """The first day (<= horizon) the rule holds, evaluated on the days where one of its
        leaves may change value (a record of its parameters, a state's first day)."""
        days = self.grid.days
        in_window = (days >= 1) & (days <= horizon)
        leaves = rule.leaves()
        candidate = np.zeros((len(self.grid.arm), len(days)), dtype=bool)
        for param in dict.fromkeys(c.param for c in leaves if c.param):
            candidate |= ~np.isnan(self.daily(param))
        for leaf in leaves:
            if _starts(leaf) is not None:
                candidate |= days[None, :] == self._state_start(_starts(leaf))[:, None]
        holds = self._holds(rule) & candidate & in_window[None, :]
        first = days[np.argmax(holds, axis=1)].astype(float)
        return np.where(holds.any(axis=1), first, np.nan)

    def _holds(self, rule: EventRule | Condition) -> np.ndarray:
        if isinstance(rule, EventRule):
            parts = [self._holds(item) for item in rule.items]
            if not parts:
                return np.zeros((len(self.grid.arm), len(self.grid.days)), dtype=bool)
            return (np.logical_or if rule.mode == "any" else np.logical_and).reduce(parts)
        days = self.grid.days[None, :]
        if _starts(rule) is not None:
            with np.errstate(invalid="ignore"):
                return days >= self._state_start(_starts(rule))[:, None]
        observed = self.daily(rule.param)
        threshold = rule.value
        if rule.chg is not None:
            observed, threshold = observed - self.baseline(rule.param)[:, None], rule.chg
        with np.errstate(invalid="ignore"):
            holds = COMPARE[rule.op](observed, threshold) & ~np.isnan(observed) & (days >= 2)
        if rule.on is not None:
            holds &= self._support_carried_forward() == schema.OXYDEV_RANK[rule.on]
        return holds

    def _support_carried_forward(self) -> np.ndarray:
        """Oxygen support rank on each day, the last record carried forward
        (events._support_on_day); NaN before the first record."""
        return _fill_along_days(self.daily("OXYDEV"))

    def _state_start(self, state: str) -> np.ndarray:
        """The day a state begins; an AE condition's kind ("ae:serious"): its first day."""
        adsl = self.grid.adsl
        if state.startswith("ae:"):
            if state[3:] not in self.grid.ae_start:
                raise ValueError("the grid carries no adverse events: make it with "
                                 "make_grid(..., adverse_events=True)")
            return self.grid.ae_start[state[3:]]
        if state == "dead":
            return adsl["DTHDY"]
        if state == "discharged":
            return adsl["DSCHDY"]
        vented = self.daily("OXYDEV") >= schema.OXYDEV_RANK["IMV"]   # ventilated
        first = self.grid.days[np.argmax(vented, axis=1)].astype(float)
        return np.where(vented.any(axis=1), first, np.nan)


def baseline_values(values: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Per row (subject) the baseline: the last non-missing value with ADY <= 1."""
    values = values[:, days <= 1]
    present = ~np.isnan(values)
    if values.shape[1] == 0:
        return np.full(len(values), np.nan)
    last = values.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
    out = values[np.arange(len(values)), last]
    return np.where(present.any(axis=1), out, np.nan)


def _fill_along_days(values: np.ndarray) -> np.ndarray:
    """Each row's last non-missing value carried forward; NaN before the first."""
    columns = np.arange(values.shape[1])
    last = np.maximum.accumulate(np.where(np.isnan(values), -1, columns), axis=1)
    carried = values[np.arange(len(values))[:, None], np.maximum(last, 0)]
    return np.where(last >= 0, carried, np.nan)


def _starts(leaf: Condition) -> str | None:
    """The state whose start day a leaf holds from: a state, or "ae:<kind>"."""
    return leaf.state if leaf.state is not None else (None if leaf.ae is None else f"ae:{leaf.ae}")
