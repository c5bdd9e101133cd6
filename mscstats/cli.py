"""Command line: parse arguments, call the library, map errors to exit codes.

Exit codes: 0 done; 1 the data or the SAP is wrong (message says where and how
to fix it; nothing is half-written); 2 a usage error (click's own).
"""

from __future__ import annotations

import sys
from functools import wraps
from pathlib import Path

import click

from . import __version__
from .errors import MscstatsError
from .schema import DESIGN_KEYS


def _user_errors(func):
    """Print the package's own errors without a traceback and exit 1."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except MscstatsError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(1)
    return wrapper


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
    from .synth import write_trial
    written = write_trial(key, output, n=n_subjects, seed=seed, messy=messy)
    click.echo(f"wrote {len(written)} files to {output}: " + ", ".join(p.name for p in written))


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@_user_errors
def validate(directory):
    """Check the trial in DIRECTORY and print its data-quality summary.

    Exit 0 when the data are clean or have warnings only; exit 1 with every
    error (file, row, column and fix) when they are wrong.
    """
    from .validate import load_trial, summary
    click.echo(summary(load_trial(directory)))
