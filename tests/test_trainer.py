"""The training loop's weight averaging (TrainConfig.average, MIEstimator(weight_average=...)) and
learning-rate schedule (TrainConfig.schedule, MIEstimator(schedule=...))."""

import math

import numpy as np
import pytest
import torch

import anchormi as ami
from anchormi import tasks
from anchormi.trainer import TrainConfig, make_optimizer, train_streaming, train_with_validation


class NoisyMean(torch.nn.Module):
    """A 'critic' whose loss 0.5 |w - noise|^2 has its minimum at w = 0 and noisy gradients."""

    def __init__(self, dim: int):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(dim))

    def pairwise(self, noise: torch.Tensor, _unused: torch.Tensor) -> torch.Tensor:
        return self.w - noise


def _kept_distance(average: float, schedule: str = "plateau") -> float:
    """Squared distance of the kept weights from the optimum after noisy training."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    critic = NoisyMean(64)

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.randn(64, generator=generator)
        return noise, noise

    config = TrainConfig(max_steps=3_000, lr=0.05, eval_every=100, patience=10_000, average=average, schedule=schedule)
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


def _lrs_seen(config: TrainConfig, val_losses=None, streaming_from: int | None = None) -> list[float]:
    """The lr of every step of a run of ``NoisyMean`` (the loss function reads the optimiser):
    with validation (``val_losses``: the held-out values to report, else the true loss), or
    streaming, killed after step ``streaming_from - 1`` and resumed (not killed when that is
    past the budget)."""
    torch.manual_seed(0)
    critic = NoisyMean(4)
    optimizer = make_optimizer(critic, config)
    seen = []

    def loss_fn(scores: torch.Tensor) -> torch.Tensor:
        seen.append(optimizer.param_groups[0]["lr"])
        return 0.5 * scores.square().sum()

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        noise = torch.zeros(4)
        return noise, noise

    if streaming_from is None:
        losses = iter(val_losses) if val_losses is not None else None
        train_with_validation(critic, loss_fn, batches, config,
                              lambda model: (next(losses) if losses else float(model.w.square().sum()), 0.0), optimizer=optimizer)
        return seen
    class Killed(Exception):
        pass

    def kill_at(step: int, scores: torch.Tensor, loss: torch.Tensor) -> None:
        if step == streaming_from - 1:
            raise Killed

    if streaming_from > config.max_steps:
        train_streaming(critic, loss_fn, batches, config, optimizer=optimizer)
        return seen
    with pytest.raises(Killed):
        train_streaming(critic, loss_fn, batches, config, optimizer=optimizer, on_step=kill_at)
    saved = optimizer.state_dict()
    optimizer = make_optimizer(critic, config)
    optimizer.load_state_dict(saved)
    train_streaming(critic, loss_fn, batches, config, optimizer=optimizer, first_step=streaming_from)
    return seen


def test_cosine_schedule_falls_from_the_lr_to_near_zero_at_the_budget():
    lrs = _lrs_seen(TrainConfig(max_steps=1_000, lr=0.01, eval_every=100, patience=10_000, schedule="cosine"))
    assert len(lrs) == 1_000
    assert lrs[0] == 0.01
    assert all(later <= earlier for earlier, later in zip(lrs, lrs[1:]))
    assert lrs[500] == pytest.approx(0.005)  # half way down at half the budget
    assert lrs[-1] < 1e-6
    # The plateau schedule keeps the lr until a plateau.
    assert set(_lrs_seen(TrainConfig(max_steps=300, lr=0.01, eval_every=100, patience=10_000))) == {0.01}


def test_a_plateau_halves_the_cosine_curve():
    # Held-out losses that never improve after the first evaluation: a plateau at step 200.
    config = TrainConfig(max_steps=1_000, lr=0.01, eval_every=100, patience=200, max_decays=1, schedule="cosine")
    lrs = _lrs_seen(config, val_losses=[1.0] + [2.0] * 20)
    curve = [0.01 * 0.5 * (1 + math.cos(math.pi * step / 1_000)) for step in range(len(lrs))]
    assert lrs[:200] == pytest.approx(curve[:200])
    assert lrs[200:] == pytest.approx([0.5 * value for value in curve[200:len(lrs)]])
    assert len(lrs) == 400  # the second plateau (max_decays=1) stopped the run


def test_a_resumed_streaming_run_continues_the_cosine_curve():
    config = TrainConfig(max_steps=400, lr=0.01, schedule="cosine")
    uninterrupted = _lrs_seen(config, streaming_from=401)
    assert len(uninterrupted) == 400 and uninterrupted[-1] < 1e-6
    assert _lrs_seen(config, streaming_from=151) == pytest.approx(uninterrupted)


def test_cosine_schedule_ends_closer_to_the_optimum_than_a_constant_lr():
    # The lr falls to near 0, so the final iterates stop hovering at the gradient noise's distance.
    plain, annealed = _kept_distance(0.0), _kept_distance(0.0, schedule="cosine")
    assert annealed < 0.25 * plain, (plain, annealed)


def test_estimator_takes_the_schedule_and_rejects_unknown_ones():
    task = tasks.get("gaussian", dim=2, mi=0.5)
    x, y = task.sample(2_000, seed=4)
    estimator = ami.MIEstimator(folds=1, max_steps=600, n_permutations=0, seed=4, schedule="cosine").fit(x, y)
    assert abs(estimator.result_.mi - task.mi) < 4 * estimator.result_.stderr
    with pytest.raises(ValueError, match="schedule"):
        ami.MIEstimator(schedule="linear").fit(x, y)


def test_anneal_schedule_keeps_the_lr_then_falls_over_the_last_fifth():
    lrs = _lrs_seen(TrainConfig(max_steps=1_000, lr=0.01, eval_every=100, patience=10_000, schedule="anneal"))
    assert len(lrs) == 1_000
    assert lrs[:801] == pytest.approx([0.01] * 801)  # unchanged until 80 % of the budget
    assert all(later < earlier for earlier, later in zip(lrs[801:], lrs[802:]))
    assert lrs[900] == pytest.approx(0.005)  # half way down the last fifth
    assert lrs[-1] < 1e-4
