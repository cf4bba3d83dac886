"""Tests for anchormi.tasks: exact MI by closed form and Monte Carlo, transforms, digits, schedule.

Statistical checks use fixed seeds and a tolerance of 4 Monte Carlo standard errors of the quantity
being averaged, so a failure means a wrong formula or sampler, not bad luck (p < 1e-4 per check).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats
from scipy.stats import multivariate_normal

import anchormi.tasks as tasks
from anchormi.tasks.digits import load_class_images
from anchormi.tasks.interface import Task
from anchormi.tasks.transforms import half_cube_inverse, spiral_inverse

N_STDERR = 4.0


def assert_mean_matches(samples: np.ndarray, expected: float) -> None:
    """Assert mean(samples) is within N_STDERR standard errors of ``expected``."""
    stderr = samples.std(ddof=1) / math.sqrt(len(samples))
    deviation = samples.mean() - expected
    assert abs(deviation) <= N_STDERR * stderr, (
        f"Monte Carlo mean {samples.mean():.5f} vs closed form {expected:.5f}: "
        f"off by {deviation / stderr:.2f} standard errors (stderr {stderr:.5f})"
    )


# ---- interface -------------------------------------------------------------------------------------


def test_interface_module_imports_nothing_from_anchormi():
    import anchormi.tasks.interface as interface

    tree = ast.parse(Path(interface.__file__).read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert not [module for module in imported if module.startswith("anchormi") or module == ""]
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]


def test_task_attributes_and_units():
    task = tasks.gaussian(dim=20, mi=6.0)
    assert isinstance(task, Task)
    assert task.name == "gaussian-d20-mi6"
    assert (task.dim_x, task.dim_y) == (20, 20)
    assert task.mi == 6.0 == task.mutual_information()
    assert task.bits == pytest.approx(6.0 / math.log(2.0), rel=1e-15)
    x, y = task.sample(7, seed=3)
    assert x.shape == (7, 20) and y.shape == (7, 20)
    assert x.dtype == np.float64 and y.dtype == np.float64


def test_sample_rejects_bad_n_and_seed():
    task = tasks.gaussian(dim=2, mi=1.0)
    for bad_n in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n="):
            task.sample(bad_n)
    for bad_seed in (-1, "zero", 1.5):
        with pytest.raises(ValueError, match="seed="):
            task.sample(5, seed=bad_seed)


def test_wrong_sampler_shape_fails_loudly():
    class BrokenTask(Task):
        def _sample(self, n, rng):
            return np.zeros((n, 2)), np.zeros((n, 3))

    with pytest.raises(RuntimeError, match="expected"):
        BrokenTask("broken", dim_x=2, dim_y=2, mi=1.0).sample(4)


# ---- Gaussian and cubic ----------------------------------------------------------------------------


@pytest.mark.parametrize("dim, mi", [(1, 0.5), (5, 2.0), (20, 6.0)])
def test_gaussian_closed_form_matches_monte_carlo(dim, mi):
    task = tasks.gaussian(dim=dim, mi=mi)
    rho = math.sqrt(1.0 - math.exp(-2.0 * mi / dim))
    assert task.rho == pytest.approx(rho, rel=1e-12)
    assert -dim / 2 * math.log(1.0 - task.rho**2) == pytest.approx(mi, rel=1e-9)

    x, y = task.sample(20_000, seed=1)
    # Densities built independently of the sampler: joint N(0, [[I, rho I], [rho I, I]]).
    covariance = np.block([[np.eye(dim), rho * np.eye(dim)], [rho * np.eye(dim), np.eye(dim)]])
    log_joint = stats.multivariate_normal(np.zeros(2 * dim), covariance).logpdf(np.hstack([x, y]))
    log_marginals = stats.norm.logpdf(x).sum(axis=1) + stats.norm.logpdf(y).sum(axis=1)
    assert_mean_matches(log_joint - log_marginals, mi)


def test_gaussian_marginals_are_standard_normal():
    x, y = tasks.gaussian(dim=3, mi=2.0).sample(20_000, seed=2)
    for column in np.hstack([x, y]).T:
        assert stats.kstest(column, "norm").pvalue > 1e-4


def test_cubic_is_gaussian_with_y_cubed():
    gaussian_task = tasks.gaussian(dim=4, mi=3.0)
    cubic_task = tasks.cubic(dim=4, mi=3.0)
    assert cubic_task.name == "cubic-d4-mi3"
    assert cubic_task.mi == gaussian_task.mi
    x_gauss, y_gauss = gaussian_task.sample(100, seed=5)
    x_cubic, y_cubic = cubic_task.sample(100, seed=5)
    np.testing.assert_array_equal(x_cubic, x_gauss)
    np.testing.assert_array_equal(y_cubic, y_gauss**3)


# ---- Student-t -------------------------------------------------------------------------------------


def czyz_correction(dof, dim_x, dim_y):
    """The correction as written in Czyz et al. (2023), typed in independently of the library."""
    v, m, n = dof, dim_x, dim_y
    lg, psi = special.gammaln, special.digamma
    return (
        lg(v / 2) + lg((v + m + n) / 2) - lg((v + m) / 2) - lg((v + n) / 2)
        + (v + m) / 2 * psi((v + m) / 2) + (v + n) / 2 * psi((v + n) / 2)
        - (v + m + n) / 2 * psi((v + m + n) / 2) - v / 2 * psi(v / 2)
    )


@pytest.mark.parametrize("dof, dim_x, dim_y", [(1.0, 1, 1), (3.0, 2, 3), (10.0, 4, 2), (0.5, 3, 3)])
def test_student_t_correction_matches_published_formula(dof, dim_x, dim_y):
    correction = tasks.student_t_mi_correction(dof, dim_x, dim_y)
    assert correction == pytest.approx(czyz_correction(dof, dim_x, dim_y), rel=1e-10, abs=1e-12)
    assert correction > 0


def test_student_t_correction_vanishes_as_dof_grows():
    corrections = [tasks.student_t_mi_correction(dof, 2, 2) for dof in (1, 10, 100, 1e4)]
    assert all(later < earlier for earlier, later in zip(corrections, corrections[1:]))
    assert corrections[-1] < 1e-6


@pytest.mark.parametrize(
    "dim_x, dim_y, dof, rho",
    [(1, 1, 1.0, 0.0), (1, 1, 1.0, 0.8), (2, 3, 3.0, 0.5), (4, 2, 10.0, 0.3)],
)
def test_student_t_closed_form_matches_monte_carlo(dim_x, dim_y, dof, rho):
    task = tasks.student_t(dim_x=dim_x, dim_y=dim_y, dof=dof, rho=rho)
    assert task.mi_gaussian == pytest.approx(-min(dim_x, dim_y) / 2 * math.log(1 - rho**2), abs=1e-12)
    x, y = task.sample(40_000, seed=7)
    # scipy's densities, not ours: the marginals of a multivariate t are t with the same dof.
    dispersion = task.dispersion
    log_joint = stats.multivariate_t(np.zeros(dim_x + dim_y), dispersion, df=dof).logpdf(np.hstack([x, y]))
    log_x = stats.multivariate_t(np.zeros(dim_x), dispersion[:dim_x, :dim_x], df=dof).logpdf(x)
    log_y = stats.multivariate_t(np.zeros(dim_y), dispersion[dim_x:, dim_x:], df=dof).logpdf(y)
    assert_mean_matches(log_joint - log_x - log_y, task.mi)


def test_student_t_marginal_is_univariate_t():
    task = tasks.student_t(dim_x=1, dim_y=2, dof=2.5, rho=0.6)
    x, y = task.sample(20_000, seed=4)
    assert stats.kstest(x[:, 0], stats.t(df=2.5).cdf).pvalue > 1e-4
    assert stats.kstest(y[:, 1], stats.t(df=2.5).cdf).pvalue > 1e-4


def test_student_t_custom_dispersion_agrees_with_rho():
    by_rho = tasks.student_t(dim_x=2, dim_y=2, dof=4.0, rho=0.7)
    by_matrix = tasks.student_t(dim_x=2, dim_y=2, dof=4.0, dispersion=by_rho.dispersion)
    # Both equal the closed form typed in here: two pairs of correlation 0.7 plus Czyz's correction.
    expected = -2 / 2 * math.log(1 - 0.7**2) + czyz_correction(4.0, 2, 2)
    assert by_rho.mi == pytest.approx(expected, rel=1e-12)
    assert by_matrix.mi == pytest.approx(expected, rel=1e-12)
    assert by_matrix.name.endswith("-custom")


def test_student_t_rejects_bad_dependence_specification():
    with pytest.raises(ValueError, match="rho"):
        tasks.student_t(dim_x=1, dim_y=1, dof=3.0, rho=1.0)
    with pytest.raises(ValueError, match="only one"):
        tasks.student_t(dim_x=1, dim_y=1, dof=3.0, rho=0.5, dispersion=np.eye(2))
    with pytest.raises(ValueError, match="shape"):
        tasks.student_t(dim_x=1, dim_y=1, dof=3.0, dispersion=np.eye(3))
    with pytest.raises(ValueError, match="positive definite"):
        tasks.student_t(dim_x=1, dim_y=1, dof=3.0, dispersion=[[1.0, 2.0], [2.0, 1.0]])


# ---- MI-preserving transforms ----------------------------------------------------------------------

WRAPPERS = [
    (tasks.half_cube, "half-cube-", half_cube_inverse),
    (tasks.asinh, "asinh-", np.sinh),
    (tasks.normal_cdf, "normal-cdf-", special.ndtri),
]


@pytest.mark.parametrize("wrap, prefix, inverse", WRAPPERS)
def test_transform_keeps_mi_and_is_invertible_on_samples(wrap, prefix, inverse):
    base = tasks.gaussian(dim=3, mi=1.5)
    wrapped = wrap(base)
    assert wrapped.mi == base.mi
    assert wrapped.name == prefix + base.name
    x_base, y_base = base.sample(5_000, seed=9)
    x_wrapped, y_wrapped = wrapped.sample(5_000, seed=9)
    for original, mapped in ((x_base, x_wrapped), (y_base, y_wrapped)):
        # Strictly increasing per coordinate on these samples, hence one-to-one on them.
        for column in range(original.shape[1]):
            order = np.argsort(original[:, column])
            assert np.all(np.diff(mapped[order, column]) > 0)
        np.testing.assert_allclose(inverse(mapped), original, rtol=1e-9, atol=1e-9)


def test_spiral_turns_each_point_by_its_squared_norm_and_inverts():
    base = tasks.gaussian(dim=4, mi=2.0)
    wrapped = tasks.spiral(base)
    assert wrapped.mi == base.mi and wrapped.name == "spiral-gaussian-d4-mi2"
    assert tasks.spiral(base, speed=0.25).name == "spiral-gaussian-d4-mi2-v0.25"
    x_base, y_base = base.sample(4_000, seed=3)
    x_wrapped, y_wrapped = wrapped.sample(4_000, seed=3)
    for original, mapped in ((x_base, x_wrapped), (y_base, y_wrapped)):
        # A rotation of the first two coordinates: norms and the other coordinates are kept ...
        np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), np.linalg.norm(original, axis=1), rtol=1e-12)
        np.testing.assert_array_equal(mapped[:, 2:], original[:, 2:])
        # ... by the angle 0.5 |v|^2, so rotating back recovers the base sample (one-to-one).
        angle = 0.5 * np.sum(original**2, axis=1)
        turned = np.arctan2(mapped[:, 1], mapped[:, 0]) - np.arctan2(original[:, 1], original[:, 0])
        np.testing.assert_allclose(np.angle(np.exp(1j * (turned - angle))), 0.0, atol=1e-9)
        np.testing.assert_allclose(spiral_inverse(mapped, 0.5), original, rtol=1e-9, atol=1e-9)
    # It mixes coordinates: no per-column monotone map relates the mapped and base first columns.
    assert abs(stats.spearmanr(x_wrapped[:, 0], x_base[:, 0])[0]) < 0.5
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        tasks.spiral(tasks.gaussian(dim=1, mi=1.0))
    with pytest.raises(ValueError, match="speed="):
        tasks.spiral(base, speed=0.0)


def test_rotated_applies_fixed_orthogonal_matrices():
    base = tasks.half_cube(tasks.gaussian(dim=3, mi=1.5))
    wrapped = tasks.rotated(base)
    assert wrapped.mi == base.mi and wrapped.name == "rotated-half-cube-gaussian-d3-mi1.5"
    assert tasks.rotated(base, seed=4).name.endswith("-r4")
    for rotation in (wrapped.rotation_x, wrapped.rotation_y):
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert not np.allclose(wrapped.rotation_x, tasks.rotated(base, seed=4).rotation_x)
    x_base, y_base = base.sample(1_000, seed=5)
    x_wrapped, y_wrapped = wrapped.sample(1_000, seed=5)
    np.testing.assert_allclose(x_wrapped @ wrapped.rotation_x, x_base, atol=1e-9)
    np.testing.assert_allclose(y_wrapped @ wrapped.rotation_y, y_base, atol=1e-9)
    with pytest.raises(ValueError, match="seed="):
        tasks.rotated(base, seed=-1)


def test_normal_cdf_refuses_saturated_samples():
    heavy_tailed = tasks.normal_cdf(tasks.student_t(dim_x=1, dim_y=1, dof=1.0, rho=0.5))
    with pytest.raises(RuntimeError, match="one-to-one"):
        heavy_tailed.sample(2_000, seed=0)


def test_generic_transformed_task():
    base = tasks.gaussian(dim=2, mi=1.0)
    embedded = tasks.transformed(
        base, lambda x: np.hstack([x, np.exp(x)]), None, "embedded-gaussian", dim_x=4
    )
    assert (embedded.dim_x, embedded.dim_y, embedded.mi) == (4, 2, 1.0)
    x, y = embedded.sample(10, seed=1)
    x_base, y_base = base.sample(10, seed=1)
    np.testing.assert_array_equal(x[:, :2], x_base)
    np.testing.assert_array_equal(y, y_base)
    undeclared = tasks.transformed(base, lambda x: np.hstack([x, x]), None, "undeclared")
    with pytest.raises(RuntimeError, match="expected"):
        undeclared.sample(3)
    with pytest.raises(ValueError, match="task="):
        tasks.transformed("gaussian", None, None, "bad")
    with pytest.raises(ValueError, match="fx="):
        tasks.transformed(base, "not a function", None, "bad")


# ---- digits ----------------------------------------------------------------------------------------


def test_digits_class_is_a_function_of_the_image():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    labels_by_image = {}
    for image, label in zip(bunch.data / 16.0, bunch.target):
        labels_by_image.setdefault(image.tobytes(), set()).add(int(label))
    images_by_class, n_dropped, n_merged = load_class_images()
    seen = set()
    for label, images in enumerate(images_by_class):
        for image in images:
            # Each kept image occurs in the dataset under exactly this one class, and only once here.
            assert labels_by_image[image.tobytes()] == {label}
            assert image.tobytes() not in seen
            seen.add(image.tobytes())
    assert len(seen) + n_dropped + n_merged == len(bunch.data)


@pytest.mark.parametrize("k", [1, 3])
def test_digits_shapes_ranges_and_same_class_pairs(k):
    task = tasks.digits(k=k)
    assert task.name == f"digits-k{k}"
    x, y = task.sample(500, seed=11)
    assert x.shape == (500, 64 * k) and y.shape == (500, 64 * k)
    assert x.min() >= 0.0 and x.max() <= 1.0 and y.min() >= 0.0 and y.max() <= 1.0
    np.testing.assert_array_equal(task.classes_of(x), task.classes_of(y))


@pytest.mark.parametrize("class_distribution", ["uniform", "empirical"])
def test_digits_mi_is_k_times_class_entropy(class_distribution):
    task = tasks.digits(k=2, class_distribution=class_distribution)
    probabilities = task.class_probabilities
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    assert task.mi == pytest.approx(2 * stats.entropy(probabilities), rel=1e-12)
    class_sizes = np.array([len(images) for images in task.images_by_class])
    if class_distribution == "uniform":
        assert task.mi == pytest.approx(2 * math.log(10), rel=1e-12)
    else:
        np.testing.assert_allclose(probabilities, class_sizes / class_sizes.sum(), rtol=1e-12)
    # The sampler draws classes from exactly this distribution (each frequency within 4 stderr).
    x, _ = task.sample(20_000, seed=12)
    frequencies = np.bincount(task.classes_of(x).ravel(), minlength=10) / x.shape[0] / 2
    stderr = np.sqrt(probabilities * (1 - probabilities) / (2 * x.shape[0]))
    assert np.all(np.abs(frequencies - probabilities) <= N_STDERR * stderr)


def test_digits_partners_are_independent_given_class():
    # If X and Y are independent given C and uniform over the n_c images of C, they coincide with
    # probability sum_c pi_c / n_c; forced-distinct or copied partners would give 0 or 1.
    task = tasks.digits(k=1)
    n_samples = 40_000
    x, y = task.sample(n_samples, seed=13)
    identical = np.all(x == y, axis=1).astype(float)
    class_sizes = np.array([len(images) for images in task.images_by_class])
    expected = float((task.class_probabilities / class_sizes).sum())
    stderr = math.sqrt(expected * (1 - expected) / n_samples)
    assert abs(identical.mean() - expected) <= N_STDERR * stderr


def test_digits_distinct_partners_never_coincide_and_mi_includes_the_extra_term():
    task = tasks.digits(k=2, distinct_partners=True)
    x, y = task.sample(5_000, seed=14)
    assert not np.any(np.all(x.reshape(-1, 64) == y.reshape(-1, 64), axis=1))
    np.testing.assert_array_equal(task.classes_of(x), task.classes_of(y))
    class_sizes = np.array([len(images) for images in task.images_by_class])
    extra = float((task.class_probabilities * np.log(class_sizes / (class_sizes - 1))).sum())
    assert task.mi == pytest.approx(2 * (math.log(10) + extra), rel=1e-12)
    assert task.name == "digits-k2-distinct"


# ---- latent pair -----------------------------------------------------------------------------------


def test_latent_pair_true_pmi_matches_the_gaussian_densities():
    task = tasks.latent_pair(dim_x=3, dim_y=2, latent_dim=2, mi=1.5, warp="none", seed=1)
    x, y = task.sample(50, seed=0)
    # Undo the rotations: (u, v) is jointly Gaussian with unit variances and corr rho on the shared coordinates.
    u, v = x @ task.rotation_x, y @ task.rotation_y
    covariance = np.eye(5)
    for k in range(2):
        covariance[k, 3 + k] = covariance[3 + k, k] = task.rho
    joint = multivariate_normal(np.zeros(5), covariance).logpdf(np.hstack([u, v]))
    product = multivariate_normal(np.zeros(3), np.eye(3)).logpdf(u) + multivariate_normal(np.zeros(2), np.eye(2)).logpdf(v)
    np.testing.assert_allclose(task.true_pmi(x, y), joint - product, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("warp", ["none", "cubic"])
def test_latent_pair_true_pmi_averages_to_the_mutual_information(warp):
    task = tasks.latent_pair(mi=1.0, warp=warp)
    x, y = task.sample(20_000, seed=0)
    pmi = task.true_pmi(x, y)
    assert_mean_matches(pmi, task.mi)
    # Under p(x)p(y) the ratio averages to 1: E_q0[r*] = 1.
    ratio = np.exp(task.true_pmi(task.sample_x(20_000, seed=1), y))
    assert_mean_matches(ratio, 1.0)


def test_latent_pair_is_a_task_with_its_mi_in_the_name():
    task = tasks.latent_pair(dim_x=6, dim_y=5, latent_dim=3, mi=2.5, warp="none")
    assert isinstance(task, Task) and isinstance(task, tasks.LatentPairTask)
    assert (task.dim_x, task.dim_y, task.mi) == (6, 5, 2.5)
    assert task.name == "latent-pair-dx6-dy5-k3-mi2.5"
    assert tasks.latent_pair(warp="cubic").name.endswith("-cubic")
    # -k/2 log(1 - rho^2) = mi fixes rho.
    assert -3 / 2 * math.log(1 - task.rho**2) == pytest.approx(2.5, rel=1e-12)
    x_marginal = task.sample_x(4, seed=3)
    assert x_marginal.shape == (4, 6)
    # The seed fixes the task (rotations), not the samples.
    np.testing.assert_array_equal(tasks.latent_pair(seed=1).rotation_x, tasks.latent_pair(seed=1).rotation_x)
    assert not np.array_equal(tasks.latent_pair(seed=1).rotation_x, tasks.latent_pair(seed=2).rotation_x)


def test_latent_pair_latent_dim_cannot_exceed_either_dimension():
    with pytest.raises(ValueError, match="^latent_dim=3 exceeds"):
        tasks.latent_pair(dim_x=2, dim_y=4, latent_dim=3)


# ---- determinism -----------------------------------------------------------------------------------

EVERY_FAMILY = [
    tasks.gaussian(dim=3, mi=1.0),
    tasks.cubic(dim=3, mi=1.0),
    tasks.student_t(dim_x=2, dim_y=1, dof=3.0),
    tasks.digits(k=2),
    tasks.digits(k=1, distinct_partners=True),
    tasks.half_cube(tasks.gaussian(dim=2, mi=1.0)),
    tasks.asinh(tasks.student_t(dim_x=1, dim_y=1, dof=2.0)),
    tasks.normal_cdf(tasks.gaussian(dim=2, mi=1.0)),
    tasks.spiral(tasks.gaussian(dim=2, mi=1.0)),
    tasks.rotated(tasks.half_cube(tasks.gaussian(dim=2, mi=1.0))),
    tasks.latent_pair(dim_x=3, dim_y=2, latent_dim=2),
]


@pytest.mark.parametrize("task", EVERY_FAMILY, ids=lambda task: task.name)
def test_same_seed_same_samples(task):
    x_first, y_first = task.sample(50, seed=21)
    x_again, y_again = task.sample(50, seed=21)
    np.testing.assert_array_equal(x_first, x_again)
    np.testing.assert_array_equal(y_first, y_again)
    x_other, _ = task.sample(50, seed=22)
    assert not np.array_equal(x_first, x_other)
    x_from_generator, _ = task.sample(50, seed=np.random.default_rng(21))
    np.testing.assert_array_equal(x_first, x_from_generator)


# ---- staircase -------------------------------------------------------------------------------------


def test_staircase_mapping():
    schedule = tasks.staircase()
    assert schedule.n_steps == 20_000
    assert schedule.mi_at(0) == 2.0 and schedule.mi_at(3_999) == 2.0
    assert schedule.mi_at(4_000) == 4.0 and schedule.mi_at(19_999) == 10.0
    task = schedule.task_at(12_345)
    assert task.name == "gaussian-d20-mi8" and task.mi == 8.0
    assert schedule.task_at(12_000) is task  # cached per level
    assert schedule.task_at(0, family="cubic", dim=5).name == "cubic-d5-mi2"
    for bad_step in (-1, 20_000, 1.5):
        with pytest.raises(ValueError, match="step="):
            schedule.mi_at(bad_step)


@pytest.mark.parametrize("module", ["anchormi.tasks.staircase", "anchormi.tasks.registry"])
def test_staircase_and_registry_import_first_without_a_cycle(module):
    # staircase imports the registry at top level; a cycle would only show when one is imported first.
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_custom_staircase():
    schedule = tasks.staircase(levels=(1, 3), steps_per_level=10)
    assert schedule.n_steps == 20
    assert [schedule.mi_at(step) for step in (0, 9, 10, 19)] == [1.0, 1.0, 3.0, 3.0]


# ---- registry --------------------------------------------------------------------------------------


def test_registry_lists_and_builds_every_family():
    descriptions = tasks.available()
    wrappers = ("half-cube", "asinh", "normal-cdf", "spiral", "rotated")
    assert {"gaussian", "cubic", "student-t", "digits", "latent-pair", *wrappers} <= set(descriptions)
    assert all(isinstance(text, str) and text for text in descriptions.values())
    for name in descriptions:
        kwargs = {"base": "gaussian", "dim": 2, "mi": 1.0} if name in wrappers else {}
        task = tasks.get(name, **kwargs)
        assert isinstance(task, Task)
        x, y = task.sample(3, seed=0)
        assert x.shape == (3, task.dim_x) and y.shape == (3, task.dim_y)
        assert task.mi > 0


def test_registry_get_builds_the_named_task():
    assert tasks.get("gaussian", dim=20, mi=6.0).name == "gaussian-d20-mi6"
    assert tasks.get("student_t", dim_x=1, dim_y=1, dof=2.0).name.startswith("student-t-")
    wrapped = tasks.get("asinh", base="cubic", dim=3, mi=2.0)
    assert wrapped.name == "asinh-cubic-d3-mi2" and wrapped.mi == 2.0
    assert tasks.get("half_cube", base=tasks.gaussian(dim=1, mi=0.5)).name == "half-cube-gaussian-d1-mi0.5"
    assert tasks.get("latent_pair", dim_x=4, dim_y=4, latent_dim=2, mi=1.0, warp="none").name == "latent-pair-dx4-dy4-k2-mi1"
    with pytest.raises(ValueError, match="name="):
        tasks.get("no-such-task")
    with pytest.raises(ValueError, match="base="):
        tasks.get("asinh", dim=3, mi=1.0)


# ---- bad arguments ---------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (lambda: tasks.gaussian(dim=20, mi=0.0), "mi"),
    (lambda: tasks.gaussian(dim=20, mi=-1.0), "mi"),
    (lambda: tasks.gaussian(dim=20, mi=float("inf")), "mi"),
    (lambda: tasks.gaussian(dim=0, mi=1.0), "dim"),
    (lambda: tasks.gaussian(dim=2.5, mi=1.0), "dim"),
    (lambda: tasks.cubic(dim=20, mi=-2.0), "mi"),
    (lambda: tasks.student_t(dim_x=0, dim_y=1, dof=3.0), "dim_x"),
    (lambda: tasks.student_t(dim_x=1, dim_y=0, dof=3.0), "dim_y"),
    (lambda: tasks.student_t(dim_x=1, dim_y=1, dof=0.0), "dof"),
    (lambda: tasks.student_t(dim_x=1, dim_y=1, dof=-1.0), "dof"),
    (lambda: tasks.digits(k=0), "k"),
    (lambda: tasks.digits(k=1, class_distribution="skewed"), "class_distribution"),
    (lambda: tasks.staircase(levels=(2, -4)), "levels"),
    (lambda: tasks.staircase(levels=()), "levels"),
    (lambda: tasks.staircase(steps_per_level=0), "steps_per_level"),
    (lambda: tasks.half_cube("gaussian"), "task"),
    (lambda: tasks.latent_pair(mi=0.0), "mi"),
    (lambda: tasks.latent_pair(dim_x=0), "dim_x"),
    (lambda: tasks.latent_pair(latent_dim=0), "latent_dim"),
    (lambda: tasks.latent_pair(warp="square"), "warp"),
]


@pytest.mark.parametrize("build, argument", BAD_ARGUMENTS)
def test_bad_arguments_raise_value_error_naming_the_argument(build, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b.*pass") as raised:
        build()
    assert argument in str(raised.value)


@pytest.mark.parametrize("dof, dim, mi", [(3.0, 5, 4.0), (3.0, 10, 2.0), (5.0, 2, 0.7)])
def test_paired_rho_for_mi_gives_a_task_with_that_mi(dof, dim, mi):
    rho = tasks.paired_rho_for_mi(mi, dim, dof)
    assert 0.0 < rho < 1.0
    assert tasks.student_t(dim_x=dim, dim_y=dim, dof=dof, rho=rho).mi == pytest.approx(mi, rel=1e-10)


def test_paired_rho_for_mi_at_or_below_the_tail_part_is_zero():
    tail = tasks.student_t_mi_correction(3.0, 10, 10)
    assert tasks.paired_rho_for_mi(tail, 10, 3.0) == 0.0 and tasks.paired_rho_for_mi(0.5 * tail, 10, 3.0) == 0.0
