"""Command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 done; 1 the data or the SAP is wrong, or the output cannot be
written (message says where and how to fix it; nothing is half-written); 2 a
usage error (click's own, and an -o naming a directory that does not exist or
something that is not a file, a FIFO or a character device).
"""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import click

from ._version import __version__
from .errors import MscstatsError
from .output import Output, OutputRefused, check_output, write_output
from .schema import DESIGN_KEYS


def _user_errors(func):
    """Print the package's own errors without a traceback and exit 1 (2 for an
    output that is no place to write to)."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MscstatsError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(2 if isinstance(err, OutputRefused) else 1)
    return wrapper


def _say(out: Output, text: str) -> None:
    """A status line: on stdout, unless the output itself goes there (or to a device
    or FIFO, which may be stdout under another name)."""
    click.echo(text, err=out.kind != "file")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mscstats")
def main() -> None:
    """Statistical analysis of MSC trials in COVID-19 respiratory failure."""


@main.command()
@click.argument("key", type=click.Choice(DESIGN_KEYS))
@click.option("--n", "n_subjects", type=click.IntRange(min=1), default=None,
              help="Number of subjects (default: the design's size).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the design's).")
@click.option("--messy", is_flag=True,
              help="Write messy variants: kPa, FiO2 in percent, wide visits, duplicates.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the trial tables into.")
@_user_errors
def synth(key, n_subjects, seed, messy, output):
    """Write a synthetic trial of design KEY in the input format."""
    from .output import check_directory
    from .simulation.synth import write_trial
    check_directory(output)
    written = write_trial(key, output, n=n_subjects, seed=seed, messy=messy)
    click.echo(f"wrote {len(written)} files to {output}: " + ", ".join(p.name for p in written))


_STRICT_OPTION = click.option(
    "--strict", is_flag=True,
    help="Exit 1, writing nothing, when an analysis is not estimable (default: write it "
         "with its reason, warn on stderr and exit 0).")


def _warn_not_estimable(entries, strict: bool = False) -> None:
    """A warning on stderr per analysis that could not be computed; --strict: exit 1."""
    for a in entries:
        click.echo(f"warning: analysis {a.id} is not estimable: {a.reason}", err=True)
    if strict and entries:
        click.echo(f"error: {len(entries)} analysis(es) not estimable and "
                   "--strict is set; nothing written. Fix: check the data of those analyses, "
                   "or run without --strict to write them with their reasons.", err=True)
        sys.exit(1)


@main.command()
@click.argument("key", type=click.Choice(DESIGN_KEYS))
@_user_errors
def sap(key):
    """Print the template SAP of design KEY."""
    from .plan import template_text
    click.echo(template_text(key), nl=False)


_SAP_OPTION = click.option("--sap", "sap_path", required=True,
                           type=click.Path(exists=True, dir_okay=False, path_type=Path),
                           help="The SAP (TOML).")
_DIR_ARGUMENT = click.argument("directory", type=click.Path(path_type=Path))


def _output_option(what: str):
    return click.option("-o", "--output", required=True,
                        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
                        help=f"{what} to write (- for standard output).")


@main.command()
@_DIR_ARGUMENT
@_SAP_OPTION
@_output_option("endpoints.csv")
@_user_errors
def derive(directory, sap_path, output):
    """Derive every endpoint of the SAP: one row per subject and endpoint."""
    from .pipeline import derive as derive_table
    from .pipeline import load
    from .plan import read_sap
    out = check_output(output)
    plan = read_sap(sap_path)
    table = derive_table(load(directory, plan), plan)
    write_output(out, table.to_csv(index=False, lineterminator="\n",
                                   float_format="%.17g").encode("utf-8"))
    _say(out, f"wrote {len(table)} rows ({table['ENDPOINT'].nunique()} endpoints, "
               f"{table['USUBJID'].nunique()} subjects) to {output}")


@main.command()
@_DIR_ARGUMENT
@_SAP_OPTION
@_output_option("results.json")
@_STRICT_OPTION
@_user_errors
def analyze(directory, sap_path, output, strict):
    """Run every analysis of the SAP and write results.json.

    An analysis that cannot be computed on the data is written with status
    "not_estimable" and its reason, with a warning on stderr (exit 0; 1 with --strict).
    """
    from .pipeline import analyze as run_analyses
    from .pipeline import load
    from .plan import read_sap
    out = check_output(output)
    plan = read_sap(sap_path)
    trial = load(directory, plan)
    results = run_analyses(trial, plan,
                           progress=lambda a: click.echo(f"analysis {a}", err=True))
    _warn_not_estimable(results.not_estimable, strict)
    write_output(out, results.to_json().encode("utf-8"))
    _say(out, f"wrote {len(results.analyses)} analyses to {output}")


@main.command()
@click.argument("old", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-6, show_default=True,
              help="Relative tolerance for numbers.")
@click.option("--atol", type=click.FloatRange(min=0), default=1e-9, show_default=True,
              help="Absolute tolerance for numbers.")
@_user_errors
def diff(old, new, rtol, atol):
    """Compare two results.json files; exit 1 when anything differs beyond tolerance."""
    from .diff import diff_files
    result = diff_files(old, new, rtol=rtol, atol=atol)
    click.echo(str(result))
    if not result.equal:
        sys.exit(1)


@main.command()
@_DIR_ARGUMENT
@click.option("--sap", "sap_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Apply the SAP's arms and data rules too, and every check "
                                 "derive and analyze run on the data.")
@_user_errors
def validate(directory, sap_path):
    """Check the trial in DIRECTORY and print its data-quality summary.

    Exit 0 when the data are clean or have warnings only; exit 1 with every
    error (file, row, column and fix) when they are wrong.
    """
    from .pipeline import check, load
    from .plan import read_sap
    from .trial.validate import summary
    plan = read_sap(sap_path) if sap_path is not None else None
    trial = load(directory, plan)
    if plan is not None:
        _warn_not_estimable(check(trial, plan))   # analyze would write them with their reason
    click.echo(summary(trial))


def _demo_trial(key: str):
    """The design's synthetic trial (default seed, as data/synthetic/KEY holds) and
    its template SAP. Written to a temporary directory named KEY and read back, so
    the demo takes exactly the path a user's directory takes."""
    import tempfile
    from .pipeline import load
    from .plan import template
    from .simulation.synth import write_trial
    plan = template(key)
    with tempfile.TemporaryDirectory(prefix="mscstats-demo-") as tmp:
        directory = Path(tmp) / key
        write_trial(key, directory)
        return load(directory, plan), plan


REPORT_FORMATS = ("pdf", "rtf", "docx")


def _report_format(output: Path, given: str | None) -> str:
    """--format, else the -o suffix, else pdf; a usage error when the two disagree."""
    suffix = Path(str(output)).suffix.lower().lstrip(".")
    implied = suffix if suffix in REPORT_FORMATS else None
    if given and implied and given != implied:
        raise click.UsageError(f"--format {given} but -o {output} ends in .{suffix}; give "
                               f"-o a .{given} name, or --format {implied}.")
    return given or implied or "pdf"


def _render_report(trial, plan, results, file_format: str, progress) -> bytes:
    """The report's bytes in the format; RTF and DOCX lay out the PDF's content."""
    if file_format == "pdf":
        from .report.pdf import render_pdf
        return render_pdf(trial, plan, results, progress)
    from .report.content import report_content
    # RTF and DOCX embed the PNG figures: no SVG is drawn for them
    content = report_content(trial, plan, results, progress, figure_formats=("png",))
    progress(f"writing the {file_format.upper()}")
    if file_format == "rtf":
        from .report.rtf import build_rtf
        return build_rtf(content)
    from .report.docx import build_docx
    return build_docx(content)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path), required=False)
@click.option("--sap", "sap_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The SAP (TOML); required unless --demo.")
@click.option("--demo", "demo_key", is_flag=False, flag_value="refractory-hypoxia", default=None,
              type=click.Choice(DESIGN_KEYS),
              help="Report on a synthetic trial of a design with its template SAP "
                   "(default design: refractory-hypoxia).")
@_output_option("report.pdf")
@click.option("--format", "file_format", type=click.Choice(REPORT_FORMATS), default=None,
              help="pdf, rtf or docx (default: from the -o suffix .pdf, .rtf or .docx; "
                   "else pdf).")
@_STRICT_OPTION
@_user_errors
def report(directory, sap_path, demo_key, output, file_format, strict):
    """Analyze the trial in DIRECTORY by the SAP and write the report (PDF, RTF or DOCX).

    \b
    mscstats report DIR --sap SAP -o report.pdf
    mscstats report DIR --sap SAP -o report.rtf
    mscstats report --demo [KEY] [--format docx] -o report.docx
    """
    from .pipeline import analyze as run_analyses

    def progress(step: str) -> None:
        click.echo(step, err=True)

    file_format = _report_format(output, file_format)
    out = check_output(output)
    if demo_key is not None:
        if directory is not None or sap_path is not None:
            raise click.UsageError("--demo takes no DIRECTORY or --sap.")
        progress(f"demo: synthetic {demo_key} trial and its template SAP")
        trial, plan = _demo_trial(demo_key)
    else:
        if directory is None or sap_path is None:
            raise click.UsageError("give DIRECTORY and --sap SAP, or --demo [KEY].")
        from .pipeline import load
        from .plan import read_sap
        plan = read_sap(sap_path)
        progress(f"reading {directory}")
        trial = load(directory, plan)
    results = run_analyses(trial, plan, progress=lambda a: progress(f"analysis {a}"))
    _warn_not_estimable(results.not_estimable, strict)
    data = _render_report(trial, plan, results, file_format, progress)
    write_output(out, data)
    _say(out, f"wrote {output} ({len(data) // 1024} KiB)")

@main.command("export-adam")
@_DIR_ARGUMENT
@_SAP_OPTION
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write adtte.xpt/.csv, adeff.xpt/.csv and ard.csv into "
                   "(created if new; other files in it are kept).")
@_STRICT_OPTION
@_user_errors
def export_adam(directory, sap_path, output, strict):
    """Write the derived endpoints as ADaM datasets (ADTTE, ADEFF) in SAS transport v5
    and CSV, and the analysis results as an ARD (one row per statistic) in CSV."""
    from .export_adam import export_adam as build_export
    from .output import check_directory, write_files
    from .pipeline import load
    from .plan import read_sap
    check_directory(output)
    plan = read_sap(sap_path)
    trial = load(directory, plan)
    export = build_export(trial, plan, progress=lambda a: click.echo(f"analysis {a}", err=True))
    _warn_not_estimable([a for a in export.results.analyses if not a.estimable], strict)
    if export.changed_in_xpt:
        click.echo(f"warning: {export.changed_in_xpt} text value(s) folded to ASCII or "
                   "shortened to 200 bytes in the XPT files (SAS transport v5 holds no more); "
                   "the CSV files hold them in full.", err=True)
    written = write_files(output, export.files)
    click.echo(f"wrote {len(written)} files to {output}: " + ", ".join(p.name for p in written)
               + f" ({len(export.adtte)} ADTTE rows, {len(export.adeff)} ADEFF rows, "
               f"{len(export.ard)} statistics)")


def _sample_sizes(ctx, param, value):
    if value is None:
        return None
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter("give sample sizes as integers separated by commas, "
                                 "e.g. 20,40,60.") from None
    if not sizes or min(sizes) < 2:
        raise click.BadParameter("each sample size must be at least 2.")
    return sizes


@main.command()
@click.option("--design", "key", type=click.Choice(DESIGN_KEYS), required=True,
              help="The design whose generator simulates the trials.")
@click.option("--sap", "sap_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="SAP file (default: the design's template SAP).")
@click.option("--n-sims", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Simulated trials per sample size.")
@click.option("--n", "n_values", callback=_sample_sizes, default=None,
              help="Total sample sizes, comma-separated (default: the design's n).")
@click.option("--effect", "effects", multiple=True, metavar="[ARM:]NAME=VALUE",
              help="Change an assumed effect (recovery_rate, progression_or, mortality_or, "
                   "cytokine_ratio; a ratio from 0.001 to 1000) from the design's default; "
                   "repeatable.")
@click.option("--null", is_flag=True,
              help="Start from no effect in any arm: the rates are type I errors.")
@click.option("--analyses", default=None,
              help="Analysis ids to run, comma-separated (default: all of the SAP's).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the SAP's).")
@click.option("--jobs", type=int, default=1, show_default=True,
              help="Parallel processes (-1: one per core).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a dask.distributed cluster (pip install 'mscstats[dask]').")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              required=True,
              help="Where to write the operating characteristics (JSON; - for standard "
                   "output).")
@_user_errors
def simulate(key, sap_path, n_sims, n_values, effects, null, analyses, seed, jobs, scheduler,
             output):
    """Operating characteristics of the SAP by simulation: power, or type I error
    with --null, per sample size, with Monte Carlo standard errors."""
    from tqdm import tqdm

    from .plan import read_sap, template
    from .simulation.engine import parse_effects
    from .simulation.engine import simulate as run_simulation
    from .simulation.synth import get_design
    out = check_output(output)
    try:
        effect = parse_effects(key, effects, null)
    except MscstatsError as err:          # a malformed or out-of-range value: usage error
        raise click.BadParameter(str(err), param_hint="--effect") from None
    plan = read_sap(sap_path) if sap_path else template(key)
    n_values = n_values or [get_design(key).n]
    chosen = [a.strip() for a in analyses.split(",") if a.strip()] if analyses else None
    with tqdm(total=None, unit="chunk", file=sys.stderr, disable=None) as bar:
        def progress(done, total):
            bar.total = total
            bar.update(done - bar.n)
        oc = run_simulation(key, plan, n_values, n_sims, effect=effect, seed=seed,
                            analyses=chosen, jobs=jobs, scheduler=scheduler, progress=progress)
    for line in oc.warnings:
        click.echo(f"warning: {line}", err=True)
    write_output(out, oc.to_json().encode("utf-8"))
    _say(out, str(oc))
    _say(out, f"wrote {output}")
