"""Endpoint tables of the synthetic trials for tests/reference/survival/survival.R.

Run from the repository root:  python tests/reference/survival/survival_data.py
Writes tests/reference/data/<trial>_<endpoint>.csv: the derived time-to-event
rows (AVAL, CNSR, EVNTCD) with the adsl covariates, as the runners see them.
"""

from pathlib import Path

from mscstats import pipeline
from mscstats.plan import template

OUT = Path("tests/reference/survival/data")
TABLES = {("refractory-hypoxia", "ttci"), ("refractory-hypoxia", "ttpf300"),
          ("three-arm-paxlovid", "ttci"), ("single-arm-bm-msc", "ttci"),
          ("prevent-progression", "ttprog")}


def main() -> None:
    for key, endpoint in sorted(TABLES):
        sap = template(key)
        trial = pipeline.load(Path("data/synthetic") / key, sap)
        rows = pipeline.derive(trial, sap)
        rows = rows[rows["ENDPOINT"] == endpoint]
        adsl = trial.adsl[[c for c in ("USUBJID", "AGE", "SEX", "BMI", "STRATUM")
                           if c in trial.adsl.columns]]
        table = rows[["USUBJID", "ARM", "AVAL", "CNSR", "EVNTCD"]].merge(adsl, on="USUBJID")
        table.sort_values("USUBJID").to_csv(OUT / f"{key}_{endpoint}.csv", index=False)


if __name__ == "__main__":
    main()
