#!/usr/bin/env python
"""Write and execute the notebooks in notebooks/ (outputs are committed).

    python scripts/build_notebooks.py            # all
    python scripts/build_notebooks.py 01         # those whose name starts with 01

The cell sources live in notebooks/src/*.py: cells separated by lines "# %%"
(code) or "# %% [markdown]" (markdown, each line prefixed with "# "). The
notebooks are executed in notebooks/ with a fixed seed everywhere, so a
rebuild gives the same numbers. tests/test_notebooks.py executes them again.

The kernel imports mscstats from this checkout (its root is put first on
PYTHONPATH), whatever copy is installed. Cell ids are numbered and execution
timings are dropped, so a rebuild differs only where an output does.
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "notebooks" / "src"


def cells_of(source: str) -> list:
    cells, kind, lines = [], None, []

    def flush():
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#")
                             for line in text.splitlines())
            cells.append(nbformat.v4.new_markdown_cell(text))
        elif kind == "code" and text.strip():
            cells.append(nbformat.v4.new_code_cell(text))

    for line in source.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    flush()
    for i, cell in enumerate(cells, start=1):  # stable ids: nbformat's are random
        cell["id"] = f"cell-{i:02d}"
    return cells


def kernel_environment() -> None:
    """Make the kernel import mscstats from this checkout."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))


def build(src: Path, execute: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = cells_of(src.read_text())
    if execute:
        kernel_environment()
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
        for cell in nb.cells:  # execution counts and timings change run to run
            cell.get("metadata", {}).pop("execution", None)
    out = ROOT / "notebooks" / f"{src.stem}.ipynb"
    nbformat.write(nb, out)
    return out


if __name__ == "__main__":
    prefixes = sys.argv[1:]
    for src in sorted(SRC.glob("*.py")):
        if not prefixes or any(src.stem.startswith(p) for p in prefixes):
            print("built", build(src).relative_to(ROOT))
