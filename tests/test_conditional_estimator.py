"""Conditional MI through MIEstimator: the chain-rule readout and its interval.

I(X;Y|Z) = I(X;(Y,Z)) - I(X;Z) from two independently trained critics. Each term is read out in
the Donsker-Varadhan form (held-out mean log ratio minus the log mean ratio over the same pairs
with the second variable shuffled), so an additive offset in either critic cannot reach the
estimate. The statistical checks use the tasks' exact CMI and the estimate's own stderr.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from anchormi import MIEstimator, tasks
from anchormi.estimator import MIEstimator as _Estimator

SMALL = {"hidden": (16,), "embed_dim": 8, "max_steps": 150, "folds": 2, "n_permutations": 20, "progress": False}


class _Shifted(nn.Module):
    """A trained critic plus a constant: the same ratio up to its normaliser."""

    def __init__(self, critic: nn.Module, shift: float):
        super().__init__()
        self.critic, self.shift = critic, shift

    def pairwise(self, x, y):
        return self.critic.pairwise(x, y) + self.shift

    def pointwise(self, x, y):
        return self.critic.pointwise(x, y) + self.shift


def _fit(x, y, z, monkeypatch=None, shift=0.0, **params):
    if shift:
        original = _Estimator._fit_folds
        dim_z = z.shape[1]

        def shifted_xz_term(self, splits, x_arg, second, *args, **kwargs):
            fits = original(self, splits, x_arg, second, *args, **kwargs)
            if second.shape[1] == dim_z:  # the I(X;Z) term's critics
                fits = [dataclasses.replace(fit, critic=_Shifted(fit.critic, shift)) for fit in fits]
            return fits

        monkeypatch.setattr(_Estimator, "_fit_folds", shifted_xz_term)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MIEstimator(seed=0, **{**SMALL, **params}).fit(x, y, z)


def test_an_offset_in_one_chain_rule_critic_does_not_reach_the_estimate(monkeypatch):
    task = tasks.collider(dim_x=2, dim_y=2, dim_z=2, cmi=0.5, seed=4)
    x, y, z = task.sample(1_200, seed=4)
    plain = _fit(x, y, z)
    shifted = _fit(x, y, z, monkeypatch, shift=0.7)
    # The shift is visible to the calibration check of the X;Z critic ...
    moved = shifted.result_.diagnostics["calibration_xz"].value - plain.result_.diagnostics["calibration_xz"].value
    assert moved == pytest.approx(0.7, abs=1e-4)
    # ... and absent from the estimate, its interval and the pointwise values on new data.
    assert shifted.result_.mi == pytest.approx(plain.result_.mi, abs=1e-5)
    assert shifted.result_.stderr == pytest.approx(plain.result_.stderr, abs=1e-5)
    x_new, y_new, z_new = task.sample(300, seed=5)
    np.testing.assert_allclose(shifted.pmi(x_new, y_new, z_new), plain.pmi(x_new, y_new, z_new), atol=1e-4)
    # Without the normalisers the same shift would move the estimate by the whole 0.7 nats.
    raw_gap = np.mean(shifted.chain_normalisers_) - np.mean(plain.chain_normalisers_)
    assert raw_gap == pytest.approx(-0.7, abs=1e-4)


def test_the_normalisers_are_measured_without_a_permutation_test():
    task = tasks.chain(dim_x=2, dim_y=2, dim_z=2, mi=0.5, seed=6)
    x, y, z = task.sample(800, seed=6)
    est = _fit(x, y, z, n_permutations=0)
    # No p-value (permuting y does not test X independent of Y given Z), but the shuffled pairs
    # drawn for the normalisers also give both critics' calibration checks.
    assert est.result_.p_value is None
    assert {"calibration", "calibration_xz"} <= set(est.result_.diagnostics)
    assert len(est.chain_normalisers_) == 2 and np.all(np.isfinite(est.chain_normalisers_))
    # pmi on the fitted rows averages the fold critics and drops the mean normaliser.
    assert np.isfinite(est.pmi(x[:50], y[:50], z[:50])).all()


@pytest.mark.slow
@pytest.mark.parametrize("builder, kwargs", [(tasks.chain, {"mi": 0.8}), (tasks.collider, {"cmi": 0.8})])
def test_default_conditional_interval_covers_the_exact_cmi(builder, kwargs):
    """Default estimator on tasks the defaults never saw (d = 3 each, N = 8,000, seed 31): the 95 %
    interval covers the exact CMI, and the error is within 3 of its own stderrs."""
    task = builder(dim_x=3, dim_y=3, dim_z=3, seed=31, **kwargs)
    x, y, z = task.sample(8_000, seed=31)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = MIEstimator(seed=31, progress=False).fit(x, y, z).result_
    low, high = result.ci
    assert low <= task.cmi <= high, (result.mi, result.ci, task.cmi)
    assert abs(result.mi - task.cmi) <= 3 * result.stderr
