"""Per-column maps applied before the critic, fitted on a fold's training rows only.

MI is invariant under any invertible map of x and of y separately, so a per-coordinate monotone
map changes nothing about the target and only changes how hard the critic's job is:

- ``"zscore"``: centre and scale (``StandardScaler``); constant columns stay finite (all zeros).
- ``"normal_scores"``: the Gaussian copula transform, each column through its empirical CDF and
  then the standard normal quantile (``QuantileTransformer(output_distribution="normal")``),
  then z-scored. Monotone warps of single coordinates (y -> y^3, heavy tails) disappear. Values
  outside the training range map to the extreme quantiles, so the far tails carry slightly less
  information; warps that mix coordinates are untouched. A column with few distinct values (at
  most 20, and fewer than 5 % of the rows: the definition ``anchormi.encoding`` warns on) is
  discrete-valued, such as a pixel intensity; there the copula map only spaces the values
  unevenly, sending rare values far into the tails, so such columns are z-scored instead
  (:class:`NormalScores`).
- ``"none"``: the identity.

Large data (see ``MIEstimator``): one map per variable is fitted on a random sample of rows
(:func:`fit_on_sample`) and applied in chunks into a single float32 array
(:func:`transform_in_chunks`), instead of one map and one copy per fold.
"""

from __future__ import annotations

import mmap

import numpy as np
from scipy import sparse, special, stats
from sklearn.base import TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.preprocessing._data import BOUNDS_THRESHOLD

from ._validation import check_finite
from .encoding import FEW_VALUES, FEW_VALUES_FRACTION

MARGINALS = ("zscore", "normal_scores", "none")
MAX_QUANTILES = 10_000


class SortedQuantileTransformer(QuantileTransformer):
    """scikit-learn's ``QuantileTransformer`` with a faster fit for dense, NaN-free columns.

    The fit sorts each column once and interpolates linearly between order statistics: the same
    ``quantiles_`` as the parent's ``np.nanpercentile`` (numpy's "linear" method), bit for bit
    (tests/test_preprocessing.py), but O(n log n) per column instead of a partition around every
    one of up to 10,000 reference points. At 12,800 rows x 20 columns and 10,000 quantiles that is
    ~0.006 s against ~1.4 s; the ten maps of a five-fold fit had taken 18 of 40 s of a 1,500-step
    call (benchmarks/README.md). Transform and inverse are the parent's. Sparse input, NaNs or
    ``subsample`` take the parent's path.

    The sorted path also sets ``n_distinct_`` (distinct values per column), which the sort gives
    for free; the parent's path leaves it unset.

    The forward transform of dense, NaN-free input does the parent's per-column arithmetic but
    applies the normal quantile function once to the whole array (``scipy.special.ndtri``, what
    ``scipy.stats.norm.ppf`` computes, bit for bit) instead of three ``scipy.stats`` calls per
    column, whose argument checks cost about 0.4 ms each: a five-fold fit on 500 rows of
    1,000 + 1 columns had spent five sixths of its time there (cProfile). Same output bit for bit
    (tests/test_preprocessing.py); ``python benchmarks/speed.py`` times both.
    """

    def _dense_fit(self, X, random_state):
        if (self.subsample is not None and self.subsample < X.shape[0]) or np.isnan(X).any():
            return super()._dense_fit(X, random_state)
        ordered = np.sort(X, axis=0)
        self.n_distinct_ = 1 + np.count_nonzero(np.diff(ordered, axis=0), axis=0)
        # numpy's linear method: virtual index q (n - 1), value a + (b - a) t, evaluated from b
        # when t >= 0.5 (numpy's _lerp), so the result matches np.nanpercentile.
        position = (ordered.shape[0] - 1) * (self.references_ * 100 / 100)  # the parent passes percentiles
        below = np.floor(position).astype(np.intp)
        above = np.minimum(below + 1, ordered.shape[0] - 1)
        fraction = (position - below)[:, None]
        low, high = ordered[below], ordered[above]
        step = high - low
        quantiles = np.where(fraction >= 0.5, high - step * (1 - fraction), low + step * fraction)
        self.quantiles_ = np.maximum.accumulate(quantiles, axis=0)

    def _transform(self, X, inverse=False):
        if inverse or sparse.issparse(X) or np.isnan(X).any():
            return super()._transform(X, inverse)
        normal = self.output_distribution == "normal"
        columns = np.ascontiguousarray(X.T)  # np.interp reads a contiguous column about 1.6x faster
        for j, column in enumerate(columns):
            quantiles = self.quantiles_[:, j]
            # The parent's bounds: within BOUNDS_THRESHOLD of the training range for the normal
            # output, equality for the uniform one; then the mean of the interpolation in both
            # directions (tied quantiles), with the bounds sent to 0 and 1.
            if normal:
                low, high = column - BOUNDS_THRESHOLD < quantiles[0], column + BOUNDS_THRESHOLD > quantiles[-1]
            else:
                low, high = column == quantiles[0], column == quantiles[-1]
            uniform = 0.5 * (np.interp(column, quantiles, self.references_)
                             - np.interp(-column, -quantiles[::-1], -self.references_[::-1]))
            uniform[high], uniform[low] = 1.0, 0.0
            column[...] = uniform  # in X's dtype, as the parent stores it before its quantile call
        if normal:
            # In float64 as the parent's scipy.stats call computes, clipped as it clips.
            clip_min = stats.norm.ppf(BOUNDS_THRESHOLD - np.spacing(1))
            clip_max = stats.norm.ppf(1 - (BOUNDS_THRESHOLD - np.spacing(1)))
            columns = np.clip(special.ndtri(columns.astype(np.float64, copy=False)), clip_min, clip_max)
        X[...] = columns.T
        return X


class NormalScores(SortedQuantileTransformer):
    """Normal scores for columns with many distinct values; few-valued columns are z-scored.

    A column is few-valued when its training rows hold at most ``few_values`` distinct values and
    fewer than ``few_values_fraction`` of the rows (``anchormi.encoding``'s definition). On the
    8x8 digits (17 intensities per pixel) the copula map of such columns lost 0.3-1.0 nats
    against z-scores at k = 2 and 4 on development seeds (benchmarks/README.md); continuous
    columns are mapped exactly as by the parent.

    scikit-learn's transform sends every value within an absolute 1e-7 of a column's smallest or
    largest training value to that bound, so a column measured in small units lost its values near
    the extremes (a range of 1e-6) or all of them (1e-7 and below: a constant column, and an
    estimate of 0). Each column whose
    range is below 1 is therefore multiplied by a power of two that brings its range into
    [1, 2) before the parent sees it (``column_scale_``). A power of two changes no digit of the
    values, the quantiles or the interpolated output, so the map is the same up to that
    threshold; columns with a range of 1 or more pass through untouched.

    Fitted attributes besides the parent's: ``linear_columns_`` (bool mask), ``linear_mean_`` and
    ``linear_scale_`` (the z-score of those columns), ``column_scale_`` (the power of two per
    column).
    """

    def __init__(self, *, n_quantiles=1000, output_distribution="normal", ignore_implicit_zeros=False,
                 subsample=None, random_state=None, copy=True, few_values=FEW_VALUES,
                 few_values_fraction=FEW_VALUES_FRACTION):
        super().__init__(n_quantiles=n_quantiles, output_distribution=output_distribution,
                         ignore_implicit_zeros=ignore_implicit_zeros, subsample=subsample,
                         random_state=random_state, copy=copy)
        self.few_values = few_values
        self.few_values_fraction = few_values_fraction

    def fit(self, X, y=None):
        self.__dict__.pop("n_distinct_", None)  # a refit must not read the previous data's counts
        self.column_scale_ = None
        values = np.asarray(X)
        if values.size and np.issubdtype(values.dtype, np.number):  # the parent rejects the rest with its own message
            self.column_scale_ = unit_range_scale(values)
        super().fit(self._scaled(X), y)  # rejects empty input, so every column has at least one value below
        values = np.asarray(X, dtype=np.float64)
        n_distinct = getattr(self, "n_distinct_", None)
        if n_distinct is None:  # the parent's path (NaNs or subsample) sorted nothing here
            n_distinct = 1 + np.count_nonzero(np.diff(np.sort(values, axis=0), axis=0), axis=0)
        self.linear_columns_ = (n_distinct <= self.few_values) & (n_distinct < self.few_values_fraction * values.shape[0])
        linear = values[:, self.linear_columns_]
        scale = linear.std(axis=0)
        self.linear_mean_ = linear.mean(axis=0)
        self.linear_scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def _scaled(self, X):
        """``X`` with each column times ``column_scale_``; ``X`` itself when every factor is 1."""
        scale = getattr(self, "column_scale_", None)  # None in maps saved before it existed
        if scale is None or np.all(scale == 1.0) or np.ndim(X) != 2 or np.shape(X)[1] != scale.size:
            return X  # a mismatched width is left to the parent's own check and message
        values = np.asarray(X)
        if not np.issubdtype(values.dtype, np.floating):
            values = values.astype(np.float64)
        return values * scale.astype(values.dtype)

    def transform(self, X):
        out = super().transform(self._scaled(X))
        if self.linear_columns_.any():
            values = np.asarray(X, dtype=np.float64)[:, self.linear_columns_]
            out[:, self.linear_columns_] = (values - self.linear_mean_) / self.linear_scale_
        return out

    def inverse_transform(self, X):
        out = super().inverse_transform(X)
        if getattr(self, "column_scale_", None) is not None:
            out = out / self.column_scale_.astype(out.dtype)
        if self.linear_columns_.any():
            out[:, self.linear_columns_] = np.asarray(X, dtype=np.float64)[:, self.linear_columns_] * self.linear_scale_ + self.linear_mean_
        return out


def unit_range_scale(values: np.ndarray) -> np.ndarray:
    """Per column of ``values`` (n, d), the power of two 2**k that brings a range below 1 into
    [1, 2); 1 for columns with a range of 1 or more, constant columns and NaN-only columns."""
    values = np.asarray(values)
    dtype = values.dtype if np.issubdtype(values.dtype, np.floating) else np.dtype(np.float64)
    span = np.fmax.reduce(values, axis=0).astype(np.float64) - np.fmin.reduce(values, axis=0).astype(np.float64)
    exponent = np.zeros(span.shape, dtype=int)
    small = (span > 0) & (span < 1)
    # Capped so that the factor stays finite in the column's own float type.
    exponent[small] = np.minimum(-np.floor(np.log2(span[small])), np.finfo(dtype).maxexp - 2).astype(int)
    return np.ldexp(1.0, exponent)


def marginal_transform(kind: str, n_rows: int) -> TransformerMixin:
    """An unfitted transformer for ``kind`` (one of :data:`MARGINALS`) and ``n_rows`` training rows."""
    if kind == "zscore":
        return StandardScaler()
    if kind == "normal_scores":
        quantiles = NormalScores(n_quantiles=max(10, min(n_rows, MAX_QUANTILES)))
        return make_pipeline(quantiles, StandardScaler())
    if kind == "none":
        return StandardScaler(with_mean=False, with_std=False)
    raise ValueError(f"marginals={kind!r} is unknown; choose one of {list(MARGINALS)}.")


# ---- large data: one map for all folds, applied in chunks ------------------------------------------

# Rows drawn to fit the shared map of large data; the normal-scores map keeps at most
# MAX_QUANTILES quantiles, so more rows would not change it.
MAP_SAMPLE_ROWS = 100_000
CHUNK_ROWS = 262_144


def fit_on_sample(kind: str, array: np.ndarray, name: str, rng: np.random.Generator) -> TransformerMixin:
    """The map ``kind`` fitted on at most MAP_SAMPLE_ROWS rows of ``array`` drawn at random."""
    n_rows = array.shape[0]
    rows = np.sort(rng.choice(n_rows, size=min(n_rows, MAP_SAMPLE_ROWS), replace=False))
    sample = np.asarray(array[rows], dtype=np.float64)
    release_pages(array)  # the sample touched most pages of a memory map
    check_finite(sample, name, rows)
    return marginal_transform(kind, sample.shape[0]).fit(sample)


def transform_in_chunks(transformer: TransformerMixin, array: np.ndarray, name: str) -> np.ndarray:
    """``transformer`` applied to ``array`` CHUNK_ROWS rows at a time into one float32 array.

    Every chunk is checked for NaN/inf (a ValueError names the first bad row). The pages of a
    memory-mapped input are handed back to the system after each chunk, so the peak memory is
    the float32 output plus one chunk, not the input as well.
    """
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, array.shape[0], CHUNK_ROWS):
        chunk = np.asarray(array[start : start + CHUNK_ROWS], dtype=np.float64)
        check_finite(chunk, name, np.arange(start, start + chunk.shape[0]))
        out[start : start + chunk.shape[0]] = transformer.transform(chunk)
        if not np.isfinite(out[start : start + chunk.shape[0]]).all():
            raise ValueError(not_finite_after_map(name, chunk))
        release_pages(array)
    return out


def not_finite_after_map(name: str, values: np.ndarray) -> str:
    """The message for finite input whose per-column map (or float32 copy) is not finite: values
    beyond float32's range (3.4e38), or whose squares overflow a z-score's variance."""
    largest = float(np.max(np.abs(np.asarray(values, dtype=np.float64)), initial=0.0))
    return (f"{name} is finite, but not after its per-column map and conversion to float32 (largest |{name}| = "
            f"{largest:.3g}); divide {name} by a power of ten, or use marginals='normal_scores', which takes any finite scale.")


def release_pages(array: np.ndarray) -> None:
    """Drop the resident pages of a read-only memory map (they are re-read from disk if needed)."""
    base = array
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    mapping = getattr(base, "_mmap", None)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # not every platform or mapping allows it; memory is then just higher
            pass
