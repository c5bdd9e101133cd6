"""Design matrices for the linear models (ANCOVA, MMRM), coded as R codes them.

Categorical terms get treatment (dummy) coding with the first level as the
reference: the arm's reference is the SAP's first arm, days are in increasing
order, and any other categorical covariate or stratum uses its levels in
sorted order (Python's string order), as R's ``factor()`` does for simple
level names. Numeric covariates enter as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..specs import METHODS

__all__ = ["requested_terms", "Block", "intercept", "numeric", "categorical", "interaction", "is_categorical",
           "covariate_blocks", "stack", "drop_aliased", "factor_notes"]



@dataclass(frozen=True)
class Block:
    """Columns of a design matrix and their names."""
    names: tuple[str, ...]
    matrix: np.ndarray                    # shape (n, len(names))
    levels: tuple = ()                    # categorical: every level, reference first


def requested_terms(inp, rows: pd.DataFrame, columns_hint: str) -> tuple[list[str], list[str]]:
    """The analysis's covariates and strata, each checked to be a column of the rows."""
    from ..errors import AnalysisError
    covariates = [str(c) for c in inp.options.get("covariates", ())]
    strata = [str(s) for s in inp.options.get("strata", ())]
    absent = [c for c in covariates + strata if c not in rows.columns]
    if absent:
        raise AnalysisError(inp.id, f"covariate or stratum column(s) {absent} are not in the data",
                            f"use columns of {columns_hint}")
    return covariates, strata


def intercept(n: int) -> Block:
    return Block(("(Intercept)",), np.ones((n, 1)))


def numeric(name: str, values) -> Block:
    return Block((name,), np.asarray(values, dtype=float).reshape(-1, 1))


def categorical(name: str, values, levels: Sequence | None = None) -> Block:
    """Dummy columns for every level but the first (the reference)."""
    values = pd.Series(values).reset_index(drop=True)
    if levels is None:
        levels = sorted(values.dropna().unique().tolist(), key=_level_key)
    levels = tuple(levels)
    m = np.column_stack([(values == lev).to_numpy(dtype=float) for lev in levels[1:]]) \
        if len(levels) > 1 else np.zeros((len(values), 0))
    return Block(tuple(f"{name}{lev}" for lev in levels[1:]), m, levels)


def _level_key(level):
    # numbers sort as numbers, text as text; mixed types sort by their text
    return (0, float(level), "") if isinstance(level, (int, float, np.number)) else (1, 0.0, str(level))


def interaction(a: Block, b: Block) -> Block:
    """Every product of a column of ``a`` with a column of ``b`` (R's a:b)."""
    names = tuple(f"{x}:{y}" for x in a.names for y in b.names)
    m = (a.matrix[:, :, None] * b.matrix[:, None, :]).reshape(len(a.matrix), -1)
    return Block(names, m)


def is_categorical(series: pd.Series, name: str) -> bool:
    """Strata and text/boolean columns are categorical; numbers are covariates as they are."""
    return name.upper() == "STRATUM" or not pd.api.types.is_numeric_dtype(series) \
        or pd.api.types.is_bool_dtype(series)


def covariate_blocks(frame: pd.DataFrame, covariates: Sequence[str],
                     strata: Sequence[str] = ()) -> list[Block]:
    """One block per covariate (numeric or dummy-coded) and per stratum (always categorical)."""
    blocks = []
    for name in covariates:
        col = frame[name]
        blocks.append(categorical(name, col) if is_categorical(col, name) else numeric(name, col))
    blocks += [categorical(name, frame[name].astype(str)) for name in strata]
    return blocks


def factor_notes(inp) -> list[str]:
    """The analysis's text covariates (and a linear model's strata), which enter as factors:
    each named with its levels, sorted as ``categorical`` sorts them, the first the reference."""
    data = inp.data
    names = [str(c) for c in inp.options.get("covariates", ())]
    factors = [c for c in names if c in data.columns and is_categorical(data[c], c)]
    if inp.method in METHODS and METHODS[inp.method].strata_as_factors:
        factors += [str(s) for s in inp.options.get("strata", ()) if s in data.columns]
    notes = []
    for name in dict.fromkeys(factors):
        values = data[name].dropna()
        values = values[values.astype(str) != ""]
        levels = sorted(values.unique().tolist(), key=_level_key)
        if levels:
            notes.append(f"{name} is a factor: levels {', '.join(map(str, levels))} "
                         f"(reference {levels[0]})")
    return notes


def stack(blocks: Sequence[Block]) -> tuple[np.ndarray, tuple[str, ...]]:
    matrix = np.column_stack([b.matrix for b in blocks])
    names = tuple(n for b in blocks for n in b.names)
    return matrix, names


def drop_aliased(x: np.ndarray, names: Sequence[str], tol: float = 1e-7):
    """Drop columns that are linear combinations of earlier ones (as R's lm does).

    Returns (matrix, kept names, dropped names).
    """
    keep: list[int] = []
    basis = np.zeros((x.shape[0], 0))
    for j in range(x.shape[1]):
        col = x[:, j]
        resid = col
        for _ in range(2):                # Gram-Schmidt, repeated once for accuracy
            resid = resid - basis @ (basis.T @ resid)
        scale = np.linalg.norm(col)
        if scale > 0 and np.linalg.norm(resid) > tol * scale:
            keep.append(j)
            basis = np.column_stack([basis, resid / np.linalg.norm(resid)])
    dropped = tuple(n for j, n in enumerate(names) if j not in keep)
    return x[:, keep], tuple(names[j] for j in keep), dropped
