"""The batch MMRM kernel (analysis/batch/mmrm.py) against the scalar core
(cores/mmrm.py) replicate by replicate, and its grid adapter (simulation/grid_mmrm.py)
against the runner on the same simulated replicates.

Tolerance 1e-8 (iterative fits): both stop by the same rule and polish the same way,
and agree to ~1e-10 in estimates and SEs, ~1e-9 in df. The df of very small
replicates differ by up to ~1e-5 (a finite-difference Hessian of a flat REML
surface); the adapter sends those to the runner, which test_small_trials_... checks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mscstats.analysis.batch.mmrm import mmrm_batch
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.mmrm import fit_mmrm
from mscstats.derive.grid import grid_params
from mscstats.plan import Analysis, template
from mscstats.simulation.engine import _chunk_seed, restrict_sap
from mscstats.simulation.grid_engine import analyse_grid
from mscstats.simulation.synth import NULL_EFFECT, make_grid

REL = 1e-8


def design(arm, base, t, arms):
    """The runner's columns: intercept, arms, days, arm x day, BASE, BASE x day."""
    b, n = arm.shape
    one = np.ones((b, n, t, 1))
    arm_cols = [np.broadcast_to((arm == j)[..., None, None], one.shape) for j in range(1, arms)]
    day_cols = [np.broadcast_to((np.arange(t) == k)[:, None], one.shape) for k in range(1, t)]
    base_col = np.broadcast_to(base[..., None, None], one.shape)
    cols = [one, *arm_cols, *day_cols, *[a * d for a in arm_cols for d in day_cols], base_col,
            *[base_col * d for d in day_cols]]
    return np.concatenate([c * one for c in cols], axis=-1)


def contrast(arms, t, p, j, target):
    weights = np.zeros(p)
    weights[j] = 1.0
    if target:
        weights[arms + t - 1 + (j - 1) * (t - 1) + target - 1] = 1.0
    return weights


def random_replicates(seed, b, n, t, arms, missing=0.15):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(t, t))
    sigma = a @ a.T * 150 + np.diag(rng.uniform(100, 600, t))
    arm = rng.integers(0, arms, (b, n))
    base = rng.normal(140, 30, (b, n))
    y = (5 + 3 * np.arange(t) + 4 * (arm[..., None] == arms - 1) * np.arange(t)
         - 0.3 * (base[..., None] - 140) + rng.multivariate_normal(np.zeros(t), sigma, (b, n)))
    observed = rng.random((b, n, t)) > missing
    y = np.where(observed, y, np.nan)
    return y, design(arm, base, t, arms), observed


def core_fit(y, x, observed, t):
    subject, visit = np.nonzero(observed)
    return fit_mmrm(y[observed], x[observed], subject, visit, t)


@pytest.mark.parametrize("t, arms, n", [(3, 2, 60), (4, 3, 80), (2, 2, 40)])
def test_kernel_equals_the_core_replicate_by_replicate(t, arms, n):
    y, x, observed = random_replicates(t * 100 + arms, 12 if t > 3 else 25, n, t, arms)
    p = x.shape[-1]
    weights = np.array([contrast(arms, t, p, j, target) for j in range(1, arms)
                        for target in range(t)])
    fit = mmrm_batch(y, x, observed, weights)
    assert fit.converged.all()
    for r in range(len(y)):
        core = core_fit(y[r], x[r], observed[r], t)
        assert fit.llf[r] == pytest.approx(core.llf, rel=1e-12)
        for c, w in enumerate(weights):
            ref = core.contrast(w)
            assert fit.estimate[r, c] == pytest.approx(ref.estimate, rel=REL, abs=REL * ref.se)
            assert fit.se[r, c] == pytest.approx(ref.se, rel=REL)
            assert fit.df[r, c] == pytest.approx(ref.df, rel=REL)


def test_what_the_kernel_cannot_fit_is_left_to_the_core():
    y, x, observed = random_replicates(5, 6, 40, 3, 2)
    observed[0, :, 1] = False                   # a visit without values
    x[1, :, :, 1] = 0.0                         # nobody in the treated arm: aliased columns
    y[2, :, 2] = 7.0                            # no variation at a visit ...
    x[2, :, 2, :] = x[2, :, 0, :]               # ... and nothing else differs there
    y[3] = np.where(observed[3], y[3], np.nan) * 1e-3      # small numbers: still fitted
    observed[4, 3:] = False                     # 3 subjects: 9 values for 9 coefficients
    fit = mmrm_batch(y, x, observed, np.eye(x.shape[-1])[1:2])
    assert fit.converged.tolist() == [False, False, False, True, False, True]
    assert np.isnan(fit.estimate[~fit.converged]).all() and np.isnan(fit.df[0])
    for r in (0, 4):
        with pytest.raises(NotEstimable):
            core_fit(y[r], x[r], observed[r], 3)
    core = core_fit(y[3], x[3], observed[3], 3).contrast(np.eye(x.shape[-1])[1])
    assert fit.estimate[3, 0] == pytest.approx(core.estimate, rel=REL, abs=REL * core.se)


# ------------------------------------------------------------------ the grid adapter

def assert_same_rows(fast, slow):
    assert len(fast) == len(slow)
    checked = 0
    for ours, theirs in zip(fast, slow):
        assert ours[:3] == theirs[:3] and ours[5] == theirs[5], (ours, theirs)
        for k in (3, 4):
            assert (ours[k] is None) == (theirs[k] is None), (ours, theirs)
            if theirs[k] is not None:
                assert ours[k] == pytest.approx(theirs[k], rel=REL, abs=1e-12), (ours, theirs)
                checked += 1
    return checked


@pytest.mark.parametrize("n, effect", [(60, None), (40, NULL_EFFECT), (20, None)])
def test_adapter_equals_the_runner_on_grid_replicates(n, effect):
    sap = restrict_sap(template("refractory-hypoxia"), ["pf_mmrm"])
    grid = make_grid("refractory-hypoxia", n, 12, _chunk_seed(3, n, 0), effect, grid_params(sap))
    assert assert_same_rows(analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True)) \
        >= 20


@pytest.mark.parametrize("n", [2, 3, 4, 6, 12])
def test_small_trials_go_to_the_runner_and_give_its_rows(n):
    """The template tries unstructured, toeplitz, ar1, cs: where the kernel's unstructured
    fit is not given (small trials), the runner's list still finds a structure, and
    with unstructured alone the runner's reasons are the rows'."""
    template_sap = restrict_sap(template("refractory-hypoxia"), ["pf_mmrm"])
    (analysis,) = template_sap.analyses
    alone = replace(template_sap, analyses=(replace(analysis, options={
        **analysis.options, "covariance": "unstructured"}),))
    grid = make_grid("refractory-hypoxia", n, 15, _chunk_seed(8, n, 0), None,
                     grid_params(template_sap))
    listed = analyse_grid(grid, template_sap, runner_only=True)
    assert_same_rows(analyse_grid(grid, template_sap), listed)
    single = analyse_grid(grid, alone, runner_only=True)
    assert_same_rows(analyse_grid(grid, alone), single)
    assert any(r[5] is not None for r in single)           # not estimable, with the reason
    if n >= 6:                                             # another structure converges
        assert sum(r[3] is not None for r in listed) > sum(r[3] is not None for r in single)


def three_arm_sap(**options):
    """three-arm-paxlovid with its P/F (while alive/in hospital) and log IL-6 endpoints
    repeated on days 3, 7, 14 and analysed by MMRM."""
    sap = template("three-arm-paxlovid")
    repeated = {"pf_d7", "il6_d7"}
    endpoints = tuple(replace(e, days=(3, 7, 14)) if e.id in repeated else e
                      for e in sap.endpoints)
    analyses = tuple(Analysis(f"mmrm_{e}", e, "mmrm", dict(options)) for e in sorted(repeated))
    return replace(sap, endpoints=endpoints, analyses=analyses, estimands=(),
                   multiplicity=replace(sap.multiplicity, method="none", family=()))


@pytest.mark.parametrize("options", [{}, {"covariates": ("BASE", "AGE"),
                                          "covariance": ("unstructured", "ar1")}])
def test_adapter_with_three_arms_logs_and_covariates(options):
    sap = three_arm_sap(**options)
    grid = make_grid("three-arm-paxlovid", 90, 10, _chunk_seed(4, 90, 0), None, grid_params(sap))
    fast, slow = analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True)
    assert {r[2] for r in slow} >= {"mean_difference", "geometric_mean_ratio"}
    assert assert_same_rows(fast, slow) >= 60


@pytest.mark.parametrize("options", [{"strata": ("STRATUM",)}, {"covariance": "toeplitz"},
                                     {"covariates": ("SEX",)}])
def test_what_the_adapter_does_not_fit_goes_to_the_runner(options, monkeypatch):
    import mscstats.analysis.batch.mmrm as kernel
    sap = three_arm_sap(**options)
    grid = make_grid("three-arm-paxlovid", 60, 4, _chunk_seed(4, 60, 1), None, grid_params(sap))
    monkeypatch.setattr(kernel, "mmrm_batch", lambda *a: pytest.fail("the kernel ran"))
    assert assert_same_rows(analyse_grid(grid, sap), analyse_grid(grid, sap, runner_only=True))


def test_a_chunk_where_a_newton_step_helps_no_replicate_equals_the_runner():
    """Found by `simulate --analyses pf_mmrm --n-sims 1000`: in chunk 25 an iteration
    accepted no step for any replicate still iterating (the kernel then evaluated an
    empty batch and stopped the run)."""
    from mscstats.simulation.engine import run_chunk
    sap = restrict_sap(template("refractory-hypoxia"), ["pf_mmrm"])
    args = ("refractory-hypoxia", sap, 60, 25, 25, sap.study.seed, None)
    assert assert_same_rows(run_chunk(*args), run_chunk(*args, runner_only=True)) >= 40
