"""What the tests share: paths, the reference tolerances, R's JSON numbers, and a hook
that counts the comparisons with reference implementations.

Tests that compare mscstats with a reference (R's stored outputs, scipy,
statsmodels, a plain loop) are named ``test_*match*``; the summary at the end of
a run says how many ran, so a CI log shows the validation actually happened.
Test modules import the constants below with ``from conftest import ...``.
"""

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent           # tests/ (its helpers are on pythonpath)
ROOT = TESTS.parent                               # the checkout: data/, docs/, scripts/
REFERENCE = TESTS / "reference"                   # R scripts and their stored outputs
SYNTHETIC = ROOT / "data" / "synthetic"

# DESIGN.md section 5: closed-form statistics agree with R to 1e-6 relative, iterative
# fits (MMRM, ordinal, Fine-Gray, root finding) to 1e-4; p-values to 1e-6 absolute.
CLOSED, ITERATIVE, P_ABS = 1e-6, 1e-4, 1e-6


def num(v):
    """R's JSON numbers: "Inf"/"-Inf"/"NaN" strings as floats, "NA" and null as None."""
    if isinstance(v, list):
        return [num(x) for x in v]
    if v == "NA":
        return None
    return float(v) if isinstance(v, str) else v

_REFERENCE = re.compile(r"^test_\w*match")
_counts = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report):
    name = report.nodeid.split("::")[-1]
    if not _REFERENCE.match(name):
        return
    if report.when == "call":
        _counts[report.outcome] = _counts.get(report.outcome, 0) + 1
    elif report.when == "setup" and report.skipped:
        _counts["skipped"] += 1


def pytest_terminal_summary(terminalreporter):
    total = sum(_counts.values())
    if total:
        terminalreporter.write_line(
            f"reference comparisons (tests named test_*match*, mostly against R's stored "
            f"outputs in tests/reference/): {_counts['passed']} passed, {_counts['failed']} "
            f"failed, {_counts['skipped']} skipped")
