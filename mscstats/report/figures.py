"""Figures: each ``plot_*`` draws results or tidy data on ``ax`` (a new figure
when None) and returns the Axes. Nothing here computes a statistic: the curves
come from the analyses (results.Curve), the summaries from descriptive.py and
safety.py. matplotlib is imported inside the functions (the package stays light).

Figures are built on matplotlib.figure.Figure, not pyplot: no global state, no
backend switching, the same on Agg in CI and inline in Jupyter.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..summaries.descriptive import number_at_risk
from ..results import AnalysisResult, Comparison, Curve
from .tables import ci_label, decimals_for, estimate_with_ci, fmt_estimate, fmt_number, is_ratio

__all__ = ["new_axes", "plot_flow", "plot_survival", "plot_cumulative_incidence", "plot_over_days",
           "plot_cytokine", "plot_who_distribution", "plot_forest", "plot_ae_incidence",
           "plot_tipping_point",
           "RISK_TABLE_GID", "DAY_LABEL"]

DAY_LABEL = "Study day"
FIGURE_TEXT_LIMIT = 80    # characters of a label from the data; the tables show it whole
ARM_TEXT_LIMIT = 30       # an arm's name, in legends and beside the risk table


def _literal(text, limit: int = FIGURE_TEXT_LIMIT) -> str:
    """Text from the data or the SAP (arms, AE terms, analysis ids) as matplotlib must
    draw it: literally, a `$` is not the start of mathtext, and at most
    FIGURE_TEXT_LIMIT characters (a 20,000-character term would make the figure
    wider than an image can be)."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit - 1] + "\u2026"
    return text.replace("$", r"\$")


def _arm(name) -> str:
    return _literal(name, ARM_TEXT_LIMIT)


def _day_axis(ax) -> None:
    """Study days are whole numbers: no 2.5 ticks."""
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(DAY_LABEL)
RISK_TABLE_GID = "number_at_risk"
# Okabe-Ito: distinguishable for colour-blind readers and in greyscale print.
ARM_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def new_axes(width: float = 6.4, height: float = 4.0):
    from matplotlib.figure import Figure
    # constrained layout makes room for everything outside the axes (the risk
    # table, legends) in the one draw that saving does
    return Figure(figsize=(width, height), layout="constrained").add_subplot()


def _plain_log_axis(axis) -> None:
    """Log scale with tick labels as plain numbers (10, 100), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, NullFormatter
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _colour(i: int) -> str:
    return ARM_COLOURS[i % len(ARM_COLOURS)]


def _day_ticks(ax, last: float) -> list[float]:
    """Weekly ticks (trial days 0, 7, 14, ...), or every 2-3 days on a short axis."""
    step = 7 if last > 14 else (2 if last <= 8 else 3)
    ticks = [float(t) for t in np.arange(0, last + step * 0.5, step)]
    ax.set_xticks(ticks)
    ax.set_xlim(0, ticks[-1])
    return ticks


# --------------------------------------------------------------------------
# Survival and cumulative incidence
# --------------------------------------------------------------------------

def _draw_curves(curves: Sequence[Curve], ax, start: float, ylabel: str, risk_table: bool,
                 annotation: Sequence[str] = ()):
    ax = ax if ax is not None else new_axes(6.4, 4.0 + 0.25 * len(curves))
    last = max((max(c.time) for c in curves if c.time), default=28.0)
    for i, curve in enumerate(curves):
        x = np.concatenate([[0.0], np.asarray(curve.time, float)])
        y = np.concatenate([[start], np.asarray(curve.estimate, float)])
        colour = _colour(i)
        ax.step(x, y, where="post", color=colour, label=_arm(curve.arm))
        lower = np.array([start, *(np.nan if v is None else v for v in curve.lower)], float)
        upper = np.array([start, *(np.nan if v is None else v for v in curve.upper)], float)
        _step_band(ax, x, lower, upper, colour)
        censored = np.asarray(curve.n_censor) > 0
        ax.plot(x[1:][censored], y[1:][censored], "|", color=colour, markersize=8,
                label="_censored")
    ax.set_ylim(0, 1.02)
    _day_axis(ax)
    ax.set_ylabel(ylabel)
    ticks = _day_ticks(ax, last)
    ax.legend(loc="best", frameon=False)
    if annotation:     # above the axes: inside, it would cross the curves
        ax.text(0.0, 1.02, "\n".join(_literal(a, 2 * FIGURE_TEXT_LIMIT) for a in annotation),
                transform=ax.transAxes, ha="left", va="bottom", fontsize="small",
                gid="comparison", in_layout=False)   # long arm names: the saved box grows
    if risk_table:
        _risk_table(ax, curves, ticks)
    return ax


def _step_band(ax, x, lower, upper, colour) -> None:
    """The CI band as steps drawn vertex by vertex: each bound holds from its time to
    the next, so the last step is shaded too (fill_between's step mode drops the step
    before a missing bound, as a curve's last point often has)."""
    xs = np.repeat(x, 2)[1:]
    ax.fill_between(xs, np.repeat(lower, 2)[:-1], np.repeat(upper, 2)[:-1], color=colour,
                    alpha=0.15, linewidth=0)


def _risk_table(ax, curves: Sequence[Curve], ticks: Sequence[float]) -> None:
    """Number at risk under the time axis, one row per arm, each count under its
    tick: drawn in an inset axes that shares the x axis (so counts sit exactly at
    the tick positions and layout engines make room for them)."""
    from matplotlib.transforms import blended_transform_factory
    rows = len(curves) + 1
    height = 0.075 * rows
    table = ax.inset_axes([0.0, -0.17 - height, 1.0, height], sharex=ax)
    table.set_ylim(rows - 0.5, -0.5)
    table.set_axis_off()
    left = blended_transform_factory(table.transAxes, table.transData)
    table.text(-0.02, 0, "Number at risk", transform=left, ha="right", va="center",
               fontsize="small", fontweight="bold", gid=RISK_TABLE_GID)
    for i, curve in enumerate(curves, start=1):
        table.text(-0.06, i, _arm(curve.arm), transform=left, ha="right", va="center",
                   fontsize="small", color=_colour(i - 1), gid=RISK_TABLE_GID)
        for tick, n in zip(ticks, number_at_risk(curve.time, curve.n_risk, ticks)):
            table.text(tick, i, str(n), ha="center", va="center", fontsize="small",
                       gid=RISK_TABLE_GID)


def plot_survival(curves: Sequence[Curve], ax=None, risk_table: bool = True,
                  ylabel: str = "Probability without the event",
                  annotation: Sequence[str] = ()):
    """Kaplan-Meier curves (kind "survival") with pointwise CI bands, censoring
    marks (|) and a number-at-risk table aligned under the day ticks; annotation:
    lines of text (the comparisons, formatted by tables.py) in the lower left."""
    return _draw_curves([c for c in curves if c.kind == "survival"], ax, 1.0, ylabel,
                        risk_table, annotation)


def plot_cumulative_incidence(curves: Sequence[Curve], ax=None, risk_table: bool = True,
                              ylabel: str = "Cumulative incidence",
                              annotation: Sequence[str] = ()):
    """Aalen-Johansen cumulative incidence curves (kind "cumulative_incidence")."""
    return _draw_curves([c for c in curves if c.kind == "cumulative_incidence"], ax, 0.0,
                        ylabel, risk_table, annotation)


# --------------------------------------------------------------------------
# Subject flow (CONSORT-style)
# --------------------------------------------------------------------------

FLOW_GID = "flow_box"


def plot_flow(stages: Sequence[tuple[str, Mapping[str, int]]], arms: Sequence[str], ax=None):
    """A CONSORT-style diagram of the subject flow as given: stages[0] (e.g.
    randomized) as one box of its Total over the arms, then one column per arm with a
    box for each stage, arrows top to bottom. stages: (label, {arm: n, "Total": n}).
    The counts are drawn as given; nothing is added or subtracted here."""
    from matplotlib.patches import FancyBboxPatch
    rows, columns = len(stages), len(arms)
    ax = ax if ax is not None else new_axes(max(3.2, 2.1 * columns), 0.6 + 0.62 * rows)
    ax.set_xlim(0, columns)
    ax.set_ylim(-0.05, rows + 0.05)
    ax.set_axis_off()
    width, height = min(0.86, 2.4 / max(columns, 1)), 0.56

    def box(x: float, y: float, text: str, box_width: float) -> None:
        ax.add_patch(FancyBboxPatch((x - box_width / 2, y - height / 2), box_width, height,
                                    boxstyle="square,pad=0", facecolor="white",
                                    edgecolor="black", linewidth=0.8, gid=FLOW_GID))
        ax.text(x, y, text, ha="center", va="center", fontsize="small", gid=FLOW_GID)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.annotate("", xy=(x1, y1 + height / 2), xytext=(x0, y0 - height / 2),
                    arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 0.8})

    first, counts = stages[0]
    top = rows - 0.5
    box(columns / 2, top, f"{_literal(first)}\nN = {counts.get('Total', '')}",
        min(columns - 0.1, max(width, 1.6)))
    for i, arm in enumerate(arms):
        x = i + 0.5
        previous = (columns / 2, top)
        for j, (label, by_arm) in enumerate(stages[1:], start=1):
            y = top - j
            head = f"{_arm(arm)}\n" if j == 1 else ""
            box(x, y, f"{head}{_literal(label)}\nn = {by_arm.get(arm, '')}", width)
            arrow(previous[0], previous[1], x, y)
            previous = (x, y)
    return ax


# --------------------------------------------------------------------------
# Parameters over days
# --------------------------------------------------------------------------

def _arm_offsets(arms: Sequence[str], width: float = 0.3) -> dict[str, float]:
    """Small horizontal dodge so the arms' CIs do not hide each other."""
    k = len(arms)
    return {arm: (i - (k - 1) / 2) * width / max(k - 1, 1) for i, arm in enumerate(arms)}


def _trajectories(ax, rows: pd.DataFrame, colour: str) -> None:
    """Each subject's values as one faint line (a single collection: fast to draw)."""
    from matplotlib.collections import LineCollection
    lines = [subject[["ADY", "AVAL"]].to_numpy(float)
             for _, subject in rows.groupby("USUBJID", sort=False)]
    ax.add_collection(LineCollection(lines, colors=colour, alpha=0.15, linewidths=0.6,
                                     label="_individual"))
    ax.autoscale_view()


def plot_over_days(summary: pd.DataFrame, ylabel: str, ax=None,
                   individual: pd.DataFrame | None = None):
    """Mean and 95% CI by arm and day (descriptive.daily_summary), optionally over
    each subject's trajectory (descriptive.trajectories) drawn faintly."""
    ax = ax if ax is not None else new_axes()
    arms = list(dict.fromkeys(summary["ARM"]))
    offsets = _arm_offsets(arms)
    for i, arm in enumerate(arms):
        colour = _colour(i)
        if individual is not None:
            _trajectories(ax, individual[individual["ARM"] == arm], colour)
        rows = summary[summary["ARM"] == arm]
        x = rows["DAY"].to_numpy(float) + offsets[arm]
        y = rows["mean"].to_numpy(float)
        err = np.vstack([y - rows["lower"].to_numpy(float), rows["upper"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=np.nan_to_num(err), color=colour, marker="o", markersize=3,
                    capsize=2, linewidth=1.2, label=_arm(arm))
    _day_axis(ax)
    ax.set_ylabel(ylabel)
    if ax.get_legend_handles_labels()[0]:       # no arm with values: nothing to name
        ax.legend(loc="best", frameon=False, fontsize="small")
    return ax


def plot_cytokine(summary: pd.DataFrame, ylabel: str, lloq: float | None = None, ax=None,
                  individual: pd.DataFrame | None = None):
    """Geometric mean and 95% CI by arm and day on a log axis, the LLOQ dashed."""
    ax = plot_over_days(summary, ylabel, ax=ax, individual=individual)
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    if lloq is not None:
        ax.axhline(lloq, color="grey", linestyle="--", linewidth=0.8, label=f"LLOQ ({fmt_estimate(lloq)})")
        ax.legend(loc="best", frameon=False, fontsize="small")
    return ax


def plot_who_distribution(distribution: pd.DataFrame, ax=None):
    """Stacked bars of the WHO clinical progression scale (descriptive.who_by_day):
    one bar per arm within each day, categories 0 (best) to 10 (dead)."""
    from matplotlib import colormaps
    ax = ax if ax is not None else new_axes(7.0, 4.0)
    arms = list(dict.fromkeys(distribution["ARM"]))
    days = sorted(distribution["DAY"].unique())
    cmap = colormaps["RdYlGn_r"]
    width = 0.8 / len(arms)
    bars = distribution.set_index(["DAY", "ARM"]).sort_index()
    keys = [(day, arm) for day in days for arm in arms]
    positions = [d + (a - (len(arms) - 1) / 2) * width
                 for d in range(len(days)) for a in range(len(arms))]
    labels = [f"{_arm(arm)}\nday {day}" for day, arm in keys]
    bottom = np.zeros(len(keys))
    for category in range(11):  # one call per category: every bar's slice at once
        share = np.array([_share(bars, key, category) for key in keys])
        ax.bar(positions, share, width * 0.9, bottom=bottom, label=str(category),
               color="black" if category == 10 else cmap(category / 9))
        bottom += share
    ax.set_xticks(positions)
    ax.set_xticklabels(labels, fontsize="x-small")
    ax.set_ylim(0, 1)
    ax.set_ylabel("Proportion of subjects")
    ax.set_xlabel("Arm and study day")
    ax.legend(title="WHO scale", loc="center left", bbox_to_anchor=(1.0, 0.5),
              fontsize="x-small", title_fontsize="small", frameon=False, reverse=True)
    return ax


# --------------------------------------------------------------------------
# Comparisons and safety
# --------------------------------------------------------------------------

def _share(bars: pd.DataFrame, key, category: int) -> float:
    rows = bars.loc[key] if key in bars.index else None
    if rows is None:
        return 0.0
    hit = rows[rows["CATEGORY"] == category]["proportion"]
    return float(hit.iloc[0]) if len(hit) else 0.0


def plot_forest(pairs: Sequence[tuple[AnalysisResult, Comparison]], ax=None,
                xlabel: str | None = None):
    """Estimate and CI of each comparison, one row each, top to bottom in SAP order,
    the estimate (CI) as the tables print it beside each row; a log axis and the
    no-effect line at 1 for ratios, at 0.5 for win probabilities, at 0 for differences."""
    ax = ax if ax is not None else new_axes(6.4, 1.0 + 0.35 * len(pairs))
    ratio = bool(pairs) and all(is_ratio(c.estimand) for _, c in pairs)
    wins = bool(pairs) and all(c.estimand == "win_probability" for _, c in pairs)
    y = np.arange(len(pairs))[::-1]
    collapsed = _collapsed(pairs)
    labels, open_ended = [], []
    for row, (analysis, c) in zip(y, pairs):
        values = (*c.ci, c.estimate) if collapsed is None else (collapsed,) * 3
        lower, upper, estimate = (_plotted(v, ratio) for v in values)
        ax.plot([lower, upper], [row, row], color="black", linewidth=1.2)
        ax.plot([estimate], [row], "s", color=ARM_COLOURS[0], markersize=5)
        if np.isfinite(lower) and not np.isfinite(upper):
            open_ended.append((row, lower))
        versus = f"{_arm(c.arm)} vs {_arm(c.reference)}" if c.reference else _arm(c.arm)
        labels.append(f"{_literal(analysis.id)}: {versus}\n"
                      f"{c.estimand.replace('_', ' ')}")
    ax.axvline(1.0 if ratio else 0.5 if wins else 0.0, color="grey", linestyle="--",
               linewidth=0.8)
    _forest_axis(ax, ratio, collapsed)
    right = ax.get_xlim()[1]
    for row, lower in open_ended:  # an infinite upper bound runs off the axis
        ax.annotate("", xy=(right, row), xytext=(lower, row),
                    arrowprops={"arrowstyle": "->", "color": "black", "linewidth": 1.2})
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize="x-small")
    ax.set_ylim(-0.7, len(pairs) - 0.3)
    _estimate_column(ax, y, [c for _, c in pairs])
    ax.set_xlabel(xlabel or ("Ratio, treated / reference (log scale)" if ratio
                             else "Win probability of treated over reference" if wins
                             else "Difference, treated - reference"))
    return ax


def _collapsed(pairs) -> float | None:
    """The one value every estimate and bound shows in the tables (all 0.000, say), or
    None. Such a panel is drawn at that value, as the tables print it, on a symmetric
    axis: drawn raw, the axis would zoom to -0.00005 and put the point off the value."""
    shown = set()
    for _, c in pairs:
        decimals = decimals_for(c.estimate)
        shown |= {fmt_number(v, decimals) for v in (*c.ci, c.estimate)}
    if len(shown) != 1:
        return None
    value = float(next(iter(shown))) if next(iter(shown)) != "NA" else None
    return value if value is not None and np.isfinite(value) else None


def _forest_axis(ax, ratio: bool, collapsed: float | None) -> None:
    from matplotlib.ticker import MaxNLocator
    if ratio:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        return
    if collapsed is not None:
        half = max(1.0, abs(collapsed))
        ax.set_xlim(collapsed - half, collapsed + half)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)


def _estimate_column(ax, rows, comparisons: Sequence[Comparison]) -> None:
    """Estimate (CI) of each row right of the axes, as tables.estimate_with_ci prints it."""
    from matplotlib.transforms import blended_transform_factory
    beside = blended_transform_factory(ax.transAxes, ax.transData)
    for row, c in zip(rows, comparisons):
        # out of the layout: the saved (tight) box widens for the column instead, so
        # long row labels and the column never squeeze the axes to nothing
        ax.text(1.03, row, estimate_with_ci(c), transform=beside, ha="left", va="center",
                fontsize="x-small", gid="estimate", in_layout=False)
    level = comparisons[0].ci_level if comparisons else None
    ax.text(1.03, 1.0, f"Estimate ({ci_label(level)})", transform=ax.transAxes, ha="left",
            va="bottom", fontsize="x-small", fontweight="bold", in_layout=False)


def _plotted(value, ratio: bool) -> float:
    """NaN where a bound is missing (or not positive on a log axis): not drawn."""
    if value is None or not np.isfinite(value) or (ratio and value <= 0):
        return np.nan
    return float(value)


def plot_ae_incidence(incidence: pd.DataFrame, rd: pd.DataFrame | None = None, ax=None):
    """Proportion of subjects with each preferred term by arm (dots); with ``rd``
    (safety.risk_differences) a right-hand panel of risk differences and CIs."""
    ax = ax if ax is not None else new_axes(7.5, 1.5 + 0.25 * incidence["AEDECOD"].nunique())
    terms = list(dict.fromkeys(incidence["AEDECOD"]))
    arms = list(dict.fromkeys(incidence["ARM"]))
    y = {term: i for i, term in enumerate(reversed(terms))}
    for i, arm in enumerate(arms):
        rows = incidence[incidence["ARM"] == arm]
        ax.plot(100 * rows["proportion"], rows["AEDECOD"].map(y), "o", color=_colour(i),
                label=f"{_arm(arm)} (N = {int(rows['N'].iloc[0])})" if len(rows)
                else _arm(arm))
    ax.set_yticks(list(y.values()))
    ax.set_yticklabels([_literal(term) for term in y], fontsize="x-small")
    ax.set_xlabel("Subjects with the event (%)")
    ax.set_xlim(left=-2)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize="x-small")
    if rd is not None and len(rd):
        _rd_panel(ax, rd, y, arms)
    return ax


def _rd_panel(ax, rd: pd.DataFrame, y: dict[str, int], arms: Sequence[str]) -> None:
    from mpl_toolkits.axes_grid1 import make_axes_locatable
    right = make_axes_locatable(ax).append_axes("right", size="80%", pad=0.1, sharey=ax)
    for i, arm in enumerate(arms[1:], start=1):
        rows = rd[rd["ARM"] == arm]
        dodge = 0.15 * (i - len(arms[1:]) / 2 - 0.5) if len(arms) > 2 else 0.0
        rows_y = rows["AEDECOD"].map(y) + dodge
        right.hlines(rows_y, 100 * rows["lower"], 100 * rows["upper"], color=_colour(i),
                     linewidth=1.0)
        right.plot(100 * rows["estimate"], rows_y, "s", color=_colour(i), markersize=4,
                   label=f"{_arm(arm)} - {_arm(arms[0])}")
    right.axvline(0, color="grey", linestyle="--", linewidth=0.8)
    right.set_xlabel("Risk difference (percentage points)")
    right.tick_params(labelleft=False)
    right.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False, fontsize="x-small")



# --------------------------------------------------------------------------
# Tipping point (DESIGN.md 9)
# --------------------------------------------------------------------------

def plot_tipping_point(result: AnalysisResult, arms: Sequence[str], alpha: float, ax=None):
    """A tipping_point analysis as it is in results: for a binary endpoint a heat map of the
    p-value over the grid (events among the treated arm's missing by row, the reference's
    by column; p < alpha hatched, the boundary cells outlined); for a change or value
    endpoint the pooled estimate and CI against the shift delta, with the tipping point."""
    grid = list(result.grid or ())
    if grid and "events_among_missing" in grid[0]:
        return _tipping_heat_map(grid, list(result.tipping_point or ()), arms, alpha, ax)
    return _tipping_shifts(grid, result.tipping_point, arms, ax)


def _tipping_heat_map(grid, boundary, arms, alpha, ax):
    from matplotlib.patches import Rectangle
    reference, treated = arms[0], arms[1]
    k1 = [row["events_among_missing"][treated] for row in grid]
    k0 = [row["events_among_missing"][reference] for row in grid]
    p = np.full((max(k1) + 1, max(k0) + 1), np.nan)
    for i, j, row in zip(k1, k0, grid):
        p[i, j] = np.nan if row["p_value"] is None else row["p_value"]
    ax = ax if ax is not None else new_axes(5.6, 4.2)
    image = ax.imshow(p, origin="lower", cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="p-value")
    for (i, j), value in np.ndenumerate(p):
        if value < alpha:
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//",
                                   edgecolor="white", linewidth=0))
    for row in boundary:
        i, j = row["events_among_missing"][treated], row["events_among_missing"][reference]
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#D55E00",
                               linewidth=1.5, gid="boundary"))
    ax.set_xlabel(f"Events among the missing, {reference}")
    ax.set_ylabel(f"Events among the missing, {treated}")
    from matplotlib.ticker import MaxNLocator
    for axis, cells in ((ax.xaxis, p.shape[1]), (ax.yaxis, p.shape[0])):
        # whole numbers of events only (a locator alone puts 0.1 steps on a 1- or 2-cell axis)
        axis.set_major_locator(MaxNLocator(nbins=min(cells, 10), integer=True, min_n_ticks=1))
    return ax


def _tipping_shifts(grid, tipping, arms, ax):
    ax = ax if ax is not None else new_axes(6.0, 3.8)
    delta = np.array([row["delta"] for row in grid], float)
    estimate = np.array([np.nan if row["estimate"] is None else row["estimate"] for row in grid])
    lower = np.array([_plotted(row["ci"][0], False) for row in grid])
    upper = np.array([_plotted(row["ci"][1], False) for row in grid])
    ax.fill_between(delta, lower, upper, color=ARM_COLOURS[0], alpha=0.2, linewidth=0)
    ax.plot(delta, estimate, "o-", color=ARM_COLOURS[0], label="pooled estimate (95% CI)")
    ax.axhline(0.0, color="grey", linestyle="--", linewidth=0.8)
    if tipping is not None:
        ax.axvline(tipping, color=ARM_COLOURS[1], linewidth=1.2, gid="tipping_point",
                   label=f"tipping point, delta = {fmt_estimate(tipping)}")
    ax.set_xlabel(f"Shift delta of the {arms[1]} arm's imputed values")
    ax.set_ylabel(f"Difference, {arms[1]} - {arms[0]}")
    ax.legend(fontsize="small", frameon=False)
    return ax
