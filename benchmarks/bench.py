"""mscstats benchmarks: each case against the obvious alternative, measured in the same run.

    python benchmarks/bench.py            # every case (about 10 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smaller sizes (about 2 minutes)
    python benchmarks/bench.py --case simulate --sims 2000

Cases:
  permutation  10,000-permutation log-rank at n = 60: engine vs a lifelines loop
  survival     KM, log-rank and Cox on one trial: mscstats vs lifelines
  simulate     N simulated trials of the refractory-hypoxia primary analyses (grid
               engine, every core) vs the exact engine, a plain loop of the mscstats
               pipeline and a statsmodels + lifelines loop, one trial at a time
  load         load + validate + derive 1 and 10 million visit rows vs pandas.read_csv
               alone; peak memory (each size in a fresh process); then the same records
               as a sponsor's export: adsl with RANDDT and dates instead of study days,
               the records in a BDS table (advs.csv) timed by ADT (ISO dates) and ATM
  mi           200 imputations of the refractory-hypoxia primary ANCOVA on its repeated
               P/F endpoint pf_course (days 3 and 7 imputed by visit, Rubin's rules):
               the vectorised runner vs a Python loop of statsmodels OLS fits, one
               completed data set at a time
  mmrm         200 grid replicates of the refractory-hypoxia pf_mmrm (n = 60): the batch
               REML kernel vs a loop of the scalar core on the same arrays and the runner

Times are wall-clock (perf_counter) on this machine; alternatives that would take
minutes are measured on a subset and extrapolated, and say so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))                    # this checkout's mscstats
sys.path.insert(0, str(ROOT / "benchmarks"))

KEY = "refractory-hypoxia"
PRIMARY = ["primary", "ttci_logrank"]            # the template's multiplicity family


def line(label: str, ours: float, theirs: float, theirs_label: str, note: str = "") -> None:
    print(f"  {label:<44} mscstats {ours:9.3f} s | {theirs_label} {theirs:9.3f} s | "
          f"ratio {theirs / ours:8.1f}x {note}")


def case_permutation(quick: bool) -> None:
    import bench_permutation as bp
    import numpy as np
    day, event, treated, _, _ = bp.trial()
    t_engine, _ = bp.time_engine(day, event, treated)
    labels = np.random.default_rng(7).permuted(np.broadcast_to(treated, (bp.B, bp.N)), axis=1)
    t_loop, _ = bp.time_lifelines_loop(day, event, labels, repeats=1)
    print(f"\npermutation: {bp.B:,}-permutation log-rank test, n = {bp.N}")
    line("engine vs lifelines loop", t_engine, t_loop, "lifelines loop",
         f"(loop extrapolated from {bp.LIFELINES_REPLICATES})")
    met = t_engine < 0.3 and t_loop / t_engine >= 100
    print(f"  target < 0.3 s and >= 100x: {'met' if met else 'NOT met'}")


def case_survival(quick: bool) -> None:
    import bench_permutation as bp
    import numpy as np
    import pandas as pd
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    from mscstats.analysis.cores.cox import cox_fit
    from mscstats.analysis.cores.km import kaplan_meier
    from mscstats.analysis.cores.logrank import logrank_test as survdiff
    day, event, treated, _, _ = bp.trial()
    group = np.where(treated, "MSC", "control")
    x = treated.astype(float)[:, None]

    def ours():
        for g in ("control", "MSC"):
            kaplan_meier(day[group == g], event[group == g])
        survdiff(day, event, group)
        cox_fit(day, event, x, names=("MSC",))

    frame = pd.DataFrame({"T": day, "E": event.astype(int), "x": x[:, 0]})

    def theirs():
        for g in (False, True):
            KaplanMeierFitter().fit(day[treated == g], event[treated == g])
        logrank_test(day[treated], day[~treated], event[treated], event[~treated])
        CoxPHFitter().fit(frame, "T", "E")
    ours(), theirs()
    print(f"\nsurvival: KM per arm, log-rank and Cox (Efron) on one trial, n = {bp.N}")
    line("KM + log-rank + Cox", bp.median_seconds(ours, 20), bp.median_seconds(theirs, 5),
         "lifelines")


def case_simulate(quick: bool, sims: int | None) -> None:
    from mscstats.pipeline import analyze
    from mscstats.plan import template
    from mscstats.simulation.engine import restrict_sap, simulate
    from mscstats.simulation.synth import make_trial
    from mscstats.trial.validate import load_frames
    sims = sims or (1000 if quick else 10_000)
    sap = restrict_sap(template(KEY), PRIMARY)
    jobs = os.cpu_count() or 1

    def engine_seconds(engine: str, n_sims: int):
        start = time.perf_counter()
        oc = simulate(KEY, sap, [60], n_sims, analyses=PRIMARY, jobs=jobs, seed=1, engine=engine)
        return time.perf_counter() - start, oc

    t_grid, oc = engine_seconds("grid", sims)
    exact_sims = min(sims, 400)
    t_exact, oc_exact = engine_seconds("exact", exact_sims)
    t_exact *= sims / exact_sims
    _, oc_check = engine_seconds("grid", exact_sims)     # the same trials as the exact run
    agree = all((a.n_estimable, a.rejections) == (b.n_estimable, b.rejections)
                for a, b in zip(oc_check.rates, oc_exact.rates))

    loop_n = 20
    trials = [load_frames(make_trial(KEY, n=60, seed=seed, tables=("adsl", "visits")), name=KEY,
                          arms=sap.study.arms) for seed in range(loop_n)]
    start = time.perf_counter()
    for trial in trials:
        analyze(trial, sap)
    t_loop = (time.perf_counter() - start) * sims / loop_n
    t_library = _statsmodels_lifelines_loop(trials, sap) * sims / loop_n
    print(f"\nsimulate: {sims:,} trials of {KEY} (n = 60), analyses {PRIMARY} with Holm, "
          f"{jobs} processes")
    for r in oc.rates:
        print(f"  {r.analysis:<14} power {r.rate:.3f} (MC SE {r.mc_se:.3f})")
    print(f"  on the first {exact_sims} trials the engines have "
          f"{'the same' if agree else 'DIFFERENT'} counts of estimable and rejected: "
          + ", ".join(f"{e.analysis} {e.rejections}" for e in oc_exact.rates))
    line(f"{sims:,} trials, grid vs exact engine", t_grid, t_exact, "exact engine",
         f"(exact: {exact_sims} trials, extrapolated)")
    line(f"{sims:,} trials, grid vs mscstats loop", t_grid, t_loop, "pipeline loop",
         f"(1 process, derive + analyze per trial, extrapolated from {loop_n})")
    line(f"{sims:,} trials, grid vs statsmodels+lifelines", t_grid, t_library,
         "sm + lifelines", f"(1 process, OLS + log-rank + Cox per trial, from {loop_n})")
    print(f"  per trial: {t_grid / sims * 1000:.2f} ms; target 10,000 in < 10 s: "
          f"{'met' if t_grid * 10_000 / sims < 10 else 'NOT met'}")


def _statsmodels_lifelines_loop(trials, sap) -> float:
    """The obvious alternative: per trial, derive the endpoints, then statsmodels OLS for
    the ANCOVA and lifelines for the log-rank test and the Cox hazard ratio."""
    import warnings

    import statsmodels.formula.api as smf
    from lifelines import CoxPHFitter
    from lifelines.statistics import logrank_test

    from mscstats.derive.endpoints import derive
    start = time.perf_counter()
    for trial in trials:
        table = derive(trial, sap).table
        pf = table[(table["ENDPOINT"] == "pf_d7") & (table["DAY"] == 7)].dropna(
            subset=["CHG", "BASE"])
        smf.ols("CHG ~ C(ARM, Treatment('control')) + BASE", data=pf).fit()
        tte = table[table["ENDPOINT"] == "ttci"]
        treated = (tte["ARM"] != "control").to_numpy()
        event = (tte["CNSR"] == 0).to_numpy()
        logrank_test(tte["AVAL"][treated], tte["AVAL"][~treated], event[treated],
                     event[~treated])
        frame = pd_frame(tte["AVAL"], event, treated)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CoxPHFitter().fit(frame, "T", "E")
    return time.perf_counter() - start


def pd_frame(time_, event, treated):
    import pandas as pd
    return pd.DataFrame({"T": time_.to_numpy(), "E": event.astype(int),
                         "x": treated.astype(float)})


def _load_worker(directory: str) -> None:
    """Run in a fresh process: time load + derive and report peak memory (JSON on stdout)."""
    import pandas as pd

    from mscstats.derive.endpoints import derive
    from mscstats.pipeline import load
    from mscstats.plan import template
    sap = template(KEY)
    start = time.perf_counter()
    trial = load(directory, sap)
    t_load = time.perf_counter() - start
    derive(trial, sap)
    t_all = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    for name in ("adsl", "visits", "advs"):
        if (Path(directory) / f"{name}.csv").exists():
            pd.read_csv(Path(directory) / f"{name}.csv")
    t_read = time.perf_counter() - start
    visit_rows = sum(n for f, n in trial.quality.rows_read.items() if f in ("visits.csv",
                                                                            "advs.csv"))
    print(json.dumps({"rows": visit_rows, "load": t_load, "all": t_all, "read_csv": t_read,
                      "peak_bytes": rss}))


def _dated(tables: dict) -> dict:
    """The same trial as a sponsor's export: dates against RANDDT instead of study days."""
    import numpy as np
    adsl, visits = tables["adsl"], tables["visits"]
    start = np.datetime64("2024-03-01") + np.arange(len(adsl)) % 40
    day_one = dict(zip(adsl["USUBJID"], start))

    def dates(days, first):
        days = np.asarray(days, dtype=float)
        shift = np.where(days > 0, days - 1, days)
        out = first + np.nan_to_num(shift).astype("timedelta64[D]")
        return np.where(np.isnan(days), "", np.datetime_as_string(out, unit="D"))

    dated = {"adsl": adsl.drop(columns=["DTHDY", "DSCHDY", "LSTALVDY"]).assign(
        RANDDT=np.datetime_as_string(start, unit="D"),
        DTHDT=dates(adsl["DTHDY"], start), DSCHDT=dates(adsl["DSCHDY"], start),
        LSTALVDT=dates(adsl["LSTALVDY"], start))}
    first = visits["USUBJID"].map(day_one).to_numpy(dtype="datetime64[D]")
    dated["advs"] = visits.assign(ADT=dates(visits["ADY"], first)).drop(columns="ADY")
    return {**tables, **dated, "visits": None}


def case_load(quick: bool) -> None:
    sizes = [1_000_000] if quick else [1_000_000, 10_000_000]
    print("\nload: read + validate + derive (refractory-hypoxia template SAP), fresh process")
    for layout in ("study days (visits.csv, ADY)", "dates (advs.csv, ADT + ATM; RANDDT)"):
        print(f"  {layout}:")
        for rows in sizes:
            _load_size(rows, dated=layout.startswith("dates"))


def _write_worker(directory: str, rows: int, dated: bool) -> None:
    """Run in a fresh process: write the trial files (so that no process that measures
    memory ever held the generated tables)."""
    from mscstats.simulation.synth import make_batch
    replicates = max(1, round(rows / 7_300))        # about 7,300 visit rows a trial
    tables = make_batch(KEY, 60, replicates, 1, tables=("adsl", "visits", "adae", "ex"))
    if dated:
        tables = _dated(tables)
    for name, table in tables.items():
        if table is not None:
            table.to_csv(Path(directory) / f"{name}.csv", index=False)


def _load_size(rows: int, dated: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, __file__, "--write-worker", tmp, str(rows),
                        "dated" if dated else "days"], check=True)
        out = subprocess.run([sys.executable, __file__, "--load-worker", tmp],
                             capture_output=True, text=True, check=True)
        found = json.loads(out.stdout.strip().splitlines()[-1])
    line(f"{found['rows']:,} rows: load+validate {found['load']:.1f} s, +derive",
         found["all"], found["read_csv"], "pandas.read_csv only")
    verdict = ""
    if rows >= 10_000_000:
        met = found["all"] < 60 and found["peak_bytes"] < 6e9
        verdict = f"; target < 60 s and < 6 GB: {'met' if met else 'NOT met'}"
    print(f"  peak memory {found['peak_bytes'] / 2**30:.2f} GiB{verdict} (pandas.read_csv "
          "only reads; mscstats also validates every cell and derives every endpoint)")


def case_mi(quick: bool) -> None:
    import numpy as np
    from dataclasses import replace

    from mscstats.simulation import synth
    from mscstats.analysis import run
    from mscstats.pipeline import analysis_input, derive_endpoints, load
    from mscstats.plan import template
    m = 200
    sap = template(KEY)
    # the primary's ANCOVA by MI on the repeated P/F endpoint (days 3 and 7 imputed by visit,
    # hypothetical strategy), the case where the sequential imputation does the most work
    analysis = replace(next(a for a in sap.analyses if a.id == "primary_mi"), endpoint="pf_course",
                       options={"covariates": ("BASE",), "missing": "mi", "imputations": m})
    with tempfile.TemporaryDirectory() as tmp:
        synth.write_trial(KEY, Path(tmp), n=60, seed=1)
        trial = load(tmp, sap)
    endpoints = derive_endpoints(trial, sap)
    inp = analysis_input(trial, sap, endpoints, analysis)
    run(inp)                                                  # warm up imports
    start = time.perf_counter()
    ours = run(inp).comparisons[0]
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = _mi_statsmodels_loop(inp, m)
    t_loop = time.perf_counter() - start
    missing = int(np.isnan(inp.data.loc[inp.data["DAY"] == 7, "CHG"]).sum())
    print(f"\nmi: {m} imputations of the {KEY} primary (n = 60, {missing} missing on day 7)")
    line("vectorised runner vs statsmodels loop", t_ours, t_loop, "statsmodels loop")
    print(f"  estimates: mscstats {ours.estimate:.3f} (SE {ours.se:.3f}), loop {theirs[0]:.3f} "
          f"(SE {theirs[1]:.3f}) -- other random draws, the same model")
    print(f"  target < 2 s: {'met' if t_ours < 2 else 'NOT met'}")


def case_mmrm(quick: bool) -> None:
    """200 grid replicates of the refractory-hypoxia pf_mmrm (n = 60): the batch kernel
    (with its adapter's design and checks) vs the scalar core on the same arrays, one
    fit at a time, and the runner (analysis input, design, fit, LS means) on a subset."""
    import numpy as np

    from mscstats.analysis.batch.mmrm import mmrm_batch
    from mscstats.analysis.cores.mmrm import fit_mmrm
    from mscstats.derive.grid import GridDerivation, grid_params
    from mscstats.derive.grid_visits import endpoint_values
    from mscstats.plan import template
    from mscstats.simulation import grid_mmrm
    from mscstats.simulation.engine import restrict_sap
    from mscstats.simulation.grid_engine import analyse_grid
    from mscstats.simulation.synth import make_grid
    fits, n = 200, 60
    sap = restrict_sap(template(KEY), ["pf_mmrm"])
    (analysis,) = sap.analyses
    endpoint = sap.endpoint(analysis.endpoint)
    grid = make_grid(KEY, n, fits, 20261201, None, grid_params(sap))
    values = endpoint_values(GridDerivation(grid, sap.data), endpoint)
    included = grid.population(sap.analysis_population(analysis))
    grid_mmrm._mmrm(analysis, endpoint, values, grid, included, sap)      # warm up imports
    start = time.perf_counter()
    out = grid_mmrm._mmrm(analysis, endpoint, values, grid, included, sap)
    t_kernel = time.perf_counter() - start
    y, x, observed, target = grid_mmrm._model(grid, values.visits, values, included, [],
                                              endpoint, 2)
    weights = grid_mmrm._contrasts(2, len(endpoint.days), target, x.shape[-1])
    loop = 40 if quick else fits
    start = time.perf_counter()
    estimates = []
    for r in range(loop):
        subject, visit = np.nonzero(observed[r])
        core = fit_mmrm(y[r][observed[r]], x[r][observed[r]], subject, visit, y.shape[2])
        estimates.append(core.contrast(weights[0]).estimate)
    t_core = (time.perf_counter() - start) * fits / loop
    kernel = mmrm_batch(y[:loop], x[:loop], observed[:loop], weights)
    worst = float(np.nanmax(np.abs(kernel.estimate[:, 0] - estimates) / kernel.se[:, 0]))
    subset = make_grid(KEY, n, 10, 20261201, None, grid_params(sap))
    start = time.perf_counter()
    analyse_grid(subset, sap, runner_only=True)
    t_runner = (time.perf_counter() - start) * fits / 10
    print(f"\nmmrm: {fits} grid replicates of the {KEY} pf_mmrm (n = {n}, days "
          f"{list(endpoint.days)}, unstructured), {int(out.needs_runner.sum())} left to the runner")
    line("batch kernel vs scalar core loop", t_kernel, t_core, "core loop",
         "" if loop == fits else f"(loop extrapolated from {loop})")
    line("batch kernel vs runner loop", t_kernel, t_runner, "runner loop",
         "(extrapolated from 10)")
    print(f"  largest |kernel - core| estimate / SE over {loop} fits: {worst:.1e}")
    print(f"  target {fits} fits < 1 s: {'met' if t_kernel < 1 else 'NOT met'}")


def _mi_statsmodels_loop(inp, m: int):
    """The obvious alternative: for each imputation, each visit's imputation model and then
    the analysis fitted by statsmodels OLS on pandas frames; Rubin's rules at the end."""
    import numpy as np
    import pandas as pd
    import statsmodels.api as sm

    from mscstats.analysis.cores import mi
    data = inp.data[inp.data["DAY"] <= inp.target_day]
    wide = data.pivot(index="USUBJID", columns="DAY", values="CHG")
    subjects = data.drop_duplicates("USUBJID").set_index("USUBJID").loc[wide.index]
    fixed = pd_design(subjects)
    rng = np.random.default_rng(inp.seed)
    q, u = [], []
    for _ in range(m):
        done = wide.copy()
        for day in wide.columns:
            x = pd.concat([fixed, done[[d for d in wide.columns if d < day]]], axis=1)
            seen = wide[day].notna()
            fit = sm.OLS(wide.loc[seen, day], x[seen]).fit()
            sigma = np.sqrt(fit.ssr / rng.chisquare(fit.df_resid))
            beta = fit.params.to_numpy() + np.linalg.cholesky(fit.normalized_cov_params) @ \
                rng.standard_normal(len(fit.params)) * sigma
            done.loc[~seen, day] = x[~seen].to_numpy() @ beta + rng.standard_normal(
                int((~seen).sum())) * sigma
        model = sm.OLS(done[inp.target_day], fixed).fit()
        q.append(model.params["ARM"])
        u.append(model.bse["ARM"] ** 2)
    pooled = mi.pool(mi.Estimates(np.array(q), np.array(u), float(model.df_resid)))
    return float(pooled.estimate), float(pooled.se)


def pd_design(subjects):
    import pandas as pd
    return pd.DataFrame({"const": 1.0, "ARM": (subjects["ARM"] != "control").astype(float),
                         "BASE": subjects["BASE"]}, index=subjects.index)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", choices=["permutation", "survival", "simulate", "load", "mi",
                                           "mmrm"],
                        action="append")
    parser.add_argument("--sims", type=int, default=None)
    parser.add_argument("--load-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--write-worker", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_worker:
        _load_worker(args.load_worker)
        return
    if args.write_worker:
        directory, rows, layout = args.write_worker
        _write_worker(directory, int(rows), layout == "dated")
        return
    import platform
    print(f"mscstats benchmarks on {platform.platform()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    cases = args.case or ["permutation", "survival", "simulate", "load", "mi", "mmrm"]
    for name in cases:
        if name == "simulate":
            case_simulate(args.quick, args.sims)
        else:
            globals()[f"case_{name}"](args.quick)


if __name__ == "__main__":
    main()
