#!/usr/bin/env python
"""Stress sweep: every design's whole template SAP on simulated trials of every size.

    python scripts/stress_sweep.py                       # the full sweep (~14 min, one core)
    python scripts/stress_sweep.py --designs refractory-hypoxia --n 4,10 --seeds 1
    python scripts/stress_sweep.py --jobs 2 --effects null,design,strong,extreme,harm
    python scripts/stress_sweep.py --n-sims 100 --seeds 5 --jobs 2   # longer, locally

Configurations: designs x n in {2, 3, 4, 6, 10, 20, 60, 150} x effects {null, design,
strong, extreme} x seeds; each is one chunk of --n-sims trials run by the simulation
engine (engine.run_chunk: the grid, its derivation, every runner on every replicate,
then the batch kernels, the multiplicity family) and summarised as `mscstats
simulate` does. Analyses the engine cannot run yet (derive.grid.unsupported: mmrm
needs every visit day's rows) run their runner on the same trials' visit records
(synth.make_batch, validated and derived as a real trial), replicate by replicate.

A crash site is a place where an exception other than the library's NotEstimable
(a statistic that cannot be computed, said so) leaves a runner, or any exception
leaves the engine outside the runners: its type and file:line (the innermost
frame in mscstats) with the first configuration that hit it (design, n, effect,
seed, analysis) and how often. The pipeline would turn a numerical failure into a
not-estimable entry naming the exception, so such a site is a numerical edge the
runner does not handle at its root. A warning site is a warning (numpy's
RuntimeWarning...) raised inside the engine, which would leak to a user's stderr.
An AnalysisError inside a runner is listed too (the data and the SAP would not
fit: simulation should never produce one). The run ends with "crash sites: N".
Exit status 1 when any site was found.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mscstats.schema import DESIGN_KEYS  # noqa: E402

SIZES = (2, 3, 4, 6, 10, 20, 60, 150)
EFFECTS = ("null", "design", "strong", "extreme")


def effect_of(name: str):
    """The assumed effect of a sweep level, for every treated arm (None: the design's)."""
    from mscstats.simulation.synth import NULL_EFFECT, Effect
    return {"null": NULL_EFFECT, "design": None,
            "strong": Effect(recovery_rate=2.0, progression_or=0.3, mortality_or=0.3,
                             cytokine_ratio=0.3),
            # at the ends of simulate.EFFECT_RANGE: everything that can happen, happens
            "extreme": Effect(recovery_rate=50.0, progression_or=0.001, mortality_or=0.001,
                              cytokine_ratio=0.001),
            "harm": Effect(recovery_rate=0.02, progression_or=1000.0, mortality_or=1000.0,
                           cytokine_ratio=1000.0)}[name]


@dataclass(frozen=True)
class Config:
    design: str
    n: int
    effect: str
    seed: int

    def __str__(self) -> str:
        return f"design {self.design}, n {self.n}, effect {self.effect}, seed {self.seed}"


def _site(tb) -> str:
    """file:line of the innermost frame inside mscstats (else the innermost frame)."""
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "/mscstats/" in f.filename.replace("\\", "/")]
    frame = (ours or frames)[-1]
    name = frame.filename.replace("\\", "/")
    name = name[name.rindex("/mscstats/") + 1:] if "/mscstats/" in name else name
    return f"{name}:{frame.lineno}"


def _warning_site(w) -> str:
    name = str(w.filename).replace("\\", "/")
    name = name[name.rindex("/mscstats/") + 1:] if "/mscstats/" in name else name
    return f"{name}:{w.lineno}"


def run_config(config: Config, n_sims: int, analyses=None) -> list[tuple]:
    """The findings of one configuration: (kind, type, site, message, analysis).
    ``analyses``: only these of the SAP (the same trials: the generator does not
    depend on them)."""
    from mscstats.analysis import run
    from mscstats.analysis.cores.common import NotEstimable
    from mscstats.errors import AnalysisError
    from mscstats.plan import template
    from mscstats.derive.grid import unsupported
    from mscstats.simulation.engine import _summarise, restrict_sap, run_chunk
    findings: list[tuple] = []
    sap = restrict_sap(template(config.design), analyses)

    def runner(inp):
        try:
            return run(inp)
        except NotEstimable:
            raise
        except AnalysisError as err:
            findings.append(("analysis error", type(err).__name__, _site(err.__traceback__),
                             str(err), inp.id))
            raise
        except Exception as err:  # noqa: BLE001 - the sweep reports every one
            findings.append(("crash", type(err).__name__, _site(err.__traceback__), str(err),
                             inp.id))
            raise NotEstimable(f"sweep: {type(err).__name__}") from None

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            on_grid = [a.id for a in sap.analyses if not unsupported(restrict_sap(sap, [a.id]))]
            rows = []
            if on_grid:
                for only in (True, False):       # every runner, then the kernels
                    rows = run_chunk(config.design, restrict_sap(sap, on_grid), config.n, 0,
                                     n_sims, config.seed, effect_of(config.effect),
                                     runner=runner, runner_only=only)
            rest = [a.id for a in sap.analyses if a.id not in on_grid]
            if rest:
                rows += _visit_record_rows(config, restrict_sap(sap, rest), n_sims, runner)
            _summarise(config.n, n_sims, rows, sap.study.alpha, [a.id for a in sap.analyses])
        except Exception as err:  # noqa: BLE001
            findings.append(("crash", type(err).__name__, _site(err.__traceback__), str(err),
                             "(engine)"))
    for w in caught:
        findings.append(("warning", w.category.__name__, _warning_site(w), str(w.message), ""))
    return findings


def _visit_record_rows(config: Config, sap, n_sims: int, runner) -> list[tuple]:
    """The rows of analyses the engine cannot run yet: the chunk's trials as visit
    records, validated and derived as one trial, each replicate's input through the
    runner (the same trials as run_chunk's: the same chunk seed)."""
    from dataclasses import replace

    from mscstats.analysis.cores.common import NotEstimable
    from mscstats.derive.endpoints import derive
    from mscstats.errors import MscstatsError
    from mscstats.pipeline import analysis_input
    from mscstats.results import AnalysisResult
    from mscstats.simulation.engine import _chunk_seed, _run_replicate, hypothesis_rows
    from mscstats.simulation.synth import make_batch, synthetic_rules
    from mscstats.trial.validate import load_frames
    frames = make_batch(config.design, config.n, n_sims,
                        _chunk_seed(config.seed, config.n, 0), effect_of(config.effect),
                        tables=("adsl", "visits", "adae", "ex"))
    trial = load_frames(frames, config.design, sap.study.arms, synthetic_rules(sap.data))
    endpoints = derive(trial, sap)
    replicate = trial.adsl.set_index("USUBJID")["REPLICATE"]
    rows = []
    for analysis in sap.analyses:
        try:
            whole = analysis_input(trial, sap, endpoints, analysis)
        except (NotEstimable, MscstatsError) as why:
            rows += [(analysis.id, None, None, None, None, str(why))] * n_sims
            continue
        of = whole.data["USUBJID"].map(replicate).to_numpy()
        for r in range(n_sims):
            inp = replace(whole, data=whole.data[of == r].reset_index(drop=True))
            result = _run_replicate(inp, runner) if len(inp.data) else \
                AnalysisResult.not_estimable(analysis.id, analysis.endpoint, analysis.method,
                                             "no rows", analysis.options)
            rows += hypothesis_rows(result)
    return rows


def _worker(args):
    config, n_sims = args
    return config, run_config(config, n_sims)


def sweep(configs, n_sims: int, jobs: int = 1, echo=print) -> dict:
    """Run every configuration; returns {(kind, type, site): [count, message, config,
    analysis]} and echoes each site when first found."""
    sites: dict = {}
    if jobs > 1:
        from multiprocessing import get_context
        pool = get_context("spawn").Pool(jobs)
        done = pool.imap(_worker, [(c, n_sims) for c in configs])
    else:
        pool, done = None, (_worker((c, n_sims)) for c in configs)
    try:
        for k, (config, findings) in enumerate(done, start=1):
            if k % 20 == 0 or k == len(configs):
                echo(f"[{k}/{len(configs)}] {config}: {len(sites)} site(s) so far")
            for kind, kind_type, site, message, analysis in findings:
                key = (kind, kind_type, site)
                if key not in sites:
                    sites[key] = [0, message, config, analysis]
                    echo(f"NEW {kind} site: {kind_type} at {site} ({config}, analysis "
                         f"{analysis or '-'}): {message[:200]}")
                sites[key][0] += 1
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return sites


def report(sites: dict, echo=print) -> Counter:
    totals = Counter(kind for kind, _, _ in sites)
    for (kind, kind_type, site), (count, message, config, analysis) in sorted(
            sites.items(), key=lambda item: (item[0][0], -item[1][0])):
        echo(f"{kind}: {kind_type} at {site}, {count} time(s); first: {config}, analysis "
             f"{analysis or '-'}: {message[:200]}")
    echo(f"crash sites: {totals['crash']}")
    echo(f"warning sites: {totals['warning']}")
    echo(f"analysis error sites: {totals['analysis error']}")
    return totals


def _list(text: str, kind=str) -> list:
    return [kind(v.strip()) for v in text.split(",") if v.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--designs", default=",".join(DESIGN_KEYS),
                        help="design keys, comma-separated (default: all five)")
    parser.add_argument("--n", default=",".join(map(str, SIZES)),
                        help="trial sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--effects", default=",".join(EFFECTS),
                        help="effect levels among null, design, strong, extreme, harm "
                             "(default: %(default)s)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds 1..S per configuration")
    parser.add_argument("--n-sims", type=int, default=25, help="trials per configuration")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes")
    args = parser.parse_args(argv)
    designs = _list(args.designs)
    unknown = sorted(set(designs) - set(DESIGN_KEYS))
    if unknown:
        parser.error(f"unknown design(s) {unknown}; use {', '.join(DESIGN_KEYS)}")
    effects = _list(args.effects)
    for e in effects:
        try:
            effect_of(e)
        except KeyError:
            parser.error(f"unknown effect level {e!r}")
    configs = [Config(d, n, e, s) for d in designs for n in _list(args.n, int)
               for e in effects for s in range(1, args.seeds + 1)]
    start = time.perf_counter()
    print(f"{len(configs)} configurations x {args.n_sims} trials: designs {designs}, "
          f"n {args.n}, effects {effects}, seeds 1..{args.seeds}", flush=True)
    sites = sweep(configs, args.n_sims, args.jobs,
                  echo=lambda line: print(line, flush=True))
    totals = report(sites)
    print(f"{len(configs) * args.n_sims} simulated trials in "
          f"{time.perf_counter() - start:.0f} s")
    return 1 if sum(totals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
