import json
import math

import numpy as np

from mscstats.results import AnalysisResult, Comparison, Test, TrialResults, dumps_json


def _result():
    return AnalysisResult(
        id="primary", endpoint="pf_d7", method="welch",
        by_arm={"control": {"n": 3, "mean": np.float64(1.5)}, "UC-MSC": {"n": 3, "mean": 2.0}},
        tests=(Test("t", 1.2, 3.9, 0.3),),
        comparisons=(Comparison("UC-MSC", "control", "mean_difference", 0.5, (-1.0, 2.0), 0.95,
                                p_value=0.3, se=0.7),),
    )


def test_json_is_sorted_and_nan_free():
    r = TrialResults("0.1.0", {"seed": 1}, {"rows_read": 0}, (_result(),))
    text = r.to_json()
    doc = json.loads(text)
    assert doc["analyses"][0]["comparisons"][0]["se"] == 0.7
    assert "p_adjusted" not in doc["analyses"][0]["comparisons"][0]
    assert dumps_json({"b": float("nan"), "a": np.int64(3)}) == '{\n  "a": 3,\n  "b": null\n}\n'
    assert dumps_json({"shift": -0.0}) == '{\n  "shift": 0.0\n}\n'


def test_floats_keep_python_repr():
    x = 0.1 + 0.2
    assert json.loads(dumps_json({"x": x}))["x"] == x
    assert repr(x) in dumps_json({"x": x})


def test_result_views():
    r = _result()
    frame = r.to_frame()
    assert list(frame["estimate"]) == [0.5]
    assert frame.loc[0, "ci_lower"] == -1.0
    assert "mean_difference = 0.5" in str(r)
    assert "<table" in r._repr_html_()
    assert r.comparison("UC-MSC").p_value == 0.3
    assert math.isclose(r.test("t").df, 3.9)
