"""A sponsor-style ADaM export of a synthetic trial, for tests and benchmarks.

``write_export(today, out)`` turns a trial directory in mscstats's own layout
(``mscstats synth``) into what a sponsor hands over: adsl with TRT01P, SITEID
"01"/"02", RANDDT and DTHDT/DSCHDT/LSTALVDT as dates and no study-day columns
(SAS transport, dates in SAS date format); the visit records split by domain
into BDS tables timed by ADT and ATM, never ADY: adbg.parquet (blood gases,
Parquet dates, ATM as text), advs.xlsx (Excel date cells, ATM as Excel fractions
of a day), adlb.xpt (SAS dates, ATM as SAS seconds); adae timed by ASTDT/ASTTM
and ex by EXSTDTC (ISO datetimes). PAO2 and WHOCPS carry sponsor codes (PO2 and
WHO) that the SAP maps back with [data.params]. ``add_site`` gives today's
layout the same SITEID, so the two directories hold the same trial.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

SPONSOR_CODES = {"PAO2": "PO2", "WHOCPS": "WHO"}
DOMAINS = {"adbg": ("PAO2", "FIO2", "SPO2"), "advs": ("RR", "O2FLOW", "OXYDEV", "WHOCPS"),
           "adlb": ("IL6", "TNFA")}
PARAMS_TOML = "\n[data.params]\n" + "".join(f'{ours} = "{theirs}"\n'
                                             for ours, theirs in SPONSOR_CODES.items())


def export_sap(text: str) -> str:
    """The SAP for the export: the arm from TRT01P and the sponsor's codes mapped."""
    if "\n[data]\n" in text:
        return text.replace("\n[data]\n", '\n[data]\narm = "TRT01P"\n', 1) + PARAMS_TOML
    return text + '\n[data]\narm = "TRT01P"\n' + PARAMS_TOML
FIRST_RANDOMIZATION = dt.date(2024, 3, 1)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def site_of(ids: pd.Series) -> np.ndarray:
    """Sites "01" and "02" (text with a leading zero), alternating by subject."""
    return np.where(np.arange(len(ids)) % 2 == 0, "01", "02")


def add_site(today: Path) -> None:
    adsl = _read(today / "adsl.csv")
    adsl.insert(2, "SITEID", site_of(adsl["USUBJID"]))
    adsl.to_csv(today / "adsl.csv", index=False, lineterminator="\n")


def _date_of(day: pd.Series, randomized: pd.Series) -> list:
    """The calendar date of a study day (no day 0): day 1 is the randomization date."""
    out = []
    for d, start in zip(day, randomized):
        if d == "" or pd.isna(d):
            out.append(None)
            continue
        d = int(float(d))
        out.append(start + dt.timedelta(days=d - 1 if d > 0 else d))
    return out


def _number(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values.where(values != "", None)).to_numpy(dtype=float)


def _seconds(clock: str) -> float:
    if not clock:
        return np.nan
    hour, minute = clock.split(":")
    return float(int(hour) * 3600 + int(minute) * 60)


def write_export(today: Path, out: Path) -> dict[str, dt.date]:
    """Write the ADaM-style export of the trial in ``today`` into ``out``; returns RANDDT."""
    import pyreadstat
    out.mkdir(parents=True, exist_ok=True)
    adsl = _read(today / "adsl.csv")
    randomized = {sid: FIRST_RANDOMIZATION + dt.timedelta(days=k % 40)
                  for k, sid in enumerate(adsl["USUBJID"])}
    start = adsl["USUBJID"].map(randomized)
    export = pd.DataFrame({
        "STUDYID": "MSC-1", "USUBJID": adsl["USUBJID"], "TRT01P": adsl["ARM"],
        "SITEID": adsl["SITEID"] if "SITEID" in adsl else site_of(adsl["USUBJID"]),
        "AGE": _number(adsl["AGE"]), "SEX": adsl["SEX"], "BMI": _number(adsl["BMI"]),
        "STRATUM": adsl["STRATUM"], "ITTFL": adsl["ITTFL"], "SAFFL": adsl["SAFFL"],
        "RANDDT": list(start), "DTHFL": np.where(adsl["DTHDY"] != "", "Y", ""),
        "DTHDT": _date_of(adsl["DTHDY"], start), "DSCHDT": _date_of(adsl["DSCHDY"], start),
        "LSTALVDT": _date_of(adsl["LSTALVDY"], start)})
    pyreadstat.write_xport(export, str(out / "adsl.xpt"), table_name="ADSL",
                           file_format_version=5)
    _write_bds(_read(today / "visits.csv"), randomized, out)
    _write_events(today, randomized, out)
    (out / "README.txt").write_text("ADaM export of a synthetic trial\n", "utf-8")
    return randomized


def _write_bds(visits: pd.DataFrame, randomized: dict, out: Path) -> None:
    import pyreadstat
    start = visits["USUBJID"].map(randomized)
    visits = visits.assign(ADT=_date_of(visits["ADY"], start),
                           PARAMCD=visits["PARAMCD"].replace(SPONSOR_CODES),
                           AVISIT="Day " + visits["ADY"])
    for domain, params in DOMAINS.items():
        codes = [SPONSOR_CODES.get(p, p) for p in params]
        part = visits[visits["PARAMCD"].isin(codes)].reset_index(drop=True)
        base = {"STUDYID": "MSC-1", "USUBJID": part["USUBJID"], "PARAMCD": part["PARAMCD"],
                "AVISIT": part["AVISIT"]}
        if domain == "adbg":      # Parquet: dates as dates, ATM as text, numbers as numbers
            frame = pd.DataFrame({**base, "ADT": part["ADT"], "ATM": part["ATM"],
                                  "AVAL": _number(part["AVAL"]), "AVALC": part["AVALC"],
                                  "AVALU": part["AVALU"], "LLOQ": _number(part["LLOQ"])})
            frame.to_parquet(out / "adbg.parquet", index=False)
        elif domain == "adlb":    # SAS transport: SAS dates, ATM as SAS seconds
            frame = pd.DataFrame({**base, "ADT": part["ADT"],
                                  "ATM": [_seconds(c) for c in part["ATM"]],
                                  "AVAL": _number(part["AVAL"]), "AVALC": part["AVALC"],
                                  "AVALU": part["AVALU"], "LLOQ": _number(part["LLOQ"])})
            pyreadstat.write_xport(frame, str(out / "adlb.xpt"), table_name="ADLB",
                                   file_format_version=5)
        else:                     # xlsx: date cells, ATM as Excel fractions of a day
            _write_xlsx(out / "advs.xlsx", pd.DataFrame({
                **base, "ADT": part["ADT"], "ATM": [_seconds(c) / 86400 for c in part["ATM"]],
                "AVAL": _number(part["AVAL"]), "AVALC": part["AVALC"]}))


def _write_xlsx(path: Path, frame: pd.DataFrame) -> None:
    import openpyxl
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = path.stem
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([_cell(v) for v in row])
    book.save(path)


def _cell(value):
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return None
    if isinstance(value, str) and value == "":
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_events(today: Path, randomized: dict, out: Path) -> None:
    adae = _read(today / "adae.csv")
    start = adae["USUBJID"].map(randomized)
    adae = adae.assign(ASTDT=[d.isoformat() for d in _date_of(adae["AESTDY"], start)],
                       ASTTM=adae["AESTTM"]).drop(columns=["AESTDY", "AESTTM"])
    adae.to_csv(out / "adae.csv", index=False, lineterminator="\n")
    ex = _read(today / "ex.csv")
    start = ex["USUBJID"].map(randomized)
    dates = [d.isoformat() for d in _date_of(ex["EXSTDY"], start)]
    ex = ex.assign(EXSTDTC=[f"{d}T{t}" if t else d for d, t in zip(dates, ex["EXSTTM"])]
                   ).drop(columns=["EXSTDY", "EXSTTM"])
    ex.to_csv(out / "ex.csv", index=False, lineterminator="\n")
