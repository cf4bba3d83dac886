"""Recalibrating a trained ratio critic's additive offset on pairs it was not trained on.

A ratio critic l(x, y) estimates log r = log p(x, y) / (p(x) p(y)) only as well as training pins
its additive offset, and the anchor pins it weakly (curvature νK/(K+ν)² of the loss in the
offset). Two critics trained independently therefore carry different offsets, which pass
unchanged into any difference of their log ratios, such as the chain rule for conditional MI.

The offset is recalibrated by balanced logistic regression with l as the only feature and δ as the
only parameter: joint pairs (label 1) against the same pairs with y shuffled (label 0), each class
averaged separately,

    δ* = argmin_δ  −mean_joint log σ(l + δ) − mean_shuffled log σ(−(l + δ)).

For the true log ratio the Bayes posterior of this balanced problem is σ(log r), so δ* = 0: the
criterion is NCE's, and it is consistent. Unlike the Donsker–Varadhan normaliser
log mean exp(l) over shuffled pairs, which also removes an offset, it grows only linearly in l, so
the rare shuffled pairs with large l that dominate an exponential mean at a few nats do not make
it noisy. The problem is convex in δ with a unique minimum whenever both classes are present.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit

from .diagnostics import permuted_log_ratios
from .readouts import pointwise_log_ratios

# Shuffled copies of the recalibration pairs: more negatives steady δ at little cost.
SHUFFLES = 10


def logistic_offset(joint: np.ndarray, shuffled: np.ndarray) -> tuple[float, np.ndarray]:
    """δ* of the balanced logistic problem above (nats) and each pair's influence on it.

    Shapes: joint (n,) for pairs i; shuffled (B, n), pair i's x against B shuffled partners.
    Influence: IF_i = −ψ_i / J with ψ_i = mean_b σ(l'_bi + δ) − σ(−(l_i + δ)) pair i's term of the
    estimating equation (mean ψ = 0 at δ*) and J its derivative, so var(δ*) ≈ var(IF) / n (the
    M-estimator's sandwich). Influences of several offsets fitted on the same pairs and shuffles
    could be combined row by row to keep their correlation; conditional MI deliberately does not
    (it adds the variances, an upper bound; docs/method.md section 8).
    """
    joint = np.asarray(joint, float).ravel()
    shuffled = np.asarray(shuffled, float).reshape(-1, joint.size) if joint.size else np.empty((0, 0))
    if joint.size < 2 or shuffled.size == 0:
        raise ValueError("offset recalibration needs at least two joint pairs and their shuffled partners.")

    def loss(delta: float) -> float:
        return float(-np.mean(log_expit(joint + delta)) - np.mean(log_expit(-(shuffled + delta))))

    # The derivative, mean σ(l' + δ) − mean σ(−(l + δ)), is below 0 for δ < −span and above 0 for
    # δ > span (every |l| < span − 10), so the minimiser lies inside the bracket.
    span = float(max(np.abs(joint).max(), np.abs(shuffled).max())) + 10.0
    delta = float(minimize_scalar(loss, bounds=(-span, span), method="bounded", options={"xatol": 1e-7}).x)
    p_joint, p_shuffled = expit(joint + delta), expit(shuffled + delta)
    psi = p_shuffled.mean(axis=0) - (1.0 - p_joint)
    curvature = float(np.mean(p_joint * (1 - p_joint)) + np.mean(p_shuffled * (1 - p_shuffled)))
    return delta, -psi / curvature


@torch.no_grad()
def critic_offset(critic: Any, x: torch.Tensor, y: torch.Tensor, offset: float, generator: torch.Generator) -> tuple[float, np.ndarray]:
    """(δ*, influences) for ``critic`` on pairs (x, y) it did not train on, with SHUFFLES
    permutations of y drawn from ``generator`` (the same generator state gives the same shuffles).

    Shape: x (n, dim_x), y (n, dim_y) on the critic's device; ``offset`` is the objective's
    log-ratio offset (the critic's l = c − offset); influences (n,).
    """
    joint = pointwise_log_ratios(critic, x, y, offset).cpu().double().numpy()
    permutations = torch.stack([torch.randperm(x.shape[0], generator=generator) for _ in range(SHUFFLES)]).to(x.device)
    shuffled = permuted_log_ratios(critic, x, y, offset, permutations)
    return logistic_offset(joint, shuffled)
