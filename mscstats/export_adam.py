"""The derived data as ADaM datasets for a submission (DESIGN.md section 10).

- ADTTE: one row per subject and time-to-event endpoint (PARAMCD = endpoint id,
  AVAL in days, CNSR 0 for the event, EVNTDESC / CNSDTDSC saying what ended the
  time);
- ADEFF: a BDS of the other endpoints, one row per subject, endpoint (and visit of
  a repeated endpoint): AVAL, BASE, CHG, AVISITN, ADY, the intercurrent event and
  strategy applied (ICE) and why a value is missing (MISSCAT, MISSRSN);
- ARD: the analysis-results data set, one row per statistic of results.json with
  its value and the text the report prints for it (tables.fmt_statistic).

ADTTE and ADEFF are written as SAS transport v5 (pyreadstat) and CSV, with
variable and dataset labels. XPT v5 holds ASCII text of at most 200 bytes: other
text is folded to ASCII and shortened there (the CSV keeps it in full, and the
export says how many values it changed). pyreadstat stamps the XPT headers with
the clock; they are set to a fixed date so the same data give the same bytes.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .plan import Endpoint, Sap
from .results import TrialResults
from .trial.quality import Trial

__all__ = ["AdamExport", "adtte", "adeff", "ard", "export_adam", "xpt_bytes", "XPT_DATE",
           "ADTTE_LABELS", "ADEFF_LABELS"]

XPT_DATE = b"01JAN00:00:00:00"       # every header date of the XPT files
XPT_TEXT = 200                       # bytes of a character value in SAS transport v5

_SUBJECT = {"STUDYID": "Study Identifier", "USUBJID": "Unique Subject Identifier",
            "ARM": "Description of Planned Arm", "TRT01P": "Planned Treatment for Period 01",
            "ITTFL": "Intent-To-Treat Population Flag", "MITTFL": "Modified ITT Population Flag",
            "SAFFL": "Safety Population Flag"}
_PARAM = {"PARAMCD": "Parameter Code (endpoint id)", "PARAM": "Parameter"}
ADTTE_LABELS = {**dict(list(_SUBJECT.items())[:2]), **_PARAM,
                "AVAL": "Analysis Value (days)", "CNSR": "Censor (0 event, 1 censored)",
                "EVNTCD": "1 Event, 2 Competing Event, 0 Censored",
                "EVNTDESC": "Event or Censoring Description",
                "CNSDTDSC": "Censor Date Description",
                **dict(list(_SUBJECT.items())[2:])}
ADEFF_LABELS = {**dict(list(_SUBJECT.items())[:2]), **_PARAM,
                "AVISITN": "Analysis Visit (N): study day",
                "ADY": "Analysis Relative Day", "AVAL": "Analysis Value",
                "BASE": "Baseline Value", "CHG": "Change from Baseline",
                "ICE": "Intercurrent Event: Strategy Applied",
                "MISSCAT": "Why AVAL Is Missing: Category",
                "MISSRSN": "Why AVAL Is Missing: Reason",
                **dict(list(_SUBJECT.items())[2:])}
DATASET_LABELS = {"ADTTE": "Time-to-Event Analysis Dataset",
                  "ADEFF": "Efficacy and Safety Endpoints (BDS)"}


@dataclass(frozen=True)
class AdamExport:
    """The export's tables, their files (name -> bytes, in a fixed order) and the
    number of text values the XPT files had to fold to ASCII or shorten."""
    adtte: pd.DataFrame
    adeff: pd.DataFrame
    ard: pd.DataFrame
    files: dict
    changed_in_xpt: int
    results: TrialResults


def _csv(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n", float_format="%.17g").encode("utf-8")


# --------------------------------------------------------------------------
# ADTTE and ADEFF
# --------------------------------------------------------------------------

def _subjects(trial: Trial, sap: Sap) -> pd.DataFrame:
    """Per subject: STUDYID, ARM, TRT01P and the population flags (Y / N)."""
    adsl = trial.adsl
    mitt = set(trial.population("mITT")["USUBJID"])
    return pd.DataFrame({"USUBJID": adsl["USUBJID"], "STUDYID": sap.study.id,
                         "ARM": adsl["ARM"], "TRT01P": adsl["ARM"],
                         "ITTFL": np.where(adsl["ITTFL"] == "Y", "Y", "N"),
                         "MITTFL": np.where(adsl["USUBJID"].isin(mitt), "Y", "N"),
                         "SAFFL": np.where(adsl["SAFFL"] == "Y", "Y", "N")})


def _with_subjects(rows: pd.DataFrame, trial: Trial, sap: Sap, labels: dict) -> pd.DataFrame:
    merged = rows.merge(_subjects(trial, sap), on="USUBJID", how="left", validate="m:1")
    return merged[list(labels)].reset_index(drop=True)


def _event_texts(endpoint: Endpoint, rows: pd.DataFrame, death: pd.Series) -> tuple:
    """(EVNTDESC, CNSDTDSC) per row, from the endpoint's rules and the subject's death."""
    died_then = death.reindex(rows["USUBJID"]).to_numpy() == rows["AVAL"].to_numpy()
    code = rows["EVNTCD"].to_numpy()
    label = endpoint.label or endpoint.id
    horizon = endpoint.horizon
    event = np.where((endpoint.death == "event") & died_then, "Death (counted as the event)",
                     f"Event: {label}")
    censored = np.where(died_then & (endpoint.death != "censor_at_horizon"), "Death (censored)",
                        np.where(rows["AVAL"].to_numpy() == horizon,
                                 f"End of follow-up window (day {horizon})",
                                 "Last day known alive or assessed, before the window ended"))
    died_before = death.reindex(rows["USUBJID"]).to_numpy() < rows["AVAL"].to_numpy()
    censored = np.where((endpoint.death == "censor_at_horizon") & died_before,
                        f"Death before the event: censored at day {horizon}", censored)
    desc = np.where(code == 1, event, np.where(code == 2, "Death (competing event)",
                                               "Censored"))
    return desc, np.where(code == 0, censored, "")


def adtte(trial: Trial, sap: Sap, endpoints) -> pd.DataFrame:
    """One row per subject and time-to-event endpoint."""
    death = trial.adsl.set_index("USUBJID")["DTHDY"].astype(float)
    frames = []
    for endpoint in (e for e in sap.endpoints if e.kind == "time_to_event"):
        rows = endpoints.of(endpoint.id).reset_index(drop=True)
        desc, censor = _event_texts(endpoint, rows, death)
        frames.append(pd.DataFrame({
            "USUBJID": rows["USUBJID"], "PARAMCD": endpoint.id,
            "PARAM": endpoint.label or endpoint.id, "AVAL": rows["AVAL"].astype(float),
            "CNSR": rows["CNSR"].astype(float), "EVNTCD": rows["EVNTCD"].astype(float),
            "EVNTDESC": desc, "CNSDTDSC": censor}))
    return _with_subjects(_concat(frames, ADTTE_LABELS), trial, sap, ADTTE_LABELS)


def adeff(trial: Trial, sap: Sap, endpoints) -> pd.DataFrame:
    """One row per subject and endpoint (and visit) of every other endpoint."""
    frames = []
    for endpoint in (e for e in sap.endpoints if e.kind != "time_to_event"):
        rows = endpoints.of(endpoint.id).reset_index(drop=True)
        visit = rows["DAY"] if endpoint.repeated else pd.Series(
            float(endpoint.day) if endpoint.day is not None else np.nan, index=rows.index)
        frames.append(pd.DataFrame({
            "USUBJID": rows["USUBJID"], "PARAMCD": endpoint.id,
            "PARAM": endpoint.label or endpoint.id, "AVISITN": visit.astype(float),
            "ADY": rows["DAY"].astype(float), "AVAL": rows["AVAL"].astype(float),
            "BASE": rows["BASE"].astype(float), "CHG": rows["CHG"].astype(float),
            "ICE": rows["ICE"].fillna("").astype(str),
            "MISSCAT": rows["MISSING"].fillna("").astype(str),
            "MISSRSN": rows["REASON"].fillna("").astype(str)}))
    return _with_subjects(_concat(frames, ADEFF_LABELS), trial, sap, ADEFF_LABELS)


def _concat(frames: list[pd.DataFrame], labels: dict) -> pd.DataFrame:
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("AVAL", "CNSR", "EVNTCD", "AVISITN",
                                                           "ADY", "BASE", "CHG") else object)
                         for c in labels if c not in _SUBJECT or c == "USUBJID"})


# --------------------------------------------------------------------------
# The analysis-results data set
# --------------------------------------------------------------------------

# group: arm | comparison | test | analysis (not estimable); index: the entry's position
# in results.json's comparisons or tests of the analysis (tests carry no arm)
ARD_COLUMNS = ["analysis", "endpoint", "method", "group", "index", "arm", "reference", "name",
               "statistic", "value", "formatted"]


def _scalar(value) -> bool:
    return value is None or isinstance(value, (int, float, np.integer, np.floating))


def _arm_rows(a) -> list[dict]:
    from .report.tables import fmt_statistic
    rows = []
    for arm, stats in a.by_arm.items():
        for key, value in stats.items():
            if _scalar(value):
                pairs = [(key, value)]
            elif isinstance(value, (list, tuple)) and len(value) == 2 and all(map(_scalar, value)):
                pairs = [(f"{key}_lower", value[0]), (f"{key}_upper", value[1])]
            else:
                continue                 # per-day lists, curves: not one statistic
            estimate = stats.get(key.removesuffix("_ci")) if len(pairs) == 2 else None
            rows += [dict(group="arm", index="", arm=arm, reference="", name="", statistic=s, value=v,
                          formatted=fmt_statistic(s, v, estimate)) for s, v in pairs]
    return rows


def _comparison_rows(a) -> list[dict]:
    from .report.tables import fmt_statistic
    rows = []
    for index, c in enumerate(a.comparisons):
        values = {"estimate": c.estimate, "ci_lower": c.ci[0], "ci_upper": c.ci[1],
                  "ci_level": c.ci_level, "p_value": c.p_value, "p_adjusted": c.p_adjusted,
                  "se": c.se, "df": c.df}
        for statistic, value in values.items():
            if value is None and statistic in ("p_adjusted", "se", "df"):
                continue                 # not reported by this method (as in results.json)
            rows.append(dict(group="comparison", index=index, arm=c.arm, reference=c.reference or "",
                             name=c.estimand, statistic=statistic, value=value,
                             formatted=fmt_statistic(statistic, value, c.estimate)))
    return rows


def _test_rows(a) -> list[dict]:
    from .report.tables import fmt_statistic
    return [dict(group="test", index=index, arm="", reference="", name=t.name,
                 statistic=statistic, value=value, formatted=fmt_statistic(statistic, value))
            for index, t in enumerate(a.tests)
            for statistic, value in (("statistic", t.statistic), ("df", t.df),
                                     ("p_value", t.p_value)) if value is not None]


def ard(results: TrialResults) -> pd.DataFrame:
    """One row per statistic: analysis, arm, statistic, value and its formatted text."""
    rows = []
    for a in results.analyses:
        head = dict(analysis=a.id, endpoint=a.endpoint, method=a.method)
        if not a.estimable:
            rows.append({**head, "group": "analysis", "index": "", "arm": "", "reference": "", "name": "",
                         "statistic": "not_estimable", "value": None,
                         "formatted": f"not estimable: {a.reason}"})
            continue
        rows += [{**head, **r} for r in _arm_rows(a) + _comparison_rows(a) + _test_rows(a)]
    frame = pd.DataFrame(rows, columns=ARD_COLUMNS)
    frame["value"] = pd.to_numeric(frame["value"].map(_number), errors="raise")
    return frame


def _number(value):
    if value is None:
        return np.nan
    return float(value)


# --------------------------------------------------------------------------
# SAS transport
# --------------------------------------------------------------------------

def _xpt_text(values: pd.Series) -> tuple[pd.Series, int]:
    """ASCII of at most XPT_TEXT bytes (what v5 holds), and how many values changed."""
    def fit(text: str) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "replace").decode()
        return ascii_text[:XPT_TEXT]
    fitted = values.map(fit)
    return fitted, int((fitted != values).sum())


def xpt_bytes(table: pd.DataFrame, name: str) -> tuple[bytes, int]:
    """SAS transport v5 bytes of the table with its labels, headers dated XPT_DATE;
    and the number of text values folded to ASCII or shortened."""
    import pyreadstat
    labels = ADTTE_LABELS if name == "ADTTE" else ADEFF_LABELS
    table, changed = table.copy(), 0
    for column in table.columns:
        if table[column].dtype == object:
            table[column], n = _xpt_text(table[column].astype(str))
            changed += n
    with tempfile.TemporaryDirectory(prefix="mscstats-xpt-") as tmp:
        path = Path(tmp) / f"{name.lower()}.xpt"
        pyreadstat.write_xport(table, str(path), file_label=DATASET_LABELS[name],
                               column_labels=[labels[c] for c in table.columns],
                               table_name=name, file_format_version=5)
        data = path.read_bytes()
    return _fixed_dates(data), changed


_DATE = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")


def _fixed_dates(data: bytes) -> bytes:
    """The created/modified dates of the library and member headers set to XPT_DATE
    (they sit in the header records, before the observations start)."""
    end = data.index(b"HEADER RECORD*******OBS     HEADER RECORD")
    return _DATE.sub(XPT_DATE, data[:end]) + data[end:]


def export_adam(trial: Trial, sap: Sap, progress=None) -> AdamExport:
    """Derive the endpoints, run the analyses and build the three tables."""
    from .derive.endpoints import derive
    from .pipeline import analyze
    endpoints = derive(trial, sap)
    results = analyze(trial, sap, progress=progress, endpoints=endpoints)  # derived once
    tte, eff, statistics = adtte(trial, sap, endpoints), adeff(trial, sap, endpoints), ard(results)
    files, changed = {}, 0
    for name, table in (("adtte", tte), ("adeff", eff)):
        files[f"{name}.xpt"], n = xpt_bytes(table, name.upper())
        files[f"{name}.csv"], changed = _csv(table), changed + n
    files["ard.csv"] = _csv(statistics)
    return AdamExport(tte, eff, statistics, files, changed, results)
