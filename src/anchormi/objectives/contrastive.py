"""The (K+1)-class contrastive family: InfoNCE-anchor under any proper scoring rule.

InfoNCE (nu = 0), ranking NCE (K = 2, nu = 0) and binary NCE (K = 1, nu = 1) are parameter
settings of :func:`anchor_loss`, not separate implementations (docs/method.md sections 3 and 5).

Tuples come from the score matrix S[i, j] = c(x_i, y_j), one column per y_j. The off-diagonal
entries of column j are draws of x from p(x), independent of y_j, so they serve as the noise
entries. For column j the candidate negatives are, in a fixed cyclic order,
    N[j, m] = S[(j + m) mod B, j],   m = 1 .. B-1.
- positive tuple: (S[j, j], N[j, 0:K-1])  -> K entries, the positive first;
- anchor tuples: N[j, 0:K], N[j, K:2K], ...  -> every disjoint K-tuple that fits (one when
  K = B - 1, all B - 1 single negatives when K = 1).
Both tuple kinds have the same size K: mismatched sizes bias the estimate at small B.
"""

from __future__ import annotations

import functools
import math

import torch

from .scoring_rules import get_rule


def _check_scores(scores: torch.Tensor) -> int:
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square (B, B) matrix, got shape {tuple(scores.shape)}.")
    if scores.shape[0] < 2:
        raise ValueError("scores needs a batch of at least 2 pairs, so that negatives exist.")
    return scores.shape[0]


def column_negatives(scores: torch.Tensor) -> torch.Tensor:
    """N[j, m] = S[(j + m + 1) mod B, j]: the B - 1 noise entries of each column, cyclic order.

    Shape:
        scores: (B, B).  output: (B, B - 1).
    """
    return scores.t().gather(1, _cyclic_rows(scores.shape[0], scores.device))


@functools.lru_cache(maxsize=32)
def _cyclic_rows(batch: int, device: torch.device) -> torch.Tensor:
    """The row index (j + m + 1) mod B of :func:`column_negatives`, shape (B, B - 1): the same for
    every step of a run, so it is built once per batch size and device (its integer remainder
    took about 1-2 % of a training step)."""
    # A plain tensor even when first built under inference mode: gather keeps it for backward.
    with torch.inference_mode(False), torch.no_grad():
        offsets = torch.arange(1, batch, device=device)
        return (torch.arange(batch, device=device)[:, None] + offsets[None, :]) % batch


def resolve_k(batch: int, nu: float, k: int | None) -> int:
    """The tuple size K: B - 1 by default (B when nu = 0, which needs no anchor tuple).

    A K larger than the batch allows is capped at the largest that fits, so held-out batches
    smaller than the training batch still give a loss; the cap is the documented behaviour.
    """
    largest = batch if nu == 0 else batch - 1
    if k is None:
        return largest
    if k < 1:
        raise ValueError(f"k={k!r} is invalid; pass a tuple size K >= 1.")
    return min(int(k), largest)


def anchor_loss(
    scores: torch.Tensor,
    nu: float = 1.0,
    rule: str = "log",
    gamma: float | None = None,
    k: int | None = None,
    symmetric: bool = False,
    reduction: str = "mean",
    fused: bool = True,
) -> torch.Tensor:
    """InfoNCE-anchor loss of a score matrix under a proper scoring rule.

    L = K/(K+nu) E_pos[score(eta, t=pos)] + nu/(K+nu) E_anchor[score(eta, t=0)],
    eta = softmax(log nu, c_1 .. c_K). For nu > 0 the minimiser is c = log p(x,y)/(p(x)p(y)).

    Args:
        scores: S[i, j] = c(x_i, y_j), joint pairs on the diagonal.
        nu: anchor weight; 0 gives InfoNCE (ratio identified only up to a factor C(y)).
        rule: "log" (fused log-sum-exp path), "brier", "spherical" or "pseudo_spherical".
        gamma: order of the pseudo-spherical rule (> 1).
        k: tuple size K; None means B - 1 (B when nu = 0).
        symmetric: also average the same loss over rows (conditioning on x).
        reduction: "mean", "sum" or "none".
        fused: for the log rule, use the fused log-sum-exp path (False runs the generic rule
            path, which builds the K+1 logits; both give the same loss).

    Shape:
        scores: (B, B).  output: () for "mean"/"sum", (B,) per column for "none"
        ((2B,) columns then rows when symmetric).
    """
    batch = _check_scores(scores)
    if not nu >= 0:
        raise ValueError(f"nu={nu!r} is invalid; pass nu >= 0 (nu = 0 is InfoNCE).")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction={reduction!r} is invalid; pass 'mean', 'sum' or 'none'.")
    tuple_size = resolve_k(batch, nu, k)
    matrices = (scores, scores.t()) if symmetric else (scores,)
    per_column = torch.cat([_per_column(s, nu, rule, gamma, tuple_size, fused) for s in matrices])
    if reduction == "none":
        return per_column
    return per_column.mean() if reduction == "mean" else per_column.sum()


def _per_column(scores: torch.Tensor, nu: float, rule: str, gamma: float | None, k: int, fused: bool) -> torch.Tensor:
    negatives = column_negatives(scores)
    positives = scores.diagonal()
    positive_tuple = torch.cat([positives[:, None], negatives[:, : k - 1]], dim=1)  # (B, K)
    weight_positive = k / (k + nu)
    weight_anchor = nu / (k + nu)
    log_nu = math.log(nu) if nu > 0 else -math.inf
    if nu > 0:
        n_anchor_tuples = negatives.shape[1] // k
        anchor_tuples = negatives[:, : n_anchor_tuples * k].reshape(-1, n_anchor_tuples, k)  # (B, M, K)

    if rule == "log" and gamma is None and fused:
        # Fused path: LSE(log nu, c) = logaddexp(log nu, LSE(c)) never materialises the K+1 logits.
        positive_term = _lse_with_anchor(positive_tuple, log_nu) - positives
        if nu == 0:
            return weight_positive * positive_term
        anchor_term = (_lse_with_anchor(anchor_tuples, log_nu) - log_nu).mean(-1)
        return weight_positive * positive_term + weight_anchor * anchor_term

    score = get_rule(rule, gamma)
    positive_logits = _with_anchor_logit(positive_tuple, log_nu)
    positive_target = torch.ones(positive_logits.shape[:-1], dtype=torch.long, device=scores.device)
    positive_term = score(torch.log_softmax(positive_logits, -1), positive_target)
    if nu == 0:
        return weight_positive * positive_term
    anchor_logits = _with_anchor_logit(anchor_tuples, log_nu)
    anchor_target = torch.zeros(anchor_logits.shape[:-1], dtype=torch.long, device=scores.device)
    anchor_term = score(torch.log_softmax(anchor_logits, -1), anchor_target).mean(-1)
    return weight_positive * positive_term + weight_anchor * anchor_term


def _lse_with_anchor(logits: torch.Tensor, log_nu: float) -> torch.Tensor:
    lse = torch.logsumexp(logits, dim=-1)
    if log_nu == -math.inf:
        return lse
    return torch.logaddexp(lse, torch.full_like(lse, log_nu))


def _with_anchor_logit(logits: torch.Tensor, log_nu: float) -> torch.Tensor:
    anchor_column = torch.full((*logits.shape[:-1], 1), log_nu, dtype=logits.dtype, device=logits.device)
    return torch.cat([anchor_column, logits], dim=-1)


def infonce_loss(scores: torch.Tensor, k: int | None = None, reduction: str = "mean") -> torch.Tensor:
    """InfoNCE: the anchor loss with nu = 0 (K = B by default, the whole column).

    Minimising it bounds MI from below by log K - loss, but identifies the ratio only up to C(y).

    Shape:
        scores: (B, B).  output: () or (B,) with reduction "none".
    """
    return anchor_loss(scores, nu=0.0, rule="log", k=k, reduction=reduction)


def nce_loss(scores: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary NCE: the anchor loss with K = 1, nu = 1, i.e. logistic regression of joint pairs
    (label 1) against product pairs (label 0) with equal class weights; every off-diagonal entry
    is used as a negative.

    Shape:
        scores: (B, B).  output: () or (B,) with reduction "none".
    """
    return anchor_loss(scores, nu=1.0, rule="log", k=1, reduction=reduction)
