"""Multiple imputation on plain arrays: sequential normal-regression imputation of
a repeated measure, the complete-data analyses over an imputation axis, and
Rubin's rules with the Barnard-Rubin degrees of freedom.

Every function works on numpy arrays whose leading axes are imputations (and,
for the tipping point, shifts); nothing loops over imputations in Python.

Imputation (``impute_visits``), as mice's ``norm`` method (mice.impute.norm and
.norm.draw, mice 3.15) applied one visit after the other in day order:

* the model of visit k is the linear regression of its values on an intercept,
  the arm (dummy-coded, reference arm 0), the fixed covariates (baseline and the
  analysis's covariates) and the visits before k, fitted on the subjects
  observed at k, with their earlier visits as completed so far;
* per imputation, sigma* = sqrt(RSS / chi2(n_obs - p)) and
  beta* = beta_hat + L z sigma*, L the lower Cholesky factor of (X'X)^-1 and z
  standard normal; when X'X is singular the ridge mice applies in that case,
  diag(X'X) * 1e-5, is added to it;
* a missing value is X beta* + e sigma*, e standard normal.

Reference-based imputation (Carpenter, Roger and Kenward 2013) with the arms
sharing the slopes and the residual variance of each visit's model (a common
covariance, rbmi's default): a treated subject's visits after the last observed
one ("after dropout") are imputed with the arm term set to the reference arm's;

* ``copy_reference``: the subject's earlier visits enter as they are, so the whole
  profile is treated as the reference arm's (CR);
* ``jump_to_reference``: the earlier visits that are the subject's own (observed,
  or imputed before dropout) enter shifted by -D_j, where D_j is the treated arm's
  mean difference from the reference at visit j given baseline and covariates,
  D_j = gamma_j + sum_{l<j} c_jl D_l (gamma_j the arm coefficient and c_jl the
  coefficients of the earlier visits in the same draw): the mean jumps to the
  reference arm's after dropout while the subject's residuals carry forward (J2R).

Missing visits before the last observed one are imputed under MAR in every case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import NotEstimable

__all__ = ["STRATEGIES", "NormFit", "norm_fit", "norm_draw", "impute_visits", "Estimates",
           "ancova_estimates", "welch_estimates", "mean_estimates", "Pooled", "pool",
           "barnard_rubin_df", "tipping_delta"]

STRATEGIES = ("mar", "jump_to_reference", "copy_reference")
RIDGE = 1e-5        # mice's ridge, used only when X'X cannot be inverted


# ------------------------------------------------------------------ mice's norm

@dataclass(frozen=True)
class NormFit:
    """Least squares per imputation (mice's estimice): coef (..., p), V = (X'X)^-1 (..., p, p),
    RSS (...), df = max(n - p, 1), and whether the ridge was needed."""
    params: np.ndarray
    v: np.ndarray
    rss: np.ndarray
    df: int
    ridge: bool = False


def norm_fit(x: np.ndarray, y: np.ndarray) -> NormFit:
    """Fit y (..., n) on x (..., n, p) for every leading index at once."""
    xtx = np.swapaxes(x, -1, -2) @ x
    ridge = False
    try:
        v = np.linalg.inv(xtx)
        if not np.all(np.isfinite(v)) or np.any(np.linalg.cond(xtx) > 1e13):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        ridge = True
        v = _ridge_inverse(xtx)
    coef = (v @ (np.swapaxes(x, -1, -2) @ y[..., None]))[..., 0]
    resid = y - (x @ coef[..., None])[..., 0]
    return NormFit(coef, v, np.sum(resid ** 2, axis=-1), max(x.shape[-2] - x.shape[-1], 1), ridge)


def _ridge_inverse(xtx: np.ndarray) -> np.ndarray:
    """(X'X + diag(X'X) * 1e-5)^-1, mice's ridge; a term that is 0 in every observed row
    (an arm without values at a visit) leaves it singular: not estimable, not a crash."""
    try:
        return np.linalg.inv(xtx + np.eye(xtx.shape[-1]) * (np.diagonal(xtx, axis1=-2, axis2=-1)
                                                           * RIDGE)[..., None, :])
    except np.linalg.LinAlgError:
        raise NotEstimable("a term of the imputation model is 0 for every subject observed at "
                           "a visit (an arm or a covariate without values there): the model "
                           "cannot be fitted") from None


def norm_draw(fit: NormFit, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(beta*, sigma*) per imputation from the fit's posterior (mice's .norm.draw)."""
    shape = fit.rss.shape
    sigma = np.sqrt(fit.rss / rng.chisquare(fit.df, size=shape))
    v = (fit.v + np.swapaxes(fit.v, -1, -2)) / 2.0        # mice's sym()
    z = rng.standard_normal(size=fit.params.shape)
    beta = fit.params + (np.linalg.cholesky(v) @ z[..., None])[..., 0] * sigma[..., None]
    return beta, sigma


# ------------------------------------------------------------------ sequential imputation

def _dropout(observed: np.ndarray) -> np.ndarray:
    """(n, K) True at the visits after a subject's last observed visit."""
    k = observed.shape[1]
    last = np.where(observed.any(axis=1), k - 1 - np.argmax(observed[:, ::-1], axis=1), -1)
    return np.arange(k)[None, :] > last[:, None]


def impute_visits(y: np.ndarray, arm: np.ndarray, n_arms: int, fixed: np.ndarray, m: int,
                  rng: np.random.Generator, strategy: str = "mar") -> np.ndarray:
    """Completed visits (m, n, K) from y (n, K) with NaN where missing, visits in day order.

    arm (n,) holds arm indices (0 the reference); fixed (n, q) the baseline and
    covariates (no intercept). Observed values are copied into every imputation.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}")
    n, k = y.shape
    observed = ~np.isnan(y)
    after = _dropout(observed) & (arm[:, None] > 0) & (strategy != "mar")
    dummies = (arm[:, None] == np.arange(1, n_arms)[None, :]).astype(float)
    base = np.column_stack([np.ones(n), dummies, fixed])              # (n, 1 + a + q)
    n_fixed = base.shape[1]
    done = np.broadcast_to(np.where(observed, y, 0.0), (m, n, k)).copy()
    shift = np.zeros((m, n_arms, 0))                                  # D_j per arm
    for j in range(k):
        rows = observed[:, j]
        if rows.sum() <= n_fixed + j:
            raise NotEstimable(f"{int(rows.sum())} observed values at visit {j + 1} are too "
                               f"few for an imputation model with {n_fixed + j} terms")
        x = np.concatenate([np.broadcast_to(base, (m, n, n_fixed)), done[:, :, :j]], axis=2)
        beta, sigma = norm_draw(norm_fit(x[:, rows], np.broadcast_to(y[rows, j], (m, rows.sum()))),
                                rng)
        gamma = np.concatenate([np.zeros((m, 1)), beta[:, 1:n_arms]], axis=1)   # (m, arms)
        slopes = beta[:, n_fixed:]                                             # (m, j)
        d_j = gamma + np.einsum("ml,mal->ma", slopes, shift)
        shift = np.concatenate([shift, d_j[:, :, None]], axis=2)
        wanted = ~rows
        if not wanted.any():
            continue
        xw = x[:, wanted].copy()
        ref = after[wanted, j]
        if ref.any():
            xw[:, ref, 1:n_arms] = 0.0                     # the reference arm's model
            if strategy == "jump_to_reference":
                own = ~after[wanted][:, :j]                  # (n_w, j) visits before dropout
                d = shift[:, arm[wanted], :j]                # (m, n_w, j)
                xw[:, :, n_fixed:] -= np.where(ref[:, None] & own, d, 0.0)
        noise = rng.standard_normal(size=(m, int(wanted.sum())))
        done[:, wanted, j] = (xw @ beta[..., None])[..., 0] + noise * sigma[:, None]
    return done


# ------------------------------------------------------------------ complete-data analyses

@dataclass(frozen=True)
class Estimates:
    """One complete-data estimate per imputation: q (..., m), its variance u (..., m), the
    complete-data df (for Barnard-Rubin) and, for Welch, the df of each imputation."""
    q: np.ndarray
    u: np.ndarray
    dfcom: float


def ancova_estimates(y: np.ndarray, x: np.ndarray, column: int) -> Estimates:
    """lm(y ~ x) per completed data set: coefficient ``column`` and its squared SE."""
    n, p = x.shape
    if n - p < 1:
        raise NotEstimable("as many model terms as subjects: no residual degrees of freedom")
    xtx_inv = np.linalg.inv(x.T @ x)
    coef = y @ (xtx_inv @ x.T).T                                     # (..., p)
    resid = y - coef @ x.T
    s2 = np.sum(resid ** 2, axis=-1) / (n - p)
    return Estimates(coef[..., column], s2 * xtx_inv[column, column], float(n - p))


def welch_estimates(y: np.ndarray, treated: np.ndarray, reference: np.ndarray) -> Estimates:
    """Difference in means (treated - reference) and its Welch variance per data set; the
    complete-data df is the mean of the imputations' Welch-Satterthwaite df."""
    a, b = y[..., treated], y[..., reference]
    na, nb = a.shape[-1], b.shape[-1]
    if na < 2 or nb < 2:
        raise NotEstimable("each arm needs at least 2 subjects")
    va, vb = np.var(a, axis=-1, ddof=1) / na, np.var(b, axis=-1, ddof=1) / nb
    u = va + vb
    if np.any(u <= 0):
        raise NotEstimable("no variation in the values")
    df = u ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    return Estimates(a.mean(axis=-1) - b.mean(axis=-1), u, float(np.mean(df)))


def mean_estimates(y: np.ndarray) -> Estimates:
    """Mean and its squared SE per data set (paired t on changes); df n - 1."""
    n = y.shape[-1]
    if n < 2:
        raise NotEstimable("fewer than 2 subjects")
    return Estimates(y.mean(axis=-1), np.var(y, axis=-1, ddof=1) / n, float(n - 1))


# ------------------------------------------------------------------ Rubin's rules

@dataclass(frozen=True)
class Pooled:
    """Rubin's rules as mice::pool reports them (arrays over any leading axes)."""
    m: int
    estimate: np.ndarray       # qbar
    ubar: np.ndarray           # within-imputation variance
    b: np.ndarray              # between-imputation variance
    t: np.ndarray              # total variance ubar + (1 + 1/m) b
    dfcom: float
    df: np.ndarray             # Barnard-Rubin
    riv: np.ndarray            # relative increase in variance
    lambda_: np.ndarray        # proportion of variance due to missingness
    fmi: np.ndarray            # fraction of missing information

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self.t)

    @property
    def statistic(self) -> np.ndarray:
        return self.estimate / self.se

    @property
    def p_value(self) -> np.ndarray:
        from scipy import stats
        return 2.0 * stats.t.sf(np.abs(self.statistic), self.df)

    def ci(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        from scipy import stats
        half = stats.t.ppf(1.0 - (1.0 - level) / 2.0, self.df) * self.se
        return self.estimate - half, self.estimate + half


def barnard_rubin_df(m: int, b, t, dfcom: float) -> np.ndarray:
    """mice's barnard.rubin: Barnard and Rubin (1999) small-sample df."""
    lam = np.maximum((1.0 + 1.0 / m) * np.asarray(b) / np.asarray(t), 1e-4)
    dfold = (m - 1) / lam ** 2
    if not np.isfinite(dfcom):
        return dfold
    dfobs = (dfcom + 1.0) / (dfcom + 3.0) * dfcom * (1.0 - lam)
    return dfold * dfobs / (dfold + dfobs)


def pool(est: Estimates) -> Pooled:
    """Pool the last axis (imputations) of q and u."""
    q, u = np.asarray(est.q, float), np.asarray(est.u, float)
    m = q.shape[-1]
    if m < 2:
        raise ValueError("Rubin's rules need at least 2 imputations")
    if not np.all(u > 0):
        # an exact fit (or no spread) in a completed data set: its analysis has no SE,
        # as the complete-case analysis would not (and Rubin's ratios would be 0/0)
        raise NotEstimable("a completed data set has a standard error of 0 (an exact fit or "
                           "no variation): Rubin's rules give no standard error")
    qbar, ubar = q.mean(axis=-1), u.mean(axis=-1)
    b = np.var(q, axis=-1, ddof=1)
    t = ubar + (1.0 + 1.0 / m) * b
    df = barnard_rubin_df(m, b, t, est.dfcom)
    riv = (1.0 + 1.0 / m) * b / ubar
    lam = (1.0 + 1.0 / m) * b / t
    fmi = (riv + 2.0 / (df + 3.0)) / (riv + 1.0)
    return Pooled(m, qbar, ubar, b, t, est.dfcom, df, riv, lam, fmi)


def tipping_delta(deltas: np.ndarray, p_values: np.ndarray, estimate: float, alpha: float):
    """The tipping point: the smallest shift against the treated arm (opposite in sign to
    the unshifted estimate) whose p >= alpha; None when no delta reaches it."""
    against = deltas * np.sign(estimate) <= 0
    hits = np.flatnonzero(against & (p_values >= alpha))
    if not len(hits):
        return None
    return float(deltas[hits[np.argmin(np.abs(deltas[hits]))]])
