#!/usr/bin/env python
"""Write and execute the notebooks in notebooks/ (outputs are committed).

    python scripts/build_notebooks.py            # all
    python scripts/build_notebooks.py 01         # those whose name starts with 01

The cell sources live in notebooks/src/*.py: cells separated by lines "# %%"
(code) or "# %% [markdown]" (markdown, each line prefixed with "# "). The
notebooks are executed in notebooks/ with a fixed seed everywhere, so a
rebuild gives the same numbers. tests/test_notebooks.py executes them again.
"""

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
    return cells


def build(src: Path, execute: bool = True) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = cells_of(src.read_text())
    if execute:
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
