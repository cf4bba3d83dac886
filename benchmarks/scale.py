"""Time and peak memory of ``anchormi estimate x.npy y.npy`` against N, up to 10^7 pairs.

For each N the script writes a Gaussian pair (d = 20 each, true MI 2 nats) to two float32 .npy
files in chunks (never the whole array in memory), then runs the command line on them in a fresh
process and reads that process's peak resident memory (``getrusage`` of the child). The .npy files
are memory-mapped; above ~330,000 pairs (d = 20 + 20) the estimator switches to its large-data mode (one float32
copy mapped in chunks, shared by the five folds; the permutation test on 20,000 pairs per fold).

The goal (speed/scale issue): at N = 10^7 the run completes with peak RSS <= 1.5 x the float32
data + 1 GB. The last column prints that ratio (<= 1 passes).

    python benchmarks/scale.py                                  # N = 1e4, 1e5, 1e6, 1e7 (about 25 minutes on 2 cores)
    python benchmarks/scale.py --sizes 10000,100000 --keep /tmp/scale   # smaller; keep the files
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

DIM, MI, SEED = 20, 2.0, 0
WRITE_CHUNK = 500_000


def write_pair(folder: Path, n: int) -> float:
    """x.npy and y.npy (float32, (n, DIM)) from anchormi.tasks.gaussian, chunk by chunk; returns the truth."""
    import anchormi as ami

    task = ami.tasks.gaussian(dim=DIM, mi=MI)
    x_file = open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    y_file = open_memmap(folder / "y.npy", mode="w+", dtype=np.float32, shape=(n, DIM))
    for index, start in enumerate(range(0, n, WRITE_CHUNK)):
        size = min(WRITE_CHUNK, n - start)
        x, y = task.sample(size, seed=SEED * 1_000 + index)
        x_file[start : start + size], y_file[start : start + size] = x, y
    x_file.flush(), y_file.flush()
    del x_file, y_file
    return float(task.mi)


def measure(folder: Path, extra: list[str]) -> dict:
    """Run the CLI in a child process of this process; its wall time, peak RSS and JSON output."""
    command = [sys.executable, "-m", "anchormi.cli", "estimate", str(folder / "x.npy"), str(folder / "y.npy"), "--json", *extra]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "peak_rss_mb": peak_kib / 1024, "result": json.loads(completed.stdout)}


def one(n: int, folder: Path, extra: list[str]) -> dict:
    truth = write_pair(folder, n)
    measured = measure(folder, extra)
    data_mb = 2 * n * DIM * 4 / 2**20
    result = measured["result"]
    return {
        "n": n, "data_mb": data_mb, "seconds": measured["seconds"], "peak_rss_mb": measured["peak_rss_mb"],
        "goal_mb": 1.5 * data_mb + 1024, "estimate": result["mi"], "stderr": result["stderr"], "truth": truth,
        "large_data": result["info"].get("large_data"), "steps": result["info"].get("steps_run"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,10000000")
    parser.add_argument("--keep", default=None, help="folder for the .npy files (default: a temporary one, removed)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one size, fresh process
    parser.add_argument("--param", action="append", default=[], help="passed on to anchormi estimate as --param")
    args = parser.parse_args(argv)
    extra = [token for item in args.param for token in ("--param", item)]
    if args.one is not None:
        print(json.dumps(one(args.one, Path(args.keep), extra)))
        return 0
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="anchormi-scale-"))
    print(f"Gaussian d = {DIM} + {DIM}, true MI {MI} nats, float32 .npy files in {root}; "
          f"{os.cpu_count()} cores; torch threads chosen by anchormi\n")
    header = f"{'N':>10} {'data MB':>8} {'time s':>8} {'peak RSS MB':>11} {'goal MB':>8} {'RSS/goal':>8} {'estimate':>9} {'stderr':>7} {'large':>6}"
    print(header)
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            folder = root / f"n{n}"
            folder.mkdir(parents=True, exist_ok=True)
            # A fresh process per size, so that the peak of its child is this size's alone.
            child = subprocess.run([sys.executable, __file__, "--one", str(n), "--keep", str(folder), *sum((["--param", p] for p in args.param), [])],
                                   capture_output=True, text=True)
            if child.returncode != 0:
                print(f"{n:>10} failed: {child.stderr.strip()[-1500:]}")
                continue
            row = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{row['n']:>10} {row['data_mb']:>8.0f} {row['seconds']:>8.1f} {row['peak_rss_mb']:>11.0f} {row['goal_mb']:>8.0f} "
                  f"{row['peak_rss_mb'] / row['goal_mb']:>8.2f} {row['estimate']:>9.3f} {row['stderr']:>7.3f} {str(row['large_data']):>6}", flush=True)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
