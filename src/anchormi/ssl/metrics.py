"""Representation metrics: linear CKA, alignment, uniformity and linear-probe accuracy.

Inputs may be NumPy arrays, torch tensors or pandas objects (moved to CPU, computed in float64);
results are floats.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import logsumexp

from .._validation import _to_numpy

__all__ = ["linear_cka", "alignment", "uniformity", "linear_probe_accuracy", "linear_probe_topk"]

# Rows per block when forming pairwise distances, so uniformity never holds an n x n matrix.
_UNIFORMITY_BLOCK_ROWS = 1024


def linear_cka(a, b) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) between two representations.

        CKA(A, B) = ||Bc^T Ac||_F^2 / (||Ac^T Ac||_F ||Bc^T Bc||_F),

    with Ac, Bc the column-centred matrices. It is 1 for identical representations, symmetric,
    in [0, 1], and invariant to orthogonal transforms and isotropic scaling of either argument.

    Args:
        a: (n, d1) representation of n examples.
        b: (n, d2) representation of the same n examples, in the same order.

    Returns:
        float in [0, 1].

    Raises:
        ValueError: shapes disagree, fewer than 2 rows, NaN/inf, or a representation is constant.
    """
    features_a = _as_matrix(a, "a")
    features_b = _as_matrix(b, "b")
    _check_same_rows(features_a, features_b, "a", "b")
    centred_a = features_a - features_a.mean(axis=0)
    centred_b = features_b - features_b.mean(axis=0)
    # The n x n Gram form costs n^2 d and the feature form d1 d2 n; pick whichever is smaller.
    n_rows = centred_a.shape[0]
    if n_rows < max(centred_a.shape[1], centred_b.shape[1]):
        gram_a, gram_b = centred_a @ centred_a.T, centred_b @ centred_b.T
        cross = float(np.sum(gram_a * gram_b))
        norm_a, norm_b = float(np.linalg.norm(gram_a)), float(np.linalg.norm(gram_b))
    else:
        cross = float(np.linalg.norm(centred_b.T @ centred_a) ** 2)
        norm_a = float(np.linalg.norm(centred_a.T @ centred_a))
        norm_b = float(np.linalg.norm(centred_b.T @ centred_b))
    for norm, name in ((norm_a, "a"), (norm_b, "b")):
        if norm == 0.0:
            raise ValueError(f"{name} is constant across rows, so CKA is undefined; pass a varying representation.")
    return cross / (norm_a * norm_b)


def alignment(z1, z2, alpha: float = 2.0) -> float:
    """Alignment of positive pairs (Wang & Isola 2020): E ||f(x) - f(x+)||_2^alpha, rows L2-normalised.

    Args:
        z1: (n, d) features of n examples.
        z2: (n, d) features of their positive partners (row i pairs with row i of z1).
        alpha: exponent, > 0.

    Returns:
        float in [0, 2^alpha]; 0 when each pair maps to the same direction. Lower is better aligned.
    """
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a finite number > 0; got {alpha!r}.")
    unit_1 = _unit_rows(_as_matrix(z1, "z1", min_rows=1), "z1")
    unit_2 = _unit_rows(_as_matrix(z2, "z2", min_rows=1), "z2")
    if unit_1.shape != unit_2.shape:
        raise ValueError(
            f"z1 has shape {unit_1.shape} but z2 has {unit_2.shape}; pass row-paired features of one shape."
        )
    pair_distances = np.linalg.norm(unit_1 - unit_2, axis=1)
    return float(np.mean(pair_distances**alpha))


def uniformity(z, t: float = 2.0) -> float:
    """Uniformity (Wang & Isola 2020): log E exp(-t ||f(x) - f(y)||_2^2) over distinct pairs, rows L2-normalised.

    The mean runs over the n(n-1)/2 unordered pairs i < j; each pair counted once or twice gives the
    same mean. Computed in row blocks with log-sum-exp, so memory stays O(block * n).

    Args:
        z: (n, d) features, n >= 2.
        t: temperature, > 0.

    Returns:
        float in [-4t, 0]; lower means features spread more uniformly on the sphere.
    """
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"t must be a finite number > 0; got {t!r}.")
    unit = _unit_rows(_as_matrix(z, "z"), "z")
    n_rows = unit.shape[0]
    block_log_sums = []
    for start in range(0, n_rows - 1, _UNIFORMITY_BLOCK_ROWS):
        stop = min(start + _UNIFORMITY_BLOCK_ROWS, n_rows - 1)
        # Unit rows give ||u - v||^2 = 2 - 2 u.v; only partners j > i are kept.
        squared_distances = np.maximum(2.0 - 2.0 * unit[start:stop] @ unit.T, 0.0)
        upper = np.arange(n_rows)[None, :] > np.arange(start, stop)[:, None]
        block_log_sums.append(logsumexp(-t * squared_distances[upper]))
    n_pairs = n_rows * (n_rows - 1) / 2
    return float(logsumexp(block_log_sums) - math.log(n_pairs))


def linear_probe_topk(
    train_feats,
    train_labels,
    test_feats,
    test_labels,
    *,
    ks: Sequence[int] = (1,),
    regularization: float = 1.0,
    max_iter: int = 5000,
) -> dict[int, float]:
    """Top-k accuracies of a multinomial logistic-regression probe on frozen features.

    Features are standardised with statistics of the training set, then scikit-learn's
    ``LogisticRegression`` (lbfgs, deterministic) is fit. A test label never seen in training
    counts as a miss.

    Args:
        train_feats: (n_train, d) features.
        train_labels: (n_train,) class labels (ints or strings), at least 2 classes.
        test_feats: (n_test, d) features.
        test_labels: (n_test,) class labels.
        ks: the k values to report, each in 1..n_classes.
        regularization: inverse L2 strength ``C`` of LogisticRegression, > 0.
        max_iter: lbfgs iteration cap.

    Returns:
        {k: fraction of test examples whose label is among the k most probable classes}, floats in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x = _as_matrix(train_feats, "train_feats", min_rows=1)
    test_x = _as_matrix(test_feats, "test_feats", min_rows=1)
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(
            f"train_feats has {train_x.shape[1]} columns but test_feats has {test_x.shape[1]}; "
            "pass features from the same encoder."
        )
    train_y = _as_labels(train_labels, "train_labels", train_x.shape[0])
    test_y = _as_labels(test_labels, "test_labels", test_x.shape[0])
    n_classes = np.unique(train_y).size
    if n_classes < 2:
        raise ValueError(f"train_labels holds {n_classes} class; a probe needs at least 2 classes.")
    ks = tuple(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_classes:
            raise ValueError(f"ks must hold ints in 1..{n_classes} (the number of training classes); got {k!r}.")
    if not (math.isfinite(regularization) and regularization > 0):
        raise ValueError(f"regularization must be a finite number > 0; got {regularization!r}.")

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=regularization, max_iter=max_iter))
    probe.fit(train_x, train_y)
    class_probabilities = probe.predict_proba(test_x)  # (n_test, n_classes), columns follow classes_
    classes = probe.classes_
    # A stable sort on negated probabilities breaks ties by class order, matching predict().
    ranked_classes = classes[np.argsort(-class_probabilities, axis=1, kind="stable")]
    return {int(k): float(np.mean(np.any(ranked_classes[:, :k] == test_y[:, None], axis=1))) for k in ks}


def linear_probe_accuracy(
    train_feats,
    train_labels,
    test_feats,
    test_labels,
    *,
    k: int = 1,
    regularization: float = 1.0,
    max_iter: int = 5000,
) -> float:
    """Top-k (default top-1) accuracy of a logistic-regression probe; see :func:`linear_probe_topk`.

    Returns:
        float in [0, 1].
    """
    accuracies = linear_probe_topk(
        train_feats, train_labels, test_feats, test_labels, ks=(k,), regularization=regularization, max_iter=max_iter
    )
    return accuracies[int(k)]


# --- helpers -------------------------------------------------------------------------------------


def _as_matrix(values, name: str, min_rows: int = 2) -> np.ndarray:
    matrix = _to_numpy(values, name)
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) matrix; got shape {matrix.shape}. Flatten features per example.")
    if matrix.shape[0] < min_rows or matrix.shape[1] < 1:
        raise ValueError(f"{name} has shape {matrix.shape}; pass at least {min_rows} rows and 1 column.")
    try:
        matrix = matrix.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} has dtype {matrix.dtype}; pass numeric features.") from None
    if not np.isfinite(matrix).all():
        raise ValueError(f"{name} contains NaN or inf; check the encoder output (a diverged run?).")
    return matrix


def _check_same_rows(first: np.ndarray, second: np.ndarray, first_name: str, second_name: str) -> None:
    if first.shape[0] != second.shape[0]:
        raise ValueError(
            f"{first_name} has {first.shape[0]} rows but {second_name} has {second.shape[0]}; "
            "pass representations of the same examples in the same order."
        )


def _unit_rows(matrix: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row, which has no direction; drop it or check the encoder.")
    return matrix / norms


def _as_labels(values, name: str, n_rows: int) -> np.ndarray:
    labels = _to_numpy(values, name)
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(f"{name} has shape {labels.shape}; pass one label per feature row, shape ({n_rows},).")
    return labels
