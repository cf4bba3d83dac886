"""How often each diagnostic warns on stored benchmark rows, and whether its warnings find the misses.

A check earns its "warn" when warned estimates miss (their interval leaves out the truth) more
often than the rest. A check that warns on most fits, misses and good ones alike, teaches a
user to skip every warning. For each check this prints how many rows it warned on, how many of
those missed, and how many of the others missed.

Inputs are coverage folders (``cells.csv`` with one ``status_<check>`` column per check, as run)
and sweep CSVs from ``defaults_sweep.py`` (the ``warnings`` column, as run). For both it also
prints what the ``fold_agreement`` and ``offset`` checks say under a given materiality share
(``--share``; ``diagnostics.CRITIC_SPREAD_SHARE``), without training again: the folds' standard
deviation is the pooled sampling-and-folds stderr (a sweep row's ``stderr_sampling_and_folds``;
a coverage cell's ``stderr`` with the offsets' disagreement taken out in quadrature) times sqrt(F)
(the pooled stderr is the fold means' spread over F whenever the folds disagree beyond sampling
error, which the check's chi-square test requires: ``intervals.pool_folds``), and the offset
check compares ``offset_disagreement`` with twice that stderr. Both stored rules already
required the chi-square rejection and the 2-stderr gap, so only the share is new.

    python benchmarks/check_rates.py --sweep benchmarks/results/dev_mixing.csv \\
        benchmarks/results/convergence_check.csv benchmarks/results/probe_mixing.csv \\
        benchmarks/results/probe_dof.csv
    python benchmarks/check_rates.py benchmarks/results/coverage-default-s107
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from anchormi.diagnostics import CRITIC_SPREAD_SHARE, MATERIAL_NATS  # noqa: E402
from anchormi.estimator import DEFAULT_FOLDS  # noqa: E402


def table(warned: pd.DataFrame, covered: pd.Series) -> pd.DataFrame:
    """Per check (columns of the boolean frame ``warned``): rows warned, misses among them, misses among the rest."""
    lines = []
    for name in warned.columns:
        flag = warned[name].astype(bool)
        lines.append({"check": name, "rows": len(flag), "warned": int(flag.sum()),
                      "missed | warned": int((~covered[flag]).sum()), "missed | not warned": int((~covered[~flag]).sum())})
    return pd.DataFrame(lines)


def what_if(fold_warned: pd.Series, fold_stderr: pd.Series, disagreement: pd.Series, estimate: pd.Series,
            share: float) -> pd.DataFrame:
    """The folds' and offsets' checks at materiality ``share``, from a row's stored rule and numbers:
    ``fold_warned`` (the chi-square rejected, which the stored rule required), ``fold_stderr``
    (the pooled sampling-and-folds stderr), the offsets' ``disagreement`` and the ``estimate``."""
    floor = np.maximum(MATERIAL_NATS, share * estimate.abs())  # diagnostics._material, row by row
    return pd.DataFrame({
        f"fold_agreement at {share:.0%}": fold_warned & (fold_stderr * math.sqrt(DEFAULT_FOLDS) > floor),
        f"offset at {share:.0%}": (disagreement.abs() > 2 * fold_stderr) & (disagreement.abs() > floor),
    })


def coverage_table(folders: list[str], share: float) -> pd.DataFrame:
    cells = pd.concat([pd.read_csv(os.path.join(folder, "cells.csv")) for folder in folders], ignore_index=True)
    statuses = [column for column in cells.columns if column.startswith("status_")]
    warned = pd.DataFrame({column.removeprefix("status_"): cells[column].eq("warn") for column in statuses})
    # The stored stderr is the pooled one and the offsets' disagreement in quadrature (MIEstimator).
    disagreement = cells["offset_disagreement"].fillna(0.0)
    fold_stderr = np.sqrt(np.maximum(cells["stderr"] ** 2 - disagreement**2, 0.0))
    extra = what_if(warned["fold_agreement"], fold_stderr, disagreement, cells["estimate"], share)
    return table(pd.concat([warned, extra], axis=1), cells["covered"].astype(bool))


def sweep_rows(paths: list[str]) -> pd.DataFrame:
    return sweep_rows_from(pd.concat([pd.read_csv(path) for path in paths], ignore_index=True))


def sweep_rows_from(rows: pd.DataFrame) -> pd.DataFrame:
    """The default configuration's rows with an estimate's spread and offsets, each cell once, with ``covered``."""
    rows = rows[rows["config"].eq("default")].dropna(subset=["stderr_sampling_and_folds", "offset_disagreement"])
    rows = rows.drop_duplicates(subset=["family", "dim", "mi", "n", "seed"])  # a cell stored in two files counts once
    rows["covered"] = (rows["ci_lo"] <= rows["mi"]) & (rows["mi"] <= rows["ci_hi"])
    return rows.reset_index(drop=True)


def sweep_table(rows: pd.DataFrame, share: float) -> pd.DataFrame:
    warnings = rows["warnings"].fillna("").astype(str)
    names = ["convergence", "calibration", "fold_agreement", "offset", "high_mi", "gaussian_bound"]
    stored = pd.DataFrame({name: warnings.str.split(";").apply(lambda found, name=name: name in [w.strip() for w in found])
                           for name in names})
    extra = what_if(stored["fold_agreement"], rows["stderr_sampling_and_folds"], rows["offset_disagreement"],
                    rows["estimate"], share)
    return table(pd.concat([stored, extra], axis=1), rows["covered"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", help="coverage folders (each with cells.csv)")
    parser.add_argument("--sweep", nargs="+", default=[], help="defaults_sweep.py CSVs")
    parser.add_argument("--share", type=float, default=CRITIC_SPREAD_SHARE,
                        help="materiality share for the what-if columns of sweep rows (default: the library's)")
    args = parser.parse_args(argv)
    if not args.folders and not args.sweep:
        parser.error("give coverage folders, --sweep CSVs, or both")
    if args.folders:
        print(f"coverage cells, statuses as run ({', '.join(args.folders)}):")
        print(coverage_table(args.folders, args.share).to_string(index=False))
    if args.sweep:
        rows = sweep_rows(args.sweep)
        print(f"\nsweep rows of the default configuration ({len(rows)} distinct cells; stored warnings as run, "
              f"then the what-if rule):")
        print(sweep_table(rows, args.share).to_string(index=False))


if __name__ == "__main__":
    main()
