"""Print mscstats' package-level import graph and every import that runs back up the flow.

    python scripts/import_graph.py        exit 1 when an import runs back up the flow

The flow (docs/architecture.md), one tier a line; a module may import its own tier
and the tiers above it. Within analysis/, cores/ and batch/ sit beneath the runners.
"""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mscstats"
FLOW = [("schema", "errors", "results", "_version", "specs", "output"), ("plan", "intercurrent"),
        ("trial",), ("derive",), ("analysis.cores", "analysis.batch"), ("analysis",),
        ("summaries",), ("pipeline",), ("report", "export_adam"), ("simulation",), ("diff",),
        ("cli", "__init__", "__main__")]


def room(module: str) -> str:
    """'mscstats.analysis.cores.km' -> 'analysis.cores'; 'mscstats.plan' -> 'plan'."""
    parts = module.split(".")[1:] or ["__init__"]
    return ".".join(parts[:2]) if parts[:2] in (["analysis", "cores"], ["analysis", "batch"]) \
        else parts[0]


def tier(name: str) -> int:
    return next(i for i, rooms in enumerate(FLOW) if name in rooms)


def imports(path: Path) -> set[str]:
    """Every mscstats module the file imports (function-level imports included)."""
    here = ["mscstats", *path.relative_to(PACKAGE).with_suffix("").parts]
    package = here if here[-1] == "__init__" else here[:-1]
    package = [p for p in package if p != "__init__"]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [f"{target}.{a.name}" for a in node.names]
            subs = [n for n in names if (PACKAGE.parent / (n.replace(".", "/") + ".py")).exists()
                    or (PACKAGE.parent / n.replace(".", "/")).is_dir()]
            out.update(subs if subs and len(subs) == len(names) else [target])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "mscstats" or m.startswith("mscstats.")}


def main() -> int:
    edges, upward = {}, []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = "mscstats." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for target in sorted(imports(path)):
            a, b = room(source), room(target)
            if a != b:
                edges.setdefault(a, set()).add(b)
            if tier(b) > tier(a):
                upward.append(f"{source} imports {target} ({b} is below {a} in the flow)")
    for a in sorted(edges, key=lambda r: (tier(r), r)):
        print(f"{a:16} -> {', '.join(sorted(edges[a], key=lambda r: (tier(r), r)))}")
    print("\n".join(["imports back up the flow:", *upward]) if upward
          else "no import runs back up the flow")
    return 1 if upward else 0


if __name__ == "__main__":
    sys.exit(main())
