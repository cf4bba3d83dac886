"""Density-ratio fitting under an f-divergence (Bregman) loss: the K = 1 members of the family.

For a convex generator f, the critic's ratio r = exp(c) minimises
    L_f = E_q0[f'(r) r - f(r)] - E_q1[f'(r)],
whose minimiser is the true ratio r* = q1 / q0, and -L_f is a lower bound on D_f(q1 || q0).
The joint pairs (diagonal of S) are draws of q1, the product pairs (off-diagonal) of q0.
Terms are written in c = log r so that they stay finite where r is tiny.

| f | generator | noise term (q0) | joint term (q1) | known as |
|---|---|---|---|---|
| kl | t log t | e^c | -(c + 1) | NWJ with T = c + 1 |
| chi2 | (t-1)^2/2 | (e^{2c} - 1)/2 | -(e^c - 1) | least-squares ratio fitting (D-RF, uLSIF) |
| js | t log t - (1+t) log((1+t)/2) | softplus(c) - log 2 | softplus(-c) - log 2 | binary NCE (x2, shifted) |
| hellinger | (sqrt t - 1)^2 | e^{c/2} - 1 | e^{-c/2} - 1 | squared Hellinger |
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch
import torch.nn.functional as F

from .bounds import off_diagonal

Term = Callable[[torch.Tensor], torch.Tensor]
_LOG2 = math.log(2.0)

GENERATORS: dict[str, tuple[Term, Term]] = {
    "kl": (torch.exp, lambda c: -(c + 1.0)),
    "chi2": (lambda c: 0.5 * torch.expm1(2.0 * c), lambda c: -torch.expm1(c)),
    "js": (lambda c: F.softplus(c) - _LOG2, lambda c: F.softplus(-c) - _LOG2),
    "hellinger": (lambda c: torch.expm1(0.5 * c), lambda c: torch.expm1(-0.5 * c)),
}


def fdiv_loss(scores: torch.Tensor, generator: str = "kl", f: str | None = None) -> torch.Tensor:
    """Bregman ratio-fitting loss L_f (nats for generator = kl); every off-diagonal entry is a noise draw.

    ``f`` is the deprecated name of ``generator`` (kept for one release).

    Shape:
        scores: (B, B).  output: () scalar.
    """
    if f is not None:
        warnings.warn("fdiv_loss(f=...) is deprecated; pass generator=... instead.", DeprecationWarning, stacklevel=2)
        generator = f
    if generator not in GENERATORS:
        raise ValueError(f"generator={generator!r} is unknown; choose one of {sorted(GENERATORS)}.")
    noise_term, joint_term = GENERATORS[generator]
    return noise_term(off_diagonal(scores)).mean() + joint_term(scores.diagonal()).mean()


def chi2_loss(scores: torch.Tensor) -> torch.Tensor:
    """Least-squares ratio fitting (D-RF): E_q0[r^2/2] - E_q1[r] up to a constant; f = chi2."""
    return fdiv_loss(scores, generator="chi2")
