"""x and y coupled through a shared Gaussian latent: exact MI and exact pointwise MI (PMI).

The pair-scoring study (:mod:`anchormi.pairs`) needs the true log ratio of every single pair, not
only its mean; this task gives both in closed form.

Generative model, per sample:
    z ~ N(0, I_k)                                  (k = ``latent_dim``, the interaction)
    u = [sqrt(rho) z + sqrt(1 - rho) e_x, n_x]     (dim_x; n_x ~ N(0, I) is nuisance)
    v = [sqrt(rho) z + sqrt(1 - rho) e_y, n_y]     (dim_y)
    x = Q_x u,  y = warp(Q_y v)                    (fixed random rotations; warp is y -> y^3 or none)

The first k coordinates of u and v are pairs with correlation rho, so
I(X; Y) = -k/2 log(1 - rho^2) = ``mi`` nats, and rho follows from ``mi``. Rotations and the warp
are one-to-one, so they leave every pointwise log ratio unchanged; they only make a critic's job
harder (the signal is spread over all coordinates and y is non-Gaussian).
"""

from __future__ import annotations

import math

import numpy as np

from ._arguments import check_positive_int, check_positive_real, check_seed, format_number
from .interface import Task, _as_generator
from .transforms import random_rotation

WARPS = ("cubic", "none")


class LatentPairTask(Task):
    """The latent-pair distribution (module docstring) with its exact PMI.

    Attributes:
        latent_dim: k, the number of latent coordinates x and y share.
        rho: correlation of each shared coordinate pair of u and v.
        warp: "cubic" or "none".
        rotation_x, rotation_y: the fixed orthogonal matrices Q_x (dim_x, dim_x), Q_y (dim_y, dim_y).

    Samples: x of shape (n, dim_x), y of shape (n, dim_y), float64.
    """

    def __init__(self, dim_x: int = 10, dim_y: int = 10, latent_dim: int = 4, mi: float = 2.0,
                 warp: str = "cubic", seed: int = 0) -> None:
        dim_x = check_positive_int(dim_x, "dim_x", "the dimension of x", "dim_x=10")
        dim_y = check_positive_int(dim_y, "dim_y", "the dimension of y", "dim_y=10")
        latent_dim = check_positive_int(latent_dim, "latent_dim", "the number of shared latent coordinates", "latent_dim=4")
        if latent_dim > min(dim_x, dim_y):
            raise ValueError(f"latent_dim={latent_dim} exceeds dim_x={dim_x} or dim_y={dim_y}; pass latent_dim <= both.")
        mi = check_positive_real(mi, "mi", "the mutual information in nats", "mi=2.0")
        if warp not in WARPS:
            raise ValueError(f"warp={warp!r} is invalid; pass 'cubic' or 'none'.")
        name = f"latent-pair-dx{dim_x}-dy{dim_y}-k{latent_dim}-mi{format_number(mi)}" + ("-cubic" if warp == "cubic" else "")
        super().__init__(name=name, dim_x=dim_x, dim_y=dim_y, mi=mi)
        self.latent_dim, self.warp = latent_dim, warp
        # Per coordinate, -1/2 log(1 - rho^2) = mi / k.
        self.rho = math.sqrt(-math.expm1(-2.0 * mi / latent_dim))
        rng = np.random.default_rng(check_seed(seed, "the seed of the rotations"))  # the task, not the samples
        self.rotation_x = random_rotation(dim_x, rng)
        self.rotation_y = random_rotation(dim_y, rng)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k = self.latent_dim
        latent = rng.standard_normal((n, k))
        u = rng.standard_normal((n, self.dim_x))
        v = rng.standard_normal((n, self.dim_y))
        scale_shared, scale_own = math.sqrt(self.rho), math.sqrt(1.0 - self.rho)
        u[:, :k] = scale_shared * latent + scale_own * u[:, :k]
        v[:, :k] = scale_shared * latent + scale_own * v[:, :k]
        return u @ self.rotation_x.T, self._warp(v @ self.rotation_y.T)

    def sample_x(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """n draws of x ~ p(x) alone (the marginal of x). Shape (n, dim_x), float64."""
        return _as_generator(seed).standard_normal((n, self.dim_x)) @ self.rotation_x.T

    def true_pmi(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(x_i, y_i) / (p(x_i) p(y_i)) in nats for each row pair, exact. Shape (n,)."""
        u = (np.asarray(x, dtype=np.float64) @ self.rotation_x)[:, : self.latent_dim]
        v = (self._unwarp(np.asarray(y, dtype=np.float64)) @ self.rotation_y)[:, : self.latent_dim]
        rho = self.rho
        one_minus = math.exp(-2.0 * self.mi / self.latent_dim)  # 1 - rho^2, exact near rho = 1
        # Bivariate standard normal with correlation rho over the product of its marginals.
        per_coordinate = -0.5 * math.log(one_minus) - (rho * rho * (u * u + v * v) - 2.0 * rho * u * v) / (2.0 * one_minus)
        return per_coordinate.sum(axis=1)

    def _warp(self, values: np.ndarray) -> np.ndarray:
        return values**3 if self.warp == "cubic" else values

    def _unwarp(self, values: np.ndarray) -> np.ndarray:
        return np.cbrt(values) if self.warp == "cubic" else values

    def __repr__(self) -> str:
        return (f"LatentPairTask(dim_x={self.dim_x}, dim_y={self.dim_y}, latent_dim={self.latent_dim}, "
                f"mi={self.mi:g} nats, warp={self.warp!r})")


def latent_pair(dim_x: int = 10, dim_y: int = 10, latent_dim: int = 4, mi: float = 2.0,
                warp: str = "cubic", seed: int = 0) -> LatentPairTask:
    """x, y sharing a k-dimensional Gaussian latent, with exact I(X; Y) = ``mi`` nats and exact PMI.

    Args:
        dim_x, dim_y: dimensions of x and y (>= latent_dim).
        latent_dim: k, the number of latent coordinates x and y share.
        mi: I(X; Y) in nats (> 0); larger is an easier scoring task.
        warp: "cubic" (y -> y^3, elementwise) or "none".
        seed: fixes the rotations (the task), not the samples.

    Samples: x of shape (n, dim_x), y of shape (n, dim_y), float64. ``true_pmi(x, y)`` gives the
    (n,) exact log ratio of each row pair; ``sample_x(n)`` draws x from its marginal.
    """
    return LatentPairTask(dim_x=dim_x, dim_y=dim_y, latent_dim=latent_dim, mi=mi, warp=warp, seed=seed)
