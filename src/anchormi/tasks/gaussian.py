"""Correlated Gaussians with a chosen MI: the Song & Ermon (2020) staircase task."""

from __future__ import annotations

import math

import numpy as np

from ._arguments import check_positive_int, check_positive_real, format_number
from .interface import Task
from .transforms import TransformedTask, cube_map


class CorrelatedGaussianTask(Task):
    """X, Y in R^dim with independent coordinate pairs (x_k, y_k) of correlation ``rho``.

    Every coordinate is standard normal. Each pair carries -1/2 log(1 - rho^2) nats, so the total is
    I(X; Y) = -dim/2 log(1 - rho^2) = ``mi`` exactly, with rho = sqrt(1 - exp(-2 mi / dim)).

    Samples: x, y of shape (n, dim), float64, unitless.
    """

    def __init__(self, dim: int, mi: float) -> None:
        dim = check_positive_int(dim, "dim", "the dimension of x and of y", "dim=20")
        mi = check_positive_real(mi, "mi", "the mutual information in nats", "mi=2.0")
        super().__init__(
            name=f"gaussian-d{dim}-mi{format_number(mi)}", dim_x=dim, dim_y=dim, mi=mi
        )
        # sqrt(1 - rho^2) = exp(-mi/dim) exactly; computing it directly keeps precision when rho -> 1.
        self.noise_scale = math.exp(-mi / dim)
        self.rho = math.sqrt(-math.expm1(-2.0 * mi / dim))

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x = rng.standard_normal((n, self.dim_x))
        noise = rng.standard_normal((n, self.dim_y))
        y = self.rho * x + self.noise_scale * noise
        return x, y


def gaussian(dim: int = 20, mi: float = 2.0) -> CorrelatedGaussianTask:
    """Correlated Gaussians X, Y in R^dim with I(X; Y) = ``mi`` nats.

    Args:
        dim: dimension of x and of y (>= 1).
        mi: mutual information in nats (> 0); per-coordinate rho = sqrt(1 - exp(-2 mi / dim)).
    """
    return CorrelatedGaussianTask(dim=dim, mi=mi)


def cubic(dim: int = 20, mi: float = 2.0) -> TransformedTask:
    """The Gaussian task with y -> y^3 (one-to-one, so I(X; Y) stays ``mi`` nats).

    Name: ``"cubic-d{dim}-mi{mi}"``. Samples: x, y of shape (n, dim), float64.
    """
    return TransformedTask(
        gaussian(dim=dim, mi=mi), None, cube_map, f"cubic-d{dim}-mi{format_number(float(mi))}"
    )
