"""The anchor plug-in recovers known MI. Tolerances come from the estimator's own error.

For each case we fit the default estimator with several seeds (each seed draws new data, a new
split and a new initialisation). The spread between seeds measures the training variability, and
each result's stderr the held-out sampling error. The test asks the seed mean to sit within
z = 3 combined standard errors of the truth:

    |mean - truth| <= 3 * sqrt(sd_seeds^2 / n_seeds + mean(stderr)^2 / n_seeds)

which is a two-sided 99.7 % band for an unbiased estimator; the seed spread covers both error
sources, the stderr term keeps the band honest if the seeds happen to agree closely.
"""

import math

import numpy as np
import pytest

import anchormi as ami
from anchormi import tasks

Z = 3.0


def seed_results(task, n, seeds, **kwargs):
    results = []
    for seed in seeds:
        x, y = task.sample(n, seed=100 + seed)
        results.append(ami.estimate(x, y, seed=seed, **kwargs))
    return np.array([r.mi for r in results]), np.array([r.stderr for r in results])


def assert_recovers(task, estimates, stderrs):
    n_seeds = len(estimates)
    band = Z * math.sqrt(estimates.var(ddof=1) / n_seeds + (stderrs**2).mean() / n_seeds)
    mean = estimates.mean()
    assert abs(mean - task.mi) <= band, (
        f"{task.name}: mean {mean:.3f} over seeds {np.round(estimates, 3)} vs truth {task.mi}; band ±{band:.3f}"
    )


def test_anchor_recovers_gaussian_d5_at_2_nats():
    task = tasks.gaussian(dim=5, mi=2.0)
    estimates, stderrs = seed_results(task, 10_000, seeds=range(3))
    assert_recovers(task, estimates, stderrs)


def test_anchor_recovers_gaussian_d20_at_6_nats():
    task = tasks.gaussian(dim=20, mi=6.0)
    estimates, stderrs = seed_results(task, 20_000, seeds=range(3))
    assert_recovers(task, estimates, stderrs)


def test_infonce_is_capped_below_the_truth_where_anchor_is_not():
    """At I = 6 nats and B = 64, InfoNCE cannot exceed log 64 = 4.16 nats; the anchor can."""
    task = tasks.gaussian(dim=10, mi=6.0)
    x, y = task.sample(10_000, seed=7)
    infonce = ami.estimate(x, y, method="infonce", batch_size=64, seed=0)
    anchor = ami.estimate(x, y, method="anchor", batch_size=64, seed=0)
    assert infonce.mi <= math.log(64) + 1e-9
    assert anchor.mi - math.log(64) > Z * anchor.stderr
