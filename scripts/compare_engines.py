#!/usr/bin/env python
"""Compare the simulation engine's batch kernels with the runners on many chunks
(minutes; the test suite runs a few of these cases, tests/simulation/test_simulate_grid.py).

    python scripts/compare_engines.py                 # 5 designs x 3 effects x n 3..40
    python scripts/compare_engines.py --chunks 1 --n 6,60

For every design with analyses that have a batch kernel, every effect (the design's,
none, and a strong one) and every n: the rows of run_chunk with every replicate
through the runner (runner_only) and with the kernels must agree as the tests
require (p to 1e-10 or 1e-12 absolute, estimates to 1e-10, hazard ratios to 1e-6).
Prints each disagreement and a count; exits 1 when there is one.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_simulate_grid import assert_rows_agree, grid_saps  # noqa: E402

from mscstats.schema import DESIGN_KEYS  # noqa: E402
from mscstats.simulation.engine import parse_effects, run_chunk  # noqa: E402
from mscstats.simulation.synth import NULL_EFFECT  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="3,6,10,20,40")
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    sizes = [int(v) for v in args.n.split(",")]
    compared = disagreeing = 0
    for key in DESIGN_KEYS:
        saps = grid_saps(key)
        if not saps:
            continue
        strong = parse_effects(key, ["recovery_rate=3", "mortality_or=0.2"])
        for label, effect in (("design", None), ("null", NULL_EFFECT), ("strong", strong)):
            for n in sizes:
                for chunk in range(args.chunks):
                    rows = [run_chunk(key, saps[0], n, chunk, 25, args.seed, effect,
                                      runner_only=only) for only in (True, False)]
                    compared += 1
                    try:
                        assert_rows_agree(*rows)
                    except AssertionError as why:
                        disagreeing += 1
                        print(f"DIFFER {key} effect={label} n={n} chunk={chunk}: {why}")
        print(f"{key}: {compared} chunks compared, {disagreeing} disagreeing", flush=True)
    return 1 if disagreeing else 0


if __name__ == "__main__":
    sys.exit(main())
