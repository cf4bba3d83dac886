"""Conditional MI I(X;Y|Z): the default ``anchormi.estimate(x, y, z=z)`` beside Frenzel-Pompe k-NN.

Tasks with exact CMI from ``anchormi.tasks`` (d_x = d_y = d_z = 5, N = 20,000 by default):

- ``conditional_gaussian(cmi=1)``: X and Y driven by Z and correlated given Z;
- ``chain(mi=1)``: X -> Z -> Y, so I(X;Y|Z) = 0 while I(X;Y) = 1;
- ``collider(cmi=1)``: X -> Z <- Y, so I(X;Y) = 0 while I(X;Y|Z) = 1;
- each again with ``warp="monotone"`` (x^3, sinh y, z + 0.3 z^3 per coordinate: non-Gaussian, same truths).

Every (task, seed) row draws new data and a new covariance from ``seed`` and runs both estimators
on the same draw. The pass mark of the trust/user-requests issue: within 10 % of the truth, or
within 0.05 nats when the truth is 0, and the 95 % interval covers the truth.

    python benchmarks/conditional.py                       # 6 tasks x seeds 0,1,2 (about 20-40 minutes on 2 cores)
    python benchmarks/conditional.py --quick --out /tmp/cq # N = 2,000, one seed: a smoke run
    python benchmarks/conditional.py --param critic=separable   # another argument for anchormi's fits

Rows are cached one JSON file per (task, seed, N) under ``--out`` (default
benchmarks/results/conditional-<critic>/, the critic of the fits), so a killed run resumes;
``table.md`` and ``rows.csv`` are rewritten at the end. Workers run with one torch thread each.
Each row records the code that ran it (``code``); ``table.md`` says when rows come from different
code, so use a fresh ``--out`` after a change. ``--param NAME=VALUE`` (repeatable) passes one more
argument to anchormi's fits (not to KSG). Each row records its params, the critic always among
them (the default's name when none is given), and a folder refuses rows made with other params.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TASKS = [("conditional_gaussian", {"cmi": 1.0}), ("chain", {"mi": 1.0}), ("collider", {"cmi": 1.0})]
WARPS = ("none", "monotone")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _init_worker() -> None:
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def run_row(builder: str, kwargs: dict[str, Any], warp: str, seed: int, n: int, dim: int, out: str,
            params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One (task, seed): anchormi's default CMI (with ``params``) and Frenzel-Pompe KSG on the same
    draw; cached as JSON."""
    import anchormi as ami
    from anchormi.bench.provenance import code_version
    from anchormi.files import atomic_write_text

    task = getattr(ami.tasks, builder)(dim_x=dim, dim_y=dim, dim_z=dim, seed=seed, warp=warp, **kwargs)
    path = Path(out) / f"{task.name}-n{n}.json"
    params = dict(params or {})
    if path.exists():  # main() has checked that its params are these
        return json.loads(path.read_text())
    code = code_version()  # read as the code is imported (cached per worker), not after the fits
    x, y, z = task.sample(n, seed=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = ami.estimate(x, y, z=z, seed=seed, progress=False, **params)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    knn = ami.estimate(x, y, z=z, method="ksg")
    knn_seconds = time.perf_counter() - started
    truth = float(task.cmi)
    lo, hi = (float(v) for v in result.ci)
    tolerance = 0.05 if truth == 0 else 0.10 * truth
    row = {
        "task": builder, "warp": warp, "seed": seed, "n": n, "dim": dim, "truth": truth, "mi_xy": float(task.mi),
        "estimate": float(result.mi), "stderr": float(result.stderr), "ci_lo": lo, "ci_hi": hi,
        "covered": bool(lo <= truth <= hi), "within": bool(abs(result.mi - truth) <= tolerance),
        "ksg": float(knn.mi), "seconds": seconds, "ksg_seconds": knn_seconds,
        "warnings": [name for name, check in result.diagnostics.items() if check.status == "warn"],
        "code": code, "params": params,
    }
    atomic_write_text(path, json.dumps(row, indent=1) + "\n")
    return row


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per task: truth, anchormi mean +- sd over seeds, coverage, pass count, KSG mean."""
    grouped = rows.groupby(["task", "warp"], sort=False)
    return pd.DataFrame({
        "truth": grouped.truth.mean(),
        "anchormi (mean ± sd)": grouped.estimate.agg(lambda v: f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}"),
        "mean stderr": grouped.stderr.mean().round(3),
        "covered": grouped.covered.agg(lambda v: f"{int(v.sum())}/{len(v)}"),
        "within 10 % / 0.05": grouped.within.agg(lambda v: f"{int(v.sum())}/{len(v)}"),
        "Frenzel–Pompe KSG": grouped.ksg.agg(lambda v: f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}"),
        "seconds": grouped.seconds.mean().round(0).astype(int),
    }).reset_index()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="N = 2,000, seed 0: a smoke run")
    parser.add_argument("--out", default=None, help="default: benchmarks/results/conditional-<critic>")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="one more argument for anchormi's fits, repeatable (e.g. critic=soft_bounded)")
    args = parser.parse_args(argv)
    from anchormi.cli import parse_params
    from anchormi.critics import DEFAULT_CRITIC

    try:
        params = {"critic": DEFAULT_CRITIC, **parse_params(args.param)}  # rows name the critic even by default
    except ValueError as error:
        parser.error(str(error))
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    n = 2_000 if args.quick else args.n
    out = Path(args.out or Path(__file__).parent / "results" / f"conditional-{params['critic']}")
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(out.glob("*.json")):  # refuse here, not in a worker: one error line, rc 2
        made_with = json.loads(path.read_text()).get("params", {})
        if made_with != params:
            parser.error(f"{path} was made with params {made_with}, not {params}; use another --out for other params")
    jobs = [(builder, kwargs, warp, seed, n, args.dim, str(out), params) for builder, kwargs in TASKS for warp in WARPS for seed in seeds]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=context, initializer=_init_worker) as pool:
        rows = list(pool.map(run_row, *zip(*jobs)))
    frame = pd.DataFrame(rows)
    frame.to_csv(out / "rows.csv", index=False)
    from anchormi.bench.provenance import describe_code_versions
    from anchormi.files import atomic_write_text, markdown_table

    summary = table(frame)
    command = "python benchmarks/conditional.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = (f"`{command.strip()}` (N = {n}, d_x = d_y = d_z = {args.dim}, seeds {','.join(map(str, seeds))})\n\n"
            + markdown_table(summary) + "\n\n"
            + f"All tasks: {int(frame.covered.sum())}/{len(frame)} intervals cover the truth, "
            + f"{int(frame.within.sum())}/{len(frame)} within 10 % (0.05 nats at truth 0); "
            + f"mean |error| anchormi {np.mean(np.abs(frame.estimate - frame.truth)):.3f}, KSG {np.mean(np.abs(frame.ksg - frame.truth)):.3f} nats.\n"
            + describe_code_versions(frame.get("code", [None] * len(frame))) + "\n")
    atomic_write_text(out / "table.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
