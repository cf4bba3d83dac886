"""Classical MI estimators that need no training: KSG (and its conditional form, Frenzel-Pompe),
the Gaussian closed form and its Gaussian-copula form, and the plug-in for discrete data with the
Miller-Madow correction.

All return an :class:`MIResult` in nats with every pair counted as test data (n_train = 0).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import cKDTree
from scipy.special import digamma

from ._validation import check_array, check_pair
from .encoding import FEW_VALUES, FEW_VALUES_FRACTION
from .preprocessing import marginal_transform
from .result import MIResult

# Below this many samples per dimension of (x, y) both estimators are dominated by bias; they warn.
SAMPLES_PER_DIMENSION = 10
# Points closer than this (standardised units) are repeated values that only the jitter tells
# apart. KSG warns when, for more than TIED_SHARE of the points, such repeats make up at least
# half of a marginal neighbour count (the counts then measure ties, not distances).
TIE_RADIUS = 1e-6
TIED_SHARE = 0.10


def _standardize(values: np.ndarray) -> np.ndarray:
    """Z-score each column with the package's one standardiser (constant columns stay finite)."""
    return marginal_transform("zscore", values.shape[0]).fit_transform(values)


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
    z=None,
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
        z: a conditioning variable, shape (n,) or (n, dim_z). Given, the result is the conditional
            MI I(X; Y | Z) by the Frenzel-Pompe estimator (Frenzel & Pompe 2007): with the k-th
            neighbour radius in the joint (x, y, z) space (max-norm) and n_xz, n_yz, n_z the
            neighbour counts strictly inside it in the (x, z), (y, z) and z spaces,
            I = psi(k) - < psi(n_xz + 1) + psi(n_yz + 1) - psi(n_z + 1) >. Keyword-only.

    KSG is biased at small N or high dimension (downward for dependent data, and it can go below
    0, which the true MI never does); a ``UserWarning`` says so when N < 10 x (dim_x + dim_y) or
    the estimate is negative. It assumes continuous variables: when, for more than 10 % of the
    points, exact repeats of their x (or y) value make up at least half of the marginal count
    (class labels, coarsely rounded data), the counts measure ties rather than distances and
    the estimate can be far off in either direction (1-d Gaussians at 0.8 nats rounded to one
    decimal read 2.6); a ``UserWarning`` names the variable. Not every failure on discrete data
    is caught: where the joint radius spans several labels (10 classes against 10-d features,
    68 % low) the repeats are not most of the counts, and no warning is given.

    Shape:
        x: (n, dim_x), y: (n, dim_y), z: (n, dim_z).
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
    z_array = None if z is None else _check_conditioning(z, x_array.shape[0])
    rng = np.random.default_rng(seed)
    x_array = _standardize(x_array) + jitter * rng.standard_normal(x_array.shape)
    y_array = _standardize(y_array) + jitter * rng.standard_normal(y_array.shape)
    workers = int(n_jobs)
    if z_array is None:
        joint = np.hstack([x_array, y_array])
        n, dim = joint.shape
        strict = _strict_knn_radius(joint, n_neighbors, workers)
        n_x, repeats_x = _neighbour_counts(x_array, strict, workers)
        n_y, repeats_y = _neighbour_counts(y_array, strict, workers)
        terms = digamma(n_neighbors) + digamma(n) - digamma(n_x + 1) - digamma(n_y + 1)
        quantity, truth = "estimate", "true MI"
        counted = {"x": (n_x, repeats_x), "y": (n_y, repeats_y)}
    else:
        z_array = _standardize(z_array) + jitter * rng.standard_normal(z_array.shape)
        joint = np.hstack([x_array, y_array, z_array])
        n, dim = joint.shape
        strict = _strict_knn_radius(joint, n_neighbors, workers)
        n_xz, repeats_xz = _neighbour_counts(np.hstack([x_array, z_array]), strict, workers)
        n_yz, repeats_yz = _neighbour_counts(np.hstack([y_array, z_array]), strict, workers)
        n_z = _count_within(z_array, strict, workers)
        terms = digamma(n_neighbors) - digamma(n_xz + 1) - digamma(n_yz + 1) + digamma(n_z + 1)
        quantity, truth = "conditional estimate I(X;Y|Z)", "true conditional MI"
        # Repeated z values alone are harmless: the counts then stratify by z.
        counted = {"(x, z)": (n_xz, repeats_xz), "(y, z)": (n_yz, repeats_yz)}
    mi = float(terms.mean())
    tied = _tied_spaces(counted)
    if tied:
        listed = ", ".join(f"{share:.0%} of the points in {name}" for name, share in tied.items())
        warnings.warn(
            f"ksg: repeated values make up at least half of the neighbour counts of {listed} (discrete or rounded "
            "data); KSG assumes continuous variables, and on repeated values its counts measure ties rather than "
            "distances, so the estimate can be far off. For discrete variables use method='discrete' (or "
            "'anchor' with discrete_y=True for class labels); for rounded measurements use method='anchor'.",
            UserWarning, stacklevel=2,
        )
    spaces = "dim_x + dim_y" if z_array is None else "dim_x + dim_y + dim_z"
    if n < SAMPLES_PER_DIMENSION * dim:
        warnings.warn(
            f"ksg: N = {n} samples is small for {dim} dimensions ({spaces}); k-NN estimates are dominated by "
            f"bias below about N = {SAMPLES_PER_DIMENSION} x {dim} = {SAMPLES_PER_DIMENSION * dim}. Use more samples "
            "or a trained estimator (method='anchor').",
            UserWarning, stacklevel=2,
        )
    if mi < 0:
        warnings.warn(
            f"ksg: the {quantity} {mi:.4f} nats is negative, but the {truth} is >= 0; at this N the estimate is "
            "dominated by bias and noise (read it as 'no detectable dependence').",
            UserWarning, stacklevel=2,
        )
    info = {"n_neighbors": n_neighbors, "n_jobs": workers, "seconds": time.perf_counter() - started}
    if z_array is not None:
        info.update(conditional=True, estimator="frenzel-pompe", dim_z=int(z_array.shape[1]))
    return MIResult(
        mi=mi, stderr=float(terms.std(ddof=1) / np.sqrt(n)), n_train=0, n_test=n,
        objective="ksg", readout="ksg", info=info, quantity="I(X;Y)" if z_array is None else "I(X;Y|Z)",
    )


def _check_conditioning(z, n_rows: int) -> np.ndarray:
    z_array = check_array(z, "z")
    if z_array.shape[0] != n_rows:
        raise ValueError(
            f"z has {z_array.shape[0]} rows but x and y have {n_rows}; z must be paired with them, one row per observation."
        )
    return z_array


def _strict_knn_radius(points: np.ndarray, n_neighbors: int, workers: int) -> np.ndarray:
    """Max-norm distance of each point to its k-th neighbour, nudged down so counts are strict."""
    radius = cKDTree(points).query(points, k=n_neighbors + 1, p=np.inf, workers=workers)[0][:, n_neighbors]
    return np.nextafter(radius, 0)


def _count_within(points: np.ndarray, radius: np.ndarray, workers: int, tree: cKDTree | None = None) -> np.ndarray:
    """Other points within each point's ``radius`` (max-norm), the point itself not counted."""
    tree = cKDTree(points) if tree is None else tree
    return tree.query_ball_point(points, radius, p=np.inf, return_length=True, workers=workers) - 1


def _neighbour_counts(points: np.ndarray, radius: np.ndarray, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_count_within` ``radius``, and each point's exact repeats (other points within
    TIE_RADIUS), from one tree."""
    tree = cKDTree(points)
    return (_count_within(points, radius, workers, tree),
            _count_within(points, np.full(points.shape[0], TIE_RADIUS), workers, tree))


def _tied_spaces(counted: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The spaces whose neighbour counts ties dominate, with the share of points concerned: a
    point's exact repeats are at least half its count, for over TIED_SHARE of the points."""
    tied = {}
    for name, (counts, repeats) in counted.items():
        share = float(np.mean(2 * repeats >= np.maximum(counts, 1)))
        if share > TIED_SHARE:
            tied[name] = share
    return tied


def _checked_logdet(covariance: np.ndarray) -> float:
    """log det of a sample covariance; ValueError when it is singular (collinear columns)."""
    sign, logdet = np.linalg.slogdet(covariance)
    if sign <= 0 or not np.isfinite(logdet):
        raise ValueError(
            "the sample covariance is singular (collinear columns); the Gaussian MI is infinite or undefined. "
            "Remove duplicated or linearly dependent columns."
        )
    return float(logdet)


def _quadratic_forms(centred: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """c_i' covariance^-1 c_i for every row c_i of ``centred``. Shape: (n, d), (d, d) -> (n,)."""
    return (centred * np.linalg.solve(covariance, centred.T).T).sum(axis=1)


def _gaussian_log_density(centred: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    dim = covariance.shape[0]
    return -0.5 * (dim * np.log(2 * np.pi) + _checked_logdet(covariance) + _quadratic_forms(centred, covariance))


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


# A side is taken as multivariate normal (after the normal-scores map) while Mardia's kurtosis
# statistic lies within this many standard deviations of its normal-theory mean: the conventional
# 3-sigma level, not tuned. On 10,000 rows Gaussian-copula sides read |z| < 2.5, Student-t (3
# degrees of freedom) sides 80-200, digit images thousands, Poisson counts -8 to -10.
NORMALITY_Z = 3.0


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Each column mapped to Phi^-1(rank / (n + 1)), tied values sharing their average rank.

    The map is monotone per column, so the MI of the scores is the MI of the values.

    Shape: (n, d) -> (n, d) float64.
    """
    ranks = stats.rankdata(values, axis=0, method="average")
    return stats.norm.ppf(ranks / (values.shape[0] + 1.0))


def _logdet_bias(dim: int, n: int) -> float:
    """E[log det S] - log det Sigma for the sample covariance S (divisor n - 1) of n Gaussian rows:
    sum_{i=1..dim} psi((n - i) / 2) + dim log(2 / (n - 1)), exact (the log-determinant of a Wishart matrix)."""
    return float(digamma((n - np.arange(1, dim + 1)) / 2.0).sum() + dim * np.log(2.0 / (n - 1)))


def few_valued_columns(values: np.ndarray) -> int:
    """How many columns take at most ``encoding.FEW_VALUES`` distinct values, fewer than
    ``FEW_VALUES_FRACTION`` of the rows (the library's definition of a few-valued column)."""
    counts = [np.unique(column).size for column in values.T]
    return sum(int(count <= FEW_VALUES and count < FEW_VALUES_FRACTION * values.shape[0]) for count in counts)


def mardia_kurtosis_z(scores: np.ndarray) -> float:
    """Mardia's multivariate kurtosis b2 = mean_i (c_i' S^-1 c_i)^2, standardised by its
    normal-theory mean d (d + 2) (n - 1) / (n + 1) and sd sqrt(8 d (d + 2) / n) (Mardia 1970).

    Near 0 for multivariate normal rows; heavy joint tails (Student-t) make it large, clusters and
    ties (images, counts) far from 0 either way. Shape: (n, d) with n > d + 1.
    """
    centred = scores - scores.mean(axis=0)
    return _mardia_z(_quadratic_forms(centred, centred.T @ centred / scores.shape[0]), scores.shape[1])


def _mardia_z(distances: np.ndarray, dim: int) -> float:
    """:func:`mardia_kurtosis_z` from the rows' distances c_i' S^-1 c_i (S with divisor n)."""
    n = distances.size
    mean = dim * (dim + 2) * (n - 1) / (n + 1)
    return float(((distances**2).mean() - mean) / np.sqrt(8.0 * dim * (dim + 2) / n))


def gaussian_copula(x, y) -> MIResult:
    """Gaussian-copula MI: normal scores by rank per column, then the bias-corrected Gaussian closed form.

    I_G = (log det S_x + log det S_y - log det S) / 2 on the normal scores (Ince et al., "A
    statistical framework for neuroimaging data analysis based on mutual information estimated
    via a Gaussian copula", Human Brain Mapping 2017), minus the exact expected bias of the three
    log-determinants under Gaussianity (about dim_x dim_y / (2N) nats, which the plain closed form
    carries: 2.6 instead of 2.0 for a d = 50 Gaussian pair at N = 2,000). ``stderr``: the
    delta method (the sd of the per-sample log ratios / sqrt(N)) plus the chi-square spread of the
    closed form under independence, sqrt(dim_x dim_y / 2) / N, which the delta method misses there.

    It sees only the dependence a Gaussian copula has: exact for Gaussian pairs and any
    per-column monotone warp of them (cubic, sign |v|^1.5). When the normal scores of x are
    multivariate normal, and those of y too, no joint law with those marginals has less MI, so
    I_G is then a lower bound on I(X;Y) (the Gaussian has the largest entropy for its covariance).
    ``info["lower_bound"]`` says whether both sides pass Mardia's kurtosis test (within
    ``NORMALITY_Z`` sd; ``info["kurtosis_z_x"]``, ``["kurtosis_z_y"]``) and have no few-valued
    column (``info["few_valued_x"]``, ``["few_valued_y"]``): the entropy argument needs continuous
    variables, and with few rows Mardia's test may not see the ties. Heavy-tailed pairs fail
    it and read low (1.6 for 2 nats, Student-t with 3 degrees of freedom at d = 5); clustered
    data such as images fail it and may read high (2.95 for 2.30, the digits task at k = 1).

    Needs N > dim_x + dim_y + 1 non-constant columns (ValueError otherwise, or when columns are collinear).

    Shape:
        x: (n, dim_x), y: (n, dim_y).
    """
    started = time.perf_counter()
    x_array, y_array = check_pair(x, y, min_samples=3)
    x_scores = normal_scores(x_array[:, x_array.std(axis=0) > 0])
    y_scores = normal_scores(y_array[:, y_array.std(axis=0) > 0])
    n, dim_x, dim_y = x_scores.shape[0], x_scores.shape[1], y_scores.shape[1]
    info: dict[str, Any] = {"lower_bound": True}
    if dim_x == 0 or dim_y == 0:
        estimate, stderr = 0.0, 0.0
    else:
        dim = dim_x + dim_y
        if n <= dim + 1:
            raise ValueError(
                f"method='gaussian_copula' needs N > dim_x + dim_y + 1: N = {n} samples, but x and y have {dim} "
                "non-constant columns together. Pass more samples than the total dimension, or reduce the dimension first."
            )
        joint = np.hstack([x_scores, y_scores])
        centred = joint - joint.mean(axis=0)
        # Divisor n - 1, so that the bias formula applies as written.
        covariance = centred.T @ centred / (n - 1)
        # The joint block, then x's and y's: one log-determinant and one solve each.
        blocks = [(covariance, centred), (covariance[:dim_x, :dim_x], centred[:, :dim_x]),
                  (covariance[dim_x:, dim_x:], centred[:, dim_x:])]
        logdets = [_checked_logdet(block) for block, _ in blocks]
        forms = [_quadratic_forms(rows, block) for block, rows in blocks]
        plugin = 0.5 * (logdets[1] + logdets[2] - logdets[0])
        bias = 0.5 * (_logdet_bias(dim_x, n) + _logdet_bias(dim_y, n) - _logdet_bias(dim, n))
        estimate = float(plugin - bias)
        # Each row's log ratio of the fitted Gaussians is plugin + (q_x + q_y - q) / 2, whose mean
        # is the plug-in itself: its spread is that of the quadratic forms.
        terms = 0.5 * (forms[1] + forms[2] - forms[0])
        stderr = float(np.sqrt(terms.var(ddof=1) / n + dim_x * dim_y / (2.0 * n * n)))
        # Mardia's distances use the divisor-n covariance: the same forms times n / (n - 1).
        z_x, z_y = _mardia_z(forms[1] * n / (n - 1), dim_x), _mardia_z(forms[2] * n / (n - 1), dim_y)
        few_x, few_y = few_valued_columns(x_scores), few_valued_columns(y_scores)
        info = {"plugin": float(plugin), "bias_correction": float(bias), "kurtosis_z_x": z_x, "kurtosis_z_y": z_y,
                "few_valued_x": few_x, "few_valued_y": few_y,
                "lower_bound": bool(abs(z_x) <= NORMALITY_Z and abs(z_y) <= NORMALITY_Z and few_x == few_y == 0)}
    return MIResult(
        mi=estimate, stderr=stderr, n_train=0, n_test=n, objective="gaussian_copula", readout="gaussian_copula",
        info={**info, "seconds": time.perf_counter() - started},
    )


# Fewer samples than this per occupied (x, y) cell make the plug-in meaningless; discrete_mi warns.
SAMPLES_PER_CELL = 5


def _category_codes(value: Any, name: str) -> np.ndarray:
    """Integer codes 0..m-1 of the distinct rows of ``value`` (any dtype: numbers, text, bool, category).

    Shape: value (n,) or (n, d) -> (n,).
    """
    import pandas as pd

    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, pd.Series):
        columns = [value]
    elif isinstance(value, pd.DataFrame):
        columns = [value.iloc[:, j] for j in range(value.shape[1])]
    else:
        try:
            array = np.asarray(value)
        except Exception as error:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as an array ({error}); pass shape (n,) or (n, d).") from error
        if array.ndim == 0 or array.ndim > 2:
            raise ValueError(f"{name} has shape {array.shape}; pass shape (n,) or (n, d) with one row per sample.")
        columns = [array] if array.ndim == 1 else [array[:, j] for j in range(array.shape[1])]
    if not columns or len(columns[0]) == 0:
        raise ValueError(f"{name} is empty; pass at least one sample and one column.")
    codes = []
    for column in columns:
        column_codes, _ = pd.factorize(np.asarray(column) if not isinstance(column, pd.Series) else column)
        if (column_codes < 0).any():
            raise ValueError(
                f"{name} has {int((column_codes < 0).sum())} missing values (NaN/None); drop those rows or code "
                "'missing' as a category of its own."
            )
        codes.append(column_codes)
    if len(codes) == 1:
        return codes[0].astype(np.int64)
    return np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def discrete_mi(x, y, miller_madow: bool = True) -> MIResult:
    """Plug-in MI of discrete data from counts, with the Miller-Madow bias correction.

    I_plugin = sum_xy p(x, y) log p(x, y) / (p(x) p(y)) with p the empirical frequencies of the
    distinct values (rows) of x and y. The plug-in is biased upward by about
    (m_xy - m_x - m_y + 1) / (2N), with m the number of non-empty cells (Miller 1955, applied to
    H(X) + H(Y) - H(X, Y)); ``miller_madow`` subtracts it. ``stderr`` is the delta-method
    sd(log p(x_i, y_i) / (p(x_i) p(y_i))) / sqrt(N); it ignores the remaining bias. Values may be
    numbers, text, booleans or pandas categories; each distinct row of a multi-column input is
    one category. With fewer than 5 samples per occupied (x, y) cell (e.g. continuous data)
    the plug-in is meaningless; a UserWarning says so.

    Shape:
        x: (n,) or (n, d_x), y: (n,) or (n, d_y).
    """
    started = time.perf_counter()
    if not isinstance(miller_madow, (bool, np.bool_)):
        raise ValueError(f"miller_madow={miller_madow!r} is invalid; pass True or False.")
    x_codes = _category_codes(x, "x")
    y_codes = _category_codes(y, "y")
    n = x_codes.size
    if y_codes.size != n:
        raise ValueError(f"x has {n} rows but y has {y_codes.size}; x and y must be paired, one row per observation.")
    if n < 2:
        raise ValueError(f"got {n} samples but this needs at least 2; collect more samples.")
    m_x, m_y = int(x_codes.max()) + 1, int(y_codes.max()) + 1
    joint_codes = x_codes * m_y + y_codes
    count_xy = np.bincount(joint_codes, minlength=m_x * m_y)
    count_x, count_y = np.bincount(x_codes, minlength=m_x), np.bincount(y_codes, minlength=m_y)
    # log p(x,y)/(p(x)p(y)) = log(N c_xy / (c_x c_y)) at each sample.
    pointwise = np.log(n * count_xy[joint_codes] / (count_x[x_codes] * count_y[y_codes].astype(np.float64)))
    plugin = float(pointwise.mean())
    m_xy = int(np.count_nonzero(count_xy))
    correction = (m_xy - m_x - m_y + 1) / (2.0 * n)
    estimate = plugin - correction if miller_madow else plugin
    if n < SAMPLES_PER_CELL * m_xy:
        warnings.warn(
            f"discrete_mi: N = {n} samples fill {m_xy} (x, y) cells, fewer than {SAMPLES_PER_CELL} per cell; the plug-in "
            f"is dominated by bias (Miller-Madow correction {correction:.3f} nats) and meaningless for continuous "
            "data. Use more samples, fewer categories, or a continuous estimator (method='anchor' or 'ksg').",
            UserWarning, stacklevel=2,
        )
    return MIResult(
        mi=float(estimate), stderr=float(pointwise.std(ddof=1) / np.sqrt(n)), n_train=0, n_test=n,
        objective="discrete", readout="miller-madow" if miller_madow else "plugin",
        info={"plugin": plugin, "miller_madow_correction": float(correction), "cells_xy": m_xy, "cells_x": m_x,
              "cells_y": m_y, "seconds": time.perf_counter() - started},
    )


CLASSICAL = {"ksg": ksg, "gaussian": gaussian, "gaussian_copula": gaussian_copula, "discrete": discrete_mi}
