"""Shared pytest hooks: count the comparisons with reference implementations.

Tests that compare mscstats with a reference (R's stored outputs, scipy,
statsmodels, a plain loop) are named ``test_*match*``; the summary at the end of
a run says how many ran, so a CI log shows the validation actually happened.
"""

import re

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
