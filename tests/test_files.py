"""anchormi.files: the one atomic writer and the one Markdown table writer."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from anchormi import files


def test_atomic_write_fsyncs_then_renames_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    target = tmp_path / "sub" / "report.md"
    files.atomic_write_text(target, "é ok\n")
    assert events == ["fsync", "replace"]
    assert target.read_bytes() == "é ok\n".encode()
    assert sorted(path.name for path in target.parent.iterdir()) == ["report.md"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary_one(tmp_path, monkeypatch):
    target = tmp_path / "cell.json"
    target.write_text("old")

    def fail(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        files.atomic_write_bytes(target, b"new")
    assert target.read_text() == "old"
    assert [path.name for path in tmp_path.iterdir()] == ["cell.json"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_atomic_write_table_picks_the_format_by_suffix(tmp_path, suffix):
    frame = pd.DataFrame({"method": ["anchor", "nwj"], "estimate": [1.5, np.nan]})
    path = files.atomic_write_table(tmp_path / f"results{suffix}", frame)
    back = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, frame)
    if suffix == ".parquet":
        assert path.read_bytes()[:4] == b"PAR1"


def test_markdown_table_formats_numbers_escapes_pipes_and_shows_the_index():
    frame = pd.DataFrame({"method": ["a|b", "c"], "rmse": [0.12345, np.nan], "cells": [3, 1]}, index=["x", "y"])
    assert files.markdown_table(frame).splitlines() == [
        "| method | rmse | cells |",
        "|---|---|---|",
        "| a\\|b | 0.123 | 3 |",
        "| c | – | 1 |",
    ]
    with_index = files.markdown_table(frame.rename_axis("key"), index=True, digits=1).splitlines()
    assert with_index[0] == "| key | method | rmse | cells |" and with_index[2] == "| x | a\\|b | 0.1 | 3 |"
    assert files.markdown_table(frame.iloc[:0]) == "_(no rows)_"
    assert files.format_number(7.3e5) == "7.30e+05" and files.format_number(float("-inf")) == "-inf"


def test_bench_and_ssl_use_the_one_writer():
    from anchormi.bench import report, store
    from anchormi.ssl import reporting

    assert store.atomic_write_bytes is files.atomic_write_bytes and store.atomic_write_table is files.atomic_write_table
    assert report.markdown_table is files.markdown_table and not hasattr(reporting, "markdown_table")
    assert not hasattr(reporting, "atomic_write_text") and not hasattr(reporting, "atomic_write_csv")
