"""Re-run every template SAP on its committed synthetic trial and compare with
the golden results. A failure prints the `mscstats diff` table; after an
intended change re-bless with `python scripts/bless_golden.py` (docs/ci.md)."""

import pytest

from mscstats.regression import compare_with_golden, golden_path
from mscstats.schema import DESIGN_KEYS


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_results_match_golden(key):
    assert golden_path(key).exists(), f"no golden file for {key}: run scripts/bless_golden.py"
    diff = compare_with_golden(key)
    assert diff.equal, f"results of {key} drifted from the golden file:\n{diff}"
