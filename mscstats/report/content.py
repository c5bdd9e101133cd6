"""What the report says, section by section, before any layout: tables (tables.py),
figures rendered to fixed PNG bytes (figures.py) and text. report.py lays it out.

Kept apart from the PDF code so a notebook (or a test) can look at the content
without reportlab.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib.metadata
import io
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Union

from . import figures, tables
from .. import schema
from ..summaries.safety import ANY, FATAL, INFUSION, SERIOUS
from ..plan import Sap
from ..trial.quality import Trial
from ..results import TrialResults, comparisons_of
from ..specs import METHODS
from .tables import Table

__all__ = ["Figure", "Text", "Section", "ReportContent", "report_content", "render_png",
           "number_items", "METHOD_TEXT", "FIGURE_DPI"]

FIGURE_DPI = 130
# Helvetica and fonts with its metrics, then matplotlib's own (always there)
FIGURE_FONTS = ("Liberation Sans", "Nimbus Sans", "Arial", "Helvetica", "DejaVu Sans")
# Shown in the manifest besides those pipeline.analyze records.
REPORT_PACKAGES = ("matplotlib", "reportlab", "svglib")
# One sentence per method for the methods section (specs.METHODS rows, as the reference).
METHOD_TEXT = {m: row.sentence for m, row in METHODS.items()}


@dataclass(frozen=True)
class Figure:
    caption: str
    png: bytes                     # raster, for formats that cannot take vector figures
    width_inches: float            # size at FIGURE_DPI, for layout
    height_inches: float
    number: str = ""               # "Figure 2", set by number_items
    svg: bytes = b""               # the same drawing as SVG (the PDF draws it as vectors)


@dataclass(frozen=True)
class Text:
    text: str
    style: str = "body"            # "body" | "heading"


Item = Union[Table, Figure, Text]


@dataclass(frozen=True)
class Section:
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ReportContent:
    title: str
    facts: tuple[tuple[str, str], ...]      # title page: (label, value)
    sections: tuple[Section, ...]
    header: tuple[str, ...] = ()            # running header: left text, right text


def _saved(ax, fmt: str) -> bytes:
    """The axes' figure saved without metadata (no date, no software), so equal inputs
    give equal bytes; SVG ids are fixed by the rc svg.hashsalt report_content sets."""
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    # a tight box as well as the constrained layout: the risk table's rows hang
    # below the axes, and layout engines do not always make all the room they need
    ax.figure.savefig(buffer, format=fmt, dpi=FIGURE_DPI, metadata=metadata,
                      bbox_inches="tight", pad_inches=0.05)
    return buffer.getvalue()


def render_png(ax, svg: bool = False) -> Figure:
    """PNG bytes of the axes' figure at a fixed dpi (and, with svg, the SVG too)."""
    png = _saved(ax, "png")
    width, height = _png_size(png)
    return Figure("", png, width / FIGURE_DPI, height / FIGURE_DPI,
                  svg=_saved(ax, "svg") if svg else b"")


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


# The formats report_content renders its figures in: the PDF needs the SVG only (a
# PNG beside it cost a second), RTF and DOCX the PNG. Set for one report_content call.
_FIGURE_FORMATS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "figure_formats", default=("png", "svg"))


def _figure(caption: str, ax) -> Figure:
    formats = _FIGURE_FORMATS.get()
    if "png" in formats:
        return dataclasses.replace(render_png(ax, svg="svg" in formats), caption=caption)
    svg = _saved(ax, "svg")
    width, height = _svg_size(svg)
    return Figure(caption, b"", width, height, svg=svg)


def _svg_size(svg: bytes) -> tuple[float, float]:
    """Width and height in inches from the SVG's root (matplotlib writes them in pt)."""
    import re
    found = re.search(rb'width="([0-9.]+)pt" height="([0-9.]+)pt"', svg[:2000])
    return float(found[1]) / 72, float(found[2]) / 72


# --------------------------------------------------------------------------
# Numbering: one pass over the finished sections
# --------------------------------------------------------------------------

LISTING_PREFIX = "Listing: "


def number_items(sections: Sequence[Section],
                 populations: Mapping[str, str]) -> tuple[Section, ...]:
    """Tables, listings and figures numbered in reading order ("Table 3", "Listing 1",
    "Figure 2"); a table's title names the population of its section (populations:
    section title -> "ITT population") where it does not already (a title ending in a
    parenthesis names its own, e.g. "(full analysis set, ITT)")."""
    counts = {"Table": 0, "Listing": 0, "Figure": 0}

    def numbered(item: Item, population: str) -> Item:
        if isinstance(item, Text):
            return item
        if isinstance(item, Figure):
            kind, changes = "Figure", {}
        elif item.title.startswith(LISTING_PREFIX):
            title = item.title[len(LISTING_PREFIX):]
            kind, changes = "Listing", {"title": title[:1].upper() + title[1:]}
        else:
            kind, changes = "Table", {}
        if kind == "Figure":
            if population and "population" not in item.caption:
                changes["caption"] = f"{item.caption.rstrip('.')} ({population})."
        elif population and "population" not in item.title and not item.title.endswith(")"):
            changes["title"] = f"{changes.get('title', item.title)} ({population})"
        counts[kind] += 1
        return dataclasses.replace(item, number=f"{kind} {counts[kind]}", **changes)

    return tuple(Section(s.title, tuple(numbered(i, populations.get(s.title, ""))
                                        for i in s.items)) for s in sections)


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

def _labels(sap: Sap) -> dict[str, str]:
    return {e.id: e.label or e.id for e in sap.endpoints}


def _subjects_section(results: TrialResults) -> Section:
    """The flow and baseline summaries of results.json, laid out (the flow also as a
    CONSORT-style diagram)."""
    items: list[Item] = []
    if results.flow is not None:
        items.append(tables.flow_table(results.flow))
        items.append(_figure("Subject flow (CONSORT-style): subjects at each stage, by arm.",
                             figures.plot_flow(flow_stages(results.flow), results.flow.arms)))
    if results.baseline is not None:
        items.append(tables.baseline_table(results.baseline))
    return Section("Subjects", tuple(items))


# the diagram's main line; the subjects who did not complete are one box, its causes inside
_FLOW_LINE = ("randomized", "treated", "discontinued", "completed")
_FLOW_CAUSES = (("died", "died"), ("lost_to_follow_up", "lost"))


def flow_stages(flow) -> list[tuple[str, dict[str, object]]]:
    """The flow summary (results.flow) as the diagram's boxes, top to bottom: (stage
    label, {arm: n, "Total": n}); enrolment, treatment, not completed (died, lost),
    completed, then each analysis population. A stage not applicable to an arm
    (treated, for an arm without study drug) says so."""
    names = {s.name for s in flow.stages}

    def number(stage, arm):
        return stage.total if arm == "Total" else stage.by_arm.get(arm)

    def count(stage, arm):
        n = number(stage, arm)
        if n is None:
            return tables.NOT_APPLICABLE
        if stage.name != "discontinued":
            return n
        causes = [f"{word} {number(flow.stage(name), arm)}"
                  for name, word in _FLOW_CAUSES if name in names]
        return f"{n} ({', '.join(causes)})" if causes else n

    shown = [s for s in flow.stages
             if s.name in _FLOW_LINE or s.name.startswith("analysed_")]
    return [(s.label, {arm: count(s, arm) for arm in (*flow.arms, "Total")}) for s in shown]


def _endpoint_section(sap: Sap, results: TrialResults) -> Section:
    notes = tuple(Text(n) for a in results.analyses for n in tables.notes_of(a))
    items = [tables.endpoint_table(results, _labels(sap)), tables.arm_summary_table(results)]
    test_table = tables.tests_table(results)
    if test_table.rows:
        items.append(test_table)
    if notes:
        items += [Text("Notes from the analyses", "heading"), *notes]
    return Section("Endpoints", tuple(items))


def _curve_figures(sap: Sap, results: TrialResults) -> list[Figure]:
    # Analyses of one endpoint (log-rank, RMST) carry the same curves: draw them once,
    # naming every analysis they belong to.
    drawn: dict[tuple, list[str]] = {}
    for a in results.analyses:
        for kind in ("survival", "cumulative_incidence"):
            curves = tuple(c for c in a.curves if c.kind == kind)
            if curves:
                drawn.setdefault((kind, a.endpoint, curves), []).append(a.id)
    labels = _labels(sap)
    by_id = {a.id: a for a in results.analyses}
    out = []
    for (kind, endpoint, curves), ids in drawn.items():
        what = f"{labels.get(endpoint, endpoint)} ({', '.join(ids)})."
        lines = [line for i in ids for line in tables.comparison_lines(by_id[i])]
        if kind == "survival":
            out.append(_figure("Kaplan-Meier curves with 95% CI, censoring marks and number "
                               f"at risk, with the comparisons of the analyses: {what}",
                               figures.plot_survival(curves, annotation=lines)))
        else:
            out.append(_figure("Cumulative incidence with 95% CI and number at risk, with the "
                               f"comparisons of the analyses: {what}",
                               figures.plot_cumulative_incidence(curves, annotation=lines)))
    return out


# the daily curves average the values recorded on each day: the dead (and the
# discharged) have none, so a late mean is of the survivors still in hospital
_SURVIVORS = ("Each day's mean is of the subjects with a value that day: survivors still "
              "under observation only (the dead and the discharged have none).")


def _course_figures(sap: Sap, results: TrialResults) -> list[Figure]:
    """The daily course summaries of results.json (summaries/course.py), drawn."""
    course = results.course
    if course is None:
        return []
    out = []
    for p in course.params:
        individual = p.trajectory_frame()
        if not p.log:
            ax = figures.plot_over_days(p.summary_frame(), p.label, individual=individual)
            out.append(_figure(f"{p.label} by study day and arm: mean and 95% CI; thin lines "
                               f"are individual subjects. {_SURVIVORS}", ax))
            continue
        ax = figures.plot_cytokine(p.summary_frame(), p.label, p.lloq, individual=individual)
        out.append(_figure(f"{p.label} by study day and arm (log scale): geometric mean and "
                           "95% CI; dashed line: LLOQ (values below it set by the SAP rule "
                           f"'{sap.data.below_lloq}'). {_SURVIVORS}", ax))
    if course.who is not None:
        out.append(_figure("WHO clinical progression scale by arm and study day (0 best, 10 "
                           "dead; discharged counts as 2).",
                           figures.plot_who_distribution(course.who.frame())))
    return out


def _endpoint_unit(sap: Sap, endpoint_id: str) -> str:
    """The unit a difference of the endpoint is in (forest panels never mix units)."""
    endpoint = sap.endpoint(endpoint_id)
    if endpoint.kind in ("free_days", "time_to_event"):
        return "days"
    param = schema.find_param(endpoint.param or "")
    return param.unit if param is not None else ""


_ESTIMAND_PLURAL = {"hodges_lehmann_shift": "Hodges-Lehmann shifts",
                    "rmst_difference": "differences in restricted mean time",
                    "win_probability": "win probabilities"}
_UNITLESS = ("win_probability",)          # a probability whatever the endpoint's unit


def _forest_figures(sap: Sap, results: TrialResults) -> list[Figure]:
    pairs = [(a, c) for a, c in comparisons_of(results.analyses) if c.reference]
    groups: dict[tuple[str, str], list] = {}
    for a, c in pairs:
        if tables.is_ratio(c.estimand):
            key = ("ratio", "")
        else:
            key = (c.estimand, "" if c.estimand in _UNITLESS else _endpoint_unit(sap, a.endpoint))
        groups.setdefault(key, []).append((a, c))
    out = []
    for (estimand, unit), group in groups.items():
        what = "ratios" if estimand == "ratio" else _ESTIMAND_PLURAL.get(
            estimand, estimand.replace("_", " ") + "s")
        if unit:
            what += f", {unit}"
        out.append(_figure(f"Forest plot of the comparisons ({what}) with 95% CI.",
                           figures.plot_forest(group)))
    return out


def _tipping_figures(sap: Sap, results: TrialResults) -> list[Item]:
    labels = _labels(sap)
    out: list[Item] = []
    for a in (a for a in results.analyses if a.grid):
        binary = "events_among_missing" in a.grid[0]
        if len(a.grid) == 1:          # nothing missing: the table says so, a figure adds nothing
            out.append(tables.tipping_table(a, sap.study.arms))
            continue
        out.append(_figure(f"Tipping point of {a.id}: {labels.get(a.endpoint, a.endpoint)}"
                           + (" (p-value of every completed table; hatched p < alpha, outlined "
                              "the boundary)." if binary else " (pooled estimate and 95% CI "
                              "against the shift of the treated arm's imputed values)."),
                           figures.plot_tipping_point(a, sap.study.arms, sap.study.alpha)))
        out.append(tables.tipping_table(a, sap.study.arms))
    return out


def _estimand_section(sap: Sap, results: TrialResults) -> Section | None:
    """Each estimand's attributes (ICH E9(R1)), the missing data by reason and the
    warnings on arms analysed with few of their randomized subjects."""
    methods = {a.id: a.method for a in sap.analyses}
    items: list[Item] = [tables.estimand_table(e.to_dict(), results, methods)
                         for e in results.estimands]
    missing = tables.missingness_table(results)
    if missing.rows:
        items.append(missing)
    warned = tables.warnings_table(results)
    if warned.rows:
        items.append(warned)
    return Section("Estimands and missing data", tuple(items)) if items else None


def _safety_section(results: TrialResults) -> Section:
    """The safety summary of results.json (summaries/safety.py), laid out."""
    safety = results.safety
    if safety is None:
        return Section("Safety", ())
    category = {r.soc: r for r in safety.categories}
    two_arms = len(safety.arms) > 1
    items: list[Item] = [tables.ae_category_table(safety)]
    items.append(tables.ae_term_table(safety, safety.by_term, "Adverse events by body system "
                                      "and preferred term", category[ANY]))
    items.append(tables.ae_grade_table(safety))
    top = safety.most_common_rows()
    if top:
        rd = safety.risk_difference_frame(top) if two_arms else None
        items.append(_figure("Adverse events by arm: subjects with each of the most common "
                             "preferred terms" + (", and risk differences with 95% CI."
                                                  if two_arms else "."),
                             figures.plot_ae_incidence(safety.incidence_frame(top), rd)))
    for rows, name, title in ((safety.serious, SERIOUS, "Serious adverse events"),
                              (safety.fatal, FATAL, "Fatal adverse events")):
        items.append(tables.ae_term_table(safety, rows, title, category[name],
                                          total_label=f"Any {title[:-1].lower()}"))
    items.append(tables.ae_term_table(
        safety, safety.infusion, "Adverse events within 6 hours after an IV or nebulized "
        "dose", category[INFUSION], "Oral doses open no infusion window. Without a clock time "
        "on either side, an event on the day of a dose counts.",
        total_label="Any adverse event in the window"))
    if safety.listing:
        items.append(tables.listing_table(safety.listing, safety.population))
    return Section("Safety", tuple(items))


def _methods_section(sap: Sap) -> Section:
    items: list[Item] = [Text(
        f"Analysis population: {sap.study.population} unless an analysis names another; "
        f"two-sided alpha {sap.study.alpha:g}; seed {sap.study.seed} for every random "
        f"step. Daily rule for several records a day: '{sap.data.daily}'; cytokine results "
        f"below the LLOQ: '{sap.data.below_lloq}'.")]
    items.append(Table("Endpoints", ("Endpoint", "Label", "Kind", "Definition"),
                       tuple((e.id, e.label, e.kind, endpoint_definition(e))
                             for e in sap.endpoints)))
    methods = list(dict.fromkeys(a.method for a in sap.analyses))
    rows = tuple((m, ", ".join(a.id for a in sap.analyses if a.method == m),
                  METHOD_TEXT[m], METHODS[m].reference) for m in methods)
    items.append(Table("Methods", ("Method", "Analyses", "What it estimates and tests",
                                   "Reference implementation"), rows))
    imputed = [a.id for a in sap.analyses if a.options.get("missing") == "mi"]
    if imputed:
        items.append(Text(f"Multiple imputation ({', '.join(imputed)}): the endpoint's visits "
                          "imputed one after the other by normal linear regression on arm, "
                          "baseline, covariates and earlier visits with posterior draws (mice's "
                          "norm), each completed data set analysed by the analysis's method, "
                          "Rubin's rules with Barnard-Rubin degrees of freedom."))
    if sap.multiplicity.method != "none" and sap.multiplicity.family:
        items.append(Text(f"Multiplicity: {sap.multiplicity.method} adjustment of the primary "
                          f"p-values of {', '.join(sap.multiplicity.family)}."))
    return Section("Methods", tuple(items))


_DEATH_RULE = {"censor_at_horizon": "death before the event: censored at the horizon",
               "competing": "death before the event: a competing event",
               "event": "death counts as the event",
               "censor": "death before the event: censored on the day of death"}
_MISSING_RULE = {"exclude": "lost before the horizon without the event: missing",
                 "failure": "lost before the horizon without the event: a failure",
                 "success": "lost before the horizon without the event: a success"}


def endpoint_definition(e) -> str:
    """The endpoint's rule as a sentence, from the plan's Endpoint fields: what is
    measured (parameter, day, window) or which event by which horizon, and how death,
    discharge and loss are handled."""
    parts = []
    if e.kind in ("change", "value", "ordinal"):
        what = {"change": "change from baseline in", "value": "value of",
                "ordinal": "category of"}[e.kind]
        days = f"days {', '.join(map(str, e.days))}" if e.days else f"day {e.day}"
        parts.append(f"{what} {e.param}{' (log scale)' if e.transform == 'log' else ''} on "
                     f"{days} (window +/- {e.window} day{'s' if e.window != 1 else ''})")
        parts += [f"{event}: {strategy.replace('_', ' ')}" for event, strategy in e.intercurrent]
    elif e.kind == "free_days":
        parts.append(f"days alive and free of mechanical ventilation (IMV or ECMO) in days "
                     f"1-{e.horizon}; 0 when dead by day {e.horizon}")
    else:
        rule = _event_rule(e.event) if e.event is not None else "the event"
        parts.append(("first day of " if e.kind == "time_to_event" else "") + rule +
                     f" by day {e.horizon}")
        if e.kind == "time_to_event":
            parts.append(_DEATH_RULE.get(e.death, e.death))
        else:
            parts.append(_MISSING_RULE.get(e.missing, e.missing))
    return "; ".join(parts) + "."


def _event_rule(rule) -> str:
    joined = (" or " if rule.mode == "any" else " and ").join(
        f"({_event_rule(item)})" if hasattr(item, "mode") else _condition(item)
        for item in rule.items)
    return joined


def _condition(c) -> str:
    if c.state:
        return {"discharged": "discharge", "dead": "death",
                "ventilated": "mechanical ventilation"}.get(c.state, c.state)
    if c.ae:
        return f"an adverse event ({c.ae})"
    target = f"change in {c.param} {c.op} {c.chg:g}" if c.chg is not None \
        else f"{c.param} {c.op} {c.value:g}" if isinstance(c.value, (int, float)) \
        else f"{c.param} {c.op} {c.value}"
    return target + (f" on {c.on}" if c.on else "")


def _manifest_section(results: TrialResults) -> Section:
    manifest = results.manifest
    packages = dict(manifest.get("packages", {}))
    for name in REPORT_PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            packages[name] = "not installed"
    rows = [("mscstats", results.mscstats_version),
            ("Data SHA-256", str(manifest.get("data_sha256", ""))),
            ("SAP SHA-256", str(manifest.get("sap_sha256", ""))),
            ("SAP file", str(manifest.get("sap", ""))),
            ("Seed", str(manifest.get("seed", "")))]
    rows += [(name, version) for name, version in sorted(packages.items())]
    return Section("Manifest", (Table("Reproducibility manifest", ("Item", "Value"),
                                      tuple(rows)),))


def report_content(trial: Trial, sap: Sap, results: TrialResults,
                   progress: Callable[[str], None] | None = None,
                   figure_formats: tuple[str, ...] = ("png", "svg")) -> ReportContent:
    """Everything the report shows, in order; figures rendered in figure_formats
    ("png" and/or "svg")."""
    token = _FIGURE_FORMATS.set(tuple(figure_formats))
    try:
        return _report_content(trial, sap, results, progress)
    finally:
        _FIGURE_FORMATS.reset(token)


def _report_content(trial: Trial, sap: Sap, results: TrialResults,
                    progress: Callable[[str], None] | None) -> ReportContent:
    import matplotlib
    step = progress or (lambda _: None)
    # text.usetex off whatever the user's matplotlibrc says: text from the data is
    # drawn literally (figures.py escapes `$`; LaTeX would choke on _, % and &)
    # SVG text stays text (svg.fonttype none: searchable in the PDF and quick for svglib
    # to draw, where glyph paths took seconds), measured in a font with Helvetica's
    # metrics where one is installed, drawn in the PDF in Helvetica (pdf.py)
    with matplotlib.rc_context({"svg.hashsalt": "mscstats", "font.size": 9,
                                "svg.fonttype": "none", "font.family": "sans-serif",
                                "font.sans-serif": list(FIGURE_FONTS),
                                "axes.spines.top": False, "axes.spines.right": False,
                                "text.usetex": False}):
        step("tables: subjects and endpoints")
        sections = [_subjects_section(results), _endpoint_section(sap, results)]
        estimands = _estimand_section(sap, results)
        if estimands is not None:
            sections.append(estimands)
        step("figures")
        shown = (_curve_figures(sap, results) + _course_figures(sap, results)
                 + _forest_figures(sap, results) + _tipping_figures(sap, results))
        sections.append(Section("Figures", tuple(shown)))
        step("safety")
        sections.append(_safety_section(results))
    sections += [_methods_section(sap),
                 Section("Appendix: data quality", tuple(tables.quality_tables(
                     results.data_quality))),
                 _manifest_section(results)]
    facts = (("Study", sap.study.id), ("Arms", ", ".join(sap.study.arms)),
             ("Statistical analysis plan", f"{sap.source} (SHA-256 {sap.sha256[:16]}...)"
              + (f", {sap_name(sap)}" if sap.study.sap_version or sap.study.sap_status else "")),
             ("Data", f"{trial.name} (SHA-256 {trial.data_sha256[:16]}...)"),
             ("Data cut-off", sap.study.data_cutoff or "not given in the SAP"),
             ("Subjects", str(len(trial.adsl))), ("mscstats", results.mscstats_version))
    return ReportContent(sap.study.title or sap.study.id, facts,
                         number_items(sections, _populations(sap)),
                         _running_header(sap, trial, results.mscstats_version))


def _running_header(sap: Sap, trial: Trial, version: str) -> tuple[str, str]:
    """Study, SAP, data cut-off (or, without one, the data's SHA-256), mscstats version."""
    data = (f"data cut-off {sap.study.data_cutoff}" if sap.study.data_cutoff
            else f"data SHA-256 {trial.data_sha256[:16]}")
    return (f"{sap.study.id} | {sap_name(sap)} | {data}", f"mscstats {version}")


def sap_name(sap: Sap) -> str:
    """'SAP v2.1 (draft)' as the SAP declares itself, else 'SAP SHA-256 <12 hex>'."""
    if not (sap.study.sap_version or sap.study.sap_status):
        return f"SAP SHA-256 {sap.sha256[:12]}"
    version = f" v{sap.study.sap_version}" if sap.study.sap_version else ""
    status = f" ({sap.study.sap_status})" if sap.study.sap_status else ""
    return f"SAP{version}{status}"


def _populations(sap: Sap) -> dict[str, str]:
    """The population each section's tables are of, as their titles name it."""
    main = sap.study.population
    others: dict[str, list[str]] = {}
    for a in sap.analyses:
        if sap.analysis_population(a) != main:
            others.setdefault(sap.analysis_population(a), []).append(a.id)
    of_analyses = f"{main} population" + "".join(f"; {population} for {', '.join(ids)}"
                                                 for population, ids in others.items())
    return {"Subjects": "all subjects in adsl", "Endpoints": of_analyses,
            "Estimands and missing data": of_analyses, "Figures": of_analyses,
            "Safety": "safety population"}
