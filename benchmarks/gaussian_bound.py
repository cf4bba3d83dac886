"""How the ``gaussian_bound`` check reads on stored estimates: when it warns, is the estimate low?

The check needs only the data and the estimate with its stderr (``anchormi.diagnostics``), so it
can be judged on benchmark rows already run, without training again: each row's data are drawn
again from its seed (``coverage.make_data`` for a coverage folder's ``cells.csv``,
``defaults_sweep.task_for`` for a sweep CSV), and ``gaussian_bound_check`` is applied to the
stored estimate and stderr. Valid while the stored rows are the current code's bits (the default
estimate has not changed since they were run; each coverage cell records its commit).

Prints, per family: how often the check warns, is ok or skips; of its warnings, how many were on
estimates below the truth; and the interval's coverage and mean width as stored and with the
library's rule (``diagnostics.bound_applies``): wherever the bound applies, the upper end is at
least the bound's upper limit, bound + 1.96 stderr (``intervals.reach_to_bound``).

    python benchmarks/gaussian_bound.py benchmarks/results/coverage-soft_bounded-s100 \\
        benchmarks/results/coverage-soft_bounded-s101 benchmarks/results/coverage-soft_bounded-s103 \\
        benchmarks/results/coverage-null-soft_bounded
    python benchmarks/gaussian_bound.py --sweep benchmarks/results/probe_small.csv
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings

import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from anchormi.diagnostics import bound_applies, gaussian_bound_check, gaussian_reference  # noqa: E402
from anchormi.intervals import reach_to_bound  # noqa: E402


def coverage_rows(folder: str):
    """(label, family, truth, x, y, estimate, stderr, ci_lo, ci_hi) of each cell of a coverage folder."""
    import coverage

    for cell in pd.read_csv(os.path.join(folder, "cells.csv")).to_dict("records"):
        spec = {"family": cell["family"], "dim": int(cell["dim"]), "level": float(cell["level"]), "n": int(cell["n"]),
                "seed": int(cell["seed"]), "k": None if pd.isna(cell.get("k")) else int(cell["k"])}
        x, y, truth, _ = coverage.make_data(spec)
        yield cell["key"], cell["family"], truth, x, y, cell["estimate"], cell["stderr"], cell["ci_lo"], cell["ci_hi"]


def sweep_rows(path: str):
    """The same for a ``defaults_sweep.py`` CSV (its ``mi`` column is the truth)."""
    import defaults_sweep

    for row in pd.read_csv(path).to_dict("records"):
        x, y = defaults_sweep.task_for(row["family"], int(row["dim"]), float(row["mi"])).sample(int(row["n"]), seed=int(row["seed"]))
        label = f"{row['config']} {row['family']}-d{row['dim']}-mi{row['mi']:g}-n{row['n']}-s{row['seed']}"
        yield label, row["family"], float(row["mi"]), x, y, row["estimate"], row["stderr"], row["ci_lo"], row["ci_hi"]


def judge(rows) -> pd.DataFrame:
    records = []
    for label, family, truth, x, y, estimate, stderr, lo, hi in rows:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = gaussian_reference(x, y)
        check = gaussian_bound_check(reference, estimate, stderr)
        bound_stderr = getattr(reference, "stderr", math.nan)
        # The stored upper end raised by the library's rule (an interval of width 0 at hi).
        reach = hi + reach_to_bound(hi, 0.0, math.inf, reference.mi, reference.stderr) if bound_applies(reference) else hi
        records.append({"row": label, "family": family, "truth": truth, "estimate": estimate, "stderr": stderr,
                        "bound": check.value, "bound_stderr": bound_stderr, "status": check.status,
                        "estimate_low": estimate < truth, "covered": lo <= truth <= hi, "covered_extended": lo <= truth <= reach,
                        "width": hi - lo, "width_extended": reach - lo, "raised": reach > hi})
        print(f"{label:55s} truth {truth:7.3f} estimate {estimate:7.3f} [{lo:7.3f}, {hi:7.3f}]  bound {check.value:7.3f}"
              f" ± {bound_stderr:.3f}  {check.status}", flush=True)
    return pd.DataFrame(records)


def summarise(frame: pd.DataFrame) -> None:
    table = frame.groupby("family").agg(
        rows=("status", "size"), warn=("status", lambda s: int((s == "warn").sum())), ok=("status", lambda s: int((s == "ok").sum())),
        skip=("status", lambda s: int((s == "skip").sum())), raised=("raised", "sum"), covered=("covered", "sum"),
        covered_with_rule=("covered_extended", "sum"), width=("width", "mean"), width_with_rule=("width_extended", "mean"))
    print("\n" + table.round(3).to_string())
    warned = frame[frame.status == "warn"]
    print(f"\n{len(frame)} rows: {len(warned)} warnings, {int(warned.estimate_low.sum())} of them on estimates below the truth; "
          f"{int(frame.raised.sum())} upper ends raised to the bound's upper limit; coverage {frame.covered.mean():.3f} as "
          f"stored, {frame.covered_extended.mean():.3f} with the rule; mean width {frame.width.mean():.3f} and "
          f"{frame.width_extended.mean():.3f} nats.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="coverage.py output folders (each with cells.csv)")
    parser.add_argument("--sweep", action="append", default=[], help="a defaults_sweep.py CSV (repeatable)")
    parser.add_argument("--out", default=None, help="write the per-row table here (CSV)")
    args = parser.parse_args()
    frames = [judge(coverage_rows(folder)) for folder in args.folders] + [judge(sweep_rows(path)) for path in args.sweep]
    if not frames:
        parser.error("pass at least one coverage folder or --sweep CSV")
    frame = pd.concat(frames, ignore_index=True)
    summarise(frame)
    if args.out:
        frame.to_csv(args.out, index=False)
