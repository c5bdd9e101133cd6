"""Intercurrent events and estimands of the SAP (DESIGN.md section 9, ICH E9(R1)).

The vocabulary as data (events, strategies, which analyses can use which) and
the checks plan.py runs on them before any data is read. Each check gets the
SAP checker's ``fail(key, message, fix)`` so its errors carry the key path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .specs import HYPOTHETICAL_METHODS

__all__ = ["EVENTS", "STRATEGIES", "RANK_STRATEGIES", "Estimand", "parse_intercurrent",
           "check_windows", "check_strategy_fits", "parse_estimands", "endpoint_rules"]

EVENTS = ("death", "discharge")
STRATEGIES = ("treatment_policy", "composite_worst", "composite_best", "while_alive",
              "while_hospitalized", "hypothetical")
RANK_STRATEGIES = ("composite_worst", "composite_best")
# strategies that name one event only: the while-strategies follow their event
_ONLY_FOR = {"composite_best": "discharge", "while_alive": "death",
             "while_hospitalized": "discharge"}
ESTIMAND_KEYS = ("id", "analysis", "sensitivity")

Fail = Callable[[str, str, str], Exception]


@dataclass(frozen=True)
class Estimand:
    """One ``[[estimand]]``: the main analysis that estimates it and its sensitivity analyses."""
    id: str
    analysis: str
    sensitivity: tuple[str, ...] = ()


def parse_intercurrent(value: Any, path: str, fail: Fail) -> tuple[tuple[str, str], ...]:
    """``{ death = ..., discharge = ... }`` -> ((event, strategy), ...) in EVENTS order."""
    if not isinstance(value, Mapping):
        raise fail(path, "must be a table of intercurrent events and strategies.",
                   'e.g. intercurrent = { death = "composite_worst", discharge = '
                   '"while_hospitalized" }')
    for event in value:
        if event not in EVENTS:
            raise fail(f"{path}.{event}", "is not an intercurrent event.",
                       f"use {' or '.join(EVENTS)}.")
    out = []
    for event in EVENTS:
        if event not in value:
            continue
        strategy = value[event]
        if strategy not in STRATEGIES:
            raise fail(f"{path}.{event}", f"{strategy!r} is not a strategy.",
                       f"use one of: {', '.join(STRATEGIES)}.")
        only = _ONLY_FOR.get(strategy)
        if only is not None and only != event:
            other = {"composite_best": "composite_worst", "while_hospitalized": "while_alive",
                     "while_alive": "while_hospitalized"}[strategy]
            why = {"composite_best": "a death cannot rank above every observed value",
                   "while_hospitalized": "the time in hospital ends at discharge, not death",
                   "while_alive": "the time alive ends at death, not discharge"}[strategy]
            raise fail(f"{path}.{event}", f"{strategy} is for {only} only ({why}).",
                       f"use {other} (or another strategy) for {event}.")
        out.append((event, strategy))
    return tuple(out)


def check_windows(days: tuple[int, ...], window: int, path: str, fail: Fail) -> None:
    """The windows of a repeated endpoint's days must not share a day."""
    for a, b in zip(days, days[1:]):
        if a + window >= b - window:
            raise fail(f"{path}.window", f"the windows of days {a} and {b} overlap (+/- "
                       f"{window} days: {a - window}-{a + window} and {b - window}-{b + window}), "
                       "so one value could count for two visits.",
                       f"use window <= {max(0, (b - a - 1) // 2)} or days further apart.")


def check_strategy_fits(endpoint, method: str, options: Mapping, path: str, fail: Fail) -> None:
    """An analysis must be able to use its endpoint's strategies (DESIGN.md 9 table)."""
    for event, strategy in getattr(endpoint, "intercurrent", ()):
        key = f"endpoint[{endpoint.id}].intercurrent.{event}"
        if strategy in RANK_STRATEGIES and not _rank_method(method, options):
            raise fail(f"{path}.method", f"{method} averages values, but {key} = "
                       f"{strategy!r} gives worst-rank scores, which have only an order.",
                       'use method = "wilcoxon" (win probability) or method = "permutation" '
                       f'with statistic = "wilcoxon", or another strategy in {key}.')
        if strategy == "hypothetical" and method not in HYPOTHETICAL_METHODS and \
                options.get("missing", "complete_case") != "mi":
            raise fail(f"{path}.method", f"{key} = 'hypothetical' sets values after the event "
                       f"missing, and {method} on the complete cases does not estimate the "
                       "hypothetical value.", 'use method = "mmrm", or add missing = "mi" to '
                       f"the analysis, or another strategy in {key}.")


def _rank_method(method: str, options: Mapping) -> bool:
    return method == "wilcoxon" or (method == "permutation" and
                                    options.get("statistic") == "wilcoxon")


def parse_estimands(items: list, analyses: tuple, fail: Fail) -> tuple[Estimand, ...]:
    known = [a.id for a in analyses]
    out, seen = [], set()
    for i, t in enumerate(items):
        path = f"estimand[{t['id']}]" if isinstance(t, Mapping) and isinstance(
            t.get("id"), str) else f"estimand[{i}]"
        if not isinstance(t, Mapping):
            raise fail(path, "must be a table.", "write each as [[estimand]].")
        for key in t:
            if key not in ESTIMAND_KEYS:
                raise fail(f"{path}.{key}", "unknown key.",
                           f"allowed keys: {', '.join(ESTIMAND_KEYS)}.")
        for key in ("id", "analysis"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise fail(f"{path}.{key}", "is required (a non-empty string).",
                           f'add {key} = "..." to the [[estimand]].')
        if t["id"] in seen:
            raise fail(f"{path}.id", f"{t['id']!r} is used twice.", "give every estimand its own id.")
        seen.add(t["id"])
        sensitivity = t.get("sensitivity", [])
        if not isinstance(sensitivity, list) or not all(isinstance(s, str) for s in sensitivity):
            raise fail(f"{path}.sensitivity", "must be a list of analysis ids.",
                       'e.g. sensitivity = ["primary_mi"]')
        for key, name in [("analysis", t["analysis"])] + [
                (f"sensitivity[{j}]", s) for j, s in enumerate(sensitivity)]:
            if name not in known:
                raise fail(f"{path}.{key}", f"names {name!r}, which no [[analysis]] declares.",
                           f"use analysis ids: {', '.join(known)}.")
        if t["analysis"] in sensitivity or len(set(sensitivity)) != len(sensitivity):
            raise fail(f"{path}.sensitivity", "repeats an analysis (or the main one).",
                       "list each sensitivity analysis once, without the main analysis.")
        out.append(Estimand(t["id"], t["analysis"], tuple(sensitivity)))
    return tuple(out)


def endpoint_rules(endpoint) -> dict[str, str]:
    """{event: strategy} as the estimand table reports it.

    change and value endpoints: the SAP's strategies (treatment_policy by default).
    The other kinds have their rule built in (DESIGN.md 4); it is named here.
    """
    kind = endpoint.kind
    if kind in ("change", "value"):
        declared = dict(getattr(endpoint, "intercurrent", ()))
        return {event: declared.get(event, "treatment_policy") for event in EVENTS}
    states = {c.state for c in endpoint.event.leaves()} if endpoint.event is not None else set()
    if kind == "time_to_event":
        out = {"death": endpoint.death if "dead" not in states else "event"}
        if "discharged" in states:
            out["discharge"] = "event"
        return out
    if kind == "binary":
        out = {"death": "event" if "dead" in states else "no_event"}
        if "discharged" in states:
            out["discharge"] = "event"
        return out
    if kind == "ordinal":
        return {"death": "category_10", "discharge": "category_2"}
    return {"death": "zero_free_days", "discharge": "free_to_horizon"}   # free_days
