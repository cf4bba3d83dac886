"""anchormi.io.load_pair: every accepted format, and a ValueError that says what to do for each bad file."""

import numpy as np
import pandas as pd
import pytest

from anchormi.io import load_data, load_pair, sniff_delimiter


@pytest.fixture()
def frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.standard_normal(20), "b": rng.standard_normal(20), "c": rng.standard_normal(20)})


def test_npz_and_two_npy_round_trip(tmp_path):
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6.0)
    np.savez(tmp_path / "pair.npz", x=x, y=y)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    for got in (load_pair([tmp_path / "pair.npz"]), load_pair([str(tmp_path / "x.npy"), str(tmp_path / "y.npy")])):
        np.testing.assert_array_equal(got[0], x)
        np.testing.assert_array_equal(got[1], y)


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_csv_delimiter_is_sniffed(tmp_path, frame, sep):
    frame.to_csv(tmp_path / "table.csv", sep=sep, index=False)
    x, y = load_pair([tmp_path / "table.csv"], x_cols="a,b", y_cols=["c"])
    np.testing.assert_allclose(x, frame[["a", "b"]].to_numpy())
    np.testing.assert_allclose(y, frame[["c"]].to_numpy())


def test_explicit_sep_and_a_typed_backslash_t(tmp_path, frame):
    frame.to_csv(tmp_path / "table.tsv", sep="\t", index=False)
    x, _ = load_pair([tmp_path / "table.tsv"], x_cols="a", y_cols="c", sep="\\t")
    np.testing.assert_allclose(x["a"], frame.a)
    frame.to_csv(tmp_path / "semi.csv", sep=";", index=False)
    with pytest.raises(ValueError, match=r"not in .*it has \['a;b;c'\].*--sep"):
        load_pair([tmp_path / "semi.csv"], x_cols="a", y_cols="c", sep=",")


def test_parquet_round_trip(tmp_path, frame):
    frame.to_parquet(tmp_path / "table.parquet")
    x, y = load_pair([tmp_path / "table.parquet"], x_cols="a", y_cols="b,c")
    assert x.shape == (20, 1) and y.shape == (20, 2)
    np.testing.assert_allclose(y, frame[["b", "c"]].to_numpy())


def test_sniffing_a_single_column_falls_back_to_comma():
    assert sniff_delimiter("a\n1.5\n2.5\n") == ","
    assert sniff_delimiter("a;b\n1.5;2\n2.5;3\n") == ";"


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


GARBAGE = bytes(range(256)) * 2


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("empty.csv", b"", "empty: no header and no data rows"),
        ("blank.csv", b"\n\n", "empty: no header and no data rows"),
        ("header.csv", b"a,b,c\n", r"no data rows \(only the header \['a', 'b', 'c'\]\)"),
        ("garbage.parquet", GARBAGE, "not a valid Parquet file"),
        ("garbage.npz", GARBAGE, "not a valid .npz archive"),
        ("binary.csv", GARBAGE, "not a text CSV file"),
    ],
)
def test_bad_single_files_say_what_is_wrong(tmp_path, name, content, match):
    path = _write(tmp_path / name, content)
    with pytest.raises(ValueError, match=match) as caught:
        load_pair([path], x_cols="a", y_cols="b")
    assert name in str(caught.value)


def test_garbage_npy_is_called_invalid_not_pickled(tmp_path):
    np.save(tmp_path / "y.npy", np.zeros(5))
    path = _write(tmp_path / "x.npy", GARBAGE)
    with pytest.raises(ValueError, match=r"x.npy is not a valid \.npy array file") as caught:
        load_pair([path, tmp_path / "y.npy"])
    assert "pickle" not in str(caught.value)


def test_truncated_npy_and_object_npy(tmp_path):
    np.save(tmp_path / "y.npy", np.zeros(50))
    full = (tmp_path / "y.npy").read_bytes()
    truncated = _write(tmp_path / "cut.npy", full[: len(full) // 2])
    with pytest.raises(ValueError, match=r"cut.npy is not a valid \.npy array file"):
        load_pair([truncated, tmp_path / "y.npy"])
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj.npy holds Python objects"):
        load_pair([tmp_path / "obj.npy", tmp_path / "y.npy"])
    mapped = load_pair([tmp_path / "y.npy", tmp_path / "y.npy"])[0]
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable  # mapped read-only, not read into memory
    np.savez(tmp_path / "obj.npz", x=np.array([{}, None], dtype=object), y=np.zeros(2))
    with pytest.raises(ValueError, match=r"obj.npz: x or y holds Python objects"):
        load_pair([tmp_path / "obj.npz"])


def test_one_npy_says_two_files_are_needed(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(5))
    with pytest.raises(ValueError, match=r"needs two files: x.npy y.npy") as caught:
        load_pair([tmp_path / "x.npy"])
    assert "unknown format" not in str(caught.value)


def test_file_count_suffix_and_existence(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros(5))
    _write(tmp_path / "t.csv", b"a,b\n1,2\n")
    with pytest.raises(ValueError, match="4 files"):
        load_pair([tmp_path / "x.npy"] * 4)
    with pytest.raises(ValueError, match="must all be .npy"):
        load_pair([tmp_path / "x.npy", tmp_path / "t.csv"])
    with pytest.raises(ValueError, match=r"unknown format '\.h5'"):
        load_pair([_write(tmp_path / "d.h5", b"x")])
    with pytest.raises(ValueError, match="no such file"):
        load_pair([tmp_path / "missing.npz"])


def test_npz_without_y_names_what_it_has(tmp_path):
    np.savez(tmp_path / "pair.npz", x=np.zeros(5), target=np.zeros(5))
    with pytest.raises(ValueError, match=r"lacks arrays \['y'\]; it has \['x', 'target'\]"):
        load_pair([tmp_path / "pair.npz"])


def test_table_columns_missing_unnamed_or_text(tmp_path):
    path = _write(tmp_path / "t.csv", b"a,b,name\n1,2,u\n3,4,v\n")
    with pytest.raises(ValueError, match=r"needs y_cols \(--y-cols\).*columns \['a', 'b', 'name'\]"):
        load_pair([path], x_cols="a")
    with pytest.raises(ValueError, match=r"columns \['z'\] not in"):
        load_pair([path], x_cols="a,z", y_cols="b")
    x, y = load_pair([path], x_cols="a", y_cols="name")  # text stays text: the estimator one-hot encodes it
    assert list(y.columns) == ["name"] and y["name"].tolist() == ["u", "v"] and x["a"].tolist() == [1, 3]


def test_a_column_given_to_two_variables_or_twice_is_an_error(tmp_path):
    path = _write(tmp_path / "t.csv", b"a,b,c\n1,2,3\n3,4,5\n")
    with pytest.raises(ValueError, match=r"columns \['b'\] are in both x_cols \(--x-cols\) and y_cols \(--y-cols\); I\(X;Y\) is then infinite"):
        load_pair([path], x_cols="a,b", y_cols="b,c")
    with pytest.raises(ValueError, match=r"columns \['a'\] are in both x_cols \(--x-cols\) and z_cols \(--z-cols\); I\(X;Y\|Z\) is then 0"):
        load_data([path], x_cols="a", y_cols="b", z_cols="c,a")
    with pytest.raises(ValueError, match=r"columns \['c'\] are in both y_cols \(--y-cols\) and z_cols"):
        load_data([path], x_cols="a", y_cols="c", z_cols="c")
    with pytest.raises(ValueError, match=r"y_cols \(--y-cols\): columns \['c'\] are listed more than once"):
        load_pair([path], x_cols="a", y_cols=["c", "c"])
    x, y, z = load_data([path], x_cols="a", y_cols="b", z_cols="c")  # disjoint lists still load
    assert list(x.columns) == ["a"] and list(y.columns) == ["b"] and list(z.columns) == ["c"]


def test_z_comes_from_a_third_npy_an_npz_array_or_z_cols(tmp_path, frame):
    x, y, z = np.zeros((6, 2)), np.ones(6), np.arange(6.0)
    np.savez(tmp_path / "triple.npz", x=x, y=y, z=z)
    for name, value in (("x", x), ("y", y), ("z", z)):
        np.save(tmp_path / f"{name}.npy", value)
    for got in (load_data([tmp_path / "triple.npz"]), load_data([tmp_path / f"{n}.npy" for n in "xyz"])):
        np.testing.assert_array_equal(got[2], z)
    assert load_data([tmp_path / "x.npy", tmp_path / "y.npy"])[2] is None
    with pytest.raises(ValueError, match="also holds z; read it with load_data"):
        load_pair([tmp_path / "triple.npz"])
    frame.to_csv(tmp_path / "table.csv", index=False)
    _, _, z_cols = load_data([tmp_path / "table.csv"], x_cols="a", y_cols="b", z_cols="c")
    np.testing.assert_allclose(z_cols["c"], frame.c)
    with pytest.raises(ValueError, match=r"z_cols \(--z-cols\): columns \['w'\] not in"):
        load_data([tmp_path / "table.csv"], x_cols="a", y_cols="b", z_cols="w")
