"""The Gaussian-copula lower bound: the classical estimate, the ``gaussian_bound`` check, and the
interval's upper end reaching the bound when an estimate falls below it."""

import math

import numpy as np
import pytest

import anchormi as ami
from anchormi.classical import gaussian, gaussian_copula, mardia_kurtosis_z
from anchormi.diagnostics import bound_applies, gaussian_bound_check, gaussian_reference
from anchormi.intervals import critical_value, reach_to_bound, t_interval
from anchormi.result import MIResult


def test_gaussian_copula_removes_the_closed_forms_small_sample_bias():
    # d = 25 per side at N = 1,000: the plain closed form is biased up by about 25 * 25 / 2,000 =
    # 0.31 nats; the corrected one is unbiased, so the mean of 5 draws lies within 3 standard
    # errors (their own stderr / sqrt(5)) of the truth.
    task = ami.tasks.gaussian(dim=25, mi=2.0)
    corrected, stderrs, plain = [], [], []
    for seed in range(5):
        x, y = task.sample(1_000, seed=seed)
        result = gaussian_copula(x, y)
        corrected.append(result.mi)
        stderrs.append(result.stderr)
        plain.append(gaussian(x, y).mi)
    margin = 3 * np.mean(stderrs) / math.sqrt(5)
    assert abs(np.mean(corrected) - 2.0) < margin, (np.mean(corrected), margin)
    assert np.mean(plain) - 2.0 > 0.2, np.mean(plain)


def test_gaussian_copula_reads_only_the_ranks_of_each_column():
    x, y = ami.tasks.gaussian(dim=3, mi=1.0).sample(2_000, seed=1)
    warped = gaussian_copula(np.exp(x), np.sign(y) * np.abs(y) ** 3)
    plain = gaussian_copula(x, y)
    assert warped.mi == pytest.approx(plain.mi, abs=1e-12) and warped.stderr == pytest.approx(plain.stderr, abs=1e-12)
    assert plain.info["lower_bound"]


def test_mardia_kurtosis_z_is_standard_normal_for_gaussian_rows():
    rng = np.random.default_rng(3)
    values = np.array([mardia_kurtosis_z(rng.standard_normal((400, 3))) for _ in range(300)])
    # 300 draws: the mean's noise is 1 / sqrt(300) = 0.06, the sd's about 0.04.
    assert abs(values.mean()) < 3 / math.sqrt(300), values.mean()
    assert 0.85 < values.std(ddof=1) < 1.15, values.std(ddof=1)


def test_heavy_tails_are_not_taken_for_a_gaussian_copula_and_read_below_the_truth():
    task = ami.tasks.student_t(dim_x=4, dim_y=4, dof=3, rho=ami.tasks.paired_rho_for_mi(2.0, 4, 3))
    x, y = task.sample(4_000, seed=2)
    result = gaussian_copula(x, y)
    assert not result.info["lower_bound"]
    assert result.info["kurtosis_z_x"] > 3 and result.info["kurtosis_z_y"] > 3
    assert result.mi < task.mi - 3 * result.stderr


def _reference(bound: float, stderr: float, lower_bound: bool = True, z_x: float = 0.5, z_y: float = -0.4) -> MIResult:
    return MIResult(mi=bound, stderr=stderr, n_train=0, n_test=1_000, objective="gaussian_copula", readout="gaussian_copula",
                    info={"lower_bound": lower_bound, "kurtosis_z_x": z_x, "kurtosis_z_y": z_y})


def test_the_check_warns_only_beyond_both_errors_and_says_why_it_skips():
    reference = _reference(2.0, 0.03)
    # The gap must exceed 2 * hypot(0.03, stderr): 0.3 > 2 * 0.104, but 0.15 < 2 * 0.104.
    warned = gaussian_bound_check(reference, 1.7, 0.1)
    assert warned.status == "warn" and "missed dependence" in warned.message
    # A bound readout (InfoNCE's, capped at log K) is low by design; the message says so instead.
    assert "a lower bound itself" in gaussian_bound_check(reference, 1.7, 0.1, readout="infonce").message
    assert gaussian_bound_check(reference, 1.85, 0.1).status == "ok"
    assert gaussian_bound_check(reference, 2.4, 0.1).status == "ok"
    # Near 0 a "significant" gap must also be material (0.02 nats and 2 %).
    assert gaussian_bound_check(_reference(0.01, 0.0005), -0.005, 0.001).status == "ok"
    skipped = gaussian_bound_check(_reference(2.0, 0.03, lower_bound=False, z_x=80.0), 1.0, 0.1)
    assert skipped.status == "skip" and "x is not multivariate normal" in skipped.message and "Mardia kurtosis z = 80.0" in skipped.message
    assert "y is" not in skipped.message
    assert gaussian_bound_check("no Gaussian-copula reading on these data (too few rows).", 1.0, 0.1).status == "skip"


def test_the_interval_is_held_to_the_bound_wherever_it_applies():
    # Not only where the check warns: a bound that applies moves the upper end whenever its own
    # upper limit lies above it; a reading that is no bound, or none at all, never does.
    # 1.93 +/- 0.03 against 2.0 +/- 0.03: a gap of 0.07 is within 2 * hypot(0.03, 0.03) = 0.085, so
    # the check is ok, but the upper end 1.93 + 1.96 * 0.03 is below the bound's 2.0 + 1.96 * 0.03.
    assert bound_applies(_reference(2.0, 0.03)) and gaussian_bound_check(_reference(2.0, 0.03), 1.93, 0.03).status == "ok"
    assert reach_to_bound(1.93, 0.03, math.inf, 2.0, 0.03) == pytest.approx(0.07, abs=1e-3)
    assert not bound_applies(_reference(2.0, 0.03, lower_bound=False)) and not bound_applies("no reading.")


def test_the_upper_end_reaches_the_bounds_upper_limit_and_nothing_else_moves():
    estimate, stderr, df = 1.0, 0.2, 8.0
    above = reach_to_bound(estimate, stderr, df, bound=2.0, bound_stderr=0.05)
    lo, hi = t_interval(estimate, stderr, df, above=above)
    assert hi == pytest.approx(2.0 + 1.96 * 0.05, abs=1e-3) and lo == pytest.approx(estimate - critical_value(df) * stderr)
    # An interval that already holds the bound's upper limit is left as it is.
    assert reach_to_bound(estimate, stderr, df, bound=1.2, bound_stderr=0.05) == 0.0


def test_a_fit_below_the_bound_warns_and_its_interval_reaches_the_bound():
    # A critic stopped after 40 steps has learnt little of a 20-dimensional 3-nat dependence; the
    # data are Gaussian, so the copula reading is a lower bound, and the interval must hold it.
    x, y = ami.tasks.gaussian(dim=20, mi=3.0).sample(2_000, seed=0)
    result = ami.estimate(x, y, max_steps=40, seed=0, n_permutations=0)
    check = result.diagnostics["gaussian_bound"]
    assert check.status == "warn" and result.mi < 2.0
    reference = gaussian_copula(x, y)
    assert result.info["gaussian_bound"] == pytest.approx(reference.mi) and result.info["gaussian_bound_applies"]
    assert result.ci[1] == pytest.approx(reference.mi + 1.96 * reference.stderr) and result.ci_above > 0
    assert "Gaussian-copula lower bound" in result.ci_method and "gaussian_bound:" in str(result)
    # At other levels the upper end reaches the bound's limit at that level (1.645 and 2.576 se),
    # unless the t interval at that level, with a warned late rise, already ends higher.
    assert result.interval(0.95) == pytest.approx(result.ci)
    convergence = result.diagnostics["convergence"]
    rise = convergence.value if convergence.status == "warn" and convergence.value > 0 else 0.0
    for level, z in ((0.90, 1.6449), (0.99, 2.5758)):
        t_end = result.mi + critical_value(result.ci_df, level) * result.stderr + rise
        assert result.interval(level)[1] == pytest.approx(max(t_end, reference.mi + z * reference.stderr), abs=1e-4)
    assert result.interval(0.90)[1] == pytest.approx(reference.mi + 1.6449 * reference.stderr, abs=1e-4)


def test_an_estimate_on_new_pairs_rebuilds_its_bound_reach_at_any_level():
    x, y = ami.tasks.gaussian(dim=20, mi=3.0).sample(2_000, seed=1)
    est = ami.MIEstimator(max_steps=40, seed=0, n_permutations=0).fit(x, y)
    x_new, y_new = ami.tasks.gaussian(dim=20, mi=3.0).sample(1_000, seed=2)
    result = est.estimate(x_new, y_new)
    reference = gaussian_copula(x_new, y_new)
    assert result.ci_above > 0 and result.info["gaussian_bound"] == pytest.approx(reference.mi)
    assert result.interval(0.95) == pytest.approx(result.ci)
    assert result.interval(0.99)[1] == pytest.approx(max(result.mi + 2.5758 * result.stderr, reference.mi + 2.5758 * reference.stderr), abs=1e-4)


def test_conditional_estimates_skip_the_bound():
    x, y = ami.tasks.gaussian(dim=1, mi=0.5).sample(600, seed=0)
    z = np.random.default_rng(0).standard_normal((600, 1))
    result = ami.estimate(x, y, z=z, max_steps=30, folds=1, seed=0, n_permutations=0)
    assert result.diagnostics["gaussian_bound"].status == "skip" and result.ci_above == 0.0


def test_a_discrete_side_is_no_gaussian_copula_even_when_its_scores_look_normal():
    # A 20-valued label that x nearly determines: the entropy argument behind the bound needs
    # continuous variables. With 500 rows Mardia's test does not see the label's ties (its tied
    # normal scores look normal); the few-valued rule does.
    rng = np.random.default_rng(0)
    label = rng.integers(0, 20, size=500)
    x = (label + 0.05 * rng.standard_normal(500))[:, None]
    result = gaussian_copula(x, label[:, None].astype(float))
    assert abs(result.info["kurtosis_z_y"]) <= 3 and abs(result.info["kurtosis_z_x"]) <= 3
    assert result.info["few_valued_y"] == 1 and result.info["few_valued_x"] == 0 and not result.info["lower_bound"]
    check = gaussian_bound_check(result, 2.2, 0.05)
    assert check.status == "skip" and "y has 1 few-valued column" in check.message


def test_wide_data_beyond_the_budget_get_no_reading_and_a_reason():
    rng = np.random.default_rng(0)
    # 700 columns: the budget allows 2e9 / 700^2 = 4,081 rows, fewer than the 5,000 wanted.
    reference = gaussian_reference(rng.standard_normal((5_000, 350)), rng.standard_normal((5_000, 350)))
    assert isinstance(reference, str) and "700 columns" in reference and "4,081" in reference
    assert gaussian_bound_check(reference, 1.0, 0.1).status == "skip"


def test_estimate_on_new_pairs_is_held_to_their_bound_too():
    task = ami.tasks.gaussian(dim=20, mi=3.0)
    x, y = task.sample(2_000, seed=0)
    estimator = ami.MIEstimator(max_steps=40, seed=0, n_permutations=0).fit(x, y)
    x_new, y_new = task.sample(2_000, seed=1)
    result = estimator.estimate(x_new, y_new)
    reference = gaussian_copula(x_new, y_new)
    assert result.diagnostics["gaussian_bound"].status == "warn" and result.mi < 2.0
    assert result.ci[1] == pytest.approx(reference.mi + 1.96 * reference.stderr)
    assert "Gaussian-copula lower bound" in result.ci_method
