"""The toy trial in canonical form, built directly (no loader), for derive tests."""

import numpy as np
import pandas as pd

from mscstats.quality import QualityLog, Trial


def canonical_toy(directory) -> Trial:
    adsl = pd.read_csv(directory / "adsl.csv", dtype={"USUBJID": str})
    adsl = adsl.assign(ITTFL="Y", SAFFL=np.where(adsl["ARM"] == "MSC", "Y", "N"))
    visits = pd.read_csv(directory / "visits.csv", dtype=str, keep_default_na=False)
    visits["ADY"] = visits["ADY"].astype(int)
    for column in ("AVAL", "LLOQ"):
        visits[column] = pd.to_numeric(visits[column].replace("", np.nan))
    visits["FLAG"] = ""
    visits = visits[["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "LLOQ", "FLAG"]]
    adae = pd.read_csv(directory / "adae.csv", dtype={"AESTTM": str})
    ex = pd.read_csv(directory / "ex.csv", dtype={"EXSTTM": str})
    return Trial("toy", adsl, visits, adae, ex, QualityLog(), {})
