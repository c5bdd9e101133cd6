"""Endpoint derivation on a daily grid: simulate's fast path (DESIGN.md 3-4).

A simulated trial has at most one record per subject, day and parameter, so
its visits are a (subject x day) array per parameter. This module applies the
derivation rules of daily.py, events.py and derive.py to those arrays for
thousands of subjects at once, without building, validating and reducing a
long visit table. It covers the rules simulation needs (``unsupported`` lists
what it does not); everything else goes through derive.py. Agreement with
derive.py on simulated trials of every design is tested value by value
(tests/simulation/test_simulate_grid.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .. import schema
from .rules import COMPARE, binary_values, event_timing, time_to_event_values
from ..plan import Condition, DataRules, Endpoint, EventRule, Sap
from ..specs import METHODS
from .strategies import WHILE, applying_event, strategies_at, strategy_values

__all__ = ["DailyGrid", "GridEndpoint", "GridDerivation", "unsupported", "endpoint_unsupported",
           "grid_params"]

# what the generator records (synth.PARAM_ORDER; synth imports this module, not back)
_RECORDED = ("OXYDEV", "WHOCPS", "SPO2", "RR", "O2FLOW", "FIO2", "PAO2", "IL6", "TNFA")
GRID_PARAMS = frozenset(_RECORDED) | {"PF", "SF"}
# the methods with a batch kernel (specs.METHODS), run by the grid engine
GRID_METHODS = frozenset(m for m, row in METHODS.items() if row.batch_kernel)
_NUMERIC_ADSL = ("AGE", "BMI")
_CATEGORICAL_ADSL = ("SEX", "STRATUM")


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
    """
    days: np.ndarray
    values: Mapping[str, np.ndarray]
    recorded: Mapping[str, np.ndarray]
    lloq: Mapping[str, float]
    arm: np.ndarray
    n: int
    adsl: Mapping[str, np.ndarray]

    @property
    def replicates(self) -> int:
        return len(self.arm) // self.n

    def population(self, name: str) -> np.ndarray:
        """Boolean (N,) of the subjects in an analysis population (Trial.population)."""
        itt = self.adsl["ITTFL"]
        return {"ITT": itt, "safety": self.adsl["SAFFL"], "mITT": itt & self.adsl["DOSED"]}[name]


@dataclass(frozen=True)
class GridEndpoint:
    """One endpoint for every subject, (N,) arrays as derive.py's columns (NaN where
    they do not apply or are missing). Measures are at the endpoint's day."""
    aval: np.ndarray
    base: np.ndarray
    chg: np.ndarray
    cnsr: np.ndarray
    evntcd: np.ndarray


def unsupported(sap: Sap) -> list[str]:
    """Why the SAP's analyses cannot be derived and analysed on the grid (empty: they can)."""
    reasons = []
    for analysis in sap.analyses:
        endpoint = sap.endpoint(analysis.endpoint)
        where = f"analysis {analysis.id}"
        if analysis.method not in GRID_METHODS:
            reasons.append(f"{where}: method {analysis.method} (the grid runs "
                           f"{', '.join(sorted(GRID_METHODS))})")
        options = analysis.options
        if options.get("missing") == "mi":
            reasons.append(f"{where}: multiple imputation (missing = \"mi\")")
        if analysis.method == "ancova" and (set(options.get("covariates", ())) -
                                            {"BASE", *_NUMERIC_ADSL} or options.get("strata")):
            reasons.append(f"{where}: covariates other than BASE, AGE and BMI, or strata")
        if analysis.method == "logrank" and (options.get("covariates") or options.get("rho")
                                             or options.get("gamma")):
            reasons.append(f"{where}: covariates or Fleming-Harrington weights")
        if analysis.method == "logrank" and set(options.get("strata", ())) - set(_CATEGORICAL_ADSL):
            reasons.append(f"{where}: strata other than SEX and STRATUM")
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


def endpoint_unsupported(endpoint: Endpoint) -> list[str]:
    out = [f"parameter {p}" for p in endpoint.params if p not in GRID_PARAMS]
    if endpoint.kind in ("change", "value"):
        if endpoint.repeated and endpoint.day not in endpoint.days:
            out.append("a repeated endpoint whose day is not among its days")
        # worst-rank scores take the minimum and maximum of one trial, not of a batch
        out += [f"intercurrent {event} = {strategy}" for event, strategy in endpoint.intercurrent
                if strategy.startswith("composite")]
    elif endpoint.kind in ("time_to_event", "binary"):
        leaves = endpoint.event.leaves()
        out += ["an adverse-event condition" for c in leaves if c.ae is not None]
    else:
        out.append(f"endpoint kind {endpoint.kind}")
    return out


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
        device = values["OXYDEV"]
        out = np.where(needs & (device == schema.OXYDEV_RANK["RA"]), schema.FIO2_ROOM_AIR, fio2)
        if self.rules.fio2_from_flow:
            cannula = needs & (device == schema.OXYDEV_RANK["NC"])
            out = np.where(cannula, schema.FIO2_ROOM_AIR
                           + schema.FIO2_PER_LITRE * values["O2FLOW"], out)
        return out

    def _who(self) -> np.ndarray:
        """Recorded; else from the day's support; else 10 on the day of death, 2 on the
        day of discharge (death first)."""
        values, days = self.grid.values, self.grid.days
        who = values["WHOCPS"]
        from_device = np.array([schema.WHO_FROM_OXYDEV[c] for c in schema.OXYDEV_CODES], float)
        device = values["OXYDEV"]
        has_device = ~np.isnan(device)
        derived = np.full(device.shape, np.nan)
        derived[has_device] = from_device[device[has_device].astype(int)]
        who = np.where(np.isnan(who), derived, who)
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
        aval, base = self._value_at(endpoint.param, endpoint.day, endpoint.window), \
            self.baseline(endpoint.param)
        if endpoint.intercurrent:
            aval = self._with_strategies(endpoint, aval)
        if endpoint.transform == "log":
            with np.errstate(divide="ignore", invalid="ignore"):
                aval, base = (np.log(np.where(v > 0, v, np.nan)) for v in (aval, base))
        return GridEndpoint(aval, base, aval - base, nan, nan)

    def _with_strategies(self, endpoint: Endpoint, aval: np.ndarray) -> np.ndarray:
        """strategies.strategy_values at the endpoint's day (composites are unsupported)."""
        adsl = self.grid.adsl
        event, event_day = applying_event(adsl["DTHDY"], adsl["DSCHDY"], endpoint.day)
        strategy = strategies_at(endpoint, event)
        last = None
        if np.isin(strategy, WHILE).any():      # the last value on days 2..event day
            values, days = self.daily(endpoint.param), self.grid.days
            usable = ~np.isnan(values) & (days[None, :] >= 2) & (days[None, :] <= event_day[:, None])
            column = values.shape[1] - 1 - np.argmax(usable[:, ::-1], axis=1)
            last = np.where(usable.any(axis=1), values[np.arange(len(values)), column], np.nan)
        return strategy_values(aval, last, strategy)

    def baseline(self, param: str) -> np.ndarray:
        """Last non-missing value with ADY <= 1 (events.baseline)."""
        values = self.daily(param)[:, self.grid.days <= 1]
        present = ~np.isnan(values)
        last = values.shape[1] - 1 - np.argmax(present[:, ::-1], axis=1)
        out = values[np.arange(len(values)), last]
        return np.where(present.any(axis=1), out, np.nan)

    def _value_at(self, param: str, day: int, window: int) -> np.ndarray:
        """Value in [max(2, day - window), day + window]: nearest day, the earlier on a tie."""
        days = self.grid.days
        lo = max(2, day - window)
        candidates = [d for d in sorted(range(lo, day + window + 1), key=lambda d: (abs(d - day), d))
                      if d in days]
        values = self.daily(param)
        out = np.full(len(values), np.nan)
        for d in reversed(candidates):          # the preferred day written last
            column = values[:, np.searchsorted(days, d)]
            out = np.where(np.isnan(column), out, column)
        return out

    def _event_timing(self, endpoint: Endpoint):
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
        aval, evntcd = time_to_event_values(endpoint, *self._event_timing(endpoint),
                                            self.grid.adsl["DTHDY"])
        return aval, np.where(evntcd == 1, 0.0, 1.0), evntcd.astype(float)

    def _binary(self, endpoint: Endpoint) -> np.ndarray:
        return binary_values(endpoint, *self._event_timing(endpoint))

    def _first_event_day(self, rule: EventRule, horizon: int) -> np.ndarray:
        """events.first_event_day: the rule is evaluated on the days where one of its
        leaves may change value (a record of its parameters, a state's first day)."""
        days = self.grid.days
        in_window = (days >= 1) & (days <= horizon)
        leaves = rule.leaves()
        candidate = np.zeros((len(self.grid.arm), len(days)), dtype=bool)
        for param in dict.fromkeys(c.param for c in leaves if c.param):
            candidate |= ~np.isnan(self.daily(param))
        for leaf in leaves:
            if leaf.state is not None:
                candidate |= days[None, :] == self._state_start(leaf.state)[:, None]
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
        if rule.state is not None:
            with np.errstate(invalid="ignore"):
                return days >= self._state_start(rule.state)[:, None]
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
        device = self.grid.values["OXYDEV"]
        columns = np.arange(device.shape[1])
        last = np.maximum.accumulate(np.where(np.isnan(device), -1, columns), axis=1)
        carried = device[np.arange(len(device))[:, None], np.maximum(last, 0)]
        return np.where(last >= 0, carried, np.nan)

    def _state_start(self, state: str) -> np.ndarray:
        adsl = self.grid.adsl
        if state == "dead":
            return adsl["DTHDY"]
        if state == "discharged":
            return adsl["DSCHDY"]
        vented = self.grid.values["OXYDEV"] >= schema.OXYDEV_RANK["IMV"]   # ventilated
        first = self.grid.days[np.argmax(vented, axis=1)].astype(float)
        return np.where(vented.any(axis=1), first, np.nan)
