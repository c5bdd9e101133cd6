"""Golden results for the synthetic trials: re-run, compare, re-bless.

Lives with the tests, not in the shipped package. Used by tests/regression/
(CI) and scripts/bless_golden.py (after an intended change). Users do the same for their own SAP with `mscstats analyze` and
`mscstats diff` (docs/ci.md).
"""

from __future__ import annotations

from pathlib import Path

from mscstats.diff import ResultsDiff, diff_results

__all__ = ["repository_root", "synthetic_dir", "golden_path", "current_results", "compare_with_golden"]

RTOL, ATOL = 1e-6, 1e-9


def repository_root() -> Path:
    """The mscstats checkout: golden files and synthetic trials live there, not in the
    installed package (a plain `pip install .` copies only mscstats/)."""
    for candidate in (Path(__file__).resolve().parents[1], Path.cwd()):
        if (candidate / "data" / "synthetic").is_dir():
            return candidate
    raise FileNotFoundError("run from an mscstats checkout: data/synthetic/ was not found")


def synthetic_dir(key: str, root: Path | None = None) -> Path:
    return (root or repository_root()) / "data" / "synthetic" / key


def golden_path(key: str, root: Path | None = None) -> Path:
    return (root or repository_root()) / "tests" / "regression" / "golden" / f"{key}.json"


def current_results(key: str, sap=None, root: Path | None = None) -> dict:
    """results.json of the committed synthetic trial of `key` under its template SAP
    (or under ``sap``: a changed template, to see what the change moves)."""
    import json

    from mscstats.pipeline import analyze, load
    from mscstats.plan import template
    sap = template(key) if sap is None else sap
    results = analyze(load(synthetic_dir(key, root), sap), sap)
    return json.loads(results.to_json())


def compare_with_golden(key: str, sap=None, root: Path | None = None) -> ResultsDiff:
    import json
    golden = json.loads(golden_path(key, root).read_text("utf-8"))
    return diff_results(golden, current_results(key, sap, root), rtol=RTOL, atol=ATOL)
