"""Small trial tables for tests, written where a test wants them.

``trial_tables()`` is a clean four-subject, two-arm trial whose numbers can be
checked by hand; tests change a cell or two and write it with ``write_trial``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ARMS = ("control", "UC-MSC")
VISIT_COLUMNS = ["USUBJID", "ADY", "ATM", "PARAMCD", "AVAL", "AVALC", "AVALU", "LLOQ"]


def adsl_table() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": ["S1", "S2", "S3", "S4"],
        "ARM": ["control", "UC-MSC", "control", "UC-MSC"],
        "AGE": ["61", "54", "70", "48"],
        "SEX": ["M", "F", "F", "M"],
        "DTHDY": ["", "", "5", ""],
        "DSCHDY": ["10", "", "", "8"],
        "LSTALVDY": ["28", "28", "4", "28"],
    })


def visits_table() -> pd.DataFrame:
    """Days 1-3 for S1, S2, S4 and days 1-2 for S3 (who dies on day 5)."""
    value = {"PAO2": lambda d, k: f"{70 + 3 * d + k:g}",
             "FIO2": lambda d, k: f"{0.6 - 0.1 * d + 0.05 * (k % 2):.2f}",
             "SPO2": lambda d, k: f"{90 + d + k:g}",
             "WHOCPS": lambda d, k: f"{7 - d % 2 - k % 2:g}",
             "IL6": lambda d, k: f"{40.5 - 5 * d + k:g}",
             "TNFA": lambda d, k: f"{12 - d + 0.5 * k:g}"}
    rows = []
    for k, subject in enumerate(["S1", "S2", "S3", "S4"]):
        for day in (1, 2, 3) if subject != "S3" else (1, 2):
            atm = f"0{6 + day}:{10 * k:02d}"
            for param, make in value.items():
                rows.append([subject, str(day), atm, param, make(day, k), "", "",
                             "2" if param == "IL6" else ""])
            rows.append([subject, str(day), atm, "OXYDEV", "", ["HFNC", "NC", "NIV"][day - 1],
                         "", ""])
    return pd.DataFrame(rows, columns=VISIT_COLUMNS)


def adae_table() -> pd.DataFrame:
    return pd.DataFrame({
        "USUBJID": ["S1", "S3", "S4"],
        "AESTDY": ["2", "5", "1"],
        "AEDECOD": ["Headache", "Respiratory failure", "Rash"],
        "AEBODSYS": ["Nervous system disorders", "Respiratory, thoracic and mediastinal disorders",
                     "Skin and subcutaneous tissue disorders"],
        "AETOXGR": ["1", "5", ""],
        "AESEV": ["", "", "MODERATE"],
        "AESER": ["N", "Y", "N"],
        "AEREL": ["N", "N", "Y"],
    })


def ex_table() -> pd.DataFrame:
    """S2 and S4 (UC-MSC) dosed on days 1 and 4; S1 gets placebo; S3 was never dosed."""
    return pd.DataFrame({
        "USUBJID": ["S1", "S2", "S2", "S4", "S4"],
        "EXDOSNO": ["1", "1", "2", "1", "2"],
        "EXSTDY": ["1", "1", "4", "1", "4"],
        "EXDOSE": ["0", "1", "1", "1", "1"],
        "EXROUTE": ["IV", "IV", "IV", "IV", "IV"],
    })


def trial_tables() -> dict[str, pd.DataFrame]:
    return {"adsl": adsl_table(), "visits": visits_table(), "adae": adae_table(),
            "ex": ex_table()}


def write_table(directory: Path, name: str, frame: pd.DataFrame, fmt: str = "csv",
                sep: str = ",", encoding: str = "utf-8", lineterminator: str = "\n") -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False, sep=sep, encoding=encoding,
                     lineterminator=lineterminator)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "xpt":
        import pyreadstat
        pyreadstat.write_xport(frame, str(path), table_name=name.upper()[:8])
    else:
        raise ValueError(fmt)
    return path


def write_trial(directory: Path, tables: dict[str, pd.DataFrame] | None = None,
                **kwargs) -> Path:
    """Write the tables (default: the clean trial) as CSV (or ``fmt=``) into directory."""
    for name, frame in (trial_tables() if tables is None else tables).items():
        if frame is not None:
            write_table(directory, name, frame, **kwargs)
    return Path(directory)


def with_visit(visits: pd.DataFrame, **cells) -> pd.DataFrame:
    """The visits table plus one record (cells given by column name)."""
    row = {c: "" for c in visits.columns}
    row.update({k: str(v) for k, v in cells.items()})
    return pd.concat([visits, pd.DataFrame([row])], ignore_index=True)
