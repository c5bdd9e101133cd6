"""Operating characteristics by simulation: power, or type I error under no effect.

Trials are simulated from the design's generator (synth.py) under assumed
effects and analysed by the SAP's rules, so the simulated power is the power
of the SAP as written. One engine (DESIGN.md 11): a chunk of replicates is
generated as (subject x day) arrays, derived on the grid (derive/grid.py) and
analysed per analysis by its batch kernel over the replicates where the method
has one, otherwise by the analysis's runner on each replicate's rows
(grid_engine.py). derive.grid.unsupported says what it cannot run yet.

Reproducibility: every chunk has its own seed, derived from (seed, n, chunk
index) with numpy's SeedSequence, and the chunk size is fixed; so the result
does not depend on the number of jobs, the scheduler or the order chunks finish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from .._version import __version__
from ..errors import MscstatsError, SapError
from ..plan import Multiplicity, Sap
# Accepted range of every --effect value (a ratio or multiplier): wide enough for any
# plausible effect and beyond, narrow enough that the generator's exp and odds stay finite.
from .designs import EFFECT_RANGE

if TYPE_CHECKING:   # pandas loads only where used: workers start without it
    import pandas as pd

__all__ = ["CHUNK", "Rate", "NotEstimableCount", "OperatingCharacteristics",
           "simulate", "restrict_sap", "parse_effects", "check_supported", "run_chunk",
           "hypothesis_rows", "comparison_reason", "EFFECT_RANGE"]

CHUNK = 25  # replicates generated together: the unit of randomness


@dataclass(frozen=True)
class Rate:
    """Rejection rate of one comparison at one sample size.

    n_estimable: replicates with a p-value, the rate's denominator;
    n_not_estimable: replicates where the analysis or this comparison could not be
    computed, counted by reason in ``not_estimable_reasons`` (the rest, if any, had
    an estimate without a test); mean_estimate: over the finite estimates,
    ``n_infinite_estimates`` counting the infinite ones it leaves out.
    """
    n: int
    analysis: str
    arm: str
    estimand: str
    n_sims: int
    n_estimable: int
    rejections: int
    mean_estimate: float | None
    n_not_estimable: int = 0
    not_estimable_reasons: tuple[tuple[str, int], ...] = ()
    n_infinite_estimates: int = 0

    @property
    def rate(self) -> float | None:
        """Rejections over the replicates with a p-value; None when none had one (an
        estimate without a test, e.g. a single-arm proportion, or never estimable),
        whose 'power' would read as a misleading 0."""
        return self.rejections / self.n_estimable if self.n_estimable else None

    @property
    def mc_se(self) -> float | None:
        """Monte Carlo standard error of the rate: sqrt(p (1 - p) / n_estimable)."""
        rate = self.rate
        return None if rate is None else math.sqrt(rate * (1.0 - rate) / self.n_estimable)

    def to_dict(self) -> dict:
        return {"n": self.n, "analysis": self.analysis, "arm": self.arm,
                "estimand": self.estimand, "n_sims": self.n_sims,
                "n_estimable": self.n_estimable, "n_not_estimable": self.n_not_estimable,
                "not_estimable_reasons": dict(self.not_estimable_reasons),
                "rejections": self.rejections, "rejection_rate": self.rate,
                "mc_se": self.mc_se, "mean_estimate": self.mean_estimate,
                "n_infinite_estimates": self.n_infinite_estimates}


@dataclass(frozen=True)
class NotEstimableCount:
    """How many replicates of one analysis at one n could not be computed, and why."""
    n: int
    analysis: str
    n_sims: int
    n_not_estimable: int
    reasons: tuple[tuple[str, int], ...] = ()

    def to_dict(self) -> dict:
        return {"n": self.n, "analysis": self.analysis, "n_sims": self.n_sims,
                "n_not_estimable": self.n_not_estimable, "reasons": dict(self.reasons)}


@dataclass(frozen=True)
class OperatingCharacteristics:
    design: str
    study: str
    sap_sha256: str
    alpha: float
    seed: int
    effect: Mapping[str, Any]
    rates: tuple[Rate, ...]
    multiplicity: str = "none"
    notes: tuple[str, ...] = field(default=())
    engine: str = "grid"
    not_estimable: tuple[NotEstimableCount, ...] = ()

    def to_dict(self) -> dict:
        return {"mscstats_version": __version__, "design": self.design, "study": self.study,
                "sap_sha256": self.sap_sha256, "alpha": self.alpha, "seed": self.seed,
                "effect": dict(self.effect), "multiplicity": self.multiplicity,
                "chunk": CHUNK, "engine": self.engine, "notes": list(self.notes),
                "results": [r.to_dict() for r in self.rates],
                "not_estimable": [c.to_dict() for c in self.not_estimable]}

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per analysis and n that no replicate could compute."""
        return tuple(f"analysis {c.analysis} at n = {c.n}: not estimable in any of the "
                     f"{c.n_sims} replicates ({_reasons_text(c.reasons)})"
                     for c in self.not_estimable if c.n_not_estimable == c.n_sims)

    def to_json(self) -> str:
        from ..results import dumps_json
        return dumps_json(self.to_dict())

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd
        return pd.DataFrame([r.to_dict() for r in self.rates])

    def __str__(self) -> str:
        lines = [f"Operating characteristics of {self.study} ({self.design}), alpha "
                 f"{self.alpha:g}, effect {dict(self.effect)}"]
        for r in self.rates:
            est = "NA" if r.mean_estimate is None else f"{r.mean_estimate:.4g}"
            if r.n_infinite_estimates:
                est += f" ({r.n_infinite_estimates} infinite left out)"
            rejects = ("no p-value" + ("" if r.n_not_estimable else " (an estimate without a test)")
                       if r.rate is None else
                       f"rejects {r.rate:.3f} (MC SE {r.mc_se:.3f}) of {r.n_estimable} estimable")
            lines.append(f"  n = {r.n:>4}  {r.analysis:<18} {r.arm:<10} {r.estimand:<28} "
                         f"{rejects}, {r.n_not_estimable} not estimable; mean estimate {est}")
        with_rates = {(r.n, r.analysis) for r in self.rates}
        for c in self.not_estimable:
            if (c.n, c.analysis) not in with_rates and not c.n_not_estimable:
                # km, cuminc, a tipping point: estimates without an arm's hypothesis
                lines.append(f"  n = {c.n:>4}  {c.analysis:<18} no hypothesis to reject "
                             f"(estimates only), estimable in all {c.n_sims}")
            elif c.n_not_estimable:
                lines.append(f"  n = {c.n:>4}  {c.analysis:<18} not estimable in "
                             f"{c.n_not_estimable} of {c.n_sims}: {_reasons_text(c.reasons)}")
        return "\n".join(lines)


def _reasons_text(reasons: Sequence[tuple[str, int]]) -> str:
    return "; ".join(f"{count} x {reason}" for reason, count in reasons)


def restrict_sap(sap: Sap, analyses: Sequence[str] | None) -> Sap:
    """The SAP with only the named analyses (and their endpoints); all when None."""
    if not analyses:
        return sap
    known = {a.id for a in sap.analyses}
    unknown = [a for a in analyses if a not in known]
    if unknown:
        raise SapError("analyses", f"{unknown} are not analyses of the SAP.",
                       f"choose among: {', '.join(sorted(known))}.", file=sap.source)
    kept = tuple(a for a in sap.analyses if a.id in analyses)
    endpoints = tuple(e for e in sap.endpoints if e.id in {a.endpoint for a in kept})
    family = tuple(f for f in sap.multiplicity.family if f in analyses)
    # an estimand goes with its main analysis; its sensitivity list keeps what is left
    estimands = tuple(replace(e, sensitivity=tuple(x for x in e.sensitivity if x in analyses))
                      for e in sap.estimands if e.analysis in analyses)
    return replace(sap, analyses=kept, endpoints=endpoints, estimands=estimands,
                   multiplicity=Multiplicity(sap.multiplicity.method, family))


def parse_effects(key: str, specs: Sequence[str], null: bool = False) -> dict:
    """Arm -> Effect from ``[ARM:]NAME=VALUE`` settings.

    Settings start from the design's default effects (from no effect with
    ``null``); a setting without ARM applies to every treated arm. NAME is a field
    of synth.Effect (recovery_rate, progression_or, mortality_or, cytokine_ratio);
    VALUE a number in EFFECT_RANGE.
    """
    from dataclasses import fields as dataclass_fields

    from .synth import NULL_EFFECT, get_design
    design = get_design(key)
    effects = {arm: (NULL_EFFECT if null else design.effects.get(arm, NULL_EFFECT))
               for arm in design.treated_arms}
    names = [f.name for f in dataclass_fields(NULL_EFFECT)]
    for spec in specs:
        target, _, setting = spec.rpartition(":")
        name, equals, value = setting.partition("=")
        fix = (f"Fix: write NAME=VALUE or ARM:NAME=VALUE with NAME one of {', '.join(names)} "
               f"and ARM one of {', '.join(design.treated_arms)}, e.g. recovery_rate=1.5.")
        if not equals or name.strip() not in names:
            raise MscstatsError(f"--effect {spec!r} is not an effect setting. {fix}")
        arms = [target] if target else list(design.treated_arms)
        if target and target not in design.treated_arms:
            raise MscstatsError(f"--effect {spec!r}: {target!r} is not a treated arm of "
                                f"{key}. {fix}")
        try:
            number = float(value)
        except ValueError:
            raise MscstatsError(f"--effect {spec!r}: {value!r} is not a number. {fix}") from None
        low, high = EFFECT_RANGE
        if not (math.isfinite(number) and number > 0):
            raise MscstatsError(f"--effect {spec!r}: effects are positive ratios. {fix}")
        if not low <= number <= high:
            raise MscstatsError(f"--effect {spec!r}: {number:g} is outside the accepted range "
                                f"{low:g} to {high:g} of an effect (a ratio). {fix}")
        for arm in arms:
            effects[arm] = replace(effects[arm], **{name.strip(): number})
    return effects


def _chunk_seed(seed: int, n: int, chunk: int) -> int:
    return int(np.random.SeedSequence([seed, n, chunk]).generate_state(1, dtype=np.uint64)[0])


def comparison_reason(result, comparison) -> str | None:
    """Why a comparison has neither a p-value nor an estimate (None when it has one):
    the runner's note about that arm, or a plain statement."""
    if comparison.p_value is not None or comparison.estimate is not None:
        return None
    prefixes = (f"{comparison.arm} vs {comparison.reference}:", f"{comparison.arm}:")
    for note in result.notes:
        if note.startswith(prefixes):
            return note.split(":", 1)[1].strip()
    return "the comparison has no estimate and no p-value"


def hypothesis_rows(result) -> list[tuple]:
    """(analysis, arm, estimand, p, estimate, reason) of each arm's hypothesis, the
    adjusted p where the SAP's family applies; reason None unless the comparison could
    not be computed. A not-estimable analysis: one row (analysis, None, None, None,
    None, reason)."""
    from ..analysis.multiplicity import primary_comparisons
    if not result.estimable:
        return [(result.id, None, None, None, None, result.reason)]
    return [(result.id, c.arm, c.estimand,
             c.p_adjusted if c.p_adjusted is not None else c.p_value, c.estimate,
             comparison_reason(result, c))
            for c in primary_comparisons(result)]


def _run_replicate(inp, runner):
    """pipeline.run_analysis, and an AnalysisError too as not estimable: a simulated
    replicate never stops the run (its message is the reason)."""
    from ..pipeline import run_analysis
    from ..results import AnalysisResult
    try:
        return run_analysis(inp, runner)
    except MscstatsError as err:
        return AnalysisResult.not_estimable(inp.id, inp.endpoint, inp.method, str(err),
                                            inp.options)


def run_chunk(key: str, sap: Sap, n: int, chunk: int, replicates: int, seed: int,
              effect, runner=None, runner_only: bool = False) -> list[tuple]:
    """Simulate and analyse one chunk; one row per replicate and primary comparison:
    (analysis, arm, estimand, p, estimate, reason), p None where it could not be
    computed, reason None unless the comparison or the analysis could not be (a
    not-estimable analysis gives one row with arm and estimand None).

    runner: the function that runs one AnalysisInput (default analysis.run; the stress
    sweep passes one that records what a runner raises); runner_only: every replicate
    through the runner, none through a batch kernel.
    """
    from ..derive.grid import grid_params, needs_adverse_events
    from .grid_engine import analyse_grid
    from .synth import make_grid
    grid = make_grid(key, n, replicates, _chunk_seed(seed, n, chunk), effect, grid_params(sap),
                     adverse_events=needs_adverse_events(sap))
    return analyse_grid(grid, sap, runner_only=runner_only, runner=runner)


def _counted(reasons) -> tuple[tuple[str, int], ...]:
    """(reason, count), most frequent first, then alphabetically (deterministic)."""
    from collections import Counter
    return tuple(sorted(Counter(r for r in reasons if r is not None).items(),
                        key=lambda item: (-item[1], item[0])))


def _summarise(n: int, n_sims: int, rows: list[tuple], alpha: float,
               analyses: Sequence[str]) -> tuple[list[Rate], list[NotEstimableCount]]:
    """Per comparison: rejections over the replicates with a p-value, the not-estimable
    ones by reason (an analysis not estimable in a replicate counts for each of its
    comparisons); per analysis: the replicates it could not be computed in."""
    import pandas as pd
    frame = pd.DataFrame(rows, columns=["analysis", "arm", "estimand", "p", "estimate",
                                        "reason"])
    whole = frame[frame["arm"].isna()]
    counts = [NotEstimableCount(n, a, n_sims, int((whole["analysis"] == a).sum()),
                                _counted(whole.loc[whole["analysis"] == a, "reason"]))
              for a in analyses]
    rates = []
    for (analysis, arm, estimand), g in frame[frame["arm"].notna()].groupby(
            ["analysis", "arm", "estimand"], sort=False):
        p = g["p"].astype(float)
        est = g["estimate"].astype(float)
        reasons = [*g["reason"], *whole.loc[whole["analysis"] == analysis, "reason"]]
        finite = est[np.isfinite(est)]
        reasons_counted = _counted(reasons)
        rates.append(Rate(n, analysis, arm, estimand, n_sims, int(p.notna().sum()),
                          int((p < alpha).sum()),
                          float(finite.mean()) if len(finite) else None,
                          sum(c for _, c in reasons_counted), reasons_counted,
                          int(np.isinf(est).sum())))
    return rates, counts


def check_supported(sap: Sap) -> None:
    """An SAP error naming what the engine cannot run yet (derive.grid.unsupported)."""
    from ..derive.grid import unsupported
    reasons = unsupported(sap)
    if reasons:
        raise SapError("analyses", "the simulation engine cannot run " + "; ".join(reasons)
                       + ".", "choose the other analyses with --analyses.", file=sap.source)


def simulate(key: str, sap: Sap, n_values: Sequence[int], n_sims: int, effect=None,
             seed: int | None = None, analyses: Sequence[str] | None = None, jobs: int = 1,
             scheduler: str | None = None,
             progress: Callable[[int, int], None] | None = None) -> OperatingCharacteristics:
    """Rejection rates of the SAP's comparisons over n_sims simulated trials per n.

    effect: None (the design's default effects), an Effect for every treated arm
    (synth.NULL_EFFECT for type I error), or a mapping arm -> Effect.
    """
    from .synth import NULL_EFFECT, Effect, get_design
    design = get_design(key)
    if tuple(sap.study.arms) != tuple(design.arms):
        raise SapError("study.arms", f"{list(sap.study.arms)} are not the arms of design "
                       f"{key} ({list(design.arms)}).", "use the design's template SAP "
                       f"(`mscstats sap {key}`) or one with the same arms.", file=sap.source)
    sap = restrict_sap(sap, analyses)
    check_supported(sap)
    seed = sap.study.seed if seed is None else int(seed)
    tasks = [(n, c, min(CHUNK, n_sims - c * CHUNK)) for n in n_values
             for c in range(math.ceil(n_sims / CHUNK))]
    chunks = _run_tasks(key, sap, tasks, seed, effect, jobs, scheduler, progress)
    rates: list[Rate] = []
    counts: list[NotEstimableCount] = []
    for n in n_values:
        rows = [row for (task_n, _, _), found in zip(tasks, chunks) if task_n == n
                for row in found]
        found_rates, found_counts = _summarise(n, n_sims, rows, sap.study.alpha,
                                               [a.id for a in sap.analyses])
        rates.extend(found_rates)
        counts.extend(found_counts)
    if effect is None:
        described = {arm: vars(e) for arm, e in design.effects.items()}
    elif isinstance(effect, Effect):
        described = {"all treated arms": vars(effect), "null": effect == NULL_EFFECT}
    else:
        described = {arm: vars(e) for arm, e in effect.items()}
    notes = ("rejection: p < alpha, using p_adjusted where the SAP's multiplicity family "
             "applies; rejection_rate and mc_se are over the replicates with a p-value "
             "(n_estimable); n_not_estimable counts the replicates where the analysis or the "
             "comparison could not be computed, by reason (not_estimable_reasons; per "
             "analysis in not_estimable); in the family a hypothesis without a p-value "
             "counts as not rejected (p = 1)",
             "mean_estimate is the mean of the finite estimates; n_infinite_estimates counts "
             "the infinite ones left out (e.g. a hazard ratio with every event in one arm)",
             "engine grid: the trials are derived on the subject x day grid by the rules "
             "a real trial's derivation uses, and each analysis runs its batch kernel over "
             "the replicates, which gives what its runner gives on the same rows (hazard "
             "ratios to the Cox fit's convergence, about 1e-7); a replicate the kernel "
             "cannot answer as the runner would goes to the runner")
    from .grid_engine import kernel_of
    by_runner = [a.id for a in sap.analyses if kernel_of(a) is None]
    if by_runner:
        notes += (f"analyses without a batch kernel ({', '.join(by_runner)}) run their "
                  "runner on each replicate's grid-derived rows",)
    oc = OperatingCharacteristics(key, sap.study.id, sap.sha256, sap.study.alpha, seed,
                                  described, tuple(rates), sap.multiplicity.method, notes,
                                  "grid", tuple(counts))
    return replace(oc, notes=oc.notes + oc.warnings)


CONNECT_TIMEOUT = 10      # seconds to reach the scheduler, and again to find a worker


def _dask_client(address: str):
    """A client of the cluster at ``address`` that has at least one worker; a
    scheduler that does not answer, or has no workers, is a message (not a hang or
    a traceback after 30 s)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise MscstatsError("--scheduler needs dask.distributed: "
                            "pip install 'mscstats[dask]'.") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as err:
        raise MscstatsError(f"--scheduler {address}: no dask scheduler answered within "
                            f"{CONNECT_TIMEOUT} s ({type(err).__name__}: {err}). Fix: start "
                            "one (dask scheduler; dask worker ADDRESS) and give its address, "
                            "e.g. tcp://host:8786, or leave --scheduler out to run here "
                            "(--jobs).") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as err:
        client.close()
        raise MscstatsError(f"--scheduler {address}: the scheduler has no worker (none joined "
                            f"within {CONNECT_TIMEOUT} s: {err}). Fix: start workers "
                            f"(dask worker {address}), or leave --scheduler out to run here "
                            "(--jobs).") from None
    return client


def _run_group(key, sap, group, seed, effect) -> list[list[tuple]]:
    return [run_chunk(key, sap, n, c, reps, seed, effect) for n, c, reps in group]


def _run_tasks(key, sap, tasks, seed, effect, jobs, scheduler, progress) -> list[list[tuple]]:
    """Each chunk's rows, in task order. Chunks are sent in groups, enough groups to
    keep every worker busy: a grid chunk takes milliseconds, less than its dispatch."""
    from joblib import Parallel, cpu_count, delayed
    workers = cpu_count() if jobs is None or jobs < 1 else jobs
    if scheduler:
        with _dask_client(scheduler) as client:
            workers = max(1, sum(client.nthreads().values()))
            return _on_cluster(client, key, sap, _groups(tasks, workers), seed, effect,
                               progress, len(tasks))
    calls = (delayed(_run_group)(key, sap, group, seed, effect)
             for group in _groups(tasks, workers))
    out: list[list[tuple]] = []
    parallel = Parallel(n_jobs=jobs, return_as="generator")
    for found in parallel(calls):
        out.extend(found)
        if progress is not None:
            progress(len(out), len(tasks))
    return out


def _groups(tasks, workers: int) -> list[list]:
    size = max(1, min(40, len(tasks) // (4 * workers)))
    return [tasks[i:i + size] for i in range(0, len(tasks), size)]


# A chunk whose worker dies is re-run on another worker (dask reschedules the tasks a
# lost worker held); a chunk that itself fails this many times more is an error.
RETRIES = 2


def _on_cluster(client, key, sap, groups, seed, effect, progress, total) -> list[list[tuple]]:
    """The groups run as tasks on the cluster's workers, the client only sends the SAP
    once and gathers rows. Keys name the run and the group, so a resubmission after a
    lost worker recomputes the same chunk from its own seed: the rows do not depend on
    which worker ran it."""
    from dask.base import tokenize
    from dask.distributed import as_completed
    run = tokenize(key, sap.sha256, [a.id for a in sap.analyses], seed, repr(effect), groups)
    [shared] = client.scatter([sap], broadcast=True, hash=False)
    futures = [client.submit(_run_group, key, shared, group, seed, effect,
                             key=f"mscstats-chunks-{run}-{i}", retries=RETRIES, pure=False)
               for i, group in enumerate(groups)]
    size = {future.key: len(group) for future, group in zip(futures, groups)}
    done = 0
    for future in as_completed(futures):
        done += size[future.key]
        if progress is not None:
            progress(done, total)
    return [rows for found in client.gather(futures) for rows in found]
