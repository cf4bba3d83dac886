"""Wrappers that push x and y through injective maps, which leaves I(X; Y) unchanged.

Mutual information is invariant under injective (one-to-one) measurable maps of x and of y
separately, so a wrapped task keeps the base task's exact MI while its marginals stop being
Gaussian. half_cube, asinh and normal_cdf are strictly increasing per coordinate, hence one-to-one
on R; a per-column rank map (the normal scores an estimator may apply first) undoes them. spiral
and rotated mix coordinates, which no per-column map undoes: spiral rotates each point by an angle
that grows with its squared norm (the "spiral" diffeomorphism of Czyz et al., NeurIPS 2023), rotated
applies a fixed random orthogonal matrix (after a warp, e.g. ``rotated(half_cube(task))``).
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
from scipy import special

from ._arguments import check_positive_real, check_seed, format_number
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


def spiral_map(values: np.ndarray, speed: float) -> np.ndarray:
    """Rotate each row in the plane of its first two coordinates by ``speed * |row|^2`` radians.

    The rotation keeps the norm, so rotating back by the same angle inverts it
    (:func:`spiral_inverse`): one-to-one on R^d for d >= 2. Same shape as ``values``.
    """
    return _plane_rotation(values, speed * np.sum(values**2, axis=1))


def spiral_inverse(values: np.ndarray, speed: float) -> np.ndarray:
    """Inverse of :func:`spiral_map` (the norm, hence the angle, is unchanged by it)."""
    return _plane_rotation(values, -speed * np.sum(values**2, axis=1))


def _plane_rotation(values: np.ndarray, angle: np.ndarray) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    rotated = np.array(values, dtype=np.float64, copy=True)
    rotated[:, 0] = cos * values[:, 0] - sin * values[:, 1]
    rotated[:, 1] = sin * values[:, 0] + cos * values[:, 1]
    return rotated


def random_rotation(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A (dim, dim) orthogonal matrix drawn from the Haar measure."""
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


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


def spiral(task: Task, speed: float = 0.5) -> TransformedTask:
    """x -> spiral(x) and y -> spiral(y); MI unchanged. Name: ``"spiral-" + task.name`` (with
    ``"-v" + speed`` when the speed is not 0.5).

    Each point is rotated in the plane of its first two coordinates by ``speed * |v|^2`` radians
    (:func:`spiral_map`), a smooth one-to-one map that mixes those coordinates differently at each
    radius, so a per-column rank transform cannot undo it. On a base whose x and y are
    spherically symmetric (``gaussian``), the marginals are unchanged; only the dependence twists.

    Args:
        task: the base task; x and y need at least 2 dimensions each.
        speed: radians per unit of squared norm (> 0); 0.5 turns a typical 5-dimensional
            Gaussian point by about 2.5 radians.
    """
    _check_task(task)
    speed = check_positive_real(speed, "speed", "the spiral's radians per unit squared norm", "speed=0.5")
    if min(task.dim_x, task.dim_y) < 2:
        raise ValueError(
            f"spiral needs x and y of at least 2 dimensions (it rotates a plane); {task.name!r} has "
            f"dim_x={task.dim_x}, dim_y={task.dim_y}. Use a base task with dim >= 2."
        )
    suffix = "" if speed == 0.5 else f"-v{format_number(speed)}"
    turn = functools.partial(spiral_map, speed=speed)
    return TransformedTask(task, turn, turn, f"spiral-{task.name}{suffix}")


def rotated(task: Task, seed: int = 0) -> TransformedTask:
    """x -> Q_x x and y -> Q_y y with fixed random orthogonal matrices; MI unchanged.

    Name: ``"rotated-" + task.name`` (with ``"-r" + seed`` when the seed is not 0). A rotation
    alone keeps a Gaussian Gaussian; after a per-coordinate warp it mixes warped columns, so the
    marginals are no longer a per-column warp of a Gaussian (e.g. ``rotated(half_cube(task))``).
    ``rotation_x`` and ``rotation_y`` hold Q_x and Q_y.

    Args:
        task: the base task.
        seed: fixes the rotations (the task), not the samples.
    """
    _check_task(task)
    seed = check_seed(seed, "the seed of the rotations")
    rng = np.random.default_rng(seed)
    rotation_x, rotation_y = random_rotation(task.dim_x, rng), random_rotation(task.dim_y, rng)
    suffix = "" if seed == 0 else f"-r{seed}"
    wrapped = TransformedTask(
        task, lambda v: v @ rotation_x.T, lambda v: v @ rotation_y.T, f"rotated-{task.name}{suffix}"
    )
    wrapped.rotation_x, wrapped.rotation_y = rotation_x, rotation_y
    return wrapped
