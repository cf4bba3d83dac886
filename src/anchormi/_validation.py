"""Turn any array-like into a checked float array, with errors that name the argument.

Every public entry point (``estimate``, ``MIEstimator.fit``/``estimate``/``pmi``, the CLI) goes
through :func:`check_array` / :func:`check_pair`, so a bad input fails early and the same way.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Callable, Mapping

import numpy as np


def _to_numpy(value: Any, name: str) -> np.ndarray:
    # torch tensors and pandas objects both expose a route to numpy; avoid importing either here.
    if hasattr(value, "toarray") and hasattr(value, "nnz"):  # scipy.sparse, without importing it
        raise ValueError(
            f"{name} is a sparse matrix ({type(value).__name__}); pass a dense array, e.g. {name}.toarray(): "
            "the critic reads dense rows."
        )
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise ValueError(
            f"{name} could not be read as an array ({error}); pass a numeric array of shape (n,) or (n, d)."
        ) from error
    return array


def numeric_rows(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a numeric array of shape (n, d) without converting its dtype.

    A 1-D array is read as one column; a numpy array (a memory map included) is viewed, not
    copied. Raises ValueError for rank 0 or >= 3, non-numeric or complex dtypes and empty arrays.
    """
    array = _to_numpy(value, name)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(
            f"{name} has dtype {array.dtype}; pass numbers (float, int or bool). "
            "Encode text or categories as numbers first."
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} is complex; pass real numbers (e.g. stack real and imaginary parts).")
    if array.ndim == 0:
        raise ValueError(f"{name} is a scalar; pass an array of shape (n,) or (n, d) with one row per sample.")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim >= 3:
        raise ValueError(
            f"{name} has shape {array.shape} (rank {array.ndim}); pass shape (n, d) with one row per sample. "
            f"For images or other tensors, flatten each sample first, e.g. {name}.reshape(len({name}), -1)."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); pass at least one sample and one column.")
    return array


def check_finite(array: np.ndarray, name: str, rows: np.ndarray | None = None) -> None:
    """Raise ValueError when ``array`` (n, d) holds NaN or inf, naming the first bad row.

    ``rows`` gives each row's index in the caller's data (for a chunk or a sample of it).
    """
    finite = np.isfinite(array)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        n_nan = int(np.isnan(array).sum())
        n_inf = int((~finite).sum()) - n_nan
        first = bad_rows[0] if rows is None else rows[bad_rows[0]]
        raise ValueError(
            f"{name} contains {n_nan} NaN and {n_inf} infinite values in {len(bad_rows)} rows "
            f"(first bad row: {first}); drop or impute those rows before estimating MI."
        )


def check_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a finite float64 array of shape (n, d).

    A 1-D array is read as one column. Integer and boolean dtypes are converted to float.
    Raises ValueError for rank 0 or >= 3, non-numeric dtypes, empty arrays and NaN/inf.
    """
    array = numeric_rows(value, name).astype(np.float64, copy=False)
    check_finite(array, name)
    return array


def check_paired(x: np.ndarray, y: np.ndarray, min_samples: int = 2) -> None:
    """Raise ValueError unless x and y have the same number of rows, at least ``min_samples``."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x has {x.shape[0]} rows but y has {y.shape[0]}; x and y must be paired "
            "samples, one row each per observation."
        )
    if x.shape[0] < min_samples:
        raise ValueError(
            f"got {x.shape[0]} samples but this needs at least {min_samples}; collect more samples."
        )


def check_pair(x: Any, y: Any, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Check two paired arrays: each as :func:`check_array`, same number of rows, enough rows."""
    x_array = check_array(x, "x")
    y_array = check_array(y, "y")
    check_paired(x_array, y_array, min_samples)
    return x_array, y_array


# ---- hyperparameter constraints, checked in fit() as scikit-learn does --------------------------------


class Constraint:
    """A named predicate: ``constraint(value) -> bool``, with ``description`` for error messages."""

    def __init__(self, predicate: Callable[[Any], bool], description: str):
        self.predicate = predicate
        self.description = description

    def __call__(self, value: Any) -> bool:
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError):
            return False

    def __repr__(self) -> str:
        return f"Constraint({self.description!r})"


def _is_integer(value: Any) -> bool:
    # numbers.Integral covers int and every numpy integer (np.int64 ...); bool is excluded on purpose.
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)


positive_int = Constraint(lambda v: _is_integer(v) and v > 0, "a positive integer")
nonnegative_int = Constraint(lambda v: _is_integer(v) and v >= 0, "an integer >= 0")
positive_real = Constraint(lambda v: _is_real(v) and v > 0, "a finite number > 0")
nonnegative_real = Constraint(lambda v: _is_real(v) and v >= 0, "a finite number >= 0")
fraction = Constraint(lambda v: _is_real(v) and 0 < v < 1, "a number strictly between 0 and 1")
decay_rate = Constraint(lambda v: _is_real(v) and 0 <= v < 1, "a number in [0, 1)")
boolean = Constraint(lambda v: isinstance(v, (bool, np.bool_)), "True or False")


def integer_at_least(minimum: int) -> Constraint:
    return Constraint(lambda v: _is_integer(v) and v >= minimum, f"an integer >= {minimum}")


def optional(constraint: Constraint) -> Constraint:
    # Worded for the CLI too, where None is an option left out: "a positive integer (or None for the default)".
    return Constraint(lambda v: v is None or constraint(v), f"{constraint.description} (or None for the default)")


def one_of(*choices: Any) -> Constraint:
    # isinstance keeps 1 from passing for True and accepts str subclasses such as numpy.str_.
    return Constraint(lambda v: any(isinstance(v, type(c)) and v == c for c in choices),
                      "one of " + ", ".join(repr(c) for c in choices))


def any_of(*constraints: Constraint) -> Constraint:
    return Constraint(lambda v: any(c(v) for c in constraints), " or ".join(c.description for c in constraints))


def validate_params(params: Mapping[str, Any], constraints: Mapping[str, Constraint]) -> None:
    """Raise ValueError naming the first parameter that breaks its constraint, with what it must be."""
    for name, constraint in constraints.items():
        value = params[name]
        if not constraint(value):
            raise ValueError(f"{name}={value!r} is invalid: it must be {constraint.description}.")


def check_positive_int(value: Any, name: str, meaning: str = "it", example: str | None = None) -> int:
    """Return ``value`` as an int if it is an integer >= 1 (numpy integers included), else raise
    ValueError naming ``name``. The one positive-integer check of the package."""
    if positive_int(value):
        return int(value)
    hint = f"; pass e.g. {example}" if example else ""
    raise ValueError(f"{name}={value!r} is invalid: {meaning} must be an integer >= 1{hint}.")
