"""Conditional MI through MIEstimator, and the offset recalibration it relies on.

I(X;Y|Z) = I(X;(Y,Z)) - I(X;Z) from two independently trained critics; each critic's additive
offset is refitted on its fold's validation pairs (``anchormi.recalibration``), so the two differ
by the ratio only. Statistical checks use exact log ratios or exact CMI and the estimator's own
standard error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from anchormi import MIEstimator, tasks
from anchormi.intervals import pool_folds
from anchormi.recalibration import logistic_offset

SMALL = {"hidden": (16,), "embed_dim": 8, "max_steps": 200, "folds": 2, "n_permutations": 20, "progress": False}


def _gaussian_log_ratios(n: int, rho: float, seed: int, shuffles: int = 10):
    """Exact log r(x, y) of a bivariate Gaussian with correlation rho on joint and shuffled pairs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)

    def log_ratio(a, b):
        return -0.5 * np.log(1 - rho**2) - (rho**2 * a**2 - 2 * rho * a * b + rho**2 * b**2) / (2 * (1 - rho**2))

    shuffled = np.stack([log_ratio(x, y[rng.permutation(n)]) for _ in range(shuffles)])
    return log_ratio(x, y), shuffled


@pytest.mark.parametrize("rho", [0.3, 0.9, 0.99])
def test_the_exact_log_ratio_needs_no_offset(rho):
    """Consistency: for the true log ratio the balanced logistic optimum is delta = 0, within 3 of
    its own stderrs (the sandwich from the influences), at 0.05, 0.83 and 1.96 nats."""
    joint, shuffled = _gaussian_log_ratios(4_000, rho, seed=int(rho * 100))
    delta, influence = logistic_offset(joint, shuffled)
    stderr = influence.std(ddof=1) / np.sqrt(influence.size)
    assert abs(delta) <= 3 * stderr, (delta, stderr)
    assert 0 < stderr < 0.2


def test_a_shifted_log_ratio_gets_the_shift_back_and_the_stderr_matches_repeated_samples():
    joint, shuffled = _gaussian_log_ratios(2_000, 0.8, seed=1)
    delta, _ = logistic_offset(joint, shuffled)
    shifted, _ = logistic_offset(joint + 0.7, shuffled + 0.7)
    assert shifted == pytest.approx(delta - 0.7, abs=1e-5)
    # The influence-based stderr against the spread of delta over independent samples.
    deltas, stderrs = [], []
    for seed in range(40):
        j, s = _gaussian_log_ratios(1_000, 0.8, seed=100 + seed)
        d, influence = logistic_offset(j, s)
        deltas.append(d)
        stderrs.append(influence.std(ddof=1) / np.sqrt(influence.size))
    ratio = np.std(deltas, ddof=1) / np.mean(stderrs)
    # 40 draws estimate an sd to within about 11 % (1 / sqrt(2 * 39)); allow 3 of those.
    assert 1 - 3 * 0.113 < ratio < 1 + 3 * 0.113, ratio


def test_offsets_are_applied_for_conditional_mi_only_and_used_by_pmi():
    task = tasks.collider(dim_x=2, dim_y=2, dim_z=2, cmi=0.5, seed=4)
    x, y, z = task.sample(1_500, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        conditional = MIEstimator(seed=0, **SMALL).fit(x, y, z)
        plain = MIEstimator(seed=0, **SMALL).fit(x, y)
    # I(X;Y) keeps the trained offset; the refitted one only widens its interval.
    assert plain.shifts_ == [0.0, 0.0]
    plain_info = plain.result_.info
    assert plain_info["offset_disagreement"] != 0.0
    assert plain.result_.stderr == pytest.approx(np.hypot(plain_info["stderr_sampling_and_folds"], plain_info["offset_disagreement"]))
    assert plain.result_.mi == pytest.approx(plain.heldout_pmi_["pmi"].mean())
    # ci_method says so, and keeps only the caveat the offset part cannot see.
    assert "offset_disagreement" in plain.result_.ci_method and "bias shared by all critics" not in plain.result_.ci_method
    assert "chain-rule" in conditional.result_.ci_method and "offset_disagreement" in conditional.result_.ci_method
    # The interval's extra component: the pooled net shift (both folds hold the same number of pairs).
    info = conditional.result_.info
    net = np.mean(np.array(conditional.shifts_) - np.array(conditional.shifts_z_))
    assert info["offset_disagreement"] == pytest.approx(net, abs=1e-12)
    assert conditional.result_.stderr == pytest.approx(np.hypot(info["stderr_sampling_and_folds"], net))
    assert len(conditional.shifts_) == len(conditional.shifts_z_) == 2
    assert all(value != 0.0 for value in conditional.shifts_ + conditional.shifts_z_)
    # pmi scores l + shift for each fold critic: undoing the shifts changes it by their mean difference.
    x_new, y_new, z_new = task.sample(300, seed=5)
    values = conditional.pmi(x_new, y_new, z_new)
    shifts, shifts_z = list(conditional.shifts_), list(conditional.shifts_z_)
    conditional.shifts_, conditional.shifts_z_ = [0.0, 0.0], [0.0, 0.0]
    without = conditional.pmi(x_new, y_new, z_new)
    np.testing.assert_allclose(values - without, np.mean(shifts) - np.mean(shifts_z), atol=1e-5)


def test_constant_variances_widen_the_pooled_interval_once():
    rng = np.random.default_rng(0)
    folds = [rng.normal(1.0, 0.5, 400) for _ in range(4)]
    base = pool_folds(folds)
    widened = pool_folds(folds, np.full(4, 0.01))
    # Each fold mean gains variance 0.01; the pooled mean gains sum (1/4)^2 * 0.01 = 0.01 / 4.
    assert widened.sampling_stderr**2 == pytest.approx(base.sampling_stderr**2 + 0.01 / 4)
    assert widened.estimate == base.estimate
    with pytest.raises(ValueError, match="constant_variances"):
        pool_folds(folds, np.array([0.01, -1.0, 0.0, 0.0]))


@pytest.mark.slow
@pytest.mark.parametrize("builder, kwargs", [(tasks.chain, {"mi": 0.8}), (tasks.collider, {"cmi": 0.8})])
def test_default_conditional_interval_covers_the_exact_cmi(builder, kwargs):
    """The default estimator on tasks no default or development run used (d = 3 each, N = 8,000,
    seed 31): the 95 % interval covers the exact CMI."""
    task = builder(dim_x=3, dim_y=3, dim_z=3, seed=31, **kwargs)
    x, y, z = task.sample(8_000, seed=31)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MIEstimator(seed=31, progress=False).fit(x, y, z).result_
    low, high = result.ci
    assert low <= task.cmi <= high, (result.mi, result.ci, task.cmi)
