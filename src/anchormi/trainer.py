"""The one training loop. Every objective and every client (estimator, streaming staircase, SSL)
goes through it; none has a branch here.

Two modes share one optimiser step and one history schema (:data:`HISTORY_COLUMNS`):

- :func:`train_with_validation` (fixed data): evaluate on a validation split every
  ``eval_every`` steps, keep the checkpoint with the lowest validation value of the *training
  loss* (never the largest MI, which would select for upward noise), and on a plateau go back to
  the best weights with a smaller learning rate.
- :func:`train_streaming` (a fresh batch every step, or an epoch loop driven by the caller's
  hooks): train for a fixed number of steps and keep a copy of the last weights that gave a
  finite loss.

A NaN or infinite loss stops training with a :class:`DivergenceWarning`; the weights kept are
always finite.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .runtime import DivergenceWarning, ThreadGovernor

# One schema for both modes: fixed-data runs fill val_*, streaming runs fill batch_estimate
# (the readout of that step's training batch, the classic staircase trace); the rest is NaN.
HISTORY_COLUMNS = ("step", "train_loss", "val_loss", "val_estimate", "batch_estimate")

BatchSource = Callable[[int], tuple[torch.Tensor, torch.Tensor]]
LossFunction = Callable[[torch.Tensor], torch.Tensor]
Evaluation = Callable[[Any], tuple[float, float]]


@dataclass
class TrainConfig:
    """Optimiser and schedule settings of one run.

    ``reset_optimizer_on_decay`` clears Adam's moment estimates when a plateau sends the weights
    back to the best checkpoint; the moments then describe the abandoned trajectory.
    """

    max_steps: int
    lr: float
    weight_decay: float = 0.0
    eval_every: int = 250
    patience: int = 1_000
    progress: bool = False
    label: str = "train"
    lr_decay: float = 0.5
    max_decays: int = 4
    reset_optimizer_on_decay: bool = False
    # Exponential moving average of the weights (``train_with_validation`` only): 0 is off; a
    # decay d < 1 evaluates, checkpoints and returns the average instead of the last iterate.
    # Early steps use min(d, (1 + t) / (10 + t)), t steps since the average (re)started, so the
    # random initialisation is forgotten quickly; an lr decay restarts it at the best checkpoint.
    average: float = 0.0
    # "plateau": the lr changes only when a plateau halves it. "cosine": each step's lr is the
    # current base lr times (1 + cos(pi (step - 1) / max_steps)) / 2, falling from the base lr to
    # near 0 at the budget. "anneal": the base lr until the last ANNEAL_FRACTION of the budget,
    # then a straight fall to near 0 at the budget (warmup-free "warmup-stable-decay"). With
    # either, a plateau still restores the best weights and halves the base.
    schedule: str = "plateau"


SCHEDULES = ("plateau", "cosine", "anneal")
# The share of the step budget over which "anneal" brings the lr down (a common choice, not tuned).
ANNEAL_FRACTION = 0.2


@dataclass
class TrainOutcome:
    history: pd.DataFrame
    best_step: int
    best_val_loss: float
    steps_run: int
    diverged: bool
    stop_reason: str
    # A best checkpoint was among the last evaluations when the step budget ended.
    still_improving: bool = False
    # The step of each member's kept checkpoint, and whether each was still improving (one entry
    # for a single model).
    best_steps: list[int] | None = None
    members_improving: list[bool] | None = None


def history_frame(records: list[dict[str, float]]) -> pd.DataFrame:
    """The training record as a table with :data:`HISTORY_COLUMNS` (missing cells NaN), plus a
    ``fold`` column when a stacked model recorded one row per member."""
    columns = list(HISTORY_COLUMNS) + (["fold"] if records and "fold" in records[0] else [])
    frame = pd.DataFrame.from_records(records, columns=columns).astype(float).astype({"step": int})
    return frame.astype({"fold": int}) if "fold" in columns else frame


def make_optimizer(critic: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with its multi-tensor (``foreach``) update, which torch picks by itself only on CUDA.
    On CPU it computes the same bits as the per-tensor loop in about 30 % less time for the default
    five stacked critics (1.79 -> 1.28 ms per update; ``python benchmarks/speed.py``, "AdamW update")."""
    return torch.optim.AdamW(critic.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)


class _Schedule:
    """Sets each parameter group's lr before every step from its base lr (``config.schedule``)."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: TrainConfig):
        if config.schedule not in SCHEDULES:
            raise ValueError(f"schedule={config.schedule!r} is not one of {', '.join(map(repr, SCHEDULES))}.")
        self.optimizer, self.config = optimizer, config
        if config.schedule != "plateau":
            # Kept in the parameter group, so an optimiser state saved mid-run resumes the curve.
            for group in optimizer.param_groups:
                group.setdefault("base_lr", group["lr"])

    def before_step(self, step: int) -> None:
        if self.config.schedule == "plateau":
            return
        progress = (step - 1) / max(1, self.config.max_steps)
        if self.config.schedule == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:
            factor = min(1.0, (1.0 - progress) / ANNEAL_FRACTION)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def decay(self, multiplier: float) -> None:
        """A plateau: the base lr (and the current one) times ``multiplier``."""
        for group in self.optimizer.param_groups:
            group["lr"] *= multiplier
            if "base_lr" in group:
                group["base_lr"] *= multiplier


def epoch_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator,
                  rows: torch.Tensor | None = None, device: torch.device | None = None) -> BatchSource:
    """Mini-batches from fixed data: a fresh random order each epoch, the partial tail skipped.

    ``rows`` (int64 indices) restricts the draw to those rows of ``x`` and ``y``, so several folds
    can share one copy of large data; ``device`` moves each batch there (data may stay on the host).
    """
    n_rows = x.shape[0] if rows is None else rows.shape[0]
    # int32 orders (the same permutation as int64) halve the index memory of large data.
    dtype = torch.int32 if n_rows < 2**31 else torch.int64
    position = {"order": torch.randperm(n_rows, generator=generator, dtype=dtype), "cursor": 0}

    def next_batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        if position["cursor"] + batch_size > n_rows:
            position["order"], position["cursor"] = torch.randperm(n_rows, generator=generator, dtype=dtype), 0
        index = position["order"][position["cursor"] : position["cursor"] + batch_size]
        position["cursor"] += batch_size
        if rows is not None:
            index = rows[index]
        index = index.to(x.device)
        x_batch, y_batch = x[index], y[index]
        if device is not None:
            x_batch, y_batch = x_batch.to(device, non_blocking=True), y_batch.to(device, non_blocking=True)
        return x_batch, y_batch

    return next_batch


def _step(
    critic: Any,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFunction,
    batch: tuple[torch.Tensor, torch.Tensor],
    before_update: Callable[[], None] | None = None,
    after_backward: Callable[[], None] | None = None,
    threads: ThreadGovernor | None = None,
):
    """One optimiser step. Returns (loss, scores, finite); a non-finite loss is returned without stepping.

    ``loss_fn`` may return one loss per member of a stacked model, shape (F,); their sum is
    minimised, which trains each member on its own loss. ``before_update`` runs once the loss is
    known to be finite, while the weights are still the ones that produced it. ``after_backward``
    runs between the backward pass and the update (distributed training averages the gradients
    over processes there: ``anchormi.distributed``). ``threads`` times the step and sets the
    thread count of the next one (:class:`anchormi.runtime.ThreadGovernor`).
    """
    with threads.timed() if threads is not None else contextlib.nullcontext():
        scores = critic.pairwise(*batch)
        loss = loss_fn(scores)
        total = loss.sum()
        if not torch.isfinite(total):
            return total, scores, False
        if before_update is not None:
            before_update()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
    return loss, scores, True


def _unique_tensors(module: torch.nn.Module) -> list[torch.Tensor]:
    """Every parameter and buffer once, even when modules are shared (a Siamese encoder)."""
    seen, tensors = set(), []
    for tensor in module.state_dict(keep_vars=True).values():
        key = (tensor.data_ptr(), tensor.shape, tensor.dtype)
        if key not in seen:
            seen.add(key)
            tensors.append(tensor)
    return tensors


def _warn_diverged(label: str, reason: str, kept: str) -> None:
    warnings.warn(
        f"{label} diverged: {reason}. Training stopped and {kept} were kept. Try a smaller lr, "
        "a larger batch_size, or a more stable objective such as 'anchor'.",
        DivergenceWarning,
        stacklevel=4,
    )


def train_with_validation(
    critic: torch.nn.Module,
    loss_fn: LossFunction,
    batches: BatchSource,
    config: TrainConfig,
    evaluate: Evaluation,
    optimizer: torch.optim.Optimizer | None = None,
    after_backward: Callable[[], None] | None = None,
    threads: ThreadGovernor | None = None,
) -> TrainOutcome:
    """Train ``critic`` in place on ``batches(step)``; on return it holds the best checkpoint.

    ``evaluate(critic) -> (val_loss, val_estimate)`` runs every ``eval_every`` steps (critic in
    eval mode, no grad). Early stopping after ``patience`` steps without improvement; each of the
    first ``max_decays`` plateaus instead restores the best weights and multiplies the lr by
    ``lr_decay``. ``after_backward`` runs after each backward pass, before the update (see
    :func:`_step`); every decision here depends only on the losses and on ``evaluate``, so
    processes that agree on those take the same steps. ``threads`` (a
    :class:`anchormi.runtime.ThreadGovernor`) times each step and chooses the thread count.
    """
    optimizer = optimizer or make_optimizer(critic, config)
    schedule = _Schedule(optimizer, config)
    records: list[dict[str, float]] = []

    def run_evaluation(step: int, train_loss: np.ndarray | float) -> np.ndarray:
        critic.eval()
        with torch.no_grad():
            val_loss, val_estimate = evaluate(critic)
        critic.train()
        val_loss, val_estimate = np.atleast_1d(np.asarray(val_loss, float)), np.atleast_1d(np.asarray(val_estimate, float))
        train_loss = np.broadcast_to(np.asarray(train_loss, float), val_loss.shape)
        for member in range(val_loss.size):
            row = {"step": step, "train_loss": train_loss[member], "val_loss": val_loss[member], "val_estimate": val_estimate[member]}
            records.append(row if val_loss.size == 1 else {**row, "fold": member})
        return val_loss

    # Detached views of the live weights (the optimiser updates them in place) and their average.
    tensors = [t.detach() for t in _unique_tensors(critic) if t.is_floating_point()]
    averaged = [t.clone() for t in tensors] if config.average > 0 else None

    best_losses = run_evaluation(0, math.nan)
    n_members = best_losses.size
    best_steps = np.zeros(n_members, dtype=int)
    best_state = copy.deepcopy(critic.state_dict())
    diverged, stop_reason, step = False, "max_steps", 0
    running = torch.zeros(())  # summed on the device: no host synchronisation per step
    running_count, last_change, decays, averaged_from = 0, 0, 0, 0

    bar = tqdm(total=config.max_steps, disable=not config.progress, desc=config.label, leave=False)
    critic.train()
    for step in range(1, config.max_steps + 1):
        schedule.before_step(step)
        loss, _, finite = _step(critic, optimizer, loss_fn, batches(step), after_backward=after_backward, threads=threads)
        if not finite:
            diverged, stop_reason = True, f"non-finite training loss ({float(loss.detach())}) at step {step}"
            break
        running = running.to(loss.device) + loss.detach()
        running_count += 1
        if averaged is not None:
            since = step - averaged_from
            torch._foreach_lerp_(averaged, tensors, 1.0 - min(config.average, (1 + since) / (10 + since)))
        bar.update(1)
        if step % config.eval_every and step != config.max_steps:
            continue
        # When averaging, the averaged weights are the ones scored and kept as checkpoints.
        with _swapped_in(tensors, averaged):
            val_losses = run_evaluation(step, running.cpu().numpy() / running_count)
            running, running_count = torch.zeros(()), 0
            if not np.isfinite(val_losses).all():
                diverged, stop_reason = True, f"non-finite held-out loss ({val_losses.tolist()}) at step {step}"
                break
            improved = val_losses < best_losses
            if improved.any():
                best_losses, best_steps, last_change = np.where(improved, val_losses, best_losses), np.where(improved, step, best_steps), step
                _keep_improved(best_state, critic.state_dict(), improved)
        bar.set_postfix(estimate=f"{records[-1]['val_estimate']:.3f}", best_step=int(best_steps.max()))
        if step - last_change >= config.patience:
            if decays >= config.max_decays:
                stop_reason = f"early stop: no held-out improvement for {config.patience} steps after {decays} lr decays"
                break
            # Overfitting or noise: go back to the best weights and continue with a smaller step.
            critic.load_state_dict(best_state)
            if averaged is not None:
                torch._foreach_copy_(averaged, tensors)
                averaged_from = step
            if config.reset_optimizer_on_decay:
                optimizer.state.clear()
            decays += 1
            schedule.decay(config.lr_decay)
            last_change = step
    bar.close()

    critic.load_state_dict(best_state)
    critic.eval()
    if diverged:
        _warn_diverged(config.label, stop_reason, f"the best checkpoints' weights (steps {best_steps.tolist()})")
    # Still improving: the budget ran out while a best checkpoint was among the latest evaluations.
    members_improving = [not diverged and stop_reason == "max_steps" and bool(best >= step - config.eval_every) for best in best_steps]
    return TrainOutcome(
        history_frame(records), int(best_steps.max()), float(best_losses.sum()), step, diverged, stop_reason, any(members_improving),
        best_steps=best_steps.tolist(), members_improving=members_improving,
    )


@contextlib.contextmanager
def _swapped_in(tensors: list[torch.Tensor], replacement: list[torch.Tensor] | None) -> Iterator[None]:
    """Hold ``replacement``'s values in ``tensors`` (detached weights) for the block, then put the
    originals back; nothing happens when ``replacement`` is None."""
    if replacement is None:
        yield
        return
    originals = [t.clone() for t in tensors]
    torch._foreach_copy_(tensors, replacement)
    try:
        yield
    finally:
        torch._foreach_copy_(tensors, originals)


def _keep_improved(best_state: dict[str, torch.Tensor], current: dict[str, torch.Tensor], improved: np.ndarray) -> None:
    """Copy the improved members' tensors into ``best_state`` (all of them for a single model).

    A stacked model holds member m's weights at index m of every tensor's leading axis.
    """
    if improved.size == 1:
        best_state.update(copy.deepcopy(current))
        return
    mask = torch.as_tensor(improved)
    for name, tensor in current.items():
        best_state[name][mask.to(tensor.device)] = tensor.detach()[mask.to(tensor.device)]


def train_streaming(
    critic: torch.nn.Module,
    loss_fn: LossFunction,
    batches: BatchSource,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer | None = None,
    first_step: int = 1,
    period: int = 1,
    on_step: Callable[[int, torch.Tensor, torch.Tensor], dict[str, float] | None] | None = None,
    on_period: Callable[[int], None] | None = None,
    threads: ThreadGovernor | None = None,
) -> TrainOutcome:
    """Train ``critic`` in place for steps ``first_step .. config.max_steps``, no validation.

    ``on_step(step, scores, loss)`` may return a dict that becomes that step's history row
    (e.g. ``{"batch_estimate": ...}``); ``on_period(step)`` runs after every ``period``-th step
    (an epoch end: evaluate a probe, write a checkpoint). The weights at the end of the last
    period are copied cheaply into preallocated buffers; if a later loss is NaN or infinite,
    training stops and those finite weights are restored. ``threads`` is as in
    :func:`train_with_validation`.
    """
    optimizer = optimizer or make_optimizer(critic, config)
    schedule = _Schedule(optimizer, config)
    records: list[dict[str, float]] = []
    state = _unique_tensors(critic)
    # Two buffers: the weights (and BatchNorm statistics) at the end of the last period are
    # copied into ``pending`` before any further forward pass; once they have produced a finite
    # loss they become ``kept``, the copy restored on divergence. So the restored copy is known
    # to be good, not merely the last one written.
    buffers = {"kept": [t.detach().clone() for t in state], "pending": [t.detach().clone() for t in state]}
    snapshot = {"pending": True, "pending_step": first_step - 1, "kept_step": first_step - 1}

    def promote_pending() -> None:
        if snapshot["pending"]:
            buffers["kept"], buffers["pending"] = buffers["pending"], buffers["kept"]
            snapshot["pending"], snapshot["kept_step"] = False, snapshot["pending_step"]

    diverged, stop_reason, step = False, "max_steps", first_step - 1
    bar = tqdm(total=config.max_steps, initial=first_step - 1, disable=not config.progress, desc=config.label, leave=False)
    critic.train()
    for step in range(first_step, config.max_steps + 1):
        schedule.before_step(step)
        loss, scores, finite = _step(critic, optimizer, loss_fn, batches(step), before_update=promote_pending, threads=threads)
        if not finite:
            diverged, stop_reason = True, f"non-finite training loss ({float(loss.detach())}) at step {step}"
            break
        if on_step is not None:
            row = on_step(step, scores.detach(), loss.detach())
            if row is not None:
                records.append({"step": step, "train_loss": float(loss.detach()), **row})
        bar.update(1)
        if step % period == 0:
            if on_period is not None:
                on_period(step)
                critic.train()
            with torch.no_grad():
                for saved, current in zip(buffers["pending"], state):
                    saved.copy_(current)
            snapshot["pending"], snapshot["pending_step"] = True, step
    bar.close()
    kept_step = snapshot["kept_step"]
    if diverged:
        with torch.no_grad():
            for saved, current in zip(buffers["kept"], state):
                current.copy_(saved)
        _warn_diverged(config.label, stop_reason, f"the last weights with a finite loss (after step {kept_step})")
    critic.eval()
    return TrainOutcome(history_frame(records), step if not diverged else kept_step, math.nan, step, diverged, stop_reason)
