"""Two-arm statistics over a whole batch of replicate data sets at once.

Re-randomization (permutation.py) and simulation evaluate one statistic on
thousands of replicate data sets. Every function here takes arrays with a
leading replicate axis, (B, n), and returns one value per replicate, (B,), with
array operations only -- never a Python loop over replicates. An input that
every replicate shares may be given as (n,): it is broadcast, never copied B
times, so a permutation batch is B rows of arm labels against one outcome
vector. When every input is 1-D the results are scalars.

Arm labels: 0 (or False) = reference, 1 (or True) = treated. Inputs must be
finite; runners drop missing values first.

What each statistic agrees with (tests/analysis/test_batch.py, tests/reference/permutation/):

- logrank_batch: survival::survdiff (hypergeometric variance with ties;
  strata: per-stratum O - E and V summed). It is also the Cox score test with
  ties = "exact" (the discrete partial likelihood).
- cox_score_batch: coxph(ties = "breslow" | "efron")$score at beta = 0.
  Breslow has the log-rank's O - E but the variance sum d p (1 - p) without
  the tie factor (n - d) / (n - 1), so it equals survdiff only without ties;
  Efron changes both the score and the variance.
- wilcoxon_batch: wilcox.test's W and its normal z (tie and continuity corrected).
- welch_t_batch: t.test(var.equal = FALSE); ancova_batch: lm(y ~ arm + covariates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ScoreTest", "RankSum", "TStatistic", "CoxArm", "logrank_batch", "cox_score_batch",
           "cox_batch",
           "wilcoxon_batch", "mean_difference_batch", "risk_difference_batch",
           "welch_t_batch", "ancova_batch", "hodges_lehmann"]


@dataclass(frozen=True)
class ScoreTest:
    """A one-degree-of-freedom score test per replicate (log-rank, Cox score)."""
    chi2: np.ndarray       # score**2 / variance; 0 where the variance is 0 (no information)
    score: np.ndarray      # observed minus expected events in the treated arm
    variance: np.ndarray


@dataclass(frozen=True)
class RankSum:
    w: np.ndarray          # sum of treated ranks minus n1 (n1 + 1) / 2 (R's W)
    z: np.ndarray          # normal deviate, tie- and continuity-corrected (nan if all tied)


@dataclass(frozen=True)
class TStatistic:
    estimate: np.ndarray   # treated minus reference (mean or adjusted mean)
    se: np.ndarray
    t: np.ndarray
    df: np.ndarray


# ---------------------------------------------------------------- helpers

def _as_batch(*arrays: np.ndarray) -> tuple[list[np.ndarray], bool]:
    """Arrays as (1, n) or (B, n); whether any input had a replicate axis."""
    out = [np.asarray(a) for a in arrays]
    n = out[0].shape[-1]
    for a in out:
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise ValueError(f"expected arrays of shape (n,) or (B, n) with n = {n}; "
                             f"got shape {a.shape}")
    batched = any(a.ndim == 2 for a in out)
    return [a.reshape(1, n) if a.ndim == 1 else a for a in out], batched


def _result(x: np.ndarray, batched: bool):
    return x if batched else x[0]


def _labels(treated: np.ndarray) -> np.ndarray:
    """Arm labels as float 0/1 (exact in sums), checked."""
    if treated.dtype != bool and not ((treated == 0) | (treated == 1)).all():
        raise ValueError("arm labels must be 0 (reference) or 1 (treated)")
    return treated.astype(np.float64)


def _arm_sums(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sum of y over the treated subjects of each replicate, (B,)."""
    if y.shape[0] == 1:          # shared outcome: one matrix-vector product
        return t @ y[0]
    return np.einsum("bn,bn->b", np.broadcast_to(t, y.shape), y)


def _arm_sizes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n1 = t.sum(axis=-1)
    return n1, t.shape[-1] - n1


def _runs(*sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For keys sorted along the last axis: the first and last index of the run of
    equal keys each position belongs to, and whether the position ends its run."""
    shape = np.broadcast_shapes(*(k.shape for k in sorted_keys))
    n = shape[-1]
    new = np.zeros(shape, dtype=bool)
    new[..., 0] = True
    for k in sorted_keys:
        new[..., 1:] |= k[..., 1:] != k[..., :-1]
    last = np.empty(shape, dtype=bool)
    last[..., :-1] = new[..., 1:]
    last[..., -1] = True
    idx = np.arange(n)
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=-1)
    end = np.flip(np.minimum.accumulate(np.flip(np.where(last, idx, n - 1), -1), axis=-1), -1)
    return start, end, last


def _take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.take_along_axis(a, idx, axis=-1)


# ---------------------------------------------------------------- survival

@dataclass(frozen=True)
class _RiskSets:
    """At each distinct event time of each stratum: at risk n and n1, deaths d and d1.
    Columns that are not an event time have d = d1 = 0 and contribute nothing."""
    n: np.ndarray
    n1: np.ndarray
    d: np.ndarray
    d1: np.ndarray


def _risk_sets(time, event, t, strata, weight=None) -> _RiskSets:
    keys = [time] if strata is None else [time, strata]
    keys = np.broadcast_arrays(*keys) if len(keys) > 1 else keys
    # one sort shared by every replicate when times (and strata) are shared
    order = (np.argsort(keys[0], axis=-1, kind="stable") if strata is None
             else np.lexsort(keys, axis=-1))                   # stratum, then time
    ev_s, t_s = _take(event, order), _take(t, order)
    start, _, last = _runs(*(_take(k, order) for k in keys))
    if strata is None:
        stratum_end = np.full_like(start, start.shape[-1] - 1)
    else:
        _, stratum_end, _ = _runs(_take(keys[1], order))

    def run_sum(x, lo, hi=None):          # sum of x over sorted positions lo..hi (default: here)
        c = np.cumsum(x, axis=-1)
        return (c if hi is None else _take(c, hi)) - _take(c, lo) + _take(x, lo)

    if weight is None:
        n_risk = (stratum_end - start + 1).astype(np.float64)    # everyone with time >= t
    else:                                 # subjects left out of a replicate weigh 0
        w_s = _take(np.broadcast_to(weight, ev_s.shape), order)
        ev_s, t_s = ev_s * w_s, t_s * w_s
        n_risk = run_sum(w_s, start, stratum_end)
    n1 = run_sum(t_s, start, stratum_end)
    deaths = run_sum(ev_s, start)          # the run's deaths, complete at its last position
    deaths1 = run_sum(ev_s * t_s, start)
    keep = last & (deaths > 0)
    if keep.shape[0] == 1:                # shared event times: keep only those columns
        cols = np.flatnonzero(keep[0])
        return _RiskSets(n_risk[:, cols], n1[:, cols], deaths[:, cols], deaths1[:, cols])
    return _RiskSets(n_risk, n1, np.where(keep, deaths, 0.0), np.where(keep, deaths1, 0.0))


def _survival_inputs(time, event, treated, strata, included=None):
    """Risk sets of (n,) or (B, n) inputs; ``included`` (B, n) marks the subjects each
    replicate analyses (the others, whatever their values, count for nothing)."""
    arrays = [time, event, treated] + ([] if strata is None else [strata])
    arrays += [] if included is None else [included]
    arrays, batched = _as_batch(*arrays)
    time, event, treated = arrays[:3]
    strata = arrays[3] if strata is not None else None
    weight = None
    if included is not None:
        weight = arrays[-1].astype(np.float64)
        time = np.where(weight > 0, time, 0.0)
        event = np.where(weight > 0, event, 0)
        treated = np.where(weight > 0, treated, 0)
    if not np.isfinite(time).all():
        raise ValueError("survival times must be finite")
    if event.dtype != bool and not ((event == 0) | (event == 1)).all():
        raise ValueError("event indicators must be 0 (censored) or 1 (event)")
    return _risk_sets(time.astype(np.float64), event.astype(np.float64), _labels(treated),
                      strata, weight), batched


def _score_test(score, variance, batched) -> ScoreTest:
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(variance > 0, score ** 2 / variance, 0.0)
    return ScoreTest(_result(chi2, batched), _result(score, batched), _result(variance, batched))


def logrank_batch(time, event, treated, strata=None, included=None) -> ScoreTest:
    """The two-sample log-rank test as survival::survdiff, per replicate.

    time, event (1 = event, 0 = censored), treated, strata: (n,) or (B, n);
    included: (B, n) booleans, the subjects of each replicate (default all).
    score = O - E of the treated arm; variance = the hypergeometric variance
    sum d (n1/n) (1 - n1/n) (n - d) / (n - 1); chi2 = score**2 / variance.
    With strata, per-stratum O - E and variances are summed.
    """
    rs, batched = _survival_inputs(time, event, treated, strata, included)
    with np.errstate(divide="ignore", invalid="ignore"):   # empty risk sets carry no deaths
        p = np.where(rs.n > 0, rs.n1 / rs.n, 0.0)
    score = (rs.d1 - rs.d * p).sum(axis=-1)
    tie = (rs.n - rs.d) / np.maximum(rs.n - 1, 1)
    variance = (rs.d * p * (1 - p) * tie).sum(axis=-1)
    return _score_test(score, variance, batched)


def cox_score_batch(time, event, treated, strata=None, ties: str = "efron") -> ScoreTest:
    """The Cox model score test for the arm at beta = 0, as coxph(ties=)$score.

    ties = "breslow": score = O - E (the log-rank's), variance sum d p (1 - p).
    ties = "efron": the k-th of d tied deaths sees the risk set less k/d of the
    deaths, so p_k = (n1 - k d1 / d) / (n - k); score = d1 - sum_k p_k, variance
    sum_k p_k (1 - p_k). (ties = "exact" would be logrank_batch.)
    """
    rs, batched = _survival_inputs(time, event, treated, strata)
    if ties == "breslow":
        p = rs.n1 / rs.n
        score = (rs.d1 - rs.d * p).sum(axis=-1)
        variance = (rs.d * p * (1 - p)).sum(axis=-1)
    elif ties == "efron":
        score, variance = _efron_score(rs)
    else:
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    return _score_test(score, variance, batched)


def _efron_score(rs: _RiskSets) -> tuple[np.ndarray, np.ndarray]:
    # loops over the position within a tie (at most the largest tie), not replicates
    d_safe = np.where(rs.d > 0, rs.d, 1.0)
    frac1 = rs.d1 / d_safe
    score = rs.d1.sum(axis=-1)
    variance = np.zeros_like(score)
    for k in range(int(rs.d.max(initial=0))):
        active = k < rs.d
        p_k = np.where(active, (rs.n1 - k * frac1) / np.where(active, rs.n - k, 1.0), 0.0)
        score = score - p_k.sum(axis=-1)
        variance = variance + (p_k * (1 - p_k)).sum(axis=-1)
    return score, variance


@dataclass(frozen=True)
class CoxArm:
    """coxph(Surv(time, event) ~ arm) per replicate: the arm's log hazard ratio and SE.

    reliable is False where the fit could not be completed as cox.cox_fit does it
    without special cases (no information, no convergence in 30 iterations, or a
    coefficient coxph would call possibly infinite); those replicates need cox_fit.
    """
    params: np.ndarray
    se: np.ndarray
    reliable: np.ndarray


_COX_EPS = 1e-9                           # cox.py: coxph.control(eps), toler.inf = sqrt(eps)


def cox_batch(time, event, treated, strata=None, included=None) -> CoxArm:
    """Newton-Raphson of the Efron partial likelihood of one 0/1 covariate, every
    replicate at once, with cox.cox_fit's start, step halving and stopping rule.

    With a binary covariate the likelihood depends on the data only through the
    risk sets (at risk n0, n1 and deaths d0, d1 at each event time), which
    logrank_batch builds anyway; the k-th of d tied deaths sees the risk set less
    k/d of the deaths (Efron).
    """
    rs, batched = _survival_inputs(time, event, treated, strata, included)
    n1, n0 = rs.n1[..., None], (rs.n - rs.n1)[..., None]
    d1, d = rs.d1[..., None], rs.d[..., None]
    k = np.arange(int(rs.d.max(initial=0)))
    active = k < d                                           # (B, T, K)
    f = np.where(active, k / np.where(d > 0, d, 1.0), 0.0)
    deaths1 = rs.d1.sum(axis=-1)

    def evaluate(beta):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            e = np.exp(beta)[:, None, None]
            s1 = e * (n1 - f * d1)
            s0 = n0 + s1 - f * (d - d1)
            p = np.where(active, s1 / np.where(active, s0, 1.0), 0.0)
            loglik = deaths1 * beta - np.where(active, np.log(np.where(active, s0, 1.0)),
                                               0.0).sum(axis=(-1, -2))
            return loglik, deaths1 - p.sum(axis=(-1, -2)), (p * (1 - p)).sum(axis=(-1, -2))

    beta = np.zeros(rs.n.shape[0])
    loglik, score, info = evaluate(beta)
    reliable = info > 0
    done = ~reliable
    for _ in range(30):
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(done, 0.0, score / info)
        for _ in range(30):                                  # halve while the likelihood falls
            new = evaluate(beta + step)
            # a converged step is accepted even a hair lower (cox.cox_fit, coxph)
            rises = (new[0] >= loglik) | (np.abs(new[0] - loglik) <= _COX_EPS * np.abs(new[0]))
            falls = ~done & ~(np.isfinite(new[0]) & rises)
            if not falls.any():
                break
            step = np.where(falls, step / 2, step)
        converged = np.abs(new[0] - loglik) <= _COX_EPS * np.abs(new[0])
        beta = np.where(done, beta, beta + step)
        loglik, score, info = (np.where(done, old, fresh) for old, fresh in
                               zip((loglik, score, info), new))
        reliable &= done | (info > 0)
        done = done | converged | ~reliable
        if done.all():
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        var = 1.0 / info
        flag = np.abs(score * var)
    infinite = (flag > _COX_EPS) & (flag > np.sqrt(_COX_EPS) * np.abs(beta))
    reliable &= done & ~infinite & np.isfinite(beta) & (info > 0)
    return CoxArm(*(_result(x, batched) for x in (beta, np.sqrt(var), reliable)))


# ---------------------------------------------------------------- ranks

def _midranks(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks (ties get the mean rank) along the last axis, and sum(t^3 - t) over ties."""
    order = np.argsort(y, axis=-1, kind="stable")
    start, end, last = _runs(_take(y, order))
    ranks = np.empty(y.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, (start + end) / 2.0 + 1.0, axis=-1)
    size = (end - start + 1).astype(np.float64)
    ties = np.where(last, size ** 3 - size, 0.0).sum(axis=-1)
    return ranks, ties


def wilcoxon_batch(y, treated) -> RankSum:
    """Wilcoxon rank-sum W (as wilcox.test(treated, reference)) and its normal z.

    z = (W - n1 n0 / 2 - sign * 0.5) / sigma, sigma**2 = n1 n0 / 12 *
    (n + 1 - sum(t^3 - t) / (n (n - 1))), t the sizes of tied groups.
    """
    (y, treated), batched = _as_batch(y, treated)
    t = _labels(treated)
    ranks, ties = _midranks(y.astype(np.float64))
    n = y.shape[-1]
    n1, n0 = _arm_sizes(t)
    w = _arm_sums(t, ranks) - n1 * (n1 + 1) / 2
    centred = w - n1 * n0 / 2
    sigma = np.sqrt(n1 * n0 / 12 * ((n + 1) - ties / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (centred - 0.5 * np.sign(centred)) / sigma
    return RankSum(_result(w, batched), _result(z, batched))


def hodges_lehmann(y, treated) -> float:
    """Hodges-Lehmann shift of one data set: the median of all treated - reference differences."""
    y, treated = np.asarray(y, dtype=np.float64), np.asarray(treated, dtype=bool)
    return float(np.median(np.subtract.outer(y[treated], y[~treated])))


# ---------------------------------------------------------------- means

def _centred(y: np.ndarray) -> np.ndarray:
    # differences of means do not change; sums lose less precision
    y = y.astype(np.float64)
    return y - y.mean(axis=-1, keepdims=True)


def _arm_means(y, t, used=None):
    """Each arm's mean and size; ``used``: subjects a replicate analyses (the others'
    y and t are 0), all by default."""
    n1, n0 = _arm_sizes(t)
    if used is not None:
        n0 = used - n1
    s1 = _arm_sums(t, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return s1 / n1, (y.sum(axis=-1) - s1) / n0, n1, n0


def mean_difference_batch(y, treated) -> np.ndarray:
    """Mean of the treated arm minus mean of the reference arm, per replicate."""
    (y, treated), batched = _as_batch(y, treated)
    m1, m0, _, _ = _arm_means(_centred(y), _labels(treated))
    return _result(m1 - m0, batched)


def risk_difference_batch(event, treated) -> np.ndarray:
    """Difference in proportions (treated minus reference) of a 0/1 outcome."""
    event = np.asarray(event)
    if event.dtype != bool and not ((event == 0) | (event == 1)).all():
        raise ValueError("a binary outcome must be 0 or 1")
    return mean_difference_batch(event, treated)


def welch_t_batch(y, treated, included=None) -> TStatistic:
    """Welch's unequal-variance t (t.test(treated, reference)), per replicate.

    included: (B, n) booleans, the subjects each replicate compares (default all;
    left-out values may be NaN)."""
    if included is None:
        (y, treated), batched = _as_batch(y, treated)
        y, t = _centred(y), _labels(treated)
        m1, m0, n1, n0 = _arm_means(y, t)
        resid = y - np.where(t > 0, m1[:, None], m0[:, None])   # two-pass variances
    else:
        (y, treated, included), batched = _as_batch(y, treated, included)
        t = _labels(np.where(included, treated, 0))
        y = np.where(included, y, 0.0)
        used = included.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(included, y - (y.sum(axis=-1) / used)[:, None], 0.0)
        m1, m0, n1, n0 = _arm_means(y, t, used)
        resid = np.where(included, y - np.where(t > 0, m1[:, None], m0[:, None]), 0.0)
    ss = resid * resid
    ss1 = _arm_sums(t, ss)
    ss0 = ss.sum(axis=-1) - ss1
    with np.errstate(divide="ignore", invalid="ignore"):
        a1, a0 = ss1 / (n1 - 1) / n1, ss0 / (n0 - 1) / n0
        se = np.sqrt(a1 + a0)
        stat = (m1 - m0) / se
        df = (a1 + a0) ** 2 / (a1 ** 2 / (n1 - 1) + a0 ** 2 / (n0 - 1))
    return TStatistic(*(_result(x, batched) for x in (m1 - m0, se, stat, df)))


# ---------------------------------------------------------------- ANCOVA

def _covariate_basis(covariates, n: int, weight=None) -> np.ndarray:
    """Orthonormal basis of [1, covariates]: (n, q) shared, or (B, n, q). With
    ``weight`` (B, n) of 0/1, the rows of left-out subjects are zero."""
    if covariates is None and weight is None:
        return np.full((n, 1), 1 / np.sqrt(n))
    z = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim not in (2, 3) or z.shape[-2] != n:
        raise ValueError(f"covariates must be (n, k) or (B, n, k) with n = {n}; got {z.shape}")
    design = np.concatenate([np.ones(z.shape[:-1] + (1,)), z], axis=-1)
    if weight is not None:
        design = np.where(weight[..., None] > 0, design, 0.0)
    q, r = np.linalg.qr(design)
    diag = np.abs(np.diagonal(r, axis1=-2, axis2=-1))
    if (diag <= 1e-10 * diag.max(axis=-1, keepdims=True)).any():
        raise ValueError("the covariates are collinear (or one is constant): the model "
                         "cannot separate their effects")
    return q


def _residualize(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    """v minus its projection on the columns of q (broadcast over replicates)."""
    coef = v[..., None, :] @ q                               # (B, 1, q)
    return v - (coef @ np.swapaxes(q, -1, -2))[..., 0, :]


def ancova_batch(y, treated, covariates=None, included=None) -> TStatistic:
    """The arm's coefficient, SE and t in lm(y ~ arm + covariates), per replicate.

    y, treated: (n,) or (B, n); covariates: None, (n, k) shared or (B, n, k);
    included: (B, n) booleans, the subjects each replicate's model uses (their
    residual df is counted per replicate; left-out values may be NaN).
    By Frisch-Waugh-Lovell: residualize y and the arm on [1, covariates] (one QR,
    shared by every replicate when the covariates are), then regress residual on
    residual. A replicate whose arm is collinear with the covariates gets nan.
    """
    weight = None
    if included is not None:
        (y, treated, included), _ = _as_batch(y, treated, included)
        weight = included.astype(np.float64)
        y = np.where(included, y, 0.0)
        treated = np.where(included, treated, 0)
        if covariates is not None:
            covariates = np.asarray(covariates, dtype=np.float64)
            mask = included if covariates.ndim == 2 else included[..., None]
            covariates = np.where(mask, covariates, 0.0)
    (y, treated), batched = _as_batch(y, treated)
    n = y.shape[-1]
    q = _covariate_basis(covariates, n, weight)
    batched = batched or q.ndim == 3
    y_res = _residualize(y.astype(np.float64), q)
    a_res = _residualize(_labels(treated), q)
    saa = (a_res * a_res).sum(axis=-1)
    used = np.float64(n) if weight is None else weight.sum(axis=-1)
    df = used - q.shape[-1] - 1
    if np.any(df < 1):
        raise ValueError(f"{int(np.min(used))} subjects leave no residual degrees of freedom "
                         f"for the arm and {q.shape[-1] - 1} covariate column(s)")
    with np.errstate(divide="ignore", invalid="ignore"):
        saa = np.where(saa > 1e-12 * used, saa, np.nan)    # arm explained by covariates
        beta = (a_res * y_res).sum(axis=-1) / saa
        resid = y_res - beta[:, None] * a_res
        se = np.sqrt((resid * resid).sum(axis=-1) / df / saa)
        stat = beta / se
    df = np.broadcast_to(df, beta.shape).astype(np.float64)
    return TStatistic(*(_result(x, batched) for x in (beta, se, stat, df)))
