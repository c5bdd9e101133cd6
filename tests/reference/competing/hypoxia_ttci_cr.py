"""Write tests/reference/competing/data/hypoxia_ttci_cr.csv for competing.R (run before it).

The synthetic refractory-hypoxia trial's ttci_cr endpoint (time to clinical
improvement, death competing) as ``mscstats derive`` writes it with the
template SAP, joined with AGE, SEX and STRATUM of adsl.

Run from the repository root:  python tests/reference/competing/hypoxia_ttci_cr.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

TRIAL = Path("data/synthetic/refractory-hypoxia")
OUT = Path("tests/reference/competing/data/hypoxia_ttci_cr.csv")

with tempfile.TemporaryDirectory() as tmp:
    sap, endpoints = Path(tmp) / "sap.toml", Path(tmp) / "endpoints.csv"
    sap.write_text(subprocess.run([sys.executable, "-m", "mscstats", "sap", "refractory-hypoxia"],
                                  check=True, capture_output=True, text=True).stdout)
    subprocess.run([sys.executable, "-m", "mscstats", "derive", str(TRIAL), "--sap", str(sap),
                    "-o", str(endpoints)], check=True, capture_output=True)
    rows = pd.read_csv(endpoints)
rows = rows.loc[rows.ENDPOINT == "ttci_cr", ["USUBJID", "ARM", "AVAL", "CNSR", "EVNTCD"]]
adsl = pd.read_csv(TRIAL / "adsl.csv")[["USUBJID", "AGE", "SEX", "STRATUM"]]
OUT.parent.mkdir(parents=True, exist_ok=True)
rows.merge(adsl, on="USUBJID").sort_values("USUBJID").to_csv(OUT, index=False)
print(f"wrote {OUT}")
