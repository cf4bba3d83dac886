"""Accuracy and wall time of ``anchormi.estimate`` with its defaults, on tasks with known MI.

Two tables:
1. the issue's acceptance cases: Gaussian d=20 at 2, 6 and 10 nats, N = 20,000;
2. The peers' "bar to beat" (docs/method.md section 10): N = 10,000 correlated Gaussians (cubic: y -> y^3), beside the best
   peer estimate quoted there (torch-mist 0.2.17 / benchmark-mi 0.1.3 defaults, measured by the
   design author on 2 cores; the peers are not run here).

    python benchmarks/accuracy.py               # both tables, seed 0 (about 5 minutes on 2 cores)
    python benchmarks/accuracy.py --seeds 0,1,2 # mean and spread over seeds
    python benchmarks/accuracy.py --seeds 0,1,2 --only acceptance --methods anchor,anchor:nu=1,smile \
        --rows accuracy_output/acceptance       # the trust goal's comparison: RMSE over seeds per method
    python benchmarks/accuracy.py --seeds 0,1,2 --only acceptance --methods anchor,anchor:nu=1,smile \
        --param critic=soft_bounded --rows accuracy_output/soft   # the same with another critic for all

``--methods`` takes method specs as ``anchormi bench`` does (``anchor:nu=1``: the paper's anchor
weight; every other argument stays the estimator's default, critic included). ``--param
NAME=VALUE`` (repeatable) passes one more argument to every method's fit, e.g. a candidate
critic; a method's own spec wins where both name the same argument. ``--rows DIR``
keeps one file per finished fit, so a killed run resumes and its rows are kept; each records
the code that made it.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import pandas as pd

import anchormi as ami
from anchormi.bench.provenance import code_version, describe_code_versions
from anchormi.bench.specs import label, parse_spec
from anchormi.cli import parse_params
from anchormi.files import atomic_write_text

ACCEPTANCE = [("gaussian", 20, 2.0, 20_000), ("gaussian", 20, 6.0, 20_000), ("gaussian", 20, 10.0, 20_000)]
# (family, dim, true MI, N, best peer estimate from docs/method.md section 10, which peer)
BAR = [
    ("gaussian", 5, 1.0, 10_000, 0.96, "torch-mist SMILE"),
    ("gaussian", 20, 2.0, 10_000, 1.61, "torch-mist FLO"),
    ("gaussian", 20, 6.0, 10_000, 5.62, "torch-mist SMILE"),
    ("gaussian", 20, 10.0, 10_000, 9.70, "torch-mist SMILE"),
    ("cubic", 20, 6.0, 10_000, 2.82, "torch-mist SMILE"),
]


def run_case(family: str, dim: int, mi: float, n: int, seed: int, method: str = "anchor", rows: Path | None = None,
             shared: dict | None = None) -> dict:
    """One ``anchormi.estimate`` call on new data of the seed, with ``shared`` arguments under the
    method's own; with ``rows``, read from or kept in its own file there."""
    name, own = parse_spec(method, "--methods")
    params = {**(shared or {}), **own}
    method_label = label(name, params)
    key = f"{family}_d{dim}_mi{mi:g}_n{n}_seed{seed}_{method_label}"
    cached = None if rows is None else rows / f"{key}.json"
    if cached is not None and cached.exists():
        return json.loads(cached.read_text())
    x, y = ami.tasks.get(family, dim=dim, mi=mi).sample(n, seed=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ami.estimate(x, y, method=name, seed=seed, **params)
    lo, hi = result.ci
    row = {"task": f"{family} d={dim}", "truth": mi, "n": n, "method": method_label, "seed": seed, "estimate": result.mi,
           "stderr": result.stderr, "covered": bool(lo <= mi <= hi), "seconds": time.perf_counter() - started,
           "code": code_version()}
    if cached is not None:
        atomic_write_text(cached, json.dumps(row))
    print(f"  {key}: {result.mi:.3f} ({row['seconds']:.0f} s)", flush=True)
    return row


def table(cases, seeds, methods=("anchor",), rows: Path | None = None, shared: dict | None = None) -> pd.DataFrame:
    """Mean, spread over seeds, mean stderr and RMSE over seeds, per case and method."""
    if rows is not None:
        rows.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame([run_case(*case[:4], seed, method, rows, shared)
                          for case in cases for method in methods for seed in seeds])
    frame["squared_error"] = (frame.estimate - frame.truth) ** 2
    summary = frame.groupby(["task", "truth", "n", "method"], sort=False).agg(
        estimate=("estimate", "mean"), seed_sd=("estimate", "std"), stderr=("stderr", "mean"),
        rmse=("squared_error", "mean"), covered=("covered", "sum"), seconds=("seconds", "mean"))
    summary["rmse"] = summary.rmse ** 0.5
    summary["rel_error_%"] = 100 * (summary.estimate - summary.index.get_level_values("truth")) / summary.index.get_level_values("truth")
    if "code" in frame:
        print(describe_code_versions(frame["code"]))
    return summary.reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--only", choices=["acceptance", "bar"], default=None)
    parser.add_argument("--families", default="gaussian", help="acceptance families, e.g. gaussian,cubic")
    parser.add_argument("--methods", default="anchor", help="acceptance methods, e.g. anchor,anchor:nu=1,smile")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="one more argument for every method's fit, repeatable (e.g. critic=soft_bounded)")
    parser.add_argument("--rows", type=Path, default=None, help="folder keeping one file per fit (resumable)")
    args = parser.parse_args()
    try:
        shared = parse_params(args.param)
    except ValueError as error:
        parser.error(str(error))
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for method in methods:  # a misspelt method fails here, before an hour of fits
        name, _ = parse_spec(method, "--methods")
        if name not in ami.methods():
            parser.error(f"--methods: {name!r} is unknown; choose from {sorted(ami.methods())}")
    pd.set_option("display.width", 160)
    if args.only in (None, "acceptance"):
        extra = "".join(f", {k}={v!r}" for k, v in shared.items())
        print(f"anchormi.estimate defaults{extra}, N = 20,000 (5 cross-fitted folds):")
        cases = [(family, *case[1:]) for family in args.families.split(",") for case in ACCEPTANCE]
        print(table(cases, seeds, methods, args.rows, shared).round(3).to_string(index=False))
    if args.only in (None, "bar"):
        summary = table(BAR, seeds)
        summary["best_peer"] = [row[4] for row in BAR]
        summary["peer"] = [row[5] for row in BAR]
        summary["closer_than_peer"] = (summary.estimate - summary.truth).abs() < (summary.best_peer - summary.truth).abs()
        print("\nBar to beat, N = 10,000 (peer numbers quoted in docs/method.md section 10, not rerun):")
        print(summary.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
