"""The training loop's weight averaging (TrainConfig.average, MIEstimator(weight_average=...))."""

import numpy as np
import pytest
import torch

import anchormi as ami
from anchormi import tasks
from anchormi.trainer import TrainConfig, train_with_validation


class NoisyMean(torch.nn.Module):
    """A 'critic' whose loss 0.5 |w - noise|^2 has its minimum at w = 0 and noisy gradients."""

    def __init__(self, dim: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(dim))

    def pairwise(self, noise: torch.Tensor, _unused: torch.Tensor) -> torch.Tensor:
        return self.w - noise


def _kept_distance(average: float) -> float:
    """Squared distance of the kept weights from the optimum after noisy training."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    critic = NoisyMean(64)

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(64, generator=generator)
        return noise, noise

    config = TrainConfig(max_steps=3_000, lr=0.05, eval_every=100, patience=10_000, average=average)
    outcome = train_with_validation(critic, lambda scores: 0.5 * scores.square().sum(), batches, config,
                                    lambda model: (float(model.w.square().sum()), 0.0))
    kept = float(critic.w.detach().square().sum())
    assert kept == pytest.approx(outcome.best_val_loss)  # the returned weights are the checkpoint that was scored
    return kept


def test_averaging_keeps_weights_with_less_gradient_noise():
    # Adam at a constant lr hovers around the optimum at a distance set by the gradient noise; an
    # average over ~100 steps of that walk lies much closer to the optimum than any one iterate.
    plain, averaged = _kept_distance(0.0), _kept_distance(0.99)
    assert averaged < 0.25 * plain, (plain, averaged)


def test_estimator_with_weight_average_fits_and_keeps_averaged_weights():
    task = tasks.get("gaussian", dim=2, mi=0.5)
    x, y = task.sample(2_000, seed=3)
    kwargs = dict(folds=1, max_steps=600, n_permutations=0, seed=3)
    plain = ami.MIEstimator(**kwargs).fit(x, y)
    averaged = ami.MIEstimator(weight_average=0.99, **kwargs).fit(x, y)
    result = averaged.result_
    assert abs(result.mi - task.mi) < 4 * result.stderr, (result.mi, result.stderr)
    # Different weights were kept, so the held-out readings differ.
    assert result.mi != plain.result_.mi


@pytest.mark.parametrize("value", [1.0, -0.1, float("nan"), "0.9"])
def test_weight_average_outside_zero_to_one_is_a_value_error(value):
    with pytest.raises(ValueError, match="weight_average"):
        ami.MIEstimator(weight_average=value).fit(np.zeros((50, 1)) + np.arange(50)[:, None], np.arange(50.0)[:, None])


def test_streaming_fit_rejects_weight_average():
    def sample(index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(32, 1))
        return x, x + rng.normal(size=(32, 1))

    with pytest.raises(ValueError, match="weight_average"):
        ami.MIEstimator(weight_average=0.99).fit_stream(sample, n_steps=5)
