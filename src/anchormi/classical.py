"""Classical MI estimators that need no training: KSG and the Gaussian closed form.

Both return an :class:`MIResult` in nats with every pair counted as test data (n_train = 0).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from ._validation import check_pair
from .result import MIResult

# Below this many samples per dimension of (x, y) both estimators are dominated by bias; they warn.
SAMPLES_PER_DIMENSION = 10


def _standardize(values: np.ndarray) -> np.ndarray:
    scale = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _check_count(value: Any, name: str, minimum: int) -> int:
    """An integer >= ``minimum`` (numpy integers too, bool not), else a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}={value!r} is invalid; pass an integer >= {minimum}.")
    return int(value)


def ksg(
    x,
    y,
    n_neighbors: int = 3,
    seed: int = 0,
    jitter: float = 1e-10,
    n_jobs: int = 1,
    *,
    k: int | None = None,
) -> MIResult:
    """Kraskov-Stoegbauer-Grassberger estimator, algorithm 1 (max-norm, k-th neighbour).

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >, with k = ``n_neighbors`` and n_x, n_y
    the marginal neighbour counts strictly inside each point's joint k-NN radius. Columns are
    standardised and a ``jitter``-sized noise (seeded) breaks ties between repeated values, as
    Kraskov et al. recommend. ``stderr`` is sd(per-point terms)/sqrt(N): a rough guide that ignores
    the dependence between neighbour counts. Cost O(N log N) per query, slower in high dimension.

    Args:
        n_neighbors: k, the neighbour count (``k=`` is its deprecated old name).
        n_jobs: threads for the neighbour queries; 1 (default) keeps to one core, -1 uses all.

    KSG is biased at small N or high dimension (downward for dependent data, and it can go below
    0, which the true MI never does); a ``UserWarning`` says so when N < 10 x (dim_x + dim_y) or
    the estimate is negative.

    Shape:
        x: (n, dim_x), y: (n, dim_y).
    """
    started = time.perf_counter()
    if k is not None:
        warnings.warn("ksg(k=...) is deprecated and will be removed in the next release; use n_neighbors=...",
                      DeprecationWarning, stacklevel=2)
        if n_neighbors != 3 and n_neighbors != k:
            raise ValueError(f"k={k!r} and n_neighbors={n_neighbors!r} disagree; pass only n_neighbors.")
    n_neighbors = _check_count(n_neighbors if k is None else k, "n_neighbors" if k is None else "k", 1)
    if isinstance(n_jobs, (bool, np.bool_)) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs={n_jobs!r} is invalid; pass a positive number of threads, or -1 for all cores.")
    x_array, y_array = check_pair(x, y, min_samples=n_neighbors + 2)
    rng = np.random.default_rng(seed)
    x_array = _standardize(x_array) + jitter * rng.standard_normal(x_array.shape)
    y_array = _standardize(y_array) + jitter * rng.standard_normal(y_array.shape)
    joint = np.hstack([x_array, y_array])
    n, dim = joint.shape
    workers = int(n_jobs)
    radius = cKDTree(joint).query(joint, k=n_neighbors + 1, p=np.inf, workers=workers)[0][:, n_neighbors]
    strict = np.nextafter(radius, 0)
    n_x = cKDTree(x_array).query_ball_point(x_array, strict, p=np.inf, return_length=True, workers=workers) - 1
    n_y = cKDTree(y_array).query_ball_point(y_array, strict, p=np.inf, return_length=True, workers=workers) - 1
    terms = digamma(n_neighbors) + digamma(n) - digamma(n_x + 1) - digamma(n_y + 1)
    mi = float(terms.mean())
    if n < SAMPLES_PER_DIMENSION * dim:
        warnings.warn(
            f"ksg: N = {n} samples is small for {dim} dimensions (dim_x + dim_y); k-NN estimates are dominated by "
            f"bias below about N = {SAMPLES_PER_DIMENSION} x {dim} = {SAMPLES_PER_DIMENSION * dim}. Use more samples "
            "or a trained estimator (method='anchor').",
            UserWarning, stacklevel=2,
        )
    if mi < 0:
        warnings.warn(
            f"ksg: the estimate {mi:.4f} nats is negative, but the true MI is >= 0; at this N the estimate is "
            "dominated by bias and noise (read it as 'no detectable dependence').",
            UserWarning, stacklevel=2,
        )
    return MIResult(
        mi=mi, stderr=float(terms.std(ddof=1) / np.sqrt(n)), n_train=0, n_test=n,
        objective="ksg", readout="ksg",
        info={"n_neighbors": n_neighbors, "n_jobs": workers, "seconds": time.perf_counter() - started},
    )


def _gaussian_log_density(centred: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    sign, logdet = np.linalg.slogdet(covariance)
    if sign <= 0 or not np.isfinite(logdet):
        raise ValueError(
            "the sample covariance is singular (collinear columns); the Gaussian MI is infinite or undefined. "
            "Remove duplicated or linearly dependent columns."
        )
    solved = np.linalg.solve(covariance, centred.T).T
    dim = covariance.shape[0]
    return -0.5 * (dim * np.log(2 * np.pi) + logdet + (centred * solved).sum(axis=1))


def gaussian(x, y) -> MIResult:
    """Closed form under joint Gaussianity: I = (log det S_x + log det S_y - log det S) / 2.

    The estimate is the mean over samples of the fitted Gaussian log ratio, which equals the
    closed form exactly for the maximum-likelihood covariance; ``stderr`` is the sd of those
    per-sample log ratios / sqrt(n) (delta method). Constant columns are independent of
    everything, contribute exactly 0 nats and are left out of the covariance so it stays
    invertible. Biased for non-Gaussian data (it measures only linear dependence).

    Needs N > dim_x + dim_y + 1 (else the covariance is singular: ValueError). Below
    N = 10 x (dim_x + dim_y) it is biased upward (about dim_x dim_y / (2N) nats at first order,
    far more near N = dim) and warns.

    Shape:
        x: (n, dim_x), y: (n, dim_y).
    """
    started = time.perf_counter()
    x_array, y_array = check_pair(x, y, min_samples=3)
    x_array = x_array[:, x_array.std(axis=0) > 0]
    y_array = y_array[:, y_array.std(axis=0) > 0]
    n = x_array.shape[0]
    if x_array.shape[1] == 0 or y_array.shape[1] == 0:
        terms = np.zeros(n)
    else:
        dim = x_array.shape[1] + y_array.shape[1]
        if n <= dim + 1:
            raise ValueError(
                f"method='gaussian' needs N > dim_x + dim_y + 1: N = {n} samples, but x and y have {dim} non-constant "
                f"columns together. With N <= {dim + 1} the sample covariance is singular and the closed form is "
                "undefined. Pass more samples than the total dimension (ideally 10 x), or reduce the dimension first."
            )
        if n < SAMPLES_PER_DIMENSION * dim:
            warnings.warn(
                f"gaussian: N = {n} samples for {dim} dimensions (dim_x + dim_y); below about {SAMPLES_PER_DIMENSION} x "
                f"{dim} = {SAMPLES_PER_DIMENSION * dim} samples the plug-in closed form is biased upward (to first order by "
                f"dim_x * dim_y / (2 N) = {x_array.shape[1] * y_array.shape[1] / (2 * n):.2f} nats, more as N nears the dimension), "
                "and its stderr does not show it.",
                UserWarning, stacklevel=2,
            )
        joint = np.hstack([x_array, y_array])
        centred = joint - joint.mean(axis=0)
        covariance = centred.T @ centred / n
        dim_x = x_array.shape[1]
        terms = (
            _gaussian_log_density(centred, covariance)
            - _gaussian_log_density(centred[:, :dim_x], covariance[:dim_x, :dim_x])
            - _gaussian_log_density(centred[:, dim_x:], covariance[dim_x:, dim_x:])
        )
    return MIResult(
        mi=float(terms.mean()), stderr=float(terms.std(ddof=1) / np.sqrt(n)), n_train=0, n_test=n,
        objective="gaussian", readout="gaussian", info={"seconds": time.perf_counter() - started},
    )


CLASSICAL = {"ksg": ksg, "gaussian": gaussian}
