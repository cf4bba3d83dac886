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


def test_nan_or_subsample_take_the_parents_path_and_clone_keeps_the_class():
    x = _columns(300, seed=3)
    x[5, 0] = np.nan
    params = {"n_quantiles": 100, "subsample": None}
    np.testing.assert_array_equal(SortedQuantileTransformer(**params).fit(x).quantiles_, QuantileTransformer(**params).fit(x).quantiles_)
    assert isinstance(clone(marginal_transform("normal_scores", 300)).steps[0][1], SortedQuantileTransformer)
