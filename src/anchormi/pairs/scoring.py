"""Scoring candidate pairs by pointwise mutual information (PMI), with known true interactions.

The study's second application: given a candidate pair (x, y), is it a true interaction (a draw of
p(x, y)) or a non-pair (x and y drawn independently)? The Bayes-optimal score is the pointwise
log ratio log r*(x, y) = log p(x, y) / (p(x) p(y)), which ``MIEstimator.pmi`` estimates.

Why InfoNCE fails here. InfoNCE identifies the ratio only up to a factor C(y): its critic is
log r*(x, y) + log C(y) for an arbitrary, untrained function C. Within one y the shift cancels, so
InfoNCE ranks candidate partners of a fixed y well. Across different y it does not cancel: a
candidate with a large C(y) outranks one with a small C(y) whatever their true PMI. So the
candidates here are built so that every candidate has its own y: the positives are joint draws
(x_i, y_i); the negatives pair y_j with the x of another, independent draw. A ranking of all
candidates then compares scores across many y, and a y-dependent offset costs AUROC. The
"within-y" score compares, for the same y, the true partner with an independent x; there C(y)
cancels, which isolates the offset as the cause.

The generator is :class:`anchormi.tasks.LatentPairTask`: x and y share a latent z, so the true
PMI of any pair is known in closed form and its AUROC is the ceiling any scorer can reach.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..tasks.latent_pair import LatentPairTask

__all__ = [
    "PairCandidates", "make_candidates", "score_candidates", "within_y_auroc", "log_partition",
    "auroc_stderr", "run_data", "fit_and_score", "oracle_score",
]


@dataclass
class PairCandidates:
    """Held-out candidate pairs with known labels.

    Attributes:
        x, y: (m, dim_x), (m, dim_y): candidate i is (x[i], y[i]). Every candidate has its own y.
        label: (m,) 1 for a true pair (joint draw), 0 for a non-pair (x from an independent draw).
        true_pmi: (m,) exact log ratio of each candidate, nats.
        partner_x, decoy_x: (m, dim_x) for every y[i], its true partner and an independent x; they
            give the within-y comparison, where any offset C(y) cancels.
    """

    x: np.ndarray
    y: np.ndarray
    label: np.ndarray
    true_pmi: np.ndarray
    partner_x: np.ndarray
    decoy_x: np.ndarray


def make_candidates(task: LatentPairTask, n_candidates: int, seed: int = 0) -> PairCandidates:
    """Build ``n_candidates`` candidate pairs, half true pairs and half non-pairs, one y each.

    Draw (x_i, y_i) ~ p(x, y) and an independent x'_i ~ p(x) for i < m. Candidates i < m/2 are the
    true pairs (x_i, y_i); candidates i >= m/2 are the non-pairs (x'_i, y_i). Non-pairs therefore
    follow p(x) p(y) exactly, and no y appears twice, so ranking them mixes many different y.
    """
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, (int, np.integer)) or n_candidates < 4:
        raise ValueError(f"n_candidates={n_candidates!r} is invalid; pass an int >= 4.")
    rng = np.random.default_rng(seed)
    partner_x, y = task.sample(n_candidates, rng)
    decoy_x = task.sample_x(n_candidates, rng)
    label = (np.arange(n_candidates) < n_candidates // 2).astype(np.int64)
    x = np.where(label[:, None] == 1, partner_x, decoy_x)
    return PairCandidates(x, y, label, task.true_pmi(x, y), partner_x, decoy_x)


def within_y_auroc(partner_scores: np.ndarray, decoy_scores: np.ndarray) -> float:
    """P(score of the true partner > score of an independent x), same y, ties counted half."""
    partner_scores, decoy_scores = np.asarray(partner_scores), np.asarray(decoy_scores)
    return float(np.mean((partner_scores > decoy_scores) + 0.5 * (partner_scores == decoy_scores)))


def score_candidates(scorer: Any, candidates: PairCandidates) -> dict[str, Any]:
    """Score candidates with ``scorer(x, y) -> (m,)`` PMI and compare with the truth.

    Returns:
        ``auroc`` (across y: all candidates ranked together), ``auroc_within_y`` (true partner vs
        an independent x of the same y), ``pmi_rmse`` (root mean square of estimated minus true
        PMI over the candidates, nats), ``pmi_corr`` (Pearson correlation with the true PMI) and
        ``scores`` (the (m,) candidate scores).
    """
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(scorer(candidates.x, candidates.y), dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("the scorer returned NaN or inf PMI values; check the fitted model (a diverged run?).")
    partner = np.asarray(scorer(candidates.partner_x, candidates.y), dtype=np.float64)
    decoy = np.asarray(scorer(candidates.decoy_x, candidates.y), dtype=np.float64)
    error = scores - candidates.true_pmi
    return {
        "auroc": float(roc_auc_score(candidates.label, scores)),
        "auroc_within_y": within_y_auroc(partner, decoy),
        "pmi_rmse": float(np.sqrt(np.mean(error**2))),
        "pmi_corr": float(np.corrcoef(scores, candidates.true_pmi)[0, 1]) if scores.std() > 0 else float("nan"),
        "scores": scores,
    }


def log_partition(scorer: Any, task: LatentPairTask, y: np.ndarray, n_x: int = 500, seed: int = 0) -> np.ndarray:
    """log Z(y) = log mean_x exp(score(x, y)) over n_x fresh x ~ p(x), for each row of y. Shape (n_y,).

    A calibrated log ratio has Z(y) = E_p(x)[r*(x, y)] = 1 for every y, so log Z(y) is 0 up to
    Monte Carlo noise (the oracle's spread measures that noise). For InfoNCE, log Z(y) is the
    untrained offset log C(y); its spread across y is what breaks ranking across different y.
    """
    from scipy.special import logsumexp

    y = np.asarray(y, dtype=np.float64)
    x = task.sample_x(n_x, seed)
    grid_x = np.tile(x, (y.shape[0], 1))
    grid_y = np.repeat(y, n_x, axis=0)
    scores = np.asarray(scorer(grid_x, grid_y), dtype=np.float64).reshape(y.shape[0], n_x)
    return logsumexp(scores, axis=1) - math.log(n_x)


def auroc_stderr(auroc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUROC from n_positive and n_negative examples."""
    q1, q2 = auroc / (2.0 - auroc), 2.0 * auroc * auroc / (1.0 + auroc)
    variance = (auroc * (1 - auroc) + (n_positive - 1) * (q1 - auroc**2) + (n_negative - 1) * (q2 - auroc**2)) / (n_positive * n_negative)
    return math.sqrt(max(variance, 0.0))


def run_data(task: LatentPairTask, n_train: int, n_candidates: int, seed: int) -> tuple[np.ndarray, np.ndarray, PairCandidates]:
    """The training pairs and the candidates of run ``seed``: the same for every objective."""
    x_train, y_train = task.sample(n_train, np.random.default_rng([seed, 1]))
    candidates = make_candidates(task, n_candidates, seed=int(np.random.default_rng([seed, 2]).integers(2**31)))
    return x_train, y_train, candidates


def fit_and_score(
    task: LatentPairTask,
    objective: str,
    objective_params: Mapping[str, Any] | None = None,
    *,
    n_train: int = 5000,
    n_candidates: int = 2000,
    seed: int = 0,
    estimator_params: Mapping[str, Any] | None = None,
    n_offset_y: int = 200,
) -> dict[str, Any]:
    """One run: fit ``MIEstimator`` on fresh training pairs, score fresh candidates by ``.pmi``.

    Training pairs and candidates follow ``seed`` only (see :func:`run_data`), so every objective
    of one run sees the same data; the estimator's seed is ``seed`` too.

    Returns:
        the fields of :func:`score_candidates` plus ``mi_estimate`` (the estimator's held-out
        estimate, nats), ``pmi_warning`` (the estimator's warning text, e.g. InfoNCE's C(y)) and
        ``log_z`` (:func:`log_partition` on the first ``n_offset_y`` candidates' y).
    """
    from ..estimator import MIEstimator

    x_train, y_train, candidates = run_data(task, n_train, n_candidates, seed)
    params = {"batch_size": 128, "progress": False, **(estimator_params or {}), **(objective_params or {})}
    estimator = MIEstimator(objective=objective, seed=seed, **params)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        estimator.fit(x_train, y_train)
        outcome = score_candidates(estimator.pmi, candidates)
        outcome["log_z"] = log_partition(estimator.pmi, task, candidates.y[:n_offset_y], seed=seed)
    caught = sorted({str(record.message) for record in records if issubclass(record.category, UserWarning)})
    outcome["mi_estimate"] = float(estimator.result_.mi)
    outcome["pmi_warning"] = " | ".join(caught)
    return outcome


def oracle_score(task: LatentPairTask, *, n_candidates: int = 2000, seed: int = 0, n_offset_y: int = 200) -> dict[str, Any]:
    """:func:`score_candidates` and ``log_z`` of the exact PMI on run ``seed``'s candidates: the ceiling."""
    _, _, candidates = run_data(task, 2, n_candidates, seed)
    outcome = score_candidates(task.true_pmi, candidates)
    outcome["log_z"] = log_partition(task.true_pmi, task, candidates.y[:n_offset_y], seed=seed)
    return outcome
