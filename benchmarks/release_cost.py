"""Wall time of the default ``anchormi.estimate`` against a release, measured in the same run.

The release (default: 0.1, commit 70af2d2) is checked out into a temporary ``git worktree`` and
imported from there in a fresh process; this checkout runs in another fresh process on the same
data (Gaussian d = 20 + 20, true MI 6 nats, N = 20,000, seed 0). Also timed: this checkout with
``folds=1``, so the cost of five cross-fitted folds against one split comes from the same run.
Every process uses the library's own thread choice (0.1: torch's default, all cores).

    python benchmarks/release_cost.py                  # about 2-3 minutes on 2 idle cores
    python benchmarks/release_cost.py --release 70af2d2 --n 20000 --repeats 2
    python benchmarks/release_cost.py --profile        # this checkout's default call under cProfile
    python benchmarks/release_cost.py --param max_steps=26250     # one more case: this checkout with these params

Run it on an otherwise idle machine: a competing process changes every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time, warnings
sys.path.insert(0, sys.argv[1])
import anchormi as ami
x, y = ami.tasks.gaussian(dim=20, mi=6.0).sample(int(sys.argv[2]), seed=0)
kwargs = json.loads(sys.argv[3])
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    result = ami.estimate(x, y, seed=0, progress=False, **kwargs)
    seconds = time.perf_counter() - started
steps = (getattr(result, "info", None) or {}).get("steps_run")
print(json.dumps({"seconds": seconds, "mi": float(result.mi), "stderr": float(result.stderr), "version": ami.__version__, "steps": steps}))
"""


@contextlib.contextmanager
def checked_out(revision: str) -> Iterator[Path]:
    """A temporary ``git worktree`` of ``revision`` (this repository's), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="anchormi-rev-") as folder:
        worktree = Path(folder) / "tree"
        added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), revision],
                               capture_output=True, text=True)
        if added.returncode != 0:
            raise SystemExit(f"error: cannot check out {revision!r}: {added.stderr.strip().splitlines()[-1]}")
        try:
            yield worktree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], capture_output=True)


def timed(source: Path, n: int, kwargs: dict) -> dict:
    completed = subprocess.run([sys.executable, "-c", CHILD, str(source), str(n), json.dumps(kwargs)],
                               capture_output=True, text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    if completed.returncode != 0:
        raise RuntimeError(f"the timing process for {source} failed: {completed.stderr.strip()[-1500:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def profile(n: int, top: int = 15) -> None:
    """This checkout's default call under cProfile: where the time goes, by own time."""
    import cProfile
    import pstats
    import warnings

    sys.path.insert(0, str(ROOT / "src"))
    import anchormi as ami

    x, y = ami.tasks.gaussian(dim=20, mi=6.0).sample(n, seed=0)
    profiler = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        profiler.enable()
        est = ami.MIEstimator(seed=0, progress=False).fit(x, y)
        profiler.disable()
    info = est.result_.info
    print(f"default fit, N = {n}: {info['seconds']:.1f} s under cProfile, {info['steps_run']} steps, {info['n_threads']} thread(s)")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="70af2d2", help="git revision of the reference release")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile this checkout's default call instead of timing")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="time one more case: this checkout with these estimate() params (repeatable; JSON values)")
    args = parser.parse_args(argv)
    extra = {}
    if args.param:  # the parent imports this checkout (and torch) only to read them
        sys.path.insert(0, str(ROOT / "src"))
        from anchormi.cli import parse_params
        try:
            extra = parse_params(args.param)
        except ValueError as error:
            parser.error(str(error))
    if args.profile:
        profile(args.n)
        return 0
    with checked_out(args.release) as worktree:
        cases = [(f"release {args.release}, defaults", worktree / "src", {}),
                 ("this checkout, defaults", ROOT / "src", {}),
                 ("this checkout, folds=1", ROOT / "src", {"folds": 1})]
        if extra:
            cases.append(("this checkout, " + ", ".join(f"{k}={v}" for k, v in extra.items()), ROOT / "src", extra))
        rows = []
        for _ in range(args.repeats):
            for label, source, kwargs in cases:
                rows.append((label, timed(source, args.n, kwargs)))
    reference = min(row["seconds"] for label, row in rows if label.startswith("release"))
    print(f"Gaussian d = 20 + 20, true MI 6 nats, N = {args.n}, seed 0; {os.cpu_count()} cores\n")
    print(f"{'case':34s} {'version':>8} {'seconds':>8} {'x release':>9} {'estimate':>9} {'stderr':>7} {'steps':>7}")
    for label, row in rows:
        steps = "" if row.get("steps") is None else row["steps"]
        print(f"{label:34s} {row['version']:>8} {row['seconds']:8.1f} {row['seconds'] / reference:9.2f} {row['mi']:9.3f} "
              f"{row['stderr']:7.3f} {steps:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
