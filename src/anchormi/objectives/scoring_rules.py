"""Strictly proper scoring rules on a categorical posterior, as losses (lower is better).

Each rule maps log-probabilities ``log_eta`` of shape (..., C) and the index of the true class
``target`` of shape (...) to a loss of shape (...). Working from log-probabilities keeps the log
rule exact and lets the others build eta = exp(log_eta) stably.

Shape:
    log_eta: (..., C), log-probabilities over C classes (rows sum to 1 after exp).
    target: (...), int64 class indices in [0, C).
    output: (...), the score of the true class, unitless.
"""

from __future__ import annotations

from typing import Callable

import torch

ScoringRule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _at_target(values: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return values.gather(-1, target.unsqueeze(-1)).squeeze(-1)


def log_score(log_eta: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log eta_t: cross-entropy, the rule behind InfoNCE and InfoNCE-anchor."""
    return -_at_target(log_eta, target)


def brier_score(log_eta: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """sum_k (eta_k - 1[k = t])^2 = ||eta||^2 - 2 eta_t + 1: the quadratic rule."""
    eta = log_eta.exp()
    return (eta * eta).sum(-1) - 2.0 * _at_target(eta, target) + 1.0


def pseudo_spherical_score(log_eta: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """-(eta_t / ||eta||_gamma)^(gamma - 1); gamma = 2 is the spherical rule.

    Computed in log space, log(eta_t / ||eta||_gamma) = log eta_t - logsumexp(gamma log eta) / gamma,
    so tiny probabilities neither underflow to 0/0 nor lose the gradient.
    """
    if not gamma > 1:
        raise ValueError(f"gamma={gamma!r} is invalid for the pseudo-spherical rule; pass gamma > 1.")
    log_norm = torch.logsumexp(gamma * log_eta, dim=-1) / gamma
    return -torch.exp((gamma - 1.0) * (_at_target(log_eta, target) - log_norm))


def spherical_score(log_eta: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-eta_t / ||eta||_2: the pseudo-spherical rule with gamma = 2."""
    return pseudo_spherical_score(log_eta, target, gamma=2.0)


RULES: dict[str, ScoringRule] = {
    "log": log_score,
    "brier": brier_score,
    "spherical": spherical_score,
    "pseudo_spherical": pseudo_spherical_score,
}


def get_rule(rule: str, gamma: float | None = None) -> ScoringRule:
    """Look a rule up by name; ``gamma`` applies to ``pseudo_spherical`` only (default 2)."""
    if rule not in RULES:
        raise ValueError(f"rule={rule!r} is unknown; choose one of {sorted(RULES)}.")
    if rule == "pseudo_spherical":
        order = 2.0 if gamma is None else float(gamma)
        if not order > 1:
            raise ValueError(f"gamma={gamma!r} is invalid for the pseudo-spherical rule; pass gamma > 1.")
        return lambda log_eta, target: pseudo_spherical_score(log_eta, target, gamma=order)
    if gamma is not None:
        raise ValueError(f"gamma applies to rule='pseudo_spherical' only, not rule={rule!r}; drop gamma.")
    return RULES[rule]
