"""Regenerate data/synthetic/<KEY>/ for every design, with its default n and seed.

    python scripts/make_synthetic.py            # write the files
    python scripts/make_synthetic.py --summary  # and print each trial's key numbers

tests/simulation/test_synth.py checks that the committed files are what this script writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from mscstats.schema import DESIGN_KEYS  # noqa: E402
from mscstats.simulation.synth import write_trial  # noqa: E402

OUTPUT = ROOT / "data" / "synthetic"


def summary(directory: Path) -> pd.DataFrame:
    """Per arm: n, baseline and day-7 mean P/F, deaths and discharges by day 28."""
    adsl = pd.read_csv(directory / "adsl.csv")
    visits = pd.read_csv(directory / "visits.csv", keep_default_na=False, na_values=[""])
    day = visits.pivot_table(index=["USUBJID", "ADY"], columns="PARAMCD", values="AVAL",
                             aggfunc="first")
    device = visits[visits["PARAMCD"] == "OXYDEV"].set_index(["USUBJID", "ADY"])["AVALC"]
    fio2 = day["FIO2"].where(day["FIO2"].notna() | (device.reindex(day.index) != "RA"), 0.21)
    pf = (day["PAO2"] / fio2).rename("PF").reset_index().merge(adsl[["USUBJID", "ARM"]])
    rows = {}
    for arm, group in adsl.groupby("ARM", sort=False):
        at = pf[pf["ARM"] == arm]
        rows[arm] = {
            "n": len(group),
            "PF day 1": at.loc[at["ADY"] == 1, "PF"].mean(),
            "PF day 7": at.loc[at["ADY"] == 7, "PF"].mean(),
            "PF day 7 n": int(at.loc[at["ADY"] == 7, "PF"].notna().sum()),
            "deaths": int(group["DTHDY"].le(28).sum()),
            "discharged": int(group["DSCHDY"].le(28).sum()),
            "lost": int((group["LSTALVDY"] < 28).sum() - group["DTHDY"].notna().sum()),
        }
    return pd.DataFrame(rows).T


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    for key in DESIGN_KEYS:
        written = write_trial(key, args.output / key)
        print(f"{key}: " + ", ".join(p.name for p in written))
        if args.summary:
            print(summary(args.output / key).round(1).to_string(), end="\n\n")


if __name__ == "__main__":
    main()
