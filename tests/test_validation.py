"""Bad input gets a ValueError that says what is wrong and what to do; odd-but-valid input works."""

import numpy as np
import pandas as pd
import pytest
import torch

import anchormi as ami
from anchormi._validation import check_array, check_pair

FAST = {"max_steps": 30, "batch_size": 16, "hidden": (16,), "embed_dim": 4}


def pair(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    return x, x + rng.standard_normal((n, 2))


@pytest.mark.parametrize("bad,match", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_values_are_rejected_with_the_row(bad, match):
    x, y = pair()
    x[17, 1] = bad
    with pytest.raises(ValueError, match=match) as info:
        ami.estimate(x, y, **FAST)
    assert "x contains" in str(info.value) and "first bad row: 17" in str(info.value) and "drop or impute" in str(info.value)


def test_mismatched_lengths():
    x, y = pair()
    with pytest.raises(ValueError, match="x has 200 rows but y has 199"):
        ami.estimate(x, y[:-1], **FAST)


def test_rank_three_is_rejected_with_reshape_hint():
    with pytest.raises(ValueError, match=r"rank 3.*reshape"):
        ami.estimate(np.zeros((50, 2, 2)), np.zeros((50, 1)), **FAST)


@pytest.mark.parametrize("n", [5, 19])
def test_too_few_samples(n):
    x, y = pair(n)
    with pytest.raises(ValueError, match="at least 20"):
        ami.estimate(x, y, **FAST)


def test_split_too_small_for_an_explicit_batch():
    x, y = pair(40)
    with pytest.raises(ValueError, match="batch_size=128 exceeds"):
        ami.estimate(x, y, max_steps=5, batch_size=128)


def test_small_data_adapts_the_default_batch_and_says_so():
    x, y = pair(40)  # 28 training pairs: the default 128 cannot fit
    result = ami.estimate(x, y, max_steps=5, hidden=(8,), embed_dim=4, n_permutations=0)
    assert result.info["batch_size"] == 7 and result.info["batch_size_adapted"]


def test_non_numeric_and_scalar_inputs():
    with pytest.raises(ValueError, match="dtype"):
        check_array(np.array(["a", "b"]), "x")
    with pytest.raises(ValueError, match="scalar"):
        check_array(3.0, "y")
    with pytest.raises(ValueError, match="empty"):
        check_array(np.zeros((0, 3)), "x")
    from scipy import sparse

    with pytest.raises(ValueError, match=r"x is a sparse matrix \(csr_matrix\); pass a dense array, e.g. x.toarray\(\)"):
        check_array(sparse.csr_matrix(np.eye(3)), "x")


def test_one_d_integer_boolean_pandas_and_torch_inputs_are_converted():
    x, y = check_pair(np.arange(30), np.arange(30) % 2 == 0)
    assert x.shape == (30, 1) and y.shape == (30, 1) and x.dtype == y.dtype == np.float64
    frame = pd.DataFrame({"a": np.arange(30), "b": np.ones(30)})
    x, y = check_pair(frame, torch.arange(30))
    assert x.shape == (30, 2) and y.shape == (30, 1)
    result = ami.estimate(np.arange(200) % 7, (np.arange(200) % 7) > 3, **FAST)
    assert np.isfinite(result.mi)


def test_constant_column_never_produces_nan():
    x, y = pair()
    x[:, 0] = 3.0
    y = np.hstack([y, np.full((len(y), 1), -1.0)])
    for method in ("anchor", "gaussian", "ksg"):
        kwargs = FAST if method == "anchor" else {}
        result = ami.estimate(x, y, method=method, **kwargs)
        assert np.isfinite(result.mi) and np.isfinite(result.stderr), method


def test_values_too_large_for_the_chosen_map_are_one_clear_error_and_normal_scores_take_them():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((300, 2))
    y = x + 0.5 * rng.standard_normal((300, 2))
    # A z-score squares 1e200 (overflow); no map keeps 1e39 within float32.
    for marginals, big_x, big_y, name in (("zscore", 1e200, 1.0, "x"), ("none", 1.0, 1e39, "y")):
        with pytest.raises(ValueError, match=rf"{name} is finite, but not after its per-column map .* use marginals='normal_scores'"):
            with np.errstate(over="ignore", invalid="ignore"):
                ami.estimate(x * big_x, y * big_y, marginals=marginals, n_permutations=0, **FAST)
    # The default map takes any finite scale: a power-of-ten unit changes no estimate here.
    assert ami.estimate(x * 1e200, y * 1e39, n_permutations=0, **FAST).mi == pytest.approx(
        ami.estimate(x, y, n_permutations=0, **FAST).mi, abs=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": 0}, "batch_size"), ({"lr": -1.0}, "lr"), ({"test_size": 1.5}, "test_size"),
    ({"critic": "mystery"}, "critic"), ({"rule": "hinge"}, "rule"), ({"readout": "magic"}, "readout"),
    ({"nu": -0.5}, "nu"), ({"objective": "nwj", "nu": 1.0}, "does not apply"), ({"tau": 2.0}, "smile"),
    ({"gamma": 3.0}, "pseudo_spherical"), ({"hidden": (0,)}, "hidden"),
])
def test_bad_hyperparameters_name_the_argument(kwargs, match):
    x, y = pair()
    with pytest.raises(ValueError, match=match):
        ami.MIEstimator(**{**FAST, **kwargs}).fit(x, y)


def test_unknown_method_lists_choices():
    x, y = pair()
    with pytest.raises(ValueError, match="unknown.*ksg"):
        ami.estimate(x, y, method="banana")


def test_use_before_fit_and_wrong_width_after_fit():
    x, y = pair()
    estimator = ami.MIEstimator(**FAST)
    with pytest.raises(ValueError, match="not fitted"):
        estimator.pmi(x, y)
    estimator.fit(x, y)
    with pytest.raises(ValueError, match="fitted on 2"):
        estimator.estimate(x[:, :1], y)
