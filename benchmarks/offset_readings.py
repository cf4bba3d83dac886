"""Other readings of the default's trained critics on development cells, from one fit per cell.

For each cell of a ``defaults_sweep.py`` grid (``dev_offset`` by default) the default
``MIEstimator`` is fitted once (``n_permutations=0``, one thread). Each fold critic's additive
offset is then refitted on its validation pairs in several ways, and every reading is the fold's
held-out plug-in with that offset, pooled with the test-pair weights as the estimate pools them:

- ``trained``: the anchor's own offset;
- ``perm``: the library's refit (``anchormi.recalibration.critic_offset``: balanced logistic
  regression of joint pairs against 10 random permutations of y, with the estimator's seeding, so
  ``higher_perm`` is the default estimate itself; the script checks that);
- ``der``: the same refit with permutations that have no fixed point (a random n-cycle);
- ``all``: the same refit against every other validation pair (n_val - 1 partners per pair);
- ``dv``: the Donsker-Varadhan normaliser, -log mean exp(l) over every other validation pair;
- ``platt``: slope a and offset b by balanced logistic regression on every pair, reading a T + b;

and ``higher_*`` = max(trained, refit), the default's rule applied to each refit.

    python benchmarks/offset_readings.py --seeds 11 --out benchmarks/results/dev_offset_readings_s11.csv
    python benchmarks/offset_readings.py --seeds 12 --out benchmarks/results/dev_offset_readings_s12.csv
    python benchmarks/offset_readings.py --summary benchmarks/results/dev_offset_readings_s1*.csv

One invocation per seed (and file) can run beside another on two cores; rows are appended per
cell, and a rerun skips finished cells. Development grids only: report cells choose nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from anchormi.diagnostics import log_mean_exp
from anchormi.estimator import MIEstimator, _tensors
from anchormi.files import atomic_write_table
from anchormi.recalibration import SHUFFLES, critic_offset, logistic_offset

sys.path.insert(0, str(Path(__file__).parent))
from defaults_sweep import GRIDS, task_for  # noqa: E402

REFITS = ("perm", "der", "all", "dv", "platt")


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A uniformly random n-cycle: a permutation of range(n) without fixed points."""
    order = torch.randperm(n, generator=generator)
    cycle = torch.empty_like(order)
    cycle[order] = order.roll(-1)
    return cycle


def platt(joint: np.ndarray, others: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the balanced logistic loss of a l + b, joint pairs against the others."""
    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = params
        z_joint, z_other = a * joint + b, a * others + b
        value = -np.mean(log_expit(z_joint)) - np.mean(log_expit(-z_other))
        d_joint, d_other = -expit(-z_joint), expit(z_other)
        return value, np.array([np.mean(d_joint * joint) + np.mean(d_other * others), np.mean(d_joint) + np.mean(d_other)])
    fitted = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B", bounds=[(0.05, 20.0), (-100.0, 100.0)])
    return float(fitted.x[0]), float(fitted.x[1])


def run_cell(family: str, dim: int, mi: float, n: int, seed: int, fit_params: dict | None = None) -> dict:
    """One default fit (``fit_params`` override its settings, for tests) and every reading of it."""
    x, y = task_for(family, dim, mi).sample(n, seed=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MIEstimator(**{"seed": seed, "n_permutations": 0, "n_threads": 1, **(fit_params or {})}).fit(x, y)
    seconds = time.perf_counter() - started
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    offset, cpu = float(est.log_ratio_offset_), torch.device("cpu")
    generators = {"perm": torch.Generator().manual_seed(seed + 4099), "der": torch.Generator().manual_seed(seed + 4099)}
    readings: dict[str, list[float]] = {name: [] for name in ("trained", *REFITS)}
    weights = []
    with torch.no_grad():
        for critic, scalers, split in zip(est.critics_, est.scalers_, est._splits(n)):
            x_test, y_test = _tensors(scalers, x[split.test], y[split.test], cpu)
            trained = float((critic.pointwise(x_test, y_test).double() - offset).mean())
            x_val, y_val = _tensors(scalers, x[split.val], y[split.val], cpu)
            scores = (critic.pairwise(x_val, y_val).double() - offset).numpy()
            n_val = scores.shape[0]
            joint = np.diag(scores).copy()
            others = scores[~np.eye(n_val, dtype=bool)].reshape(n_val, n_val - 1).T  # (n_val - 1, n_val)
            cycles = torch.stack([derangement(n_val, generators["der"]) for _ in range(SHUFFLES)]).numpy()
            a, b = platt(joint, others.ravel())
            shifts = {
                "perm": critic_offset(critic, x_val, y_val, offset, generators["perm"])[0],
                "der": logistic_offset(joint, scores[np.arange(n_val)[None, :], cycles])[0],
                "all": logistic_offset(joint, others)[0],
                "dv": -log_mean_exp(others, n_val)[0],
            }
            readings["trained"].append(trained)
            for name, shift in shifts.items():
                readings[name].append(trained + shift)
            readings["platt"].append(a * trained + b)
            weights.append(split.test.size)
    row = {"family": family, "dim": dim, "mi": mi, "n": n, "seed": seed, "estimate": est.result_.mi,
           "offset_disagreement": est.result_.info.get("offset_disagreement"), "seconds": seconds}
    for name, values in readings.items():
        row[name] = float(np.average(values, weights=weights))
    for name in REFITS:
        row[f"higher_{name}"] = max(row["trained"], row[name])
    return row


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """RMS relative error of each reading over all cells and over cells with truth >= 2 nats."""
    readings = ["trained", *REFITS, *[f"higher_{name}" for name in REFITS]]
    rows = []
    for label, part in (("all cells", frame), ("truth >= 2 nats", frame[frame["mi"] >= 2])):
        relative = (part[readings].to_numpy() - part[["mi"]].to_numpy()) / part[["mi"]].to_numpy()
        rows.append({"cells": f"{label} ({len(part)})", **dict(zip(readings, np.sqrt(np.mean(relative**2, axis=0))))})
    return pd.DataFrame(rows).set_index("cells").T.rename_axis("reading (RMS relative error)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="dev_offset", choices=[g for g in GRIDS if g.startswith("dev")])
    parser.add_argument("--seeds", default="11,12")
    parser.add_argument("--out", default="offset_readings.csv")
    parser.add_argument("--summary", metavar="CSV", nargs="+", help="print the tables of finished CSVs and exit")
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    if args.summary:
        frame = pd.concat([pd.read_csv(path) for path in args.summary], ignore_index=True)
        columns = ["family", "dim", "mi", "seed", "trained", "higher_perm", "perm", "der", "all", "dv", "platt"]
        print(frame[columns].round(3).to_string(index=False), "\n")
        print(summary(frame).round(4).to_string())
        gap = (frame["estimate"] - frame["higher_perm"]).abs().max()
        print(f"\nlargest |default estimate - higher_perm| (the library's reading, recomputed): {gap:.2e}")
        return
    done = pd.read_csv(args.out) if os.path.exists(args.out) else pd.DataFrame()
    for seed in [int(s) for s in args.seeds.split(",")]:
        for family, dim, mi, n in sorted(GRIDS[args.grid], key=lambda cell: -cell[2]):
            if len(done) and ((done["family"] == family) & (done["dim"] == dim) & np.isclose(done["mi"], mi) & (done["seed"] == seed)).any():
                continue
            row = run_cell(family, dim, mi, n, seed)
            done = pd.concat([done, pd.DataFrame([row])], ignore_index=True)
            atomic_write_table(args.out, done)
            print(f"{family} d={dim} mi={mi:.3f} seed {seed}: trained {row['trained']:.3f}, default {row['estimate']:.3f}, "
                  f"{row['seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
