"""The stress sweep, shortened (scripts/stress_sweep.py runs the whole of it).

The configurations where the full sweep once found a crash site, each
as the sweep ran it (25 trials, so the same replicates), plus a small grid over every
design, the smallest n and the extreme effect: no exception may leave a runner
other than NotEstimable, no AnalysisError, no warning.
"""

import importlib.util
import sys

import pytest
from conftest import ROOT



def _sweep_module():
    spec = importlib.util.spec_from_file_location("stress_sweep", ROOT / "scripts" / "stress_sweep.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module           # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SWEEP = _sweep_module()
Config = SWEEP.Config

# (configuration, its analysis, the crash site the full sweep found there before the fix)
FOUND = [
    (Config("refractory-hypoxia", 4, "null", 2), "ttci_cuminc",
     "gray.py: LinAlgError, SVD did not converge"),
    (Config("refractory-hypoxia", 10, "null", 1), "ttci_cuminc",
     "cuminc.py: OverflowError in the log-log CI"),
    (Config("refractory-hypoxia", 2, "null", 1), "ttci_finegray",
     "competing.py: ZeroDivisionError, crr se 0"),
    (Config("refractory-hypoxia", 10, "strong", 1), "pf_mmrm",
     "mmrm.py: LinAlgError, singular matrix"),
    (Config("refractory-hypoxia", 10, "extreme", 2), "pf_mmrm",
     "mmrm.py: RuntimeWarnings, an infeasible point taken as converged"),
    (Config("three-arm-paxlovid", 4, "design", 1), "ttci_cox",
     "cox.py: OverflowError in exp of a limit"),
    (Config("three-arm-paxlovid", 6, "null", 1), "ttci_cox", "cox.py: RuntimeWarnings, NaN fit"),
    (Config("three-arm-paxlovid", 60, "null", 1), "who_d14_po", "ordinal.py: LinAlgError in Brant"),
    (Config("prevent-progression", 2, "extreme", 1), None, "synth.py: RuntimeWarnings, overflow"),
    (Config("nebulized-exosomes", 4, "null", 2), "primary_mi",
     "missing_data.py: ZeroDivisionError, Rubin's rules on exact fits"),
]


@pytest.mark.parametrize("config, analysis, found", FOUND, ids=[f for _, _, f in FOUND])
def test_configurations_that_crashed_run_clean(config, analysis, found):
    assert SWEEP.run_config(config, 25, [analysis] if analysis else None) == []


def test_every_design_at_the_smallest_sizes_and_extreme_effects():
    configs = [Config(d, n, e, 1) for d in SWEEP.DESIGN_KEYS
               for n, e in ((2, "extreme"), (3, "harm"))]
    lines = []
    sites = SWEEP.sweep(configs, 5, echo=lines.append)
    totals = SWEEP.report(sites, echo=lines.append)
    assert sites == {}, "\n".join(lines)
    assert lines[-3:] == ["crash sites: 0", "warning sites: 0", "analysis error sites: 0"]
    assert lines[0].startswith("[10/10]")
    assert sum(totals.values()) == 0


def test_the_script_reports_a_crash_site_with_its_configuration(monkeypatch):
    """A runner that raises a numerical failure is a crash site, printed with its
    type, file:line, configuration and analysis."""
    import mscstats.analysis as analysis

    real = analysis.run

    def broken(inp):
        if inp.method == "welch":
            raise ZeroDivisionError("float division by zero")
        return real(inp)
    monkeypatch.setattr(analysis, "run", broken)
    lines = []
    sites = SWEEP.sweep([Config("prevent-progression", 20, "null", 1)], 2, echo=lines.append)
    SWEEP.report(sites, echo=lines.append)
    [(kind, kind_type, site)] = sites
    assert (kind, kind_type) == ("crash", "ZeroDivisionError")
    assert site.startswith("tests/simulation/test_stress_sweep.py:") or "test_stress_sweep.py" in site
    assert "crash sites: 1" in lines
    assert any("design prevent-progression, n 20, effect null, seed 1, analysis il6_welch" in line
               for line in lines)
