"""The 2 x 2 table kernels give what cores/proportions.py gives (itself checked against
fisher.test, prop.test, chisq.test and Newcombe's paper in tests/reference/compare/):
every table with arms of 0..6 subjects (empty arms, zero cells, all events) and 300
random larger ones, to 1e-10; not estimable exactly where the core raises."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mscstats.analysis.batch.proportions import (Tables, chi_square_batch, fisher_batch,
                                                 fisher_p_batch, katz_batch, newcombe_batch,
                                                 tables_of)
from mscstats.analysis.cores import proportions as core
from mscstats.analysis.cores.common import NotEstimable


def all_tables() -> list[tuple[int, int, int, int]]:
    small = [(x1, n1, x2, n2) for n1, n2 in itertools.product(range(7), repeat=2)
             for x1 in range(n1 + 1) for x2 in range(n2 + 1)]
    rng = np.random.default_rng(11)
    sizes = rng.integers(1, 150, size=(300, 2))
    large = [(int(rng.integers(0, a + 1)), int(a), int(rng.integers(0, b + 1)), int(b))
             for a, b in sizes]
    return small + large


TABLES = all_tables()
BATCH = Tables(*np.array(TABLES).T)


def close(ours, theirs):
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-14)


def scalar(fn, table):
    try:
        return fn(*table)
    except NotEstimable:
        return None


@pytest.mark.parametrize("level", [0.95, 0.9])
def test_newcombe_and_katz_equal_the_core(level):
    rd, rr = newcombe_batch(BATCH, level), katz_batch(BATCH, level)
    for i, table in enumerate(TABLES):
        for batch, fn in ((rd, core.newcombe_difference), (rr, core.katz_risk_ratio)):
            if table[1] == 0 or table[3] == 0:       # the core divides by zero
                assert not batch.ok[i]
                continue
            r = scalar(lambda *t: fn(*t, level), table)
            assert batch.ok[i] == (r is not None), table
            if r is not None:
                for ours, theirs in ((batch.estimate[i], r.estimate),
                                     (batch.lower[i], r.ci.lower), (batch.upper[i], r.ci.upper)):
                    close(ours, theirs)
        if rr.ok[i]:
            assert rr.corrected[i] == bool(core.katz_risk_ratio(*table).notes)


def test_chi_square_and_fisher_equal_the_core():
    chi, p, fits = chi_square_batch(BATCH), fisher_p_batch(BATCH), fisher_batch(BATCH)
    for i, table in enumerate(TABLES):
        r = scalar(core.chi_square, table)
        assert chi.ok[i] == (r is not None), table
        if r is not None:
            close(chi.statistic[i], r.statistic)
            close(chi.p[i], r.p_value)
        if table[1] == 0 or table[3] == 0:
            assert math.isnan(p[i]) and fits[i] is None
            continue
        f = core.fisher_exact(*table)
        assert p[i] == f.p_value
        assert (fits[i].odds_ratio, fits[i].ci) == (f.odds_ratio, f.ci)


def test_tables_of_counts_the_used_subjects():
    event = np.array([[1, 0, 1, 1, np.nan, 0]])
    treated = np.array([[1, 1, 1, 0, 0, 0]], bool)
    used = np.array([[1, 1, 0, 1, 0, 1]], bool)
    t = tables_of(event, treated, used)
    assert (t.x1[0], t.n1[0], t.x2[0], t.n2[0]) == (1, 2, 1, 2)


def test_hand_checked_table():
    # 7/10 against 2/10: risk difference 0.5; Fisher p = 0.06978 (fisher.test)
    t = Tables(np.array([7]), np.array([10]), np.array([2]), np.array([10]))
    assert newcombe_batch(t).estimate[0] == pytest.approx(0.5)
    assert fisher_p_batch(t)[0] == pytest.approx(0.0698, abs=1e-4)
    assert katz_batch(t).estimate[0] == pytest.approx(3.5)
