"""mscstats: statistical analysis of MSC trials in COVID-19 respiratory failure.

Kept light on import: pandas/numpy come in with the data, while matplotlib,
reportlab and lifelines are imported only by the functions that need them.
"""

from __future__ import annotations


__all__ = ["__version__", "load", "read_sap", "endpoints", "analyze"]


def load(directory, sap=None):
    """Read and validate a trial directory; returns a :class:`mscstats.trial.quality.Trial`."""
    from .pipeline import load as _load
    return _load(directory, sap)


def read_sap(path):
    """Parse and check a SAP TOML file; returns a :class:`mscstats.plan.Sap`."""
    from .plan import read_sap as _read_sap
    return _read_sap(path)


# Not named `derive`: the package mscstats.derive would replace it as the package
# attribute as soon as anything imports that module.
def endpoints(trial, sap):
    """The derived endpoints table (one row per subject and endpoint, as endpoints.csv)."""
    from .pipeline import derive as _derive
    return _derive(trial, sap)


def analyze(trial, sap):
    """Run every analysis of the SAP; returns :class:`mscstats.results.TrialResults`."""
    from .pipeline import analyze as _analyze
    return _analyze(trial, sap)


def __getattr__(name):
    # mscstats.__version__ comes from _version.py (the one place it is written) on first
    # use, so that `import mscstats` reads no second file.
    if name == "__version__":
        from ._version import __version__
        return __version__
    raise AttributeError(f"module 'mscstats' has no attribute {name!r}")
