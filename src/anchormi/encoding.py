"""Categorical input: decide which columns are discrete, and one-hot encode them.

    detect_discrete(x, "x", discrete=None)   # bool for a Series / 1-D array, per-column mask for a table
    encoder = OneHotColumns(mask, name="x").fit(x_train)
    encoder.transform(x_any)                 # float64 (n, n_features_out_); unseen categories -> zero rows

Rules of :func:`detect_discrete`: an explicit ``discrete=True/False`` decides. Otherwise pandas
``category``, ``object``, string and ``bool`` dtypes (and numpy object, text and bool arrays) are
categorical, and numbers are continuous; an integer column with few distinct values (at most 20,
and fewer than 5 % of the rows) is kept continuous but warns, naming the argument that decides
(``discrete_x`` / ``discrete_y``). A categorical column never passes through as a float: it is
one-hot encoded by scikit-learn's ``OneHotEncoder``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import OneHotEncoder

# An integer column with at most this many distinct values, and fewer than FEW_VALUES_FRACTION of
# the rows, looks like category codes; detect_discrete warns about it.
FEW_VALUES = 20
FEW_VALUES_FRACTION = 0.05
# A categorical column with more distinct values than this fraction of the rows (and more than
# FEW_VALUES) leaves most held-out rows with a category training rarely saw; detect_discrete warns.
MANY_VALUES_FRACTION = 0.5


def _as_frame(value: Any, name: str) -> tuple[pd.DataFrame, bool]:
    """``value`` as a DataFrame with one column per feature, and whether it was one-dimensional.

    Shape: (n,) or (n, d) -> (n, 1) or (n, d).
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, pd.DataFrame):
        return value, False
    if isinstance(value, pd.Series):
        return value.to_frame(), True
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array ({error}); pass shape (n,) or (n, d).") from error
    if array.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {array.shape}; pass shape (n,) or (n, d) with one row per sample.")
    if array.ndim == 1:
        return pd.DataFrame({0: array}), True
    return pd.DataFrame({j: array[:, j] for j in range(array.shape[1])}), False


def _is_categorical_dtype(dtype: Any) -> bool:
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _is_time_dtype(dtype: Any) -> bool:
    return (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, pd.PeriodDtype))


def _is_integer_dtype(dtype: Any) -> bool:
    return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _column_label(frame: pd.DataFrame, position: int, one_dimensional: bool) -> str:
    if one_dimensional:
        return ""
    label = frame.columns[position]
    # A numpy scalar name (the columns of a frame built from an array) reads as 0, not np.int64(0).
    return f" column {label.item() if isinstance(label, np.generic) else label!r}"


def detect_discrete(value: Any, name: str, discrete: bool | None = None, stacklevel: int = 2) -> bool | np.ndarray:
    """Whether ``value`` (the argument called ``name``, "x" or "y") is categorical.

    Args:
        value: a pandas Series or DataFrame, a numpy array, a torch tensor or a list; shape (n,)
            or (n, d).
        name: the argument's name; the argument that decides is ``discrete_{name}``.
        discrete: True or False decides for every column; None (default) decides by dtype.

    Returns:
        A bool for one-dimensional input (Series, 1-D array); for a table (DataFrame, 2-D array,
        even with one column) a boolean mask of shape (d,), one entry per column.

    Raises:
        ValueError: ``discrete`` is not None/True/False, ``discrete=False`` for a column of text
            or categories that are not numbers, or a column of dates, times or durations.
    Warns:
        UserWarning: an integer column with few distinct values (<= 20 and < 5 % of n) is kept
            continuous; the message names ``discrete_{name}``. A text or category column with
            many distinct values (> 20 and > half the rows) is encoded as asked but warns that the
            estimate is biased low, and, when its text reads as numbers, how to read it as numbers.
    """
    argument = f"discrete_{name}"
    if discrete is not None and not isinstance(discrete, (bool, np.bool_)):
        raise ValueError(f"{argument}={discrete!r} is invalid; pass True (categorical), False (numbers) or None (by dtype).")
    frame, one_dimensional = _as_frame(value, name)
    n_rows = len(frame)
    mask = np.zeros(frame.shape[1], dtype=bool)
    few_valued, many_valued = [], []
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if _is_time_dtype(column.dtype):
            raise ValueError(
                f"{name}{_column_label(frame, position, one_dimensional)} holds dates or times (dtype {column.dtype}); "
                "convert them to numbers first, e.g. seconds: (column - column.min()).dt.total_seconds(), or drop it."
            )
        categorical_dtype = _is_categorical_dtype(column.dtype)
        if discrete is not None:
            if not discrete and categorical_dtype and not pd.api.types.is_bool_dtype(column.dtype) and not _reads_as_numbers(column):
                raise ValueError(
                    f"{name}{_column_label(frame, position, one_dimensional)} holds text or categories "
                    f"(dtype {column.dtype}) that are not numbers, but {argument}=False says it is continuous; "
                    f"pass {argument}=True (or None) to one-hot encode it, or convert it to numbers."
                )
            mask[position] = bool(discrete)
            continue
        if categorical_dtype:
            mask[position] = True
            if not pd.api.types.is_bool_dtype(column.dtype):
                n_distinct = column.nunique()
                if n_distinct > FEW_VALUES and n_distinct > MANY_VALUES_FRACTION * n_rows:
                    many_valued.append((position, n_distinct, _reads_as_numbers(column)))
        elif _is_integer_dtype(column.dtype):
            n_distinct = column.nunique()
            if n_distinct <= FEW_VALUES and n_distinct < FEW_VALUES_FRACTION * n_rows:
                few_valued.append((position, n_distinct))
    if few_valued:
        described = ", ".join(
            f"{name}{_column_label(frame, position, one_dimensional)} ({count} distinct values)"
            for position, count in few_valued
        )
        warnings.warn(
            f"{described} in {n_rows} rows: integer-typed with few distinct values, read as continuous numbers. "
            f"If these are category codes, pass {argument}=True; pass {argument}=False to keep them numeric "
            "and silence this warning.",
            UserWarning, stacklevel=stacklevel,
        )
    if many_valued:
        described = ", ".join(
            f"{name}{_column_label(frame, position, one_dimensional)} ({count} distinct values"
            + ("; its text reads as numbers)" if numbers else ")")
            for position, count, numbers in many_valued
        )
        warnings.warn(
            f"{described} in {n_rows} rows: categorical with many distinct values, so one-hot encoded, and most held-out "
            "rows carry a category that the training rows show rarely or never; the estimate is biased low. Convert "
            "measurements stored as text to numbers (e.g. .astype(float)); drop identifier-like columns or group rare categories.",
            UserWarning, stacklevel=stacklevel,
        )
    return bool(mask[0]) if one_dimensional else mask


def _reads_as_numbers(column: pd.Series) -> bool:
    """Every value of a text or category column converts to a float (numbers stored as text)."""
    try:
        column.astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


class OneHotColumns:
    """Fit on training rows, then turn any rows into floats: categorical columns one-hot, numeric as is.

    Built on ``sklearn.preprocessing.OneHotEncoder(handle_unknown="ignore")``: a category not seen
    in ``fit`` becomes an all-zero block, with a UserWarning the first time it happens. Output
    columns keep the input order, each categorical column replaced by its block.

    Args:
        categorical: a boolean mask with one entry per column (e.g. from :func:`detect_discrete`),
            or a single bool for one-dimensional input; None means every column is categorical.
        name: the argument's name ("x", "y", ...) for messages.

    Fitted attributes: ``categorical_`` (mask, shape (d,)), ``n_features_in_``,
    ``n_features_out_``, ``encoder_`` (the OneHotEncoder, None without categorical columns),
    ``categories_`` (list of arrays, one per categorical column), ``columns_``.

    Shape:
        values: (n,) or (n, d) -> transform: (n, n_features_out_) float64.
    """

    def __init__(self, categorical: Any = None, name: str = "x") -> None:
        self.categorical = categorical
        self.name = name

    def _mask(self, n_columns: int) -> np.ndarray:
        if self.categorical is None:
            return np.ones(n_columns, dtype=bool)
        mask = np.atleast_1d(np.asarray(self.categorical))
        if mask.dtype != bool or mask.shape != (n_columns,):
            raise ValueError(
                f"categorical={self.categorical!r} is invalid for {self.name} with {n_columns} columns; pass a boolean "
                f"mask of length {n_columns} (e.g. from detect_discrete) or None for all columns."
            )
        return mask

    def fit(self, values: Any) -> "OneHotColumns":
        """Learn the categories of the categorical columns from ``values`` (the training rows)."""
        frame, _ = _as_frame(values, self.name)
        mask = self._mask(frame.shape[1])
        self._check_missing(frame, mask)
        encoder = None
        if mask.any():
            encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)
            try:
                encoder.fit(self._categorical_part(frame, mask))
            except TypeError as error:
                raise ValueError(
                    f"{self.name}: a categorical column mixes types (e.g. numbers and text) ({error}); "
                    "give each column one type, e.g. convert it with .astype(str)."
                ) from error
        self.categorical_ = mask
        self.n_features_in_ = frame.shape[1]
        self.columns_ = list(frame.columns)
        self.encoder_ = encoder
        self.categories_ = [] if encoder is None else list(encoder.categories_)
        self.n_features_out_ = int((~mask).sum() + sum(len(c) for c in self.categories_))
        self._warned_unknown = False
        return self

    def transform(self, values: Any) -> np.ndarray:
        """Encode ``values`` (any rows with the fitted columns) as a float64 array (n, n_features_out_)."""
        if not hasattr(self, "categorical_"):
            raise NotFittedError("this OneHotColumns is not fitted yet; call fit(training rows) first.")
        frame, _ = _as_frame(values, self.name)
        if frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{self.name} has {frame.shape[1]} columns but the encoder was fitted on {self.n_features_in_}; "
                "pass the same columns as in fit."
            )
        if isinstance(values, pd.DataFrame) and list(frame.columns) != self.columns_:
            raise ValueError(
                f"{self.name} has columns {list(frame.columns)} but the encoder was fitted on {self.columns_}; "
                "pass the same columns in the same order."
            )
        mask = self.categorical_
        self._check_missing(frame, mask)
        blocks: list[np.ndarray] = []
        if self.encoder_ is not None:
            categorical = self._categorical_part(frame, mask)
            self._warn_unknown(categorical)
            with warnings.catch_warnings():
                # The unseen categories were reported above, once; sklearn would repeat it every call.
                warnings.filterwarnings("ignore", message=".*unknown categories.*", category=UserWarning)
                try:
                    encoded = self.encoder_.transform(categorical)
                except TypeError as error:
                    raise ValueError(
                        f"{self.name}: a categorical column has values of another type than in fit ({error}); "
                        "give each column the type it had in fit."
                    ) from error
            widths = [len(c) for c in self.categories_]
            splits = np.split(encoded, np.cumsum(widths)[:-1], axis=1)
        next_block = 0
        for position in range(frame.shape[1]):
            if mask[position]:
                blocks.append(splits[next_block])
                next_block += 1
            else:
                column = frame.iloc[:, position]
                try:
                    blocks.append(column.to_numpy(dtype=np.float64)[:, None])
                except (TypeError, ValueError) as error:
                    raise ValueError(
                        f"{self.name}{_column_label(frame, position, False)} is marked numeric but holds non-numbers "
                        f"({error}); mark it categorical or convert it."
                    ) from error
        return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)

    def fit_transform(self, values: Any) -> np.ndarray:
        """``fit(values)`` then ``transform(values)``."""
        return self.fit(values).transform(values)

    # ---- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _categorical_part(frame: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
        # An object array keeps each value as it is: bool stays bool, text stays text, and a
        # pandas category becomes its category values.
        return np.column_stack([frame.iloc[:, j].astype(object).to_numpy() for j in np.flatnonzero(mask)])

    def _check_missing(self, frame: pd.DataFrame, mask: np.ndarray) -> None:
        for position in np.flatnonzero(mask):
            n_missing = int(frame.iloc[:, position].isna().sum())
            if n_missing:
                raise ValueError(
                    f"{self.name}{_column_label(frame, position, frame.shape[1] == 1)} has {n_missing} missing values in a "
                    "categorical column; drop those rows, or fill them with a category of their own (e.g. 'missing')."
                )

    def _warn_unknown(self, categorical: np.ndarray) -> None:
        if self._warned_unknown:
            return
        for index, categories in enumerate(self.categories_):
            unseen = ~pd.Series(categorical[:, index]).isin(list(categories)).to_numpy()
            if unseen.any():
                self._warned_unknown = True
                example = categorical[np.flatnonzero(unseen)[0], index]
                warnings.warn(
                    f"{self.name}: {int(unseen.sum())} rows hold categories not seen in fit (e.g. {example!r} in "
                    f"categorical column {index}); they are encoded as all-zero rows. This warning is shown once.",
                    UserWarning, stacklevel=3,
                )
                return


def fit_encoder(value: Any, name: str, discrete: bool | None = None, stacklevel: int = 2) -> OneHotColumns | None:
    """The fitted :class:`OneHotColumns` for ``value``, or None when every column is numeric.

    The rules are :func:`detect_discrete`'s (its few-values warning included). A float numpy
    array with ``discrete=None`` is numeric without a look at its values, so large float data
    pay nothing here. ``stacklevel`` is for the warning, as in ``warnings.warn``.
    """
    if discrete is None and isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return None
    mask = np.atleast_1d(detect_discrete(value, name, discrete, stacklevel=stacklevel + 1))
    if not mask.any():
        return None
    return OneHotColumns(mask, name=name).fit(value)


def encoder_to_plain(encoder: OneHotColumns) -> dict[str, Any]:
    """A fitted encoder as plain Python data (lists, str, numbers, bools), for safe saving."""
    def plain(value: Any) -> Any:
        return value.item() if isinstance(value, np.generic) else value

    return {
        "name": encoder.name, "categorical": [bool(v) for v in encoder.categorical_],
        "columns": [plain(c) for c in encoder.columns_],
        "categories": [[plain(v) for v in categories] for categories in encoder.categories_],
    }


def encoder_from_plain(stored: dict[str, Any]) -> OneHotColumns:
    """Rebuild the encoder saved by :func:`encoder_to_plain`; it encodes exactly as the original."""
    mask = np.asarray(stored["categorical"], dtype=bool)
    encoder = OneHotColumns(mask, name=stored["name"])
    encoder.categorical_ = mask
    encoder.n_features_in_ = int(mask.size)
    encoder.columns_ = list(stored["columns"])
    categories = [np.asarray(values, dtype=object) for values in stored["categories"]]
    fitted = OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False, dtype=np.float64)
    fitted.fit(np.array([[values[0] for values in categories]], dtype=object))
    encoder.encoder_ = fitted
    encoder.categories_ = list(fitted.categories_)
    encoder.n_features_out_ = int((~mask).sum() + sum(len(c) for c in encoder.categories_))
    encoder._warned_unknown = False
    return encoder
