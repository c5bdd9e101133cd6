"""mscstats benchmarks: each case against the obvious alternative, measured in the same run.

    python benchmarks/bench.py            # every case (about 10 minutes on 2 cores)
    python benchmarks/bench.py --quick    # smaller sizes (about 2 minutes)
    python benchmarks/bench.py --case simulate --sims 2000

Cases:
  permutation  10,000-permutation log-rank at n = 60: engine vs a lifelines loop
  survival     KM, log-rank and Cox on one trial: mscstats vs lifelines; then the batch
               kernels (KM, RMST, Aalen-Johansen, Cox with a covariate, Fine-Gray) over
               1,000 replicates vs a loop of the scalar cores and a lifelines loop
  simulate     N simulated trials of the refractory-hypoxia primary analyses (the
               engine, every core) vs a plain loop of the mscstats pipeline and a
               statsmodels + lifelines loop, one trial at a time
  derive       the derivation of every endpoint of each design's whole template SAP on
               10,000 simulated trials (derive/grid.py, one process) vs derive.py on the
               same trials' visit records (validated as a real trial; from 100 trials)
  load         load + validate + derive 1 and 10 million visit rows vs pandas.read_csv
               alone; peak memory (each size in a fresh process); then the same records
               as a sponsor's export: adsl with RANDDT and dates instead of study days,
               the records in a BDS table (advs.csv) timed by ADT (ISO dates) and ATM
  dask         N simulated trials of the refractory-hypoxia primary on a dask LocalCluster
               of 2 worker processes vs the same run with --jobs 2: time, the client's CPU
               against the workers', and whether the two oc.json are identical
  sap          10,000 trials of each design's whole template SAP (mscstats simulate --jobs
               2) vs a pipeline.analyze loop; peak memory of the process tree
  report       mscstats report --demo KEY for each design as PDF, RTF and DOCX (6 s target)
  mi           200 imputations of the refractory-hypoxia primary ANCOVA on its repeated
               P/F endpoint pf_course (days 3 and 7 imputed by visit, Rubin's rules):
               the vectorised runner vs a Python loop of statsmodels OLS fits, one
               completed data set at a time; then simulated trials of the templates'
               MI, tipping-point and permutation analyses: the grid's batch kernels vs
               the runner on each replicate (CPU time per 10,000 trials)
  ranks        10,000 replicates of n = 60: Wilcoxon + Hodges-Lehmann, paired t +
               signed rank, risk difference + Fisher, proportional odds, batch
               kernels vs a loop of the scalar cores, and scipy / statsmodels
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
    import bench_survival
    bench_survival.run(quick, line)


def case_simulate(quick: bool, sims: int | None) -> None:
    from mscstats.pipeline import analyze
    from mscstats.plan import template
    from mscstats.simulation.engine import restrict_sap, simulate
    from mscstats.simulation.synth import make_trial
    from mscstats.trial.validate import load_frames
    sims = sims or (1000 if quick else 10_000)
    sap = restrict_sap(template(KEY), PRIMARY)
    jobs = os.cpu_count() or 1

    start = time.perf_counter()
    oc = simulate(KEY, sap, [60], sims, analyses=PRIMARY, jobs=jobs, seed=1)
    t_grid = time.perf_counter() - start

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
    line(f"{sims:,} trials, grid vs mscstats loop", t_grid, t_loop, "pipeline loop",
         f"(1 process, derive + analyze per trial, extrapolated from {loop_n})")
    line(f"{sims:,} trials, grid vs statsmodels+lifelines", t_grid, t_library,
         "sm + lifelines", f"(1 process, OLS + log-rank + Cox per trial, from {loop_n})")
    print(f"  per trial: {t_grid / sims * 1000:.2f} ms; target 10,000 in < 5 s: "
          f"{'met' if t_grid * 10_000 / sims < 5 else 'NOT met'}")


def case_sap(quick: bool, sims: int | None = None) -> None:
    """Each design's whole template SAP: N simulated trials on 2 processes (the command
    a user runs) vs a loop of pipeline.analyze over the same design's trials, one at a
    time (extrapolated from a few); peak memory of the run, its workers included."""
    from mscstats.pipeline import analyze
    from mscstats.plan import template
    from mscstats.schema import DESIGN_KEYS
    from mscstats.simulation.synth import get_design, make_trial
    from mscstats.trial.validate import load_frames
    sims = sims or (1000 if quick else 10_000)
    loop_n = 3 if quick else 8
    print(f"\nsap: {sims:,} trials of each design's whole template SAP, `mscstats simulate "
          f"--jobs 2` (a fresh process each) vs a pipeline.analyze loop (1 process, from "
          f"{loop_n} trials)")
    for key in DESIGN_KEYS:
        with tempfile.TemporaryDirectory() as tmp:
            sap_path = Path(tmp) / "sap.toml"
            sap_path.write_text(template_text(key))
            command = [sys.executable, "-m", "mscstats", "simulate", "--design", key,
                       "--sap", str(sap_path), "--n-sims", str(sims), "--jobs", "2",
                       "-o", str(Path(tmp) / "oc.json")]
            t_sim, peak = _timed_with_peak_memory(command)
        sap = template(key)
        tables = ("adsl", "visits", "adae", "ex")
        trials = [load_frames(make_trial(key, n=get_design(key).n, seed=seed, tables=tables),
                              name=key, arms=sap.study.arms) for seed in range(loop_n)]
        start = time.perf_counter()
        for trial in trials:
            analyze(trial, sap)
        t_loop = (time.perf_counter() - start) * sims / loop_n
        line(f"{key}: {len(sap.analyses)} analyses", t_sim, t_loop, "analyze loop",
             f"peak {peak / 1024:.2f} GiB; < 60 s: {'met' if t_sim < 60 else 'NOT met'}, "
             f">= 30x: {'met' if t_loop / t_sim >= 30 else 'NOT met'}, < 2 GiB: "
             f"{'met' if peak < 2 * 1024 else 'NOT met'}")


def case_report(quick: bool) -> None:
    """`mscstats report --demo KEY` as a user runs it (a fresh process: imports, the
    synthetic trial, analyze, the report) for each design and format, against the
    6 s target; and the same trial's analyze alone, the part that is not the report."""
    from mscstats.schema import DESIGN_KEYS
    formats = ("pdf",) if quick else ("pdf", "rtf", "docx")
    print("\nreport: `mscstats report --demo KEY -o report.<format>` (fresh process each)")
    with tempfile.TemporaryDirectory() as tmp:
        for key in DESIGN_KEYS:
            times = {}
            for fmt in formats:
                command = [sys.executable, "-m", "mscstats", "report", "--demo", key,
                           "-o", str(Path(tmp) / f"report.{fmt}")]
                times[fmt], _ = _timed_with_peak_memory(command)
            shown = ", ".join(f"{fmt} {t:.2f} s" for fmt, t in times.items())
            print(f"  {key:<20} {shown}; < 6 s: "
                  f"{'met' if max(times.values()) < 6 else 'NOT met'}")


def template_text(key: str) -> str:
    from mscstats.plan import template_text as text
    return text(key)


def _timed_with_peak_memory(command: list[str]) -> tuple[float, float]:
    """Wall time of the command and the peak of its process tree's resident memory
    (MiB; the process and its worker processes, sampled every 50 ms)."""
    import psutil
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    tree = psutil.Process(process.pid)
    peak = 0.0
    while process.poll() is None:
        try:
            members = [tree, *tree.children(recursive=True)]
            peak = max(peak, sum(m.memory_info().rss for m in members) / 2 ** 20)
        except psutil.Error:           # a worker ending between the listing and the read
            pass
        time.sleep(0.05)
    if process.returncode:
        raise RuntimeError(f"{command} exited {process.returncode}")
    return time.perf_counter() - start, peak



def case_derive(quick: bool) -> None:
    """Every endpoint of each template SAP on 10,000 trials: the grid derivation (the
    generator's arrays made apart, and timed apart) vs derive.py on visit records."""
    from mscstats.derive.endpoints import derive
    from mscstats.derive.grid import GridDerivation, grid_params, needs_adverse_events
    from mscstats.plan import template
    from mscstats.schema import DESIGN_KEYS
    from mscstats.simulation.engine import CHUNK
    from mscstats.simulation.synth import get_design, make_batch, make_grid, synthetic_rules
    from mscstats.trial.validate import load_frames
    sims = 1000 if quick else 10_000
    print(f"\nderive: every endpoint of each design's template SAP on {sims:,} trials "
          f"(chunks of {CHUNK}, 1 process)")
    for key in DESIGN_KEYS:
        sap, n = template(key), get_design(key).n
        t_make = t_derive = 0.0
        for chunk in range(sims // CHUNK):
            start = time.perf_counter()
            grid = make_grid(key, n, CHUNK, chunk, None, grid_params(sap),
                             adverse_events=needs_adverse_events(sap))
            t_make += time.perf_counter() - start
            start = time.perf_counter()
            derivation = GridDerivation(grid, sap.data)
            for endpoint in sap.endpoints:
                derivation.endpoint(endpoint)
            t_derive += time.perf_counter() - start
        exact_sims = 100
        frames = make_batch(key, n, exact_sims, 1, tables=("adsl", "visits", "adae", "ex"))
        start = time.perf_counter()
        derive(load_frames(frames, key, sap.study.arms, synthetic_rules(sap.data)), sap)
        t_exact = (time.perf_counter() - start) * sims / exact_sims
        line(f"{key} ({len(sap.endpoints)} endpoints, n = {n})", t_derive, t_exact,
             "derive.py", f"(validate + derive of {exact_sims} trials, extrapolated; "
             f"generating the grid: {t_make:.2f} s)")


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
    _mi_over_replicates(quick)


# the analyses of the template SAPs the grid's MI, tipping-point and permutation kernels
# run; the refractory-hypoxia permutation is on pf_d7 (its template one is on a worst-rank
# endpoint the grid does not derive yet), with the runner's default 10,000 permutations
_SIMULATED = [("refractory-hypoxia", ("primary_mi", "primary_tipping")),
              ("nebulized-exosomes", ("primary_mi", "primary_tipping")),
              ("prevent-progression", ("primary_tipping",)),
              ("refractory-hypoxia", ("pf_d7_permutation",))]


def _mi_over_replicates(quick: bool) -> None:
    """Simulated trials: the batch kernels (analyse_grid) against the runner on every
    replicate of the same grids (runner_only=True); the rows must be the same."""
    from dataclasses import replace

    from mscstats.derive.grid import grid_params
    from mscstats.plan import Analysis, template
    from mscstats.simulation.engine import _chunk_seed, restrict_sap
    from mscstats.simulation.grid_engine import analyse_grid
    from mscstats.simulation.synth import get_design, make_grid
    chunks = 4 if quick else 12
    print(f"\nmi over replicates: {chunks * 25} simulated trials, batch kernels vs the runner "
          "on each replicate (CPU seconds, extrapolated to 10,000 trials)")
    for key, ids in _SIMULATED:
        sap = template(key)
        if "pf_d7_permutation" in ids:
            extra = Analysis("pf_d7_permutation", "pf_d7", "permutation",
                             {"statistic": "wilcoxon"})
            sap = replace(sap, analyses=sap.analyses + (extra,))
        sap = restrict_sap(sap, list(ids))
        n = get_design(key).n
        grids = [make_grid(key, n, 25, _chunk_seed(1, n, c), None, grid_params(sap))
                 for c in range(chunks)]
        analyse_grid(grids[0], sap)                               # imports, caches
        analyse_grid(grids[0], sap, runner_only=True)
        times = {}
        rows = {}
        for runner_only in (False, True):
            start = time.process_time()
            rows[runner_only] = [analyse_grid(g, sap, runner_only) for g in grids]
            times[runner_only] = (time.process_time() - start) * 10_000 / (chunks * 25)
        same = "rows identical" if rows[True] == rows[False] else "rows differ in rounding"
        line(f"{key} {', '.join(ids)}", times[False], times[True], "runner", f"({same})")


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


def case_ranks(quick: bool) -> None:
    import bench_ranks
    bench_ranks.run(line, quick)


def pd_design(subjects):
    import pandas as pd
    return pd.DataFrame({"const": 1.0, "ARM": (subjects["ARM"] != "control").astype(float),
                         "BASE": subjects["BASE"]}, index=subjects.index)


def case_dask(quick: bool, sims: int | None = None) -> None:
    from distributed import Client, LocalCluster

    from mscstats.plan import template
    from mscstats.simulation.engine import simulate
    sims = sims or (2000 if quick else 10000)
    sap = template(KEY)
    args = dict(analyses=PRIMARY, seed=1)
    start = time.perf_counter()
    local = simulate(KEY, sap, [60], sims, jobs=2, **args)
    t_local = time.perf_counter() - start
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        before = client.run(time.process_time)
        client_cpu, start = time.process_time(), time.perf_counter()
        remote = simulate(KEY, sap, [60], sims, scheduler=cluster.scheduler_address, **args)
        t_remote = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu       # the scheduler's thread included
        after = client.run(time.process_time)
    worker_cpu = sum(after[w] - before[w] for w in after if w in before)
    share = client_cpu / (client_cpu + worker_cpu)
    print(f"\ndask: {sims:,} trials of the {KEY} primary analyses, LocalCluster of 2 workers")
    line("LocalCluster vs --jobs 2", t_remote, t_local, "--jobs 2")
    print(f"  CPU: client {client_cpu:.2f} s, workers {worker_cpu:.2f} s: client share "
          f"{100 * share:.1f}% (target < 10%: {'met' if share < 0.10 else 'NOT met'}); "
          f"oc.json identical to --jobs 2: {remote.to_json() == local.to_json()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", choices=CASES, action="append")
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
    for name in args.case or CASES:
        if name in ("simulate", "dask", "sap"):
            globals()[f"case_{name}"](args.quick, args.sims)
        else:
            globals()[f"case_{name}"](args.quick)


# every case_<name> function, in the order written
CASES = [name[5:] for name in list(globals()) if name.startswith("case_")]

if __name__ == "__main__":
    main()
