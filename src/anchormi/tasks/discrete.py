"""Tasks with a discrete variable: a class label with Gaussian class-conditionals, and a joint table.

- ``class_label``: Y uniform on {0, ..., C-1}, X | Y = c ~ N(a e_c, I_C). No closed form exists;
  I(X; Y) = H(Y) - E[H(Y | X)] = log C - E[H(softmax(a X))] is computed once per (C, a) by Monte
  Carlo and cached; ``mi_stderr`` states its standard error.
- ``discrete_table``: (X, Y) drawn from a joint probability table; the MI is exact.

Discrete values come back as float64 codes 0.0, 1.0, ... in one column, as every Task returns floats.
"""

from __future__ import annotations

import functools
import math
from numbers import Real
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ._arguments import check_positive_int, check_positive_real, format_number
from .interface import Task

# Monte Carlo size of the class-label MI: 10^7 draws take about 4 s for C = 4 on one core.
CLASS_LABEL_DRAWS = 10_000_000
_CHUNK = 250_000
_MC_SEED = 20_240_601


@functools.lru_cache(maxsize=64)
def class_label_mi(n_classes: int, separation: float, draws: int = CLASS_LABEL_DRAWS) -> tuple[float, float]:
    """I(X; Y) in nats and its Monte Carlo standard error for Y ~ U{0..C-1}, X | Y=c ~ N(a e_c, I).

    The posterior is p(c | x) = softmax(a x)_c, so I = log C - E_X[H(softmax(a X))]. The entropy
    of the posterior is permutation invariant, so X may be drawn given Y = 0 (x = a e_0 + noise)
    instead of from the mixture: same expectation, and averaging the whole posterior entropy
    (rather than log p(y | x) at the drawn y) lowers the variance. A fixed seed makes the value
    reproducible; results are cached per (n_classes, separation, draws).

    Returns:
        (mi, stderr), both in nats; 0 <= mi <= log C.
    """
    rng = np.random.default_rng(_MC_SEED)
    total, total_squared, done, shift = 0.0, 0.0, 0, None
    while done < draws:
        size = min(_CHUNK, draws - done)
        logits = separation * rng.standard_normal((size, n_classes))
        logits[:, 0] += separation * separation
        log_posterior = logits - logsumexp(logits, axis=1, keepdims=True)
        entropy = -(np.exp(log_posterior) * log_posterior).sum(axis=1)
        if shift is None:
            shift = float(entropy.mean())  # sums of shifted values keep the variance precise
        centred = entropy - shift
        total += float(centred.sum())
        total_squared += float((centred * centred).sum())
        done += size
    mean = total / draws
    variance = (total_squared - draws * mean * mean) / (draws - 1)
    mi = math.log(n_classes) - (shift + mean)
    return float(mi), float(math.sqrt(max(variance, 0.0) / draws))


class ClassLabelTask(Task):
    """A class label and a Gaussian feature vector: Y ~ U{0..C-1}, X | Y = c ~ N(a e_c, I_C).

    ``mi`` (nats) is a Monte Carlo value with standard error ``mi_stderr``, computed on first
    access and cached per (C, a); MI <= H(Y) = log C always.

    Samples: x of shape (n, C), y of shape (n, 1) holding the class codes 0.0 .. C-1 (float64).
    """

    def __init__(self, n_classes: int, separation: float) -> None:
        self.n_classes = check_positive_int(n_classes, "n_classes", "the number of classes", "n_classes=4")
        if self.n_classes < 2:
            raise ValueError(f"n_classes={n_classes!r} is invalid: a label needs at least 2 classes; pass e.g. n_classes=4.")
        self.separation = check_positive_real(separation, "separation", "the class-mean scale a", "separation=2.0")
        super().__init__(
            name=f"class-label-c{self.n_classes}-a{format_number(self.separation)}",
            dim_x=self.n_classes, dim_y=1, mi=float("nan"),
        )

    @property
    def mi(self) -> float:
        """I(X; Y) in nats by Monte Carlo (see ``mi_stderr``)."""
        return class_label_mi(self.n_classes, self.separation)[0]

    @property
    def mi_stderr(self) -> float:
        """Monte Carlo standard error of ``mi`` in nats."""
        return class_label_mi(self.n_classes, self.separation)[1]

    @property
    def bits(self) -> float:
        return self.mi / math.log(2.0)

    @property
    def entropy_y(self) -> float:
        """H(Y) = log C in nats, the upper bound of the MI."""
        return math.log(self.n_classes)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(self.n_classes, size=n)
        x = rng.standard_normal((n, self.n_classes))
        x[np.arange(n), labels] += self.separation
        return x, labels[:, None].astype(np.float64)


def table_mi(table: np.ndarray) -> float:
    """Exact I(X; Y) in nats of a joint probability table p[i, j] = P(X = i, Y = j) (0 log 0 = 0)."""
    table = np.asarray(table, dtype=np.float64)
    p_x = table.sum(axis=1, keepdims=True)
    p_y = table.sum(axis=0, keepdims=True)
    positive = table > 0
    return float(np.sum(table[positive] * np.log(table[positive] / (p_x * p_y)[positive])))


def symmetric_channel(n_symbols: int = 4, error: float = 0.3) -> np.ndarray:
    """Joint table of a uniform X through a symmetric channel: Y = X with probability 1 - error,
    else one of the other symbols uniformly. Shape (n_symbols, n_symbols), sums to 1."""
    off_diagonal = error / (n_symbols - 1)
    table = np.full((n_symbols, n_symbols), off_diagonal)
    np.fill_diagonal(table, 1.0 - error)
    return table / n_symbols


class DiscreteTableTask(Task):
    """(X, Y) drawn from a joint probability table; I(X; Y) is exact.

    Samples: x and y of shape (n, 1), the row and column codes 0.0, 1.0, ... (float64).
    """

    def __init__(self, table: Any) -> None:
        try:
            array = np.array(table, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"table could not be read as a numeric 2-D array ({error}).") from error
        if array.ndim != 2 or min(array.shape) < 1:
            raise ValueError(f"table has shape {array.shape}; pass a 2-D array p[i, j] = P(X = i, Y = j).")
        if not np.isfinite(array).all() or (array < 0).any() or array.sum() <= 0:
            raise ValueError("table must hold finite, non-negative probabilities (or counts) with a positive sum.")
        self.table = array / array.sum()
        mi = table_mi(self.table)
        super().__init__(
            name=f"discrete-table-{array.shape[0]}x{array.shape[1]}-mi{mi:.4g}", dim_x=1, dim_y=1, mi=mi,
        )

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cells = rng.choice(self.table.size, size=n, p=self.table.ravel())
        rows, cols = np.divmod(cells, self.table.shape[1])
        return rows[:, None].astype(np.float64), cols[:, None].astype(np.float64)


def class_label(n_classes: int = 4, separation: float = 2.0) -> ClassLabelTask:
    """Y uniform on C classes, X | Y = c ~ N(separation e_c, I_C); MI by cached Monte Carlo.

    Args:
        n_classes: C >= 2, the number of classes and the dimension of x.
        separation: a > 0, the scale of the one-hot class means.
    """
    return ClassLabelTask(n_classes=n_classes, separation=separation)


def discrete_table(table: Any = None, n_symbols: int | None = None, error: float | None = None) -> DiscreteTableTask:
    """Two discrete variables with a known joint table (normalised to sum 1); exact MI.

    Args:
        table: a 2-D array of probabilities or counts p[i, j] for X = i, Y = j. Without it the
            table is the symmetric channel of ``n_symbols`` (default 4) with ``error`` (default
            0.3), see :func:`symmetric_channel`.
    """
    if table is not None:
        if n_symbols is not None or error is not None:
            raise ValueError("pass either table or n_symbols/error (which build a symmetric channel), not both.")
        return DiscreteTableTask(table)
    n_symbols = 4 if n_symbols is None else n_symbols
    error = 0.3 if error is None else error
    n_symbols = check_positive_int(n_symbols, "n_symbols", "the alphabet size", "n_symbols=4")
    if n_symbols < 2:
        raise ValueError(f"n_symbols={n_symbols!r} is invalid: a channel needs at least 2 symbols.")
    if not (isinstance(error, Real) and not isinstance(error, bool) and 0 <= error < 1):
        raise ValueError(f"error={error!r} is invalid: pass a probability in [0, 1), e.g. error=0.3.")
    return DiscreteTableTask(symmetric_channel(n_symbols, float(error)))
