"""Shared by the report, table and figure tests: SAPs restricted to the methods
implemented so far, and hand-made curves."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mscstats.analysis import registry
from mscstats.plan import Sap, template
from mscstats.results import Curve

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"


def implemented_sap(key: str) -> Sap:
    """The design's template SAP with only the analyses whose method has a runner
    (survival and competing-risk runners arrive in other branches)."""
    sap = template(key)
    methods = registry()
    analyses = tuple(a for a in sap.analyses if a.method in methods)
    ids = {a.id for a in analyses}
    endpoints = tuple(e for e in sap.endpoints if e.id in {a.endpoint for a in analyses})
    family = tuple(f for f in sap.multiplicity.family if f in ids)
    return dataclasses.replace(sap, analyses=analyses, endpoints=endpoints,
                               multiplicity=dataclasses.replace(sap.multiplicity, family=family))


def all_methods_implemented(key: str) -> bool:
    methods = registry()
    return all(a.method in methods for a in template(key).analyses)


def survival_curve(arm: str, kind: str = "survival") -> Curve:
    """Five subjects: events on days 2 and 5, censored on days 3, 7 and 9."""
    estimate = (0.8, 0.8, 0.4, 0.4, 0.4) if kind == "survival" else (0.2, 0.2, 0.6, 0.6, 0.6)
    return Curve(arm=arm, kind=kind, time=(2.0, 3.0, 5.0, 7.0, 9.0), estimate=estimate,
                 lower=tuple(max(0.0, e - 0.2) for e in estimate),
                 upper=tuple(min(1.0, e + 0.2) for e in estimate),
                 n_risk=(5, 4, 3, 2, 1), n_event=(1, 0, 1, 0, 0), n_censor=(0, 1, 0, 1, 1))
