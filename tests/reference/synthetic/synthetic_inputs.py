"""Analysis inputs of the five synthetic trials for tests/reference/synthetic/synthetic.R.

Run from the repository root:  python tests/reference/synthetic/synthetic_inputs.py
Writes tests/reference/synthetic/data/<design>__<analysis>.csv: the ``data`` of
the AnalysisInput that the pipeline builds (mscstats.pipeline.analysis_input on
the derived endpoints of data/synthetic/<design> with its template SAP) for every
comparison/model analysis of the template SAPs (welch, ancova, wilcoxon, paired,
binary, mmrm, ordinal_po), and index.csv: one row per analysis with the facts R
needs (method, arms, response column, transform, target day, options).

tests/analysis/test_synthetic_reference.py imports ``inputs()`` to rebuild the same inputs
live and checks that they still equal these files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

from mscstats import pipeline
from mscstats.derive.endpoints import derive
from mscstats.plan import template

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "tests" / "reference" / "synthetic" / "data"
DESIGNS = ("prevent-progression", "three-arm-paxlovid", "single-arm-bm-msc",
           "refractory-hypoxia", "nebulized-exosomes")
METHODS = ("welch", "ancova", "wilcoxon", "paired", "binary", "mmrm", "ordinal_po")
COLUMNS = ("USUBJID", "ARM", "DAY", "AVAL", "BASE", "CHG", "CNSR", "EVNTCD")


@cache
def design_inputs(key: str) -> tuple:
    """Every comparison/model AnalysisInput of one design, as the pipeline builds it."""
    sap = template(key)
    trial = pipeline.load(ROOT / "data" / "synthetic" / key, sap)
    endpoints = derive(trial, sap)
    # worst-rank composites are checked by tests/reference/estimands/estimands.R, which derives
    # the scores itself from the raw visits (not from ours); multiple-imputation analyses
    # (missing = "mi") have theirs in tests/reference/mi/mi.R
    built = (pipeline.analysis_input(trial, sap, endpoints, a)
             for a in sap.analyses if a.method in METHODS and a.options.get("missing") != "mi")
    return tuple(inp for inp in built if not inp.composite)


def inputs() -> list[tuple[str, object]]:
    """(design, AnalysisInput) for every analysis of every design, in a fixed order."""
    return [(key, inp) for key in DESIGNS for inp in design_inputs(key)]


def csv_frame(inp) -> pd.DataFrame:
    """The input's data with the endpoint columns first, then the covariates."""
    data = inp.data.drop(columns="ICE", errors="ignore")   # provenance, not an input R reads
    first = [c for c in COLUMNS if c in data.columns]
    return data[first + [c for c in data.columns if c not in first]]


def index_row(key: str, inp) -> dict:
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in inp.options.items()}
    return {"design": key, "analysis": inp.id, "file": f"{key}__{inp.id}.csv",
            "endpoint": inp.endpoint, "kind": inp.endpoint_kind, "method": inp.method,
            "arms": "|".join(inp.arms), "response": inp.response(),
            "transform": inp.transform or "", "target_day": inp.target_day,
            "alpha": inp.alpha, "options": json.dumps(options, sort_keys=True)}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for key, inp in inputs():
        csv_frame(inp).to_csv(OUT / f"{key}__{inp.id}.csv", index=False, float_format="%.17g")
        rows.append(index_row(key, inp))
    pd.DataFrame(rows).to_csv(OUT / "index.csv", index=False)
    print(f"wrote {len(rows)} analysis inputs to {OUT}")


if __name__ == "__main__":
    main()
