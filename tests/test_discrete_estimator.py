"""Categorical input to MIEstimator: one-hot encoding, exact renormalisation over a finite support,
and agreement with the count estimate for two discrete variables."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import anchormi as ami
from anchormi.critics import FiniteSupportCritic, SeparableCritic

FAST = dict(max_steps=300, batch_size=64, n_permutations=0, progress=False)


def test_finite_support_critic_is_normalised_for_every_x_and_bounded_by_the_label_surprisal():
    torch.manual_seed(0)
    critic = SeparableCritic(3, 4, hidden=(16,), embed_dim=8)
    support = torch.eye(4)
    prob = torch.tensor([0.1, 0.2, 0.3, 0.4])
    offset = 0.7
    wrapped = FiniteSupportCritic(critic, support, prob.log(), side="y", offset=offset)
    x = torch.randn(50, 3)
    with torch.no_grad():
        ratios = torch.exp(wrapped.pairwise(x, support) - offset)  # (50, 4): r(x_i, s_c)
        assert torch.allclose(ratios @ prob, torch.ones(50), atol=1e-5)  # sum_c p_c r(x, s_c) = 1
        pointwise = wrapped.pointwise(x, support[torch.arange(50) % 4]) - offset
        assert torch.all(pointwise <= -prob.log()[torch.arange(50) % 4] + 1e-5)
        # the pairwise diagonal and pointwise agree, as for every critic
        ys = support[torch.arange(50) % 4]
        assert torch.allclose(torch.diagonal(wrapped.pairwise(x, ys)), wrapped.pointwise(x, ys), atol=1e-5)
    mirrored = FiniteSupportCritic(critic, torch.randn(5, 3), torch.full((5,), math.log(0.2)), side="x", offset=0.0)
    with torch.no_grad():
        y = torch.randn(7, 4)
        assert torch.allclose(torch.exp(mirrored.pairwise(mirrored.support, y)).mean(dim=0), torch.ones(7), atol=1e-5)


def test_text_and_category_columns_are_one_hot_encoded_and_new_data_encoded_the_same_way():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    x = rng.standard_normal((600, 2)) + labels[:, None]
    y_text = pd.Series(np.array(["low", "mid", "high"])[labels])
    estimator = ami.MIEstimator(**FAST).fit(x, y_text)
    assert estimator.n_features_y_ == 3 and set(estimator.encoders_) == {"y"}
    assert estimator.result_.info["finite_support"] == "y"
    as_category = ami.MIEstimator(**FAST).fit(x, y_text.astype("category"))
    assert as_category.n_features_y_ == 3
    np.testing.assert_allclose(estimator.pmi(x[:20], y_text[:20]), estimator.pmi(x[:20], y_text[:20].to_numpy()))
    with pytest.raises(ValueError, match="not numbers, but discrete_y=False"):
        ami.MIEstimator(**FAST, discrete_y=False).fit(x, y_text)


def test_integer_labels_warn_naming_discrete_y_and_discrete_y_true_encodes_them():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 800)
    x = rng.standard_normal((800, 2)) + labels[:, None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plain = ami.MIEstimator(**FAST).fit(x, labels)
    messages = [str(w.message) for w in caught if "discrete_y" in str(w.message)]
    assert messages and "4 distinct values" in messages[0]
    assert caught[[str(w.message) for w in caught].index(messages[0])].filename == __file__  # points at the caller
    assert plain.n_features_y_ == 1 and "y" not in plain.encoders_
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # an explicit choice silences the warning
        encoded = ami.MIEstimator(**FAST, discrete_y=True).fit(x, labels)
    assert encoded.n_features_y_ == 4


def test_a_label_estimate_never_exceeds_the_label_entropy_even_when_undertrained():
    task = ami.tasks.class_label(n_classes=4, separation=4.0)  # MI close to H(Y) = log 4
    x, y = task.sample(1_500, seed=3)
    for steps in (50, 400):
        estimator = ami.MIEstimator(discrete_y=True, max_steps=steps, n_permutations=0, progress=False, seed=3).fit(x, y)
        counts = np.bincount(y.ravel().astype(int), minlength=4)
        plug_in_entropy = -np.sum(counts / counts.sum() * np.log(counts / counts.sum()))
        # each pair's PMI is at most -log p_train(y); the mean is then at most the cross-entropy, which is
        # within sampling noise of the plug-in entropy of the labels
        assert estimator.result_.mi <= plug_in_entropy + 3 * math.sqrt(np.var(np.log(counts)) / counts.sum() + 1e-4)
        assert estimator.heldout_pmi_.pmi.max() <= math.log(1_500) + 1e-6


# The default budget (6,000 steps here) is the long run; a quarter of it already agrees.
@pytest.mark.parametrize("max_steps", [pytest.param(None, marks=pytest.mark.slow), 1_500])
def test_two_discrete_variables_match_the_count_estimate_within_its_stderr(max_steps):
    task = ami.tasks.discrete_table(n_symbols=5, error=0.4)
    x, y = task.sample(3_000, seed=7)
    counts = ami.estimate(x, y, method="discrete")
    anchor = ami.estimate(x, y, discrete_x=True, discrete_y=True, seed=7, n_permutations=0, progress=False, max_steps=max_steps)
    assert abs(anchor.mi - counts.mi) <= counts.stderr, (anchor.mi, counts.mi, counts.stderr)


def test_save_and_load_keep_the_encoders_and_the_renormalised_critics(tmp_path):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 500)
    x = rng.standard_normal((500, 2)) + labels[:, None]
    frame = pd.DataFrame({"colour": pd.Series(np.array(["red", "green", "blue"])[labels]), "flag": labels > 0})
    estimator = ami.MIEstimator(**FAST).fit(x, frame)
    estimator.save(tmp_path / "model.pt")
    loaded = ami.MIEstimator.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.pmi(x, frame), estimator.pmi(x, frame))
    assert loaded.estimate(x, frame).mi == estimator.estimate(x, frame).mi
    assert isinstance(loaded.critics_[0], FiniteSupportCritic)
