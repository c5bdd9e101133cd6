"""The notebooks in notebooks/ run without error and are built from notebooks/src.

Each notebook is executed afresh with nbclient (kernel python3, cwd notebooks/,
mscstats imported from this checkout). A notebook whose cells differ from its
source in notebooks/src/*.py is stale: rebuild it with
``python scripts/build_notebooks.py``.
"""

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow      # minutes; .ci/run's plain `pytest` still runs it; -m "not slow" skips it

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("*.py"))


def _build_script():
    spec = importlib.util.spec_from_file_location("build_notebooks",
                                                  ROOT / "scripts" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_notebooks():
    assert [s.stem[:2] for s in SOURCES] == ["01", "02", "03", "04"]
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == [s.stem for s in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_built_from_its_source(source):
    built = NOTEBOOKS / f"{source.stem}.ipynb"
    assert built.exists(), f"{built.name} missing: run python scripts/build_notebooks.py"
    nb = nbformat.read(built, as_version=4)
    expected = [(c.cell_type, c.source) for c in _build_script().cells_of(source.read_text())]
    found = [(c.cell_type, c.source) for c in nb.cells]
    assert found == expected, (f"{built.name} is stale: run python scripts/build_notebooks.py "
                               f"{source.stem[:2]}")
    executed = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in executed), f"{built.name} is not executed"
    errors = [o for c in executed for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{built.name} was committed with errors"


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebook_executes(notebook, monkeypatch):
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(dict.fromkeys(paths)))
    nb = nbformat.read(notebook, as_version=4)
    # raises CellExecutionError (with the cell and traceback) on any error
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_endpoints_works_after_the_derive_module_is_imported():
    import mscstats
    import mscstats.derive.endpoints  # noqa: F401  (sets the package attribute `derive` to the subpackage)
    from mscstats import plan
    sap = plan.template("refractory-hypoxia")
    trial = mscstats.load(ROOT / "data" / "synthetic" / "refractory-hypoxia", sap)
    table = mscstats.endpoints(trial, sap)
    assert list(table.columns)[:3] == ["USUBJID", "ARM", "ENDPOINT"]
    assert set(table["ENDPOINT"]) == {e.id for e in sap.endpoints}
