"""The calibration identity on exact log ratios: what the check can and cannot judge.

For the true log ratio, log mean exp(log r) over pairs with y shuffled estimates
log E_p(x)p(y)[r] = 0. This script measures it with no critic at all: Gaussian pairs with
per-coordinate correlation (closed-form log ratio), d = 5 and 20, true MI 0.5 to 10 nats;
n = 4,000 held-out pairs and 200 random permutations, the check's own setting for one fold of
a 20,000-pair fit. Per row and seed:

- the value over every permuted pair, fixed points included (what release 0.2 computed before
  this change; a fixed point is a joint pair, about one per permutation);
- the value over the moved pairs only (``anchormi.diagnostics.product_pairs``; what the check
  reads now), its delta-method stderr, the Pareto tail shape k of its weights
  (``pareto_tail_shape``) and the check's status.

About ten seconds on one core:

    python benchmarks/calibration_tails.py
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from anchormi.diagnostics import calibration_check, log_mean_exp, pareto_tail_shape, product_pairs


def gaussian_log_ratio(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """log p(x, y) / (p(x) p(y)) for unit-variance pairs with per-coordinate correlation rho."""
    return np.sum(-0.5 * math.log(1 - rho**2) - (rho**2 * (x**2 + y**2) - 2 * rho * x * y) / (2 * (1 - rho**2)), axis=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4_000)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"exact Gaussian log ratio; {args.pairs} pairs x {args.permutations} permutations; seeds 0..{args.repeats - 1}; "
          "values in nats, one per seed\n")
    print(f"{'d':>3} {'MI':>5}  {'with fixed points':>23}  {'moved pairs only (the check)':>28}  {'stderr':>6}  "
          f"{'Pareto k':>16}  status")
    for dim in (5, 20):
        for mi in (0.5, 2.0, 4.0, 6.0, 8.0, 10.0):
            rho = math.sqrt(1 - math.exp(-2 * mi / dim))
            every, moved, stderrs, shapes, statuses = [], [], [], [], []
            for seed in range(args.repeats):
                rng = np.random.default_rng(seed)
                x = rng.standard_normal((args.pairs, dim))
                y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((args.pairs, dim))
                permutations = np.stack([rng.permutation(args.pairs) for _ in range(args.permutations)])
                permuted = gaussian_log_ratio(x[None], y[permutations], rho)
                pairs = product_pairs(permuted, permutations)
                every.append(log_mean_exp(permuted, args.pairs)[0])
                value, stderr = log_mean_exp(pairs, args.pairs)
                moved.append(value)
                stderrs.append(stderr)
                shapes.append(pareto_tail_shape(pairs))
                statuses.append(calibration_check(pairs, args.pairs, applicable=True).status)
            print(f"{dim:>3} {mi:>5.1f}  {' '.join(f'{v:+7.3f}' for v in every):>23}  {' '.join(f'{v:+7.3f}' for v in moved):>28}  "
                  f"{np.median(stderrs):>6.3f}  {' '.join(f'{k:5.2f}' for k in shapes):>16}  {','.join(statuses)}")
    print("\nstderr: median over seeds. The check judges the value only where k <= 0.7 and reports it otherwise.")


if __name__ == "__main__":
    main()
