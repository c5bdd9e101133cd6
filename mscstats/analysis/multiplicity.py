"""Multiplicity adjustment of a family of p-values (as R's ``p.adjust``).

``adjust`` works on plain p-values; ``adjust_family`` adds ``p_adjusted`` to
the comparisons of the analyses in a SAP's ``[multiplicity] family``.

Which p-value of an analysis enters the family (DESIGN.md 6): the log-rank
test's for ``logrank`` analyses, otherwise each comparison's. Several
comparisons of one arm that share one test (binary: risk difference, risk
ratio and odds ratio all carry the Fisher or chi-square p) count once; a
comparison of the same arm with its own test (paired: the signed-rank
pseudo-median next to the paired-t mean) is not part of the family and gets no
adjusted p. The hypotheses are the arms' first comparisons.

A hypothesis of the family without a p-value (its comparison, or the whole
analysis, is not estimable) cannot be rejected: it enters the adjustment with
p = 1, so the family keeps the size the SAP prespecified and the others are not
adjusted as if it had never been planned; a note on every member says so. A
not-estimable analysis holds one hypothesis per treated arm.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Sequence

import numpy as np

from ..errors import SapError
from ..results import AnalysisResult, Comparison
from ..schema import MULTIPLICITY_METHODS

__all__ = ["adjust", "adjust_rows", "adjust_family", "primary_comparisons"]


def adjust(p_values: Sequence[float | None], method: str) -> tuple[float | None, ...]:
    """Adjusted p-values in the input order; None (or NaN) entries stay None and do not count."""
    p = np.array([[np.nan if v is None else float(v) for v in p_values]], dtype=float)
    return tuple(None if math.isnan(v) else float(v) for v in adjust_rows(p, method)[0])


def adjust_rows(p: np.ndarray, method: str) -> np.ndarray:
    """``adjust`` of every row of a (B, m) array at once (one family per row; NaN
    entries are not hypotheses and stay NaN), as simulation needs it."""
    if method not in MULTIPLICITY_METHODS:
        raise ValueError(f"unknown multiplicity method {method!r}; use one of {MULTIPLICITY_METHODS}")
    p = np.asarray(p, dtype=float)
    if method == "none" or p.shape[1] == 0:
        return p.copy()
    m = (~np.isnan(p)).sum(axis=1, keepdims=True)        # hypotheses in each row
    if method == "bonferroni":
        return np.minimum(1.0, m * p)
    rank = np.arange(p.shape[1])
    # NaN sorts last either way, after the row's m hypotheses
    if method == "holm":                 # step-down: (m - i + 1) p_(i), running maximum
        order = np.argsort(p, axis=1, kind="mergesort")
        steps = np.maximum.accumulate((m - rank) * np.take_along_axis(p, order, axis=1), axis=1)
    else:                                # hochberg, step-up: running minimum from the largest
        order = np.argsort(np.where(np.isnan(p), np.nan, -p), axis=1, kind="mergesort")
        steps = np.minimum.accumulate((rank + 1) * np.take_along_axis(p, order, axis=1), axis=1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.minimum(1.0, steps), axis=1)
    return out


def primary_comparisons(result: AnalysisResult) -> list[Comparison]:
    """Each arm's first comparison: the arm's hypothesis (for logrank its p is the
    pairwise log-rank p of the arm against the reference, by the runner contract)."""
    first: dict[str, Comparison] = {}
    for c in result.comparisons:
        first.setdefault(c.arm, c)
    return list(first.values())


def _family_members(result: AnalysisResult) -> list[tuple[float | None, list[int]]]:
    """(p-value, indices of the comparisons that carry its adjusted value) per hypothesis.

    One hypothesis per arm (``primary_comparisons``), its p shared by the arm's
    other comparisons reporting the same test (risk difference, risk ratio and
    odds ratio under one Fisher p).
    """
    return [(c.p_value, [j for j, d in enumerate(result.comparisons)
                         if d.arm == c.arm and d.p_value == c.p_value])
            for c in primary_comparisons(result)]


def _hypotheses(result: AnalysisResult, arms: Sequence[str]) -> tuple[list, list[str]]:
    """(p, comparison indices) per hypothesis of one family member, and a description of
    each hypothesis without a p-value."""
    if not result.estimable:
        count = max(1, len(arms) - 1)
        return [(None, [])] * count, [f"{result.id} (not estimable: {result.reason})"]
    members = _family_members(result)
    lacking = [f"{result.id} {result.comparisons[idx[0]].arm}" for p, idx in members
               if p is None]
    return members, lacking


def adjust_family(results: Sequence[AnalysisResult], family: Sequence[str],
                  method: str, arms: Sequence[str] = ()) -> tuple[AnalysisResult, ...]:
    """The results with ``p_adjusted`` set on the comparisons of the family's analyses.

    ``arms``: the SAP's arms, reference first (how many hypotheses a not-estimable
    member holds; without them, one)."""
    ids = [r.id for r in results]
    unknown = [f for f in family if f not in ids]
    if unknown:
        raise SapError("multiplicity.family", f"analyses {unknown} are not in the SAP",
                       f"name analyses among {ids}")
    slots, lacking = [], []                   # (result index, comparison indices, p)
    for k, r in enumerate(results):
        if r.id in family:
            members, missing = _hypotheses(r, arms)
            slots += [(k, idx, p) for p, idx in members]
            lacking += missing
    adjusted = adjust([1.0 if p is None else p for _, _, p in slots], method)
    out = list(results)
    for (k, idx, p), q in zip(slots, adjusted):
        comps = list(out[k].comparisons)
        for j in idx:
            comps[j] = replace(comps[j], p_adjusted=None if p is None else q)
        out[k] = replace(out[k], comparisons=tuple(comps))
    if lacking:
        note = (f"multiplicity ({method}): no p-value for {'; '.join(lacking)}; counted as "
                f"not rejected (p = 1), so the family keeps its {len(slots)} hypotheses")
        out = [replace(r, notes=r.notes + (note,)) if r.id in family else r for r in out]
    return tuple(out)
