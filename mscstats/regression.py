"""Golden results for the synthetic trials: re-run, compare, re-bless.

Used by tests/regression/ (CI) and scripts/bless_golden.py (after an intended
change). Users do the same for their own SAP with `mscstats analyze` and
`mscstats diff` (docs/ci.md).
"""

from __future__ import annotations

from pathlib import Path

from .diff import ResultsDiff, diff_results

__all__ = ["synthetic_dir", "golden_path", "current_results", "compare_with_golden"]

ROOT = Path(__file__).resolve().parents[1]
RTOL, ATOL = 1e-6, 1e-9


def synthetic_dir(key: str) -> Path:
    return ROOT / "data" / "synthetic" / key


def golden_path(key: str) -> Path:
    return ROOT / "tests" / "regression" / "golden" / f"{key}.json"


def current_results(key: str, sap=None) -> dict:
    """results.json of the committed synthetic trial of `key` under its template SAP
    (or under ``sap``: a changed template, to see what the change moves)."""
    import json

    from .pipeline import analyze, load
    from .plan import template
    sap = template(key) if sap is None else sap
    results = analyze(load(synthetic_dir(key), sap), sap)
    return json.loads(results.to_json())


def compare_with_golden(key: str, sap=None) -> ResultsDiff:
    import json
    golden = json.loads(golden_path(key).read_text("utf-8"))
    return diff_results(golden, current_results(key, sap), rtol=RTOL, atol=ATOL)
