"""The report's tables: the only place that rounds and formats numbers.

Formatting rules (hand-checkable; docs/report.md "Number formats"):
- a count is an integer; a proportion is "n (p%)" with one decimal of percent
  (of the arm's N; "0" alone for an empty arm);
- an estimate has 3 significant digits, with 0 to 3 decimals (27.07 -> "27.1",
  0.5596 -> "0.560", 556.7 -> "557"); its CI bounds take the estimate's decimals;
- a descriptive summary (baseline mean, SD, median, quartiles, min, max) has the
  decimals of its variable: 3 significant digits of the variable's largest
  absolute value over all subjects, between 0 and 3 (ages up to 85 -> 1 decimal,
  P/F up to 450 -> 0, WHO scores up to 9 -> 2), the same in every column and row
  of the variable; a summary that cannot be computed (no value, SD of one value)
  is "-";
- an arm's summary in the endpoint tables (mean (SD), median (CI)) follows the same
  rule over its own numbers: "median 9.0 (6.0, 18.0)", "mean (SD) 38 (109)";
  degrees of freedom that are whole are integers ("1"), others estimates;
- a p-value has 3 decimals, "<0.001" below 0.001;
- a missing number is "NA", an infinite one "∞" or "-∞"; -0 is printed as 0;
- a comparison without an estimate is "not estimable", and an analysis that
  could not be computed is listed with "not estimable" and its reason.

Each builder returns a :class:`Table` of strings; report.py lays it out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pandas as pd

from ..summaries.records import (AeRow, BaselineSummary, BaselineVariable, FlowSummary,
                                 ListingRow, SafetySummary)
from ..results import AnalysisResult, Comparison, TrialResults

__all__ = ["Table", "fmt_number", "decimals_for", "fmt_estimate", "fmt_ci", "fmt_p",
           "fmt_count", "ci_label", "comparison_lines", "fmt_stat", "fmt_summary", "fmt_df", "summary_decimals", "is_ratio",
           "baseline_table", "flow_table", "endpoint_table", "tests_table",
           "arm_summary_table", "ae_category_table", "ae_term_table", "ae_grade_table",
           "listing_table", "fmt_ae_cell", "NOT_APPLICABLE", "DASH", "quality_tables",
           "tipping_table", "RATIO_ESTIMANDS", "estimand_table", "missingness_table",
           "warnings_table"]

NA = "NA"
DASH = "-"                       # a descriptive summary that cannot be computed
NOT_ESTIMABLE = "not estimable"
NOT_APPLICABLE = "not applicable"
RATIO_ESTIMANDS = ("geometric_mean_ratio", "hazard_ratio", "subdistribution_hazard_ratio",
                   "risk_ratio", "odds_ratio", "common_odds_ratio", "rmst_ratio")


@dataclass(frozen=True)
class Table:
    """A titled grid of strings. ``groups`` are row indices drawn as sub-headings."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnotes: tuple[str, ...] = ()
    groups: tuple[int, ...] = ()
    number: str = ""               # "Table 3" / "Listing 1", set by content.number_items

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(self.columns))


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------

def _finite(x: Any) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(float(x))


def _infinite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isinf(float(x))


def fmt_number(x: Any, decimals: int) -> str:
    if _infinite(x):
        return "∞" if float(x) > 0 else "-∞"
    if not _finite(x):
        return NA
    text = f"{float(x):.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"


def decimals_for(x: Any) -> int:
    """Decimals giving 3 significant digits, between 0 and 3."""
    if not _finite(x) or float(x) == 0:
        return 2
    return min(3, max(0, 2 - math.floor(math.log10(abs(float(x))))))


def fmt_estimate(x: Any) -> str:
    return fmt_number(x, decimals_for(x))


def fmt_statistic(statistic: str, value: Any, estimate: Any = None) -> str:
    """A statistic of the analysis-results data set as the tables print it: p-values
    by fmt_p, counts as integers, a CI bound with its estimate's decimals, a CI level
    as a percent, anything else by fmt_estimate."""
    if statistic.startswith("p_") or statistic == "p":
        return fmt_p(value)
    if statistic in ("n", "events", "n_missing", "n_event", "n_censor") and _finite(value):
        return str(int(value))
    if statistic == "ci_level" and _finite(value):
        return f"{100 * float(value):.0f}%"
    if statistic.endswith(("_lower", "_upper")) and estimate is not None:
        return fmt_number(value, decimals_for(estimate))
    return fmt_estimate(value)


def fmt_ci(ci: Sequence[Any], decimals: int) -> str:
    lower, upper = ci
    return f"({fmt_number(lower, decimals)}, {fmt_number(upper, decimals)})"


def fmt_p(p: Any) -> str:
    if not _finite(p):
        return NA
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def ci_label(level: Any) -> str:
    """'95% CI' for a level of 0.95 (the default when a result gives none)."""
    return f"{100 * (level or 0.95):.0f}% CI"


def fmt_count(n: int, total: int) -> str:
    """'6 (20.0%)'; '0' alone when the arm is empty."""
    if not total:
        return str(int(n))
    return f"{int(n)} ({100.0 * n / total:.1f}%)"


def is_ratio(estimand: str) -> bool:
    return estimand in RATIO_ESTIMANDS


def _label(name: str) -> str:
    return name.replace("_", " ")


def estimate_with_ci(c: Comparison) -> str:
    if c.estimate is None or (isinstance(c.estimate, float) and math.isnan(c.estimate)):
        return NOT_ESTIMABLE
    decimals = decimals_for(c.estimate)
    if not any(_finite(v) or _infinite(v) for v in (c.ci or ())):
        return fmt_number(c.estimate, decimals)   # no CI (a permutation p): not "(NA, NA)"
    return f"{fmt_number(c.estimate, decimals)} {fmt_ci(c.ci, decimals)}"


# --------------------------------------------------------------------------
# Subjects and baseline
# --------------------------------------------------------------------------

def fmt_stat(x: Any, decimals: int) -> str:
    """A descriptive summary: "-" when it cannot be computed."""
    return fmt_number(x, decimals) if _finite(x) else DASH


def summary_decimals(largest: Any) -> int:
    """The decimals of every summary of a variable: 3 significant digits of its largest
    absolute value, 0 to 3 (1 when the variable has no value)."""
    if not _finite(largest) or float(largest) == 0:
        return 1
    return min(3, max(0, 2 - math.floor(math.log10(abs(float(largest))))))


def _has_total(arms: Sequence[str]) -> bool:
    """A Total column, except in a single-arm study (it would repeat the arm)."""
    return len(arms) > 1


def flow_table(flow: FlowSummary) -> Table:
    """The CONSORT stages per arm and in total; "not applicable" where a stage does not
    apply to an arm (treated, for an arm without study drug)."""
    def cell(n: int | None) -> str:
        return NOT_APPLICABLE if n is None else str(int(n))

    total = _has_total(flow.arms)
    rows = tuple((s.label, *(cell(s.by_arm[a]) for a in flow.arms),
                  *((cell(s.total),) if total else ())) for s in flow.stages)
    notes = tuple(flow.notes) + (
        "mITT: ITT subjects who received at least one dose (an arm without study drug: "
        "all its ITT subjects). Did not complete follow-up = died + lost to follow-up.",)
    return Table("Subject flow (all enrolled subjects)",
                 ("", *flow.arms, *(("Total",) if total else ())), rows, notes)


def _continuous_rows(v: BaselineVariable, arms: Sequence[str]) -> list[tuple[str, ...]]:
    s = [v.by_arm[a] for a in arms] + ([v.total] if _has_total(arms) else [])
    d = summary_decimals(max((abs(x) for x in (v.total.min, v.total.max) if _finite(x)),
                             default=None))

    def pair(a: Any, b: Any, sep: str) -> str:
        return DASH if not _finite(a) else f"{fmt_stat(a, d)}{sep}{fmt_stat(b, d)}"

    return [("  n", *(str(x.n) for x in s)),
            ("  Missing", *(str(x.missing) for x in s)),
            ("  Mean (SD)", *(DASH if not _finite(x.mean) else
                              f"{fmt_stat(x.mean, d)} ({fmt_stat(x.sd, d)})" for x in s)),
            ("  Median (Q1, Q3)", *(DASH if not _finite(x.median) else
                                    f"{fmt_stat(x.median, d)} ({pair(x.q1, x.q3, ', ')})"
                                    for x in s)),
            ("  Min - Max", *(pair(x.min, x.max, " - ") for x in s))]


def _categorical_rows(v: BaselineVariable, arms: Sequence[str],
                      n: Sequence[int]) -> list[tuple[str, ...]]:
    s = [v.by_arm[a] for a in arms] + ([v.total] if _has_total(arms) else [])
    rows = [(f"  {level}", *(fmt_count(x.counts[level], total) for x, total in zip(s, n)))
            for level in v.levels]
    rows.append(("  Missing", *(fmt_count(x.missing, total) for x, total in zip(s, n))))
    return rows


def baseline_table(summary: BaselineSummary) -> Table:
    """Per arm and in total: continuous variables as n, Missing, Mean (SD), Median (Q1, Q3)
    and Min - Max; categorical ones as n (%) of the column's N per level, and Missing."""
    arms = list(summary.arms)
    n = [summary.n[a] for a in arms] + ([summary.n_total] if _has_total(arms) else [])
    rows, groups = [], []
    for v in summary.variables:
        groups.append(len(rows))
        rows.append((v.label, *("" for _ in n)))
        rows += _continuous_rows(v, arms) if v.kind == "continuous" else \
            _categorical_rows(v, arms, n)
    columns = ("Characteristic", *(f"{a} (N = {summary.n[a]})" for a in arms),
               *((f"Total (N = {summary.n_total})",) if _has_total(arms) else ()))
    population = _population_name(summary.population)
    return Table(f"Baseline characteristics ({population})", columns, tuple(rows),
                 ("Baseline: the last value on or before day 1. n (%) of the column's N; "
                  "Q1, Q3: quartiles; -: not computable (no value, or the SD of one value). "
                  "Every summary of a variable has the decimals of its largest value "
                  "(3 significant digits).",), tuple(groups))


_POPULATIONS = {"ITT": "full analysis set, ITT", "mITT": "modified ITT population",
                "safety": "safety population"}


def _population_name(population: str) -> str:
    return _POPULATIONS.get(population, f"{population} population")


# --------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------

def analysis_name(result) -> str:
    """The SAP's `title` of an analysis where it gives one, else its id."""
    return str((result.options or {}).get("title") or result.id)


def endpoint_table(results: TrialResults, labels: Mapping[str, str]) -> Table:
    """One row per comparison of every analysis: estimate (CI), p and adjusted p."""
    rows, footnotes = [], []
    level = None
    for a in results.analyses:
        if not a.estimable:
            rows.append((analysis_name(a), labels.get(a.endpoint, a.endpoint), a.method, "", "",
                         NOT_ESTIMABLE, "", ""))
            footnotes.append(f"{analysis_name(a)}: not estimable: {a.reason}.")
        for c in a.comparisons:
            level = level or c.ci_level
            versus = f"{c.arm} vs {c.reference}" if c.reference else c.arm
            rows.append((analysis_name(a), labels.get(a.endpoint, a.endpoint), a.method, versus,
                         _label(c.estimand),
                         estimate_with_ci(c) + (WARNING_MARK if a.warnings else ""),
                         fmt_p(c.p_value),
                         fmt_p(c.p_adjusted) if c.p_adjusted is not None else ""))
    ci = f"{100 * (level or 0.95):.0f}% CI"
    notes = ("Adjusted p: the SAP's multiplicity adjustment of its family.",)
    if any(a.warnings for a in results.analyses):
        notes += (WARNING_FOOTNOTE,)
    return Table("Endpoint summary", ("Analysis", "Endpoint", "Method", "Comparison",
                                      "Estimand", f"Estimate ({ci})", "p", "Adjusted p"),
                 tuple(rows), notes + tuple(footnotes))


def tests_table(results: TrialResults) -> Table:
    rows = []
    for a in results.analyses:
        for t in a.tests:
            df = "" if t.df is None else fmt_df(t.df)
            rows.append((analysis_name(a), _label(t.name), fmt_estimate(t.statistic), df,
                         fmt_p(t.p_value)))
    return Table("Hypothesis tests", ("Analysis", "Test", "Statistic", "df", "p"), tuple(rows))


def _largest(*values: Any) -> float | None:
    finite = [abs(float(v)) for v in values if _finite(v)]
    return max(finite) if finite else None


def fmt_summary(values: Sequence[Any]) -> list[str]:
    """Numbers of one descriptive summary (mean and SD; median and its CI) with the
    decimals of the largest of them (summary_decimals): "9.0 (6.0, 18.0)"."""
    d = summary_decimals(_largest(*values))
    return [fmt_number(v, d) for v in values]


def fmt_df(df: Any) -> str:
    """Degrees of freedom: an integer as an integer ("1"), else as an estimate."""
    if _finite(df) and float(df) == round(float(df)):
        return str(int(round(float(df))))
    return fmt_estimate(df)


def _arm_summary(stats: Mapping[str, Any]) -> str:
    """The headline numbers of an arm, whichever a runner reports."""
    parts = []
    if "events" in stats and "n" in stats:
        parts.append(f"events {fmt_count(stats['events'], stats['n'])}")
    if stats.get("median_ci") is not None and "median" in stats:
        median, lower, upper = fmt_summary([stats["median"], *stats["median_ci"]])
        parts.append(f"median {median} ({lower}, {upper})")
    elif "mean" in stats and "sd" in stats:
        mean, sd = fmt_summary([stats["mean"], stats["sd"]])
        parts.append(f"mean (SD) {mean} ({sd})")
    elif "median" in stats:
        parts.append(f"median {fmt_summary([stats['median']])[0]}")
    if stats.get("rmst") is not None:
        parts.append(f"RMST {fmt_estimate(stats['rmst'])}")
    return "; ".join(parts)


def arm_summary_table(results: TrialResults) -> Table:
    rows = []
    for a in results.analyses:
        for arm, stats in a.by_arm.items():
            n = stats.get("n")
            missing = stats.get("n_missing")
            rows.append((a.id, arm, "" if n is None else str(n),
                         "" if missing is None else str(missing), _arm_summary(stats)))
    return Table("Summaries by arm", ("Analysis", "Arm", "n", "Missing", "Summary"),
                 tuple(rows), ("n: subjects analysed; Missing: subjects without a value.",))


_SHORT_ESTIMAND = {"hazard_ratio": "HR", "subdistribution_hazard_ratio": "sHR",
                   "rmst_difference": "RMST difference", "rmst_ratio": "RMST ratio"}
_TEST_NAME = {"logrank": "log-rank", "gray": "Gray's test", "wald": "Wald"}


def _p_text(p: Any) -> str:
    shown = fmt_p(p)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


def comparison_lines(result: AnalysisResult) -> tuple[str, ...]:
    """One line per comparison of an analysis, for a figure of its curves:
    'ttci_logrank: UC-MSC vs control HR 1.28 (0.685, 2.39), log-rank p = 0.429';
    an analysis without comparisons (cuminc) gives its tests' p-values."""
    test = _TEST_NAME.get(result.tests[0].name, "") if result.tests else ""
    out = []
    for c in result.comparisons:
        versus = f"{c.arm} vs {c.reference}" if c.reference else c.arm
        out.append(f"{analysis_name(result)}: {versus} "
                   f"{_SHORT_ESTIMAND.get(c.estimand, _label(c.estimand))} "
                   f"{estimate_with_ci(c)}, {test + ' ' if test else ''}{_p_text(c.p_value)}")
    if not result.comparisons:
        out += [f"{analysis_name(result)}: {_TEST_NAME.get(t.name, _label(t.name))} "
                f"{_p_text(t.p_value)}" for t in result.tests]
    return tuple(out)


def notes_of(result: AnalysisResult) -> tuple[str, ...]:
    return tuple(f"{result.id}: {note}" for note in result.notes)


# --------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------

def fmt_ae_cell(subjects: int, events: int, total: int) -> str:
    """'6 (20.0%) [9]': subjects with >= 1 event, n (% of N), and [events]."""
    return f"{fmt_count(subjects, total)} [{int(events)}]"


def _ae_cells(row: AeRow, safety: SafetySummary) -> tuple[str, ...]:
    total = (fmt_ae_cell(row.total_subjects, row.total_events, safety.n_total),)
    return (*(fmt_ae_cell(row.subjects[a], row.events[a], safety.n[a]) for a in safety.arms),
            *(total if _has_total(safety.arms) else ()))


def _rd_cell(row: AeRow, arm: str) -> str:
    rd = row.risk_differences.get(arm)
    if rd is None or not _finite(rd.estimate):
        return NA
    return f"{fmt_number(100 * rd.estimate, 1)} {fmt_ci((100 * rd.lower, 100 * rd.upper), 1)}"


def _ae_columns(safety: SafetySummary) -> tuple[str, ...]:
    return (*(f"{a} (N = {safety.n[a]})" for a in safety.arms),
            *((f"Total (N = {safety.n_total})",) if _has_total(safety.arms) else ()))


_AE_FOOTNOTE = ("Treatment-emergent events (starting on or after day 1): subjects with >= 1 "
                "event, n (% of N) [number of events].")


def ae_category_table(safety: SafetySummary) -> Table:
    arms = list(safety.arms)
    with_rd = len(arms) > 1
    rows = tuple((r.soc, *_ae_cells(r, safety),
                  *((_rd_cell(r, a) for a in arms[1:]) if with_rd else ()))
                 for r in safety.categories)
    columns = ("", *_ae_columns(safety),
               *((f"RD {a} - {arms[0]}, % (95% CI)" for a in arms[1:]) if with_rd else ()))
    notes = (_AE_FOOTNOTE, f"Fatal: {_fatal_rule()}.")
    if with_rd:
        notes += ("RD: risk difference of subjects with Newcombe's hybrid score interval.",)
    return Table(f"Treatment-emergent adverse events ({_population_name(safety.population)})",
                 columns, rows, notes)


def _fatal_rule() -> str:
    from ..summaries.safety import FATAL_RULE
    return FATAL_RULE


def ae_term_table(safety: SafetySummary, rows: Sequence[AeRow], title: str,
                  total: AeRow | None = None, footnote: str = "",
                  total_label: str = "Any adverse event") -> Table:
    """Body system, then its preferred terms, by descending frequency (the Total column,
    then alphabetically); ``total`` first (the subjects with any such event)."""
    out, groups = [], []
    if total is not None:
        out.append((total_label, *_ae_cells(total, safety)))
    for r in rows:
        if r.term == "":
            groups.append(len(out))
        out.append((r.soc if r.term == "" else f"  {r.term}", *_ae_cells(r, safety)))
    notes = ("Body system, then preferred term, by descending frequency in total (ties "
             "alphabetically). " + _AE_FOOTNOTE,)
    return Table(f"{title} ({_population_name(safety.population)})",
                 ("Body system / preferred term", *_ae_columns(safety)), tuple(out),
                 notes + ((footnote,) if footnote else ()), tuple(groups))


def ae_grade_table(safety: SafetySummary) -> Table:
    """Subjects by the maximum grade of their treatment-emergent events."""
    rows = tuple((f"Grade {g.grade}" if g.grade != "missing" else "Grade missing",
                  *(fmt_count(g.subjects[a], safety.n[a]) for a in safety.arms),
                  *((fmt_count(g.total, safety.n_total),) if _has_total(safety.arms) else ()))
                 for g in safety.by_grade)
    return Table("Subjects by maximum grade (AETOXGR) of their adverse events "
                 f"({_population_name(safety.population)})",
                 ("Maximum grade", *_ae_columns(safety)), rows,
                 ("Each subject with an event counted once, at the highest grade of their "
                  "events; grade missing: none of their events has a grade. n (% of N).",))


def listing_table(rows: Sequence[ListingRow], population: str = "safety") -> Table:
    out = tuple((r.subject, r.arm, str(r.day), r.event, "" if r.grade is None else str(r.grade),
                 "Y" if r.serious else "", "Y" if r.fatal else "") for r in rows)
    return Table(f"Listing: deaths, serious and fatal adverse events "
                 f"({_population_name(population)})",
                 ("Subject", "Arm", "Study day", "Event", "Grade", "Serious", "Fatal"), out)


# --------------------------------------------------------------------------
# Data quality
# --------------------------------------------------------------------------

def quality_tables(quality: Mapping[str, Any]) -> list[Table]:
    """Rows read and used per file, conversions, dropped rows, warnings, notes, columns not
    used, files not read, derivation log."""
    read = tuple((file, str(n)) for file, n in quality.get("rows_read_by_file", {}).items())
    out = [Table("Rows read", ("File", "Rows"), read + (("Total read", str(quality["rows_read"])),
                                                       ("Total used", str(quality["rows_used"])))
                 )]
    specs = (("Converted values", "converted", ("file", "column", "param", "rule", "n", "rows")),
             ("Dropped rows", "dropped", ("file", "column", "reason", "n", "rows")),
             ("Warnings", "warnings", ("file", "column", "message", "n", "rows")))
    for title, key, fields in specs:
        entries = quality.get(key, [])
        if entries:
            rows = tuple(tuple(_listed(str(e["rows"]).split(",")) if f == "rows" and e.get(f)
                               else "" if e.get(f) is None else str(e.get(f)) for f in fields)
                         for e in entries)
            out.append(Table(title, tuple(f.capitalize() for f in fields), rows,
                             _listed_note(e.get("rows") for e in entries)))
    notes = tuple((str(n),) for n in quality.get("notes", ()))
    if notes:
        out.append(Table("Notes on reading the data", ("Note",), notes))
    unused = tuple((str(e["file"]), str(e["column"])) for e in quality.get("not_used", ()))
    if unused:
        out.append(Table("Columns not used", ("File", "Column"), unused))
    not_read = tuple((str(f),) for f in quality.get("files_not_read", ()))
    if not_read:
        out.append(Table("Files not read", ("File",), not_read))
    derivation = quality.get("derivation", ())
    if derivation:
        rows = tuple((str(e.get("endpoint") or ""), str(e.get("message", "")),
                      "" if e.get("n") is None else str(e["n"]),
                      _listed([str(s) for s in e.get("subjects", ())]))
                     for e in derivation)
        out.append(Table("Endpoint derivation log", ("Endpoint", "Message", "n", "Subjects"),
                         rows, _listed_note(e.get("subjects", ()) for e in derivation)))
    return out


LISTED = 20               # entries of a row or subject list shown in the appendix


def _listed(entries: Sequence[str]) -> str:
    """The first LISTED entries, comma-separated (so the cell wraps between them), then
    '... and N more'; results.json keeps the whole list."""
    entries = [e.strip() for e in entries if e.strip()]
    shown = ", ".join(entries[:LISTED])
    return shown + (f" ... and {len(entries) - LISTED} more" if len(entries) > LISTED else "")


def _listed_note(lists) -> tuple[str, ...]:
    long = any(len(str(x).split(",") if isinstance(x, str) else list(x or ())) > LISTED
               for x in lists)
    return ((f"Lists of rows or subjects show their first {LISTED} entries (ranges such as "
             "1-10 count as one); results.json holds them in full.",) if long else ())


# --------------------------------------------------------------------------
# Tipping point (DESIGN.md 9)
# --------------------------------------------------------------------------

_TIPPING_ROWS = 30        # a larger binary grid lists its boundary rows only (the figure has all)


def tipping_conclusion(result: AnalysisResult) -> str:
    """A tipping_point analysis in one sentence: where its conclusion changes, if anywhere."""
    grid = list(result.grid or ())
    if grid and "delta" in grid[0]:
        tip = result.tipping_point
        return (f"Tipping point: delta = {fmt_estimate(tip)}" if tip is not None else
                "No shift of the grid makes p reach alpha.")
    if len(grid) == 1:
        return "Nothing is missing: the one completed table is the observed one."
    boundary = len(result.tipping_point or ())
    return (f"The conclusion changes at {boundary} boundary table(s) of {len(grid)}." if boundary
            else f"The conclusion is the same for every one of the {len(grid)} completed tables.")


def tipping_table(result: AnalysisResult, arms: Sequence[str]) -> Table:
    """The grid of a tipping_point analysis, and its tipping point as a footnote."""
    reference, treated = arms[0], arms[1]
    grid = list(result.grid or ())
    title = f"Tipping point of {analysis_name(result)}"
    if grid and "delta" in grid[0]:
        rows = tuple((fmt_estimate(g["delta"]), f"{fmt_estimate(g['estimate'])} "
                      f"{fmt_ci(g['ci'], decimals_for(g['estimate']))}", fmt_p(g["p_value"]))
                     for g in grid)
        note = tipping_conclusion(result)
        return Table(title, (f"Shift of {treated}'s imputed values", "Difference (95% CI)", "p"),
                     rows, (note,))
    def cell(row) -> tuple[int, int]:
        return row["events_among_missing"][treated], row["events_among_missing"][reference]

    boundary = [cell(b) for b in (result.tipping_point or ())]
    shown = grid if len(grid) <= _TIPPING_ROWS else [g for g in grid if cell(g) in boundary]
    rows = tuple((str(cell(g)[0]), str(cell(g)[1]), fmt_estimate(g["estimate"]),
                  fmt_p(g["p_value"]), "yes" if cell(g) in boundary else "") for g in shown)
    notes = ["Boundary: p >= alpha next to a table (one event more or fewer in one arm) with "
             "p < alpha." if boundary else tipping_conclusion(result)]
    if len(shown) < len(grid):
        notes.append(f"Boundary rows of the {len(grid)} completed tables (the figure shows all).")
    return Table(title, (f"Events among missing, {treated}", f"Events among missing, {reference}",
                         "Risk difference", "p", "Boundary"), rows, tuple(notes))


# --------------------------------------------------------------------------
# Estimands and missing data (DESIGN.md 9)
# --------------------------------------------------------------------------

WARNING_MARK = " *"
WARNING_FOOTNOTE = ("* an arm is analysed with fewer than half of its randomized subjects, "
                    "or fewer than 3: see the warnings under Estimands and missing data.")


def _summary_line(result: AnalysisResult | None) -> str:
    """'win probability, UC-MSC vs control: 0.605 (0.457, 0.733), p 0.171' per comparison;
    a tipping point's conclusion; a not-estimable analysis's reason."""
    if result is not None and not result.estimable:
        return f"{NOT_ESTIMABLE}: {result.reason}"
    if result is not None and result.grid is not None:
        return tipping_conclusion(result)
    if result is None or not result.comparisons:
        return NA
    parts = []
    for c in result.comparisons:
        versus = f"{c.arm} vs {c.reference}" if c.reference else c.arm
        parts.append(f"{_label(c.estimand)}, {versus}: {estimate_with_ci(c)}"
                     f"{WARNING_MARK if result.warnings else ''}, p {fmt_p(c.p_value)}")
    return "; ".join(parts)


def _per_arm(counts: Mapping[str, Any]) -> str:
    return ", ".join(f"{arm} {NA if n is None else int(n)}" for arm, n in counts.items())


def estimand_table(estimand: Mapping[str, Any], results: TrialResults,
                   methods: Mapping[str, str]) -> Table:
    """The attributes of one estimand (ICH E9(R1)) with its main and sensitivity results."""
    by_id = {a.id: a for a in results.analyses}
    main = by_id.get(estimand["analysis"])
    strategies = "; ".join(f"{event}: {_label(rule)}"
                           for event, rule in estimand["intercurrent"].items())
    rows = [("Population", str(estimand["population"])),
            ("Variable", str(estimand["variable"])),
            ("Intercurrent events and strategies", strategies or "none"),
            ("Population-level summary", _label(estimand["summary_measure"] or NA)),
            ("Main analysis", f"{estimand['analysis']} ({methods.get(estimand['analysis'], '')}): "
                              f"{_summary_line(main)}")]
    for name in estimand["sensitivity"]:
        rows.append(("Sensitivity analysis", f"{name} ({methods.get(name, '')}): "
                                             f"{_summary_line(by_id.get(name))}"))
    if not estimand["sensitivity"]:
        rows.append(("Sensitivity analyses", "none declared"))
    rows += [("Randomized per arm", _per_arm(estimand["n_randomized"])),
             ("Analysed per arm", _per_arm(estimand["n_analysed"]))]
    return Table(f"Estimand {estimand['id']}", ("Attribute", "Value"), tuple(rows))


def missingness_table(results: TrialResults) -> Table:
    rows = tuple((analysis_name(a), m.arm, str(m.day), m.reason, str(m.n))
                 for a in results.analyses for m in a.missingness)
    return Table("Missing data by analysis, arm, visit day and reason",
                 ("Analysis", "Arm", "Day", "Reason", "Subjects"), rows,
                 ("Subjects of the analysis population without an analysed value; time-to-event, "
                  "binary and free-days endpoints show their horizon as the day.",))


def warnings_table(results: TrialResults) -> Table:
    rows = tuple((analysis_name(a), w) for a in results.analyses for w in a.warnings)
    return Table("Warnings on the analyses", ("Analysis", "Warning"), rows)
