"""The survival batch kernels over B replicates (analysis/batch/km.py, cox.py,
competing.py) against a loop of the scalar cores and a loop of lifelines (KM, Cox,
Aalen-Johansen), on the same simulated trials: times on study days 1..28 (ties), two
arms, AGE as a Cox covariate, death as a competing event."""

from __future__ import annotations

import time
import warnings

import numpy as np

B, N = 1000, 60
LIFELINES_REPLICATES = 50


def trials(b: int = B, n: int = N, seed: int = 19):
    rng = np.random.default_rng(seed)
    arm = np.tile(np.arange(n) % 2, (b, 1))
    day = np.minimum(rng.geometric(np.where(arm == 1, 0.08, 0.05)), 28).astype(float)
    cause = np.where(day >= 28, 0, rng.choice([1, 2], (b, n), p=[0.8, 0.2]))
    age = rng.normal(60, 10, (b, n))
    return day, cause, arm, age


def batch(day, cause, arm, age):
    from mscstats.analysis.batch.competing import cuminc_batch, finegray_batch, gray_batch
    from mscstats.analysis.batch.cox import cox_fit_batch
    from mscstats.analysis.batch.km import (kaplan_meier_batch, landmarks_batch, median_batch,
                                            restricted_mean_batch)
    event = cause == 1
    everyone = np.ones(day.shape, dtype=bool)
    for j in (0, 1):
        curve = kaplan_meier_batch(day, event, arm == j)
        median_batch(curve)
        for d in (7, 14, 28):
            landmarks_batch(curve, d)
        restricted_mean_batch(curve, 28.0)
        cuminc_batch(day, cause, arm == j, (7, 14, 28))
    cox_fit_batch(day, event, np.stack([arm.astype(float), age], -1), everyone)
    finegray_batch(day, cause, arm[..., None].astype(float), everyone)
    gray_batch(day, cause, arm, everyone)


def core_loop(day, cause, arm, age, replicates):
    from mscstats.analysis.cores.cox import cox_fit
    from mscstats.analysis.cores.cuminc import at_landmarks, cumulative_incidence
    from mscstats.analysis.cores.finegray import fine_gray
    from mscstats.analysis.cores.gray import gray_test
    from mscstats.analysis.cores.km import kaplan_meier, landmarks, median_survival
    from mscstats.analysis.cores.rmst import restricted_mean
    for r in range(replicates):
        event = (cause[r] == 1).astype(float)
        for j in (0, 1):
            mine = arm[r] == j
            km = kaplan_meier(day[r, mine], event[mine])
            median_survival(km)
            landmarks(km, (7, 14, 28))
            restricted_mean(km, 28.0)
            at_landmarks(cumulative_incidence(day[r, mine], cause[r, mine]), (7, 14, 28))
        cox_fit(day[r], event, np.stack([arm[r].astype(float), age[r]], -1), ("ARM", "AGE"))
        fine_gray(day[r], cause[r], arm[r, :, None].astype(float))
        gray_test(day[r], cause[r], arm[r])


def lifelines_loop(day, cause, arm, age, replicates):
    import pandas as pd
    from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
    for r in range(replicates):
        event = (cause[r] == 1).astype(int)
        for j in (0, 1):
            mine = arm[r] == j
            km = KaplanMeierFitter().fit(day[r, mine], event[mine])
            km.median_survival_time_, km.survival_function_at_times([7, 14, 28])
            with warnings.catch_warnings():        # lifelines warns about tied times
                warnings.simplefilter("ignore")
                AalenJohansenFitter(calculate_variance=True).fit(day[r, mine], cause[r, mine],
                                                                 event_of_interest=1)
        CoxPHFitter().fit(pd.DataFrame({"T": day[r], "E": event, "ARM": arm[r], "AGE": age[r]}),
                          "T", "E")


def seconds(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


ENGINE_CASES = (("refractory-hypoxia", ["ttci_rmst", "ttci_cuminc", "ttci_finegray"]),
                ("three-arm-paxlovid", ["ttci_cox"]), ("single-arm-bm-msc", ["ttci_km"]))


def engine(trials_: int, line) -> None:
    """analyse_grid on the template's survival analyses: the grid kernels vs the
    runner on every replicate (runner_only), the same grid-derived trials."""
    from mscstats.derive.grid import grid_params
    from mscstats.plan import template
    from mscstats.simulation.engine import CHUNK, _chunk_seed, restrict_sap
    from mscstats.simulation.grid_engine import analyse_grid
    from mscstats.simulation.synth import get_design, make_grid
    for key, ids in ENGINE_CASES:
        sap = restrict_sap(template(key), ids)
        n = get_design(key).n
        grids = [make_grid(key, n, CHUNK, _chunk_seed(1, n, c), None, grid_params(sap))
                 for c in range(max(1, trials_ // CHUNK))]
        t_kernels = seconds(lambda: [analyse_grid(g, sap) for g in grids])
        few = grids[:max(1, len(grids) // 10)]
        t_runner = seconds(lambda: [analyse_grid(g, sap, runner_only=True) for g in few])
        t_runner *= len(grids) / len(few)
        line(f"{key} {', '.join(ids)} ({len(grids) * CHUNK} trials, n = {n})", t_kernels,
             t_runner, "runner", f"(runner on {len(few) * CHUNK}, scaled)")


def run(quick: bool, line) -> None:
    b = 200 if quick else B
    data = trials(b)
    batch(*(a[:5] for a in data))                  # warm up imports
    t_batch = seconds(batch, *data)
    loops = min(b, 200)
    t_core = seconds(core_loop, *data, loops) * b / loops
    t_life = seconds(lifelines_loop, *data, LIFELINES_REPLICATES) * b / LIFELINES_REPLICATES
    print(f"\nsurvival kernels over {b} replicates, n = {N}: KM (landmarks, median), RMST, "
          "Aalen-Johansen at landmarks per arm; Cox (arm + AGE); Fine-Gray; Gray's test")
    line("batch kernels vs loop of the scalar cores", t_batch, t_core, "core loop",
         f"(loop of {loops}, scaled)" if loops < b else "")
    line("batch kernels vs lifelines (KM, AJ, Cox)", t_batch, t_life, "lifelines",
         f"(loop of {LIFELINES_REPLICATES}, scaled; no RMST, Fine-Gray or Gray there)")
    print("  grid engine, grid kernels vs the runner on every replicate:")
    engine(200 if quick else 1000, line)
