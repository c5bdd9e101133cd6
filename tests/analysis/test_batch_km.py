"""The Kaplan-Meier and RMST kernels over replicates agree with the scalar cores
(cores/km.py, cores/rmst.py, themselves checked against survfit) replicate by
replicate, to 1e-10: heavy ties, all censored, no censoring, every subject with the
event (S reaches 0), subjects left out, n = 2..6 and day-0 times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mscstats.analysis.batch.km import (kaplan_meier_batch, landmarks_batch, median_batch,
                                        restricted_mean_batch, rmst_difference_batch,
                                        rmst_ratio_batch)
from mscstats.analysis.cores.common import NotEstimable
from mscstats.analysis.cores.km import kaplan_meier, landmark, median_survival
from mscstats.analysis.cores.rmst import restricted_mean, rmst_difference, rmst_ratio

RTOL, ATOL = 1e-10, 1e-12


def survival_batch(seed: int, b: int, n: int, days: int = 6):
    """Times on a few study days (ties), events 60%, edge replicates planted."""
    rng = np.random.default_rng(seed)
    time = rng.integers(0 if seed % 2 else 1, days + 1, (b, n)).astype(float)
    event = rng.random((b, n)) < 0.6
    included = rng.random((b, n)) < 0.8
    included[:, :2] = True                         # at least two subjects each
    event[0] = False                               # all censored
    event[1] = True                                # every subject has the event
    time[2] = 3.0                                  # one tied time
    if b > 5:
        time[5] = rng.random(n) * days             # no ties at all
    return time, event, included


def close(actual, expected):
    if expected is None:
        assert np.isnan(actual)
    else:
        assert actual == pytest.approx(expected, rel=RTOL, abs=ATOL)


CASES = [(seed, n) for seed in range(4) for n in (2, 3, 4, 5, 6)] + [(7, 40), (8, 150)]


@pytest.mark.parametrize("seed, n", CASES)
@pytest.mark.parametrize("conf_type", ["log-log", "log", "plain"])
def test_landmarks_and_medians_equal_the_core(seed, n, conf_type):
    time, event, included = survival_batch(seed, 30, n)
    curve = kaplan_meier_batch(time, event, included, conf_type, 0.95)
    medians = median_batch(curve)
    days = (0, 1, 2.5, 3, 6, 7)
    marks = [landmarks_batch(curve, day) for day in days]
    for r in range(len(time)):
        keep = included[r]
        km = kaplan_meier(time[r, keep], event[r, keep], conf_type, 0.95)
        median = median_survival(km)
        for got, want in zip((medians.estimate, medians.lower, medians.upper),
                             (median.estimate, median.lower, median.upper)):
            close(got[r], want)
        for day, mark in zip(days, marks):
            want = landmark(km, day)
            for field in ("survival", "lower", "upper", "std_err"):
                close(getattr(mark, field)[r], getattr(want, field))
            assert mark.n_risk[r] == want.n_risk
            assert mark.beyond_follow_up[r] == want.beyond_follow_up


def test_a_median_on_a_flat_stretch_at_one_half_is_the_midpoint():
    # 4 subjects, events on days 1 and 2 then censored: S = 0.75, 0.5 (flat), then 0 at 5
    time = np.array([[1.0, 2, 4, 5]])
    event = np.array([[1, 1, 0, 1]])
    got = median_batch(kaplan_meier_batch(time, event, np.ones((1, 4), bool)))
    assert got.estimate[0] == (2 + 5) / 2


@pytest.mark.parametrize("seed, n", CASES)
@pytest.mark.parametrize("tau", [0.5, 3, 6, 10])
def test_restricted_means_and_their_contrasts_equal_the_core(seed, n, tau):
    time, event, included = survival_batch(seed, 30, n)
    arm = np.random.default_rng(seed + 100).random(time.shape) < 0.5
    arm[:, 0], arm[:, 1] = True, False
    curves = [kaplan_meier_batch(time, event, included & (arm == j)) for j in (0, 1)]
    means = [restricted_mean_batch(c, tau) for c in curves]
    difference = rmst_difference_batch(means[1], means[0], 0.95)
    ratio = rmst_ratio_batch(means[1], means[0], 0.95)
    for r in range(len(time)):
        scalar = [restricted_mean(kaplan_meier(time[r, included[r] & (arm[r] == j)],
                                               event[r, included[r] & (arm[r] == j)]), tau)
                  for j in (0, 1)]
        for mean, want in zip(means, scalar):
            close(mean.estimate[r], want.estimate)
            close(mean.se[r], want.se)
        want = rmst_difference(scalar[1], scalar[0], 0.95)
        for got, expected in ((difference.estimate, want.estimate), (difference.se, want.se),
                              (difference.lower, want.ci.lower), (difference.upper, want.ci.upper),
                              (difference.p, want.p_value)):
            close(got[r], expected)
        try:
            want = rmst_ratio(scalar[1], scalar[0], 0.95)
        except NotEstimable:
            assert np.isnan(ratio.estimate[r])
            continue
        for got, expected in ((ratio.estimate, want.estimate), (ratio.se, want.se),
                              (ratio.lower, want.ci.lower), (ratio.upper, want.ci.upper),
                              (ratio.p, want.p_value)):
            close(got[r], expected)


def test_both_arms_with_se_0_give_the_difference_without_a_test():
    time = np.array([[5.0, 6, 7, 8]])               # nobody has an event before tau
    event = np.zeros((1, 4), int)
    arm = np.array([[0, 0, 1, 1]])
    means = [restricted_mean_batch(kaplan_meier_batch(time, event, arm == j), 4.0)
             for j in (0, 1)]
    got = rmst_difference_batch(means[1], means[0], 0.95)
    assert got.estimate[0] == 0.0 and got.se[0] == 0.0 and math.isnan(got.p[0])
    assert rmst_ratio_batch(means[1], means[0], 0.95).estimate[0] == 1.0
