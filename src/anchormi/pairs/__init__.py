"""Scoring candidate pairs by estimated pointwise mutual information (PMI), against known truth.

- :mod:`anchormi.pairs.scoring`: candidates (true pairs and independent non-pairs, one y each),
  AUROC across and within y, the offset log Z(y), and one fit-and-score run of ``MIEstimator``.
- :mod:`anchormi.pairs.reproduce`: the reproduction behind ``anchormi reproduce pmi``.

The task with exact PMI is :class:`anchormi.tasks.LatentPairTask`.

    >>> from anchormi.pairs import fit_and_score
    >>> from anchormi.tasks import latent_pair
    >>> fit_and_score(latent_pair(mi=2.0, warp="none"), "anchor")["auroc"]   # doctest: +SKIP
"""

from anchormi.pairs.scoring import (
    PairCandidates,
    auroc_stderr,
    fit_and_score,
    log_partition,
    make_candidates,
    oracle_score,
    run_data,
    score_candidates,
    within_y_auroc,
)

__all__ = [
    "PairCandidates",
    "auroc_stderr",
    "fit_and_score",
    "log_partition",
    "make_candidates",
    "oracle_score",
    "run_data",
    "score_candidates",
    "within_y_auroc",
]
