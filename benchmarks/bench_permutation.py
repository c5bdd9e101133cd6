"""How fast is the vectorized permutation engine? (a script, not a test)

    python benchmarks/bench_permutation.py

Measures, in one run on this machine:
1. a 10,000-permutation log-rank test at n = 60 with the engine
   (mscstats.analysis.permutation.permutation_test over batch.logrank_batch);
2. the same with a plain Python loop over lifelines.statistics.logrank_test
   (a few hundred replicates timed, then extrapolated to 10,000 -- labelled);
3. the same with a plain loop calling the engine's scalar path (1-D labels) per replicate;
and the ratios; then every batch statistic on a (10,000 x 60) batch of labels.
Times are the median of several repeats (perf_counter).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # this checkout's mscstats

from mscstats.analysis.batch import kernels as batch  # noqa: E402
from mscstats.analysis.permutation import analysis_rng, permutation_test  # noqa: E402

N, B, HORIZON = 60, 10_000, 28
LIFELINES_REPLICATES = 300


def median_seconds(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def trial(seed: int = 2024):
    """n = 60, 1:1, event day 1..28 with ties, censored at the horizon, continuous outcome."""
    rng = np.random.default_rng(seed)
    treated = np.arange(N) % 2 == 1
    day = np.ceil(rng.exponential(np.where(treated, 24.0, 16.0)))
    event = day <= HORIZON
    day = np.minimum(day, HORIZON)
    y = rng.normal(np.where(treated, 60.0, 45.0), 25.0).round(1)
    covariates = np.column_stack([rng.normal(150, 40, N), rng.integers(35, 80, N)])
    return day, event, treated, y, covariates


def time_engine(day, event, treated):
    """(median seconds, result) of the engine's B-permutation log-rank test."""
    def engine():
        return permutation_test(lambda labels: batch.logrank_batch(day, event, labels).chi2,
                                treated, B, analysis_rng(1, "bench"))
    result = engine()
    return median_seconds(engine), result


def time_lifelines_loop(day, event, labels, repeats: int = 3):
    """(seconds for B replicates, chi2 per replicate) of a Python loop over lifelines'
    logrank_test, timed on the first LIFELINES_REPLICATES rows of labels and
    extrapolated to B."""
    from lifelines.statistics import logrank_test
    subset = labels[:LIFELINES_REPLICATES]

    def lifelines_loop():
        return [logrank_test(day[a], day[~a], event[a], event[~a]).test_statistic for a in subset]
    chi2 = np.array(lifelines_loop())
    return median_seconds(lifelines_loop, repeats=repeats) * B / len(subset), chi2


def main() -> None:
    day, event, treated, y, covariates = trial()
    print(f"mscstats permutation engine benchmark: n = {N}, B = {B:,}, numpy {np.__version__}")

    t_engine, result = time_engine(day, event, treated)
    print(f"\n1. engine, {B:,}-permutation log-rank test:      {t_engine:8.3f} s   "
          f"(p = {result.p_value:.4f})")

    rng = np.random.default_rng(7)
    labels = rng.permuted(np.broadcast_to(treated, (B, N)), axis=1)

    t_lifelines, reference = time_lifelines_loop(day, event, labels)
    subset = labels[:LIFELINES_REPLICATES]
    agree = np.max(np.abs(reference - batch.logrank_batch(day, event, subset).chi2))
    print(f"2. Python loop over lifelines logrank_test:   {t_lifelines:8.3f} s   "
          f"(EXTRAPOLATED from {LIFELINES_REPLICATES} replicates; max |chi2 difference| "
          f"vs engine {agree:.1e})")

    def scalar_loop():
        return [batch.logrank_batch(day, event, a).chi2 for a in labels]
    t_scalar = median_seconds(scalar_loop, repeats=3)
    print(f"3. Python loop calling the scalar path:        {t_scalar:8.3f} s   "
          f"(all {B:,} replicates)")
    print(f"\n   engine vs lifelines loop: {t_lifelines / t_engine:7.0f}x faster")
    print(f"   engine vs scalar loop:    {t_scalar / t_engine:7.0f}x faster")
    print(f"   target < 0.3 s: {'met' if t_engine < 0.3 else 'NOT met'}")

    binary = (y > 50).astype(float)
    others = {
        "logrank_batch": lambda: batch.logrank_batch(day, event, labels),
        "cox_score_batch (efron)": lambda: batch.cox_score_batch(day, event, labels),
        "cox_score_batch (breslow)": lambda: batch.cox_score_batch(day, event, labels,
                                                                   ties="breslow"),
        "wilcoxon_batch": lambda: batch.wilcoxon_batch(y, labels),
        "mean_difference_batch": lambda: batch.mean_difference_batch(y, labels),
        "risk_difference_batch": lambda: batch.risk_difference_batch(binary, labels),
        "welch_t_batch": lambda: batch.welch_t_batch(y, labels),
        "ancova_batch (2 covariates)": lambda: batch.ancova_batch(y, labels, covariates),
        "logrank_batch, per-replicate times": lambda: batch.logrank_batch(
            np.tile(day, (B, 1)), event, labels),
    }
    print(f"\nEach statistic on one ({B:,} x {N}) batch of labels (labels drawn beforehand):")
    for name, fn in others.items():
        print(f"   {name:38s} {median_seconds(fn) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
