"""Exact number parsing, decimal-mark forms and study-day bounds.

tests/test_catalogue.py ("data file parsing") drives the same rules through the
command line; here the building blocks, and the property that matters: the
shortest text of every float (repr) reads back as exactly that float.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mscstats.trial.csv_text import (COMMA, COMMA3, GROUPED, POINT, POINT3, comma_to_point,
                                     decimal_forms, parse_numbers, without_thousands)
from mscstats.errors import DataError
from mscstats.plan import DataRules
from mscstats.trial.io import read_tables, tables_from_frames
from mscstats.trial.study_days import MAX_STUDY_DAY, beyond_follow_up, check_day_bounds
from mscstats.trial.validate import load_frames, validate
from mscstats.trial.validate_cells import _parse_numbers


def _bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


# ---------------------------------------------------------------------------
# exact parsing
# ---------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
subnormal = st.integers(1, 2**52 - 1).map(lambda m: struct.unpack("<d", struct.pack("<q", m))[0])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.one_of(finite, subnormal), min_size=1, max_size=50))
def test_the_shortest_text_of_a_float_reads_back_as_that_float(values):
    texts = np.array([repr(x) for x in values], dtype=object)
    parsed = parse_numbers(texts)
    assert [_bits(p) for p in parsed] == [_bits(x) for x in values]


@settings(max_examples=1000, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50))
def test_17_significant_digits_read_back_exactly(values):
    texts = np.array([f"{x:.17g}" for x in values], dtype=object)
    assert [_bits(p) for p in parse_numbers(texts)] == [_bits(x) for x in values]


@pytest.mark.parametrize("text, value", [
    ("0.30000000000000004", 0.30000000000000004),   # pandas.to_numeric: 0.3
    ("0.3", 0.3),
    ("2.2250738585072014e-308", 2.2250738585072014e-308),   # smallest normal
    ("5e-324", 5e-324),                                       # smallest subnormal
    ("1.7976931348623157e308", 1.7976931348623157e308),
    ("9007199254740993", 9007199254740992.0),                 # 2**53 + 1 rounds to even
    ("-0", -0.0), (".5", 0.5), ("5.", 5.0), ("+1E+03", 1000.0),
])
def test_known_hard_texts(text, value):
    [parsed] = parse_numbers(np.array([text], dtype=object))
    assert _bits(parsed) == _bits(value)


@pytest.mark.parametrize("text", ["1_000", "inf", "-Infinity", "nan", "0x10", "١٢", "１２",
                                  " 1", "1 ", "1,5", "", "-", "e5", "1.2.3", "1e", "--1"])
def test_text_that_float_would_take_is_not_a_number_here(text):
    assert math.isnan(parse_numbers(np.array([text], dtype=object))[0])


def test_too_large_is_infinite_and_then_not_a_finite_number():
    values, bad = _parse_numbers(np.array(["1e400", "NA", "", "7"], dtype=object), False)
    assert np.isnan(values[:3]).all() and values[3] == 7.0
    assert bad.tolist() == [True, False, False, False]


def test_a_loaded_trial_keeps_17_digit_values_exactly():
    adsl = pd.DataFrame({"USUBJID": ["A", "B"], "ARM": ["c", "t"], "LSTALVDY": ["28", "28"]})
    visits = pd.DataFrame({"USUBJID": ["A", "B"], "ADY": ["1", "1"], "PARAMCD": ["CRP", "CRP"],
                           "AVAL": ["0.30000000000000004", "0.3"]})
    trial = load_frames({"adsl": adsl, "visits": visits})
    crp = trial.visits.set_index("USUBJID")["AVAL"]
    # not tied: pandas.to_numeric reads both texts as 0.3 (one unit in the last place off)
    assert _bits(crp["A"]) == _bits(0.30000000000000004) and crp["B"] == 0.3
    assert crp["A"] > crp["B"]


# ---------------------------------------------------------------------------
# decimal marks
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, form", [
    ("7.5", POINT), ("12", POINT), ("1e-3", POINT), ("1.200", POINT3), ("-1.200", POINT3),
    ("7,5", COMMA), (",5", COMMA), ("1,5e3", COMMA), ("12,25", COMMA), ("1234,567", COMMA),
    ("1,200", COMMA3), ("-12,500", COMMA3), ("<1,200", COMMA3), ("<= 0,5", COMMA),
    ("1,234,567", GROUPED), ("1.234,5", GROUPED), ("1,234.5", GROUPED),
    ("abc", ""), ("Pain, chest", ""), ("", ""),
])
def test_decimal_forms(text, form):
    assert decimal_forms(np.array([text], dtype=object))[0] == form


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False))
def test_a_decimal_comma_reads_back_exactly(x):
    text = repr(x).replace(".", ",")
    assert decimal_forms(np.array([text], dtype=object))[0] in (COMMA, COMMA3, POINT)
    [back] = parse_numbers(np.array([comma_to_point(text)], dtype=object))
    assert _bits(back) == _bits(x)


@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=-1e15, max_value=1e15, allow_nan=False), st.sampled_from(".,"))
def test_thousands_separators_removed_read_back_exactly(x, decimal):
    plain = f"{x:.2f}"
    grouped = f"{x:,.2f}"                          # 1,234,567.89
    if decimal == ",":
        grouped = grouped.translate(str.maketrans(",.", ".,"))   # 1.234.567,89
    read = without_thousands(grouped, decimal) if abs(x) >= 1000 else plain
    assert read == plain


def test_comma_to_point_keeps_the_below_limit_prefix():
    assert comma_to_point("<1,5") == "<1.5" and comma_to_point("7,5") == "7.5"


def _semicolon_trial(tmp_path, il6: str):
    (tmp_path / "adsl.csv").write_text("USUBJID;ARM;LSTALVDY;WEIGHT\nA;c;28;72,5\nB;t;28;80\n")
    (tmp_path / "visits.csv").write_text(
        "USUBJID;ADY;PARAMCD;AVAL\nA;1;IL6;" + il6 + "\nB;1;IL6;7,5\nB;2;CRP;0,30000000000000004\n")
    return read_tables(tmp_path)


def test_decimal_commas_are_read_exactly_and_logged(tmp_path):
    trial = validate(_semicolon_trial(tmp_path, "12,25"))
    values = trial.visits.set_index(["USUBJID", "ADY"])["AVAL"]
    assert values[("A", 1)] == 12.25 and values[("B", 1)] == 7.5
    assert _bits(values[("B", 2)]) == _bits(0.30000000000000004)
    assert trial.adsl.set_index("USUBJID")["WEIGHT"].tolist() == [72.5, 80.0]
    rules = {(e["file"], e["column"]): e for e in trial.quality.converted}
    assert rules[("visits.csv", "AVAL")]["n"] == 3
    assert "decimal comma read as a point" in rules[("adsl.csv", "WEIGHT")]["rule"]


def test_an_ambiguous_thousands_comma_is_an_error_unless_declared(tmp_path):
    raw = _semicolon_trial(tmp_path, "1,200")
    with pytest.raises(DataError) as err:
        validate(raw)
    [problem] = err.value.problems
    assert (problem.file, problem.row, problem.column) == ("visits.csv", 1, "AVAL")
    assert "'1,200'" in problem.message and "[data] decimal" in problem.fix
    declared = validate(raw, rules=DataRules(decimal=","))
    assert declared.visits.set_index("USUBJID").loc["A", "AVAL"] == 1.2
    with pytest.raises(DataError) as err:        # "1,200" is 1200 then, but "7,5" is no number
        validate(raw, rules=DataRules(decimal="."))
    assert {(p.file, p.row, p.column) for p in err.value.problems} == {
        ("adsl.csv", 1, "WEIGHT"), ("visits.csv", 2, "AVAL")}
    assert all("the SAP declares the decimal point" in p.message for p in err.value.problems)
    assert "'1,200'" not in str(err.value)


@pytest.mark.parametrize("decimal, cells, values", [
    (".", ["1,200", "1,234,567", "1,234.5", "-2,000", "7.5"], [1200, 1234567, 1234.5, -2000, 7.5]),
    (",", ["1.200", "1.234.567", "1.234,5", "-2.000", "7,5"], [1200, 1234567, 1234.5, -2000, 7.5]),
])
def test_declared_marks_remove_thousands_separators_logged(tmp_path, decimal, cells, values):
    (tmp_path / "adsl.csv").write_text("USUBJID;ARM;LSTALVDY\nA;c;28\n")
    rows = "".join(f"A;{k + 1};CRP;{c}\n" for k, c in enumerate(cells))
    (tmp_path / "visits.csv").write_text("USUBJID;ADY;PARAMCD;AVAL\n" + rows)
    trial = validate(read_tables(tmp_path), rules=DataRules(decimal=decimal))
    assert trial.visits.sort_values("ADY")["AVAL"].tolist() == values
    rules = [e["rule"] for e in trial.quality.converted if e["column"] == "AVAL"]
    assert any(r.startswith("thousands separator removed") for r in rules), rules


# ---------------------------------------------------------------------------
# study days
# ---------------------------------------------------------------------------

def _days_trial(ady) -> object:
    adsl = pd.DataFrame({"USUBJID": ["A"], "ARM": ["c"], "LSTALVDY": [28]})
    visits = pd.DataFrame({"USUBJID": ["A"] * len(ady), "ADY": ady,
                           "PARAMCD": ["CRP"] * len(ady), "AVAL": [1.0] * len(ady)})
    return tables_from_frames("t", {"adsl": adsl, "visits": visits})


@pytest.mark.parametrize("ady", [[1, MAX_STUDY_DAY], [-MAX_STUDY_DAY, 1], ["3650", "-3650"]])
def test_days_within_ten_years_pass(ady):
    check_day_bounds(_days_trial(ady))


@pytest.mark.parametrize("ady, says", [
    ([1, MAX_STUDY_DAY + 1], "beyond any plausible study day"),
    ([-MAX_STUDY_DAY - 1, 1], "beyond any plausible study day"),
    ([np.iinfo(np.int64).max, 1], "beyond any plausible study day"),
    ([1e20, 1], "beyond any plausible study day"),
    (["1e300", "1"], "beyond any plausible study day"),
    ([45007, 45008], "looks like an Excel date serial (45007 is 2023-03-22)"),
])
def test_days_out_of_bounds_are_located_errors(ady, says):
    with pytest.raises(DataError) as err:
        check_day_bounds(_days_trial(ady))
    [problem] = err.value.problems
    assert (problem.file, problem.column) == ("visits", "ADY") and says in problem.message
    assert problem.row == (1 if abs(float(ady[0])) > MAX_STUDY_DAY else 2)
    assert problem.fix


def test_a_subject_whose_every_visit_is_far_beyond_last_alive():
    day = np.array([40.0, 70.0, 80.0, 5.0, 90.0, 60.0])
    last = np.array([28.0, 28.0, 28.0, 28.0, 28.0, 28.0])
    position = np.array([0, 0, 1, 1, 2, -1])
    used = np.array([True, True, True, True, True, True])
    # subject 0: day 40 is within 30 days of LSTALVDY 28; subject 1 has day 5;
    # subject 2: every visit beyond 58; the row of an unknown subject is not judged
    assert beyond_follow_up(day, last, position, used).tolist() == [False, False, False, False,
                                                                    True, False]
    assert not beyond_follow_up(day, last, position, np.zeros(6, dtype=bool)).any()


def test_every_day_validation_reads_is_bounded_too():
    """A day that never was a cell (counted from a date) is bounded where days are read."""
    from mscstats.trial.quality import QualityLog
    from mscstats.trial.validate_cells import _Check, _days, _Problems
    raw = tables_from_frames("t", {"adsl": pd.DataFrame({
        "USUBJID": ["A", "B"], "ARM": ["c", "t"], "LSTALVDY": [28, 28],
        "DTHDY": [36535.0, 10.0], "DTHDT": ["2124-01-10", "2024-01-10"]})})
    chk = _Check(QualityLog(), _Problems(), None, "worst", "half", False)
    days = _days(raw["adsl"], "DTHDY", chk, required=False)
    [problem] = chk.problems
    assert (problem.row, problem.column) == (1, "DTHDY")
    assert "beyond any plausible study day" in problem.message and "RANDDT" in problem.fix
    assert days.tolist() == [36535.0, 10.0]
    chk.problems.clear()     # without the dates, 36535 is named as the Excel serial it may be
    _days(tables_from_frames("t", {"adsl": raw["adsl"].frame.drop(columns=["DTHDT", "_ROW"])}
                             )["adsl"], "DTHDY", chk, required=False)
    assert "looks like an Excel date serial (36535 is 2000-01-10)" in chk.problems[0].message
