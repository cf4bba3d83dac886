"""Classical MI estimators that need no training: KSG and the Gaussian closed form.

Both return an :class:`MIResult` in nats with every pair counted as test data (n_train = 0).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma

from ._validation import check_pair
from .result import MIResult


def _standardize(values: np.ndarray) -> np.ndarray:
    scale = values.std(axis=0)
    return (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def ksg(x, y, k: int = 3, seed: int = 0, jitter: float = 1e-10) -> MIResult:
    """Kraskov-Stoegbauer-Grassberger estimator, algorithm 1 (max-norm, k-th neighbour).

    I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >, with n_x, n_y the marginal neighbour
    counts strictly inside each point's joint k-NN radius. Columns are standardised and a
    ``jitter``-sized noise (seeded) breaks ties between repeated values, as Kraskov et al.
    recommend. ``stderr`` is sd(per-point terms)/sqrt(N): a rough guide that ignores the
    dependence between neighbour counts. Cost O(N log N) per query, slower in high dimension.

    Shape:
        x: (n, dim_x), y: (n, dim_y).
    """
    started = time.perf_counter()
    x_array, y_array = check_pair(x, y, min_samples=k + 2)
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k={k!r} is invalid; pass a neighbour count k >= 1.")
    rng = np.random.default_rng(seed)
    x_array = _standardize(x_array) + jitter * rng.standard_normal(x_array.shape)
    y_array = _standardize(y_array) + jitter * rng.standard_normal(y_array.shape)
    joint = np.hstack([x_array, y_array])
    n = joint.shape[0]
    radius = cKDTree(joint).query(joint, k=k + 1, p=np.inf, workers=-1)[0][:, k]
    strict = np.nextafter(radius, 0)
    n_x = cKDTree(x_array).query_ball_point(x_array, strict, p=np.inf, return_length=True, workers=-1) - 1
    n_y = cKDTree(y_array).query_ball_point(y_array, strict, p=np.inf, return_length=True, workers=-1) - 1
    terms = digamma(k) + digamma(n) - digamma(n_x + 1) - digamma(n_y + 1)
    return MIResult(
        mi=float(terms.mean()), stderr=float(terms.std(ddof=1) / np.sqrt(n)), n_train=0, n_test=n,
        objective="ksg", readout="ksg", info={"k": k, "seconds": time.perf_counter() - started},
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
