"""Where the default critic's log ratio is wrong on a heavy-tailed task, pair by pair.

Student-t pairs (3 degrees of freedom, d_x = d_y = 8, one shared scale) have an exact pointwise
mutual information, log p(x, y) - log p(x) - log p(y) (scipy's multivariate t). This fits the
default ``MIEstimator`` once (development seed 11 unless told; no report cell uses d = 8), scores
every held-out pair with the critic of the fold that held it out, and prints the critic's error
(its log ratio minus the exact one) by the pair's radius sqrt(|x|^2 + |y|^2), and by the exact
PMI: which pairs carry the estimate's error.

    python benchmarks/tail_errors.py                # 8 nats, seed 11: one default fit, ~2-5 min
    python benchmarks/tail_errors.py --mi 4 --seed 12
    python benchmarks/tail_errors.py --batch-size 512   # more in-batch negatives per joint pair
    python benchmarks/tail_errors.py --critic joint     # an MLP on (x, y) instead of f(x)^T g(y)
    python benchmarks/tail_errors.py --critic bounded   # embeddings s * tanh(.): a score that cannot run away
    python benchmarks/tail_errors.py --weight-decay 0.1 # or --marginals zscore: the raw heavy tails
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy import stats

import anchormi as ami
from anchormi.estimator import MIEstimator, _tensors

sys.path.insert(0, str(Path(__file__).parent))
from defaults_sweep import task_for  # noqa: E402

DOF = 3


def exact_pmi(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """log p(x, y) - log p(x) - log p(y) for the paired Student-t task (coordinate i of x with i of y)."""
    dim = x.shape[1]
    shape = np.eye(2 * dim)
    shape[np.arange(dim), dim + np.arange(dim)] = shape[dim + np.arange(dim), np.arange(dim)] = rho
    joint = stats.multivariate_t(np.zeros(2 * dim), shape, df=DOF)
    marginal = stats.multivariate_t(np.zeros(dim), np.eye(dim), df=DOF)
    return joint.logpdf(np.hstack([x, y])) - marginal.logpdf(x) - marginal.logpdf(y)


def heldout_errors(mi: float, dim: int, n: int, seed: int, **options) -> dict[str, np.ndarray]:
    """One default fit (``options``, such as ``critic`` or ``batch_size``, go to ``MIEstimator``);
    per held-out pair its critic log ratio, exact PMI and radius."""
    x, y = task_for("student_t", dim, mi).sample(n, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MIEstimator(seed=seed, n_permutations=0, n_threads=1, **options).fit(x, y)
    splits = est._splits(n)
    rows = np.concatenate([split.test for split in splits])
    with torch.no_grad():
        critic_values = np.concatenate([
            (critic.pointwise(*_tensors(scalers, x[split.test], y[split.test], torch.device("cpu"))).double()
             - float(est.log_ratio_offset_)).numpy()
            for critic, scalers, split in zip(est.critics_, est.scalers_, splits)
        ])
    rho = ami.tasks.paired_rho_for_mi(mi, dim, DOF)
    return {"critic": critic_values, "exact": exact_pmi(x[rows], y[rows], rho),
            "radius": np.sqrt((x[rows] ** 2).sum(axis=1) + (y[rows] ** 2).sum(axis=1)), "estimate": est.result_.mi}


def table(values: dict[str, np.ndarray], by: str, quantiles: list[float]) -> None:
    error = values["critic"] - values["exact"]
    edges = np.quantile(values[by], quantiles)
    print(f"{by + ' (quantiles)':>22s} {'pairs':>6s} {'exact':>7s} {'critic':>7s} {'error':>8s} {'share':>6s}")
    for (q_lo, q_hi), lo, hi in zip(zip(quantiles[:-1], quantiles[1:]), edges[:-1], edges[1:]):
        part = (values[by] >= lo) & (values[by] <= hi)
        print(f"{f'{lo:.2f}-{hi:.2f} ({q_lo:g}-{q_hi:g})':>22s} {part.sum():6d} {values['exact'][part].mean():7.2f} "
              f"{values['critic'][part].mean():7.2f} {error[part].mean():+8.3f} {error[part].sum() / error.sum():+6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mi", type=float, default=8.0)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    # Left out, an option keeps the estimator's own default (read there, not copied here).
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per step (default: the estimator's)")
    parser.add_argument("--critic", default=None, help="the critic's kind (default: the estimator's)")
    parser.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay (default: the estimator's)")
    parser.add_argument("--marginals", default=None, help="per-column map (default: the estimator's)")
    args = parser.parse_args()
    given = {"batch_size": args.batch_size, "critic": args.critic, "weight_decay": args.weight_decay,
             "marginals": args.marginals}
    options = {name: value for name, value in given.items() if value is not None}
    started = time.perf_counter()
    values = heldout_errors(args.mi, args.dim, args.n, args.seed, **options)
    error = values["critic"] - values["exact"]
    print(f"Student-t, dof {DOF}, d = {args.dim} + {args.dim}, MI {args.mi:g} nats, N = {args.n:,}, seed {args.seed}, "
          + ", ".join(f"{name} {options.get(name, 'default')}" for name in given)
          + f" ({time.perf_counter() - started:.0f} s)")
    print(f"held-out mean: critic {values['critic'].mean():.3f} (the trained reading), exact {values['exact'].mean():.3f}, "
          f"error {error.mean():+.3f}; default estimate {values['estimate']:.3f}; "
          f"correlation {np.corrcoef(values['critic'], values['exact'])[0, 1]:.3f}")
    print("\nby radius sqrt(|x|^2 + |y|^2); share: of the summed error")
    table(values, "radius", [0, 0.25, 0.5, 0.75, 0.9, 0.99, 1])
    print("\nby exact PMI")
    table(values, "exact", [0, 0.1, 0.5, 0.9, 1])


if __name__ == "__main__":
    main()
