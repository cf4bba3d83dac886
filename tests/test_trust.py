"""Cross-fitting intervals, diagnostics and the independence test: statistical properties checked
on cases where the truth is known exactly (no trained critic needed for the interval itself)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import anchormi as ami
import anchormi.estimator
from anchormi.critics import SeparableCritic
from anchormi.diagnostics import (
    CRITIC_SPREAD_SHARE, calibration_check, constant_columns, fold_agreement_check, late_rise, monotone_column_pairs, offset_check, pareto_tail_shape, permutation_pvalue,
    permuted_log_ratios, product_pairs, training_checks,
)
from anchormi.intervals import (
    CI_RISING, confidence_interval, critical_value, offset_reading, pool_folds, reach_of_rise, satterthwaite_df, t_interval,
)
from anchormi.recalibration import logistic_offset


def gaussian_log_ratio(x, y, rho):
    """Exact log p(x,y)/(p(x)p(y)) for unit-variance pairs with per-coordinate correlation rho."""
    return np.sum(-0.5 * math.log(1 - rho**2) - (rho**2 * (x**2 + y**2) - 2 * rho * x * y) / (2 * (1 - rho**2)), axis=1)


def test_pooled_interval_covers_the_truth_at_its_nominal_rate_with_exact_ratios():
    # The values are exact log ratios, so the estimate's only error is sampling error; the
    # pooled 95 % interval must cover the true MI about 95 % of the time.
    rng = np.random.default_rng(11)
    dim, rho, n, repeats = 3, 0.6, 600, 400
    truth = -0.5 * dim * math.log(1 - rho**2)
    covered = 0
    for _ in range(repeats):
        x = rng.standard_normal((n, dim))
        y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
        values = gaussian_log_ratio(x, y, rho)
        pooled = pool_folds(np.array_split(values, 5))
        covered += abs(pooled.estimate - truth) <= critical_value(pooled.df) * pooled.stderr
    rate = covered / repeats
    # Binomial noise of a 95 % rate over 400 repeats is 1.1 %; 3 sd either side.
    assert 0.95 - 3 * 0.0109 <= rate <= 0.95 + 3 * 0.0109, rate


def test_interval_covers_when_each_fold_critic_adds_its_own_error():
    # Each fold's critic misses by its own random offset (sd 0.1, twice a fold's sampling error):
    # the spread of 5 fold means then carries the error, known from 4 degrees of freedom only.
    # The t interval on the Welch-Satterthwaite df covers at the nominal rate; the normal one,
    # with the same stderr, does not.
    rng = np.random.default_rng(23)
    repeats, covered_t, covered_normal = 1_000, 0, 0
    for _ in range(repeats):
        pooled = pool_folds([rng.normal(1.0, 1.0, 400) + rng.normal(0.0, 0.1) for _ in range(5)])
        error = abs(pooled.estimate - 1.0)
        covered_t += error <= critical_value(pooled.df) * pooled.stderr
        covered_normal += error <= critical_value(math.inf) * pooled.stderr
    # 3 binomial sd of a 95 % rate over 1,000 repeats: 2.1 %.
    band = 3 * math.sqrt(0.95 * 0.05 / repeats)
    assert abs(covered_t / repeats - 0.95) <= band, covered_t
    assert covered_normal / repeats < 0.95 - band, covered_normal


def test_satterthwaite_df_of_known_parts():
    # One part: its own df. Two equal parts with 4 and infinite df: (2v)^2 / (v^2 / 4) = 16.
    assert satterthwaite_df([2.0], [4.0]) == pytest.approx(4.0)
    assert satterthwaite_df([1.0, 1.0], [4.0, math.inf]) == pytest.approx(16.0)
    assert satterthwaite_df([0.0, 1.0], [4.0, math.inf]) == math.inf
    # A small negative correction cannot take the df below that of the parts.
    assert satterthwaite_df([-0.1, 1.0], [1e9, 4.0]) >= 4.0
    assert critical_value(math.inf) == pytest.approx(1.959964, abs=1e-6)
    assert critical_value(4.0) == pytest.approx(2.776445, abs=1e-6)


def test_between_fold_spread_widens_the_interval_only_beyond_sampling_noise():
    rng = np.random.default_rng(3)
    same = [rng.normal(1.0, 1.0, 500) for _ in range(5)]
    shifted = [values + shift for values, shift in zip(same, (-0.3, -0.1, 0.0, 0.1, 0.3))]
    pooled_same, pooled_shifted = pool_folds(same), pool_folds(shifted)
    assert pooled_same.stderr == pytest.approx(pooled_same.sampling_stderr, rel=0.35)
    # Fold means 0.3 apart cannot come from sampling error of 1/sqrt(500) = 0.045.
    assert pooled_shifted.between_fold_sd > 0.15
    assert pooled_shifted.stderr > 2 * pooled_shifted.sampling_stderr
    # The shifted folds' error is known from 5 fold means: about 4 degrees of freedom. Without a
    # spread beyond sampling noise, the interval is the normal one.
    assert 4.0 <= pooled_shifted.df < 4.5
    centred = [values - values.mean() + 1.0 for values in same]  # fold means exactly equal
    assert pool_folds(centred).df == 2_500 - 5


def test_calibration_is_zero_for_the_exact_ratio_and_flags_an_offset():
    rng = np.random.default_rng(5)
    n, dim, rho = 4000, 2, 0.5
    x, y_indep = rng.standard_normal((n, dim)), rng.standard_normal((n, dim))
    exact = gaussian_log_ratio(x, y_indep, rho)[None, :]
    good = calibration_check(exact, n, applicable=True)
    assert abs(good.value) < 3 * 0.05 and good.status == "ok"
    shifted = calibration_check(exact + 0.5, n, applicable=True)
    assert shifted.status == "warn" and shifted.value == pytest.approx(good.value + 0.5, abs=1e-9)


def test_pareto_tail_shape_recovers_known_shapes_from_one_array_or_blocks():
    rng = np.random.default_rng(12)
    size = 100_000
    tail = int(3 * math.sqrt(size))
    for shape in (0.2, 0.9):
        log_weights = np.log1p(stats.genpareto.rvs(shape, size=size, random_state=rng))
        fitted = pareto_tail_shape(log_weights)
        # The maximum-likelihood shape's sampling sd is about (1 + k) / sqrt(M) for M tail draws.
        assert abs(fitted - shape) < 4 * (1 + shape) / math.sqrt(tail), (shape, fitted)
        # Blocks (one per fold) hold the same weights: the same tail, the same fit.
        assert pareto_tail_shape(np.array_split(log_weights.reshape(10, -1), 3)) == pytest.approx(fitted)
    assert math.isnan(pareto_tail_shape(np.zeros(10)))


def test_calibration_is_not_judged_where_a_few_shuffled_pairs_carry_the_mean():
    # The exact ratio at 8 nats (d = 5) on product pairs: r has a heavy tail under p(x)p(y), so
    # a few pairs carry the mean, whose error is then unknown: the check reports the value and
    # says why it does not judge it. At 0.3 nats the tail is light and the exact ratio passes.
    rng = np.random.default_rng(13)
    n, dim = 4000, 5
    for mi, heavy in ((8.0, True), (0.3, False)):
        rho = math.sqrt(1 - math.exp(-2 * mi / dim))
        x, y_indep = rng.standard_normal((n, dim)), rng.standard_normal((n, dim))
        exact = gaussian_log_ratio(x, y_indep, rho)[None, :]
        check = calibration_check(exact, n, applicable=True)
        assert (pareto_tail_shape(exact) > 0.7) is heavy and ("carry the mean" in check.message) is heavy
        assert check.status == ("skip" if heavy else "ok") and check.value == pytest.approx(np.log(np.mean(np.exp(exact))))
    # A critic 5 nats too high is called off whatever its tails: a calibrated ratio's mean
    # exceeds e^4.6 = 100 with probability below 1 % (Markov's inequality).
    for mi in (8.0, 0.3):
        rho = math.sqrt(1 - math.exp(-2 * mi / dim))
        x, y_indep = rng.standard_normal((n, dim)), rng.standard_normal((n, dim))
        high = gaussian_log_ratio(x, y_indep, rho)[None, :] + 5.0
        check = calibration_check(high, n, applicable=True)
        assert check.status == "warn" and "Markov" in check.message and check.value > math.log(100), (mi, check.message)


def test_calibration_counts_only_shuffled_pairs_that_are_not_joint_pairs():
    # 200 random permutations of 2,000 pairs have about 200 fixed points, each a joint pair. At
    # 6 nats (d = 5) the exact ratio scores those near e^6 and far more than a product pair, so
    # with them the calibration value is nats above 0; without them it is near 0.
    rng = np.random.default_rng(14)
    n, dim, mi, shuffles = 2000, 5, 6.0, 200
    rho = math.sqrt(1 - math.exp(-2 * mi / dim))
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    permutations = torch.stack([torch.randperm(n, generator=torch.Generator().manual_seed(b)) for b in range(shuffles)])
    permuted = np.stack([gaussian_log_ratio(x, y[perm], rho) for perm in permutations.numpy()])
    pairs = product_pairs(permuted, permutations)
    fixed = int((permutations == torch.arange(n)).sum())
    assert pairs.shape == (shuffles * n - fixed,) and fixed > 100
    assert np.all(np.isin(pairs, permuted[(permutations != torch.arange(n)).numpy()]))
    with_fixed, without = (float(np.log(np.mean(np.exp(v)))) for v in (permuted, pairs))
    assert with_fixed > 0.5 and abs(without) < 0.3, (with_fixed, without)


def test_offset_refit_agrees_with_an_exact_ratio_and_flags_a_wrong_offset():
    rng = np.random.default_rng(6)
    n, dim, rho = 4000, 2, 0.6
    x = rng.standard_normal((n, dim))
    y = rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, dim))
    shuffled = np.stack([gaussian_log_ratio(x, y[rng.permutation(n)], rho) for _ in range(5)])
    joint = gaussian_log_ratio(x, y, rho)
    estimate = float(joint.mean())
    delta, influence = logistic_offset(joint, shuffled)
    delta_stderr = influence.std(ddof=1) / math.sqrt(n)
    assert abs(delta) < 3 * delta_stderr
    sampling = joint.std(ddof=1) / math.sqrt(n)
    assert offset_check(delta, sampling, estimate).status == "ok"
    # A critic whose offset is 0.5 nats too high: the refit moves it back, and the check warns.
    shifted_delta, _ = logistic_offset(joint + 0.5, shuffled + 0.5)
    assert shifted_delta == pytest.approx(delta - 0.5, abs=1e-5)
    warned = offset_check(shifted_delta, sampling, estimate + 0.5)
    assert warned.status == "warn" and f"refitted ones read {estimate + 0.5 + shifted_delta:.4f}" in warned.message
    assert offset_check(None, sampling, estimate).status == "skip"


def test_fold_agreement_warns_on_a_material_spread_between_critics_not_on_an_ordinary_one():
    # Five critics reading 6 nats with a sampling error of 0.02 each: a spread of 2 % of the
    # estimate is far beyond sampling error (chi2 p ~ 0) yet ordinary; one of 8 % warns.
    stderrs = np.full(5, 0.02)
    pattern = np.array([-1.5, -0.5, 0.0, 0.5, 1.5]) / np.std([-1.5, -0.5, 0.0, 0.5, 1.5], ddof=1)
    for share, status in ((0.02, "ok"), (0.08, "warn")):
        means = 6.0 + share * 6.0 * pattern
        check = fold_agreement_check(means, stderrs, float(means.mean()))
        assert check.status == status
        assert check.value == pytest.approx(share * 6.0)
        assert "beyond" in check.message and "sampling error" in check.message
    # The threshold sits at the module's share, just either side of it.
    for factor, status in ((0.95, "ok"), (1.05, "warn")):
        means = 6.0 + factor * CRITIC_SPREAD_SHARE * 6.0 * pattern
        assert fold_agreement_check(means, stderrs, 6.0).status == status
    # Within sampling error nothing is said beyond the spread, and one fold has nothing to compare.
    agreeing = fold_agreement_check(6.0 + 0.01 * pattern, stderrs, 6.0)
    assert agreeing.status == "ok" and "beyond" not in agreeing.message
    assert fold_agreement_check(np.array([6.0]), np.array([0.02]), 6.0).status == "skip"
    # Near MI = 0 the absolute floor of 0.02 nats decides, and the message says so.
    at_zero = fold_agreement_check(0.04 * pattern, np.full(5, 0.005), 0.0)
    assert at_zero.status == "warn" and "0.02 nats" in at_zero.message and "of the estimate" not in at_zero.message
    assert fold_agreement_check(0.015 * pattern, np.full(5, 0.002), 0.0).status == "ok"


def test_permutation_pvalue_is_uniform_under_independence_for_a_fixed_critic():
    # One small critic (fitted on nothing: fixed random weights are as independent of the test
    # data as a critic fitted on other data), many fresh independent held-out sets.
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        critic = SeparableCritic(2, 2, hidden=(16,), embed_dim=4)
    p_values = []
    for _ in range(150):
        x, y = torch.randn(60, 2, generator=generator), torch.randn(60, 2, generator=generator)
        permutations = torch.stack([torch.randperm(60, generator=generator) for _ in range(199)])
        with torch.no_grad():
            observed = float(critic.pointwise(x, y).sum())
        shuffled = permuted_log_ratios(critic, x, y, 0.0, permutations).sum(axis=1)
        p_values.append(permutation_pvalue(observed, shuffled))
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_interval_reaches_zero_by_test_inversion_at_the_tests_rate_under_independence():
    # Independent pairs scored by a fixed, calibrated but wrong critic c = eps*x.y + d/2 log(1 - eps^2)
    # (log E e^c = 0 over independent Gaussian pairs): its held-out mean is d/2 log(1 - eps^2) < 0,
    # about 13 stderrs below the truth 0, so the t interval never holds 0. The permutation test is
    # exact for a fixed critic, so the test-inverted interval must hold 0 whenever p >= 0.05: at
    # least 95 % of the time up to binomial noise.
    rng = np.random.default_rng(5)
    dim, eps, n, repeats, n_perm = 2, 0.3, 400, 200, 99
    t_covers, covers = 0, 0
    for _ in range(repeats):
        x, y = rng.standard_normal((n, dim)), rng.standard_normal((n, dim))
        critic = lambda a, b: eps * np.sum(a * b, axis=-1) + 0.5 * dim * math.log(1 - eps**2)  # noqa: E731
        values = critic(x, y)
        shuffled = np.array([critic(x, y[rng.permutation(n)]).sum() for _ in range(n_perm)])
        p_value = permutation_pvalue(float(values.sum()), shuffled)
        pooled = pool_folds([values])
        half = critical_value(pooled.df) * pooled.stderr
        t_covers += pooled.estimate - half <= 0.0 <= pooled.estimate + half
        lo, hi = confidence_interval(pooled.estimate, pooled.stderr, pooled.df, p_value)
        assert lo >= 0.0 and hi >= lo and (lo == 0.0) == (p_value >= 0.05 or pooled.estimate - half <= 0.0)
        covers += lo <= 0.0 <= hi
    assert t_covers <= 0.05 * repeats, t_covers  # the t interval alone misses the truth here
    # 3 binomial sds below 95 % over 200 repeats (sd 1.5 %).
    assert covers / repeats >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / repeats), covers


def test_confidence_interval_keeps_the_t_interval_above_zero_and_clips_below():
    t = critical_value(30.0)
    assert confidence_interval(1.0, 0.1, 30.0, p_value=0.01) == pytest.approx((1.0 - 0.1 * t, 1.0 + 0.1 * t))
    assert confidence_interval(1.0, 0.1, 30.0) == pytest.approx((1.0 - 0.1 * t, 1.0 + 0.1 * t))
    # A dependence the test does not see: 0 is accepted, the upper end is the t interval's.
    assert confidence_interval(0.3, 0.1, 30.0, p_value=0.2) == pytest.approx((0.0, 0.3 + 0.1 * t))
    # Lower end below 0 with a rejecting test: clipped, not moved.
    assert confidence_interval(0.1, 0.1, 30.0, p_value=0.01) == pytest.approx((0.0, 0.1 + 0.1 * t))
    # Entirely negative: the set within MI >= 0 is {0}.
    assert confidence_interval(-0.5, 0.1, 30.0, p_value=0.3) == (0.0, 0.0)
    lo, hi = confidence_interval(float("nan"), 0.1, 30.0)
    assert math.isnan(lo) and math.isnan(hi)


def test_the_higher_offset_reading_and_an_interval_that_holds_both():
    # Refitted reading above the trained one: read it, and reach down to the trained reading's interval.
    assert offset_reading(2.0, 0.3) == pytest.approx((2.3, 0.3))
    # Refitted reading below, or none: the trained reading, a symmetric interval.
    assert offset_reading(2.0, -0.3) == (2.0, 0.0)
    assert offset_reading(2.0, None) == (2.0, 0.0) and offset_reading(2.0, float("nan")) == (2.0, 0.0)
    t = critical_value(12.0)
    estimate, below = offset_reading(2.0, 0.3)
    lo, hi = t_interval(estimate, 0.2, 12.0, below=below)
    # The union of the t intervals around both readings.
    assert (lo, hi) == pytest.approx((2.0 - 0.2 * t, 2.3 + 0.2 * t))
    assert confidence_interval(estimate, 0.2, 12.0, p_value=0.01, below=below) == pytest.approx((lo, hi))
    result = ami.MIResult(mi=estimate, stderr=0.2, n_train=10, n_test=10, objective="anchor", readout="plugin",
                          ci_df=12.0, ci_below=below, p_value=0.01)
    assert result.ci == pytest.approx((lo, hi)) and result.ci_t == pytest.approx((lo, hi))
    assert result.to_dict()["ci_below"] == pytest.approx(0.3)


def test_a_fit_reads_the_higher_offset_and_its_interval_reaches_the_other(monkeypatch):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((900, 3))
    y = x + 0.7 * rng.standard_normal((900, 3))
    params = dict(seed=0, max_steps=120, hidden=(16,), embed_dim=4, n_permutations=20, folds=3)
    plain = ami.estimate(x, y, **params)
    trained = plain.info["estimate_trained_offset"]
    refit = anchormi.estimator.critic_offset
    # Move every fold's refitted offset up, then down, by a known amount: the training and the
    # trained reading are untouched, and the estimate follows the higher reading.
    for delta in (abs(plain.info["offset_disagreement"]) + 0.2, -abs(plain.info["offset_disagreement"]) - 0.2):
        variances = []

        def moved(*args, d=delta):
            shift, influence = refit(*args)
            variances.append(influence.var(ddof=1) / influence.size)
            return shift + d, influence

        monkeypatch.setattr(anchormi.estimator, "critic_offset", moved)
        fitted = ami.MIEstimator(**params).fit(x, y)
        result = fitted.result_
        # The pointwise values read what the estimate reads: their held-out mean is r.mi, and
        # estimate() on the same pairs scores them with the same offsets.
        assert fitted.heldout_pmi_["pmi"].mean() == pytest.approx(result.mi, abs=1e-9)
        assert fitted.pmi(x[:50], y[:50]).mean() == pytest.approx(fitted.estimate(x[:50], y[:50]).mi)
        shift = result.info["offset_disagreement"]
        assert shift == pytest.approx(plain.info["offset_disagreement"] + delta)
        # D's own stderr pools the folds' sandwich variances with the test-pair weights; a shift
        # of every refit leaves it unchanged.
        weights = result.folds.n_test.to_numpy() / result.n_test
        assert result.info["offset_disagreement_stderr"] == pytest.approx(math.sqrt(np.sum(weights**2 * np.array(variances))))
        assert result.info["offset_disagreement_stderr"] == pytest.approx(plain.info["offset_disagreement_stderr"])
        assert result.info["estimate_trained_offset"] == pytest.approx(trained)
        half = critical_value(result.ci_df) * result.stderr
        if delta > 0:
            assert result.mi == pytest.approx(trained + shift) and result.ci_below == pytest.approx(shift)
            assert result.info["offset_reading"] == "refitted" and "reads the refitted offsets" in result.ci_method
            # (ci_above: the upper end's reach to the bound or by a late rise, when either applies)
            assert result.ci_t == pytest.approx((trained - half, trained + shift + half + result.ci_above))
            assert f"the trained ones read {trained:.4f}" in result.diagnostics["offset"].message
        else:
            assert result.mi == pytest.approx(trained) and result.ci_below == 0.0
            assert result.info["offset_reading"] == "trained" and "reads the refitted" not in result.ci_method
            assert result.ci_t == pytest.approx((trained - half, trained + half + result.ci_above))


def test_permutation_pvalue_rejects_under_dependence():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((600, 2))
    result = ami.estimate(x, x + 0.5 * rng.standard_normal((600, 2)), max_steps=150, hidden=(16,), embed_dim=4, n_permutations=99)
    assert result.p_value == pytest.approx(0.01)  # no permutation reaches the observed value: 1 / (1 + 99)


def test_cross_fitting_uses_every_pair_once_and_reports_folds():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 2))
    y = x + rng.standard_normal((500, 2))
    estimator = ami.MIEstimator(folds=3, max_steps=60, hidden=(16,), embed_dim=4, n_permutations=20).fit(x, y)
    result = estimator.result_
    assert result.n_test == 500 and list(result.folds.n_test) == [167, 167, 166]
    # The fold table holds the trained-offset readings; the estimate is the higher of the pooled
    # trained and refitted readings.
    trained = np.average(result.folds.estimate, weights=result.folds.n_test)
    assert result.info["estimate_trained_offset"] == pytest.approx(trained)
    assert result.mi == pytest.approx(trained + max(result.info["offset_disagreement"], 0.0))
    assert "cross-fitted" in result.ci_method and len(estimator.critics_) == 3
    assert set(result.history.fold) == {0, 1, 2}
    # pmi averages the three critics: equal to the mean of their own pointwise scores, each on
    # inputs standardised with its own fold's training statistics.
    by_hand = []
    for critic, (scale_x, scale_y) in zip(estimator.critics_, estimator.scalers_):
        with torch.no_grad():
            xs = torch.as_tensor(scale_x.transform(x[:5]), dtype=torch.float32)
            ys = torch.as_tensor(scale_y.transform(y[:5]), dtype=torch.float32)
            by_hand.append(critic.pointwise(xs, ys).double().numpy())
    assert np.allclose(estimator.pmi(x[:5], y[:5]), np.mean(by_hand, axis=0), atol=1e-5)
    assert np.ptp(np.array(by_hand), axis=0).max() > 0  # three different critics, not one copied


def test_diagnostics_name_their_checks_and_str_prints_warnings():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 3))
    result = ami.estimate(x, x + rng.standard_normal((300, 3)), max_steps=40, hidden=(8,), embed_dim=4, n_permutations=20, folds=1)
    assert {"divergence", "convergence", "calibration", "fold_agreement", "offset", "test_pairs", "sample_size"} <= set(result.diagnostics)
    # 60 held-out pairs and a budget of 40 steps: both are reported, and str() prints them.
    assert result.diagnostics["test_pairs"].status == "warn"
    assert result.diagnostics["convergence"].status == "warn"
    assert "warning: test_pairs" in str(result) and "warning: convergence" in str(result)
    # The convergence check reads what the last quarter of this fit's own history moved, and that
    # moved by more than the stderr (a 40-step fit is far from settled).
    rise = late_rise(result.history, result.info["steps_run"])
    assert result.diagnostics["convergence"].value == pytest.approx(rise) and abs(rise) > result.stderr
    assert result.folds is None or list(result.folds.late_rise) == pytest.approx([rise])


def test_late_rise_reads_the_kept_checkpoints_at_three_quarters_and_at_the_end():
    # Evaluations every 10 steps of a 100-step run: the loss falls to its lowest at step 60 within
    # the first three quarters (steps <= 75), and lower still at step 90.
    history = pd.DataFrame({
        "step": np.arange(0, 101, 10),
        "val_loss": [9.0, 5.0, 4.0, 3.5, 3.4, 3.3, 3.2, 3.25, 3.3, 3.1, 3.15],
        "val_estimate": [0.0, 1.0, 1.5, 1.8, 1.9, 2.0, 2.1, 2.05, 2.0, 2.4, 2.3],
    })
    assert late_rise(history, 100) == pytest.approx(2.4 - 2.1)
    # The same run stopped at step 60: the checkpoint at three quarters (step 40) is not the last one.
    assert late_rise(history[history.step <= 60], 60) == pytest.approx(2.1 - 1.9)
    # No validation values (a streaming history) or no evaluation before the last quarter: unknown.
    assert math.isnan(late_rise(history.assign(val_loss=np.nan), 100))
    assert math.isnan(late_rise(history[history.step.isin([0, 100])], 100))


def test_a_budget_that_ends_while_improving_warns_only_when_the_estimate_still_moved():
    def convergence(still_improving, rise, stderr=0.1):
        return {c.name: c for c in training_checks(still_improving, [False, False], ["max_steps"] * 2, rise=rise, stderr=stderr)}["convergence"]

    assert convergence([False, False], 0.5).status == "ok"  # stopped early: converged whatever moved
    assert convergence([True, False], 0.05).status == "ok"
    assert convergence([True, False], 0.15).status == "warn" and "+0.150 nats" in convergence([True, False], 0.15).message
    assert convergence([True, False], -0.15).status == "warn"  # falling estimates are not settled either
    assert convergence([False, True], math.nan).status == "warn"  # rise unknown: the budget alone decides


def test_reach_of_rise_moves_the_upper_end_only_for_a_warned_rising_estimate():
    assert reach_of_rise(0.2, warned=True) == 0.2
    assert reach_of_rise(0.2, warned=False) == 0.0  # the rise was within the stderr: no reach
    assert reach_of_rise(-0.2, warned=True) == 0.0  # a falling estimate only warns
    assert reach_of_rise(math.nan, warned=True) == 0.0


def test_a_fit_still_rising_when_its_budget_ends_reaches_up_by_the_rise(monkeypatch):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((400, 3))
    y = x + rng.standard_normal((400, 3))
    kwargs = dict(max_steps=40, hidden=(8,), embed_dim=4, n_permutations=0, folds=2, seed=1)
    # The same fit twice: every fold's last quarter left its held-out estimate where it was, then
    # raised it by 0.9 nats (more than the stderr).
    monkeypatch.setattr(anchormi.estimator, "late_rise", lambda history, steps_run: 0.0)
    plain = ami.estimate(x, y, **kwargs)
    assert plain.diagnostics["convergence"].status == "ok"
    monkeypatch.setattr(anchormi.estimator, "late_rise", lambda history, steps_run: 0.9)
    rising = ami.estimate(x, y, **kwargs)
    assert rising.diagnostics["convergence"].status == "warn" and rising.diagnostics["convergence"].value == pytest.approx(0.9)
    assert 0.9 > rising.stderr
    # The same estimate and stderr; the upper end moves up by the rise, or to the bound if that is higher.
    assert (rising.mi, rising.stderr) == (plain.mi, plain.stderr)
    assert rising.ci_above == pytest.approx(max(plain.ci_above, 0.9))
    assert rising.ci_t[1] == pytest.approx(plain.ci_t[1] - plain.ci_above + rising.ci_above)
    assert CI_RISING in rising.ci_method and CI_RISING not in plain.ci_method
    # The rise does not depend on the level: a 90 % interval keeps it, around a narrower t part.
    assert rising.interval(0.95) == pytest.approx(rising.ci)
    # (This small fit reads below its Gaussian-copula bound, which the upper end also reaches.)
    assert rising.info["gaussian_bound_applies"]
    bound_end = rising.info["gaussian_bound"] + critical_value(math.inf, 0.90) * rising.info["gaussian_bound_stderr"]
    t_end = rising.mi + critical_value(rising.ci_df, 0.90) * rising.stderr
    assert rising.interval(0.90)[1] == pytest.approx(max(t_end + 0.9, bound_end))
    assert plain.interval(0.90)[1] == pytest.approx(max(t_end, bound_end))


def test_intervals_at_other_levels_nest_and_hold_zero_by_the_tests_level():
    result = ami.MIResult(mi=0.30, stderr=0.1, n_train=100, n_test=500, objective="anchor", readout="plugin",
                          ci_df=12.0, ci_below=0.05, p_value=0.03)
    assert result.interval() == result.ci == pytest.approx((0.30 - 0.05 - critical_value(12.0) * 0.1, 0.30 + critical_value(12.0) * 0.1))
    narrow, wide = result.interval(0.90), result.interval(0.99)
    assert wide[0] <= result.ci[0] <= narrow[0] and narrow[1] <= result.ci[1] <= wide[1]
    # p = 0.03 rejects independence at 5 % and 10 % but not at 1 %: only the 99 % interval holds 0.
    assert narrow[0] > 0 and result.ci[0] > 0 and wide[0] == 0.0
    # to_dict carries the interval at the level asked for; a NaN end becomes None there.
    assert result.to_dict(0.99)["interval"] == {"level": 0.99, "lo": wide[0], "hi": wide[1]}
    unknown = ami.MIResult(mi=float("nan"), stderr=0.1, n_train=1, n_test=10, objective="anchor", readout="plugin")
    assert unknown.to_dict()["interval"] == {"level": 0.95, "lo": None, "hi": None}
    for bad in (0, 1, 1.5, -0.1, "0.9", True, float("nan")):
        with pytest.raises(ValueError, match="level"):
            result.interval(bad)


def test_columns_that_determine_each_other_are_found_by_sorting():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2_000, 4))
    codes = rng.integers(0, 5, 2_000).astype(float)
    y = np.column_stack([
        rng.standard_normal(2_000),            # independent
        x[:, 2] ** 3,                          # increasing in x column 2
        1.0 - np.exp(x[:, 0]),                 # decreasing in x column 0
        x[:, 1] + 1e-3 * rng.standard_normal(2_000),  # close, but noise reorders neighbours
        codes,                                 # equal discrete columns: a finite MI, no warning
    ])
    x[:, 3] = codes
    assert sorted(monotone_column_pairs(x, y)) == [(0, 2), (2, 1)]
    # Checked on evenly spaced rows: a sample smaller than the data finds the same pairs.
    assert sorted(monotone_column_pairs(x, y, max_rows=500)) == [(0, 2), (2, 1)]
    assert monotone_column_pairs(x, rng.standard_normal((2_000, 3))) == []


def test_a_fit_warns_naming_the_columns_that_determine_each_other():
    import pandas as pd

    rng = np.random.default_rng(6)
    people = pd.DataFrame({"age": rng.uniform(20, 80, 400), "height": rng.normal(170, 10, 400)})
    fit = {"max_steps": 30, "hidden": (8,), "embed_dim": 4, "n_permutations": 0}
    result = ami.estimate(people, pd.DataFrame({"birth_year": 2026 - people.age}), **fit)
    check = result.diagnostics["determined"]
    assert check.status == "warn" and "x column 'age' and y column 'birth_year' determine each other" in check.message
    assert "warning: determined" in str(result)
    assert ami.estimate(people, people.height + rng.normal(0, 5, 400), **fit).diagnostics["determined"].status == "ok"
    # A frame's integer labels are numbers, not quoted text (pandas' default labels).
    numbered = ami.estimate(pd.DataFrame(people.to_numpy()), pd.DataFrame(2026 - people.to_numpy()[:, :1]), **fit)
    assert "x column 0 and y column 0 determine each other" in numbered.diagnostics["determined"].message


def test_constant_columns_are_confirmed_on_every_row():
    rng = np.random.default_rng(7)
    values = rng.standard_normal((5_000, 4))
    values[:, 1] = 3.0
    values[:, 2] = -1.0
    values[1, 2] = 0.0  # row 1 is not among the 50 evenly spaced rows screened below
    assert constant_columns(values) == [1]
    assert constant_columns(values, max_rows=50, chunk_values=1_400) == [1]  # 700 rows of two candidates per pass
    assert constant_columns(rng.standard_normal((10, 2))) == []


def test_a_fit_says_when_x_or_y_is_constant():
    import pandas as pd

    rng = np.random.default_rng(8)
    x = rng.standard_normal((400, 2))
    fit = {"max_steps": 30, "hidden": (8,), "embed_dim": 4, "n_permutations": 0}
    result = ami.estimate(x, np.full((400, 2), 7.0), **fit)
    check = result.diagnostics["constant"]
    assert check.status == "warn" and check.message.startswith("y takes one value in every row (all 2 columns)")
    assert "I(X;Y) = 0 exactly" in check.message and "warning: constant" in str(result)
    # A constant column beside varying ones adds nothing: named, not warned about.
    frame = pd.DataFrame({"a": x[:, 0], "flat": np.zeros(400)})
    check = ami.estimate(frame, x[:, :1] + rng.normal(0, 1, (400, 1)), **fit).diagnostics["constant"]
    assert check.status == "ok" and "x column 'flat'" in check.message
    assert ami.estimate(x, x + rng.normal(0, 1, x.shape), **fit).diagnostics["constant"].message == "no column of x or y is constant."


def test_str_explains_an_estimate_below_its_interval():
    below = ami.MIResult(mi=-0.01, stderr=0.004, n_train=10, n_test=1000, objective="anchor", readout="plugin", p_value=0.4)
    assert below.ci == (0.0, 0.0) and below.ci_t[1] < 0
    assert "below 0, which no MI can be" in str(below) and "95% CI [0.0000, 0.0000]" in str(below)
    above = ami.MIResult(mi=0.5, stderr=0.01, n_train=10, n_test=1000, objective="anchor", readout="plugin", p_value=0.01)
    assert above.ci == pytest.approx(above.ci_t) and "below 0" not in str(above)
