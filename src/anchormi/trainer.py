"""The one training loop. Every objective goes through it; none has a branch here.

Mini-batch training on the train split, evaluation on a validation split every ``eval_every``
steps, and checkpoint selection by the lowest validation value of the *training loss* (never the
largest MI, which would select for upward noise). A NaN or infinite loss stops training with a
warning and the best checkpoint so far is kept.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .objectives.registry import Objective
from .readouts import batch_readout, heldout_batches, heldout_readout


class DivergenceWarning(RuntimeWarning):
    """Training produced a NaN or infinite loss and stopped; the best checkpoint was kept."""


@dataclass
class TrainConfig:
    batch_size: int
    max_steps: int
    lr: float
    weight_decay: float
    eval_every: int
    patience: int
    seed: int
    progress: bool
    lr_decay: float = 0.5
    max_decays: int = 4


@dataclass
class TrainOutcome:
    history: pd.DataFrame
    best_step: int
    best_val_loss: float
    steps_run: int
    diverged: bool
    stop_reason: str


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" picks CUDA when present, else Apple MPS, else the CPU."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        return torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a torch device; pass 'auto', 'cpu' or 'cuda'.") from error


def progress_default() -> bool:
    """Bars only for a person at a terminal: off in pipes, CI and tests."""
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ


@torch.no_grad()
def heldout_loss(critic: Any, objective: Objective, loss_params: dict, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Mean training loss over disjoint held-out batches (no per-run state, e.g. MINE's average)."""
    losses = [float(objective.loss(critic.pairwise(xb, yb), **loss_params)) for xb, yb in heldout_batches(x, y, batch_size)]
    return float(np.mean(losses))


BatchSource = Callable[[int], tuple[torch.Tensor, torch.Tensor]]


def epoch_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator) -> BatchSource:
    """Mini-batches from fixed data: a fresh random order each epoch, the partial tail skipped."""
    n_rows = x.shape[0]
    position = {"order": torch.randperm(n_rows, generator=generator), "cursor": 0}

    def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        if position["cursor"] + batch_size > n_rows:
            position["order"], position["cursor"] = torch.randperm(n_rows, generator=generator), 0
        index = position["order"][position["cursor"] : position["cursor"] + batch_size].to(x.device)
        position["cursor"] += batch_size
        return x[index], y[index]

    return next_batch


def train_critic(
    critic: torch.nn.Module,
    objective: Objective,
    loss_params: dict[str, Any],
    batches: BatchSource,
    config: TrainConfig,
    readout: str,
    readout_params: dict[str, Any],
    offset: float,
    val: tuple[torch.Tensor, torch.Tensor] | None = None,
    track_batch_estimate: bool = False,
) -> TrainOutcome:
    """Train ``critic`` in place on ``batches(step)``; on return it holds the kept weights.

    With ``val`` (fixed data): evaluate every ``eval_every`` steps, keep the checkpoint with the
    lowest held-out loss and stop early after ``patience`` steps without improvement.
    Without ``val`` (streaming, a fresh batch each step): train for ``max_steps`` and keep the
    last weights that gave a finite loss. ``track_batch_estimate`` records, at every step, the
    readout of that step's training batch (the classic staircase plot) in ``history``.
    """
    optimizer = torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    state = objective.make_state() if objective.make_state is not None else None
    train_params = dict(loss_params, state=state) if state is not None else loss_params
    records: list[dict[str, float]] = []

    def evaluate(step: int, train_loss: float) -> float:
        x_val, y_val = val
        critic.eval()
        val_loss = heldout_loss(critic, objective, loss_params, x_val, y_val, config.batch_size)
        val_estimate = heldout_readout(critic, x_val, y_val, readout, offset, config.batch_size, readout_params).estimate
        critic.train()
        records.append({"step": step, "train_loss": train_loss, "val_loss": val_loss, "val_estimate": val_estimate})
        return val_loss

    best_val_loss = evaluate(0, float("nan")) if val is not None else float("nan")
    best_state = copy.deepcopy(critic.state_dict()) if val is not None else None
    best_step, diverged, stop_reason = 0, False, "max_steps"
    running, running_count, step = 0.0, 0, 0
    last_change, decays = 0, 0

    bar = tqdm(total=config.max_steps, disable=not config.progress, desc=objective.name, leave=False)
    critic.train()
    for step in range(1, config.max_steps + 1):
        x_batch, y_batch = batches(step)
        scores = critic.pairwise(x_batch, y_batch)
        loss = objective.loss(scores, **train_params)
        if not torch.isfinite(loss):
            diverged, stop_reason = True, f"non-finite training loss ({float(loss.detach())}) at step {step}"
            break
        if track_batch_estimate:
            records.append({"step": step, "train_loss": float(loss.detach()), "estimate": batch_readout(scores.detach(), readout, offset, readout_params)})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        running += float(loss.detach())
        running_count += 1
        bar.update(1)
        if val is None:
            best_step = step
            continue

        if step % config.eval_every == 0 or step == config.max_steps:
            val_loss = evaluate(step, running / running_count)
            running, running_count = 0.0, 0
            if not math.isfinite(val_loss):
                diverged, stop_reason = True, f"non-finite held-out loss ({val_loss}) at step {step}"
                break
            if val_loss < best_val_loss:
                best_val_loss, best_step, last_change = val_loss, step, step
                best_state = copy.deepcopy(critic.state_dict())
            bar.set_postfix(estimate=f"{records[-1]['val_estimate']:.3f}", best_step=best_step)
            if step - last_change >= config.patience:
                if decays >= config.max_decays:
                    stop_reason = f"early stop: no held-out improvement for {config.patience} steps after {decays} lr decays"
                    break
                # Overfitting or noise: go back to the best weights and continue with a smaller step.
                critic.load_state_dict(best_state)
                decays += 1
                for group in optimizer.param_groups:
                    group["lr"] *= config.lr_decay
                last_change = step
    bar.close()

    if best_state is not None:
        critic.load_state_dict(best_state)
    critic.eval()
    if diverged:
        kept = (
            f"the best checkpoint (step {best_step}, held-out loss {best_val_loss:.4g}) was kept"
            if val is not None else f"the last weights with a finite loss (step {best_step}) were kept"
        )
        warnings.warn(
            f"{objective.name} diverged: {stop_reason}. Training stopped and {kept}. Try a smaller lr, "
            "a larger batch_size, or a more stable objective such as 'anchor'.",
            DivergenceWarning,
            stacklevel=3,
        )
    return TrainOutcome(pd.DataFrame.from_records(records), best_step, best_val_loss, step, diverged, stop_reason)
