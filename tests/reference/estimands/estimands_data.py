"""A small trial for tests/reference/estimands/estimands.R: raw visits, deaths and discharges.

Run from the repository root:  python tests/reference/estimands/estimands_data.py
Writes tests/reference/estimands/data/adsl.csv and visits.csv (seeded, so the
same files every time): 40 subjects in two arms with daily RR (two decimals, so
no ties between values) and SpO2 (whole numbers, many ties) on days 1-14, some
records missing, deaths and discharges on days 3-14 (one subject discharged and
then dead, where death decides), and two subjects lost to follow-up; the deaths
before day 6 fall on distinct days (case rr_early_rank: no ties, an exact test). No record
follows a death, a discharge or the last day known alive.

R derives every endpoint of tests/reference/estimands/estimands_sap.toml from these two
files by the rules of DESIGN.md sections 4 and 9, independently of mscstats.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent / "data"
SEED = 20261201


def tables(seed: int = SEED) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 40
    arm = np.where(np.arange(n) % 2 == 0, "control", "MSC")
    ids = [f"E{i + 1:02d}" for i in range(n)]
    fate = rng.choice(["none", "death", "discharge", "lost"], size=n, p=[0.45, 0.2, 0.3, 0.05])
    fate[7], fate[8] = "both", "lost"
    death = np.full(n, np.nan)
    discharge = np.full(n, np.nan)
    last_alive = np.full(n, 28.0)
    for i, f in enumerate(fate):
        if f == "death":
            death[i] = last_alive[i] = rng.integers(3, 15)
        elif f == "discharge":
            discharge[i] = rng.integers(3, 15)
        elif f == "both":
            discharge[i], death[i] = 5, 9
            last_alive[i] = 9
        elif f == "lost":
            last_alive[i] = rng.integers(4, 6)
    death[17] = last_alive[17] = 4     # E18 (index 17) would die on day 3 with E17: no tie
    rows = []
    for i in range(n):
        effect = 1.5 if arm[i] == "MSC" else 0.0
        rr0, spo20 = rng.normal(28, 3), rng.normal(90, 2.5)
        end = min(14, np.nanmin([death[i], discharge[i], last_alive[i]]))
        for day in range(1, int(end) + 1):
            if day > 1 and rng.random() < 0.25:
                continue                               # no record that day
            rr = rr0 - (0.35 + 0.1 * effect) * (day - 1) + rng.normal(0, 1.5)
            spo2 = spo20 + (0.3 + 0.1 * effect) * (day - 1) + rng.normal(0, 1.5)
            rows.append((ids[i], day, "RR", f"{np.clip(rr, 8, 60):.2f}", "/min"))
            rows.append((ids[i], day, "SPO2", f"{np.clip(round(spo2), 70, 100):.0f}", "%"))
    adsl = pd.DataFrame({"USUBJID": ids, "ARM": arm, "DTHDY": death, "DSCHDY": discharge,
                         "LSTALVDY": last_alive})
    visits = pd.DataFrame(rows, columns=["USUBJID", "ADY", "PARAMCD", "AVAL", "AVALU"])
    return {"adsl": adsl, "visits": visits}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, frame in tables().items():
        frame.to_csv(OUT / f"{name}.csv", index=False, float_format="%.0f")
    print(f"wrote {OUT}/adsl.csv and visits.csv")


if __name__ == "__main__":
    main()
