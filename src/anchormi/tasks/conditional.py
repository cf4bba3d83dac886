"""Triples (x, y, z) with exact conditional mutual information I(X; Y | Z) and exact I(X; Y).

Three Gaussian families, each built from a canonical structure and then mixed by a fixed random
invertible linear map per variable (seeded by ``seed``), so the covariance is dense:

- ``conditional_gaussian``: X and Y share Z and, given Z, are correlated: I(X; Y | Z) = ``cmi``;
- ``chain`` X -> Z -> Y: I(X; Y | Z) = 0 exactly while I(X; Y) = ``mi`` > 0;
- ``collider`` X -> Z <- Y: I(X; Y) = 0 exactly while I(X; Y | Z) = ``cmi`` > 0.

For a Gaussian with joint covariance Sigma of (X, Y, Z) (docs/method.md section 8),

    I(X; Y | Z) = 1/2 log( |Sigma_XZ| |Sigma_YZ| / (|Sigma_Z| |Sigma_XYZ|) ),
    I(X; Y)     = 1/2 log( |Sigma_X| |Sigma_Y| / |Sigma_XY| ),

with Sigma_AB the covariance of the stacked variables A and B. Both are invariant under an
invertible map of each variable separately, which is why the linear mixing keeps the canonical
values, and why ``warp="monotone"`` (x -> x^3, y -> sinh y, z -> z + 0.3 z^3, coordinatewise and
strictly increasing) gives non-Gaussian triples with the same truths.

A :class:`ConditionalTask` is not a :class:`~anchormi.tasks.interface.Task`: its ``sample`` returns
three arrays, so code written for pairs cannot take one by mistake. ``pair("xy")`` gives the
(X, Y) marginal as a Task, and ``pair("xz")`` / ``pair("x_yz")`` the pairs of the chain rule
I(X; Y | Z) = I(X; (Y, Z)) - I(X; Z).
"""

from __future__ import annotations

import abc
import math
from numbers import Real
from typing import Any, Callable

import numpy as np

from ._arguments import check_positive_int, check_positive_real, check_seed, format_number
from .interface import Task, _as_generator, _sample_size
from .transforms import random_rotation

ArrayMap = Callable[[np.ndarray], np.ndarray]
WARPS = ("none", "monotone")
PAIRS = ("xy", "xz", "x_yz")
# z -> z + CUBIC_PLUS z^3 in the "monotone" warp.
CUBIC_PLUS = 0.3


# ---- closed forms -----------------------------------------------------------------------------


def _log_det(matrix: np.ndarray) -> float:
    if matrix.size == 0:
        return 0.0  # the determinant of a 0 x 0 matrix is 1
    sign, value = np.linalg.slogdet(matrix)
    if sign <= 0:
        raise ValueError("the covariance is not positive definite; pass a symmetric positive definite matrix.")
    return float(value)


def _block(covariance: np.ndarray, index: np.ndarray) -> np.ndarray:
    return covariance[np.ix_(index, index)]


def gaussian_cmi(covariance: np.ndarray, dim_x: int, dim_y: int) -> float:
    """I(X; Y | Z) in nats of a Gaussian (X, Y, Z) with joint ``covariance``.

    The first ``dim_x`` coordinates are X, the next ``dim_y`` are Y and the rest are Z (none: the
    result is I(X; Y)). Value: 1/2 log(|S_XZ| |S_YZ| / (|S_Z| |S_XYZ|)).

    Shape:
        covariance: (dim_x + dim_y + dim_z, dim_x + dim_y + dim_z).
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    total = covariance.shape[0]
    x_index = np.arange(dim_x)
    y_index = np.arange(dim_x, dim_x + dim_y)
    z_index = np.arange(dim_x + dim_y, total)
    return 0.5 * (
        _log_det(_block(covariance, np.concatenate([x_index, z_index])))
        + _log_det(_block(covariance, np.concatenate([y_index, z_index])))
        - _log_det(_block(covariance, z_index))
        - _log_det(covariance)
    )


def gaussian_mi(covariance: np.ndarray, dim_x: int, dim_y: int) -> float:
    """I(X; Y) in nats of a Gaussian whose first ``dim_x`` coordinates are X and next ``dim_y`` are Y.

    Coordinates after those (Z) are marginalised out. Value: 1/2 log(|S_X| |S_Y| / |S_XY|).
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    return gaussian_cmi(covariance[: dim_x + dim_y, : dim_x + dim_y], dim_x, dim_y)


# ---- the protocol -------------------------------------------------------------------------------


class ConditionalTask(abc.ABC):
    """A joint distribution p(x, y, z) with known I(X; Y | Z), I(X; Y) and I(X; Z), sampled on demand.

    Attributes:
        name: readable identifier, e.g. ``"chain-dx5-dy5-dz5-mi1-s0"``.
        dim_x, dim_y, dim_z: numbers of columns of x, y and z.
        cmi: exact I(X; Y | Z) in nats; ``cmi_bits`` in bits.
        mi: exact I(X; Y) in nats; ``bits`` in bits.
        mi_xz: exact I(X; Z) in nats, so I(X; (Y, Z)) = ``mi_xz + cmi`` (the chain rule).
    """

    def __init__(self, name: str, dim_x: int, dim_y: int, dim_z: int, mi: float, cmi: float, mi_xz: float) -> None:
        self._name = str(name)
        self._dims = (int(dim_x), int(dim_y), int(dim_z))
        self._mi, self._cmi, self._mi_xz = float(mi), float(cmi), float(mi_xz)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim_x(self) -> int:
        return self._dims[0]

    @property
    def dim_y(self) -> int:
        return self._dims[1]

    @property
    def dim_z(self) -> int:
        return self._dims[2]

    @property
    def cmi(self) -> float:
        """Exact I(X; Y | Z) in nats."""
        return self._cmi

    @property
    def cmi_bits(self) -> float:
        """Exact I(X; Y | Z) in bits."""
        return self._cmi / math.log(2.0)

    @property
    def mi(self) -> float:
        """Exact I(X; Y) in nats."""
        return self._mi

    @property
    def bits(self) -> float:
        """Exact I(X; Y) in bits."""
        return self._mi / math.log(2.0)

    @property
    def mi_xz(self) -> float:
        """Exact I(X; Z) in nats."""
        return self._mi_xz

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. triples from p(x, y, z).

        Args:
            n: number of triples, a positive integer.
            seed: an integer seed or a ``numpy.random.Generator`` (used as is; its state advances).

        Returns:
            ``(x, y, z)``: float64 arrays of shapes ``(n, dim_x)``, ``(n, dim_y)``, ``(n, dim_z)``.
        """
        n = _sample_size(n)
        arrays = self._sample(n, _as_generator(seed))
        arrays = tuple(np.ascontiguousarray(a, dtype=np.float64) for a in arrays)
        expected = ((n, self.dim_x), (n, self.dim_y), (n, self.dim_z))
        if tuple(a.shape for a in arrays) != expected:
            raise RuntimeError(
                f"task {self.name!r} returned shapes {[a.shape for a in arrays]}; expected {list(expected)}. "
                "This is a bug in the task."
            )
        return arrays  # type: ignore[return-value]

    @abc.abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(x, y, z)`` drawn with ``rng``."""

    def pair(self, which: str = "xy") -> Task:
        """A pair view as a :class:`Task` with exact MI: ``"xy"`` (X, Y), ``"xz"`` (X, Z) or
        ``"x_yz"`` (X, [Y, Z]) with MI ``mi``, ``mi_xz`` and ``mi_xz + cmi`` respectively."""
        if which not in PAIRS:
            raise ValueError(f"which={which!r} is invalid; pass one of {PAIRS}.")
        return _PairView(self, which)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim_x={self.dim_x}, dim_y={self.dim_y}, dim_z={self.dim_z}, "
            f"cmi={self.cmi:.6g} nats, mi={self.mi:.6g} nats)"
        )


class _PairView(Task):
    """Two of the three variables of a ConditionalTask, as a pair task."""

    def __init__(self, task: ConditionalTask, which: str) -> None:
        dim_y = {"xy": task.dim_y, "xz": task.dim_z, "x_yz": task.dim_y + task.dim_z}[which]
        mi = {"xy": task.mi, "xz": task.mi_xz, "x_yz": task.mi_xz + task.cmi}[which]
        super().__init__(name=f"{task.name}-{which}", dim_x=task.dim_x, dim_y=dim_y, mi=mi)
        self.task, self.which = task, which

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        x, y, z = self.task.sample(n, rng)
        return x, {"xy": y, "xz": z, "x_yz": np.hstack([y, z])}[self.which]


# ---- Gaussian triples ---------------------------------------------------------------------------


class GaussianConditionalTask(ConditionalTask):
    """(X, Y, Z) jointly Gaussian, mean 0, with the given joint ``covariance``.

    ``cmi``, ``mi`` and ``mi_xz`` come from the block determinants (:func:`gaussian_cmi`,
    :func:`gaussian_mi`) unless the family knows one of them to be exactly zero
    (``exact_zero``: ``"cmi"`` for a chain, ``"mi"`` for a collider).

    Shape:
        covariance: (dim_x + dim_y + dim_z, dim_x + dim_y + dim_z); samples as in ConditionalTask.
    """

    def __init__(self, name: str, covariance: np.ndarray, dim_x: int, dim_y: int, dim_z: int,
                 exact_zero: str | None = None) -> None:
        covariance = np.asarray(covariance, dtype=np.float64)
        total = dim_x + dim_y + dim_z
        if covariance.shape != (total, total) or not np.allclose(covariance, covariance.T, rtol=0, atol=1e-12):
            raise ValueError(f"covariance must be a symmetric ({total}, {total}) matrix; got shape {covariance.shape}.")
        self.covariance = 0.5 * (covariance + covariance.T)
        self._cholesky = np.linalg.cholesky(self.covariance)
        cmi = 0.0 if exact_zero == "cmi" else gaussian_cmi(self.covariance, dim_x, dim_y)
        mi = 0.0 if exact_zero == "mi" else gaussian_mi(self.covariance, dim_x, dim_y)
        # I(X; Z): Z moved next to X.
        order = np.r_[np.arange(dim_x), np.arange(dim_x + dim_y, total)]
        mi_xz = gaussian_mi(_block(self.covariance, order), dim_x, dim_z)
        super().__init__(name, dim_x, dim_y, dim_z, mi=mi, cmi=cmi, mi_xz=mi_xz)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        joint = rng.standard_normal((n, self.covariance.shape[0])) @ self._cholesky.T
        return np.split(joint, [self.dim_x, self.dim_x + self.dim_y], axis=1)  # type: ignore[return-value]


def random_mixing(dim: int, rng: np.random.Generator) -> np.ndarray:
    """A random invertible (dim, dim) matrix Q diag(s): Q orthogonal, s in [e^-0.5, e^0.5], so its
    condition number is at most e and the mixed covariance stays well conditioned."""
    return random_rotation(dim, rng) * np.exp(rng.uniform(-0.5, 0.5, size=dim))


def _mixed(canonical: np.ndarray, dims: tuple[int, int, int], seed: int) -> np.ndarray:
    """M canonical M^T with M block-diagonal, one random invertible block per variable."""
    rng = np.random.default_rng([int(seed), 7])
    mixing = np.zeros_like(canonical)
    start = 0
    for dim in dims:
        mixing[start:start + dim, start:start + dim] = random_mixing(dim, rng)
        start += dim
    return mixing @ canonical @ mixing.T


def _set_symmetric(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray, block: np.ndarray) -> None:
    """Write ``block`` at (rows, cols) and its transpose at (cols, rows)."""
    matrix[np.ix_(rows, cols)] = block
    matrix[np.ix_(cols, rows)] = np.asarray(block).T


def _pair_indices(dims: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dim_x, dim_y, _ = dims
    return np.arange(dim_x), np.arange(dim_x, dim_x + dim_y), np.arange(dim_x + dim_y, sum(dims))


# ---- monotone warps ---------------------------------------------------------------------------


def cube(values: np.ndarray) -> np.ndarray:
    """v^3, elementwise; strictly increasing."""
    return values**3


def cube_inverse(values: np.ndarray) -> np.ndarray:
    return np.cbrt(values)


def cubic_plus(values: np.ndarray) -> np.ndarray:
    """v + 0.3 v^3, elementwise; strictly increasing (derivative 1 + 0.9 v^2 > 0)."""
    return values + CUBIC_PLUS * values**3


def cubic_plus_inverse(values: np.ndarray) -> np.ndarray:
    """The real root t of 0.3 t^3 + t - v = 0 (Cardano; the cubic has exactly one real root)."""
    half = values / (2.0 * CUBIC_PLUS)
    root = np.sqrt(half**2 + (1.0 / (3.0 * CUBIC_PLUS)) ** 3)
    return np.cbrt(half + root) + np.cbrt(half - root)


MONOTONE_MAPS: tuple[ArrayMap, ArrayMap, ArrayMap] = (cube, np.sinh, cubic_plus)
MONOTONE_INVERSES: tuple[ArrayMap, ArrayMap, ArrayMap] = (cube_inverse, np.arcsinh, cubic_plus_inverse)


class TransformedConditionalTask(ConditionalTask):
    """A base triple task with x -> fx(x), y -> fy(y), z -> fz(z); every truth is the base task's.

    I(X; Y | Z), I(X; Y) and I(X; Z) are invariant under a one-to-one map of each variable
    separately; the caller guarantees that the maps are one-to-one and keep the width.
    """

    def __init__(self, base: ConditionalTask, fx: ArrayMap | None, fy: ArrayMap | None, fz: ArrayMap | None,
                 name: str) -> None:
        if not isinstance(base, ConditionalTask):
            raise ValueError(f"base={base!r} is invalid: pass a ConditionalTask, e.g. anchormi.tasks.chain().")
        for argument, value in (("fx", fx), ("fy", fy), ("fz", fz)):
            if value is not None and not callable(value):
                raise ValueError(f"{argument}={value!r} is invalid: pass a function array -> array, or None for identity.")
        super().__init__(name, base.dim_x, base.dim_y, base.dim_z, mi=base.mi, cmi=base.cmi, mi_xz=base.mi_xz)
        self.base, self.maps = base, (fx, fy, fz)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = self.base.sample(n, rng)
        return tuple(a if f is None else f(a) for a, f in zip(arrays, self.maps))  # type: ignore[return-value]


def transformed_conditional(task: ConditionalTask, fx: ArrayMap | None, fy: ArrayMap | None,
                            fz: ArrayMap | None, name: str) -> TransformedConditionalTask:
    """Apply one-to-one maps to x, y and z (None = identity); cmi, mi and mi_xz stay the task's."""
    return TransformedConditionalTask(task, fx, fy, fz, name)


# ---- argument checks and builders ----------------------------------------------------------------


def _dims(dim_x: Any, dim_y: Any, dim_z: Any) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        check_positive_int(value, argument, f"the dimension of {argument[-1]}", f"{argument}=5")
        for argument, value in (("dim_x", dim_x), ("dim_y", dim_y), ("dim_z", dim_z))
    )


def _check_nonnegative(value: Any, argument: str, example: str) -> float:
    if isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(f"{argument}={value!r} is invalid: the information in nats must be a finite number >= 0; pass e.g. {example}.")


def _finish(task: GaussianConditionalTask, warp: str) -> ConditionalTask:
    if warp not in WARPS:
        raise ValueError(f"warp={warp!r} is invalid; pass 'none' (Gaussian) or 'monotone' (x^3, sinh y, z + 0.3 z^3).")
    if warp == "none":
        return task
    return TransformedConditionalTask(task, *MONOTONE_MAPS, name=f"{task.name}-monotone")


def conditional_gaussian(dim_x: int = 5, dim_y: int = 5, dim_z: int = 5, cmi: float = 1.0, seed: int = 0,
                         warp: str = "none") -> ConditionalTask:
    """X and Y both driven by Z, and correlated given Z: I(X; Y | Z) = ``cmi`` nats.

    Canonically z ~ N(0, I), x = P_x z + u, y = P_y z + v with random P (seeded) and (u_k, v_k)
    correlated by rho for k < min(dim_x, dim_y), rho = sqrt(1 - exp(-2 cmi / min(dim_x, dim_y)));
    then each variable is mixed by a random invertible matrix. ``mi`` comes from the blocks; it can
    be larger or smaller than ``cmi`` (the paths through Z and given Z may add or cancel).

    Args:
        dim_x, dim_y, dim_z: dimensions (>= 1).
        cmi: the conditional MI in nats (>= 0).
        seed: seed of the covariance (not of the samples).
        warp: "none" (Gaussian) or "monotone" (x -> x^3, y -> sinh y, z -> z + 0.3 z^3; truths unchanged).
    """
    dims = _dims(dim_x, dim_y, dim_z)
    cmi = _check_nonnegative(cmi, "cmi", "cmi=1.0")
    seed = check_seed(seed, "the task's covariance seed")
    dim_x, dim_y, dim_z = dims
    x_index, y_index, z_index = _pair_indices(dims)
    rng = np.random.default_rng([seed, 3])
    loading_x = rng.standard_normal((dim_x, dim_z)) / math.sqrt(dim_z)
    loading_y = rng.standard_normal((dim_y, dim_z)) / math.sqrt(dim_z)
    paired = min(dim_x, dim_y)
    rho = math.sqrt(-math.expm1(-2.0 * cmi / paired))
    noise_xy = np.zeros((dim_x, dim_y))
    noise_xy[np.arange(paired), np.arange(paired)] = rho
    canonical = np.zeros((sum(dims), sum(dims)))
    _set_symmetric(canonical, z_index, z_index, np.eye(dim_z))
    _set_symmetric(canonical, x_index, z_index, loading_x)
    _set_symmetric(canonical, y_index, z_index, loading_y)
    _set_symmetric(canonical, x_index, x_index, loading_x @ loading_x.T + np.eye(dim_x))
    _set_symmetric(canonical, y_index, y_index, loading_y @ loading_y.T + np.eye(dim_y))
    _set_symmetric(canonical, x_index, y_index, loading_x @ loading_y.T + noise_xy)
    name = f"conditional-gaussian-dx{dim_x}-dy{dim_y}-dz{dim_z}-cmi{format_number(cmi)}-s{seed}"
    task = GaussianConditionalTask(name, _mixed(canonical, dims, seed), *dims)
    task.rho = rho
    return _finish(task, warp)


def chain(dim_x: int = 5, dim_y: int = 5, dim_z: int = 5, mi: float = 1.0, seed: int = 0,
          warp: str = "none") -> ConditionalTask:
    """A Markov chain X -> Z -> Y: I(X; Y | Z) = 0 exactly and I(X; Y) = ``mi`` nats.

    Canonically x ~ N(0, I), z_k = rho x_k + sqrt(1 - rho^2) e_k and y_k = rho z_k + sqrt(1 - rho^2) e'_k
    for k < m = min(dim_x, dim_y, dim_z) (other coordinates are independent noise), so
    corr(x_k, y_k) = rho^2 and I(X; Y) = -m/2 log(1 - rho^4) = ``mi``; then each variable is
    mixed by a random invertible matrix. ``mi`` is recomputed from the blocks.

    Args: as :func:`conditional_gaussian`, with ``mi`` > 0 the MI of X and Y in nats.
    """
    dims = _dims(dim_x, dim_y, dim_z)
    mi = check_positive_real(mi, "mi", "the mutual information in nats", "mi=1.0")
    seed = check_seed(seed, "the task's covariance seed")
    dim_x, dim_y, dim_z = dims
    x_index, y_index, z_index = _pair_indices(dims)
    linked = min(dims)
    rho_squared = math.sqrt(-math.expm1(-2.0 * mi / linked))
    rho = math.sqrt(rho_squared)
    link_xz = np.zeros((dim_x, dim_z))
    link_xz[np.arange(linked), np.arange(linked)] = rho
    link_zy = np.zeros((dim_z, dim_y))
    link_zy[np.arange(linked), np.arange(linked)] = rho
    canonical = np.eye(sum(dims))
    _set_symmetric(canonical, x_index, z_index, link_xz)
    _set_symmetric(canonical, z_index, y_index, link_zy)
    _set_symmetric(canonical, x_index, y_index, link_xz @ link_zy)  # Cov(X, Y) = Cov(X, Z) Cov(Z)^-1 Cov(Z, Y)
    name = f"chain-dx{dim_x}-dy{dim_y}-dz{dim_z}-mi{format_number(mi)}-s{seed}"
    task = GaussianConditionalTask(name, _mixed(canonical, dims, seed), *dims, exact_zero="cmi")
    task.rho = rho
    return _finish(task, warp)


def collider(dim_x: int = 5, dim_y: int = 5, dim_z: int = 5, cmi: float = 1.0, seed: int = 0,
             warp: str = "none") -> ConditionalTask:
    """A collider X -> Z <- Y: I(X; Y) = 0 exactly and I(X; Y | Z) = ``cmi`` nats.

    Canonically x, y ~ N(0, I) independent and z_k = alpha (x_k + y_k) + e_k for k < m =
    min(dim_x, dim_y, dim_z). Given z_k, x_k and y_k have correlation -alpha^2 / (alpha^2 + 1), so
    I(X; Y | Z) = -m/2 log(1 - (alpha^2 / (alpha^2 + 1))^2) = ``cmi``; then each variable is mixed
    by a random invertible matrix. ``cmi`` is recomputed from the blocks.

    Args: as :func:`conditional_gaussian`, with ``cmi`` > 0.
    """
    dims = _dims(dim_x, dim_y, dim_z)
    cmi = check_positive_real(cmi, "cmi", "the conditional mutual information in nats", "cmi=1.0")
    seed = check_seed(seed, "the task's covariance seed")
    dim_x, dim_y, dim_z = dims
    x_index, y_index, z_index = _pair_indices(dims)
    linked = min(dims)
    conditional_correlation = math.sqrt(-math.expm1(-2.0 * cmi / linked))  # alpha^2 / (alpha^2 + 1)
    alpha = math.sqrt(conditional_correlation / (1.0 - conditional_correlation))
    link = np.zeros((dim_x, dim_z))
    link[np.arange(linked), np.arange(linked)] = alpha
    link_y = np.zeros((dim_y, dim_z))
    link_y[np.arange(linked), np.arange(linked)] = alpha
    canonical = np.eye(sum(dims))
    _set_symmetric(canonical, x_index, z_index, link)
    _set_symmetric(canonical, y_index, z_index, link_y)
    _set_symmetric(canonical, z_index, z_index, np.eye(dim_z) + link.T @ link + link_y.T @ link_y)
    name = f"collider-dx{dim_x}-dy{dim_y}-dz{dim_z}-cmi{format_number(cmi)}-s{seed}"
    task = GaussianConditionalTask(name, _mixed(canonical, dims, seed), *dims, exact_zero="mi")
    task.alpha = alpha
    return _finish(task, warp)
