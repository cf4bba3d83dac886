"""anchormi.encoding: which columns are categorical, and their one-hot encoding."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from anchormi.encoding import OneHotColumns, detect_discrete


def _no_warnings(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call()
    assert not caught, [str(w.message) for w in caught]
    return value


# ---- detect_discrete -------------------------------------------------------------------------------


@pytest.mark.parametrize("series", [
    pd.Series(["a", "b", "a"] * 10),
    pd.Series(["a", "b", "a"] * 10, dtype="category"),
    pd.Series([1, 2, 1] * 10, dtype="category"),
    pd.Series([True, False, True] * 10),
    pd.Series(["a", "b", "a"] * 10, dtype="string"),
    np.array(["a", "b", "a"] * 10),
    np.array([True, False, True] * 10),
])
def test_text_category_and_bool_dtypes_are_categorical(series):
    assert _no_warnings(lambda: detect_discrete(series, "x")) is True


@pytest.mark.parametrize("values", [np.linspace(0, 1, 30), pd.Series(np.arange(1000)), np.arange(30, dtype=np.int64)])
def test_floats_and_many_valued_integers_are_continuous_without_a_warning(values):
    # 30 distinct integers in 30 rows: not "few" (that needs <= 20 values and < 5 % of n)
    assert _no_warnings(lambda: detect_discrete(values, "x")) is False


def test_few_valued_integers_stay_continuous_and_warn_naming_the_deciding_argument():
    codes = np.arange(1000) % 5
    with pytest.warns(UserWarning, match=r"discrete_y=True.*discrete_y=False"):
        assert detect_discrete(codes, "y") is False
    # 21 distinct values is above the count limit, and 5 values in 80 rows (6 %) above the fraction
    _no_warnings(lambda: detect_discrete(np.arange(1000) % 21, "y"))
    _no_warnings(lambda: detect_discrete(np.arange(80) % 5, "y"))
    with pytest.warns(UserWarning, match="discrete_y"):
        detect_discrete(np.arange(101) % 5, "y")  # 5 < 5.05


def test_many_valued_text_columns_stay_categorical_and_warn_that_the_estimate_is_biased_low():
    rng = np.random.default_rng(0)
    measured = pd.DataFrame({"label": ["a", "b", "c"] * 100, "reading": rng.normal(size=300).astype(str)})
    with pytest.warns(UserWarning, match=r"x column 'reading' \(300 distinct values; its text reads as numbers\) in 300 rows.*biased low.*astype\(float\)") as caught:
        np.testing.assert_array_equal(detect_discrete(measured, "x"), [True, True])
    assert "'label'" not in str(caught[0].message)  # 3 categories: nothing to warn about
    with pytest.warns(UserWarning, match=r"y \(300 distinct values\) in 300 rows: categorical with many distinct values"):
        assert detect_discrete(pd.Series([f"user{i}" for i in range(300)]), "y") is True
    # 21 categories in 40 rows is above the count but not above half the rows; bools never warn
    _no_warnings(lambda: detect_discrete(pd.Series([f"c{i % 21}" for i in range(43)]), "y"))
    _no_warnings(lambda: detect_discrete(pd.Series([f"c{i}" for i in range(20)]), "y"))
    _no_warnings(lambda: detect_discrete(pd.Series([f"c{i}" for i in range(300)]), "y", discrete=True))


def test_dates_times_and_durations_are_refused_with_how_to_convert_them():
    when = pd.Series(pd.date_range("2020-01-01", periods=50, freq="h"), name="when")
    table = pd.DataFrame({"value": np.arange(50.0), "when": when})
    for value, label in ((table, "x column 'when'"), (when, "x"), (when - when.min(), "x"),
                         (when.dt.to_period("D"), "x"), (when.to_numpy(), "x")):
        with pytest.raises(ValueError, match=rf"^{label} holds dates or times \(dtype .*\); convert them to numbers first"):
            detect_discrete(value, "x")
        with pytest.raises(ValueError, match="holds dates or times"):
            detect_discrete(value, "x", discrete=True)  # no explicit choice makes a date a number or a category


def test_an_explicit_choice_decides_and_silences():
    codes = np.arange(1000) % 5
    assert _no_warnings(lambda: detect_discrete(codes, "x", discrete=True)) is True
    assert _no_warnings(lambda: detect_discrete(codes, "x", discrete=False)) is False
    assert _no_warnings(lambda: detect_discrete(pd.Series([True, False] * 5), "x", discrete=False)) is False
    assert detect_discrete(np.linspace(0, 1, 10), "x", discrete=True) is True
    # numbers stored as objects may be declared continuous; text may not
    assert detect_discrete(pd.Series([1.5, 2.5] * 5, dtype=object), "x", discrete=False) is False
    with pytest.raises(ValueError, match="discrete_x=False.*discrete_x=True"):
        detect_discrete(pd.Series(["a", "b"] * 5), "x", discrete=False)
    with pytest.raises(ValueError, match="discrete_y="):
        detect_discrete(codes, "y", discrete="yes")


def test_tables_get_a_mask_per_column():
    frame = pd.DataFrame({
        "colour": pd.Series(["red", "blue"] * 50, dtype="category"), "size": np.linspace(0, 1, 100),
        "flag": [True, False] * 50, "code": np.arange(100) % 3, "count": np.arange(100),
    })
    with pytest.warns(UserWarning, match="'code'") as caught:
        mask = detect_discrete(frame, "x")
    assert "'count'" not in str(caught[0].message)
    np.testing.assert_array_equal(mask, [True, False, True, False, False])
    np.testing.assert_array_equal(detect_discrete(frame, "x", discrete=True), [True] * 5)
    single = detect_discrete(frame[["colour"]], "x")
    assert isinstance(single, np.ndarray) and single.tolist() == [True]
    np.testing.assert_array_equal(detect_discrete(np.column_stack([np.linspace(0, 1, 10)] * 2), "x"), [False, False])


# ---- OneHotColumns -----------------------------------------------------------------------------------


def test_one_hot_encodes_categorical_columns_and_passes_numbers_as_floats():
    frame = pd.DataFrame({"colour": ["red", "blue", "green", "red"], "size": [1.5, 2.0, 3.0, 4.0],
                          "flag": [True, False, True, True]})
    encoder = OneHotColumns(detect_discrete(frame, "x"), name="x").fit(frame)
    encoded = encoder.transform(frame)
    assert encoded.dtype == np.float64 and encoded.shape == (4, 3 + 1 + 2) == (4, encoder.n_features_out_)
    # columns keep their order; categories are sorted by the encoder (blue, green, red), then size, then flag
    np.testing.assert_array_equal(encoded[:, :3], [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(encoded[:, 3], frame["size"])
    np.testing.assert_array_equal(encoded[:, 4:], [[0, 1], [1, 0], [0, 1], [0, 1]])
    assert encoded[:, :3].sum(axis=1).tolist() == [1, 1, 1, 1]


def test_categorical_numbers_are_never_passed_through_as_floats():
    codes = pd.Series([10, 20, 30, 10], dtype="category")
    encoded = OneHotColumns(True, name="y").fit_transform(codes)
    assert encoded.shape == (4, 3)
    assert set(np.unique(encoded)) == {0.0, 1.0}  # no 10, 20, 30 anywhere
    assert not np.isin([10.0, 20.0, 30.0], encoded).any()


def test_unseen_categories_become_zero_rows_with_one_warning():
    encoder = OneHotColumns(name="x").fit(np.array(["a", "b", "a"]))
    with pytest.warns(UserWarning, match="not seen in fit.*'c'.*once"):
        encoded = encoder.transform(np.array(["a", "c", "b"]))
    np.testing.assert_array_equal(encoded, [[1, 0], [0, 0], [0, 1]])
    _no_warnings(lambda: encoder.transform(np.array(["c", "d"])))  # shown once per encoder
    _no_warnings(lambda: OneHotColumns(name="x").fit(np.array(["a", "b"])).transform(np.array(["b", "a"])))


def test_one_hot_checks_its_input():
    with pytest.raises(NotFittedError):
        OneHotColumns().transform(np.array(["a"]))
    encoder = OneHotColumns(np.array([True, False]), name="x").fit(np.array([["a", 1.0], ["b", 2.0]], dtype=object))
    with pytest.raises(ValueError, match="x has 1 columns but the encoder was fitted on 2"):
        encoder.transform(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="boolean mask of length 2"):
        OneHotColumns(np.array([True]), name="x").fit(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="missing values"):
        OneHotColumns(name="x").fit(pd.Series(["a", None, "b"]))
    with pytest.raises(ValueError, match="mixes types"):
        OneHotColumns(name="x").fit(np.array(["a", 1, "b"], dtype=object))
    fitted = OneHotColumns(np.array([True, False]), name="x").fit(pd.DataFrame({"c": ["a", "b"], "v": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="same columns"):
        fitted.transform(pd.DataFrame({"v": [1.0], "c": ["a"]}))


def test_columns_named_by_numpy_integers_read_as_plain_numbers():
    # A 2-D array's columns are numbered 0, 1, ...; an integer index hands them back as numpy integers.
    codes = np.random.default_rng(0).integers(0, 3, (300, 2))
    for value in (codes, pd.DataFrame(codes, columns=pd.Index([0, 1], dtype="int64"))):
        with pytest.warns(UserWarning, match=r"^x column 0 \(3 distinct values\), x column 1 \(3 distinct values\) in 300 rows: integer-typed"):
            detect_discrete(value, "x")
