"""Per-column maps: the sort-based normal-scores fit reproduces scikit-learn's exactly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.preprocessing import QuantileTransformer

from anchormi.preprocessing import SortedQuantileTransformer, marginal_transform


def _columns(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # continuous, heavily tied, heavy-tailed and constant columns
    return np.column_stack([rng.standard_normal(n), rng.integers(0, 5, n).astype(float), rng.standard_t(2, n) ** 3, np.zeros(n)])


@pytest.mark.parametrize("n, n_quantiles", [(12_800, 10_000), (500, 500), (37, 10), (3_001, 1_000)])
def test_sorted_fit_gives_the_parents_quantiles_and_transform_bit_for_bit(n, n_quantiles):
    x = _columns(n, seed=n)
    params = {"n_quantiles": n_quantiles, "subsample": None, "output_distribution": "normal"}
    parent = QuantileTransformer(**params).fit(x)
    sorted_fit = SortedQuantileTransformer(**params).fit(x)
    np.testing.assert_array_equal(sorted_fit.quantiles_, parent.quantiles_)
    new = _columns(200, seed=n + 1) * 1.5  # includes values outside the training range
    np.testing.assert_array_equal(sorted_fit.transform(new), parent.transform(new))


@pytest.mark.parametrize("output", ["normal", "uniform"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_vectorised_transform_gives_the_parents_output_bit_for_bit(output, dtype):
    x = _columns(2_000, seed=9)
    params = {"n_quantiles": 700, "subsample": None, "output_distribution": output}
    parent, fast = QuantileTransformer(**params).fit(x), SortedQuantileTransformer(**params).fit(x)
    new = np.vstack([_columns(300, seed=10) * 1.5,  # values beyond the training range
                     x.min(axis=0), x.max(axis=0),  # the bounds themselves
                     x.min(axis=0) + 5e-8, x.max(axis=0) - 5e-8, x.min(axis=0) + 2e-7]).astype(dtype)  # within and past the threshold
    expected, got = parent.transform(new), fast.transform(new)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(fast.inverse_transform(got), parent.inverse_transform(expected))
    with_nan = new.copy()
    with_nan[3, 0] = np.nan  # the parent's path, which keeps NaNs
    np.testing.assert_array_equal(fast.transform(with_nan), parent.transform(with_nan))


def test_nan_or_subsample_take_the_parents_path_and_clone_keeps_the_class():
    x = _columns(300, seed=3)
    x[5, 0] = np.nan
    params = {"n_quantiles": 100, "subsample": None}
    np.testing.assert_array_equal(SortedQuantileTransformer(**params).fit(x).quantiles_, QuantileTransformer(**params).fit(x).quantiles_)
    assert isinstance(clone(marginal_transform("normal_scores", 300)).steps[0][1], SortedQuantileTransformer)


def test_normal_scores_z_score_few_valued_columns_and_map_the_rest_as_the_copula():
    x = _columns(4_000, seed=5)  # continuous, 5 values, heavy-tailed, constant
    fitted = marginal_transform("normal_scores", 4_000).fit(x)
    quantiles = fitted[0]
    # 5 distinct values (<= 20 and < 5 % of 4,000 rows) and the constant column are few-valued.
    np.testing.assert_array_equal(quantiles.linear_columns_, [False, True, False, True])
    new = _columns(300, seed=6)
    mapped = quantiles.transform(new)
    copula = SortedQuantileTransformer(n_quantiles=4_000, subsample=None, output_distribution="normal").fit(x)
    np.testing.assert_array_equal(mapped[:, [0, 2]], copula.transform(new)[:, [0, 2]])
    # The tied column keeps its spacing: an affine map of the raw values, with the training z-score.
    expected = (new[:, 1] - x[:, 1].mean()) / x[:, 1].std()
    np.testing.assert_allclose(mapped[:, 1], expected, rtol=1e-12)
    np.testing.assert_array_equal(mapped[:, 3], 0.0)
    np.testing.assert_allclose(quantiles.inverse_transform(mapped)[:, 1], new[:, 1], rtol=1e-12)


def test_a_column_counts_as_few_valued_only_below_a_twentieth_of_the_rows():
    # 20 distinct values in 300 rows are 6.7 % of them: continuous enough for the copula map.
    column = np.tile(np.arange(20.0), 15)[:, None]
    assert not marginal_transform("normal_scores", 300).fit(column)[0].linear_columns_[0]
    assert marginal_transform("normal_scores", 600).fit(np.tile(column, (2, 1)))[0].linear_columns_[0]


def test_distinct_counts_come_from_the_fits_own_sort_or_a_fallback_on_the_parents_path():
    from anchormi.preprocessing import NormalScores

    x = _columns(2_000, seed=7)  # continuous, 5 values, heavy-tailed, constant
    expected = [len(np.unique(column)) for column in x.T]
    assert expected[1:4:2] == [5, 1]
    sorted_path = NormalScores(n_quantiles=500, subsample=None).fit(x)
    np.testing.assert_array_equal(sorted_path.n_distinct_, expected)
    # The parent's path (subsample) sets no counts, yet the few-valued columns are the same ones.
    subsampled = NormalScores(n_quantiles=500, subsample=1_000, random_state=0).fit(x)
    assert not hasattr(subsampled, "n_distinct_")
    np.testing.assert_array_equal(subsampled.linear_columns_, sorted_path.linear_columns_)
    # A refit through the parent's path recounts rather than reading the first fit's counts.
    refit = sorted_path.set_params(n_quantiles=20, subsample=50, random_state=0).fit(np.tile(x[:100, :1], (1, 4)))
    assert not hasattr(refit, "n_distinct_") and refit.linear_columns_.tolist() == [False] * 4


@pytest.mark.parametrize("unit", [2.0**-30, 2.0**-40, 2.0**30])
def test_normal_scores_do_not_depend_on_the_columns_unit(unit):
    # scikit-learn's transform sends values within an absolute 1e-7 of a column's training extremes
    # to them; in units of 2**-30 (about 1e-9) and below that was every value of the normal column,
    # which turned it constant and the estimate 0. Large units were never affected.
    x, new = _columns(4_000, seed=5), _columns(300, seed=6)
    reference = marginal_transform("normal_scores", 4_000).fit(x)
    rescaled = marginal_transform("normal_scores", 4_000).fit(x * unit)
    # A power of two changes no digit of the values, so every column maps exactly as in unit 1.
    np.testing.assert_array_equal(rescaled.transform(new * unit), reference.transform(new))
    np.testing.assert_allclose(rescaled.inverse_transform(rescaled.transform(new * unit))[:, :3],
                               reference.inverse_transform(reference.transform(new))[:, :3] * unit, rtol=1e-12)
    assert len(np.unique(rescaled.transform(new * unit)[:, 0])) == len(new)


def test_normal_scores_of_a_column_in_nano_units_match_the_same_column_in_units():
    x, new = _columns(4_000, seed=5), _columns(300, seed=6)
    reference = marginal_transform("normal_scores", 4_000).fit(x).transform(new)
    nano = marginal_transform("normal_scores", 4_000).fit(x * 1e-9).transform(new * 1e-9)
    np.testing.assert_allclose(nano, reference, rtol=0, atol=1e-9)


def test_an_estimate_does_not_depend_on_the_unit_of_y():
    import anchormi as ami

    x, y = ami.tasks.gaussian(dim=2, mi=1.0).sample(1_000, seed=4)
    fit = {"max_steps": 60, "seed": 0, "n_permutations": 20}
    reference = ami.estimate(x, y, **fit)
    assert reference.mi > 0.3
    # Before the fix y in units of 2**-40 (about 1e-12) read 0 with the interval [0, 0].
    assert ami.estimate(x, y * 2.0**-40, **fit).mi == reference.mi
