"""The report's tables: the only place that rounds and formats numbers.

Formatting rules (hand-checkable):
- an estimate has 3 significant digits, with 0 to 3 decimals (27.07 -> "27.1",
  0.5596 -> "0.560", 556.7 -> "557"); its CI bounds take the estimate's decimals;
- a p-value has 3 decimals, "<0.001" below 0.001;
- a proportion is "n (p%)" with one decimal of percent;
- baseline mean (SD) and median (Q1, Q3) have one decimal;
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

from ..summaries.descriptive import BaselineVariable
from ..results import AnalysisResult, Comparison, TrialResults

__all__ = ["Table", "fmt_number", "decimals_for", "fmt_estimate", "fmt_ci", "fmt_p",
           "fmt_count", "ci_label", "is_ratio", "comparison_lines", "baseline_table", "flow_table", "endpoint_table",
           "tests_table", "arm_summary_table", "ae_category_table", "ae_term_table",
           "listing_table", "quality_tables", "tipping_table", "RATIO_ESTIMANDS",
           "estimand_table", "missingness_table", "warnings_table"]

NA = "NA"
NOT_ESTIMABLE = "not estimable"
RATIO_ESTIMANDS = ("geometric_mean_ratio", "hazard_ratio", "subdistribution_hazard_ratio",
                   "risk_ratio", "odds_ratio", "common_odds_ratio", "rmst_ratio",
                   "geometric_mean_change")


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

def flow_table(flow: pd.DataFrame) -> Table:
    columns = tuple(c for c in flow.columns if c != "stage")
    rows = tuple((row["stage"], *(str(int(row[c])) for c in columns))
                 for _, row in flow.iterrows())
    return Table("Subject flow", ("", *columns), rows,
                 ("mITT: ITT subjects who received at least one dose (arms without study "
                  "drug count as dosed).",))


def _continuous_rows(v: BaselineVariable, arms: Sequence[str]) -> list[tuple[str, ...]]:
    s = {arm: v.by_arm[arm] for arm in arms}
    rows = [("  n", *(str(s[a].n) for a in arms)),
            ("  Mean (SD)", *(f"{fmt_number(s[a].mean, 1)} ({fmt_number(s[a].sd, 1)})"
                              for a in arms)),
            ("  Median (Q1, Q3)", *(f"{fmt_number(s[a].median, 1)} "
                                    f"({fmt_number(s[a].q1, 1)}, {fmt_number(s[a].q3, 1)})"
                                    for a in arms))]
    return rows


def baseline_table(variables: Sequence[BaselineVariable], arms: Sequence[str],
                   population: str) -> Table:
    rows, groups = [], []
    n_by_arm = variables[0].n if variables else {arm: 0 for arm in arms}
    for v in variables:
        groups.append(len(rows))
        rows.append((v.label, *("" for _ in arms)))
        if v.kind == "continuous":
            rows += _continuous_rows(v, arms)
        else:
            levels = list(next(iter(v.by_arm.values())).keys()) if v.by_arm else []
            for level in levels:
                rows.append((f"  {level}", *(fmt_count(v.by_arm[a][level], v.n[a])
                                             for a in arms)))
    columns = ("Characteristic", *(f"{a} (N = {n_by_arm[a]})" for a in arms))
    return Table(f"Baseline characteristics ({population} population)", columns, tuple(rows),
                 ("Baseline: the last value on or before day 1. n (%) of the arm; "
                  "Q1, Q3: quartiles.",), tuple(groups))


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
            df = "" if t.df is None else fmt_estimate(t.df)
            rows.append((analysis_name(a), _label(t.name), fmt_estimate(t.statistic), df,
                         fmt_p(t.p_value)))
    return Table("Hypothesis tests", ("Analysis", "Test", "Statistic", "df", "p"), tuple(rows))


def _arm_summary(stats: Mapping[str, Any]) -> str:
    """The headline numbers of an arm, whichever a runner reports."""
    parts = []
    if "events" in stats and "n" in stats:
        parts.append(f"events {fmt_count(stats['events'], stats['n'])}")
    if stats.get("median_ci") is not None and "median" in stats:
        parts.append(f"median {fmt_estimate(stats['median'])} "
                     f"{fmt_ci(stats['median_ci'], decimals_for(stats['median']))}")
    elif "mean" in stats and "sd" in stats:
        parts.append(f"mean (SD) {fmt_estimate(stats['mean'])} ({fmt_estimate(stats['sd'])})")
    elif "median" in stats:
        parts.append(f"median {fmt_estimate(stats['median'])}")
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

def _incidence_cells(block: pd.DataFrame, arms: Sequence[str]) -> tuple[str, ...]:
    by_arm = block.set_index("ARM")
    return tuple(fmt_count(by_arm.loc[a, "n"], by_arm.loc[a, "N"]) for a in arms)


def _rd_cell(rd: pd.DataFrame, body_system: str, term: str, arm: str) -> str:
    hit = rd[(rd["AEBODSYS"] == body_system) & (rd["AEDECOD"] == term) & (rd["ARM"] == arm)]
    if hit.empty:
        return NA
    row = hit.iloc[0]
    ci = fmt_ci((100 * row["lower"], 100 * row["upper"]), 1)
    return f"{fmt_number(100 * row['estimate'], 1)} {ci}"


def _arm_columns(incidence: pd.DataFrame, arms: Sequence[str], rd: pd.DataFrame | None):
    totals = incidence.groupby("ARM", sort=False)["N"].first()
    columns = [f"{a} (N = {int(totals.get(a, 0))})" for a in arms]
    if rd is not None:
        columns += [f"RD {a} - {arms[0]}, % (95% CI)" for a in arms[1:]]
    return columns


def ae_category_table(categories: pd.DataFrame, rd: pd.DataFrame | None,
                      arms: Sequence[str]) -> Table:
    rows = []
    for name, block in categories.groupby("AEBODSYS", sort=False):
        extra = tuple(_rd_cell(rd, name, "", a) for a in arms[1:]) if rd is not None else ()
        rows.append((name, *_incidence_cells(block, arms), *extra))
    return Table("Treatment-emergent adverse events: subjects with at least one",
                 ("", *_arm_columns(categories, arms, rd)), tuple(rows),
                 ("Subjects with >= 1 event, n (% of the arm's safety population). RD: risk "
                  "difference with Newcombe's hybrid score interval.",))


def ae_term_table(incidence: pd.DataFrame, arms: Sequence[str], title: str,
                  footnote: str = "") -> Table:
    rows, groups = [], []
    for (body_system, term), block in incidence.groupby(["AEBODSYS", "AEDECOD"], sort=False):
        if term == "":
            groups.append(len(rows))
        rows.append((body_system if term == "" else f"  {term}", *_incidence_cells(block, arms)))
    notes = ("Body system, then preferred term: subjects with >= 1 event, n (%).",)
    return Table(title, ("Body system / preferred term", *_arm_columns(incidence, arms, None)),
                 tuple(rows), notes + ((footnote,) if footnote else ()), tuple(groups))


def listing_table(listing: pd.DataFrame) -> Table:
    rows = tuple((str(r.USUBJID), str(r.ARM), fmt_number(r.DAY, 0), str(r.EVENT),
                  fmt_number(r.GRADE, 0) if _finite(r.GRADE) else "")
                 for r in listing.itertuples(index=False))
    return Table("Listing: deaths and serious adverse events",
                 ("Subject", "Arm", "Study day", "Event", "Grade"), rows)


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
    rows = tuple((analysis_name(a), str(m["arm"]), str(m["day"]), str(m["reason"]), str(m["n"]))
                 for a in results.analyses for m in a.missingness)
    return Table("Missing data by analysis, arm, visit day and reason",
                 ("Analysis", "Arm", "Day", "Reason", "Subjects"), rows,
                 ("Subjects of the analysis population without an analysed value; time-to-event, "
                  "binary and free-days endpoints show their horizon as the day.",))


def warnings_table(results: TrialResults) -> Table:
    rows = tuple((analysis_name(a), w) for a in results.analyses for w in a.warnings)
    return Table("Warnings on the analyses", ("Analysis", "Warning"), rows)
