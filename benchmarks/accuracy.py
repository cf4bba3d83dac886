"""Accuracy and wall time of ``anchormi.estimate`` with its defaults, on tasks with known MI.

Two tables:
1. the issue's acceptance cases: Gaussian d=20 at 2, 6 and 10 nats, N = 20,000;
2. The peers' "bar to beat" (docs/method.md section 10): N = 10,000 correlated Gaussians (cubic: y -> y^3), beside the best
   peer estimate quoted there (torch-mist 0.2.17 / benchmark-mi 0.1.3 defaults, measured by the
   design author on 2 cores; the peers are not run here).

    python benchmarks/accuracy.py               # both tables, seed 0 (about 5 minutes on 2 cores)
    python benchmarks/accuracy.py --seeds 0,1,2 # mean and spread over seeds
"""

from __future__ import annotations

import argparse
import time
import warnings

import pandas as pd

import anchormi as ami

ACCEPTANCE = [("gaussian", 20, 2.0, 20_000), ("gaussian", 20, 6.0, 20_000), ("gaussian", 20, 10.0, 20_000)]
# (family, dim, true MI, N, best peer estimate from docs/method.md section 10, which peer)
BAR = [
    ("gaussian", 5, 1.0, 10_000, 0.96, "torch-mist SMILE"),
    ("gaussian", 20, 2.0, 10_000, 1.61, "torch-mist FLO"),
    ("gaussian", 20, 6.0, 10_000, 5.62, "torch-mist SMILE"),
    ("gaussian", 20, 10.0, 10_000, 9.70, "torch-mist SMILE"),
    ("cubic", 20, 6.0, 10_000, 2.82, "torch-mist SMILE"),
]


def run_case(family: str, dim: int, mi: float, n: int, seed: int) -> dict:
    x, y = ami.tasks.get(family, dim=dim, mi=mi).sample(n, seed=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ami.estimate(x, y, seed=seed)
    lo, hi = result.ci
    return {"task": f"{family} d={dim}", "truth": mi, "n": n, "seed": seed, "estimate": result.mi,
            "stderr": result.stderr, "covered": bool(lo <= mi <= hi), "seconds": time.perf_counter() - started}


def table(cases, seeds) -> pd.DataFrame:
    rows = [run_case(*case[:4], seed) for case in cases for seed in seeds]
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["task", "truth", "n"], sort=False).agg(
        estimate=("estimate", "mean"), seed_sd=("estimate", "std"), stderr=("stderr", "mean"), seconds=("seconds", "mean"))
    summary["rel_error_%"] = 100 * (summary.estimate - summary.index.get_level_values("truth")) / summary.index.get_level_values("truth")
    return summary.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", choices=["acceptance", "bar"], default=None)
    parser.add_argument("--families", default="gaussian", help="acceptance families, e.g. gaussian,cubic")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    pd.set_option("display.width", 160)
    if args.only in (None, "acceptance"):
        print("anchormi.estimate defaults, N = 20,000 (5 cross-fitted folds):")
        cases = [(family, *case[1:]) for family in args.families.split(",") for case in ACCEPTANCE]
        print(table(cases, seeds).round(3).to_string(index=False))
    if args.only in (None, "bar"):
        summary = table(BAR, seeds)
        summary["best_peer"] = [row[4] for row in BAR]
        summary["peer"] = [row[5] for row in BAR]
        summary["closer_than_peer"] = (summary.estimate - summary.truth).abs() < (summary.best_peer - summary.truth).abs()
        print("\nBar to beat, N = 10,000 (peer numbers quoted in docs/method.md section 10, not rerun):")
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
