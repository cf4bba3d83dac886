"""Wrappers that push x and y through injective maps, which leaves I(X; Y) unchanged.

Mutual information is invariant under injective (one-to-one) measurable maps of x and of y
separately, so a wrapped task keeps the base task's exact MI while its marginals stop being
Gaussian. Each built-in map is strictly increasing per coordinate, hence one-to-one on R.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import special

from .interface import Task

ArrayMap = Callable[[np.ndarray], np.ndarray]


def half_cube_map(values: np.ndarray) -> np.ndarray:
    """sign(v) |v|^1.5, elementwise; strictly increasing on R. Same shape as ``values``."""
    return np.sign(values) * np.abs(values) ** 1.5


def half_cube_inverse(values: np.ndarray) -> np.ndarray:
    """Inverse of :func:`half_cube_map`: sign(u) |u|^(2/3)."""
    return np.sign(values) * np.abs(values) ** (2.0 / 3.0)


def cube_map(values: np.ndarray) -> np.ndarray:
    """v^3, elementwise; strictly increasing on R (the 'cubic' staircase variant)."""
    return values**3


def normal_cdf_map(values: np.ndarray) -> np.ndarray:
    """Standard normal CDF Phi(v), elementwise, into (0, 1).

    Float64 rounds Phi(v) to exactly 1.0 for v > ~8.3, so the map is one-to-one on samples only
    below that; :class:`TransformedTask` refuses samples where that happened.
    """
    return special.ndtr(values)


class TransformedTask(Task):
    """A base task with x -> fx(x) and y -> fy(y); the MI is the base task's, unchanged.

    The caller guarantees that ``fx`` and ``fy`` are one-to-one; that is what keeps the MI.
    Maps take and return float arrays of shape (n, d); by default they keep the shape, and
    ``dim_x`` / ``dim_y`` declare the output width of a map that changes it.
    """

    def __init__(
        self,
        base: Task,
        fx: ArrayMap | None,
        fy: ArrayMap | None,
        name: str,
        dim_x: int | None = None,
        dim_y: int | None = None,
        check_saturation: bool = False,
    ) -> None:
        _check_task(base)
        for argument, value in (("fx", fx), ("fy", fy)):
            if value is not None and not callable(value):
                raise ValueError(
                    f"{argument}={value!r} is invalid: pass a function array -> array, or None for identity."
                )
        super().__init__(
            name=name,
            dim_x=base.dim_x if dim_x is None else dim_x,
            dim_y=base.dim_y if dim_y is None else dim_y,
            mi=base.mi,
        )
        self.base = base
        self.fx = fx
        self.fy = fy
        # A squashing map (e.g. Phi) can round distinct inputs to the same float, which would lower
        # the MI of the samples below the stated value; with this flag such samples fail loudly.
        self.check_saturation = check_saturation

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y = self.base.sample(n, rng)
        x_mapped = x if self.fx is None else self.fx(x)
        y_mapped = y if self.fy is None else self.fy(y)
        if self.check_saturation:
            for argument, values in (("x", x_mapped), ("y", y_mapped)):
                n_saturated = int(np.count_nonzero((values == 0.0) | (values == 1.0)))
                if n_saturated:
                    raise RuntimeError(
                        f"task {self.name!r}: {n_saturated} entries of {argument} rounded to exactly 0 or 1, so "
                        "the map is no longer one-to-one and the stated MI would be wrong. Use this map only "
                        "on light-tailed tasks (e.g. gaussian), or use asinh for heavy tails."
                    )
        return x_mapped, y_mapped


def _check_task(task: object) -> None:
    if not isinstance(task, Task):
        raise ValueError(
            f"task={task!r} is invalid: pass an anchormi.tasks Task, e.g. anchormi.tasks.gaussian(dim=5, mi=1.0)."
        )


def transformed(
    task: Task,
    fx: ArrayMap | None,
    fy: ArrayMap | None,
    name: str,
    dim_x: int | None = None,
    dim_y: int | None = None,
) -> TransformedTask:
    """Apply one-to-one maps ``fx`` to x and ``fy`` to y (None = identity); MI stays ``task.mi``.

    Args:
        task: the base task.
        fx, fy: functions from an (n, d) float array to an (n, d') float array, one-to-one.
        name: the full name of the new task.
        dim_x, dim_y: output widths of fx and fy if they change the width (default: unchanged).
    """
    return TransformedTask(task, fx, fy, name, dim_x=dim_x, dim_y=dim_y)


def half_cube(task: Task) -> TransformedTask:
    """x -> sign(x)|x|^1.5 and the same for y; MI unchanged. Name: ``"half-cube-" + task.name``."""
    _check_task(task)
    return TransformedTask(task, half_cube_map, half_cube_map, f"half-cube-{task.name}")


def asinh(task: Task) -> TransformedTask:
    """x -> asinh(x) and the same for y (compresses tails); MI unchanged. Name: ``"asinh-" + task.name``."""
    _check_task(task)
    return TransformedTask(task, np.arcsinh, np.arcsinh, f"asinh-{task.name}")


def normal_cdf(task: Task) -> TransformedTask:
    """x -> Phi(x) and the same for y, into (0, 1); MI unchanged. Name: ``"normal-cdf-" + task.name``.

    Sampling raises RuntimeError if an entry rounds to exactly 0 or 1 (x > ~8.3 in float64),
    because then the map stops being one-to-one on the samples.
    """
    _check_task(task)
    return TransformedTask(task, normal_cdf_map, normal_cdf_map, f"normal-cdf-{task.name}", check_saturation=True)
