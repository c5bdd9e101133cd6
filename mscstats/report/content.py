"""What the report says, section by section, before any layout: tables (tables.py),
figures rendered to fixed PNG bytes (figures.py) and text. report.py lays it out.

Kept apart from the PDF code so a notebook (or a test) can look at the content
without reportlab.
"""

from __future__ import annotations

import importlib.metadata
import io
from dataclasses import dataclass
from typing import Callable, Union

from . import figures, tables
from .. import schema
from ..summaries.safety import ANY, FATAL, INFUSION, SERIOUS
from ..plan import Sap
from ..trial.quality import Trial
from ..results import TrialResults, comparisons_of
from ..specs import METHODS
from .tables import Table

__all__ = ["Figure", "Text", "Section", "ReportContent", "report_content", "render_png",
           "METHOD_TEXT", "FIGURE_DPI"]

FIGURE_DPI = 130
# Shown in the manifest besides those pipeline.analyze records.
REPORT_PACKAGES = ("matplotlib", "reportlab")
# One sentence per method for the methods section (specs.METHODS rows, as the reference).
METHOD_TEXT = {m: row.sentence for m, row in METHODS.items()}


@dataclass(frozen=True)
class Figure:
    caption: str
    png: bytes
    width_inches: float            # size at FIGURE_DPI, for layout
    height_inches: float


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


def render_png(ax) -> Figure:
    """PNG bytes of the axes' figure: fixed dpi, no metadata, so equal inputs give
    equal bytes (and a byte-identical PDF)."""
    fig = ax.figure
    buffer = io.BytesIO()
    # a tight box as well as the constrained layout: the risk table's rows hang
    # below the axes, and layout engines do not always make all the room they need
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None},
                bbox_inches="tight", pad_inches=0.05)
    png = buffer.getvalue()
    width, height = _png_size(png)
    return Figure("", png, width / FIGURE_DPI, height / FIGURE_DPI)


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _figure(caption: str, ax) -> Figure:
    f = render_png(ax)
    return Figure(caption, f.png, f.width_inches, f.height_inches)


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------

def _labels(sap: Sap) -> dict[str, str]:
    return {e.id: e.label or e.id for e in sap.endpoints}


def _subjects_section(results: TrialResults) -> Section:
    """The flow and baseline summaries of results.json, laid out."""
    items = []
    if results.flow is not None:
        items.append(tables.flow_table(results.flow))
    if results.baseline is not None:
        items.append(tables.baseline_table(results.baseline))
    return Section("Subjects", tuple(items))


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
    out = []
    for (kind, endpoint, curves), ids in drawn.items():
        what = f"{labels.get(endpoint, endpoint)} ({', '.join(ids)})."
        if kind == "survival":
            out.append(_figure("Kaplan-Meier curves with 95% CI, censoring marks and number "
                               f"at risk: {what}", figures.plot_survival(curves)))
        else:
            out.append(_figure(f"Cumulative incidence with 95% CI and number at risk: {what}",
                               figures.plot_cumulative_incidence(curves)))
    return out


_SURVIVORS = ("Means over the subjects with a value that day: subjects who died or were "
              "discharged earlier are not in them.")


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
    items.append(Table("Endpoints", ("Endpoint", "Kind", "Definition"),
                       tuple((e.id, e.kind, e.label) for e in sap.endpoints)))
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
                   progress: Callable[[str], None] | None = None) -> ReportContent:
    """Everything the PDF shows, in order."""
    import matplotlib
    step = progress or (lambda _: None)
    # text.usetex off whatever the user's matplotlibrc says: text from the data is
    # drawn literally (figures.py escapes `$`; LaTeX would choke on _, % and &)
    with matplotlib.rc_context({"svg.hashsalt": "mscstats", "font.size": 9,
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
             ("Statistical analysis plan", f"{sap.source} (SHA-256 {sap.sha256[:16]}...)"),
             ("Data", f"{trial.name} (SHA-256 {trial.data_sha256[:16]}...)"),
             ("Subjects", str(len(trial.adsl))), ("mscstats", results.mscstats_version))
    return ReportContent(sap.study.title or sap.study.id, facts, tuple(sections))
