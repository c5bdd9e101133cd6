"""Re-run every template SAP on its committed synthetic trial and compare with
the golden results. A failure prints the `mscstats diff` table; after an
intended change re-bless with `python scripts/bless_golden.py` (docs/ci.md)."""

from pathlib import Path

import pytest

from golden import compare_with_golden, golden_path
from mscstats.schema import DESIGN_KEYS

ROOT = Path(__file__).resolve().parents[2]   # this checkout, also when mscstats is installed


@pytest.mark.parametrize("key", DESIGN_KEYS)
def test_results_match_golden(key):
    assert golden_path(key, ROOT).exists(), f"no golden file for {key}: run scripts/bless_golden.py"
    diff = compare_with_golden(key, root=ROOT)
    assert diff.equal, f"results of {key} drifted from the golden file:\n{diff}"


def test_a_changed_option_fails_with_a_diff_naming_the_analysis():
    from mscstats.plan import parse_sap, template_text
    text = template_text("refractory-hypoxia")
    assert text.count("tau = 28") == 1
    source = "refractory-hypoxia.toml"
    changed = parse_sap(text.replace("tau = 28", "tau = 21"), source)
    diff = compare_with_golden("refractory-hypoxia", changed, ROOT)
    assert not diff.equal
    table = str(diff)
    moved = {c.analysis for c in diff.changes} - {"manifest"}
    assert moved == {"ttci_rmst"}, table
    assert "ttci_rmst" in table and "rmst_difference" in table
    restored = compare_with_golden("refractory-hypoxia", parse_sap(text, source), ROOT)
    assert restored.equal, str(restored)
