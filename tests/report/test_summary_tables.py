"""The baseline, flow and adverse-event tables show results.json's numbers as
tables.py formats them: each cell is checked against the JSON of the committed
golden results of every design (the summaries read back with from_dict)."""

from __future__ import annotations

import json

import pytest
from golden import golden_path

from mscstats.report import tables
from mscstats.schema import DESIGN_KEYS
from mscstats.summaries.records import (BaselineSummary, CourseSummary, FlowSummary,
                                        SafetySummary)


@pytest.fixture(scope="module", params=DESIGN_KEYS)
def document(request):
    return json.loads(golden_path(request.param).read_text("utf-8"))


def _largest(total: dict):
    values = [abs(v) for v in (total["min"], total["max"]) if v is not None]
    return max(values) if values else None


def test_baseline_cells_are_the_json_numbers(document):
    data = document["baseline"]
    table = tables.baseline_table(BaselineSummary.from_dict(data))
    total = len(data["arms"]) > 1                  # no Total column for a single arm
    columns = [*data["arms"], *(["Total"] if total else [])]
    n = [data["n"][a] for a in data["arms"]] + ([data["n_total"]] if total else [])
    rows = iter(table.rows)
    for v in data["variables"]:
        assert next(rows)[0] == v["label"]
        stats = [v["by_arm"][a] for a in data["arms"]] + ([v["total"]] if total else [])
        if v["kind"] == "continuous":
            d = tables.summary_decimals(_largest(v["total"]))
            f = lambda x: tables.fmt_stat(x, d)    # noqa: E731
            expected = {
                "n": [str(s["n"]) for s in stats],
                "Missing": [str(s["missing"]) for s in stats],
                "Mean (SD)": [f"{f(s['mean'])} ({f(s['sd'])})" if s["n"] else "-"
                              for s in stats],
                "Median (Q1, Q3)": [f"{f(s['median'])} ({f(s['q1'])}, {f(s['q3'])})"
                                    if s["n"] else "-" for s in stats],
                "Min - Max": [f"{f(s['min'])} - {f(s['max'])}" if s["n"] else "-"
                              for s in stats]}
        else:
            expected = {level: [tables.fmt_count(s["counts"][level], total)
                                for s, total in zip(stats, n)] for level in v["levels"]}
            expected["Missing"] = [tables.fmt_count(s["missing"], total)
                                   for s, total in zip(stats, n)]
        for label, cells in expected.items():
            row = next(rows)
            assert row[0].strip() == label and list(row[1:]) == cells, (v["name"], label)
            assert len(row) == len(columns) + 1
    assert next(rows, None) is None


def _ae_cells(row: dict, data: dict) -> list[str]:
    total = [tables.fmt_ae_cell(row["total_subjects"], row["total_events"], data["n_total"])]
    return [*(tables.fmt_ae_cell(row["subjects"][a], row["events"][a], data["n"][a])
              for a in data["arms"]), *(total if len(data["arms"]) > 1 else [])]


def test_adverse_event_cells_are_the_json_numbers(document):
    data = document["safety"]
    safety = SafetySummary.from_dict(data)
    table = tables.ae_category_table(safety)
    width = len(_ae_cells(data["categories"][0], data)) + 1
    for row, entry in zip(table.rows, data["categories"], strict=True):
        assert row[0] == entry["soc"]
        assert list(row[1:width]) == _ae_cells(entry, data)
        for arm, cell in zip(data["arms"][1:], row[width:], strict=True):
            rd = entry["risk_differences"][arm]
            lo, hi = (tables.fmt_number(100 * rd[k], 1) for k in ("lower", "upper"))
            assert cell == f"{tables.fmt_number(100 * rd['estimate'], 1)} ({lo}, {hi})"
    for key in ("by_term", "serious", "fatal", "infusion"):
        rows = data[key]
        table = tables.ae_term_table(safety, getattr(safety, key), "t", safety.categories[0])
        assert list(table.rows[0][1:]) == _ae_cells(data["categories"][0], data)
        for row, entry in zip(table.rows[1:], rows, strict=True):
            assert row[0].strip() == (entry["term"] or entry["soc"])
            assert list(row[1:]) == _ae_cells(entry, data)
    grades = tables.ae_grade_table(safety)
    for row, entry in zip(grades.rows, data["by_grade"], strict=True):
        total = [tables.fmt_count(entry["total"], data["n_total"])]
        assert list(row[1:]) == [*(tables.fmt_count(entry["subjects"][a], data["n"][a])
                                   for a in data["arms"]),
                                 *(total if len(data["arms"]) > 1 else [])]


def test_adverse_events_sorted_by_descending_frequency(document):
    rows = document["safety"]["by_term"]
    socs = [r for r in rows if not r["term"]]
    assert [(-r["total_subjects"], r["soc"]) for r in socs] == \
        sorted((-r["total_subjects"], r["soc"]) for r in socs)
    for soc in socs:
        terms = [(-r["total_subjects"], r["term"]) for r in rows
                 if r["soc"] == soc["soc"] and r["term"]]
        assert terms == sorted(terms)


def test_flow_cells_are_the_json_numbers(document):
    data = document["flow"]
    table = tables.flow_table(FlowSummary.from_dict(data))
    for row, stage in zip(table.rows, data["stages"], strict=True):
        expected = [tables.NOT_APPLICABLE if stage["by_arm"][a] is None else
                    str(stage["by_arm"][a]) for a in data["arms"]]
        total = [tables.NOT_APPLICABLE if stage["total"] is None else str(stage["total"])]
        assert row == (stage["label"], *expected, *(total if len(data["arms"]) > 1 else []))


def test_summaries_read_back_equal(document):
    """from_dict(json) then to_dict gives the JSON again, for every summary."""
    from mscstats.results import to_jsonable
    for key, kind in (("baseline", BaselineSummary), ("flow", FlowSummary),
                      ("safety", SafetySummary), ("course", CourseSummary)):
        assert to_jsonable(kind.from_dict(document[key])) == document[key], key
