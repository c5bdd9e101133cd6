"""The grid kernels of missing = "mi", tipping_point and permutation give the rows the
runner gives on the same grid (analyse_grid runner_only=True): p-values and pooled
estimates to 1e-10, the same not-estimable reasons, on the template SAPs at the
design's size and at n = 3 and 6 (arms without values, too few for a model)."""

from __future__ import annotations

import numpy as np
import pytest

from mscstats.derive.grid import GridDerivation, grid_params, unsupported
from mscstats.derive.grid_visits import endpoint_values
from mscstats.plan import parse_sap, template, template_text
from mscstats.simulation.engine import _chunk_seed, restrict_sap
from mscstats.simulation.grid_engine import analyse_grid, kernel_of
from mscstats.simulation.synth import get_design, make_grid


def assert_same_rows(grid_rows, runner_rows):
    assert len(grid_rows) == len(runner_rows)
    for ours, theirs in zip(grid_rows, runner_rows):
        assert ours[:3] == theirs[:3] and ours[5] == theirs[5], (ours, theirs)
        for k in (3, 4):
            assert (ours[k] is None) == (theirs[k] is None), (ours, theirs)
            if theirs[k] is not None:
                assert ours[k] == pytest.approx(theirs[k], rel=1e-10, abs=1e-14), (ours, theirs)


def batch_share(sap, grid, analysis_id):
    """The share of replicates the kernel answered itself."""
    analysis = next(a for a in sap.analyses if a.id == analysis_id)
    endpoint = sap.endpoint(analysis.endpoint)
    values = endpoint_values(GridDerivation(grid, sap.data), endpoint)
    included = grid.population(sap.analysis_population(analysis))
    out = kernel_of(analysis)(analysis, endpoint, values, grid, included, sap)
    return 1 - out.needs_runner.mean()


MI_SAPS = [("refractory-hypoxia", ["primary_mi", "primary_tipping"]),
           ("nebulized-exosomes", ["primary_mi", "primary_tipping"]),
           ("prevent-progression", ["primary_tipping"])]


@pytest.mark.parametrize("key, analyses", MI_SAPS)
@pytest.mark.parametrize("size", ["design", 6, 3])
def test_mi_and_tipping_point_equal_the_runner(key, analyses, size):
    sap = restrict_sap(template(key), analyses)
    assert not unsupported(sap)
    n = get_design(key).n if size == "design" else size
    grid = make_grid(key, n, 25, _chunk_seed(3, n, 1), None, grid_params(sap))
    assert_same_rows(analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True))
    if size == "design" and "primary_mi" in analyses:
        assert batch_share(sap, grid, "primary_mi") >= 0.9


PERMUTATIONS = """
[[analysis]]
id = "perm_wilcoxon"
endpoint = "pf_d7"
method = "permutation"
statistic = "wilcoxon"

[[analysis]]
id = "perm_mean"
endpoint = "pf_d7"
method = "permutation"
statistic = "mean_difference"
n_permutations = 500

[[analysis]]
id = "perm_ancova"
endpoint = "pf_d7"
method = "permutation"
statistic = "ancova"
covariates = ["BASE", "AGE"]
n_permutations = 500

[[analysis]]
id = "perm_logrank"
endpoint = "ttci"
method = "permutation"
statistic = "logrank"
n_permutations = 300

[[analysis]]
id = "perm_cox"
endpoint = "ttci"
method = "permutation"
statistic = "cox_score"
n_permutations = 300
"""


def permutation_sap():
    # the template's own permutation analysis is on a worst-rank endpoint, which the grid
    # does not derive yet; these are the statistics on endpoints it does derive
    text = template_text("refractory-hypoxia")
    at = text.index("[multiplicity]")
    sap = parse_sap(text[:at] + PERMUTATIONS + text[at:])
    return restrict_sap(sap, ["perm_wilcoxon", "perm_mean", "perm_ancova", "perm_logrank",
                              "perm_cox"])


@pytest.mark.parametrize("n", [60, 6, 3])
def test_permutation_equals_the_runner(n):
    sap = permutation_sap()
    assert not unsupported(sap)
    grid = make_grid("refractory-hypoxia", n, 25, _chunk_seed(5, n, 0), None, grid_params(sap))
    rows = analyse_grid(grid, sap)
    assert rows == analyse_grid(grid, sap, runner_only=True)     # bit for bit
    if n == 60:
        assert batch_share(sap, grid, "perm_wilcoxon") == 1.0
        assert all(r[3] is not None for r in rows)


def mi_variant(key, endpoint, **options):
    """The template's primary ANCOVA by MI on another endpoint or with other options."""
    from dataclasses import replace
    sap = template(key)
    primary = sap.analyses[0]
    analysis = replace(primary, id="variant_mi", endpoint=endpoint, method="ancova",
                       options={"covariates": ("BASE",), "missing": "mi", "imputations": 20,
                                **options})
    sap = replace(sap, analyses=sap.analyses + (analysis,))
    return restrict_sap(sap, ["variant_mi"])


@pytest.mark.parametrize("key, endpoint, options", [
    ("refractory-hypoxia", "pf_course", {}),                               # visits 3, 7
    ("refractory-hypoxia", "pf_course", {"mi_reference": "jump_to_reference"}),
    ("refractory-hypoxia", "pf_d7", {"mi_reference": "copy_reference",
                                     "covariates": ("BASE", "AGE")}),
    ("three-arm-paxlovid", "pf_d7", {}),                                   # two treated arms
])
@pytest.mark.parametrize("n", ["design", 6])
def test_mi_variants_equal_the_runner(key, endpoint, options, n):
    sap = mi_variant(key, endpoint, **options)
    assert not unsupported(sap)
    n = get_design(key).n if n == "design" else n
    grid = make_grid(key, n, 25, _chunk_seed(8, n, 0), None, grid_params(sap))
    assert_same_rows(analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True))
    if n > 6:
        assert batch_share(sap, grid, "variant_mi") >= 0.9


@pytest.mark.parametrize("param", ["PF", "RR"])          # higher better, lower better
def test_worst_rank_win_probability_is_the_runners(param):
    """The template's permutation is on worst-rank scores (pf_d7_rank), which the grid
    does not derive yet: the kernel's answer for such a sample against run_permutation."""
    from dataclasses import replace

    import pandas as pd

    from mscstats.analysis import AnalysisInput
    from mscstats.analysis.permutation import STATISTICS, _Sample, run_permutation
    from mscstats.derive.daily import worst_direction
    from mscstats.simulation.grid_permutation import _replicate
    endpoint = replace(template("refractory-hypoxia").endpoint("pf_d7_rank"), param=param)
    rng = np.random.default_rng(4)
    for n in (5, 30):
        y = np.round(rng.normal(size=n), 1)
        y[:3] = -1e6                                      # deaths: tied worst scores
        treated = np.arange(n) % 2 == 1
        data = pd.DataFrame({"USUBJID": [f"S{i:04d}" for i in range(n)],
                             "ARM": np.where(treated, "UC-MSC", "control"), "CHG": y,
                             "BASE": 100.0, "AVAL": y})
        inp = AnalysisInput(id="perm", endpoint=endpoint.id, endpoint_kind="change",
                            method="permutation", data=data, arms=("control", "UC-MSC"),
                            options={"statistic": "wilcoxon", "n_permutations": 2000},
                            alpha=0.05, seed=9, intercurrent=dict(endpoint.intercurrent),
                            higher_is_better=worst_direction(param) == "min")
        comparison = run_permutation(inp).comparisons[0]
        assert comparison.estimand == "win_probability"
        p, estimate = _replicate("wilcoxon", STATISTICS["wilcoxon"],
                                 _Sample(treated, y, None, None, {}), endpoint, 2000, 9, "perm")
        assert (p, estimate) == (comparison.p_value, comparison.estimate)
