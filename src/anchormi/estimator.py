"""MIEstimator: fit a critic with any registered objective, read MI out on held-out pairs.

The scikit-learn contract: hyperparameters are stored unchanged in ``__init__`` and validated in
``fit`` against ``_parameter_constraints``; ``fit`` returns self; fitted state ends in "_".
"""

from __future__ import annotations

import copy
import inspect
import time
import warnings
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from . import objectives
from ._validation import (
    check_array, check_pair, fraction, nonnegative_real, one_of, optional, positive_int, positive_real,
    validate_params,
)
from .critics import ACTIVATIONS, CRITICS, make_critic
from .readouts import READOUTS, check_readout, heldout_loss, heldout_readout, pointwise_log_ratios
from .result import MIResult
from .runtime import progress_default, resolve_device
from .readouts import batch_readout
from .trainer import TrainConfig, epoch_batches, train_streaming, train_with_validation

# Loss hyperparameters exposed as constructor arguments; each objective accepts the subset in
# its registry row's ``defaults``. None means "the objective's default".
LOSS_PARAMS = ("nu", "rule", "gamma", "k", "symmetric", "alpha", "f")
MIN_SAMPLES = 20
MAX_VAL = 10_000


def _hidden_sizes(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(positive_int(v) for v in value)


_hidden_sizes.__name__ = "a list of positive layer widths"


def _critic_choice(value: Any) -> bool:
    return value in CRITICS or isinstance(value, nn.Module)


_critic_choice.__name__ = f"one of {CRITICS} or an nn.Module with pairwise/pointwise"


def _objective_name(value: Any) -> bool:
    return value in objectives.available()


_objective_name.__name__ = "a registered objective (see anchormi.objectives.available())"


def auto_max_steps(n_train: int, batch_size: int) -> int:
    """Step budget: about 60 passes over the training pairs, between 2,000 and 20,000 steps.

    Early stopping on the held-out loss ends most runs well before the budget.
    """
    return int(np.clip(round(60 * n_train / batch_size), 2_000, 20_000))


class MIEstimator:
    """Mutual-information estimator trained by a contrastive objective of the family.

    Args:
        objective: registry name; "anchor" (InfoNCE-anchor) by default. See
            ``anchormi.objectives.available()``.
        critic: "separable" (f(x)^T g(y)), "joint" (MLP on [x, y]), "bilinear", "cosine", or an
            ``nn.Module`` offering ``pairwise(x, y) -> (B, B)`` and ``pointwise(x, y) -> (B,)``.
        nu, rule, gamma, k, symmetric: anchor-family parameters (anchor weight, scoring rule,
            pseudo-spherical order, tuple size K, also average over rows).
        alpha: MINE's moving-average rate.  f: generator of ``fdiv`` (kl | chi2 | js | hellinger).
        tau: SMILE clipping (applies to the "smile" readout).
        readout: "plugin", "infonce", "nwj", "dv" or "smile"; None means the objective's default.
        hidden, embed_dim: critic MLP widths and separable embedding size.
        activation: hidden-layer nonlinearity of the MLP critics (softplus, relu, silu, gelu, tanh).
        temperature: the cosine critic's tau.
        batch_size: pairs per step B; in-batch negatives give K = B - 1.
        max_steps: step budget; None chooses ``auto_max_steps`` from the data size.
        lr, weight_decay: AdamW settings.
        eval_every: steps between held-out evaluations; None picks about one epoch (at most 250).
        patience: early stopping after this many steps without held-out improvement; None picks
            max(1,000, 5 evaluations).
        test_size, val_size: fractions held out for the final readout and for checkpoint
            selection (the validation split holds at most 10,000 pairs); the rest trains. The
            three splits are disjoint.
        standardize: centre and scale every column with training-split statistics.
        seed: the same seed on the same machine gives the same estimate.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar; None shows one only at an interactive terminal.
    """

    _parameter_constraints = {
        "objective": _objective_name,
        "critic": _critic_choice,
        "nu": optional(nonnegative_real),
        "rule": optional(one_of(*objectives.RULES)),
        "gamma": optional(positive_real),
        "k": optional(positive_int),
        "symmetric": optional(one_of(True, False)),
        "alpha": optional(fraction),
        "f": optional(one_of(*objectives.GENERATORS)),
        "tau": optional(positive_real),
        "readout": optional(one_of(*READOUTS)),
        "hidden": _hidden_sizes,
        "embed_dim": positive_int,
        "activation": one_of(*ACTIVATIONS),
        "temperature": positive_real,
        "batch_size": positive_int,
        "max_steps": optional(positive_int),
        "lr": positive_real,
        "weight_decay": nonnegative_real,
        "eval_every": optional(positive_int),
        "patience": optional(positive_int),
        "test_size": fraction,
        "val_size": fraction,
        "standardize": one_of(True, False),
        "seed": lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
        "device": lambda v: isinstance(v, (str, torch.device)),
        "progress": optional(one_of(True, False)),
    }

    def __init__(
        self,
        objective: str = "anchor",
        critic: str | nn.Module = "separable",
        nu: float | None = None,
        rule: str | None = None,
        gamma: float | None = None,
        k: int | None = None,
        symmetric: bool | None = None,
        alpha: float | None = None,
        f: str | None = None,
        tau: float | None = None,
        readout: str | None = None,
        hidden: Sequence[int] = (128, 128),
        embed_dim: int = 32,
        activation: str = "softplus",
        temperature: float = 0.1,
        batch_size: int = 128,
        max_steps: int | None = None,
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        eval_every: int | None = None,
        patience: int | None = None,
        test_size: float = 0.2,
        val_size: float = 0.1,
        standardize: bool = True,
        seed: int = 0,
        device: str | torch.device = "auto",
        progress: bool | None = None,
    ):
        self.objective = objective
        self.critic = critic
        self.nu = nu
        self.rule = rule
        self.gamma = gamma
        self.k = k
        self.symmetric = symmetric
        self.alpha = alpha
        self.f = f
        self.tau = tau
        self.readout = readout
        self.hidden = hidden
        self.embed_dim = embed_dim
        self.activation = activation
        self.temperature = temperature
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.eval_every = eval_every
        self.patience = patience
        self.test_size = test_size
        self.val_size = val_size
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.progress = progress

    # ---- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def set_params(self, **params: Any) -> "MIEstimator":
        for name, value in params.items():
            if name not in self._parameter_constraints:
                raise ValueError(f"{name!r} is not a parameter of MIEstimator; valid: {sorted(self._parameter_constraints)}.")
            setattr(self, name, value)
        return self

    def _resolve_objective(self) -> tuple[objectives.Objective, dict, str, dict]:
        """Validate the hyperparameters; store and return the objective row, loss parameters, readout
        and readout parameters that training and every later readout use."""
        validate_params(self.get_params(), self._parameter_constraints)
        objective = objectives.get(self.objective)
        loss_params = dict(objective.defaults)
        for name in LOSS_PARAMS:
            value = getattr(self, name)
            if value is None:
                continue
            if name not in objective.defaults:
                raise ValueError(
                    f"{name}={value!r} does not apply to objective {self.objective!r}; it takes "
                    f"{sorted(objective.defaults) or 'no parameters'}. Drop {name} or pick another objective."
                )
            loss_params[name] = value
        if loss_params.get("rule") != "pseudo_spherical" and loss_params.get("gamma") is not None:
            raise ValueError("gamma applies to rule='pseudo_spherical' only; drop gamma or set that rule.")
        readout = self.readout or objective.readout
        check_readout(readout)
        readout_params = dict(objective.readout_defaults) if readout == objective.readout else {}
        if readout == "smile":
            readout_params.setdefault("tau", 5.0)
        if self.tau is not None:
            if readout != "smile":
                raise ValueError(f"tau applies to the 'smile' readout, not {readout!r}; drop tau or set readout='smile'.")
            readout_params["tau"] = float(self.tau)
        if readout == "plugin" and objective.log_ratio_offset is None:
            warnings.warn(
                f"objective {self.objective!r} identifies the log ratio only up to a constant or a factor "
                "C(y), so its plug-in readout is not an MI estimate. Use objective='anchor' for a plug-in.",
                UserWarning,
                stacklevel=3,
            )
        self.objective_, self.loss_params_ = objective, loss_params
        self.readout_, self.readout_params_ = readout, readout_params
        self.log_ratio_offset_ = objective.log_ratio_offset
        return objective, loss_params, readout, readout_params

    # ---- fitting ------------------------------------------------------------------------------
    def fit(self, x: Any, y: Any) -> "MIEstimator":
        """Train on a split of (x, y) and store the held-out estimate in ``result_``.

        Shape:
            x: (n,) or (n, dim_x); y: (n,) or (n, dim_y); any numeric array-like.
        """
        started = time.perf_counter()
        objective, loss_params, readout, readout_params = self._resolve_objective()
        x_array, y_array = check_pair(x, y, min_samples=MIN_SAMPLES)
        n_samples = x_array.shape[0]
        n_test = int(round(self.test_size * n_samples))
        # Checkpoint selection needs a precise loss, not a huge one: beyond MAX_VAL pairs the
        # evaluation cost grows while its noise barely falls, so extra pairs go to training.
        n_val = min(int(round(self.val_size * n_samples)), MAX_VAL)
        n_train = n_samples - n_test - n_val
        if min(n_test, n_val) < 2 or n_train < 2:
            raise ValueError(
                f"{n_samples} samples give train/val/test splits of {n_train}/{n_val}/{n_test}; each needs at "
                "least 2 pairs. Collect more samples or change test_size / val_size."
            )
        if self.batch_size > n_train:
            raise ValueError(
                f"batch_size={self.batch_size} exceeds the {n_train} training pairs; pass batch_size <= {n_train} "
                "or more samples."
            )
        permutation = np.random.default_rng(self.seed).permutation(n_samples)
        test_rows, val_rows, train_rows = np.split(permutation, [n_test, n_test + n_val])

        self._fit_standardizer(x_array[train_rows], y_array[train_rows])
        self._init_critic(x_array.shape[1], y_array.shape[1])

        max_steps = self.max_steps or auto_max_steps(n_train, self.batch_size)
        steps_per_epoch = max(1, n_train // self.batch_size)
        eval_every = self.eval_every or int(np.clip(steps_per_epoch, 25, 250))
        patience = self.patience or max(1_000, 5 * eval_every)
        config = TrainConfig(
            max_steps=max_steps, lr=self.lr, weight_decay=self.weight_decay,
            eval_every=eval_every, patience=patience, label=self.objective,
            progress=progress_default() if self.progress is None else self.progress,
        )
        x_train, y_train = self._tensors(x_array[train_rows], y_array[train_rows])
        x_val, y_val = self._tensors(x_array[val_rows], y_array[val_rows])
        state = objective.make_state() if objective.make_state is not None else None
        train_params = dict(loss_params, state=state) if state is not None else loss_params
        offset = self._offset()

        def evaluate(critic):
            val_loss = heldout_loss(critic, objective, loss_params, x_val, y_val, self.batch_size)
            val_estimate = heldout_readout(critic, x_val, y_val, readout, offset, self.batch_size, readout_params).estimate
            return val_loss, val_estimate

        outcome = train_with_validation(
            self.critic_, lambda scores: objective.loss(scores, **train_params),
            epoch_batches(x_train, y_train, self.batch_size, torch.Generator().manual_seed(self.seed)),
            config, evaluate,
        )
        self.history_ = outcome.history
        self.best_step_ = outcome.best_step
        self.diverged_ = outcome.diverged
        self.stop_reason_ = outcome.stop_reason
        self.n_train_, self.n_val_ = n_train, n_val
        self.n_features_x_, self.n_features_y_ = x_array.shape[1], y_array.shape[1]
        self.result_ = self._readout(x_array[test_rows], y_array[test_rows])
        self.result_.info.update(seconds=time.perf_counter() - started, max_steps=max_steps, eval_every=eval_every, patience=patience)
        return self

    def fit_stream(self, sample_batch: Any, n_steps: int) -> "MIEstimator":
        """Streaming training, the classic protocol: a fresh batch every step, no held-out split.

        ``sample_batch(index, rng) -> (x, y)`` returns numpy arrays of shape (batch_size, dim_x)
        and (batch_size, dim_y) for the 0-based step ``index`` = 0 .. n_steps - 1 (history step
        index + 1); ``rng`` is a numpy Generator seeded from ``seed``. The truth may
        change with the step (the staircase). ``stream_history_`` holds, per step, the training
        loss and the readout of that step's batch ("estimate", nats), as in Song & Ermon (2020).
        Inputs are used as given (no standardisation: the distribution may change over time).
        Returns self; ``pmi`` and ``estimate`` then use the final critic.
        """
        objective, loss_params, readout, readout_params = self._resolve_objective()
        if not positive_int(n_steps):
            raise ValueError(f"n_steps={n_steps!r} is invalid; pass a positive number of steps.")
        rng = np.random.default_rng(self.seed)
        first_x, first_y = check_pair(*sample_batch(0, rng), min_samples=2)
        self.x_mean_, self.x_scale_ = np.zeros(first_x.shape[1]), np.ones(first_x.shape[1])
        self.y_mean_, self.y_scale_ = np.zeros(first_y.shape[1]), np.ones(first_y.shape[1])
        self._init_critic(first_x.shape[1], first_y.shape[1])
        pending = [(first_x, first_y)]

        def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
            x_batch, y_batch = pending.pop() if pending else check_pair(*sample_batch(step - 1, rng), min_samples=2)
            return self._tensors(x_batch, y_batch)

        config = TrainConfig(
            max_steps=int(n_steps), lr=self.lr, weight_decay=self.weight_decay, label=self.objective,
            progress=progress_default() if self.progress is None else self.progress,
        )
        state = objective.make_state() if objective.make_state is not None else None
        train_params = dict(loss_params, state=state) if state is not None else loss_params
        offset = self._offset()
        outcome = train_streaming(
            self.critic_, lambda scores: objective.loss(scores, **train_params), next_batch, config,
            on_step=lambda step, scores, loss: {"batch_estimate": batch_readout(scores, readout, offset, readout_params)},
        )
        self.stream_history_ = outcome.history
        self.history_ = outcome.history
        self.best_step_, self.diverged_, self.stop_reason_ = outcome.best_step, outcome.diverged, outcome.stop_reason
        self.n_train_, self.n_val_ = outcome.steps_run * self.batch_size, 0
        self.n_features_x_, self.n_features_y_ = first_x.shape[1], first_y.shape[1]
        return self

    def _init_critic(self, dim_x: int, dim_y: int) -> None:
        """Seed torch, then build (or copy the user's) critic on the resolved device."""
        self.device_ = resolve_device(self.device)
        torch.manual_seed(self.seed)
        if isinstance(self.critic, nn.Module):
            critic = copy.deepcopy(self.critic)
        else:
            critic = make_critic(self.critic, dim_x, dim_y, tuple(self.hidden), self.embed_dim, self.temperature, self.activation)
        self.critic_ = critic.to(self.device_)

    def _fit_standardizer(self, x_train: np.ndarray, y_train: np.ndarray) -> None:
        def stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if not self.standardize:
                return np.zeros(values.shape[1]), np.ones(values.shape[1])
            scale = values.std(axis=0)
            # A constant column carries no information; dividing by 1 keeps it finite (all zeros).
            return values.mean(axis=0), np.where(scale > 0, scale, 1.0)

        self.x_mean_, self.x_scale_ = stats(x_train)
        self.y_mean_, self.y_scale_ = stats(y_train)

    def _tensors(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        def convert(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> torch.Tensor:
            return torch.as_tensor((values - mean) / scale, dtype=torch.float32, device=self.device_)

        return convert(x, self.x_mean_, self.x_scale_), convert(y, self.y_mean_, self.y_scale_)

    def _offset(self) -> float:
        return self.log_ratio_offset_ if self.log_ratio_offset_ is not None else 0.0

    def _check_fitted(self) -> None:
        if not hasattr(self, "critic_"):
            raise ValueError("this MIEstimator is not fitted yet; call fit(x, y) first.")

    def _check_new(self, x: Any, y: Any, min_samples: int) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        x_array, y_array = check_pair(x, y, min_samples=min_samples)
        for name, array, expected in (("x", x_array, self.n_features_x_), ("y", y_array, self.n_features_y_)):
            if array.shape[1] != expected:
                raise ValueError(f"{name} has {array.shape[1]} columns but the estimator was fitted on {expected}.")
        return x_array, y_array

    def _readout(self, x: np.ndarray, y: np.ndarray) -> MIResult:
        value = heldout_readout(self.critic_, *self._tensors(x, y), self.readout_, self._offset(), self.batch_size, self.readout_params_)
        return MIResult(
            mi=value.estimate, stderr=value.stderr, n_train=self.n_train_, n_test=value.n_used,
            objective=self.objective, readout=self.readout_, history=self.history_.copy(),
            info={
                "best_step": self.best_step_, "diverged": self.diverged_, "stop_reason": self.stop_reason_,
                "device": str(self.device_), "batch_size": self.batch_size, "seed": self.seed,
                "critic": self.critic if isinstance(self.critic, str) else type(self.critic).__name__,
                "loss_params": dict(self.loss_params_), "readout_params": dict(self.readout_params_),
            },
        )

    # ---- use ----------------------------------------------------------------------------------
    def estimate(self, x: Any, y: Any) -> MIResult:
        """MI (nats) of other paired data under the fitted critic, every pair treated as held out."""
        x_array, y_array = self._check_new(x, y, min_samples=2)
        return self._readout(x_array, y_array)

    def pmi(self, x: Any, y: Any) -> np.ndarray:
        """Pointwise log density ratio log p(x_i, y_i) / (p(x_i) p(y_i)) in nats. Shape: (n,).

        Exact in the limit for ratio-identifying objectives (anchor, nce, js, smile, chi2, fdiv,
        nwj). For infonce, dv and mine the values carry an unknown shift (a factor C(y) for
        InfoNCE), so they cannot be compared across different y; a warning says so.
        """
        x_array, y_array = self._check_new(x, y, min_samples=1)
        if self.log_ratio_offset_ is None:
            warnings.warn(
                f"objective {self.objective!r} identifies log r only up to a shift (C(y) for InfoNCE); "
                "these PMI values are not calibrated log ratios.",
                UserWarning,
                stacklevel=2,
            )
        log_ratios = pointwise_log_ratios(self.critic_, *self._tensors(x_array, y_array), self._offset())
        return log_ratios.double().cpu().numpy()

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = {name: value for name, value in self.get_params().items() if value is not defaults[name] and value != defaults[name]}
        return f"MIEstimator({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
