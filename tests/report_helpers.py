"""Shared by the report, table and figure tests: the synthetic trials and
hand-made curves."""

from __future__ import annotations

from pathlib import Path

from mscstats.results import Curve

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"


def survival_curve(arm: str, kind: str = "survival") -> Curve:
    """Five subjects: events on days 2 and 5, censored on days 3, 7 and 9."""
    estimate = (0.8, 0.8, 0.4, 0.4, 0.4) if kind == "survival" else (0.2, 0.2, 0.6, 0.6, 0.6)
    return Curve(arm=arm, kind=kind, time=(2.0, 3.0, 5.0, 7.0, 9.0), estimate=estimate,
                 lower=tuple(max(0.0, e - 0.2) for e in estimate),
                 upper=tuple(min(1.0, e + 0.2) for e in estimate),
                 n_risk=(5, 4, 3, 2, 1), n_event=(1, 0, 1, 0, 0), n_censor=(0, 1, 0, 1, 1))
