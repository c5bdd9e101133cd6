"""scripts/import_graph.py: no import of mscstats runs back up the flow."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "import_graph.py"


def _script():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_runs_back_up_the_flow():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
    assert "no import runs back up the flow" in out.stdout
    assert "cli " in out.stdout and "-> " in out.stdout


def test_an_import_back_up_the_flow_is_found(tmp_path, monkeypatch, capsys):
    package = tmp_path / "mscstats"
    (package / "trial").mkdir(parents=True)
    (package / "trial" / "__init__.py").write_text("")
    (package / "trial" / "io.py").write_text("def read():\n    from ..report import pdf\n")
    (package / "report").mkdir()
    (package / "report" / "pdf.py").write_text("from ..trial.io import read\n")
    graph = _script()
    monkeypatch.setattr(graph, "PACKAGE", package)
    assert graph.main() == 1
    out = capsys.readouterr().out
    assert "mscstats.trial.io imports mscstats.report.pdf (report is below trial" in out
    assert "mscstats.report.pdf imports" not in out.split("back up the flow:")[1]


def test_the_rooms_of_analysis():
    graph = _script()
    assert graph.room("mscstats.analysis.cores.km") == "analysis.cores"
    assert graph.room("mscstats.analysis.survival") == "analysis"
    assert graph.room("mscstats") == "__init__"
    assert graph.tier("analysis.cores") < graph.tier("analysis") < graph.tier("summaries")
