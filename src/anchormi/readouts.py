"""Held-out readouts: turn a trained critic into an MI estimate (nats) with a standard error.

All readouts act on the log-ratio scale l = c - offset, where the objective's registry row says
how its critic relates to log r (NWJ learns 1 + log r).
- ``plugin`` (Type 3): mean of l over held-out joint pairs. Needs only the diagonal: O(n) critic
  calls. Its standard error is sd(l) / sqrt(n), the held-out sampling error of the mean log ratio.
- ``infonce``, ``nwj``, ``dv``, ``smile`` (bounds): need negatives, so they are evaluated on
  disjoint held-out batches of the training batch size; the estimate is the mean over batches and
  its standard error sd(batch values) / sqrt(n_batches). Pairs beyond the last full batch are not
  used, and ``n_used`` says how many were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from .objectives.bounds import SMILE_TAU, dv_bound, infonce_bound, nwj_bound, smile_bound

BOUND_READOUTS: dict[str, Callable[..., torch.Tensor]] = {
    "infonce": lambda log_ratios: infonce_bound(log_ratios),
    # NWJ is tight at T = 1 + log r, so it reads the log-ratio scale shifted by one.
    "nwj": lambda log_ratios: nwj_bound(log_ratios + 1.0),
    "dv": lambda log_ratios: dv_bound(log_ratios),
    "smile": lambda log_ratios, tau=SMILE_TAU: smile_bound(log_ratios, tau=tau),
}
READOUTS = ("plugin", *BOUND_READOUTS)
_POINTWISE_CHUNK = 8192


@dataclass
class ReadoutValue:
    """An estimate (nats), its standard error, how many held-out pairs it used, and the raw values
    (per pair for plug-in, per batch for bounds)."""

    estimate: float
    stderr: float
    n_used: int
    values: np.ndarray


def heldout_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int):
    """Disjoint full held-out batches of min(batch_size, n) pairs; the tail beyond the last one is not used.

    Rows are the second-to-last axis, so a stacked model's (F, n, dim) inputs batch the same way.
    Yields (x_batch, y_batch) of shapes (..., b, dim_x), (..., b, dim_y).
    """
    n_rows = x.shape[-2]
    batch = min(batch_size, n_rows)
    for start in range(0, n_rows - batch + 1, batch):
        yield x[..., start : start + batch, :], y[..., start : start + batch, :]


def check_readout(name: str) -> None:
    if name not in READOUTS:
        raise ValueError(f"readout={name!r} is unknown; choose one of {list(READOUTS)}.")


@torch.no_grad()
def batch_readout(scores: torch.Tensor, readout: str, offset: float, params: dict[str, Any] | None = None) -> float:
    """The readout of one (B, B) score matrix: the classic per-batch estimate of streaming runs."""
    log_ratios = scores - offset
    if readout == "plugin":
        return float(log_ratios.diagonal().mean())
    return float(BOUND_READOUTS[readout](log_ratios, **(params or {})))


@torch.no_grad()
def pointwise_log_ratios(critic: Any, x: torch.Tensor, y: torch.Tensor, offset: float) -> torch.Tensor:
    """l(x_i, y_i) = c(x_i, y_i) - offset in chunks. Shape: (n, dim_x), (n, dim_y) -> (n,)."""
    chunks = [
        critic.pointwise(x[start : start + _POINTWISE_CHUNK], y[start : start + _POINTWISE_CHUNK])
        for start in range(0, x.shape[0], _POINTWISE_CHUNK)
    ]
    return torch.cat(chunks) - offset


@torch.no_grad()
def heldout_readout(
    critic: Any,
    x: torch.Tensor,
    y: torch.Tensor,
    readout: str,
    offset: float,
    batch_size: int,
    params: dict[str, Any] | None = None,
) -> ReadoutValue:
    """Evaluate ``readout`` of ``critic`` on held-out pairs (x, y), already on the critic's device."""
    check_readout(readout)
    params = params or {}
    if readout == "plugin":
        values = pointwise_log_ratios(critic, x, y, offset).cpu().double().numpy()  # MPS has no float64: move first
    else:
        bound = BOUND_READOUTS[readout]
        # Bounds exponentiate scores: float64 on the CPU keeps exp(c) finite up to c ~ 709, not 88.
        values = np.array([
            float(bound(critic.pairwise(xb, yb).cpu().double() - offset, **params)) for xb, yb in heldout_batches(x, y, batch_size)
        ])
    n_used = values.size if readout == "plugin" else values.size * min(batch_size, x.shape[0])
    stderr = float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")
    return ReadoutValue(float(values.mean()), stderr, int(n_used), values)


@torch.no_grad()
def heldout_loss(critic: Any, objective: Any, loss_params: dict, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Mean training loss over disjoint held-out batches (without per-run state such as MINE's average)."""
    losses = [float(objective.loss(critic.pairwise(xb, yb), **loss_params)) for xb, yb in heldout_batches(x, y, batch_size)]
    return float(np.mean(losses))
