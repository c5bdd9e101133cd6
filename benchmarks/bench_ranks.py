"""Benchmark case `ranks` (bench.py --case ranks): the rank, paired, 2 x 2 table and
proportional odds batch kernels over B replicates of a two-arm trial of n = 60,
against a loop of the scalar core (the runner's numbers) and scipy / statsmodels
where they have the method. Loops that would take minutes run on a subset of the
replicates and are extrapolated (the line says so).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

N = 60


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _loop(fn, replicates: int, subset: int) -> tuple[float, str]:
    """Seconds of fn(r) over the first `subset` replicates, scaled to all of them."""
    subset = min(subset, replicates)
    t = _seconds(lambda: [fn(r) for r in range(subset)])
    note = "" if subset == replicates else f"(extrapolated from {subset})"
    return t * replicates / subset, note


def _data(replicates: int, seed: int = 19):
    rng = np.random.default_rng(seed)
    treated = np.broadcast_to(np.arange(N) % 2 == 1, (replicates, N))
    continuous = rng.normal(size=(replicates, N)) + 0.5 * treated
    scores = np.round(continuous * 1.5)                      # ties: the normal approximation
    event = (rng.random((replicates, N)) < np.where(treated, 0.2, 0.35)).astype(float)
    categories = np.clip(np.round(continuous + 3), 1, 6)
    return rng, treated, continuous, scores, event, categories


def run(line, quick: bool) -> None:
    from mscstats.analysis.batch.ordinal import proportional_odds_batch
    from mscstats.analysis.batch.paired import one_sample_t_batch
    from mscstats.analysis.batch.proportions import fisher_p_batch, newcombe_batch, tables_of
    from mscstats.analysis.batch.ranks import rank_sum_batch, rank_sum_p_batch, signed_rank_batch
    from mscstats.analysis.cores import ordinal, proportions, ranks, ttests
    replicates = 2000 if quick else 10000
    subset = 200 if quick else 500
    _, treated, continuous, scores, event, categories = _data(replicates)
    used = np.ones((replicates, N), dtype=bool)
    print(f"\nranks: {replicates:,} replicates of a two-arm trial, n = {N}")

    def arms(y, r):
        return y[r, treated[r]], y[r, ~treated[r]]

    for label, y in (("Wilcoxon + HL, no ties (exact)", continuous),
                     ("Wilcoxon + HL, ties (normal, uniroot)", scores)):
        ours = _seconds(lambda: rank_sum_batch(y, treated, used))
        loop, note = _loop(lambda r: ranks.rank_sum(*arms(y, r)), replicates, subset)
        line(label, ours, loop, "core loop", note)
    from scipy import stats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scipy_p = _seconds(lambda: stats.mannwhitneyu(scores[:, 1::2], scores[:, ::2], axis=1))
    line("  p only, vs scipy.stats.mannwhitneyu(axis)", _seconds(
        lambda: rank_sum_p_batch(scores, treated, used)), scipy_p, "scipy    ",
        "(scipy: p only, no Hodges-Lehmann estimate or CI)")

    change = scores[:, :30]
    half = used[:, :30]
    ours = _seconds(lambda: (one_sample_t_batch(change, half), signed_rank_batch(change, half)))
    loop, note = _loop(lambda r: (ttests.one_sample(change[r]), ranks.signed_rank(change[r])),
                       replicates, subset)
    line("paired t + signed rank (n = 30, ties)", ours, loop, "core loop", note)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _seconds(lambda: (stats.ttest_1samp(change, 0, axis=1),
                                   stats.wilcoxon(change, axis=1)))
    line("  vs scipy ttest_1samp + wilcoxon (axis)", ours, theirs, "scipy    ",
         "(scipy: no pseudo-median or CI)")

    tables = tables_of(event, treated, used)
    ours = _seconds(lambda: (newcombe_batch(tables), fisher_p_batch(tables)))
    loop, note = _loop(lambda r: (proportions.newcombe_difference(*tables.rows()[r]),
                                  proportions.fisher_exact_p(*tables.rows()[r])),
                       replicates, subset)
    line("risk difference + Fisher p", ours, loop, "core loop", note)
    rows = tables.rows()
    theirs, note = _loop(lambda r: stats.fisher_exact([[rows[r, 0], rows[r, 1] - rows[r, 0]],
                                                       [rows[r, 2], rows[r, 3] - rows[r, 2]]]),
                         replicates, subset * 4)
    line("  vs scipy.stats.fisher_exact loop", ours, theirs, "scipy    ", note)

    x = treated[..., None].astype(float)
    ours = _seconds(lambda: proportional_odds_batch(categories, x, used))
    loop, note = _loop(lambda r: ordinal.proportional_odds(categories[r], x[r]),
                       replicates, subset)
    line("proportional odds (6 categories)", ours, loop, "core loop", note)
    theirs, note = _loop(lambda r: _statsmodels_po(categories[r], x[r]), replicates, subset // 5)
    line("  vs statsmodels OrderedModel loop", ours, theirs, "statsmodels", note)


def _statsmodels_po(y, x):
    import pandas as pd
    from statsmodels.miscmodels.ordinal_model import OrderedModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return OrderedModel(pd.Series(pd.Categorical(y, ordered=True)), x,
                            distr="logit").fit(method="bfgs", disp=False)
