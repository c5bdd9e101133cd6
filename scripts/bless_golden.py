#!/usr/bin/env python
"""Re-bless the golden results of the synthetic trials after an intended change.

    python scripts/bless_golden.py                 # all designs: show the diff, ask
    python scripts/bless_golden.py refractory-hypoxia --yes

For each design it re-runs the template SAP on data/synthetic/<KEY>, prints
what changed against tests/regression/golden/<KEY>.json (the same table that
`mscstats diff` and the failing regression test print), and overwrites the
golden file only after you confirm (or with --yes). Commit the new golden
files together with the change that explains them.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # the golden-results harness lives with the tests

from golden import ATOL, RTOL, current_results, golden_path  # noqa: E402
from mscstats.diff import diff_results  # noqa: E402
from mscstats.results import dumps_json  # noqa: E402
from mscstats.schema import DESIGN_KEYS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", metavar="KEY", help="design keys (default: all)")
    parser.add_argument("--yes", action="store_true", help="overwrite without asking")
    args = parser.parse_args()
    unknown = sorted(set(args.keys) - set(DESIGN_KEYS))
    if unknown:
        parser.error(f"unknown design key(s) {unknown}; use: {', '.join(DESIGN_KEYS)}")
    for key in args.keys or DESIGN_KEYS:
        new = current_results(key, root=ROOT)
        path = golden_path(key, ROOT)
        if path.exists():
            diff = diff_results(json.loads(path.read_text("utf-8")), new, rtol=RTOL, atol=ATOL)
            print(f"== {key}: {diff}")
            if diff.equal:
                continue
        else:
            print(f"== {key}: no golden file yet")
        if not args.yes and input(f"overwrite {path}? [y/N] ").strip().lower() != "y":
            print("kept")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps_json(new), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
