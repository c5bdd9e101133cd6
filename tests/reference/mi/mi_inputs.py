"""Write the inputs of tests/reference/mi/mi.R: an incomplete trial, its data sets completed by
mscstats.analysis.cores.mi (seeded), and a fixed regression data set for mice's norm draws.

    python tests/reference/mi/mi_inputs.py && Rscript tests/reference/mi/mi.R

Generated files (tests/reference/mi/data/*.csv) -- do not edit; rerun this script instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from mscstats.analysis.cores.mi import impute_visits  # noqa: E402

OUT = Path(__file__).parent / "data"
M = 10


def trial(rng, arms, n_per_arm, effects) -> pd.DataFrame:
    """PF-like changes at days 3, 5, 7 with missing-at-random dropout after day 3 or 5."""
    n = n_per_arm * len(arms)
    arm = np.repeat(np.arange(len(arms)), n_per_arm)
    base = np.round(rng.normal(120, 25, n), 3)
    age = np.round(rng.uniform(35, 80, n))
    y3 = 10 + 0.5 * np.take(effects, arm) - 0.2 * (base - 120) + rng.normal(0, 25, n)
    y5 = 0.6 * y3 + 15 + 0.8 * np.take(effects, arm) + rng.normal(0, 20, n)
    y7 = 0.7 * y5 + 10 + np.take(effects, arm) - 0.3 * (age - 60) + rng.normal(0, 20, n)
    y = np.round(np.column_stack([y3, y5, y7]), 3)
    drop5 = rng.random(n) < 1 / (1 + np.exp(2.0 + 0.03 * y[:, 0]))      # low day-3 values drop
    drop7 = rng.random(n) < 1 / (1 + np.exp(1.5 + 0.03 * y[:, 1]))
    y[drop5, 1:] = np.nan
    y[drop7, 2] = np.nan
    return pd.DataFrame({"USUBJID": [f"M-{i + 1:03d}" for i in range(n)],
                         "ARM": np.take(arms, arm), "BASE": base, "AGE": age,
                         "Y3": y[:, 0], "Y5": y[:, 1], "Y7": y[:, 2]})


def completed(frame: pd.DataFrame, arms, seed: int, strategy: str = "mar") -> pd.DataFrame:
    arm = frame["ARM"].map({a: i for i, a in enumerate(arms)}).to_numpy()
    y = frame[["Y3", "Y5", "Y7"]].to_numpy(float)
    fixed = frame[["BASE", "AGE"]].to_numpy(float)
    done = impute_visits(y, arm, len(arms), fixed, M, np.random.default_rng(seed), strategy)
    parts = [frame[["USUBJID", "ARM", "BASE", "AGE"]].assign(**{".imp": i + 1, "Y": done[i, :, 2]})
             for i in range(M)]
    return pd.concat(parts, ignore_index=True)[[".imp", "USUBJID", "ARM", "BASE", "AGE", "Y"]]


def template_primary_mi() -> pd.DataFrame:
    """The completed data sets of the refractory-hypoxia template's primary_mi, as the
    pipeline imputes them on data/synthetic/refractory-hypoxia."""
    from mscstats import pipeline
    from mscstats.analysis.missing_data import _impute, mi_data
    from mscstats.derive.endpoints import derive
    from mscstats.plan import template
    sap = template("refractory-hypoxia")
    trial = pipeline.load(ROOT / "data" / "synthetic" / "refractory-hypoxia", sap)
    analysis = next(a for a in sap.analyses if a.id == "primary_mi")
    inp = pipeline.analysis_input(trial, sap, derive(trial, sap), analysis)
    data = mi_data(inp, with_covariates=True)
    done = _impute(inp, data)
    frame = data.target[["USUBJID", "ARM", "BASE"]]
    return pd.concat([frame.assign(**{".imp": i + 1, "Y": done[i]}) for i in range(len(done))],
                     ignore_index=True)[[".imp", "USUBJID", "ARM", "BASE", "Y"]]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    rng = np.random.default_rng(20240518)
    two = trial(rng, ["control", "UC-MSC"], 30, [0.0, 25.0])
    three = trial(rng, ["standard", "Paxlovid", "UC-MSC"], 20, [0.0, 10.0, 30.0])
    two.to_csv(OUT / "visits_two_arm.csv", index=False)
    three.to_csv(OUT / "visits_three_arm.csv", index=False)
    completed(two, ["control", "UC-MSC"], 11).to_csv(OUT / "completed_two_arm.csv", index=False)
    completed(two, ["control", "UC-MSC"], 12, "jump_to_reference").to_csv(
        OUT / "completed_two_arm_j2r.csv", index=False)
    completed(three, ["standard", "Paxlovid", "UC-MSC"], 13).to_csv(
        OUT / "completed_three_arm.csv", index=False)
    template_primary_mi().to_csv(OUT / "completed_refractory_hypoxia_primary_mi.csv",
                                 index=False, float_format="%.17g")
    x = np.round(rng.normal(0, 1, (25, 2)) * [10, 1] + [50, 0], 3)
    y = np.round(3 + 0.4 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 4, 25), 3)
    pd.DataFrame({"X1": x[:, 0], "X2": x[:, 1], "Y": y}).to_csv(OUT / "norm_data.csv", index=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
