"""export-adam: ADTTE and ADEFF read back from SAS transport v5 with every value and
label equal to the derived endpoints; the ARD equal to results.json and formatted as
the report's tables format it; byte-identical files; the command line."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from conftest import TESTS
from mscstats.cli import main
from mscstats.derive.endpoints import derive
from mscstats.export_adam import (ADEFF_LABELS, ADTTE_LABELS, DATASET_LABELS, XPT_DATE,
                                  export_adam, xpt_bytes)
from mscstats.pipeline import load
from mscstats.plan import template
from mscstats.report import tables

SYNTHETIC = TESTS.parent / "data" / "synthetic"
KEYS = ("refractory-hypoxia", "three-arm-paxlovid")     # repeated, change, TTE, binary, ordinal


@pytest.fixture(scope="module", params=KEYS)
def exported(request):
    key = request.param
    sap = template(key)
    trial = load(SYNTHETIC / key, sap)
    return key, sap, trial, derive(trial, sap), export_adam(trial, sap)


def _read_xpt(data: bytes, tmp_path, name: str):
    import pyreadstat
    path = tmp_path / name
    path.write_bytes(data)
    return pyreadstat.read_xport(str(path))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def test_adtte_xpt_reads_back_every_value_and_label(exported, tmp_path):
    key, sap, trial, endpoints, export = exported
    frame, meta = _read_xpt(export.files["adtte.xpt"], tmp_path, "adtte.xpt")
    assert meta.table_name == "ADTTE" and meta.file_label == DATASET_LABELS["ADTTE"]
    assert meta.column_names_to_labels == ADTTE_LABELS
    tte = [e for e in sap.endpoints if e.kind == "time_to_event"]
    assert tte and len(frame) == sum(len(endpoints.of(e.id)) for e in tte)
    arm = trial.adsl.set_index("USUBJID")["ARM"]
    for endpoint in tte:
        derived = endpoints.of(endpoint.id).set_index("USUBJID")
        rows = frame[frame["PARAMCD"] == endpoint.id].set_index("USUBJID")
        assert sorted(rows.index) == sorted(derived.index)
        for column in ("AVAL", "CNSR", "EVNTCD"):
            assert (rows[column] == derived.loc[rows.index, column].astype(float)).all()
        assert (rows["PARAM"] == endpoint.label).all()
        assert (rows["ARM"] == arm.loc[rows.index]).all() and (rows["TRT01P"] == rows["ARM"]).all()
        assert (rows["STUDYID"] == sap.study.id).all()
        events = rows["EVNTCD"] == 1
        assert rows.loc[events, "CNSDTDSC"].eq("").all()
        assert rows.loc[rows["CNSR"] == 1, "EVNTDESC"].isin(
            ["Censored", "Death (competing event)"]).all()
        assert rows.loc[rows["EVNTCD"] == 0, "CNSDTDSC"].ne("").all()
    itt = set(trial.population("ITT")["USUBJID"])
    assert set(frame.loc[frame["ITTFL"] == "Y", "USUBJID"]) == itt
    mitt = set(trial.population("mITT")["USUBJID"])
    assert set(frame.loc[frame["MITTFL"] == "Y", "USUBJID"]) == mitt


def test_adeff_xpt_reads_back_every_value_and_label(exported, tmp_path):
    key, sap, trial, endpoints, export = exported
    frame, meta = _read_xpt(export.files["adeff.xpt"], tmp_path, "adeff.xpt")
    assert meta.table_name == "ADEFF" and meta.column_names_to_labels == ADEFF_LABELS
    other = [e for e in sap.endpoints if e.kind != "time_to_event"]
    derived = pd.concat([endpoints.of(e.id) for e in other], ignore_index=True)
    assert len(frame) == len(derived)                         # same rows, same order
    assert list(frame["PARAMCD"]) == list(derived["ENDPOINT"])
    assert list(frame["USUBJID"]) == list(derived["USUBJID"])
    pairs = {"AVAL": "AVAL", "BASE": "BASE", "CHG": "CHG", "ADY": "DAY"}
    for ours, theirs in pairs.items():
        assert all(_same(float(a), float(b)) for a, b in zip(frame[ours], derived[theirs])), ours
    for ours, theirs in {"ICE": "ICE", "MISSCAT": "MISSING", "MISSRSN": "REASON"}.items():
        assert list(frame[ours]) == list(derived[theirs].fillna("")), ours
    by_id = {e.id: e for e in other}
    for endpoint_id, visit, day in zip(frame["PARAMCD"], frame["AVISITN"], derived["DAY"]):
        e = by_id[endpoint_id]
        expected = day if e.repeated else (e.day if e.day is not None else np.nan)
        assert _same(float(visit), float(expected))
    repeated = [e.id for e in other if e.repeated]
    assert key != "refractory-hypoxia" or repeated            # a BDS with visits is tested


def test_csv_and_xpt_hold_the_same_table(exported, tmp_path):
    *_, export = exported
    for name, table in (("adtte", export.adtte), ("adeff", export.adeff)):
        frame, _ = _read_xpt(export.files[f"{name}.xpt"], tmp_path, f"{name}.xpt")
        csv = pd.read_csv(tmp_path.joinpath(f"{name}.csv").write_bytes(export.files[f"{name}.csv"])
                          and tmp_path / f"{name}.csv", dtype={c: str for c in table.columns
                                                               if table[c].dtype == object},
                          keep_default_na=False, na_values={c: [""] for c in table.columns
                                                            if table[c].dtype != object})
        pd.testing.assert_frame_equal(frame, table, check_dtype=False)
        pd.testing.assert_frame_equal(csv, table, check_dtype=False)


def test_variable_names_and_labels_fit_sas_transport_v5():
    for labels in (ADTTE_LABELS, ADEFF_LABELS):
        assert all(len(name) <= 8 and name.isupper() for name in labels)
        assert all(0 < len(label) <= 40 for label in labels.values())
    assert all(len(label) <= 40 for label in DATASET_LABELS.values())


def _result_value(results: dict, row) -> object:
    analysis = next(a for a in results["analyses"] if a["id"] == row.analysis)
    statistic = row.statistic
    if row.group == "comparison":
        c = analysis["comparisons"][int(row.index)]
        assert (c["arm"], c["estimand"], c["reference"] or "") == (row.arm, row.name,
                                                                  row.reference)
        return c["ci"][0 if statistic == "ci_lower" else 1] if statistic.startswith("ci_") \
            and statistic != "ci_level" else c[statistic]
    if row.group == "test":
        test = analysis["tests"][int(row.index)]
        assert test["name"] == row.name
        return test[statistic]
    stats = analysis["by_arm"][row.arm]
    if statistic in stats:
        return stats[statistic]
    base, _, side = statistic.rpartition("_")
    return stats[base][0 if side == "lower" else 1]


def _as_float(value) -> float:
    if value is None:
        return float("nan")
    if value in ("Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return float(value)


def test_ard_values_equal_results_json(exported):
    *_, export = exported
    results = json.loads(export.results.to_json())
    rows = export.ard[export.ard["statistic"] != "not_estimable"]
    assert len(rows) > 100
    for row in rows.itertuples():
        assert _same(float(row.value), _as_float(_result_value(results, row))), row
    n_comparisons = sum(len(a.get("comparisons", [])) for a in results["analyses"])
    assert (export.ard["statistic"] == "estimate").sum() == n_comparisons
    assert (export.ard["group"] == "test").sum() == sum(
        sum(v is not None for k, v in t.items() if k != "name")
        for a in results["analyses"] for t in a.get("tests", []))


def test_ard_formatted_values_are_the_tables_text(exported):
    *_, export = exported
    ard = export.ard
    for a, c in ((a, c) for a in export.results.analyses for c in a.comparisons):
        rows = ard[(ard["analysis"] == a.id) & (ard["arm"] == c.arm) & (ard["name"] == c.estimand)
                   & (ard["group"] == "comparison")].set_index("statistic")["formatted"]
        if c.estimate is not None and all(v is not None for v in c.ci):
            assert f"{rows['estimate']} ({rows['ci_lower']}, {rows['ci_upper']})" == \
                tables.estimate_with_ci(c)
        assert rows["p_value"] == tables.fmt_p(c.p_value)
    tests = ard[(ard["group"] == "test") & (ard["statistic"] == "p_value")]
    assert all(f == tables.fmt_p(v) for f, v in zip(tests["formatted"], tests["value"]))
    counts = ard[ard["statistic"] == "n"]
    assert all(f == str(int(v)) for f, v in zip(counts["formatted"], counts["value"]))


def test_adtte_is_analysis_ready_the_logrank_test_of_results_json():
    """The exported ADTTE gives results.json's log-rank statistic back (lifelines)."""
    from lifelines.statistics import logrank_test
    sap = template("refractory-hypoxia")
    trial = load(SYNTHETIC / "refractory-hypoxia", sap)
    export = export_adam(trial, sap)
    analysis = export.results["ttci_logrank"]
    rows = export.adtte[(export.adtte["PARAMCD"] == "ttci") & (export.adtte["ITTFL"] == "Y")]
    a, b = (rows[rows["ARM"] == arm] for arm in sap.study.arms)
    test = logrank_test(a["AVAL"], b["AVAL"], event_observed_A=1 - a["CNSR"],
                        event_observed_B=1 - b["CNSR"])
    assert test.test_statistic == pytest.approx(analysis.test("logrank").statistic, rel=1e-10)
    assert test.p_value == pytest.approx(analysis.test("logrank").p_value, rel=1e-10)


_DATE = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")


def test_files_are_byte_identical_and_xpt_headers_carry_the_fixed_date(exported, tmp_path):
    key, sap, trial, _, export = exported
    again = export_adam(trial, sap)
    assert list(again.files) == ["adtte.xpt", "adtte.csv", "adeff.xpt", "adeff.csv", "ard.csv"]
    assert again.files == export.files
    for name in ("adtte.xpt", "adeff.xpt"):
        header = export.files[name][:export.files[name].index(b"OBS     HEADER RECORD")]
        dates = _DATE.findall(header)
        assert len(dates) == 4 and set(dates) == {XPT_DATE}       # library and member headers


def test_pyreadstat_alone_would_write_the_clock(tmp_path):
    """Why the dates are rewritten: pyreadstat stamps the headers with the time of writing."""
    import pyreadstat
    frame = pd.DataFrame({"USUBJID": ["S1"], "AVAL": [1.0]})
    path = tmp_path / "raw.xpt"
    pyreadstat.write_xport(frame, str(path), table_name="ADTTE", file_format_version=5)
    assert set(_DATE.findall(path.read_bytes())) - {XPT_DATE}
    fixed, _ = xpt_bytes(pd.DataFrame({c: ["x"] if c not in ("AVAL", "CNSR", "EVNTCD")
                                       else [1.0] for c in ADTTE_LABELS}), "ADTTE")
    assert set(_DATE.findall(fixed)) == {XPT_DATE}


def test_text_beyond_what_xpt_holds_is_folded_and_counted():
    frame = pd.DataFrame({c: ["x"] if c not in ("AVAL", "CNSR", "EVNTCD") else [1.0]
                          for c in ADTTE_LABELS})
    frame.loc[0, "PARAM"] = "Zeit bis Besserung, Tag ≥ 28 " + "y" * 300
    data, changed = xpt_bytes(frame, "ADTTE")
    assert changed == 1
    assert b"Zeit bis Besserung, Tag ? 28 yyy" in data and b"y" * 201 not in data


def test_cli_writes_the_five_files_and_keeps_others(tmp_path):
    out = tmp_path / "adam"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    sap = TESTS.parent / "mscstats" / "sap_templates" / "single-arm-bm-msc.toml"
    result = CliRunner().invoke(main, ["export-adam", str(SYNTHETIC / "single-arm-bm-msc"),
                                       "--sap", str(sap), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 files" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["adeff.csv", "adeff.xpt", "adtte.csv",
                                                      "adtte.xpt", "ard.csv", "notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"


def test_cli_output_that_is_a_file_is_a_usage_error(tmp_path):
    target = tmp_path / "adam"
    target.write_text("")
    sap = TESTS.parent / "mscstats" / "sap_templates" / "single-arm-bm-msc.toml"
    result = CliRunner().invoke(main, ["export-adam", str(SYNTHETIC / "single-arm-bm-msc"),
                                       "--sap", str(sap), "-o", str(target)])
    assert result.exit_code == 2 and target.read_text() == ""
