"""figures.py on the Agg canvas: the plotted data, labels and the risk table, not pixels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from report_helpers import survival_curve

from mscstats.report import figures, tables
from mscstats.results import AnalysisResult, Comparison, Curve


def _risk_texts(ax):
    return [t for axes in (ax, *ax.child_axes) for t in axes.texts
            if t.get_gid() == figures.RISK_TABLE_GID]


def test_kaplan_meier_curves_censor_marks_and_labels():
    ax = figures.plot_survival([survival_curve("control"), survival_curve("UC-MSC")])
    assert ax.get_xlabel() == "Study day"
    assert "Probability" in ax.get_ylabel()
    steps = [line for line in ax.lines if line.get_label() == "control"]
    x, y = steps[0].get_data()
    assert list(x) == [0, 2, 3, 5, 7, 9] and list(y) == [1, 0.8, 0.8, 0.4, 0.4, 0.4]
    marks = [line for line in ax.lines if line.get_label() == "_censored"]
    assert [list(m.get_xdata()) for m in marks] == [[3, 7, 9]] * 2


def test_risk_table_is_aligned_with_the_day_ticks():
    ax = figures.plot_survival([survival_curve("control"), survival_curve("UC-MSC")])
    ticks = list(ax.get_xticks())
    assert ticks == [0, 3, 6, 9]
    counts = [t for t in _risk_texts(ax) if t.get_text().isdigit()]
    rows: dict[float, list] = {}
    for t in counts:
        rows.setdefault(t.get_position()[1], []).append(t)
    assert len(rows) == 2  # one row per arm
    table = counts[0].axes
    assert table.get_shared_x_axes().joined(table, ax)  # x in the curves' day units
    for row in rows.values():
        assert [t.get_position()[0] for t in row] == ticks
        assert [t.get_text() for t in row] == ["5", "4", "2", "1"]
    labels = [t.get_text() for t in _risk_texts(ax) if not t.get_text().isdigit()]
    assert labels == ["Number at risk", "control", "UC-MSC"]


def test_cumulative_incidence_starts_at_zero():
    ax = figures.plot_cumulative_incidence([survival_curve("a", "cumulative_incidence")],
                                           risk_table=False)
    x, y = ax.lines[0].get_data()
    assert y[0] == 0 and y[-1] == pytest.approx(0.6)
    assert ax.get_ylabel() == "Cumulative incidence" and not _risk_texts(ax)


def _summary():
    return pd.DataFrame({"ARM": ["control", "control", "UC-MSC", "UC-MSC"], "DAY": [1, 7, 1, 7],
                         "n": [3, 3, 3, 3], "mean": [100.0, 150.0, 110.0, 200.0],
                         "lower": [80.0, 120.0, 90.0, 160.0], "upper": [120.0, 180.0, 130.0,
                                                                        240.0]})


def test_over_days_means_with_ci_and_trajectories():
    individual = pd.DataFrame({"USUBJID": ["S1", "S1"], "ARM": ["control"] * 2, "ADY": [1, 7],
                               "AVAL": [90.0, 140.0]})
    ax = figures.plot_over_days(_summary(), "PaO2/FiO2 (mmHg)", individual=individual)
    assert ax.get_ylabel() == "PaO2/FiO2 (mmHg)" and ax.get_xlabel() == "Study day"
    means = [c for c in ax.containers if c.get_label() in ("control", "UC-MSC")]
    x, y = means[1].lines[0].get_data()
    assert list(y) == [110.0, 200.0] and np.allclose(x, [1.15, 7.15])
    lines = [c for c in ax.collections if c.get_label() == "_individual"]
    assert [list(map(list, path.vertices)) for path in lines[0].get_paths()] == \
        [[[1.0, 90.0], [7.0, 140.0]]]


def test_cytokine_on_log_axis_with_lloq():
    ax = figures.plot_cytokine(_summary(), "Interleukin-6 (pg/mL)", lloq=1.5)
    assert ax.get_yscale() == "log"
    lloq = [line for line in ax.lines if line.get_label().startswith("LLOQ")]
    assert list(lloq[0].get_ydata()) == [1.5, 1.5]


def test_who_distribution_stacks_to_one():
    rows = [["a", 1, c, 1 if c in (5, 6) else 0, 0.5 if c in (5, 6) else 0.0] for c in range(11)]
    ax = figures.plot_who_distribution(pd.DataFrame(rows, columns=["ARM", "DAY", "CATEGORY", "n",
                                                                   "proportion"]))
    tops = [p.get_y() + p.get_height() for p in ax.patches]
    assert max(tops) == pytest.approx(1.0)
    assert ax.get_ylabel() == "Proportion of subjects"


def test_forest_plot_rows_and_null_line():
    a = AnalysisResult("x", "e", "binary", {})
    pairs = [(a, Comparison("T", "C", "risk_ratio", 2.0, (1.0, 4.0), 0.95)),
             (a, Comparison("T", "C", "odds_ratio", None, (3.0, None), 0.95))]
    ax = figures.plot_forest(pairs)
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x: T vs C\nrisk ratio",
                                                            "x: T vs C\nodds ratio"]
    assert list(ax.lines[0].get_xdata()) == [1.0, 4.0]
    arrows = [t for t in ax.texts if t.get_text() == ""]
    assert len(arrows) == 1  # the open-ended CI runs off as an arrow
    # beside each row the estimate (CI) exactly as the tables print it
    assert [t.get_text() for t in ax.texts if t.get_gid() == "estimate"] == [
        tables.estimate_with_ci(c) for _, c in pairs] == ["2.00 (1.00, 4.00)", "not estimable"]
    diff = figures.plot_forest([(a, Comparison("T", "C", "mean_difference", 1.0, (-1.0, 3.0),
                                               0.95))])
    assert diff.get_xscale() == "linear" and "Difference" in diff.get_xlabel()
    assert list(diff.lines[-1].get_xdata()) == [0.0, 0.0]


def test_forest_plot_of_win_probabilities_has_its_null_line_at_a_half():
    a = AnalysisResult("w", "e", "wilcoxon", {})
    ax = figures.plot_forest([(a, Comparison("T", "C", "win_probability", 0.7, (0.55, 0.82),
                                             0.95))])
    assert list(ax.lines[-1].get_xdata()) == [0.5, 0.5]
    assert ax.get_xscale() == "linear" and "Win probability" in ax.get_xlabel()


def test_ae_incidence_dots_and_risk_differences():
    incidence = pd.DataFrame({"AEBODSYS": ["B"] * 4, "AEDECOD": ["Rash", "Rash", "Fever", "Fever"],
                              "ARM": ["C", "T", "C", "T"], "n": [1, 3, 2, 2], "N": [10] * 4,
                              "events": [1, 3, 2, 2], "proportion": [0.1, 0.3, 0.2, 0.2]})
    rd = pd.DataFrame({"AEBODSYS": ["B", "B"], "AEDECOD": ["Rash", "Fever"], "ARM": ["T", "T"],
                       "estimate": [0.2, 0.0], "lower": [-0.1, -0.3], "upper": [0.5, 0.3]})
    ax = figures.plot_ae_incidence(incidence, rd)
    assert ax.get_xlabel() == "Subjects with the event (%)"
    assert list(ax.lines[1].get_xdata()) == [30.0, 20.0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Fever", "Rash"]
    right = [other for other in ax.figure.axes if other is not ax][0]
    assert right.get_xlabel() == "Risk difference (percentage points)"


def _tipping(grid, tipping):
    return AnalysisResult("tip", "e", "tipping_point", {}, grid=tuple(grid), tipping_point=tipping)


def test_tipping_point_heat_map_shows_the_grid_p_values_and_boundary():
    rows = [{"events_among_missing": {"UC-MSC": k1, "control": k0}, "estimate": 0.0,
             "p_value": p} for (k1, k0), p in zip([(0, 0), (0, 1), (1, 0), (1, 1)],
                                                   [0.2, 0.01, 0.6, 0.04])]
    ax = figures.plot_tipping_point(_tipping(rows, (rows[0],)), ("control", "UC-MSC"), 0.05)
    image = ax.images[0].get_array()
    assert image.tolist() == [[0.2, 0.01], [0.6, 0.04]]        # rows: treated events
    outlined = [p for p in ax.patches if p.get_gid() == "boundary"]
    assert [p.get_xy() for p in outlined] == [(-0.5, -0.5)]
    assert sum(1 for p in ax.patches if p.get_hatch()) == 2    # p < alpha
    assert "control" in ax.get_xlabel() and "UC-MSC" in ax.get_ylabel()
    ax.figure.canvas.draw()
    for ticks, cells in ((ax.get_xticks(), 2), (ax.get_yticks(), 2)):
        shown = [t for t in ticks if -0.5 <= t <= cells - 0.5]
        assert shown == [0.0, 1.0]                   # whole numbers of events, not 0.1 steps


def test_tipping_point_shifts_plot_estimates_and_the_tipping_line():
    rows = [{"delta": d, "estimate": 20 + d / 4, "ci": [d / 4, 40 + d / 4], "p_value": 0.01}
            for d in (-60.0, -30.0, 0.0)]
    ax = figures.plot_tipping_point(_tipping(rows, -60.0), ("control", "UC-MSC"), 0.05)
    [line] = [ln for ln in ax.lines if ln.get_label().startswith("pooled")]
    assert list(line.get_xdata()) == [-60, -30, 0] and list(line.get_ydata()) == [5, 12.5, 20]
    [mark] = [ln for ln in ax.lines if ln.get_gid() == "tipping_point"]
    assert list(mark.get_xdata()) == [-60, -60]
    none = figures.plot_tipping_point(_tipping(rows, None), ("control", "UC-MSC"), 0.05)
    assert not [ln for ln in none.lines if ln.get_gid() == "tipping_point"]


def test_forest_panel_whose_values_all_print_as_zero_is_centred_on_zero():
    """The refractory-hypoxia Hodges-Lehmann shift: -4e-5 (-5e-5, 2e-5) prints as
    0.000 (0.000, 0.000); drawn raw the axis zoomed to -0.00005 with the point off
    the printed value. Now: drawn at 0, on a symmetric axis with a few round ticks."""
    a = AnalysisResult("vfd", "e", "wilcoxon", {})
    c = Comparison("T", "C", "hodges_lehmann_shift", -4.3e-5, (-5.5e-5, 2.4e-5), 0.8)
    ax = figures.plot_forest([(a, c)])
    assert tables.estimate_with_ci(c) == "0.000 (0.000, 0.000)"
    low, high = ax.get_xlim()
    assert low == -high and high >= 1.0
    assert list(ax.lines[0].get_xdata()) == [0.0, 0.0]       # the CI line
    assert list(ax.lines[1].get_xdata()) == [0.0]            # the estimate
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert 3 <= len(ticks) <= 7 and 0.0 in ticks
    # a panel that is not degenerate keeps its own range
    wide = figures.plot_forest([(a, Comparison("T", "C", "hodges_lehmann_shift", 2.0,
                                               (1.0, 3.0), 0.8))])
    assert wide.get_xlim()[1] < 4


def test_survival_band_covers_the_last_step():
    """A curve whose last point has no CI (the estimate falls to 0) still shades the
    step before it (single-arm report: the band stopped at day 21 of 26)."""
    curve = Curve(arm="A", kind="survival", time=(2.0, 5.0, 9.0), estimate=(0.6, 0.3, 0.0),
                  lower=(0.3, 0.1, None), upper=(0.9, 0.6, None), n_risk=(3, 2, 1),
                  n_event=(1, 1, 1), n_censor=(0, 0, 0))
    ax = figures.plot_survival([curve], risk_table=False)
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 0].max() == pytest.approx(9.0)       # shaded from day 5 to day 9
    shaded = band[(band[:, 0] > 5.0) & (band[:, 0] < 9.0)]
    assert len(shaded) == 0 or set(np.round(shaded[:, 1], 6)) <= {0.1, 0.6}


def test_survival_figure_shows_the_comparison_lines_it_is_given():
    lines = ["x: T vs C HR 1.28 (0.68, 2.39), log-rank p = 0.429"]
    ax = figures.plot_survival([survival_curve("C"), survival_curve("T")], annotation=lines)
    assert [t.get_text() for t in ax.texts if t.get_gid() == "comparison"] == lines


def test_flow_diagram_boxes_show_the_counts_as_given():
    stages = [("Randomized", {"C": 30, "T": 29, "Total": 59}),
              ("Dosed (>= 1 dose)", {"C": 30, "T": 28, "Total": 58}),
              ("ITT population", {"C": 30, "T": 29, "Total": 59})]
    ax = figures.plot_flow(stages, ["C", "T"])
    boxes = [t.get_text() for t in ax.texts if t.get_gid() == figures.FLOW_GID]
    assert boxes == ["Randomized\nN = 59", "C\nDosed (>= 1 dose)\nn = 30", "ITT population\nn = 30",
                     "T\nDosed (>= 1 dose)\nn = 28", "ITT population\nn = 29"]
    arrows = [t for t in ax.texts if t.get_gid() != figures.FLOW_GID]
    assert len(arrows) == 4          # randomized -> each arm, then down each column
