"""Variational lower bounds on MI from a score matrix, and the objectives that maximise them.

The bound values serve two roles: training losses (their negatives) for the Type 1/2 estimators
nwj, dv and mine, and held-out readouts (see ``anchormi.readouts``). All take
S[i, j] = c(x_i, y_j) with joint pairs on the diagonal; the off-diagonal entries are product pairs.
Values are in nats.

Shape:
    scores: (B, B), B >= 2.  output: () scalar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# SMILE's clipping threshold (Song & Ermon 2020 use 5): exp(c) is clipped to [e^-tau, e^tau] in
# the partition term. The one definition: import it instead of writing 5.0.
SMILE_TAU = 5.0


def off_diagonal(scores: torch.Tensor) -> torch.Tensor:
    """The B(B-1) product-pair entries of S, flattened. Shape: (B, B) -> (B*(B-1),)."""
    batch = scores.shape[0]
    mask = ~torch.eye(batch, dtype=torch.bool, device=scores.device)
    return scores[mask]


def log_mean_exp(values: torch.Tensor) -> torch.Tensor:
    """log mean exp(values), without overflow. Shape: (n,) -> ()."""
    return torch.logsumexp(values, dim=0) - math.log(values.numel())


def nwj_bound(scores: torch.Tensor) -> torch.Tensor:
    """NWJ = mean(d) - mean(exp(o - 1)); tight at c = 1 + log r."""
    return scores.diagonal().mean() - torch.exp(off_diagonal(scores) - 1.0).mean()


def dv_bound(scores: torch.Tensor) -> torch.Tensor:
    """Donsker-Varadhan = mean(d) - log mean(exp(o)); tight at c = log r + any constant."""
    return scores.diagonal().mean() - log_mean_exp(off_diagonal(scores))


def infonce_bound(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE = mean_j(d_j - LSE_i S[i, j]) + log B; never above log B."""
    batch = scores.shape[0]
    return (scores.diagonal() - torch.logsumexp(scores, dim=0)).mean() + math.log(batch)


SMILE_TAU = 5.0  # SMILE's clip: exp(c) is clipped to [e^-tau, e^tau]; the one default of the package


def smile_bound(scores: torch.Tensor, tau: float = SMILE_TAU) -> torch.Tensor:
    """SMILE(tau): DV with exp(o) clipped to [e^-tau, e^tau] in the partition term (Song & Ermon 2020).

    Clipping exp(o) equals clamping o to [-tau, tau], which is done in log space.
    """
    if not tau > 0:
        raise ValueError(f"tau={tau!r} is invalid; pass tau > 0.")
    return scores.diagonal().mean() - log_mean_exp(off_diagonal(scores).clamp(-tau, tau))


def nwj_loss(scores: torch.Tensor) -> torch.Tensor:
    """Negative NWJ bound (Type 1: train and report NWJ)."""
    return -nwj_bound(scores)


def dv_loss(scores: torch.Tensor) -> torch.Tensor:
    """Negative DV bound (Type 1: train and report DV)."""
    return -dv_bound(scores)


@dataclass
class MovingAverage:
    """MINE's running estimate of log E_q[exp(c)] across batches, in log space."""

    alpha: float = 0.01
    log_value: float | None = None

    def update(self, log_batch_mean: float) -> float:
        if self.log_value is None:
            self.log_value = log_batch_mean
        else:
            # Plain-float log-add-exp: torch.tensor(float) would round the average to float32.
            kept = math.log1p(-self.alpha) + self.log_value
            added = math.log(self.alpha) + log_batch_mean
            top = max(kept, added)
            self.log_value = top + math.log1p(math.exp(-abs(kept - added)))
        return self.log_value


def mine_loss(scores: torch.Tensor, state: MovingAverage | None = None, alpha: float = 0.01) -> torch.Tensor:
    """MINE: the negative DV bound in value, with the bias-corrected gradient of Belghazi et al. 2018.

    The gradient of log mean exp(o) divides by the batch mean of exp(o), which is biased for small
    batches; MINE divides by a moving average over batches instead. The returned tensor's value is
    exactly -DV, its gradient the corrected one. Without ``state`` (held-out evaluation) it is plain
    -DV.
    """
    if state is None:
        return dv_loss(scores)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha!r} is invalid; pass a moving-average rate in (0, 1).")
    state.alpha = alpha
    negatives = off_diagonal(scores)
    log_moving = state.update(float(log_mean_exp(negatives.detach())))
    surrogate = -scores.diagonal().mean() + torch.exp(negatives - log_moving).mean()
    value = dv_loss(scores)
    return value.detach() + surrogate - surrogate.detach()
