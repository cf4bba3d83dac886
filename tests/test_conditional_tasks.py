"""Conditional tasks (x, y, z): closed forms against Monte Carlo, exact zeros, invariance under the
monotone warp, and the Frenzel-Pompe k-NN estimator against the truths.

Monte Carlo checks use fixed seeds and 4 standard errors of the quantity averaged (p < 1e-4 per
check for a correct formula), as in test_tasks.py.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import anchormi.tasks as tasks
from anchormi.classical import ksg
from anchormi.tasks import conditional
from anchormi.tasks.interface import Task

N_STDERR = 4.0
N_MONTE_CARLO = 20_000
# Pointwise log ratios that are identically zero come out as sums of logpdfs of size ~10, which
# cancel to within a few float64 ulps of those values.
FLOAT_CANCELLATION = 1e-9


def _log_density(covariance: np.ndarray, index: np.ndarray, joint: np.ndarray) -> np.ndarray:
    return multivariate_normal(mean=np.zeros(index.size), cov=covariance[np.ix_(index, index)]).logpdf(joint[:, index])


def _pointwise(task: conditional.GaussianConditionalTask, joint: np.ndarray) -> dict[str, np.ndarray]:
    """Exact pointwise log ratios of CMI, MI and I(X;Z) from scipy's Gaussian logpdf."""
    x, y, z = (np.arange(task.dim_x), task.dim_x + np.arange(task.dim_y),
               task.dim_x + task.dim_y + np.arange(task.dim_z))
    s = task.covariance
    log_p = {name: _log_density(s, index, joint) for name, index in {
        "x": x, "y": y, "z": z, "xy": np.r_[x, y], "xz": np.r_[x, z], "yz": np.r_[y, z], "xyz": np.r_[x, y, z],
    }.items()}
    return {
        "cmi": log_p["xyz"] + log_p["z"] - log_p["xz"] - log_p["yz"],
        "mi": log_p["xy"] - log_p["x"] - log_p["y"],
        "mi_xz": log_p["xz"] - log_p["x"] - log_p["z"],
    }


def _assert_mean_matches(values: np.ndarray, expected: float, what: str) -> None:
    stderr = values.std(ddof=1) / math.sqrt(values.size)
    deviation = values.mean() - expected
    assert abs(deviation) <= N_STDERR * stderr + FLOAT_CANCELLATION, (
        f"{what}: Monte Carlo {values.mean():.5f} vs closed form {expected:.5f}, {deviation / max(stderr, 1e-300):.2f} stderr"
    )


TASKS = {
    "conditional-gaussian": lambda: tasks.conditional_gaussian(),
    "conditional-gaussian-2-3-1": lambda: tasks.conditional_gaussian(dim_x=2, dim_y=3, dim_z=1, cmi=0.5, seed=4),
    "chain": lambda: tasks.chain(),
    "chain-3-2-4": lambda: tasks.chain(dim_x=3, dim_y=2, dim_z=4, mi=0.7, seed=2),
    "collider": lambda: tasks.collider(),
    "collider-1-1-1": lambda: tasks.collider(dim_x=1, dim_y=1, dim_z=1, cmi=0.3),
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_closed_forms_match_monte_carlo_of_the_exact_log_ratios(name):
    task = TASKS[name]()
    x, y, z = task.sample(N_MONTE_CARLO, seed=11)
    pointwise = _pointwise(task, np.hstack([x, y, z]))
    _assert_mean_matches(pointwise["cmi"], task.cmi, f"{task.name} I(X;Y|Z)")
    _assert_mean_matches(pointwise["mi"], task.mi, f"{task.name} I(X;Y)")
    _assert_mean_matches(pointwise["mi_xz"], task.mi_xz, f"{task.name} I(X;Z)")
    # the chain rule I(X; Y, Z) = I(X; Z) + I(X; Y | Z), pointwise
    assert task.pair("x_yz").mi == pytest.approx(task.mi_xz + task.cmi, abs=1e-12)


def test_structural_zeros_hold_pointwise():
    chain = tasks.chain()
    collider = tasks.collider()
    assert chain.cmi == 0.0 and chain.mi > 0 and collider.mi == 0.0 and collider.cmi > 0
    for task, quantity in ((chain, "cmi"), (collider, "mi")):
        values = _pointwise(task, np.hstack(task.sample(2_000, seed=3)))[quantity]
        assert np.abs(values).max() < FLOAT_CANCELLATION, f"{task.name}: {quantity} log ratio is not identically 0"
        # the block formula agrees with the exact zero
        blocks = (conditional.gaussian_cmi if quantity == "cmi" else conditional.gaussian_mi)(
            task.covariance, task.dim_x, task.dim_y)
        assert abs(blocks) < 1e-10


@pytest.mark.parametrize(("builder", "quantity", "target", "per_link"), [
    # the canonical one-line forms, with m linked coordinate pairs
    (lambda: tasks.conditional_gaussian(dim_x=3, dim_y=2, dim_z=4, cmi=0.8), "cmi", 0.8,
     lambda task: -2 / 2 * math.log(1 - task.rho**2)),
    (lambda: tasks.chain(dim_x=3, dim_y=2, dim_z=4, mi=0.8), "mi", 0.8,
     lambda task: -2 / 2 * math.log(1 - task.rho**4)),
    (lambda: tasks.collider(dim_x=3, dim_y=2, dim_z=4, cmi=0.8), "cmi", 0.8,
     lambda task: -2 / 2 * math.log(1 - (task.alpha**2 / (task.alpha**2 + 1)) ** 2)),
])
def test_block_determinants_give_the_target_after_random_mixing(builder, quantity, target, per_link):
    task = builder()
    assert getattr(task, quantity) == pytest.approx(target, rel=1e-10)
    assert per_link(task) == pytest.approx(target, rel=1e-10)
    # mixing makes the covariance dense, so the closed form is not read off a diagonal
    off_diagonal = task.covariance - np.diag(np.diag(task.covariance))
    assert np.count_nonzero(np.abs(off_diagonal) > 1e-3) > task.covariance.shape[0]


def test_covariance_depends_on_the_task_seed_and_samples_on_the_sample_seed():
    first, again, other = tasks.conditional_gaussian(seed=0), tasks.conditional_gaussian(seed=0), tasks.conditional_gaussian(seed=1)
    np.testing.assert_array_equal(first.covariance, again.covariance)
    assert not np.allclose(first.covariance, other.covariance)
    assert first.cmi == pytest.approx(other.cmi, rel=1e-10)
    for a, b in zip(first.sample(5, seed=2), again.sample(5, seed=2)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first.sample(5, seed=2)[0], first.sample(5, seed=3)[0])


@pytest.mark.parametrize("builder", [tasks.conditional_gaussian, tasks.chain, tasks.collider])
def test_monotone_warp_keeps_every_truth_and_is_one_to_one(builder):
    base, warped = builder(), builder(warp="monotone")
    assert isinstance(warped, conditional.TransformedConditionalTask)
    assert (warped.cmi, warped.mi, warped.mi_xz) == (base.cmi, base.mi, base.mi_xz)
    assert warped.name == f"{base.name}-monotone"
    base_samples, warped_samples = base.sample(3_000, seed=5), warped.sample(3_000, seed=5)
    for original, mapped, forward, inverse in zip(base_samples, warped_samples, conditional.MONOTONE_MAPS,
                                                  conditional.MONOTONE_INVERSES):
        np.testing.assert_allclose(mapped, forward(original), rtol=1e-12)
        np.testing.assert_allclose(inverse(mapped), original, rtol=1e-9, atol=1e-12)
        assert not np.allclose(mapped, original)  # the marginals really change
    grid = np.linspace(-6, 6, 10_001)
    for forward in conditional.MONOTONE_MAPS:
        assert np.all(np.diff(forward(grid)) > 0), f"{forward} is not strictly increasing"


def test_pair_views_are_tasks_with_the_chain_rule_truths():
    task = tasks.collider(dim_x=2, dim_y=3, dim_z=4)
    views = {which: task.pair(which) for which in conditional.PAIRS}
    assert all(isinstance(view, Task) for view in views.values())
    assert (views["xy"].mi, views["xz"].mi, views["x_yz"].mi) == (task.mi, task.mi_xz, task.mi_xz + task.cmi)
    x, yz = views["x_yz"].sample(7, seed=1)
    xs, ys, zs = task.sample(7, seed=1)
    np.testing.assert_array_equal(x, xs)
    np.testing.assert_array_equal(yz, np.hstack([ys, zs]))
    with pytest.raises(ValueError, match="which="):
        task.pair("yz")


@pytest.mark.parametrize(("call", "argument"), [
    (lambda: tasks.conditional_gaussian(dim_x=0), "dim_x="),
    (lambda: tasks.chain(dim_z=2.5), "dim_z="),
    (lambda: tasks.conditional_gaussian(cmi=-0.1), "cmi="),
    (lambda: tasks.chain(mi=0.0), "mi="),
    (lambda: tasks.collider(cmi=float("inf")), "cmi="),
    (lambda: tasks.collider(seed=-1), "seed="),
    (lambda: tasks.chain(warp="cubic"), "warp="),
    (lambda: tasks.chain().sample(0), "n="),
    (lambda: tasks.chain().sample(3, seed=-2), "seed="),
    (lambda: tasks.get_conditional("no-such"), "name="),
])
def test_bad_arguments_name_themselves(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_conditional_registry_is_apart_from_the_pair_registry():
    assert set(tasks.available_conditional()) == {"conditional-gaussian", "chain", "collider"}
    assert not set(tasks.available_conditional()) & set(tasks.available())
    task = tasks.get_conditional("conditional_gaussian", dim_x=2, dim_y=2, dim_z=2, cmi=0.4, warp="monotone")
    assert task.name == "conditional-gaussian-dx2-dy2-dz2-cmi0.4-s0-monotone" and task.cmi == pytest.approx(0.4)
    assert [a.shape for a in task.sample(3)] == [(3, 2), (3, 2), (3, 2)]
    with pytest.raises(ValueError, match="get_conditional"):
        tasks.get("chain")
    with pytest.raises(ValueError, match="anchormi.tasks.get"):
        tasks.get_conditional("gaussian")


# ---- Frenzel-Pompe -----------------------------------------------------------------------------

N_FP = 5_000
FP_SEEDS = range(5)


@pytest.mark.parametrize("builder", [
    lambda: tasks.conditional_gaussian(dim_x=1, dim_y=1, dim_z=1, cmi=0.5),
    lambda: tasks.chain(dim_x=1, dim_y=1, dim_z=1, mi=0.5),
    lambda: tasks.collider(dim_x=1, dim_y=1, dim_z=1, cmi=0.5),
])
def test_frenzel_pompe_recovers_the_conditional_mi(builder):
    """Across seeds the estimates scatter around the truth by about their own spread.

    The tolerance is 4 sd of a single estimate over seeds: k-NN estimators carry a small
    finite-N bias (about 0.015 nats here, 1.2 sd), so the mean over seeds is not held to its
    own, 5x smaller, standard error. The chain (CMI 0, MI 0.5) and the collider (MI 0, CMI 0.5)
    fail at once if the estimator returned I(X; Y) instead of I(X; Y | Z).
    """
    task = builder()
    estimates = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a negative estimate near CMI = 0 warns, by design
        for seed in FP_SEEDS:
            x, y, z = task.sample(N_FP, seed=seed)
            result = ksg(x, y, z=z)
            estimates.append(result.mi)
    estimates = np.array(estimates)
    spread = estimates.std(ddof=1)
    assert abs(estimates.mean() - task.cmi) <= N_STDERR * spread, (
        f"{task.name}: Frenzel-Pompe {estimates.mean():.4f} +/- {spread:.4f} (sd over seeds) vs truth {task.cmi:.4f}"
    )
    assert result.info["conditional"] and result.info["estimator"] == "frenzel-pompe" and result.info["dim_z"] == 1
    assert result.quantity == "I(X;Y|Z)"


def test_frenzel_pompe_z_is_checked_and_z_none_is_unchanged():
    task = tasks.chain(dim_x=1, dim_y=1, dim_z=1, mi=0.5)
    x, y, z = task.sample(500, seed=0)
    with pytest.raises(ValueError, match="z has 499 rows"):
        ksg(x, y, z=z[:-1])
    with pytest.raises(ValueError, match="z contains 1 NaN"):
        bad = z.copy()
        bad[3] = np.nan
        ksg(x, y, z=bad)
    plain = ksg(x, y)
    assert "conditional" not in plain.info and plain.quantity == "I(X;Y)" and plain.mi > 0.3  # I(X; Y) = 0.5 without z
    # a z independent of everything leaves I(X; Y | Z) = I(X; Y); FP agrees with KSG within their spread
    noise = np.random.default_rng(1).standard_normal((500, 1))
    assert abs(ksg(x, y, z=noise).mi - plain.mi) < N_STDERR * plain.stderr
