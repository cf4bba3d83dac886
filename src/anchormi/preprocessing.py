"""Per-column maps applied before the critic, fitted on a fold's training rows only.

MI is invariant under any invertible map of x and of y separately, so a per-coordinate monotone
map changes nothing about the target and only changes how hard the critic's job is:

- ``"zscore"``: centre and scale (``StandardScaler``); constant columns stay finite (all zeros).
- ``"normal_scores"``: the Gaussian copula transform, each column through its empirical CDF and
  then the standard normal quantile (``QuantileTransformer(output_distribution="normal")``),
  then z-scored. Monotone warps of single coordinates (y -> y^3, heavy tails) disappear. Values
  outside the training range map to the extreme quantiles, so the far tails carry slightly less
  information; warps that mix coordinates are untouched.
- ``"none"``: the identity.
"""

from __future__ import annotations

from sklearn.base import TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler

MARGINALS = ("zscore", "normal_scores", "none")
MAX_QUANTILES = 10_000


def marginal_transform(kind: str, n_rows: int) -> TransformerMixin:
    """An unfitted transformer for ``kind`` (one of :data:`MARGINALS`) and ``n_rows`` training rows."""
    if kind == "zscore":
        return StandardScaler()
    if kind == "normal_scores":
        quantiles = QuantileTransformer(
            output_distribution="normal", n_quantiles=max(10, min(n_rows, MAX_QUANTILES)), subsample=None,
        )
        return make_pipeline(quantiles, StandardScaler())
    if kind == "none":
        return StandardScaler(with_mean=False, with_std=False)
    raise ValueError(f"marginals={kind!r} is unknown; choose one of {list(MARGINALS)}.")
