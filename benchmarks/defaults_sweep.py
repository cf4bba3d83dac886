"""Sweep that chose the defaults of ``anchormi.estimate`` (see benchmarks/README.md).

Each configuration is run through the public ``anchormi.estimate`` on Gaussian and cubic tasks at
several N, dimensions and true MI values. Results go to a CSV, one row per cell, written after
every cell so that a killed sweep resumes where it stopped.

    python benchmarks/defaults_sweep.py --grid dev --configs zscore,normal_scores,ns_folds5 --seeds 11,12 \
        --out benchmarks/results/dev_sweep.csv
    python benchmarks/defaults_sweep.py --summary benchmarks/results/dev_sweep.csv

Release 0.2 tunes on the ``dev`` grid only (Gaussian and cubic at d = 10, Gaussian at d = 5,
seeds 11 and 12) and reports on other tasks, dimensions and seeds (``benchmarks/coverage.py``,
``benchmarks/accuracy.py``); release 0.1's choices were made on the ``acceptance`` grid.
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import numpy as np
import pandas as pd
import torch
from scipy import stats

import anchormi as ami
from anchormi.files import atomic_write_table

# Each entry overrides the current defaults (hidden=(128, 128), embed_dim=auto, lr=1e-3, batch 128,
# weight_decay=0, lr halved with a return to the best checkpoint on every plateau).
CONFIGS = {
    "default": {},
    "default_tested": {"n_permutations": 200},  # the default with its permutation test: calibration value too
    "h256": {"hidden": (256, 256)},
    "h64": {"hidden": (64, 64)},
    "e64": {"embed_dim": 64},
    "wd1": {"weight_decay": 1.0},
    "lr1e-3": {"lr": 1e-3},
    "lr5e-4": {"lr": 5e-4},
    "lr2e-3": {"lr": 2e-3},
    "b256": {"batch_size": 256},
    "symmetric": {"symmetric": True},
    "joint": {"critic": "joint"},
    # Release 0.2: marginal maps and cross-fitting.
    "zscore": {"marginals": "zscore"},
    "normal_scores": {"marginals": "normal_scores"},
    "ns_folds5": {"marginals": "normal_scores", "folds": 5},
    "ns_folds3": {"marginals": "normal_scores", "folds": 3},
    "ns_folds5_6500": {"marginals": "normal_scores", "folds": 5, "max_steps": 6_500},
    "ns_folds5_12000": {"marginals": "normal_scores", "folds": 5, "max_steps": 12_000},
    "ns_folds5_lr2e-3": {"marginals": "normal_scores", "folds": 5, "lr": 2e-3},
    "ns_folds5_b256": {"marginals": "normal_scores", "folds": 5, "batch_size": 256, "lr": 1e-3},
    # The separable critic before the linear shortcut and the dimension-dependent embedding.
    "plain_e32": {"shortcut": False, "embed_dim": 32},
    "shortcut_all": {"shortcut": True},
    # Weight averaging (exponential moving average of the critic's weights), measured, not adopted.
    "ema999": {"weight_average": 0.999},
    "ema995": {"weight_average": 0.995},
    "steps3000": {"max_steps": 3_000},
    "ema999_steps3000": {"weight_average": 0.999, "max_steps": 3_000},
    # A cosine learning-rate schedule (falls from lr to near 0 at the step budget), at the full
    # and at half the step budget.
    "cosine": {"schedule": "cosine"},
    "cosine_steps3000": {"schedule": "cosine", "max_steps": 3_000},
    # The default's constant lr, then a straight fall to near 0 over the last fifth of the budget.
    "anneal": {"schedule": "anneal"},
    "anneal_steps3000": {"schedule": "anneal", "max_steps": 3_000},
    "cosine_lr3e-3_steps3000": {"schedule": "cosine", "lr": 3e-3, "max_steps": 3_000},
    # Cheaper cross-fitting, measured and not adopted (benchmarks/README.md, "Three folds"): three
    # folds (each critic trains on two thirds), at the full and at half the step budget (3,000
    # steps is about half the budget of every N = 10,000 row).
    "folds3": {"folds": 3},
    "folds3_steps3000": {"folds": 3, "max_steps": 3_000},
    "folds3_ema999_steps3000": {"folds": 3, "weight_average": 0.999, "max_steps": 3_000},
    # Other ways of pinning the critic's offset (heavy-tail probe).
    "nce": {"method": "nce"},
    "nu1": {"nu": 1.0},
    "steps26000": {"max_steps": 26_000},
    "folds1": {"folds": 1},
    "joint_folds1": {"critic": "joint", "folds": 1},
    # The critic's tail (benchmarks/tail_errors.py): embeddings s * tanh(.) instead of unbounded ones.
    "bounded": {"critic": "bounded"},
    # The same with the algebraic bound s * e / sqrt(1 + e^2) (results/dev_soft_bounded.csv).
    "soft_bounded": {"critic": "soft_bounded"},
    # Twice the default step budget at N = 10,000 (240 passes over 7,000 training pairs instead of
    # 120): are the under-reads of tightly coupled pairs a budget limit? (results/dev_budget.csv)
    "steps13125": {"max_steps": 13_125},
    # Twice the budget at N = 20,000 (240 passes over 14,000 training pairs): does the tight-coupling
    # rule's cap of 13,125 steps leave accuracy there (probe_tight_n20k)?
    "steps26250": {"max_steps": 26_250},
    # Early stopping that ends runs: half the default patience (500 steps per plateau, so a run
    # stops 2,500 steps after its last improvement instead of 5,000; the lr halves sooner too).
    "patience500": {"patience": 500},
    # A third hidden layer (probe_mixing: coordinate-mixing maps, measured and not adopted).
    "h128x3": {"hidden": (128, 128, 128)},
    # Three narrower hidden layers at the default's arithmetic per pair (5·96 + 2·96² + 96·32 =
    # 22,000 multiply-adds per encoder at d = 5 against 21,100 for (128, 128)): depth for
    # coordinate-mixing maps without the third layer's cost (dev_mixing, then the other dev grids).
    "h96x3": {"hidden": (96, 96, 96)},
}

GRIDS = {
    # (family, dim, mi, n)
    "acceptance": [(family, 20, mi, 20_000) for family in ("gaussian", "cubic") for mi in (2.0, 6.0, 10.0)],
    # The development set of release 0.2: no test asserts these cells.
    "dev": [(family, 10, mi, 10_000) for family in ("gaussian", "cubic") for mi in (4.0, 8.0)] + [("gaussian", 5, 1.0, 10_000)],
    # The learning-rate decision of 0.2: the dev cells that differ after the normal-scores map, and a
    # tightly coupled low-dimensional pair (2 nats per coordinate pair at 9 nats, a level no report
    # cell uses).
    "dev_lr": [("gaussian", 10, 4.0, 10_000), ("gaussian", 10, 8.0, 10_000), ("gaussian", 5, 1.0, 10_000),
               ("gaussian", 5, 9.0, 10_000), ("digits", 4, 4 * math.log(10.0), 10_000)],
    # Digits draws for the few-valued-column decision (dim is k; truth k log 10); report seeds are 0-2 and 100.
    "dev_digits": [("digits", k, k * math.log(10.0), 10_000) for k in (2, 4)],
    # Higher dimensions and a coordinate-mixing warp ("latent": 8 shared latent coordinates rotated
    # into d, then y -> y^3), for the critic's shortcut and embedding size.
    "dev_highdim": [("gaussian", 50, 4.0, 10_000), ("cubic", 40, 6.0, 10_000), ("latent", 20, 4.0, 10_000)],
    # The offset-disagreement interval component: cells where the critic is 4-20 % off (a
    # heavy-tailed pair at d = 8, a dimension no report cell uses, including its tail-only MI at
    # rho = 0; tightly coupled and digits pairs) and cells where it is close.
    "dev_offset": [("student_t", 8, ami.tasks.student_t_mi_correction(3, 8, 8), 10_000), ("student_t", 8, 4.0, 10_000),
                   ("student_t", 8, 8.0, 10_000), ("gaussian", 10, 8.0, 10_000), ("cubic", 10, 4.0, 10_000),
                   ("gaussian", 5, 9.0, 10_000), ("gaussian", 5, 1.0, 10_000), ("digits", 2, 2 * math.log(10.0), 10_000),
                   ("digits", 4, 4 * math.log(10.0), 10_000)],
    # Probes outside both sets, after 0.2's report (not used to choose anything): heavy tails at
    # N = 20,000, Student-t dof 3 at d = 20 and dof 2 at d = 10 ("student_t2").
    "probe_heavy": [("student_t", 20, 4.0, 20_000), ("student_t2", 10, 2.0, 20_000)],
    "probe_heavy_n": [("student_t", 20, 4.0, 80_000)],
    # Probe (2026-12-01; nothing chosen on it): the report draws' d = 5 under-reads (N = 10,000,
    # 6,562 steps) at the N of the unseen tasks, N = 20,000 (13,125 steps).
    "probe_d5": [("gaussian", 5, mi, 20_000) for mi in (4.0, 6.0, 8.0)] + [("student_t", 5, mi, 20_000) for mi in (2.0, 6.0)],
    # Probe (2026-12-01; nothing chosen on it): one to three dimensions per side at N = 20,000,
    # where no development or report cell lies (their smallest d is 5).
    "probe_lowdim": [("gaussian", 1, 2.0, 20_000), ("gaussian", 1, 4.0, 20_000), ("gaussian", 2, 6.0, 20_000),
                     ("gaussian", 3, 8.0, 20_000), ("student_t", 1, 2.0, 20_000), ("student_t", 2, 4.0, 20_000),
                     ("cubic", 2, 4.0, 20_000), ("cubic", 3, 6.0, 20_000)],
    # Probe (2026-12-01; nothing chosen on it): small samples and high dimensions with every 0.2
    # default, where no development or report cell lies (their smallest N is 10,000).
    "probe_small": [("gaussian", 100, 4.0, 5_000), ("gaussian", 50, 2.0, 2_000), ("gaussian", 20, 6.0, 5_000),
                    ("gaussian", 5, 2.0, 1_000), ("gaussian", 3, 0.5, 1_000), ("gaussian", 1, 1.0, 500),
                    ("cubic", 10, 4.0, 2_000), ("student_t", 5, 2.0, 2_000)],
    # Probe (2026-12-01; nothing chosen on it): maps that mix coordinates, which the per-column
    # normal scores cannot undo: the spiral (each point turned in a plane by 0.5 |v|^2 radians) of
    # a Gaussian pair, and a half-cube warp followed by a random rotation, at N = 20,000.
    "probe_mixing": [("spiral", 3, 2.0, 20_000), ("spiral", 3, 6.0, 20_000), ("spiral", 5, 4.0, 20_000),
                     ("spiral", 5, 8.0, 20_000), ("rotated_half_cube", 5, 2.0, 20_000),
                     ("rotated_half_cube", 5, 6.0, 20_000), ("rotated_half_cube", 10, 4.0, 20_000),
                     ("rotated_half_cube", 10, 8.0, 20_000)],
    # The convergence check's rule (late rise against the stderr): development cells that read
    # right, low and high (seed 11), and fresh cells (seed 23) where the earlier rule warned.
    "dev_convergence": [("gaussian", 10, 4.0, 10_000), ("gaussian", 10, 8.0, 10_000), ("student_t", 8, 4.0, 10_000),
                        ("gaussian", 5, 9.0, 10_000), ("gaussian", 50, 4.0, 10_000), ("spiral", 4, 3.0, 20_000),
                        ("spiral", 6, 5.0, 20_000), ("rotated_half_cube", 8, 3.0, 20_000), ("cubic", 40, 6.0, 10_000)],
    "probe_convergence": [("spiral", 3, 6.0, 20_000), ("student_t1", 5, 4.0, 20_000), ("rotated_half_cube", 10, 8.0, 20_000),
                          ("gaussian", 20, 6.0, 20_000)],
    # Development cells for coordinate-mixing maps (other dimensions and levels than probe_mixing;
    # seeds 11 and 12), so that a remedy is chosen here and reported on probe_mixing's new seeds.
    "dev_mixing": [("spiral", 4, 3.0, 20_000), ("spiral", 4, 7.0, 20_000), ("spiral", 6, 5.0, 20_000),
                   ("rotated_half_cube", 8, 3.0, 20_000), ("rotated_half_cube", 8, 7.0, 20_000),
                   ("rotated_half_cube", 20, 6.0, 20_000)],
    # Probe (2026-12-01; nothing chosen on it): Student-t with other degrees of freedom than the
    # report's 3: one (Cauchy tails) and five, at N = 20,000.
    "probe_dof": [("student_t1", 2, 2.0, 20_000), ("student_t1", 5, 4.0, 20_000), ("student_t1", 5, 8.0, 20_000),
                  ("student_t1", 10, 6.0, 20_000), ("student_t5", 5, 2.0, 20_000), ("student_t5", 5, 6.0, 20_000),
                  ("student_t5", 10, 4.0, 20_000), ("student_t5", 10, 8.0, 20_000)],
    # Probe (2026-12-01 evening; nothing chosen on it): Student-t (3 degrees of freedom) tightly
    # coupled near log N, the report's one cell that misses on every draw (d = 5 at 10 nats,
    # N = 10,000) moved to other dimensions and levels: is its under-read a step-budget limit?
    "probe_t_highmi": [("student_t", 6, 10.0, 10_000), ("student_t", 4, 9.0, 10_000)],
    # Probe: pairs coupled by about 1.2-1.5 nats per coordinate (the Gaussian-copula reading over
    # the smaller dimension), between the cells that twice the budget helps and those it overshoots.
    "probe_coupling": [("gaussian", 6, 9.0, 10_000), ("student_t", 6, 8.0, 10_000), ("gaussian", 4, 6.0, 10_000)],
    # Probe (2026-12-01 night): one- and two-dimensional pairs coupled by 1.75-2 nats per
    # coordinate (the Gaussian-copula reading over the smaller dimension): does twice the budget
    # also help, or overshoot, where there are few coordinates to share the coupling?
    "probe_tight_lowdim": [("gaussian", 1, 2.0, 10_000), ("gaussian", 2, 3.5, 10_000), ("student_t", 2, 4.0, 10_000)],
    # Probe (2026-12-01 night; nothing chosen on it): tightly coupled pairs (2 nats per coordinate)
    # at N = 20,000, where the tight-coupling budget is capped at the default's 13,125 steps.
    "probe_tight_n20k": [("gaussian", 4, 8.0, 20_000), ("student_t", 4, 8.0, 20_000)],
    "small": [
        ("gaussian", 1, 1.0, 500), ("gaussian", 5, 2.0, 500), ("gaussian", 5, 2.0, 5_000),
        ("gaussian", 100, 4.0, 5_000), ("gaussian", 1, 1.0, 100_000), ("cubic", 5, 2.0, 5_000),
    ],
}


def task_for(family: str, dim: int, mi: float):
    """The task of one grid cell (``dim`` is k for digits)."""
    if family == "digits":
        return ami.tasks.digits(k=dim)
    if family.startswith("student_t"):
        # Three degrees of freedom, or the number after the name ("student_t2": two); at the tail
        # part of the MI alone, rho = 0.
        dof = int(family[len("student_t"):] or 3)
        return ami.tasks.student_t(dim_x=dim, dim_y=dim, dof=dof, rho=ami.tasks.paired_rho_for_mi(mi, dim, dof))
    if family == "spiral":
        return ami.tasks.spiral(ami.tasks.gaussian(dim=dim, mi=mi))
    if family == "rotated_half_cube":
        return ami.tasks.rotated(ami.tasks.half_cube(ami.tasks.gaussian(dim=dim, mi=mi)))
    if family == "latent":
        return ami.tasks.latent_pair(dim_x=dim, dim_y=dim, latent_dim=8, mi=mi, warp="cubic")
    return ami.tasks.get(family, dim=dim, mi=mi)


def run(grid: str, configs: list[str], out: str, seeds: list[int]) -> pd.DataFrame:
    done = pd.read_csv(out) if os.path.exists(out) else pd.DataFrame()
    rows = done.to_dict("records")
    finished = {(r["config"], r["family"], r["dim"], r["mi"], r["n"], r["seed"]) for r in rows}
    for config in configs:
        for family, dim, mi, n in GRIDS[grid]:
            for seed in seeds:
                key = (config, family, dim, mi, n, seed)
                if key in finished:
                    continue
                x, y = task_for(family, dim, mi).sample(n, seed=seed)
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    # The estimate does not depend on the permutation test; skip it for speed.
                    result = ami.estimate(x, y, seed=seed, **{"n_permutations": 0, **CONFIGS[config]})
                rows.append({
                    "config": config, "family": family, "dim": dim, "mi": mi, "n": n, "seed": seed,
                    "estimate": result.mi, "stderr": result.stderr, "best_step": result.info["best_step"],
                    "steps_run": result.info.get("steps_run", math.nan),
                    "ci_lo": result.ci[0], "ci_hi": result.ci[1],
                    # The interval's parts: sampling and folds (with its own df) and the offset disagreement.
                    "offset_disagreement": result.info.get("offset_disagreement", math.nan),
                    # The reading with the trained offsets (the estimate reads the higher one).
                    "estimate_trained_offset": result.info.get("estimate_trained_offset", result.mi),
                    "offset_disagreement_stderr": result.info.get("offset_disagreement_stderr", math.nan),
                    "stderr_sampling_and_folds": result.info.get("stderr_sampling_and_folds", result.stderr),
                    "ci_df_sampling_and_folds": result.info.get("ci_df_sampling_and_folds", result.ci_df),
                    # log mean exp over shuffled held-out pairs with the trained offsets (configs that
                    # keep the permutation test): the Donsker-Varadhan reading is the trained reading
                    # (estimate - max(offset_disagreement, 0)) minus calibration; "skip" where a few
                    # pairs carry that mean (Pareto tail shape above 0.7).
                    "calibration": result.diagnostics["calibration"].value if "calibration" in result.diagnostics else math.nan,
                    "calibration_status": result.diagnostics["calibration"].status if "calibration" in result.diagnostics else "",
                    # The checks that warned, by name (";"-separated; empty when none did).
                    "warnings": ";".join(name for name, check in result.diagnostics.items() if check.status == "warn"),
                    # The convergence check's parts: a fold still improving when the budget ended
                    # (the check's rule before the late rise) and what the last quarter of the steps
                    # moved the pooled held-out estimate by (folds' mean of diagnostics.late_rise).
                    "still_improving": bool(result.info.get("still_improving", False)),
                    "late_rise": math.nan if result.info.get("late_rise") is None else result.info["late_rise"],
                    "seconds": time.perf_counter() - started,
                })
                atomic_write_table(out, pd.DataFrame(rows))
                print(f"{config:10s} {family}-d{dim}-mi{mi} n={n} seed={seed}: {result.mi:.3f} "
                      f"(truth {mi}) best_step={result.info['best_step']} {rows[-1]['seconds']:.1f}s", flush=True)
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(rel_error=(frame.estimate - frame.mi) / frame.mi)
    table = frame.pivot_table(index=["family", "dim", "mi", "n"], columns="config", values="rel_error", aggfunc="mean")
    print("mean relative error (estimate - truth) / truth:")
    print(table.round(3).to_string())
    print("\nRMS relative error per config:")
    print(frame.groupby("config").rel_error.apply(lambda e: float(np.sqrt((e**2).mean()))).round(3).to_string())
    if "ci_lo" in frame:  # rows copied from a study that kept only the estimate have no interval
        frame = frame[frame.ci_lo.notna()]
    if "offset_disagreement" in frame and frame.offset_disagreement.notna().any():
        # Coverage of the reported interval against the one without the offset component.
        half = frame.stderr_sampling_and_folds * stats.t.ppf(0.975, frame.ci_df_sampling_and_folds)
        covered = (frame.ci_lo <= frame.mi) & (frame.mi <= frame.ci_hi)
        covered_without = (frame.estimate - half <= frame.mi) & (frame.mi <= frame.estimate + half)
        # Rows since the higher-offset reading keep the trained reading; older rows' estimate was it.
        trained = frame.get("estimate_trained_offset", pd.Series(np.nan, index=frame.index)).fillna(frame.estimate)
        refitted = trained + frame.offset_disagreement
        print("\n95 % interval coverage, with and without the offset-disagreement component; the readings with the "
              "trained and the refitted offsets:")
        print(frame.assign(covered=covered, covered_without_offset=covered_without, trained_estimate=trained, refitted_estimate=refitted)[
            ["config", "family", "dim", "mi", "seed", "estimate", "trained_estimate", "refitted_estimate", "offset_disagreement",
             "covered", "covered_without_offset"]
        ].round(3).to_string(index=False))
        print(f"covered: {covered.mean():.2f} with, {covered_without.mean():.2f} without ({len(frame)} rows)")
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default="acceptance", choices=sorted(GRIDS))
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--out", default="benchmarks/results/defaults_sweep.csv")
    parser.add_argument("--summary", default=None, help="only summarise an existing CSV")
    args = parser.parse_args()
    if args.summary:
        summarise(pd.read_csv(args.summary))
    else:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        summarise(run(args.grid, args.configs.split(","), args.out, [int(s) for s in args.seeds.split(",")]))
